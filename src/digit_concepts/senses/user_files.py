"""A user's own files: recordings and pictures of digits, read into what the pipeline reads.

Recordings: any format libsndfile reads (WAV, FLAC, OGG...), any sample rate (resampled), any
number of channels (downmixed). Pictures: any format Pillow reads (PNG, JPEG...), any size up
to ``MAX_PIXELS``, made as MNIST was made: grayscale, the digit light on dark (inverted if it is dark on light),
cropped to its ink, fitted into a 20x20 box and centred by mass in a 28x28 field. A picture
already in MNIST's form (28x28, light on dark) is taken as it is.

A file is a path, or its content as bytes (an upload to the try-it page, ``server.py``): both
go through the same readers. Every problem is a ``UserFileError`` whose message names the file
(or the name given for the bytes) and says why; a path that is not a regular file (a named pipe,
a device) is refused before it is opened.
"""

import contextlib
import io
import stat
import warnings
from pathlib import Path

import numpy as np

MIN_SECONDS = 0.1  # FSDD's shortest recording lasts 0.14 s
SILENT_PEAK = 1e-4  # -80 dBFS: nothing but rounding noise
MNIST_SIDE, MNIST_BOX = 28, 20
INK_THRESHOLD = 0.1  # share of the ink's full range that counts as ink when cropping
MIN_CONTRAST = 0.1  # a picture whose ink barely differs from its paper is blank
# The largest picture read (a 50-megapixel photo; its decoding takes about 0.6 GB): checked in the
# header, before a pixel is decoded. Pillow's own limits (a warning past 89 million pixels, an
# error past twice that) are higher and said in its words.
MAX_PIXELS = 50_000_000
NOT_REGULAR = {stat.S_IFIFO: "a named pipe", stat.S_IFCHR: "a device", stat.S_IFBLK: "a device",
               stat.S_IFSOCK: "a socket"}

Source = Path | str | bytes  # a file on disk, or a file's content


class UserFileError(ValueError):
    """A file the tool cannot use; the message is one line, starting with the file name."""


class TooLarge(UserFileError):
    """A file beyond a limit the caller set (a recording too long, a picture too large)."""


def label_of(source: Source, name: str | None = None) -> str:
    """How messages name ``source``: ``name`` if given, else the path (or "the upload" for bytes)."""
    if name is not None:
        return name
    return "the upload" if isinstance(source, (bytes, bytearray)) else str(source)


def opened(source: Source):
    """What soundfile and Pillow read: the path, or the bytes as a fresh file-like object."""
    return io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else str(source)


def checked_path(source: Source, label: str) -> None:
    """UserFileError unless ``source`` is bytes or a regular file: a missing path, a folder, a
    named pipe (reading one waits for a writer, forever) or a device is refused before it is opened."""
    if isinstance(source, (bytes, bytearray)):
        return
    try:
        mode = Path(source).stat().st_mode
    except FileNotFoundError:
        raise UserFileError(f"{label}: no such file") from None
    except OSError as error:
        raise UserFileError(f"{label}: cannot be read ({error.strerror or error})") from None
    if stat.S_ISDIR(mode):
        raise UserFileError(f"{label}: is a folder, not a file")
    if not stat.S_ISREG(mode):
        raise UserFileError(f"{label}: not a regular file ({NOT_REGULAR.get(stat.S_IFMT(mode), 'a special file')})")


def head_of(source: Source, label: str) -> bytes:
    """The first bytes of ``source``; UserFileError for a path that is missing, not a regular file or unreadable."""
    if isinstance(source, (bytes, bytearray)):
        return bytes(source[:64])
    checked_path(source, label)
    try:
        with open(source, "rb") as stream:
            return stream.read(64)
    except OSError as error:
        raise UserFileError(f"{label}: cannot be read ({error.strerror or error})") from error


def pillow_open(source: Source):
    """``Image.open``: the header only, no pixel decoded yet; without Pillow's
    DecompressionBombWarning (``opened_picture`` refuses a large picture in words, at a lower limit)."""
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        return Image.open(opened(source))


@contextlib.contextmanager
def opened_picture(source: Source, label: str, max_pixels: int = MAX_PIXELS):
    """The picture, opened but not decoded; TooLarge past ``max_pixels``, before any pixel is decoded."""
    from PIL import Image

    try:
        picture = pillow_open(source)
    except Image.DecompressionBombError:  # past twice Pillow's limit: it gives no size
        raise TooLarge(f"{label}: too large (more than {2 * Image.MAX_IMAGE_PIXELS:,} pixels; at most "
                       f"{max_pixels:,} pixels)") from None
    with picture:
        if picture.width * picture.height > max_pixels:
            raise TooLarge(f"{label}: too large ({picture.width}x{picture.height} pixels; at most {max_pixels:,} "
                           "pixels)")
        yield picture


