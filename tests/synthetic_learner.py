"""A small trained learner written straight into a folder, in the pipeline's own formats, without
running the pipeline: every piece the tool reads, made by the package's own fitting and writing
functions from random codes, and (``with_models``) tiny Keras models of the right shapes.

For tests of the tool's loading: a valid folder loads, and each piece can then be damaged."""

import json
from pathlib import Path

import numpy as np

from digit_concepts.concepts import clustering, reduction
from digit_concepts.concepts.familiarity import Familiarity
from digit_concepts.core import paths, storage
from digit_concepts.core.standardisation import Standardiser
from digit_concepts.crossmodal import relations, zones
from digit_concepts.senses.audio import AudioSettings

CODE_SIZES = {"image": 4, "audio": 3}
CLUSTERS = {"image": 3, "audio": 5}
AUDIO_SETTINGS = AudioSettings(sample_rate=8000, n_fft=256, hop_length=64, n_mels=16, fmax=4000.0, frames=8,
                               trim_top_db=30.0, per_recording_normalisation=True, griffin_lim_iterations=4,
                               features="log_mel", mean=-40.0, std=20.0, sound_frames=8)
INPUT_SHAPES = {"image": (28, 28), "audio": (AUDIO_SETTINGS.n_mels, AUDIO_SETTINGS.frames)}


