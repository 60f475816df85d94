"""Reductions of standardised codes before clustering (none, PCA, a UMAP manifold), and how new
codes reach the concepts found on a manifold (``NeighbourVote``). All fitted on train codes and
kept as plain arrays (npz, no pickle).
"""

import functools
import sys
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
from sklearn.decomposition import PCA


@dataclass
class NeighbourVote:
    """How a new code joins the concepts found on a UMAP manifold: by the concepts of its nearest
    train codes (in the standardised code space), each vote weighted by 1 / distance.

    UMAP itself cannot be saved without pickle; this needs only the train codes and their
    concepts, so the tool reproduces the pipeline's test assignments exactly. It names MNIST test
    images as well as UMAP's own transform followed by the mixture (0.972 against 0.970 ACC at
    k = 15), while the mean manifold position of the same neighbours, followed by the mixture,
    loses 1.4 points (docs/cli.md, "The neighbour vote").

    The nearest train codes are exact, and a sample gets the same answer alone or among 10,000:
    a float32 matrix product only shortlists each query's ``k + SHORTLIST_MARGIN`` nearest
    candidates; their distances are then computed one query at a time in float64 (no shared
    rounding), and a query whose shortlist could have missed a nearer code (its boundary within
    the float32 error of its k-th distance) is answered against every train code. 3.5x faster
    than the k-d tree it replaced (10,000 queries among 50,000 codes: 2.8 s against 9.9 s), with
    the same neighbours; the shortlist is a compiled bounded heap (``_shortlist_kernel``).
    """

    train_inputs: np.ndarray  # standardised train codes
    train_concepts: np.ndarray
    n_concepts: int
    k: int

    def nearest(self, standardised: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Distances and indices of each row's ``k`` nearest train codes (exact, Euclidean; ties
        go to the lower index)."""
        train = np.asarray(self.train_inputs, dtype=np.float64)
        queries = np.asarray(standardised, dtype=np.float64)
        k = min(self.k, len(train))
        train_32 = train.astype(np.float32)
        norms_32 = np.einsum("ij,ij->i", train_32, train_32)
        blocks = [queries[start:start + QUERY_BLOCK] for start in range(0, len(queries), QUERY_BLOCK)]
        # Blocks are answered on their own, so answering them side by side changes nothing; the
        # product and argpartition release the GIL.
        with ThreadPoolExecutor(QUERY_THREADS) as pool:
            answers = list(pool.map(lambda block: _nearest_block(train, train_32, norms_32, block, k), blocks))
        if not answers:
            return np.empty((0, k)), np.empty((0, k), dtype=np.int64)
        return np.concatenate([distances for distances, _ in answers]), np.concatenate([indices for _, indices in answers])

    def log_posteriors_of(self, distances: np.ndarray, indices: np.ndarray) -> np.ndarray:
        weights = 1.0 / np.maximum(distances, 1e-12)
        votes = np.zeros((len(indices), self.n_concepts))
        np.add.at(votes, (np.repeat(np.arange(len(indices)), indices.shape[1]), self.train_concepts[indices].ravel()),
                  weights.ravel())
        shares = votes / votes.sum(axis=1, keepdims=True)
        return np.log(np.maximum(shares, np.finfo(np.float64).tiny))

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        return {f"{prefix}_train_inputs": self.train_inputs, f"{prefix}_train_concepts": self.train_concepts,
                f"{prefix}_n_concepts": np.array(self.n_concepts), f"{prefix}_k": np.array(self.k)}

    @classmethod
    def from_arrays(cls, arrays: dict, prefix: str) -> "NeighbourVote":
        return cls(np.asarray(arrays[f"{prefix}_train_inputs"]), np.asarray(arrays[f"{prefix}_train_concepts"]),
                   int(arrays[f"{prefix}_n_concepts"]), int(arrays[f"{prefix}_k"]))


SHORTLIST_MARGIN = 32  # candidates beyond k per query, from the float32 product
QUERY_BLOCK = 64  # queries per matrix product (measured fastest on 2 cores among 16-512)
QUERY_THREADS = 2  # blocks answered at once: the two cores the pipeline is built for


def _exact(train: np.ndarray, query_rows: np.ndarray, candidates: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k nearest among each row's candidates, distances in float64 row by row."""
    differences = train[candidates] - query_rows[:, None, :]
    distances = np.sqrt(np.sum(differences * differences, axis=2))
    order = np.lexsort((candidates, distances), axis=1)[:, :k]
    return np.take_along_axis(distances, order, axis=1), np.take_along_axis(candidates, order, axis=1)


