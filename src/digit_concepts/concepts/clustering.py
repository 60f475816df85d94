"""Discover concepts: cluster one sense's codes (optionally on a reduced manifold), pick k, posteriors.

Never sees labels: fitted on the train split's codes, applied to the test split. Everything
fitted (standardiser, reduction, clusters) is kept as plain arrays (``SenseModel.arrays``), so
a new sample can be placed later exactly as the test split was (``learner.py``).
"""

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from scipy.special import log_softmax
from sklearn.cluster import AgglomerativeClustering, KMeans
from sklearn.metrics import silhouette_score
from sklearn.mixture import GaussianMixture

from digit_concepts.concepts.reduction import NeighbourVote, Reduction, UmapFitting, reduce
from digit_concepts.core.params import ClusteringSettings, ClusterSettings
from digit_concepts.core.standardisation import Standardiser

TRIAL_THREADS = 2  # candidate k fitted at once: the two cores the pipeline is built for
AGGLOMERATIVE_MAX_SAMPLES = 6000  # ward linkage is quadratic in memory: fit on a seeded subsample


@dataclass(frozen=True)
class Fitting:
    """Restarts and regularisation of the clusterers (params.yaml ``cluster``; these defaults are
    for unit tests).

    ``gmm_restart_choice``: which of a mixture's restarts is kept. ``likelihood``: the best fit of
    the codes (sklearn's ``n_init``). ``cooccurrence``: when k is chosen by co-occurrence, each
    restart is scored as every k is, and the best restart of the best k is kept. A mixture can fit
    the codes best by merging two digits and splitting another; such concepts fit the other sense
    worse, which the co-occurrence score sees and the likelihood does not (docs/experiments.md,
    "Which restart of the image mixture").
    """

    gmm_restarts: int = 3
    gmm_reg_covar: float = 1e-4
    kmeans_restarts: int = 4
    gmm_restart_choice: str = "likelihood"
    umap: UmapFitting = UmapFitting()

    @classmethod
    def from_params(cls, cluster: ClusterSettings) -> "Fitting":
        return cls(cluster.gmm_restarts, cluster.gmm_reg_covar, cluster.kmeans_restarts, cluster.gmm_restart_choice,
                   UmapFitting(cluster.umap_epochs, cluster.umap_neighbour_search))


@dataclass
class Clustering:
    """A fitted clustering: centres in the clustered space and, for GMM, the mixture itself."""

    centres: np.ndarray
    spread: float  # shared variance that turns centre distances into posteriors
    mixture: GaussianMixture | None = None

    def posteriors(self, features: np.ndarray) -> np.ndarray:
        if self.mixture is not None:
            return self.mixture.predict_proba(features)
        return np.exp(self.log_posteriors(features))

    def log_posteriors(self, features: np.ndarray) -> np.ndarray:
        """Log cluster posteriors (kept in logs so that a later temperature can still soften them)."""
        if self.mixture is not None:
            return np.log(np.maximum(self.mixture.predict_proba(features), np.finfo(np.float64).tiny))
        # k-means is the equal-variance limit of a Gaussian mixture: use that mixture's posteriors.
        return self._log_posteriors_from(self._squared_distances(features))

    def _squared_distances(self, features: np.ndarray) -> np.ndarray:
        return ((features[:, None, :] - self.centres[None, :, :]) ** 2).sum(axis=2)

    def _log_posteriors_from(self, squared_distances: np.ndarray) -> np.ndarray:
        return log_softmax(-squared_distances / (2.0 * self.spread), axis=1)

    def assign(self, features: np.ndarray) -> np.ndarray:
        return self.posteriors(features).argmax(axis=1)

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        """Plain arrays (no pickle) that ``from_arrays`` turns back into the same clustering."""
        if self.mixture is None:
            return {f"{prefix}_centres": self.centres, f"{prefix}_spread": np.array(self.spread)}
        mixture = self.mixture
        return {f"{prefix}_weights": mixture.weights_, f"{prefix}_means": mixture.means_,
                f"{prefix}_covariances": mixture.covariances_,
                f"{prefix}_precisions_cholesky": mixture.precisions_cholesky_}

    @classmethod
    def from_arrays(cls, arrays: dict, prefix: str) -> "Clustering":
        if f"{prefix}_centres" in arrays:
            return cls(np.asarray(arrays[f"{prefix}_centres"]), float(arrays[f"{prefix}_spread"]))
        means = np.asarray(arrays[f"{prefix}_means"])
        # A full-covariance mixture predicts from these four fitted attributes alone.
        mixture = GaussianMixture(len(means), covariance_type="full")
        mixture.weights_, mixture.means_ = np.asarray(arrays[f"{prefix}_weights"]), means
        mixture.covariances_ = np.asarray(arrays[f"{prefix}_covariances"])
        mixture.precisions_cholesky_ = np.asarray(arrays[f"{prefix}_precisions_cholesky"])
        mixture.n_features_in_ = means.shape[1]
        return cls(means, 1.0, mixture)


