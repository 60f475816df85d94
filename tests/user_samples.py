"""A user's files of every kind the tool takes, and of every kind it must refuse, made from the fakes."""

import struct
import zlib
from pathlib import Path

import numpy as np
import soundfile
from fakes import digit_images, tone
from PIL import Image


def digit_picture(digit: int = 3) -> np.ndarray:
    """A clean 28x28 uint8 picture of a fake digit (a bright bar on black)."""
    picture = digit_images(np.array([digit]), np.random.default_rng(0))[0]
    picture[picture < 255] = 0
    return picture


def good_files(folder: Path, picture: np.ndarray | None = None, signal: np.ndarray | None = None) -> dict[str, Path]:
    """Every accepted kind: WAV at 8, 16 and 44.1 kHz, stereo, FLAC, OGG; PNG light on dark and
    dark on light at several sizes (and with a frame of paper around the digit); JPEG."""
    folder.mkdir(parents=True, exist_ok=True)
    picture = digit_picture() if picture is None else picture
    signal = tone(4, 0, 0).astype(np.float32) / 32767 if signal is None else signal
    files = {}
    for rate in (8000, 16000, 44100):
        files[f"wav_{rate}"] = folder / f"tone_{rate}.wav"
        resampled = np.interp(np.arange(int(len(signal) * rate / 8000)) * 8000 / rate, np.arange(len(signal)), signal)
        soundfile.write(files[f"wav_{rate}"], resampled, rate, subtype="PCM_16")
    files["wav_stereo"] = folder / "tone_stereo.wav"
    soundfile.write(files["wav_stereo"], np.stack([signal, 0.5 * signal], axis=1), 8000, subtype="PCM_16")
    files["flac"] = folder / "tone.flac"
    soundfile.write(files["flac"], signal, 8000, format="FLAC")
    files["ogg"] = folder / "tone.ogg"
    soundfile.write(files["ogg"], signal, 8000, format="OGG", subtype="VORBIS")
    image = Image.fromarray(picture)
    for side in (28, 64, 300):
        files[f"png_light_on_dark_{side}"] = folder / f"light_on_dark_{side}.png"
        image.resize((side, side), Image.Resampling.BILINEAR).save(files[f"png_light_on_dark_{side}"])
        files[f"png_dark_on_light_{side}"] = folder / f"dark_on_light_{side}.png"
        Image.fromarray(255 - picture).resize((side, side + side // 3), Image.Resampling.BILINEAR).save(
            files[f"png_dark_on_light_{side}"])
    framed = np.full((120, 90), 250, np.uint8)  # dark ink on paper, off centre, in a larger sheet
    framed[20:76, 10:66] = 255 - np.asarray(image.resize((56, 56), Image.Resampling.BILINEAR))
    files["png_framed"] = folder / "framed.png"
    Image.fromarray(framed).save(files["png_framed"])
    files["jpeg"] = folder / "digit.jpg"
    Image.fromarray(255 - picture).convert("RGB").resize((112, 112)).save(files["jpeg"], quality=90)
    return files


def one_of_each_sense(folder: Path) -> dict[str, Path]:
    """{sense: a file of that sense} in ``folder``/in: a PNG digit and an 8 kHz WAV."""
    from digit_concepts.senses.user_files import write_image

    (folder / "in").mkdir()
    write_image(folder / "in" / "digit.png", digit_picture() / 255.0)
    soundfile.write(folder / "in" / "digit.wav", tone(3, 0, 0), 8000, subtype="PCM_16")
    return {"image": folder / "in" / "digit.png", "audio": folder / "in" / "digit.wav"}


def bad_files(folder: Path) -> dict[str, tuple[Path, str]]:
    """Each refused kind, with the words its message must contain."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {"missing": (folder / "missing.wav", "no such file")}
    files["folder"] = (folder / "a_folder.png", "is a folder")
    files["folder"][0].mkdir(exist_ok=True)
    files["empty"] = (folder / "empty.wav", "empty file")
    files["empty"][0].write_bytes(b"")
    files["text"] = (folder / "notes.wav", "neither audio")
    files["text"][0].write_text("these are my notes, not a recording\n")
    files["silent"] = (folder / "silent.wav", "silent")
    soundfile.write(files["silent"][0], np.zeros(8000), 8000, subtype="PCM_16")
    files["short"] = (folder / "short.wav", "too short")
    soundfile.write(files["short"][0], 0.5 * np.sin(np.arange(200) / 3.0), 8000, subtype="PCM_16")
    files["blank"] = (folder / "blank.png", "blank")
    Image.fromarray(np.full((50, 40), 255, np.uint8)).save(files["blank"][0])
    files["truncated"] = (folder / "truncated.png", "unreadable image")
    good = folder / "whole.png"
    Image.fromarray(digit_picture()).save(good)
    files["truncated"][0].write_bytes(good.read_bytes()[:60])
    good.unlink()
    return files


def large_png(width: int, height: int) -> bytes:
    """A black 1-bit PNG of ``width`` x ``height`` pixels: megapixels of zeros compress to kilobytes."""
    row = b"\x00" * (1 + (width + 7) // 8)  # the filter byte, then 8 pixels a byte
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
            + chunk(b"IDAT", data) + chunk(b"IEND", b""))
