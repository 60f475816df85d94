"""A user's recordings and pictures become exactly what the pipeline reads, or one clear error."""

import os
import threading
import warnings

import numpy as np
import pytest
import soundfile
from PIL import Image

from digit_concepts.senses import user_files
from user_samples import bad_files, digit_picture, good_files, large_png


def test_every_accepted_kind_is_read(tmp_path):
    files = good_files(tmp_path)
    for name, path in files.items():
        kind = user_files.kind_of(path)
        assert kind == ("audio" if name.startswith(("wav", "flac", "ogg")) else "image"), name
        if kind == "audio":
            signal = user_files.read_audio(path, 8000)
            assert signal.dtype == np.float32 and signal.ndim == 1, name
            assert abs(len(signal) / 8000 - soundfile.info(str(path)).duration) < 0.01, name
        else:
            image = user_files.read_image(path)
            assert image.shape == (28, 28) and image.dtype == np.float32, name
            assert 0.0 <= image.min() and image.max() <= 1.0 and image.max() > 0.5, name


def test_an_mnist_picture_is_taken_as_it_is(tmp_path):
    picture = np.random.default_rng(1).integers(0, 40, (28, 28)).astype(np.uint8)
    picture[10:13, 4:24] = 255
    Image.fromarray(picture).save(tmp_path / "mnist.png")
    np.testing.assert_array_equal(user_files.read_image(tmp_path / "mnist.png"), picture.astype(np.float32) / 255.0)


def test_a_picture_is_made_as_mnist_was_made():
    # Dark ink on light paper, anywhere in a large sheet: inverted, cropped, fitted to 20 pixels,
    # centred by mass in 28x28.
    sheet = np.full((200, 300), 0.95, np.float32)
    sheet[20:120, 200:250] = 0.05  # a 100 x 50 block of ink, far from the centre
    image = user_files.mnist_form(sheet)
    rows, columns = np.nonzero(image > 0.5)
    assert rows.max() - rows.min() + 1 == 20 and columns.max() - columns.min() + 1 == 10
    mass_row, mass_column = (np.indices(image.shape) * image).reshape(2, -1).sum(axis=1) / image.sum()
    assert abs(mass_row - 13.5) <= 0.5 and abs(mass_column - 13.5) <= 0.5
    assert image[0].max() == 0.0 and image[:, 0].max() == 0.0  # paper became black
    light_on_dark = user_files.mnist_form(1.0 - sheet)
    np.testing.assert_allclose(light_on_dark, image, atol=1e-5)