def _image_model(codes: np.ndarray, rng: np.random.Generator) -> clustering.SenseModel:
    """As the pipeline fits images: a mixture on a UMAP manifold, reached by the neighbour vote
    (the manifold itself stands in as random points: UMAP is not saved)."""
    from sklearn.mixture import GaussianMixture

    standardiser = Standardiser.fit(codes)
    manifold = rng.normal(size=(len(codes), 2)) + np.repeat(np.eye(3, 2) * 6, len(codes) // 3, axis=0)
    mixture = GaussianMixture(CLUSTERS["image"], covariance_type="full", random_state=0).fit(manifold)
    concepts = mixture.predict(manifold)
    vote = reduction.NeighbourVote(standardiser.apply(codes), concepts, CLUSTERS["image"], 5)
    return clustering.SenseModel(standardiser, reduction.Reduction("umap", np.zeros((0, 0))),
                                 clustering.Clustering(mixture.means_, 1.0, mixture), vote)


def _audio_model(codes: np.ndarray) -> clustering.SenseModel:
    """As the pipeline fits recordings: k-means on a PCA of the standardised codes."""
    standardiser = Standardiser.fit(codes)
    reduced = reduction.reduce(standardiser.apply(codes), "pca", 2, 5, seed=0)
    return clustering.SenseModel(standardiser, reduced, clustering.fit(reduced.train, "kmeans", CLUSTERS["audio"], 0))


def _keras_models(folder: Path) -> None:
    """Autoencoders (with "encoder" and "decoder" inside), the brain module and the classifiers."""
    from digit_concepts.core.runtime import keras_with_seed, save_model

    keras = keras_with_seed(0)
    for sense, shape in INPUT_SHAPES.items():
        size = int(np.prod(shape))
        inputs = keras.Input(shape=shape)
        encoder = keras.Model(inputs, keras.layers.Dense(CODE_SIZES[sense])(keras.layers.Flatten()(inputs)),
                              name="encoder")
        codes = keras.Input(shape=(CODE_SIZES[sense],))
        decoded = keras.layers.Reshape(shape)(keras.layers.Dense(size, activation="sigmoid")(codes))
        decoder = keras.Model(codes, decoded, name="decoder")
        save_model(keras.Model(inputs, decoder(encoder(inputs)), name="autoencoder"),
                   folder / paths.autoencoder_model(sense))
        classifier = keras.Model(inputs, keras.layers.Dense(CLUSTERS["image"])(keras.layers.Flatten()(inputs)))
        save_model(classifier, folder / {"image": paths.IMAGE_CLASSIFIER, "audio": paths.AUDIO_CLASSIFIER}[sense])
    for source, target in (("image", "audio"), ("audio", "image")):
        inputs = keras.Input(shape=(CODE_SIZES[source],))
        save_model(keras.Model(inputs, keras.layers.Dense(CODE_SIZES[target])(inputs)),
                   folder / paths.brain_model(f"{source}_to_{target}"))


def write_learner(folder: Path, with_models: bool = True) -> Path:
    """Every piece of a learner in ``folder``; without models, each .keras is an empty placeholder
    (enough for whatever does not load them, such as ``digit-concepts concepts``)."""
    rng = np.random.default_rng(0)
    for relative in (paths.LEARNER_ARRAYS, paths.COOCCURRENCE, paths.CONVERGENCE_METRICS, paths.FAMILIARITY,
                     paths.AUDIO_SETTINGS, paths.ADAPTATION_SETTINGS, *(paths.autoencoder_model(sense)
                                                                       for sense in CODE_SIZES),
                     paths.brain_model("image_to_audio")):
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
    codes = {sense: rng.normal(size=(60, size)) + np.repeat(np.eye(3, size) * 4, 20, axis=0)
             for sense, size in CODE_SIZES.items()}
    models = {"image": _image_model(codes["image"], rng), "audio": _audio_model(codes["audio"])}
    arrays, settings, gaussians = {}, {}, {}
    for sense, model in models.items():
        assignments = model.log_posteriors(codes[sense]).argmax(axis=1)
        arrays.update(model.arrays(sense))
        arrays[f"{sense}_train_sizes"] = np.bincount(assignments, minlength=CLUSTERS[sense])
        settings[sense] = {"reduction": model.reduction.method, "algorithm": "gmm" if sense == "image" else "kmeans",
                           "n_clusters": CLUSTERS[sense], "classifier": with_models}
        gaussians[f"{sense}_means"], gaussians[f"{sense}_covariances"] = clustering.concept_gaussians(
            codes[sense], assignments, CLUSTERS[sense])
    arrays["audio_train_features"] = models["audio"].standardiser.apply(codes["audio"])
    storage.write_npz(folder / paths.LEARNER_ARRAYS, **arrays)
    storage.write_json(folder / paths.LEARNER_SETTINGS, settings)
    storage.write_npz(folder / paths.CLUSTER_MODELS, **gaussians)
    counts = rng.integers(1, 4, size=(CLUSTERS["image"], CLUSTERS["audio"]))
    counts[np.arange(CLUSTERS["audio"]) % 3, np.arange(CLUSTERS["audio"])] += 20  # each cluster's partner
    storage.write_csv(folder / paths.COOCCURRENCE, relations.cooccurrence_table(counts))
    storage.write_csv(folder / paths.CONCEPT_TABLE,
                      zones.concept_table(counts, relations.merge_by_partner(counts), 0.5, 0.2, 1.5))
    storage.write_json(folder / paths.CONVERGENCE_METRICS, {"calibration_temperature_image": 1.3,
                                                             "calibration_temperature_audio": 0.8, "acc_fused": 0.9})
    references = {}
    for sense, model in models.items():
        errors = rng.uniform(0.01, 0.1, size=20)
        references.update(Familiarity.calibrate(model.standardiser, codes[sense], codes[sense][::3] + 0.1, errors,
                                                0.05).arrays(sense))
    storage.write_npz(folder / paths.FAMILIARITY, **references)
    storage.write_json(folder / paths.AUDIO_SETTINGS, AUDIO_SETTINGS.as_dict())
    storage.write_json(folder / paths.ADAPTATION_SETTINGS, {"batch_neighbours": 20})
    if with_models:
        _keras_models(folder)
    else:
        for relative in (paths.autoencoder_model("image"), paths.autoencoder_model("audio"),
                         paths.brain_model("image_to_audio"), paths.brain_model("audio_to_image")):
            (folder / relative).write_bytes(b"")
    return folder


def rewrite_json(path: Path, change) -> None:
    """``change(content)`` applied to a JSON piece, written as a new file (never through a link)."""
    content = json.loads(path.read_text())
    change(content)
    path.unlink()
    path.write_text(json.dumps(content))