def fit(features: np.ndarray, algorithm: str, k: int, seed: int, fitting: Fitting = Fitting()) -> Clustering:
    """Fit ``k`` clusters with k-means, a full-covariance Gaussian mixture or Ward agglomeration."""
    if k > len(features):
        raise ValueError(f"cannot make {k} clusters from {len(features)} samples")
    if algorithm == "gmm":
        mixture = GaussianMixture(k, covariance_type="full", n_init=fitting.gmm_restarts, reg_covar=fitting.gmm_reg_covar,
                                  random_state=seed).fit(features)
        return Clustering(mixture.means_, 1.0, mixture)
    if algorithm == "kmeans":
        model = KMeans(k, n_init=fitting.kmeans_restarts, random_state=seed).fit(features)
        labels = model.labels_
    elif algorithm == "agglomerative":
        rng = np.random.default_rng(seed)
        subset = features[rng.permutation(len(features))[:AGGLOMERATIVE_MAX_SAMPLES]]
        labels = AgglomerativeClustering(k, linkage="ward").fit_predict(subset)
        features = subset
    else:
        raise ValueError(f"algorithm: got {algorithm!r}, must be kmeans, gmm or agglomerative")
    centres = np.stack([features[labels == cluster].mean(axis=0) for cluster in range(k)])
    spread = float(((features - centres[labels]) ** 2).sum(axis=1).mean() / features.shape[1])
    return Clustering(centres, max(spread, 1e-8))


def restart_seeds(seed: int, restarts: int) -> list[int]:
    """One seed per restart, drawn from ``seed`` (a restart's seed does not depend on how many there are)."""
    return [int(child.generate_state(1)[0]) for child in np.random.SeedSequence(seed).spawn(restarts)]


def fit_options(features: np.ndarray, algorithm: str, k: int, seed: int, fitting: Fitting,
                criterion: str) -> list[Clustering]:
    """The fits among which the criterion chooses at this k: every restart of a mixture on its own
    (``gmm_restart_choice`` cooccurrence, k chosen by co-occurrence), else the one ``fit``."""
    if algorithm == "gmm" and criterion == "cooccurrence" and fitting.gmm_restart_choice == "cooccurrence":
        single = Fitting(1, fitting.gmm_reg_covar, fitting.kmeans_restarts, fitting.gmm_restart_choice, fitting.umap)
        return [fit(features, algorithm, k, restart_seed, single) for restart_seed in restart_seeds(seed, fitting.gmm_restarts)]
    return [fit(features, algorithm, k, seed, fitting)]


def selection_score(features: np.ndarray, clustering: Clustering, algorithm: str, criterion: str,
                    sample: int, seed: int, partner_score=None) -> float:
    """Higher is better: negative BIC (GMM only), silhouette on a seeded subsample, or, for
    ``cooccurrence``, ``partner_score(assignments)`` (how well the concepts fit the other sense)."""
    if criterion == "bic":
        if algorithm != "gmm":
            raise ValueError(f"k_selection bic needs algorithm gmm, got {algorithm}")
        return -float(clustering.mixture.bic(features))
    assignments = clustering.assign(features)
    if criterion == "cooccurrence":
        if partner_score is None:
            raise ValueError("k_selection cooccurrence needs the other sense's clusters (image only)")
        return float(partner_score(assignments))
    if len(np.unique(assignments)) < 2:
        return -1.0
    return float(silhouette_score(features, assignments, sample_size=min(sample, len(features)), random_state=seed))


