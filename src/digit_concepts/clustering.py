"""Discover concepts: cluster one sense's codes (optionally on a reduced manifold), pick k, posteriors.

Never sees labels: fitted on the train split's codes, applied to the test split.
"""

from dataclasses import dataclass

import numpy as np
from scipy.special import log_softmax
from sklearn.cluster import AgglomerativeClustering, KMeans
from sklearn.decomposition import PCA
from sklearn.metrics import silhouette_score
from sklearn.mixture import GaussianMixture

AGGLOMERATIVE_MAX_SAMPLES = 6000  # ward linkage is quadratic in memory: fit on a seeded subsample


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

    def held_out_log_posteriors(self, features: np.ndarray) -> np.ndarray:
        """Log posteriors of the samples the clusters were fitted on, each as if it were new.

        A fitted sample sits closer to its own centre than a new one would, so its posterior is
        overconfident; with ~9 recordings per audio cluster this matters. For centres, each
        sample's own (nearest) centre is recomputed without it (leave-one-out). A mixture is returned
        as is: the bias is small for the large clusters a mixture is used for.
        """
        if self.mixture is not None:
            return self.log_posteriors(features)
        squared = self._squared_distances(features)
        own = squared.argmin(axis=1)
        sizes = np.bincount(own, minlength=len(self.centres)).astype(np.float64)
        others = sizes[own] - 1.0
        without_sample = (sizes[own, None] * self.centres[own] - features) / np.maximum(others, 1.0)[:, None]
        rows = np.arange(len(features))
        squared[rows, own] = np.where(others > 0, ((features - without_sample) ** 2).sum(axis=1), np.inf)
        return self._log_posteriors_from(squared)

    def _squared_distances(self, features: np.ndarray) -> np.ndarray:
        return ((features[:, None, :] - self.centres[None, :, :]) ** 2).sum(axis=2)

    def _log_posteriors_from(self, squared_distances: np.ndarray) -> np.ndarray:
        return log_softmax(-squared_distances / (2.0 * self.spread), axis=1)

    def assign(self, features: np.ndarray) -> np.ndarray:
        return self.posteriors(features).argmax(axis=1)


def standardise(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean, deviation = train.mean(axis=0), train.std(axis=0) + 1e-8
    return (train - mean) / deviation, (test - mean) / deviation


def reduce(train: np.ndarray, test: np.ndarray, method: str, dimensions: int, neighbors: int,
           seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Fit a reduction on the train codes and apply it to both splits."""
    if method == "none":
        return train, test
    dimensions = min(dimensions, train.shape[1], len(train) - 1)
    if method == "pca":
        reducer = PCA(dimensions, random_state=seed).fit(train)
        return reducer.transform(train), reducer.transform(test)
    if method == "umap":
        from .runtime import silenced_stderr

        with silenced_stderr():  # slow to import (numba), and it drags in TensorFlow's banners
            import umap

        # N2D: clusters separate far better on a UMAP manifold of the codes than in the codes.
        reducer = umap.UMAP(n_components=dimensions, n_neighbors=min(neighbors, len(train) - 1), min_dist=0.0,
                            random_state=seed, n_jobs=1, verbose=False)
        reduced_train = reducer.fit_transform(train)
        return reduced_train.astype(np.float64), reducer.transform(test).astype(np.float64)
    raise ValueError(f"reduction: got {method!r}, must be none, pca or umap")


def fit(features: np.ndarray, algorithm: str, k: int, seed: int) -> Clustering:
    """Fit ``k`` clusters with k-means, a full-covariance Gaussian mixture or Ward agglomeration."""
    if k > len(features):
        raise ValueError(f"cannot make {k} clusters from {len(features)} samples")
    if algorithm == "gmm":
        mixture = GaussianMixture(k, covariance_type="full", n_init=3, reg_covar=1e-4, random_state=seed).fit(features)
        return Clustering(mixture.means_, 1.0, mixture)
    if algorithm == "kmeans":
        model = KMeans(k, n_init=4, random_state=seed).fit(features)
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
             sample: int, seed: int, partner_score=None) -> tuple[Clustering, list[tuple[int, float]]]:
    """Fit at the given k (criterion fixed) or at the k in ``k_range`` that the criterion prefers."""
    if criterion == "fixed":
        return fit(features, algorithm, k, seed), []
    trials = []
    for candidate in range(k_range[0], k_range[1] + 1):
        clustering = fit(features, algorithm, candidate, seed)
        score = selection_score(features, clustering, algorithm, criterion, sample, seed, partner_score)
        print(f"  k={candidate}: {criterion} score {score:.4f}", flush=True)
        trials.append((candidate, score, clustering))
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
class SenseClusters:
    """Everything the cluster stage keeps for one sense (or the joint space)."""

    train_posteriors: np.ndarray
    train_held_out_log_posteriors: np.ndarray  # see Clustering.held_out_log_posteriors
    test_log_posteriors: np.ndarray
    test_features: np.ndarray  # the clustered space, for silhouette
    trials: list[tuple[int, float]]

    @property
    def train_assignments(self) -> np.ndarray:
        return self.train_posteriors.argmax(axis=1)

    @property
    def test_assignments(self) -> np.ndarray:
        return self.test_log_posteriors.argmax(axis=1)


def cluster_codes(train_codes: np.ndarray, test_codes: np.ndarray, config: dict, sample: int, seed: int,
                  partner_score=None) -> SenseClusters:
    """Standardise, reduce, pick k and cluster the train codes; apply all of it to the test codes."""
    train, test = standardise(train_codes.astype(np.float64), test_codes.astype(np.float64))
    train, test = reduce(train, test, config["reduction"], config["reduced_dim"], config["umap_neighbors"], seed)
    clustering, trials = discover(train, config["algorithm"], config["k"], config["k_selection"],
                                  config["k_range"], sample, seed, partner_score)
    return SenseClusters(clustering.posteriors(train), clustering.held_out_log_posteriors(train),
                         clustering.log_posteriors(test), test, trials)


def paired_codes(image_codes: np.ndarray, audio_codes: np.ndarray, image_index: np.ndarray,
                 audio_index: np.ndarray) -> np.ndarray:
    """The joint view of episodes: both senses' codes, each standardised, side by side."""
    image_part = (image_codes - image_codes.mean(axis=0)) / (image_codes.std(axis=0) + 1e-8)
    audio_part = (audio_codes - audio_codes.mean(axis=0)) / (audio_codes.std(axis=0) + 1e-8)
    return np.concatenate([image_part[image_index], audio_part[audio_index]], axis=1)


def gaussian_log_posteriors(codes: np.ndarray, means: np.ndarray, covariances: np.ndarray,
                            sizes: np.ndarray) -> np.ndarray:
    """Log concept posteriors from each concept's Gaussian in the latent space, weighted by its size.

    Calibrated where manifold posteriors are not: a UMAP embedding pulls clusters so far apart
    that a mixture fitted there is ~100% sure even of its mistakes.
    """
    from scipy.stats import multivariate_normal

    log_likelihoods = np.stack([multivariate_normal(mean, covariance, allow_singular=True).logpdf(codes)
                                for mean, covariance in zip(means, covariances)], axis=1)
    log_priors = np.log(np.maximum(sizes, 1) / np.maximum(sizes, 1).sum())
    return log_softmax(log_likelihoods.reshape(len(codes), -1) + log_priors, axis=1)
