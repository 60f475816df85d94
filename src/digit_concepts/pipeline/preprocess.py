"""What each sense perceives, per split (the preprocess stage's work): MNIST pixels in [0, 1],
FSDD log-mels (for sound) and the audio autoencoder's inputs with their train statistics, voice
descriptors, each sample's metadata, and the episode streams that pair them.

Every statistic is taken from the train split only.
"""

import dataclasses

import numpy as np
import pandas as pd

from digit_concepts.core import paths
from digit_concepts.core.sense import AUDIO, IMAGE, SPLITS, view_key
from digit_concepts.senses import audio, data, domain_shifts, episodes


@dataclasses.dataclass(frozen=True)
class Images:
    """MNIST pixels in [0, 1] per split, and each image's split, index and digit."""

    pixels: dict[str, np.ndarray]
    table: pd.DataFrame


@dataclasses.dataclass(frozen=True)
class Recordings:
    """FSDD as the pipeline reads it: log-mels per split (for sound), the audio autoencoder's
    inputs (and their train statistics; None for log-mels), voice descriptors, the settings that
    made them, and each recording's metadata."""

    log_mels: dict[str, np.ndarray]
    features: dict[str, np.ndarray]
    statistics: dict[str, np.ndarray] | None
    voice_descriptors: dict[str, np.ndarray]
    settings: audio.AudioSettings
    table: pd.DataFrame


def images(validation_images: int) -> Images:
    """Pixels in [0, 1] per split; validation is the last ``validation_images`` MNIST train images."""
    arrays, tables = {}, []
    for source, prefix in (("train", "train"), ("test", "t10k")):
        pixels = data.read_idx(paths.MNIST_DIR / f"{prefix}-images-idx3-ubyte.gz", data.IDX_IMAGES_MAGIC)
        digits = data.read_idx(paths.MNIST_DIR / f"{prefix}-labels-idx1-ubyte.gz", data.IDX_LABELS_MAGIC)
        if len(pixels) != len(digits):
            raise ValueError(f"MNIST {source}: {len(pixels)} images but {len(digits)} labels")
        pixels = pixels.astype(np.float32) / 255.0
        if source == "train":
            if not 0 < validation_images < len(pixels):
                raise ValueError(f"split.validation_images: {validation_images} must be below the "
                                 f"{len(pixels)} MNIST train images (some must stay to train on)")
            cut = len(pixels) - validation_images
            parts = {"train": (pixels[:cut], digits[:cut]), "validation": (pixels[cut:], digits[cut:])}
        else:
            parts = {"test": (pixels, digits)}
        for split, (split_pixels, split_digits) in parts.items():
            arrays[split] = split_pixels
            tables.append(pd.DataFrame({"split": split, "index": np.arange(len(split_digits)),
                                        "digit": split_digits.astype(int)}))
    return Images(arrays, pd.concat(tables, ignore_index=True))


def recordings(params: dict) -> Recordings:
    """Log-mels (for sound), the audio autoencoder's inputs and their train statistics (None for
    log-mels), voice descriptors, settings and metadata."""
    settings = audio.AudioSettings(**params["audio"])
    table = audio.recording_table(paths.FSDD_RECORDINGS_DIR)
    split_of = audio.split_of_recordings(table, params["split"]["audio"], params["split"]["test_speakers"],
                                         params["split"]["validation_recordings"])
    is_train = split_of == "train"
    powers, descriptors = audio.read_recordings(paths.FSDD_RECORDINGS_DIR, list(table["file"]), settings)
    decibels, lengths = audio.spectrograms(powers, settings)
    table["trimmed_frames"] = lengths
    settings = dataclasses.replace(settings, sound_frames=int(np.median(lengths[is_train])))
    if settings.per_recording_normalisation:
        decibels, peaks = audio.remove_loudness(decibels)
        settings = dataclasses.replace(settings, reference_db=float(np.median(peaks[is_train])))
    # Normalisation statistics from the train split only.
    train_decibels = decibels[is_train]
    settings = dataclasses.replace(settings, mean=float(train_decibels.mean()), std=float(train_decibels.std()))
    arrays = {split: audio.normalise(decibels[split_of == split], settings) for split in SPLITS}
    features, statistics = autoencoder_inputs(params, settings, powers, split_of, arrays)
    parts = []
    for split in SPLITS:
        part = table[split_of == split].reset_index(drop=True)
        part.insert(0, "index", np.arange(len(part)))
        part.insert(0, "split", split)
        parts.append(part)
    voice_descriptors = {split: descriptors[split_of == split] for split in SPLITS}
    return Recordings(arrays, features, statistics, voice_descriptors, settings, pd.concat(parts, ignore_index=True))


