"""Tiny stand-ins for the real data, written in the real formats (gzip IDX, FSDD tag zip, PCM WAV)."""

import gzip
import hashlib
import io
import json
import struct
import zipfile
from pathlib import Path

import numpy as np
import soundfile

MNIST_NAMES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
FSDD_PREFIX = "free-spoken-digit-dataset-1.0.10/"
SAMPLE_RATE = 8000


def sha256_of(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def idx_bytes(array: np.ndarray, magic: int) -> bytes:
    """An IDX file of unsigned bytes: big-endian magic, one uint32 per dimension, then the data."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    return struct.pack(f">I{array.ndim}I", magic, *array.shape) + array.tobytes()


def write_idx(path: Path, array: np.ndarray, magic: int, compress: bool = True) -> Path:
    content = idx_bytes(array, magic)
    Path(path).write_bytes(gzip.compress(content, mtime=0) if compress else content)
    return Path(path)


def digit_images(digits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """28x28 uint8 images: a bright bar whose position depends on the digit, plus noise."""
    images = rng.integers(0, 40, size=(len(digits), 28, 28)).astype(np.uint8)
    for image, digit in zip(images, digits):
        row = 3 + 2 * int(digit)
        image[row:row + 3, 4:24] = 255
    return images


def write_mnist(folder: Path, n_train: int = 40, n_test: int = 20, seed: int = 0) -> dict:
    """The four official MNIST file names, gzip IDX; labels cycle 0-9 so every digit is present."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    labels = {}
    for split, count in (("train", n_train), ("test", n_test)):
        digits = rng.permutation(np.arange(count) % 10).astype(np.uint8)
        images_name, labels_name = MNIST_NAMES[split]
        write_idx(folder / images_name, digit_images(digits, rng), 2051)
        write_idx(folder / labels_name, digits, 2049)
        labels[split] = digits
    return labels


def tone(digit: int, speaker_number: int, index: int, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """A 0.3-0.6 s chirp whose pitch follows the digit, framed by short silences; int16 mono."""
    duration = 0.3 + 0.03 * digit + 0.01 * index
    t = np.arange(int(duration * sample_rate)) / sample_rate
    start = 200.0 + 250.0 * digit + 40.0 * speaker_number
    phase = 2 * np.pi * (start * t + 300.0 * t ** 2)
    envelope = np.sin(np.pi * t / duration)
    voiced = 0.5 * envelope * (np.sin(phase) + 0.3 * np.sin(2 * phase))
    silence = np.zeros(int(0.05 * sample_rate))
    return (np.concatenate([silence, voiced, silence]) * 32767).astype(np.int16)


def wav_bytes(signal: np.ndarray, sample_rate: int = SAMPLE_RATE) -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, signal, sample_rate, subtype="PCM_16", format="WAV")
    return buffer.getvalue()


def write_fsdd_zip(path: Path, speakers=("george", "theo"), indices=range(7)) -> list[str]:
    """A zip laid out like GitHub's v1.0.10 tag archive: prefix/recordings/{digit}_{speaker}_{index}.wav."""
    path.parent.mkdir(parents=True, exist_ok=True)
    names = []
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr(FSDD_PREFIX, b"")
        zipped.writestr(FSDD_PREFIX + "README.md", b"# Free Spoken Digit Dataset (fake)\n")
        zipped.writestr(FSDD_PREFIX + "recordings/", b"")
        for digit in range(10):
            for number, speaker in enumerate(speakers):
                for index in indices:
                    name = f"{digit}_{speaker}_{index}.wav"
                    zipped.writestr(FSDD_PREFIX + "recordings/" + name, wav_bytes(tone(digit, number, index)))
                    names.append(name)
        zipped.writestr(FSDD_PREFIX + "utils/spectogramer.py", b"# helper script\n")
    return names


def write_mirror(root: Path) -> dict[str, str]:
    """A DATA_MIRROR laid out like shared/datasets; returns file name -> sha256 (the DATA_CHECKSUMS map)."""
    write_mnist(root / "mnist")
    write_fsdd_zip(root / "fsdd" / "v1.0.10.zip")
    files = sorted((root / "mnist").glob("*.gz")) + [root / "fsdd" / "v1.0.10.zip"]
    return {path.name: sha256_of(path) for path in files}


def write_checksums(path: Path, checksums: dict[str, str]) -> Path:
    path.write_text(json.dumps(checksums, indent=2) + "\n")
    return path
