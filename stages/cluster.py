"""Stage cluster: concepts of each sense, of the audio alone, and of the joint (paired) episodes,
with their scores and everything the tool needs to place a new sample (``concepts.find``)."""

from digit_concepts.senses import autoencoders
from digit_concepts.pipeline import cluster
from digit_concepts.core import paths, runtime, storage
from digit_concepts.evaluation import transfer_proxies
from digit_concepts.core.evidence import Bootstrap
from digit_concepts.core.params import Params, check_cluster_sizes, load, train_sample_counts


def image_naming(params: Params) -> cluster.ImageNaming:
    """What names new images: the self-labelled classifier reads pixels (the splits' and the
    transfer proxies'); without it, the concepts' own path reads the image encoder's codes."""
    settings = params.cluster.self_labelling
    images = storage.read_npz(paths.IMAGES)
    views = transfer_proxies.drawn_image_views(images, params.seed)
    if settings.epochs > 0:
        return cluster.ImageNaming(images, views, settings, params.image_ae.augmentation)
    encoder, _ = autoencoders.load_halves(paths.autoencoder_model("image"), params.seed)
    return cluster.ImageNaming({}, {name: encoder.predict(drawn, batch_size=1024, verbose=0)
                                     for name, drawn in views.items()}, settings, None)


def audio_naming(params: Params) -> cluster.AudioNaming:
    """What names new recordings: the classifier taught the image concepts reads the audio
    autoencoder's inputs (the splits', its train views, and the recordings heard differently)."""
    settings = params.cluster.audio_self_labelling
    if settings.epochs == 0:
        return cluster.AudioNaming({}, {}, settings)
    return cluster.AudioNaming(storage.read_npz(paths.AUDIO_FEATURES), storage.read_npz(paths.AUDIO_SHIFTS), settings)


def main() -> None:
    params = load()
    # Before minutes of work: every k, k_range and voice count must fit the train samples.
    check_cluster_sizes(params, train_sample_counts(paths.IMAGE_METADATA, paths.AUDIO_METADATA))
    found = cluster.find(storage.read_npz(paths.ENCODINGS), storage.read_npz(paths.EPISODES), params.cluster,
                          params.seed, storage.read_npz(paths.VOICE_DESCRIPTORS), Bootstrap.from_params(params),
                          image_naming(params), audio_naming(params))
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
    for space, scores in found.metrics.items():
        print(f"{space}: " + ", ".join(f"{name} {value:.3f}" for name, value in scores.items()
                                       if not isinstance(value, dict)))


if __name__ == "__main__":
    from digit_concepts.core.stage_runner import run

    run(main, __file__)
