"""Stage cluster: concepts of each sense, of the audio alone, and of the joint (paired) episodes,
with their scores and everything the tool needs to place a new sample (``cluster.find``)."""

from digit_concepts.core import paths, runtime, storage
from digit_concepts.core.evidence import Bootstrap
from digit_concepts.core.params import check_cluster_sizes, load, train_sample_counts
from digit_concepts.core.sense import SplitArrays
from digit_concepts.evaluation.scoring import Labels
from digit_concepts.pipeline import cluster


def main() -> None:
    params = load()
    # Before minutes of work: every k, k_range and voice count must fit the train samples.
    check_cluster_sizes(params, train_sample_counts(paths.IMAGE_METADATA, paths.AUDIO_METADATA))
    codes, streams = SplitArrays.read(paths.ENCODINGS), SplitArrays.read(paths.EPISODES)
    voice_descriptors, labels = storage.read_npz(paths.VOICE_DESCRIPTORS), Labels.read()
    image_naming, audio_naming = cluster.read_image_naming(params), cluster.read_audio_naming(params)
    found = cluster.find(codes, streams, params["cluster"], labels, seed=params["seed"],
                         voice_descriptors=voice_descriptors, bootstrap=Bootstrap.from_params(params),
                         image_naming=image_naming, audio_naming=audio_naming)
    storage.write_npz(paths.CLUSTER_ASSIGNMENTS, **found.assignments)
    storage.write_npz(paths.AUDIO_ALONE, **found.audio_alone)  # scored only: nothing downstream decides on it
    storage.write_npz(paths.LEARNER_ARRAYS, **found.learner)
    storage.write_json(paths.LEARNER_SETTINGS, found.learner_settings)
    storage.write_npz(paths.CLUSTER_MODELS, **found.gaussians)
    storage.write_npz(paths.IMAGE_VIEW_CONCEPTS, **found.image_views)
    if found.image_classifier is not None:
        runtime.save_model(found.image_classifier, paths.IMAGE_CLASSIFIER)
    storage.write_npz(paths.AUDIO_VIEW_CONCEPTS, **found.audio_views)  # empty when the clusters name recordings
    if found.audio_classifier is not None:
        runtime.save_model(found.audio_classifier, paths.AUDIO_CLASSIFIER)
    storage.write_csv(paths.CLUSTER_CHOICE, found.choice_table())
    storage.write_json(paths.CLUSTER_METRICS, found.metrics)
    print(cluster.summary(found.metrics))


if __name__ == "__main__":
    from digit_concepts.core.stage_runner import run

    run(main, __file__)