def _nearest_block(train: np.ndarray, train_32: np.ndarray, norms_32: np.ndarray, queries: np.ndarray,
                   k: int) -> tuple[np.ndarray, np.ndarray]:
    count = min(len(train), k + SHORTLIST_MARGIN)
    if count == len(train):
        return _exact(train, queries, np.broadcast_to(np.arange(len(train)), (len(queries), len(train))), k)
    queries_32 = queries.astype(np.float32)
    # |q - t|^2 - |q|^2 in float32: enough to shortlist (the boundary check below makes it exact).
    candidates = np.empty((len(queries), count), dtype=np.int64)
    boundary = np.empty(len(queries), dtype=np.float32)  # the largest value kept
    _shortlist_kernel()(norms_32, queries_32 @ train_32.T, candidates, boundary)
    distances, indices = _exact(train, queries, candidates, k)
    # Every code left out is at least the shortlist's boundary away, up to float32 error: where
    # that bound does not clear the k-th distance, the query is answered against all codes.
    squared_norms = np.einsum("ij,ij->i", queries, queries)
    error = 1e-5 * (squared_norms + norms_32.max()) + 1e-6
    unsure = np.flatnonzero(boundary + squared_norms - error <= distances[:, -1] ** 2)
    if unsure.size:
        everything = np.broadcast_to(np.arange(len(train)), (unsure.size, len(train)))
        distances[unsure], indices[unsure] = _exact(train, queries[unsure], everything, k)
    return distances, indices