def is_picture(source: Source) -> bool:
    """Whether Pillow recognises ``source`` as a picture, from its header (however large)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with pillow_open(source):
            return True
    except Image.DecompressionBombError:
        return True  # a picture too large for Pillow to open: read_image says so
    except (UnidentifiedImageError, OSError):
        return False


def kind_of(source: Source, name: str | None = None) -> str:
    """"image" or "audio", judged by content; UserFileError for anything else or unreadable."""
    label = label_of(source, name)
    if not head_of(source, label):
        raise UserFileError(f"{label}: empty file")
    if is_picture(source):
        return "image"
    import soundfile

    try:
        soundfile.info(opened(source))
        return "audio"
    except (RuntimeError, soundfile.LibsndfileError):
        raise UserFileError(f"{label}: neither audio (WAV, FLAC, OGG) nor an image (PNG, JPEG)") from None


def read_audio(source: Source, sample_rate: int, name: str | None = None,
               max_seconds: float | None = None) -> np.ndarray:
    """Mono float32 signal at ``sample_rate`` (downmixed, resampled); UserFileError if unusable,
    TooLarge if it lasts more than ``max_seconds`` (only that much is ever decoded)."""
    import soundfile

    label = label_of(source, name)
    checked_path(source, label)
    try:
        # One frame past the limit is enough to know it is too long, whatever length the header claims.
        frames = -1 if max_seconds is None else int(max_seconds * soundfile.info(opened(source)).samplerate) + 1
        signal, rate = soundfile.read(opened(source), frames=frames, dtype="float32", always_2d=True)
    except (RuntimeError, soundfile.LibsndfileError) as error:
        raise UserFileError(f"{label}: unreadable audio ({error})") from None
    if max_seconds is not None and len(signal) > max_seconds * rate:
        raise TooLarge(f"{label}: too long (more than {max_seconds:g} s; a spoken digit takes about 1 s)")
    signal = signal.mean(axis=1, dtype=np.float32) if signal.shape[1] > 1 else signal[:, 0]
    if signal.size == 0:
        raise UserFileError(f"{label}: no audio in the file (0 samples)")
    if not np.isfinite(signal).all():
        raise UserFileError(f"{label}: the audio has non-finite samples")
    if signal.size / rate < MIN_SECONDS:
        raise UserFileError(f"{label}: too short ({signal.size / rate:.3f} s; a spoken digit needs at least "
                            f"{MIN_SECONDS} s)")
    if np.abs(signal).max() < SILENT_PEAK:
        raise UserFileError(f"{label}: silent (peak below -80 dBFS)")
    if rate != sample_rate:
        import librosa

        signal = librosa.resample(signal, orig_sr=rate, target_sr=sample_rate).astype(np.float32)
    return signal


def read_image(source: Source, name: str | None = None, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """A 28x28 float32 image in [0, 1], light digit on dark, as MNIST's; UserFileError if unusable,
    TooLarge if it has more than ``max_pixels`` pixels (checked before decoding them)."""
    from PIL import Image, UnidentifiedImageError

    label = label_of(source, name)
    checked_path(source, label)
    try:
        with opened_picture(source, label, max_pixels) as picture:
            picture.load()
            if picture.mode in ("RGBA", "LA", "PA") or "transparency" in picture.info:
                background = Image.new("RGBA", picture.size, (255, 255, 255, 255))
                picture = Image.alpha_composite(background, picture.convert("RGBA"))
            gray = np.asarray(picture.convert("L"), dtype=np.float32) / 255.0
    except UserFileError:  # TooLarge: a ValueError too, but not an unreadable image
        raise
    # Pillow raises SyntaxError for a PNG whose chunks are damaged (found by fuzzing the uploads).
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        raise UserFileError(f"{label}: unreadable image ({error})") from None
    try:
        return mnist_form(gray)
    except ValueError as error:
        raise UserFileError(f"{label}: {error}") from None


def read_user_file(source: Source, sample_rate: int, name: str | None = None, max_seconds: float | None = None,
                   max_pixels: int = MAX_PIXELS) -> tuple[str, np.ndarray]:
    """(sense, content): a picture as ``read_image`` gives it, a recording as ``read_audio`` does."""
    if kind_of(source, name) == "image":
        return "image", read_image(source, name, max_pixels)
    return "audio", read_audio(source, sample_rate, name, max_seconds)


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
