"""Recordings to fixed-size log-mel spectrograms and back to sound (Griffin-Lim)."""

import functools
import re
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import librosa
import numpy as np
import scipy.fft
import soundfile

from digit_concepts.core.params import AUDIO_FEATURES

RECORDING_NAME = re.compile(r"^(?P<digit>[0-9])_(?P<speaker>[a-z]+)_(?P<index>[0-9]+)\.wav$")


@dataclass(frozen=True)
class AudioSettings:
    """Everything needed to turn a recording into a spectrogram and a spectrogram back into sound."""

    sample_rate: int
    n_fft: int
    hop_length: int
    n_mels: int
    fmax: float
    frames: int
    trim_top_db: float
    per_recording_normalisation: bool
    griffin_lim_iterations: int
    features: str = "log_mel"  # what the autoencoder reads: log_mel, or cepstral (speaker-robust)
    cepstral_mels: int = 40
    cepstral_fmin: float = 100.0  # below this, mostly pitch and hum: speaker, not digit
    cepstra: int = 12
    silence_floor_db: float = 80.0  # log-mels are clipped this far below each recording's peak
    mean: float = 0.0  # train-split statistics of the log-mel (dB), filled in by preprocess
    std: float = 1.0
    reference_db: float = 0.0  # level restored when per-recording normalisation removed loudness
    sound_frames: int = 0  # duration given to generated sounds: the train split's median, in frames

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def sound_samples(self) -> int:
        """Length of every sound made by ``to_sound``."""
        return (self.sound_frames - 1) * self.hop_length


def parse_recording_name(name: str) -> tuple[int, str, int]:
    """``3_theo_12.wav`` -> (3, "theo", 12); ValueError for anything not named like FSDD."""
    match = RECORDING_NAME.match(Path(name).name)
    if not match:
        raise ValueError(f"{name}: not an FSDD recording name (expected <digit>_<speaker>_<index>.wav)")
    return int(match["digit"]), match["speaker"], int(match["index"])


def load_recording(path: Path, sample_rate: int, min_samples: int = 1) -> np.ndarray:
    """Read a mono PCM recording at ``sample_rate``; ValueError naming the file for odd audio:
    fewer than ``min_samples`` samples (one STFT window: shorter has no spectrum), silent or constant."""
    try:
        signal, rate = soundfile.read(path, dtype="float32", always_2d=True)
    except (RuntimeError, soundfile.LibsndfileError) as error:
        raise ValueError(f"{path}: unreadable audio ({error})") from error
    if rate != sample_rate:
        raise ValueError(f"{path}: sample rate {rate} Hz, expected {sample_rate} Hz")
    if signal.shape[1] != 1:
        raise ValueError(f"{path}: {signal.shape[1]} channels, expected mono")
    signal = signal[:, 0]
    if signal.size == 0 or not np.isfinite(signal).all() or np.abs(signal).max() == 0.0:
        raise ValueError(f"{path}: empty, silent or non-finite audio ({signal.size} samples)")
    if signal.size < min_samples:
        raise ValueError(f"{path}: too short, {signal.size} samples; at least {min_samples} needed "
                         f"(one audio.n_fft window)")
    if signal.max() == signal.min():  # a DC offset and nothing else: no sound to describe
        raise ValueError(f"{path}: constant signal ({signal.size} samples all {signal[0]:.6g}), no sound")
    return signal


def resample_frames(decibels: np.ndarray, frames: int) -> np.ndarray:
    """Stretch or squeeze the time axis to ``frames`` columns by linear interpolation."""
    return _resample_at(decibels, np.linspace(0.0, decibels.shape[1] - 1, frames))


def _resample_at(matrix: np.ndarray, positions: np.ndarray) -> np.ndarray:
    columns = np.arange(matrix.shape[1])
    return np.stack([np.interp(positions, columns, row) for row in matrix]).astype(np.float32)


def trimmed_power(signal: np.ndarray, settings: AudioSettings) -> np.ndarray:
    """Power spectrogram (n_fft // 2 + 1, frames) of the recording with silence trimmed."""
    trimmed, _ = librosa.effects.trim(signal, top_db=settings.trim_top_db,
                                      frame_length=settings.n_fft, hop_length=settings.hop_length)
    if trimmed.size < settings.n_fft:
        trimmed = signal
    return np.abs(librosa.stft(trimmed, n_fft=settings.n_fft, hop_length=settings.hop_length)) ** 2


