"""Shifts: the same digits as another world would give them, for the transfer proxies.

Recordings (mono float signals at ``rate`` Hz), each a pure, seeded function:

- ``telephone``: a 300-3400 Hz band-pass, then 8-bit mu-law (G.711's companding);
- ``with_noise``: white noise at a given signal-to-noise ratio;
- ``reverberant``: convolved with a synthetic room impulse response (a direct path, then
  exponentially decaying noise reaching -60 dB at ``rt60`` seconds);
- ``faster``: played ``factor`` times faster (tempo and pitch together, as a tape would);
- ``pitch_shifted``: the pitch moved by semitones at the same tempo (librosa).

Which of them the audio autoencoder's training views resemble: its views warp the spectrum
(a vocal tract's length, close to a pitch and formant shift) and bend time (close to a tempo
change), so ``faster`` and ``pitch_shifted`` are near its own families. The telephone channel,
noise and a room are held out: nothing like them is ever trained on. ``shifted_recordings``
makes all five of one recording, seeded.

Images ((n, 28, 28) in [0, 1], ink bright on dark), none of them among the image autoencoder's
augmentation families (affine, thicker, thinner):

- ``elastic``: Simard et al.'s elastic distortion (a random displacement field smoothed by a
  Gaussian of ``sigma`` pixels and scaled by ``alpha``);
- ``blurred``: a Gaussian blur;
- ``low_resolution``: down to ``side`` x ``side`` pixels and back (bilinear);
- ``large_picture``: the digit as a person's picture of it would be (112 x 112, dark ink on
  light paper), read back as the tool reads any picture (``user_files.mnist_form``: cropped to
  its ink, fitted into 20 x 20, centred by mass).

``held_out_views`` makes all four, seeded: the image transfer proxies that measure transfer,
beside the three the autoencoder trains on (``transfer.transfer_views``).
"""

import numpy as np
from scipy import ndimage, signal

from digit_concepts.senses.user_files import mnist_form

TELEPHONE_BAND = (300.0, 3400.0)
HELD_OUT_IMAGE_VIEWS = ("elastic", "blur", "low_resolution", "large_picture")
ELASTIC = {"alpha": 34.0, "sigma": 4.0}  # Simard et al.'s values for MNIST
BLUR_SIGMA = 1.0
LOW_SIDE = 8
LARGE_SIDE = 112
MU = 255.0  # 8-bit mu-law
AUDIO_SHIFTS = ("telephone", "noise", "reverb", "speed", "pitch")
NOISE_SNR_DB = 10.0
ROOM_RT60 = 0.4  # seconds: a furnished room
SPEED_CHANGE = 0.1  # played 10% faster or slower
PITCH_SEMITONES = 2.0


def _checked_signal(waveform: np.ndarray) -> np.ndarray:
    waveform = np.asarray(waveform, dtype=np.float64)
    if waveform.ndim != 1 or len(waveform) == 0:
        raise ValueError(f"a recording must be a non-empty 1-d signal, got shape {waveform.shape}")
    return waveform


def _peak_like(shifted: np.ndarray, original: np.ndarray) -> np.ndarray:
    """``shifted`` scaled to the original's peak (no clipping, the same loudness to the ear)."""
    peak = np.max(np.abs(shifted))
    return (shifted * (np.max(np.abs(original)) / peak if peak > 0 else 0.0)).astype(np.float32)


def mu_law(waveform: np.ndarray, levels: int = 256) -> np.ndarray:
    """Compand to ``levels`` mu-law steps and back (a signal in [-1, 1])."""
    clipped = np.clip(waveform, -1.0, 1.0)
    companded = np.sign(clipped) * np.log1p(MU * np.abs(clipped)) / np.log1p(MU)
    steps = np.round((companded + 1.0) / 2.0 * (levels - 1)) / (levels - 1) * 2.0 - 1.0
    return np.sign(steps) * np.expm1(np.abs(steps) * np.log1p(MU)) / MU


def telephone(waveform: np.ndarray, rate: int) -> np.ndarray:
    """A telephone line: 300-3400 Hz (4th-order Butterworth, zero phase), 8-bit mu-law."""
    waveform = _checked_signal(waveform)
    high = min(TELEPHONE_BAND[1], 0.45 * rate)  # below Nyquist at any rate
    sections = signal.butter(4, [TELEPHONE_BAND[0], high], btype="bandpass", fs=rate, output="sos")
    banded = signal.sosfiltfilt(sections, waveform, padlen=min(len(waveform) - 1, 3 * 2 * len(sections)))
    peak = np.max(np.abs(banded))
    scale = 0.9 / peak if peak > 0 else 1.0  # a line's level: the codec's range used, not clipped
    return _peak_like(mu_law(banded * scale), waveform)


