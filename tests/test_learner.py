"""The fitted learner survives saving as plain arrays: a restored sense model places codes exactly as
the fitted one did (what makes the tool reproduce the pipeline's test assignments)."""

import numpy as np

from digit_concepts.concepts import clustering
from digit_concepts.core import storage
from digit_concepts.core.params import ClusteringSettings
from digit_concepts.core.standardisation import Standardiser


def blobs(rng, count, dimensions=6, offset=0.0):
    centres = np.eye(3, dimensions) * 8.0
    labels = np.tile(np.arange(3), count // 3)
    return centres[labels] + offset + rng.normal(size=(len(labels), dimensions)), labels


def restored(model: clustering.SenseModel, reduction: str, tmp_path) -> clustering.SenseModel:
    storage.write_npz(tmp_path / "learner.npz", **model.arrays("sense"))
    arrays = storage.read_npz(tmp_path / "learner.npz")  # allow_pickle=False
    return clustering.SenseModel.from_arrays(arrays, "sense", reduction)


def test_standardiser_is_fitted_on_train_only():
    rng = np.random.default_rng(0)
    train, test = rng.normal(5.0, 2.0, (500, 3)), rng.normal(9.0, 1.0, (50, 3))
    standardiser = Standardiser.fit(train)
    np.testing.assert_allclose(standardiser.apply(train).mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(standardiser.apply(test), (test - train.mean(axis=0)) / (train.std(axis=0) + 1e-8))
    again = Standardiser.from_arrays(standardiser.arrays("s"), "s")
    np.testing.assert_array_equal(again.apply(test), standardiser.apply(test))


def test_paired_codes_use_train_statistics_for_every_split():
    rng = np.random.default_rng(1)
    image = {"train": rng.normal(size=(20, 2)), "test": rng.normal(3.0, 1.0, (10, 2))}
    sound = {"train": rng.normal(size=(8, 3)), "test": rng.normal(size=(4, 3))}
    index = {"train": np.arange(20) % 8, "test": np.arange(10) % 4}
    joint = clustering.paired_codes(image, sound, {"train": np.arange(20), "test": np.arange(10)}, index)
    assert joint["train"].shape == (20, 5) and joint["test"].shape == (10, 5)
    assert joint["test"][:, :2].mean() > 2.0  # shifted test codes stay shifted (not re-centred on themselves)


def test_pca_kmeans_model_restores_exactly(tmp_path):
    rng = np.random.default_rng(2)
    (train, _), (test, _) = blobs(rng, 90), blobs(rng, 30)
    settings = ClusteringSettings(reduction="pca", reduced_dim=3, umap_neighbors=5, algorithm="kmeans", k=3,
                                  k_selection="fixed", k_range=[2, 4])
    result = clustering.cluster_codes(train_codes=train, test_codes=test, settings=settings, sample=50, seed=0)
    again = restored(result.model, "pca", tmp_path)
    np.testing.assert_array_equal(again.log_posteriors(test), result.test_log_posteriors)


def test_umap_concepts_reach_new_codes_by_a_saved_neighbour_vote(tmp_path):
    rng = np.random.default_rng(3)
    (train, _), (test, truth) = blobs(rng, 150), blobs(rng, 30)
    settings = ClusteringSettings(reduction="umap", reduced_dim=2, umap_neighbors=10, algorithm="gmm", k=3,
                                  k_selection="fixed", k_range=[2, 4])
    result = clustering.cluster_codes(train_codes=train, test_codes=test, settings=settings, sample=50, seed=0,
                                      transform_neighbours=5)
    assert result.model.vote is not None and result.model.reduction.umap is None
    assert len(set(zip(result.test_assignments, truth))) == 3  # blobs stay whole
    again = restored(result.model, "umap", tmp_path)
    np.testing.assert_array_equal(again.log_posteriors(test), result.test_log_posteriors)
    one_by_one = np.concatenate([again.log_posteriors(code[None]) for code in test])
    np.testing.assert_array_equal(one_by_one, result.test_log_posteriors)  # alone or in a batch
    assert result.test_features.shape == (len(test), 2)  # manifold positions, for the silhouette


def test_gmm_restores_exactly(tmp_path):
    rng = np.random.default_rng(4)
    (train, _), (test, _) = blobs(rng, 90), blobs(rng, 30)
    fitted = clustering.fit(train, "gmm", 3, seed=0)
    storage.write_npz(tmp_path / "c.npz", **fitted.arrays("c"))
    again = clustering.Clustering.from_arrays(storage.read_npz(tmp_path / "c.npz"), "c")
    np.testing.assert_array_equal(again.log_posteriors(test), fitted.log_posteriors(test))


def test_a_small_batch_is_predicted_exactly_as_keras_predict_does():
    """learner.predicted skips predict's set-up for one batch (the try-it page's per-stroke cost)
    and must give the same numbers, bit for bit; a larger input still goes through predict."""
    from digit_concepts.core import runtime
    from digit_concepts.tool.learner import predicted

    keras = runtime.keras_with_seed(0)
    inputs = keras.Input((12,))
    hidden = keras.layers.Dense(64, activation="relu")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(5, activation="sigmoid")(hidden))
    samples = np.random.default_rng(5).normal(size=(70, 12)).astype(np.float32)
    for count in (1, 7, 32):
        np.testing.assert_array_equal(predicted(model, samples[:count], 32),
                                      model.predict(samples[:count], batch_size=32, verbose=0))
    np.testing.assert_array_equal(predicted(model, samples, 32), model.predict(samples, batch_size=32, verbose=0))
