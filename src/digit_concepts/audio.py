"""Recordings to fixed-size log-mel spectrograms and back to sound (Griffin-Lim)."""

import re
from dataclasses import asdict, dataclass
from pathlib import Path

import librosa
import numpy as np
import soundfile

RECORDING_NAME = re.compile(r"^(?P<digit>[0-9])_(?P<speaker>[a-z]+)_(?P<index>[0-9]+)\.wav$")
SILENCE_FLOOR_DB = 80.0  # log-mels are clipped this far below each recording's peak


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


def load_recording(path: Path, sample_rate: int) -> np.ndarray:
    """Read a mono PCM recording at ``sample_rate``; ValueError naming the file for odd audio."""
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
    return signal


def resample_frames(decibels: np.ndarray, frames: int) -> np.ndarray:
    """Stretch or squeeze the time axis to ``frames`` columns by linear interpolation."""
    positions = np.linspace(0.0, decibels.shape[1] - 1, frames)
    columns = np.arange(decibels.shape[1])
    return np.stack([np.interp(positions, columns, row) for row in decibels]).astype(np.float32)


def log_mel(signal: np.ndarray, settings: AudioSettings) -> tuple[np.ndarray, int]:
    """Trim silence, log-mel in dB (floored 80 dB below the peak), time-normalised to ``frames``.

    Time normalisation aligns the syllables of fast and slow speakers, which roughly doubles
    how well recordings cluster by digit compared with padding. Returns the spectrogram and
    the trimmed frame count (needed to give generated sounds a natural duration).
    """
    trimmed, _ = librosa.effects.trim(signal, top_db=settings.trim_top_db,
                                      frame_length=settings.n_fft, hop_length=settings.hop_length)
    if trimmed.size < settings.n_fft:
        trimmed = signal
    power = librosa.feature.melspectrogram(y=trimmed, sr=settings.sample_rate, n_fft=settings.n_fft,
                                           hop_length=settings.hop_length, n_mels=settings.n_mels,
                                           fmax=settings.fmax, power=2.0)
    decibels = librosa.power_to_db(power, ref=1.0, amin=1e-10, top_db=None)
    decibels = np.maximum(decibels, decibels.max() - SILENCE_FLOOR_DB)
    return resample_frames(decibels, settings.frames), decibels.shape[1]


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
    """Official FSDD split: recording index 0-4 is test; or hold out whole speakers."""
    if split == "official":
        return (table["recording_index"] < 5).to_numpy()
    if split == "leave_speakers_out":
        return table["speaker"].isin(test_speakers).to_numpy()
    raise ValueError(f"split.audio: got {split!r}, must be official or leave_speakers_out")


def spectrograms(folder: Path, files: list[str], settings: AudioSettings) -> tuple[np.ndarray, np.ndarray]:
    """Log-mels in dB, shape (n, n_mels, frames), and trimmed frame counts, for files of ``folder``."""
    pairs = [log_mel(load_recording(Path(folder) / name, settings.sample_rate), settings) for name in files]
    return np.stack([spectrogram for spectrogram, _ in pairs]), np.array([length for _, length in pairs])