def with_noise(waveform: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """White Gaussian noise added at ``snr_db`` (signal power over noise power)."""
    waveform = _checked_signal(waveform)
    noise = rng.standard_normal(len(waveform))
    power = np.mean(waveform ** 2)
    noise *= np.sqrt(power / (np.mean(noise ** 2) * 10.0 ** (snr_db / 10.0))) if power > 0 else 0.0
    return (waveform + noise).astype(np.float32)


def room_impulse_response(rate: int, rt60: float, rng: np.random.Generator) -> np.ndarray:
    """A direct path, then noise decaying by 60 dB over ``rt60`` seconds (a diffuse tail)."""
    if rt60 <= 0:
        raise ValueError(f"rt60 must be > 0 seconds, got {rt60}")
    times = np.arange(int(rt60 * rate)) / rate
    tail = rng.standard_normal(len(times)) * 10.0 ** (-3.0 * times / rt60) * 0.3
    tail[0] = 1.0
    return tail


def reverberant(waveform: np.ndarray, rate: int, rt60: float, rng: np.random.Generator) -> np.ndarray:
    """The recording as heard in a room: convolved with ``room_impulse_response``, cut to the
    original length plus the tail, at the original peak."""
    waveform = _checked_signal(waveform)
    return _peak_like(signal.fftconvolve(waveform, room_impulse_response(rate, rt60, rng)), waveform)


def faster(waveform: np.ndarray, factor: float) -> np.ndarray:
    """Played ``factor`` times faster (> 1 shorter and higher, < 1 longer and lower)."""
    waveform = _checked_signal(waveform)
    if factor <= 0:
        raise ValueError(f"factor must be > 0, got {factor}")
    positions = np.arange(0.0, len(waveform) - 1, factor)
    return np.interp(positions, np.arange(len(waveform)), waveform).astype(np.float32)


def pitch_shifted(waveform: np.ndarray, rate: int, semitones: float) -> np.ndarray:
    """The pitch moved by ``semitones`` at the same tempo (librosa's phase vocoder + resampling),
    in 64 ms windows: a spoken digit is shorter than librosa's default window at 8 kHz."""
    import librosa

    waveform = _checked_signal(waveform)
    window = int(2 ** np.ceil(np.log2(0.064 * rate)))
    return librosa.effects.pitch_shift(waveform.astype(np.float32), sr=rate, n_steps=semitones, n_fft=window,
                                       hop_length=window // 4).astype(np.float32)


def shifted_recordings(waveform: np.ndarray, rate: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One recording through each of AUDIO_SHIFTS: a telephone line, white noise at NOISE_SNR_DB,
    a room of ROOM_RT60, SPEED_CHANGE faster or slower and PITCH_SEMITONES higher or lower (each
    direction drawn at random). The draws come from ``rng`` in a fixed order."""
    speed_direction, pitch_direction = rng.choice([-1.0, 1.0], size=2)
    return {"telephone": telephone(waveform, rate), "noise": with_noise(waveform, NOISE_SNR_DB, rng),
            "reverb": reverberant(waveform, rate, ROOM_RT60, rng),
            "speed": faster(waveform, 1.0 + speed_direction * SPEED_CHANGE),
            "pitch": pitch_shifted(waveform, rate, pitch_direction * PITCH_SEMITONES)}


def _checked_images(images: np.ndarray) -> np.ndarray:
    images = np.asarray(images, dtype=np.float64)
    if images.ndim != 3:
        raise ValueError(f"images must be an (n, height, width) array, got shape {images.shape}")
    return images


def elastic(images: np.ndarray, alpha: float, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Simard et al. (2003): each pixel read from where a smooth random field moves it."""
    images = _checked_images(images)
    rows, columns = np.meshgrid(np.arange(images.shape[1]), np.arange(images.shape[2]), indexing="ij")
    distorted = np.empty_like(images)
    for index, image in enumerate(images):
        moves = [ndimage.gaussian_filter(rng.uniform(-1.0, 1.0, image.shape), sigma) * alpha for _ in range(2)]
        distorted[index] = ndimage.map_coordinates(image, [rows + moves[0], columns + moves[1]], order=1, mode="constant")
    return np.clip(distorted, 0.0, 1.0).astype(np.float32)


def blurred(images: np.ndarray, sigma: float) -> np.ndarray:
    """A Gaussian blur of ``sigma`` pixels."""
    return np.clip(ndimage.gaussian_filter(_checked_images(images), sigma=(0.0, sigma, sigma)), 0.0, 1.0).astype(np.float32)


def low_resolution(images: np.ndarray, side: int) -> np.ndarray:
    """Down to ``side`` x ``side`` pixels and back up (bilinear; smoothed first, as any resize
    that averages would, so that the small image does not alias)."""
    images = _checked_images(images)
    if not 2 <= side <= min(images.shape[1:]):
        raise ValueError(f"side must be between 2 and {min(images.shape[1:])} pixels, got {side}")
    factor = images.shape[1] / side, images.shape[2] / side
    smooth = ndimage.gaussian_filter(images, sigma=(0.0, factor[0] / 2.5, factor[1] / 2.5))
    small = ndimage.zoom(smooth, (1.0, 1.0 / factor[0], 1.0 / factor[1]), order=1, grid_mode=True, mode="nearest")
    back = ndimage.zoom(small, (1.0, images.shape[1] / small.shape[1], images.shape[2] / small.shape[2]), order=1,
                        grid_mode=True, mode="nearest")
    return np.clip(back, 0.0, 1.0).astype(np.float32)


def large_picture(image: np.ndarray, side: int = LARGE_SIDE) -> np.ndarray:
    """One digit drawn large, dark on light, and read back as the tool reads a picture."""
    image = np.asarray(image, dtype=np.float64)
    large = ndimage.zoom(image, side / image.shape[0], order=1, grid_mode=True, mode="nearest")
    return mnist_form(1.0 - np.clip(large, 0.0, 1.0))


def held_out_views(images: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """The four image shifts no training view resembles, keyed by HELD_OUT_IMAGE_VIEWS."""
    rng = np.random.default_rng([seed, 18])  # its own stream: the trained views' draws stay as they were
    return {"elastic": elastic(images, ELASTIC["alpha"], ELASTIC["sigma"], rng), "blur": blurred(images, BLUR_SIGMA),
            "low_resolution": low_resolution(images, LOW_SIDE),
            "large_picture": np.stack([large_picture(image) for image in _checked_images(images)]).astype(np.float32)}
