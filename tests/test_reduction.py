"""How codes are reduced before clustering: the exact neighbours UMAP may be given, and when."""

import numpy as np

from digit_concepts.concepts import reduction
from digit_concepts.concepts.reduction import UmapFitting


def test_exact_neighbours_are_every_distance_itself_first():
    codes = np.random.default_rng(0).normal(size=(300, 5))
    indices, distances = reduction.exact_neighbours(codes, 7)
    every = np.sqrt(((codes[:, None, :] - codes[None, :, :]) ** 2).sum(axis=2))
    np.testing.assert_array_equal(indices[:, 0], np.arange(300))  # itself, at distance 0
    np.testing.assert_array_equal(indices, np.argsort(every, axis=1, kind="stable")[:, :7])
    np.testing.assert_allclose(distances, np.sort(every, axis=1)[:, :7], rtol=1e-6, atol=1e-6)
    assert distances.dtype == np.float32 and indices.shape == (300, 7)


def test_umap_is_given_exact_neighbours_only_where_asked_large_and_its_transform_unneeded():
    large = np.random.default_rng(1).normal(size=(reduction.UMAP_EXACT_BELOW, 3))
    small = large[:100]

    def given(codes, fitting, keep_umap=False):
        return reduction._umap(codes, 2, 5, 0, keep_umap, fitting).precomputed_knn[0] is not None

    exact = UmapFitting(epochs=50, neighbour_search="exact")
    assert given(large, exact)
    assert not given(large, UmapFitting(epochs=50, neighbour_search="approximate"))
    assert not given(small, exact)  # UMAP computes every distance itself below UMAP_EXACT_BELOW
    assert not given(large, exact, keep_umap=True)  # its transform needs its own index
    assert reduction._umap(small, 2, 5, 0, False, exact).n_epochs == 50
    assert reduction._umap(small, 2, 5, 0, False, UmapFitting()).n_epochs is None  # UMAP's default