def discover(features: np.ndarray, algorithm: str, k: int, criterion: str, k_range: list[int],
             sample: int, seed: int, partner_score=None,
             fitting: Fitting = Fitting()) -> tuple[Clustering, list[tuple[int, float]]]:
    """Fit at the given k (criterion fixed) or at the k in ``k_range`` that the criterion prefers."""
    if criterion == "fixed":
        started = time.perf_counter()
        clustering = fit(features, algorithm, k, seed, fitting)
        print(f"  {algorithm} k={k} ({len(features)} x {features.shape[1]}): {time.perf_counter() - started:.1f} s",
              flush=True)
        return clustering, []
    def trial(candidate: int) -> tuple[list[Clustering], list[float], float]:
        started = time.perf_counter()
        options = fit_options(features, algorithm, candidate, seed, fitting, criterion)
        scores = [selection_score(features, option, algorithm, criterion, sample, seed, partner_score)
                  for option in options]
        return options, scores, time.perf_counter() - started

    # The candidates are fitted side by side: each fit is seeded on its own, so the results are
    # the same as one after another (most of a fit is numpy, which lets the other thread run).
    candidates = list(range(k_range[0], k_range[1] + 1))
    with ThreadPoolExecutor(max_workers=TRIAL_THREADS) as pool:
        results = list(pool.map(trial, candidates))
    trials = []
    for candidate, (options, scores, seconds) in zip(candidates, results):
        best = int(np.argmax(scores))  # the first of equal scores
        restarts = f" (restarts {' '.join(f'{score:.4f}' for score in scores)})" if len(options) > 1 else ""
        print(f"  {algorithm} k={candidate}: {criterion} score {scores[best]:.4f}{restarts}, {seconds:.1f} s",
              flush=True)
        trials.append((candidate, scores[best], options[best]))
    best = max(trials, key=lambda trial: trial[1])
    return best[2], [(candidate, score) for candidate, score, _ in trials]


