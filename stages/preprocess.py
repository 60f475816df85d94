"""Stage preprocess: images to [0, 1], recordings to normalised log-mels and the audio
autoencoder's inputs, metadata, episodes (``preprocessing``)."""

import numpy as np

from digit_concepts.senses import data
from digit_concepts.core import paths, storage
from digit_concepts.pipeline import preprocess
from digit_concepts.core.params import load

SPLITS = preprocess.SPLITS


def main() -> None:
    params = load()
    # data/raw must be the download that DATA_MIRROR / DATA_CHECKSUMS name now (DVC cannot see them).
    data.check_recorded_checksums(paths.RAW_CHECKSUMS)
    image_arrays, image_table = preprocess.images(params.split.validation_images)
    audio_arrays, features, statistics, voice_descriptors, settings, audio_table = preprocess.recordings(params)
    streams = preprocess.episode_streams(image_table, audio_table, params.pairs.noise,
                                            np.random.default_rng(params.seed))
    shifted = preprocess.shifted_recordings(params.seed, settings, statistics, audio_table)

    storage.write_npz(paths.IMAGES, **image_arrays)
    storage.write_npz(paths.SPECTROGRAMS, **audio_arrays)
    storage.write_npz(paths.AUDIO_FEATURES, **features)
    if statistics is not None:
        storage.write_npz(paths.AUDIO_FEATURE_STATISTICS, **statistics)
    storage.write_npz(paths.VOICE_DESCRIPTORS, **voice_descriptors)
    storage.write_npz(paths.AUDIO_SHIFTS, **shifted)
    storage.write_json(paths.AUDIO_SETTINGS, settings.as_dict())
    storage.write_csv(paths.IMAGE_METADATA, image_table)
    storage.write_csv(paths.AUDIO_METADATA, audio_table)
    storage.write_npz(paths.EPISODES, **streams)
    print("train / validation / test: "
          f"images {' / '.join(str(len(image_arrays[split])) for split in SPLITS)}; "
          f"recordings {' / '.join(str(len(audio_arrays[split])) for split in SPLITS)}; "
          f"audio autoencoder inputs ({settings.features}) {features['train'].shape}, "
          f"{len(features['train_views'])} augmented views; "
          f"episodes {' / '.join(str(len(streams[f'{split}_image_index'])) for split in SPLITS)}")


if __name__ == "__main__":
    from digit_concepts.core.stage_runner import run

    run(main, __file__)