@functools.lru_cache(maxsize=16)
def _mel_filters(sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    filters = librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
    filters.setflags(write=False)
    return filters


def _mel_power(power: np.ndarray, settings: AudioSettings, n_mels: int, fmin: float = 0.0) -> np.ndarray:
    """``librosa.feature.melspectrogram(S=power, ...)`` to the byte, with the filter bank built once
    rather than per call (a fifth of preprocessing went to rebuilding it)."""
    filters = _mel_filters(settings.sample_rate, settings.n_fft, n_mels, float(fmin), float(settings.fmax))
    return np.einsum("...ft,mf->...mt", power, filters, optimize=True)


def _mel_decibels(power: np.ndarray, settings: AudioSettings, n_mels: int, fmin: float = 0.0) -> np.ndarray:
    """Mel bands of a power spectrogram in dB, floored ``settings.silence_floor_db`` below the peak."""
    mel_power = _mel_power(power, settings, n_mels, fmin)
    decibels = librosa.power_to_db(mel_power, ref=1.0, amin=1e-10, top_db=None)
    return np.maximum(decibels, decibels.max() - settings.silence_floor_db)


def log_mel_of_power(power: np.ndarray, settings: AudioSettings) -> tuple[np.ndarray, int]:
    """Log-mel in dB (floored ``silence_floor_db`` below the peak) of a trimmed power spectrogram,
    time-normalised to ``frames``; and its frame count before that.

    Time normalisation aligns the syllables of fast and slow speakers, which roughly doubles
    how well recordings cluster by digit compared with padding. The trimmed frame count gives
    generated sounds a natural duration.
    """
    decibels = _mel_decibels(power, settings, settings.n_mels)
    return resample_frames(decibels, settings.frames), decibels.shape[1]


def log_mel(signal: np.ndarray, settings: AudioSettings) -> tuple[np.ndarray, int]:
    """Trim silence, then ``log_mel_of_power``."""
    return log_mel_of_power(trimmed_power(signal, settings), settings)


def remove_loudness(decibels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Subtract each recording's peak (dB): loudness follows speaker and microphone, not digit."""
    peaks = decibels.max(axis=(1, 2))
    return decibels - peaks[:, None, None], peaks


def normalise(decibels: np.ndarray, settings: AudioSettings) -> np.ndarray:
    return ((decibels - settings.mean) / settings.std).astype(np.float32)


def denormalise(normalised: np.ndarray, settings: AudioSettings) -> np.ndarray:
    return normalised * settings.std + settings.mean


def to_sound(normalised: np.ndarray, settings: AudioSettings) -> np.ndarray:
    """A normalised (n_mels, frames) log-mel back to a waveform by Griffin-Lim, peak 0.9."""
    decibels = denormalise(np.asarray(normalised, dtype=np.float64), settings)
    if settings.per_recording_normalisation:
        decibels = decibels + settings.reference_db
    power = librosa.db_to_power(resample_frames(decibels, max(settings.sound_frames, 2)))
    # mel_to_audio would pass random_state on to the mel filters (TypeError): call its two steps.
    magnitude = librosa.feature.inverse.mel_to_stft(power, sr=settings.sample_rate, n_fft=settings.n_fft,
                                                    power=2.0, fmax=settings.fmax)
    signal = librosa.griffinlim(magnitude, n_iter=settings.griffin_lim_iterations, hop_length=settings.hop_length,
                                n_fft=settings.n_fft, random_state=np.random.RandomState(0))
    peak = np.abs(signal).max()
    return (0.9 * signal / peak if peak > 0 else signal).astype(np.float32)


@dataclass(frozen=True)
class View:
    """One augmented rendering of a recording, for training the autoencoder to ignore speaker."""

    warp: float = 1.0  # the spectrum is read at frequency / warp (a longer or shorter vocal tract)
    crop_start: float = 0.0  # share of the trimmed recording left out at each end
    crop_end: float = 0.0
    bend: float = 0.0  # time runs t -> t + bend * sin(pi t): a faster start and slower end, or the reverse
    noise_snr_db: float | None = None  # background noise this far below the recording's mean power; None: none
    noise_tilt: float = 0.0  # its spectral slope: power ~ frequency ** tilt (0 white, -1 pink, -2 brown)
    noise_seed: int = 0


@dataclass(frozen=True)
class NoiseViews:
    """Which views also hear background noise: a share of them, at an SNR (dB) drawn from a range,
    coloured by a slope drawn from a range. The default share 0 adds none."""

    probability: float = 0.0
    snr_db: tuple[float, float] = (0.0, 20.0)
    tilt: tuple[float, float] = (-2.0, 1.0)


def random_views(count: int, warp: float, crop: float, bend: float, rng: np.random.Generator,
                 noise: NoiseViews = NoiseViews()) -> list[View]:
    """``count`` views: warp factor in exp(+-warp), crops in [0, crop], bend in +-bend; with
    ``noise``, a share of them in background noise (drawn only then, so that views without noise
    stay the same draws)."""
    views = []
    for _ in range(count):
        view = View(float(np.exp(rng.uniform(-warp, warp))), float(rng.uniform(0.0, crop)),
                    float(rng.uniform(0.0, crop)), float(rng.uniform(-bend, bend)))
        if noise.probability > 0 and rng.uniform() < noise.probability:
            view = replace(view, noise_snr_db=float(rng.uniform(*noise.snr_db)),
                           noise_tilt=float(rng.uniform(*noise.tilt)), noise_seed=int(rng.integers(2 ** 31)))
        views.append(view)
    return views


def with_background_noise(power: np.ndarray, snr_db: float, tilt: float, seed: int) -> np.ndarray:
    """A power spectrogram (bins, frames) as heard over stationary noise: the noise's expected power
    per bin follows frequency ** ``tilt``, totals the recording's mean power over 10 ** (snr_db / 10),
    and fluctuates as a complex Gaussian's does (exponentially)."""
    bins = power.shape[0]
    profile = (np.arange(1, bins + 1) / (bins / 2.0)) ** tilt
    profile /= profile.mean()
    level = power.mean() * 10.0 ** (-snr_db / 10.0)
    fluctuation = np.random.default_rng(seed).exponential(1.0, power.shape)
    return power + level * profile[:, None] * fluctuation


def warp_frequencies(power: np.ndarray, warp: float) -> np.ndarray:
    """Read each frequency bin at bin / warp (linear interpolation; above the top bin is silence)."""
    if warp == 1.0:
        return power
    bins = np.arange(power.shape[0])
    return np.stack([np.interp(bins / warp, bins, column, right=0.0) for column in power.T], axis=1)


def view_positions(length: int, frames: int, view: View) -> np.ndarray:
    """Where in a ``length``-frame recording each of the ``frames`` output columns is read."""
    time = np.linspace(0.0, 1.0, frames)
    time = time + view.bend * np.sin(np.pi * time)
    start, end = view.crop_start * (length - 1), (1.0 - view.crop_end) * (length - 1)
    return start + (end - start) * time


def cepstral_features(power: np.ndarray, settings: AudioSettings) -> np.ndarray:
    """MFCCs c1..c``cepstra`` (c0, loudness, left out) normalised over the recording's own time,
    with their deltas: (2 * cepstra, frames of the recording).

    Per-recording mean and variance normalisation removes the microphone and much of the
    voice (a fixed filter is a constant offset in the cepstrum), leaving how the sound moves.
    """
    decibels = _mel_decibels(power, settings, settings.cepstral_mels, settings.cepstral_fmin)
    cepstra = scipy.fft.dct(decibels, type=2, axis=0, norm="ortho")[1:settings.cepstra + 1]
    cepstra = (cepstra - cepstra.mean(axis=1, keepdims=True)) / (cepstra.std(axis=1, keepdims=True) + 1e-6)
    deltas = librosa.feature.delta(cepstra, width=5, mode="nearest")
    return np.concatenate([cepstra, deltas])


def view_features(power: np.ndarray, settings: AudioSettings, view: View = View()) -> np.ndarray:
    """The autoencoder's input for one recording seen through ``view``, stretched to ``frames``:
    peak-relative log-mel in dB (``log_mel``) or normalised cepstra with deltas (``cepstral``)."""
    power = warp_frequencies(power, view.warp)
    if view.noise_snr_db is not None:
        power = with_background_noise(power, view.noise_snr_db, view.noise_tilt, view.noise_seed)
    if settings.features == "cepstral":
        matrix = cepstral_features(power, settings)
    elif settings.features == "log_mel":
        matrix = _mel_decibels(power, settings, settings.n_mels)
        if settings.per_recording_normalisation:
            matrix = matrix - matrix.max()
    else:
        raise ValueError(f"audio.features: got {settings.features!r}, must be one of {', '.join(AUDIO_FEATURES)}")
    return _resample_at(matrix, view_positions(matrix.shape[1], settings.frames, view))


def features_of(powers: list[np.ndarray], settings: AudioSettings) -> np.ndarray:
    """Unnormalised autoencoder inputs (n, rows, frames) of trimmed power spectrograms."""
    return np.stack([view_features(power, settings) for power in powers])


def augmented_views(powers: list[np.ndarray], settings: AudioSettings, views_per_recording: int, warp: float,
                    crop: float, bend: float, rng: np.random.Generator, noise: NoiseViews = NoiseViews()) -> np.ndarray:
    """(views_per_recording, n, rows, frames): each recording through its own random views."""
    if views_per_recording == 0:
        return np.zeros((0, len(powers), *view_features(powers[0], settings).shape), dtype=np.float32)
    per_recording = [[view_features(power, settings, view)
                      for view in random_views(views_per_recording, warp, crop, bend, rng, noise)] for power in powers]
    return np.stack([np.stack(per_view) for per_view in zip(*per_recording)])


def feature_statistics(train: np.ndarray) -> dict[str, np.ndarray]:
    """Per-element mean and deviation of the train features: saved, so that new recordings (the
    tool's) are standardised exactly as the pipeline's were."""
    return {"mean": train.mean(axis=0).astype(np.float32), "deviation": (train.std(axis=0) + 1e-6).astype(np.float32)}


def normalised_log_mels(signals: list[np.ndarray], settings: AudioSettings) -> np.ndarray:
    """Normalised log-mels (n, n_mels, frames) of new recordings, made as ``preprocess`` makes
    FSDD's (trimmed, time-normalised, loudness removed): what sounds are decoded to."""
    decibels, _ = spectrograms([trimmed_power(signal, settings) for signal in signals], settings)
    if settings.per_recording_normalisation:
        decibels, _ = remove_loudness(decibels)
    return normalise(decibels, settings)


def inputs_of(signals: list[np.ndarray], settings: AudioSettings, statistics: dict | None) -> np.ndarray:
    """What the audio autoencoder reads for these recordings, made as ``preprocess`` makes FSDD's:
    ``normalised_log_mels`` (``settings.features`` log_mel), or cepstral features standardised
    with the train ``statistics``."""
    if settings.features == "log_mel":
        return normalised_log_mels(signals, settings)
    if statistics is None:
        raise ValueError("cepstral features need the train split's feature statistics")
    return standardised(features_of([trimmed_power(signal, settings) for signal in signals], settings), statistics)


def standardised(features: np.ndarray, statistics: dict[str, np.ndarray]) -> np.ndarray:
    return ((features - statistics["mean"]) / statistics["deviation"]).astype(np.float32)


def write_wav(path: Path, signal: np.ndarray, sample_rate: int) -> None:
    soundfile.write(path, signal, sample_rate, subtype="PCM_16")


def recording_table(folder: Path) -> "pandas.DataFrame":
    """One row per recording in ``folder``: file, digit, speaker, recording index (sorted by file)."""
    import pandas

    files = sorted(path.name for path in Path(folder).glob("*.wav"))
    if not files:
        raise ValueError(f"{folder}: no .wav recordings found")
    rows = [(name, *parse_recording_name(name)) for name in files]
    return pandas.DataFrame(rows, columns=["file", "digit", "speaker", "recording_index"])


def test_split_mask(table, split: str, test_speakers: list[str]) -> np.ndarray:
    """Official FSDD split: recording index 0-4 is test; or hold out whole speakers.

    Checked against the recordings found (before any audio is read): ValueError naming the key
    if a held-out speaker is not in the data or either split would be empty.
    """
    if split == "official":
        mask = (table["recording_index"] < 5).to_numpy()
    elif split == "leave_speakers_out":
        present = sorted(table["speaker"].unique())
        absent = [speaker for speaker in test_speakers if speaker not in present]
        if absent:
            raise ValueError(f"split.test_speakers: {', '.join(absent)} not in the recordings; "
                             f"the data has speakers {', '.join(present)}")
        mask = table["speaker"].isin(test_speakers).to_numpy()
        if mask.all():
            raise ValueError(f"split.test_speakers: holds out every speaker in the data ({', '.join(present)}), "
                             f"leaving none to train on; list only some of them")
    else:
        raise ValueError(f"split.audio: got {split!r}, must be official or leave_speakers_out")
    if mask.all() or not mask.any():
        raise ValueError(f"split.audio: {split} leaves {'no train' if mask.all() else 'no test'} recordings "
                         f"among the {len(mask)} found (official: recording index 0-4 is test)")
    return mask


def split_of_recordings(table, split: str, test_speakers: list[str],
                        validation_indices: list[int]) -> np.ndarray:
    """'train', 'validation' or 'test' for each recording.

    Test as ``test_split_mask`` says; validation is carved from what is left: the recordings whose
    index lies in ``validation_indices`` (first, last), so every choice can be made without the
    test split. With speakers held out, validation comes from the remaining speakers only.
    """
    first, last = validation_indices
    is_test = test_split_mask(table, split, test_speakers)
    indices = table["recording_index"].to_numpy()
    is_validation = ~is_test & (indices >= first) & (indices <= last)
    if not is_validation.any():
        raise ValueError(f"split.validation_recordings: no recording outside the test split has an index in "
                         f"{first}..{last}; choose indices the train recordings have")
    if (is_test | is_validation).all():
        raise ValueError(f"split.validation_recordings: {first}..{last} leaves no train recordings")
    return np.where(is_test, "test", np.where(is_validation, "validation", "train"))


def read_recordings(folder: Path, files: list[str], settings: AudioSettings) -> tuple[list[np.ndarray], np.ndarray]:
    """Trimmed power spectrograms (``trimmed_power``) and ``voice_descriptors`` of ``files`` in
    ``folder``, each file read once for every feature made of it."""
    powers, descriptors = [], []
    for name in files:
        signal = load_recording(Path(folder) / name, settings.sample_rate, min_samples=settings.n_fft)
        powers.append(trimmed_power(signal, settings))
        descriptors.append(voice_descriptors(signal, powers[-1], settings))
    return powers, np.stack(descriptors)


VOICE_CEPSTRA = 19  # long-term cepstrum c1..c19 of the spoken part
NOISE_BANDS, NOISE_CEPSTRA = 32, 11  # cepstrum c1..c11 of the room and microphone
QUIET_SHARE = 0.1  # the quietest tenth of the frames is taken as the noise floor


def voice_descriptors(signal: np.ndarray, power: np.ndarray, settings: AudioSettings) -> np.ndarray:
    """What says who is speaking, and into which microphone, rather than which word (19 + 11 + 3 numbers):
    the long-term cepstrum of the trimmed speech, the cepstrum of the quietest frames of the whole
    recording (noise floor), the DC offset, log peak level and log length.

    Used only to find voices (``voices.py``); the autoencoder never reads them.
    """
    long_term = _mel_decibels(power, settings, settings.n_mels).mean(axis=1)
    padded = np.pad(signal, (0, max(0, settings.n_fft - signal.size)))
    whole = np.abs(librosa.stft(padded, n_fft=settings.n_fft, hop_length=settings.hop_length)) ** 2
    # No floor below the peak here (unlike ``_mel_decibels``): the quiet frames are what it would clip.
    bands = librosa.power_to_db(_mel_power(whole, settings, NOISE_BANDS), ref=1.0, amin=1e-10, top_db=None)
    energy = bands.mean(axis=0)
    noise_floor = bands[:, energy <= np.quantile(energy, QUIET_SHARE)].mean(axis=1)
    level = [1e3 * float(signal.mean()), float(np.log(np.abs(signal).max())), float(np.log(signal.size))]
    return np.concatenate([scipy.fft.dct(long_term, norm="ortho")[1:VOICE_CEPSTRA + 1],
                           scipy.fft.dct(noise_floor, norm="ortho")[1:NOISE_CEPSTRA + 1], level]).astype(np.float32)


def spectrograms(powers: list[np.ndarray], settings: AudioSettings) -> tuple[np.ndarray, np.ndarray]:
    """Log-mels in dB, shape (n, n_mels, frames), and trimmed frame counts, of ``read_recordings``."""
    pairs = [log_mel_of_power(power, settings) for power in powers]
    return np.stack([spectrogram for spectrogram, _ in pairs]), np.array([length for _, length in pairs])