def concept_gaussians(codes: np.ndarray, assignments: np.ndarray, n_clusters: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of each cluster's members in the latent space (for generation)."""
    dimensions = codes.shape[1]
    means = np.zeros((n_clusters, dimensions))
    covariances = np.tile(np.eye(dimensions), (n_clusters, 1, 1)) * 1e-3
    for cluster in range(n_clusters):
        members = codes[assignments == cluster]
        if len(members):
            means[cluster] = members.mean(axis=0)
        if len(members) > 1:
            covariances[cluster] = np.cov(members, rowvar=False) + 1e-6 * np.eye(dimensions)
    return means, covariances


@dataclass
class SenseModel:
    """One sense's fitted path from codes to concepts: standardise, reduce, cluster; or, on a UMAP
    manifold, standardise and vote among the nearest train codes (``NeighbourVote``)."""

    standardiser: Standardiser
    reduction: Reduction
    clustering: Clustering
    vote: NeighbourVote | None = None

    def place(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """New codes' features in the clustered space (a UMAP point: its neighbours' mean position)
        and their log concept posteriors."""
        standardised = self.standardiser.apply(codes)
        if self.vote is None:
            features = self.reduction.transform(standardised)
            return features, self.clustering.log_posteriors(features)
        distances, indices = self.vote.nearest(standardised)
        return self.reduction.train[indices].mean(axis=1), self.vote.log_posteriors_of(distances, indices)

    def log_posteriors(self, codes: np.ndarray) -> np.ndarray:
        """What the tool uses: the same posteriors as ``place``, without the manifold position."""
        standardised = self.standardiser.apply(codes)
        if self.vote is None:
            return self.clustering.log_posteriors(self.reduction.transform(standardised))
        return self.vote.log_posteriors_of(*self.vote.nearest(standardised))

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        arrays = {**self.standardiser.arrays(f"{prefix}_standardiser"), **self.reduction.arrays(f"{prefix}_reduction"),
                  **self.clustering.arrays(f"{prefix}_clusters")}
        return {**arrays, **self.vote.arrays(f"{prefix}_vote")} if self.vote is not None else arrays

    @classmethod
    def from_arrays(cls, arrays: dict, prefix: str, reduction: str) -> "SenseModel":
        vote = NeighbourVote.from_arrays(arrays, f"{prefix}_vote") if f"{prefix}_vote_k" in arrays else None
        return cls(Standardiser.from_arrays(arrays, f"{prefix}_standardiser"),
                   Reduction.from_arrays(arrays, f"{prefix}_reduction", reduction),
                   Clustering.from_arrays(arrays, f"{prefix}_clusters"), vote)


@dataclass
class SenseClusters:
    """Everything the cluster stage keeps for one sense (or the joint space)."""

    train_posteriors: np.ndarray
    test_log_posteriors: np.ndarray
    test_features: np.ndarray  # the clustered space, for silhouette
    trials: list[tuple[int, float]]
    model: SenseModel | None = None

    @property
    def train_assignments(self) -> np.ndarray:
        return self.train_posteriors.argmax(axis=1)

    @property
    def test_assignments(self) -> np.ndarray:
        return self.test_log_posteriors.argmax(axis=1)


def cluster_codes(*, train_codes: np.ndarray, test_codes: np.ndarray, settings: ClusteringSettings, sample: int,
                  seed: int, partner_score=None, fitting: Fitting = Fitting(),
                  transform_neighbours: int = 0) -> SenseClusters:
    """Standardise, reduce, pick k and cluster the train codes as ``settings`` say; apply all of it
    to the test codes.

    The test codes go through ``SenseModel.log_posteriors``, the very path a new sample takes.
    ``transform_neighbours`` > 0: new codes join the concepts of a UMAP manifold by ``NeighbourVote``
    (saveable); 0: through UMAP's own transform and the clusters (not saveable).
    """
    standardiser = Standardiser.fit(train_codes)
    train = standardiser.apply(train_codes)
    by_vote = settings.reduction == "umap" and transform_neighbours > 0
    reduction = reduce(train, settings.reduction, settings.reduced_dim, settings.umap_neighbors, seed,
                       keep_umap=not by_vote, umap_fitting=fitting.umap)
    clustering, trials = discover(reduction.train, settings.algorithm, settings.k, settings.k_selection,
                                  settings.k_range, sample, seed, partner_score, fitting)
    train_posteriors = clustering.posteriors(reduction.train)
    vote = (NeighbourVote(train, train_posteriors.argmax(axis=1), train_posteriors.shape[1], transform_neighbours)
            if by_vote else None)
    model = SenseModel(standardiser, reduction, clustering, vote)
    started = time.perf_counter()
    test_features, test_log_posteriors = model.place(test_codes)
    if by_vote:
        print(f"  {len(test_codes)} test codes placed by their {transform_neighbours} nearest train codes: "
              f"{time.perf_counter() - started:.1f} s", flush=True)
    return SenseClusters(train_posteriors, test_log_posteriors,
                         test_features, trials, model)


def paired_codes(image_codes: dict, audio_codes: dict, image_index: dict,
                 audio_index: dict) -> dict[str, np.ndarray]:
    """The joint view of episodes, per split: both senses' codes side by side, each standardised
    with its own sense's train statistics. Arguments are dicts keyed by split (train, test)."""
    image, sound = Standardiser.fit(image_codes["train"]), Standardiser.fit(audio_codes["train"])
    return {split: np.concatenate([image.apply(image_codes[split])[image_index[split]],
                                   sound.apply(audio_codes[split])[audio_index[split]]], axis=1)
            for split in image_codes}


def gaussian_log_posteriors(codes: np.ndarray, means: np.ndarray, covariances: np.ndarray,
                            sizes: np.ndarray) -> np.ndarray:
    """Log concept posteriors from each concept's Gaussian in the latent space, weighted by its size.

    Calibrated where manifold posteriors are not: a UMAP embedding pulls clusters so far apart
    that a mixture fitted there is ~100% sure even of its mistakes.
    """
    from scipy.stats import multivariate_normal

    # atleast_1d: logpdf of a single code is a scalar.
    log_likelihoods = np.stack([np.atleast_1d(multivariate_normal(mean, covariance, allow_singular=True).logpdf(codes))
                                for mean, covariance in zip(means, covariances)], axis=1)
    log_priors = np.log(np.maximum(sizes, 1) / np.maximum(sizes, 1).sum())
    return log_softmax(log_likelihoods.reshape(len(codes), -1) + log_priors, axis=1)
