"""A user's own files: recordings and pictures of digits, read into what the pipeline reads.

Recordings: any format libsndfile reads (WAV, FLAC, OGG...), any sample rate (resampled), any
number of channels (downmixed). Pictures: any format Pillow reads (PNG, JPEG...), any size,
made as MNIST was made: grayscale, the digit light on dark (inverted if it is dark on light),
cropped to its ink, fitted into a 20x20 box and centred by mass in a 28x28 field. A picture
already in MNIST's form (28x28, light on dark) is taken as it is.

Every problem is a ``UserFileError`` whose message names the file and says why.
"""

from pathlib import Path

import numpy as np

MIN_SECONDS = 0.1  # FSDD's shortest recording lasts 0.14 s
SILENT_PEAK = 1e-4  # -80 dBFS: nothing but rounding noise
MNIST_SIDE, MNIST_BOX = 28, 20
INK_THRESHOLD = 0.1  # share of the ink's full range that counts as ink when cropping
MIN_CONTRAST = 0.1  # a picture whose ink barely differs from its paper is blank


class UserFileError(ValueError):
    """A file the tool cannot use; the message is one line, starting with the file name."""


def kind_of(path: Path) -> str:
    """"image" or "audio", judged by content; UserFileError for anything else or unreadable."""
    path = Path(path)
    if not path.exists():
        raise UserFileError(f"{path}: no such file")
    if path.is_dir():
        raise UserFileError(f"{path}: is a folder, not a file")
    try:
        with open(path, "rb") as stream:
            head = stream.read(64)
    except OSError as error:
        raise UserFileError(f"{path}: cannot be read ({error.strerror or error})") from error
    if not head:
        raise UserFileError(f"{path}: empty file")
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path):
            return "image"
    except (UnidentifiedImageError, OSError):
        pass
    import soundfile

    try:
        soundfile.info(str(path))
        return "audio"
    except (RuntimeError, soundfile.LibsndfileError):
        raise UserFileError(f"{path}: neither audio (WAV, FLAC, OGG) nor an image (PNG, JPEG)") from None


def read_audio(path: Path, sample_rate: int) -> np.ndarray:
    """Mono float32 signal at ``sample_rate`` (downmixed, resampled); UserFileError if unusable."""
    import soundfile

    try:
        signal, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, soundfile.LibsndfileError) as error:
        raise UserFileError(f"{path}: unreadable audio ({error})") from None
    signal = signal.mean(axis=1, dtype=np.float32) if signal.shape[1] > 1 else signal[:, 0]
    if signal.size == 0:
        raise UserFileError(f"{path}: no audio in the file (0 samples)")
    if not np.isfinite(signal).all():
        raise UserFileError(f"{path}: the audio has non-finite samples")
    if signal.size / rate < MIN_SECONDS:
        raise UserFileError(f"{path}: too short ({signal.size / rate:.3f} s; a spoken digit needs at least "
                            f"{MIN_SECONDS} s)")
    if np.abs(signal).max() < SILENT_PEAK:
        raise UserFileError(f"{path}: silent (peak below -80 dBFS)")
    if rate != sample_rate:
        import librosa

        signal = librosa.resample(signal, orig_sr=rate, target_sr=sample_rate).astype(np.float32)
    return signal


def read_image(path: Path) -> np.ndarray:
    """A 28x28 float32 image in [0, 1], light digit on dark, as MNIST's; UserFileError if unusable."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as picture:
            picture.load()
            if picture.mode in ("RGBA", "LA", "PA") or "transparency" in picture.info:
                background = Image.new("RGBA", picture.size, (255, 255, 255, 255))
                picture = Image.alpha_composite(background, picture.convert("RGBA"))
            gray = np.asarray(picture.convert("L"), dtype=np.float32) / 255.0
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise UserFileError(f"{path}: unreadable image ({error})") from None
    try:
        return mnist_form(gray)
    except ValueError as error:
        raise UserFileError(f"{path}: {error}") from None


def border(gray: np.ndarray) -> np.ndarray:
    return np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])


def mnist_form(gray: np.ndarray) -> np.ndarray:
    """Grayscale picture in [0, 1] -> MNIST's 28x28 form; ValueError for a blank picture."""
    if gray.shape == (MNIST_SIDE, MNIST_SIDE) and np.median(border(gray)) < 0.5:
        return gray.astype(np.float32)  # already as MNIST made its digits
    if np.median(border(gray)) >= 0.5:
        gray = 1.0 - gray  # dark ink on light paper
    paper = float(np.median(border(gray)))
    contrast = float(gray.max()) - paper
    if contrast < MIN_CONTRAST:
        raise ValueError("no digit found (the picture is blank)")
    ink = np.clip((gray - paper) / contrast, 0.0, 1.0)
    rows, columns = np.flatnonzero((ink > INK_THRESHOLD).any(axis=1)), np.flatnonzero((ink > INK_THRESHOLD).any(axis=0))
    ink = ink[rows[0]:rows[-1] + 1, columns[0]:columns[-1] + 1]
    fitted = fit_in_box(ink, MNIST_BOX)
    return centre_by_mass(fitted, MNIST_SIDE)


def fit_in_box(ink: np.ndarray, box: int) -> np.ndarray:
    """Resize so that the longer side is ``box`` pixels, keeping the aspect ratio (antialiased)."""
    from PIL import Image

    height, width = ink.shape
    scale = box / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resized = Image.fromarray(ink.astype(np.float32)).resize(size, Image.Resampling.LANCZOS)
    return np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0)


def centre_by_mass(digit: np.ndarray, side: int) -> np.ndarray:
    """Place ``digit`` in a ``side`` x ``side`` field with its centre of mass at the field's centre."""
    total = digit.sum()
    rows, columns = np.indices(digit.shape)
    centre = ((rows * digit).sum() / total, (columns * digit).sum() / total) if total > 0 else (
        (digit.shape[0] - 1) / 2, (digit.shape[1] - 1) / 2)
    field = np.zeros((side, side), dtype=np.float32)
    top = int(np.clip(round((side - 1) / 2 - centre[0]), 0, side - digit.shape[0]))
    left = int(np.clip(round((side - 1) / 2 - centre[1]), 0, side - digit.shape[1]))
    field[top:top + digit.shape[0], left:left + digit.shape[1]] = digit
    return field


def write_image(path: Path, image: np.ndarray) -> None:
    """A [0, 1] grayscale image as an 8-bit PNG."""
    from PIL import Image

    Image.fromarray(np.round(np.clip(image, 0.0, 1.0) * 255).astype(np.uint8)).save(path)
