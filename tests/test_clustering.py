"""clustering: concepts in one sense's codes: the clusterers, the choice of k and of the restart."""

import numpy as np
import pytest

from digit_concepts.concepts import clustering
from digit_concepts.crossmodal import relations
from digit_concepts.evaluation import scoring


def test_clustering_finds_separated_blobs_and_posteriors_sum_to_one():
    rng = np.random.default_rng(0)
    centres = np.array([[0, 0], [10, 0], [0, 10]])
    train = np.concatenate([centre + rng.standard_normal((50, 2)) for centre in centres])
    truth = np.repeat(np.arange(3), 50)
    for algorithm in ("kmeans", "gmm", "agglomerative"):
        fitted = clustering.fit(train, algorithm, 3, seed=0)
        posteriors = fitted.posteriors(train)
        np.testing.assert_allclose(posteriors.sum(axis=1), 1.0, rtol=1e-6)
        assert scoring.hungarian_accuracy(fitted.assign(train), truth) == 1.0, algorithm


def test_discovery_picks_the_true_number_of_clusters():
    rng = np.random.default_rng(1)
    centres = np.array([[0, 0], [12, 0], [0, 12], [12, 12]])
    train = np.concatenate([centre + rng.standard_normal((60, 2)) for centre in centres])
    for criterion in ("bic", "silhouette"):
        fitted, trials = clustering.discover(train, "gmm", 2, criterion, [2, 7], 500, seed=0)
        assert fitted.centres.shape[0] == 4, (criterion, trials)
        assert [k for k, _ in trials] == list(range(2, 8))


def test_candidates_fitted_side_by_side_give_what_one_after_another_gives(monkeypatch):
    rng = np.random.default_rng(3)
    centres = np.array([[0, 0], [6, 0], [0, 6], [6, 6], [3, 9]])
    train = np.concatenate([centre + rng.standard_normal((80, 2)) for centre in centres])
    side_by_side = clustering.discover(train, "gmm", 2, "bic", [2, 8], 400, seed=0)
    monkeypatch.setattr(clustering, "TRIAL_THREADS", 1)
    one_by_one = clustering.discover(train, "gmm", 2, "bic", [2, 8], 400, seed=0)
    assert side_by_side[1] == one_by_one[1]
    np.testing.assert_array_equal(side_by_side[0].centres, one_by_one[0].centres)


def test_cooccurrence_keeps_the_restart_that_fits_the_partner_best():
    """Four equal blobs at a square's corners: two clusters can split them left/right or top/bottom
    with the same likelihood. The partner sense splits left/right; only that restart is kept."""
    rng = np.random.default_rng(0)
    corners = np.array([[0, 0], [10, 0], [0, 10], [10, 10]])
    train = np.concatenate([corner + rng.standard_normal((50, 2)) for corner in corners])
    partner = (train[:, 0] > 5).astype(int)

    def partner_score(assignments):
        return relations.concept_consistency(assignments, partner, 0.25)

    fitting = clustering.Fitting(gmm_restarts=8, gmm_restart_choice="cooccurrence")
    options = clustering.fit_options(train, "gmm", 2, 0, fitting, "cooccurrence")
    scores = [partner_score(option.assign(train)) for option in options]
    assert len(options) == 8 and min(scores) < max(scores)  # the restarts differ
    fitted, trials = clustering.discover(train, "gmm", 2, "cooccurrence", [2, 2], 100, 0, partner_score, fitting)
    assert trials == [(2, max(scores))]
    assert scoring.hungarian_accuracy(fitted.assign(train), partner) == 1.0
    by_likelihood = clustering.fit_options(train, "gmm", 2, 0, clustering.Fitting(gmm_restarts=8), "cooccurrence")
    assert len(by_likelihood) == 1
    assert clustering.restart_seeds(7, 3) == clustering.restart_seeds(7, 5)[:3]


def test_bad_cluster_requests_are_clear_errors():
    with pytest.raises(ValueError, match="cannot make 5 clusters from 3 samples"):
        clustering.fit(np.zeros((3, 2)), "kmeans", 5, seed=0)
    with pytest.raises(ValueError, match="must be kmeans, gmm or agglomerative"):
        clustering.fit(np.zeros((30, 2)), "spectral", 2, seed=0)
    with pytest.raises(ValueError, match="needs algorithm gmm"):
        clustering.discover(np.random.default_rng(0).standard_normal((40, 2)), "kmeans", 2, "bic", [2, 3], 40, 0)


def test_cooccurrence_k_selection_uses_the_partner_score():
    rng = np.random.default_rng(2)
    centres = np.array([[0, 0], [12, 0], [0, 12], [12, 12]])
    train = np.concatenate([centre + rng.standard_normal((60, 2)) for centre in centres])
    fitted, trials = clustering.discover(train, "kmeans", 2, "cooccurrence", [2, 5], 100, seed=0,
                                         partner_score=lambda assignments: -abs(len(np.unique(assignments)) - 3))
    assert fitted.centres.shape[0] == 3
    with pytest.raises(ValueError, match="image only"):
        clustering.discover(train, "kmeans", 2, "cooccurrence", [2, 3], 100, seed=0)
