"""scoring: Hungarian ACC, purity and coherence against the digit labels."""

import numpy as np
import pytest

from digit_concepts.evaluation import scoring


class TestHungarianAccuracy:
    def test_perfect(self):
        digits = np.array([0, 0, 1, 1, 2, 2])
        assert scoring.hungarian_accuracy(digits, digits) == 1.0

    def test_permuted_cluster_ids_are_matched(self):
        digits = np.array([0, 0, 1, 1, 2, 2])
        assert scoring.hungarian_accuracy(np.array([2, 2, 0, 0, 1, 1]), digits) == 1.0

    def test_one_mistake(self):
        digits = np.array([0, 0, 1, 1, 2, 2])
        assert scoring.hungarian_accuracy(np.array([1, 1, 0, 0, 2, 0]), digits) == pytest.approx(5 / 6)

    def test_degenerate_single_cluster(self):
        digits = np.array([0, 0, 1, 1, 2, 2, 2])
        assert scoring.hungarian_accuracy(np.zeros(7, dtype=int), digits) == pytest.approx(3 / 7)

    def test_over_clustering_is_one_to_one_but_purity_is_many_to_one(self):
        digits = np.array([0, 0, 1, 1])
        assignments = np.array([0, 1, 2, 3])
        assert scoring.hungarian_accuracy(assignments, digits) == 0.5
        assert scoring.purity(assignments, digits) == 1.0

    def test_purity_named_on_train(self):
        train_assignments, train_digits = np.array([0, 0, 1, 1, 2]), np.array([3, 3, 4, 4, 5])
        # cluster 0 -> 3, 1 -> 4, 2 -> 5; cluster 7 never seen in train counts as wrong
        assert scoring.purity(np.array([0, 1, 2, 7]), np.array([3, 4, 4, 3]), train_assignments, train_digits) == 0.5

    def test_mismatched_lengths(self):
        with pytest.raises(ValueError, match="equally long"):
            scoring.hungarian_accuracy(np.array([0, 1]), np.array([0]))


def test_coherence_on_a_toy():
    assert scoring.coherence(np.array([1, 2, 3, 3]), np.array([1, 2, 3, 4])) == 0.75
    with pytest.raises(ValueError, match="non-empty"):
        scoring.coherence(np.array([]), np.array([]))


def test_transformed_digits_are_named_as_the_clean_ones_are():
    clean_clusters, digits = np.array([2, 2, 0, 0, 1, 1]), np.array([7, 7, 3, 3, 5, 5])
    # The transformed samples land in clusters 2, 0, 0, 0, 1, 2: named 7, 3, 3, 3, 5, 7.
    accuracy = scoring.accuracy_under_mapping_of(clean_clusters, digits, np.array([2, 0, 0, 0, 1, 2]), digits)
    assert accuracy == pytest.approx(4 / 6)
    # A cluster the clean samples never used names nothing.
    assert scoring.accuracy_under_mapping_of(clean_clusters, digits, np.array([9] * 6), digits) == 0.0