def test_a_recording_is_downmixed_and_resampled(tmp_path):
    rate = 16000
    t = np.arange(rate // 2) / rate
    left = 0.5 * np.sin(2 * np.pi * 440 * t)
    soundfile.write(tmp_path / "stereo.wav", np.stack([left, left], axis=1), rate, subtype="FLOAT")
    signal = user_files.read_audio(tmp_path / "stereo.wav", 8000)
    assert len(signal) == 4000
    spectrum = np.abs(np.fft.rfft(signal))
    assert abs(np.argmax(spectrum) * 8000 / len(signal) - 440) < 5


def test_an_8_khz_mono_recording_is_read_sample_for_sample(tmp_path):
    signal = (0.3 * np.sin(np.arange(2000) / 5.0)).astype(np.float32)
    soundfile.write(tmp_path / "plain.wav", signal, 8000, subtype="PCM_16")
    expected, _ = soundfile.read(tmp_path / "plain.wav", dtype="float32")
    np.testing.assert_array_equal(user_files.read_audio(tmp_path / "plain.wav", 8000), expected)


def test_every_refused_kind_names_the_file_and_why(tmp_path):
    for name, (path, why) in bad_files(tmp_path).items():
        with pytest.raises(user_files.UserFileError) as caught:
            kind = user_files.kind_of(path)
            user_files.read_image(path) if kind == "image" else user_files.read_audio(path, 8000)
        message = str(caught.value)
        assert message.startswith(str(path)) and why in message and "\n" not in message, (name, message)


def test_a_written_image_reads_back(tmp_path):
    image = digit_picture().astype(np.float32) / 255.0
    user_files.write_image(tmp_path / "out.png", image)
    np.testing.assert_allclose(user_files.read_image(tmp_path / "out.png"), image, atol=1 / 255)


def test_a_file_read_from_its_bytes_is_read_as_from_its_path(tmp_path):
    """The try-it page sends a drawing or a recording as bytes: the same readers, the same result."""
    for name, path in good_files(tmp_path).items():
        content = path.read_bytes()
        sense, sample = user_files.read_user_file(content, 8000, name="the upload")
        assert sense == user_files.kind_of(path), name
        expected = user_files.read_image(path) if sense == "image" else user_files.read_audio(path, 8000)
        np.testing.assert_array_equal(sample, expected, err_msg=name)


def test_refused_bytes_are_named_as_the_caller_says(tmp_path):
    for name, (path, why) in bad_files(tmp_path).items():
        if not path.is_file():
            continue  # missing, a folder: only paths can be
        with pytest.raises(user_files.UserFileError) as caught:
            user_files.read_user_file(path.read_bytes(), 8000, name="the recording")
        assert str(caught.value).startswith("the recording: ") and why in str(caught.value), (name, caught.value)
    with pytest.raises(user_files.UserFileError, match="^the upload: empty file$"):
        user_files.kind_of(b"")


def test_limits_refuse_a_long_recording_and_a_huge_picture_before_decoding_them(tmp_path):
    signal = (0.3 * np.sin(np.arange(8000 * 3) / 5.0)).astype(np.float32)
    soundfile.write(tmp_path / "three_seconds.flac", signal, 8000, format="FLAC")
    content = (tmp_path / "three_seconds.flac").read_bytes()
    assert len(user_files.read_audio(content, 8000, max_seconds=3.0)) == len(signal)
    with pytest.raises(user_files.TooLarge, match="too long"):
        user_files.read_audio(content, 8000, max_seconds=2.5)
    Image.fromarray(np.zeros((300, 400), np.uint8)).save(tmp_path / "wide.png")
    with pytest.raises(user_files.TooLarge, match=r"too large \(400x300 pixels"):
        user_files.read_image((tmp_path / "wide.png").read_bytes(), max_pixels=100_000)
    assert issubclass(user_files.TooLarge, user_files.UserFileError)


def test_a_png_with_a_damaged_chunk_is_refused_not_a_crash(tmp_path):
    """Pillow says SyntaxError ("broken PNG file") when a chunk's length is wrong: it reads the next
    chunk's header from the middle of the image data."""
    Image.fromarray(digit_picture()).save(tmp_path / "whole.png")
    content = bytearray((tmp_path / "whole.png").read_bytes())
    data = content.find(b"IDAT")
    content[data - 4:data] = (int.from_bytes(content[data - 4:data], "big") // 2).to_bytes(4, "big")
    (tmp_path / "damaged.png").write_bytes(bytes(content))
    for source in (tmp_path / "damaged.png", bytes(content)):
        with pytest.raises(user_files.UserFileError, match="unreadable image"):
            user_files.read_user_file(source, 8000)


@pytest.mark.parametrize("side, why", [
    (12_000, "too large (12000x12000 pixels; at most 50,000,000 pixels)"),  # past Pillow's warning
    (20_000, "too large (more than 178,956,970 pixels; at most 50,000,000 pixels)"),  # past Pillow's error
])
def test_a_huge_picture_is_too_large_from_its_header_without_a_warning(tmp_path, monkeypatch, side, why):
    from PIL import ImageFile

    path = tmp_path / "huge.png"
    path.write_bytes(large_png(side, side))
    assert path.stat().st_size < 200_000

    def decoded(self):
        raise AssertionError("a pixel was decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", decoded)
    for source in (path, path.read_bytes()):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # Pillow's DecompressionBombWarning would fail here
            assert user_files.kind_of(source) == "image"
            with pytest.raises(user_files.TooLarge) as raised:
                user_files.read_user_file(source, 8000)
        assert str(raised.value) == f"{source if isinstance(source, os.PathLike) else 'the upload'}: {why}"


def test_a_picture_at_the_limit_is_read(tmp_path):
    content = large_png(400, 250)  # 100,000 pixels, all black
    with pytest.raises(user_files.UserFileError, match="blank"):
        user_files.read_user_file(content, 8000, max_pixels=100_000)
    with pytest.raises(user_files.TooLarge):
        user_files.read_user_file(content, 8000, max_pixels=99_999)


def _refused_at_once(path) -> str:
    """The error read_user_file gives ``path``, from a thread that must not wait for it."""
    found = []

    def read() -> None:
        try:
            user_files.read_user_file(path, 8000)
        except user_files.UserFileError as error:
            found.append(str(error))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout=10)
    assert not reader.is_alive(), f"reading {path} waited (opened for reading)"
    return found[0]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes need POSIX")
def test_a_named_pipe_or_a_device_is_refused_before_it_is_opened(tmp_path):
    os.mkfifo(tmp_path / "pipe.wav")
    assert _refused_at_once(tmp_path / "pipe.wav") == f"{tmp_path / 'pipe.wav'}: not a regular file (a named pipe)"
    if os.path.exists("/dev/zero"):
        assert _refused_at_once("/dev/zero") == "/dev/zero: not a regular file (a device)"
    (tmp_path / "link.wav").symlink_to(tmp_path / "pipe.wav")
    assert "not a regular file (a named pipe)" in _refused_at_once(tmp_path / "link.wav")
    for reader in (lambda path: user_files.read_audio(path, 8000), user_files.read_image):
        with pytest.raises(user_files.UserFileError, match="not a regular file"):
            reader(tmp_path / "pipe.wav")