def shifted_recordings(seed: int, settings: audio.AudioSettings, statistics: dict | None,
                       audio_table: pd.DataFrame) -> dict[str, np.ndarray]:
    """The audio transfer proxies: every validation and test recording through each of
    ``shifts.AUDIO_SHIFTS``, as the autoencoder reads it; keys ``view_key(split, shift)``, rows
    in the split's order."""
    rng = np.random.default_rng([seed, 19])  # a stream of its own: nothing else moves
    shifted = {}
    for split in ("validation", "test"):
        heard = {shift: [] for shift in domain_shifts.AUDIO_SHIFTS}
        for name in audio_table.loc[audio_table["split"] == split, "file"]:
            recording = audio.load_recording(paths.FSDD_RECORDINGS_DIR / name, settings.sample_rate,
                                             min_samples=settings.n_fft)
            for shift, waveform in domain_shifts.shifted_recordings(recording, settings.sample_rate, rng).items():
                heard[shift].append(waveform)
        shifted.update({view_key(split, shift): audio.inputs_of(waveforms, settings, statistics)
                        for shift, waveforms in heard.items()})
    return shifted


def autoencoder_inputs(params: dict, settings: audio.AudioSettings, powers: list, split_of: np.ndarray,
                       log_mels: dict) -> tuple[dict, dict | None]:
    """What the audio autoencoder reads (features of every split, and augmented train views), and
    the train statistics that standardised them (None for log-mels: audio_settings.json has theirs)."""
    augmentation = params["audio_ae"]["augmentation"]
    train_powers = [power for power, split in zip(powers, split_of) if split == "train"]
    rng = np.random.default_rng([params["seed"], 1])  # a stream of its own: episodes stay as they were
    noise = audio.NoiseViews(augmentation["noise_probability"], tuple(augmentation["noise_snr_db"]),
                             tuple(augmentation["noise_tilt"]))
    views = audio.augmented_views(train_powers, settings, augmentation["views"], augmentation["warp"],
                                  augmentation["crop"], augmentation["bend"], rng, noise)
    if settings.features == "log_mel":
        return {**log_mels, "train_views": audio.normalise(views, settings)}, None
    features = audio.features_of(powers, settings)
    # Kept (the tool standardises new recordings with them), and applied to every split and view.
    statistics = audio.feature_statistics(features[split_of == "train"])
    standardised = {split: audio.standardised(features[split_of == split], statistics) for split in SPLITS}
    return {**standardised, "train_views": audio.standardised(views, statistics)}, statistics


def episode_streams(image_table: pd.DataFrame, audio_table: pd.DataFrame, noise: float,
                    seed: int) -> dict[str, np.ndarray]:
    """Each split's stream of episodes: an image and a recording of one digit (a ``noise`` share
    paired at random), as indices into the split (``episodes.episode_stream``), drawn from one
    seeded generator, split after split."""
    rng = np.random.default_rng(seed)
    streams = {}
    for split in SPLITS:
        image_digits = image_table.loc[image_table["split"] == split, "digit"].to_numpy()
        audio_digits = audio_table.loc[audio_table["split"] == split, "digit"].to_numpy()
        image_index, audio_index, _ = episodes.episode_stream(image_digits, audio_digits, noise, rng)
        streams[IMAGE.episode_index_key(split)], streams[AUDIO.episode_index_key(split)] = image_index, audio_index
    return streams


def summary(images: Images, recordings: Recordings, streams: dict[str, np.ndarray]) -> str:
    """How many samples and episodes each split has, and what the audio autoencoder reads."""
    def per_split(count_of) -> str:
        return " / ".join(str(count_of(split)) for split in SPLITS)

    return ("train / validation / test: "
            f"images {per_split(lambda split: len(images.pixels[split]))}; "
            f"recordings {per_split(lambda split: len(recordings.log_mels[split]))}; "
            f"audio autoencoder inputs ({recordings.settings.features}) {recordings.features['train'].shape}, "
            f"{len(recordings.features['train_views'])} augmented views; "
            f"episodes {per_split(lambda split: len(streams[IMAGE.episode_index_key(split)]))}")
