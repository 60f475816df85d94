"""Stage preprocess: images to [0, 1], recordings to normalised log-mels, metadata, episodes."""

import dataclasses

import numpy as np
import pandas as pd

from digit_concepts import audio, data, episodes, paths, storage
from digit_concepts.params import load


def images() -> tuple[dict, pd.DataFrame]:
    arrays, tables = {}, []
    for split, prefix in (("train", "train"), ("test", "t10k")):
        pixels = data.read_idx(paths.MNIST_DIR / f"{prefix}-images-idx3-ubyte.gz", data.IDX_IMAGES_MAGIC)
        digits = data.read_idx(paths.MNIST_DIR / f"{prefix}-labels-idx1-ubyte.gz", data.IDX_LABELS_MAGIC)
        if len(pixels) != len(digits):
            raise ValueError(f"MNIST {split}: {len(pixels)} images but {len(digits)} labels")
        arrays[split] = (pixels.astype(np.float32) / 255.0)
        tables.append(pd.DataFrame({"split": split, "index": np.arange(len(digits)), "digit": digits.astype(int)}))
    return arrays, pd.concat(tables, ignore_index=True)


def recordings(params: dict) -> tuple[dict, dict, dict, audio.AudioSettings, pd.DataFrame]:
    """Log-mels (for sound), the audio autoencoder's inputs, voice descriptors, settings and metadata."""
    settings = audio.AudioSettings(**params["audio"])
    table = audio.recording_table(paths.FSDD_RECORDINGS_DIR)
    is_test = audio.test_split_mask(table, params["split"]["audio"], params["split"]["test_speakers"])
    powers, descriptors = audio.read_recordings(paths.FSDD_RECORDINGS_DIR, list(table["file"]), settings)
    decibels, lengths = audio.spectrograms(powers, settings)
    table["trimmed_frames"] = lengths
    settings = dataclasses.replace(settings, sound_frames=int(np.median(lengths[~is_test])))
    if settings.per_recording_normalisation:
        decibels, peaks = audio.remove_loudness(decibels)
        settings = dataclasses.replace(settings, reference_db=float(np.median(peaks[~is_test])))
    # Normalisation statistics from the train split only.
    train_decibels = decibels[~is_test]
    settings = dataclasses.replace(settings, mean=float(train_decibels.mean()), std=float(train_decibels.std()))
    arrays = {split: audio.normalise(decibels[mask], settings) for split, mask in (("train", ~is_test), ("test", is_test))}
    features = autoencoder_inputs(params, settings, powers, is_test, arrays)
    parts = []
    for split, mask in (("train", ~is_test), ("test", is_test)):
        part = table[mask].reset_index(drop=True)
        part.insert(0, "index", np.arange(len(part)))
        part.insert(0, "split", split)
        parts.append(part)
    voice_descriptors = {"train": descriptors[~is_test], "test": descriptors[is_test]}
    return arrays, features, voice_descriptors, settings, pd.concat(parts, ignore_index=True)


def autoencoder_inputs(params: dict, settings: audio.AudioSettings, powers: list, is_test: np.ndarray,
                       log_mels: dict) -> dict:
    """What the audio autoencoder reads: train and test features, and augmented train views."""
    augmentation = params["audio_ae"]["augmentation"]
    train_powers = [power for power, test in zip(powers, is_test) if not test]
    rng = np.random.default_rng([params["seed"], 1])  # a stream of its own: episodes stay as they were
    views = audio.augmented_views(train_powers, settings, augmentation["views"], augmentation["warp"],
                                  augmentation["crop"], augmentation["bend"], rng)
    if settings.features == "log_mel":
        return {"train": log_mels["train"], "test": log_mels["test"], "train_views": audio.normalise(views, settings)}
    features = audio.features_of(powers, settings)
    return audio.standardise_features(features[~is_test], features[is_test], views)


def main() -> None:
    params = load()
    # data/raw must be the download that DATA_MIRROR / DATA_CHECKSUMS name now (DVC cannot see them).
    data.check_recorded_checksums(paths.RAW_CHECKSUMS)
    image_arrays, image_table = images()
    audio_arrays, features, voice_descriptors, settings, audio_table = recordings(params)
    rng = np.random.default_rng(params["seed"])
    streams = {}
    for split in ("train", "test"):
        image_digits = image_table.loc[image_table["split"] == split, "digit"].to_numpy()
        audio_digits = audio_table.loc[audio_table["split"] == split, "digit"].to_numpy()
        image_index, audio_index, _ = episodes.episode_stream(image_digits, audio_digits, params["pairs"]["noise"], rng)
        streams[f"{split}_image_index"], streams[f"{split}_audio_index"] = image_index, audio_index

    storage.write_npz(paths.IMAGES, train=image_arrays["train"], test=image_arrays["test"])
    storage.write_npz(paths.SPECTROGRAMS, train=audio_arrays["train"], test=audio_arrays["test"])
    storage.write_npz(paths.AUDIO_FEATURES, **features)
    storage.write_npz(paths.VOICE_DESCRIPTORS, **voice_descriptors)
    storage.write_json(paths.AUDIO_SETTINGS, settings.as_dict())
    storage.write_csv(paths.IMAGE_METADATA, image_table)
    storage.write_csv(paths.AUDIO_METADATA, audio_table)
    storage.write_npz(paths.EPISODES, **streams)
    print(f"images {image_arrays['train'].shape} / {image_arrays['test'].shape}; "
          f"log-mels {audio_arrays['train'].shape} / {audio_arrays['test'].shape}; "
          f"audio autoencoder inputs ({settings.features}) {features['train'].shape}, "
          f"{len(features['train_views'])} augmented views; "
          f"episodes {len(streams['train_image_index'])} / {len(streams['test_image_index'])}")


if __name__ == "__main__":
    from digit_concepts.stage_runner import run

    run(main, __file__)
