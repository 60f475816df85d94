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


def test_the_shortlist_keeps_each_rows_smallest_values_and_names_the_largest_kept():
    rng = np.random.default_rng(2)
    norms = rng.normal(size=500).astype(np.float32)
    products = rng.normal(size=(40, 500)).astype(np.float32)
    products[:, 100:140] = products[:, :40]  # equal values, some at the boundary
    candidates, boundary = np.empty((40, 25), dtype=np.int64), np.empty(40, dtype=np.float32)
    reduction._shortlist_kernel()(norms, products, candidates, boundary)
    values = norms[None, :] - 2.0 * products  # what numpy computes, to the bit
    kept = np.take_along_axis(values, candidates, axis=1)
    np.testing.assert_array_equal(np.sort(kept, axis=1), np.sort(values, axis=1)[:, :25])
    np.testing.assert_array_equal(boundary, kept.max(axis=1))
    assert all(len(set(row)) == 25 for row in candidates.tolist())


def test_the_vote_finds_exactly_the_nearest_codes_among_many_even_with_duplicates():
    rng = np.random.default_rng(3)
    train = rng.normal(size=(3000, 8))
    train[1500:1600] = train[:100]  # duplicates: ties go to the lower index
    queries = np.concatenate([rng.normal(size=(200, 8)), train[:50]])
    vote = reduction.NeighbourVote(train, np.zeros(3000, dtype=np.int64), 1, 12)
    distances, indices = vote.nearest(queries)
    every = np.sqrt(((queries[:, None, :] - train[None, :, :]) ** 2).sum(axis=2))
    np.testing.assert_array_equal(indices, np.argsort(every, axis=1, kind="stable")[:, :12])
    np.testing.assert_allclose(distances, np.sort(every, axis=1)[:, :12], rtol=1e-12, atol=1e-12)


def test_umap_comes_without_tensorflow():
    import subprocess
    import sys

    script = ("import sys, numpy as np\n"
              "from digit_concepts.concepts import reduction\n"
              "reduction._umap(np.zeros((20, 3)), 2, 5, 0, False, reduction.UmapFitting())\n"
              "print('tensorflow' in sys.modules, 'umap' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "True"]


def test_umap_keeps_its_compiled_functions_on_disk():
    from numba.core.caching import NullCache

    reduction._umap(np.zeros((20, 3)), 2, 5, 0, False, reduction.UmapFitting())
    import umap.layouts

    assert reduction._compiled_once_per_machine() > 10
    assert not isinstance(umap.layouts._nb_optimize_layout_euclidean_single_epoch._cache, NullCache)
