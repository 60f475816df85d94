"""Familiarity: the share of validation samples as unlike the train samples (familiarity.py)."""

import numpy as np
import pytest

from digit_concepts.concepts import familiarity
from digit_concepts.concepts.familiarity import Familiarity
from digit_concepts.core.standardisation import Standardiser


def test_the_share_at_least_as_far_is_a_conformal_p_value():
    validation = np.array([1.0, 2.0, 3.0, 4.0])
    shares = familiarity.share_at_least(np.array([0.5, 2.0, 2.5, 4.0, 9.0]), validation)
    # (1 + how many validation scores are at least as high) / (n + 1)
    np.testing.assert_allclose(shares, [5 / 5, 4 / 5, 3 / 5, 2 / 5, 1 / 5])
    with pytest.raises(ValueError, match="sorted"):
        familiarity.share_at_least(np.array([1.0]), np.array([2.0, 1.0]))


def test_two_signals_are_combined_by_bonferroni():
    np.testing.assert_allclose(familiarity.combined(np.array([0.01, 0.6]), np.array([0.5, 0.8])), [0.02, 1.0])


def test_the_distance_is_to_the_nearest_train_code():
    train = np.array([[0.0, 0.0], [3.0, 4.0], [10.0, 0.0]])
    np.testing.assert_allclose(familiarity.train_distances(np.array([[0.0, 1.0], [3.0, 0.0]]), train), [1.0, 3.0])
    np.testing.assert_allclose(familiarity.train_distances(np.array([[0.0, 1.0]]), train, k=2), [np.hypot(3, 3)])
    with pytest.raises(ValueError, match="k must be"):
        familiarity.train_distances(train, train, k=4)


def _reference(rng, share=0.05):
    train = rng.normal(size=(2000, 4)) * [1.0, 2.0, 3.0, 4.0] + 10.0
    validation = rng.normal(size=(1000, 4)) * [1.0, 2.0, 3.0, 4.0] + 10.0
    errors = rng.gamma(2.0, 1.0, size=1000)
    return Familiarity.calibrate(Standardiser.fit(train), train, validation, errors, share)


def test_about_the_chosen_share_of_new_samples_like_validation_ones_is_flagged():
    rng = np.random.default_rng(0)
    reference = _reference(rng)
    alike = rng.normal(size=(4000, 4)) * [1.0, 2.0, 3.0, 4.0] + 10.0
    flagged = reference.unfamiliar(reference.of(alike, rng.gamma(2.0, 1.0, size=4000))).mean()
    assert 0.03 <= flagged <= 0.07
    # Far from every train code, or badly reconstructed: flagged either way.
    far = reference.of(np.full((3, 4), 40.0), rng.gamma(2.0, 1.0, size=3))
    badly_rebuilt = reference.of(alike[:3], np.full(3, 50.0))
    assert reference.unfamiliar(far).all() and reference.unfamiliar(badly_rebuilt).all()


def test_the_reference_restores_exactly_from_its_arrays():
    reference = _reference(np.random.default_rng(1), share=0.02)
    restored = Familiarity.from_arrays(reference.arrays("image"), "image")
    codes = np.random.default_rng(2).normal(size=(5, 4)) + 10.0
    np.testing.assert_array_equal(restored.of(codes, np.ones(5)), reference.of(codes, np.ones(5)))
    assert restored.flagged_share == 0.02
    with pytest.raises(ValueError, match="flagged_share"):
        Familiarity.from_arrays({**reference.arrays("image"), "image_flagged_share": np.array(1.0)}, "image")
