"""Stage preprocess: images to [0, 1], recordings to normalised log-mels and the audio
autoencoder's inputs, metadata, episodes (``digit_concepts/pipeline/preprocess.py``)."""

from digit_concepts.core import paths, storage
from digit_concepts.core.params import load
from digit_concepts.pipeline import preprocess
from digit_concepts.senses import data


def main() -> None:
    params = load()
    # data/raw must be the download that DATA_MIRROR / DATA_CHECKSUMS name now (DVC cannot see them).
    data.check_recorded_checksums(paths.RAW_CHECKSUMS)
    images = preprocess.images(params["split"]["validation_images"])
    recordings = preprocess.recordings(params)
    streams = preprocess.episode_streams(images.table, recordings.table, params["pairs"]["noise"], params["seed"])
    shifted = preprocess.shifted_recordings(params["seed"], recordings.settings, recordings.statistics,
                                            recordings.table)
    storage.write_npz(paths.IMAGES, **images.pixels)
    storage.write_npz(paths.SPECTROGRAMS, **recordings.log_mels)
    storage.write_npz(paths.AUDIO_FEATURES, **recordings.features)
    if recordings.statistics is not None:
        storage.write_npz(paths.AUDIO_FEATURE_STATISTICS, **recordings.statistics)
    storage.write_npz(paths.VOICE_DESCRIPTORS, **recordings.voice_descriptors)
    storage.write_npz(paths.AUDIO_SHIFTS, **shifted)
    storage.write_json(paths.AUDIO_SETTINGS, recordings.settings.as_dict())
    storage.write_csv(paths.IMAGE_METADATA, images.table)
    storage.write_csv(paths.AUDIO_METADATA, recordings.table)
    storage.write_npz(paths.EPISODES, **streams)
    print(preprocess.summary(images, recordings, streams))


if __name__ == "__main__":
    from digit_concepts.core.stage_runner import run

    run(main, __file__)