@functools.cache
def _shortlist_kernel():
    """``kernel(norms, products, candidates, boundary)``: for each row of ``norms - 2 products``
    (float32, as numpy computes it), the columns of its ``candidates.shape[1]`` smallest values (in
    no order) and the largest of them. A bounded max-heap that most values pass by at one
    comparison: about 5x faster than ``np.argpartition``, which reorders every row. Which of equal
    values at the boundary are kept may differ from argpartition's; the answer does not, as the
    exact distances and the boundary check decide it. Compiled once by numba and cached."""
    import numba

    @numba.njit(cache=True, nogil=True)
    def kernel(norms, products, candidates, boundary):  # pragma: no cover - compiled
        count, two = candidates.shape[1], np.float32(2.0)
        heap = np.empty(count, dtype=np.float32)
        where = np.empty(count, dtype=np.int64)
        for row in range(products.shape[0]):
            for column in range(count):  # the first values, sifted up into the heap
                value, child = norms[column] - two * products[row, column], column
                while child > 0 and heap[(child - 1) // 2] < value:
                    heap[child], where[child] = heap[(child - 1) // 2], where[(child - 1) // 2]
                    child = (child - 1) // 2
                heap[child], where[child] = value, column
            for column in range(count, products.shape[1]):
                value = norms[column] - two * products[row, column]
                if value >= heap[0]:
                    continue
                parent = 0  # the largest replaced, the value sifted down
                while True:
                    larger = 2 * parent + 1
                    if larger >= count:
                        break
                    if larger + 1 < count and heap[larger + 1] > heap[larger]:
                        larger += 1
                    if heap[larger] <= value:
                        break
                    heap[parent], where[parent] = heap[larger], where[larger]
                    parent = larger
                heap[parent], where[parent] = value, column
            boundary[row] = heap[0]
            candidates[row, :] = where

    return kernel


@dataclass
class Reduction:
    """A fitted reduction of standardised codes: none, PCA or a UMAP manifold (``train``: the
    reduced train codes). UMAP's own transform is kept only where nothing is saved (the
    scored-only audio-alone reference); the learner places new codes with ``NeighbourVote``."""

    method: str
    train: np.ndarray
    components: np.ndarray | None = None  # PCA: projection rows and the centre they are taken from
    centre: np.ndarray | None = None
    umap: object = field(default=None, repr=False)

    def transform(self, features: np.ndarray) -> np.ndarray:
        features = np.asarray(features, dtype=np.float64)
        if self.method == "none":
            return features
        if self.method == "pca":  # exactly as sklearn's PCA.transform computes it (project, then centre)
            return features @ self.components.T - self.centre.reshape(1, -1) @ self.components.T
        if self.umap is None:
            raise ValueError("UMAP's own transform was not kept: new codes are placed by NeighbourVote")
        return self.umap.transform(features).astype(np.float64)

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        if self.method == "pca":
            return {f"{prefix}_components": self.components, f"{prefix}_centre": self.centre}
        return {}  # none; or UMAP, whose new codes go through NeighbourVote

    @classmethod
    def from_arrays(cls, arrays: dict, prefix: str, method: str) -> "Reduction":
        if method == "pca":
            return cls("pca", np.zeros((0, 0)), np.asarray(arrays[f"{prefix}_components"]),
                       np.asarray(arrays[f"{prefix}_centre"]))
        return cls(method, np.zeros((0, 0)))


@dataclass(frozen=True)
class UmapFitting:
    """How a UMAP manifold is fitted (params ``cluster.umap_epochs``, ``cluster.umap_neighbour_search``;
    these defaults are UMAP's own, for unit tests)."""

    epochs: int = 0  # 0: UMAP's default (200 above 10,000 codes, 500 below)
    neighbour_search: str = "approximate"


UMAP_EXACT_BELOW = 4096  # codes below which UMAP computes every distance itself (umap-learn's small-data path)


def exact_neighbours(codes: np.ndarray, neighbours: int) -> tuple[np.ndarray, np.ndarray]:
    """(indices, distances) of each code's ``neighbours`` nearest codes, itself first (distance 0),
    as UMAP's ``precomputed_knn`` takes them: every distance, by ``NeighbourVote``'s exact search."""
    vote = NeighbourVote(codes, np.zeros(len(codes), dtype=np.int64), 1, neighbours)
    distances, indices = vote.nearest(codes)
    return indices, distances.astype(np.float32)


@functools.cache
def _compiled_once_per_machine() -> int:
    """Keep umap's compiled functions on disk (numba's cache, beside umap's own files): umap does
    not ask for it, so every process compiled them anew, about 10 s each (the cluster stage has two
    processes). The cached machine code is the code compiled; a process that finds it loads it in
    a fraction of a second, with the same results. Returns how many functions are cached."""
    import umap.distances
    import umap.layouts
    import umap.spectral
    import umap.umap_
    import umap.utils
    from numba.core.registry import CPUDispatcher

    count = 0
    for module in (umap.umap_, umap.layouts, umap.utils, umap.spectral, umap.distances):
        for value in vars(module).values():
            if isinstance(value, CPUDispatcher) and value.py_func.__module__ == module.__name__:
                try:
                    value.enable_caching()
                except RuntimeError:  # nowhere writable to cache (a read-only install): compiled as before
                    continue
                count += 1
    return count


def _umap(train: np.ndarray, dimensions: int, neighbors: int, seed: int, keep_umap: bool, fitting: UmapFitting):
    from digit_concepts.core.runtime import silenced_stderr

    # umap's package imports ParametricUMAP, which imports TensorFlow (4 s and about 470 MiB in a
    # process that needs no TensorFlow, such as the cluster stage's second one); it is never used
    # here, so its import is made to fail, which umap expects (TensorFlow not installed).
    sys.modules.setdefault("umap.parametric_umap", None)
    with silenced_stderr(), warnings.catch_warnings():  # slow to import (numba); its warning says the above
        warnings.simplefilter("ignore", ImportWarning)
        import umap

    _compiled_once_per_machine()
    neighbors = min(neighbors, len(train) - 1)
    # NN-descent is compiled anew in every process (about 30 s); exact neighbours need none, but no
    # index for UMAP's own transform, which keep_umap needs.
    precomputed = None
    if fitting.neighbour_search == "exact" and not keep_umap and len(train) >= UMAP_EXACT_BELOW:
        precomputed = (*exact_neighbours(train, neighbors), None)
    return umap.UMAP(n_components=dimensions, n_neighbors=neighbors, min_dist=0.0, random_state=seed, n_jobs=1,
                     verbose=False, n_epochs=fitting.epochs or None, precomputed_knn=precomputed or (None, None, None))


def reduce(train: np.ndarray, method: str, dimensions: int, neighbors: int, seed: int,
           keep_umap: bool = True, umap_fitting: UmapFitting = UmapFitting()) -> Reduction:
    """Fit a reduction on the (standardised) train codes; ``keep_umap``: keep UMAP for its transform."""
    if method == "none":
        return Reduction("none", train)
    dimensions = min(dimensions, train.shape[1], len(train) - 1)
    if method == "pca":
        fitted = PCA(dimensions, random_state=seed).fit(train)
        reduction = Reduction("pca", train, fitted.components_, fitted.mean_)
        reduction.train = reduction.transform(train)
        return reduction
    if method == "umap":
        # N2D: clusters separate far better on a UMAP manifold of the codes than in the codes.
        started = time.perf_counter()
        reducer = _umap(train, dimensions, neighbors, seed, keep_umap, umap_fitting)
        embedding = reducer.fit_transform(train).astype(np.float64)
        print(f"  UMAP fit ({len(train)} x {train.shape[1]} -> {dimensions}): {time.perf_counter() - started:.1f} s",
              flush=True)
        return Reduction("umap", embedding, umap=reducer if keep_umap else None)
    raise ValueError(f"reduction: got {method!r}, must be none, pca or umap")
