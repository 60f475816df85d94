"""zones: convergence and divergence zones and their entropies."""

import numpy as np
import pytest

from digit_concepts.crossmodal import zones


def test_zones_on_hand_made_matrices():
    counts = np.array([[90, 5, 5, 0], [0, 45, 45, 0], [0, 0, 0, 100]])
    assert zones.convergence_pairs(counts, min_strength=0.6) == [(0, 0), (2, 3)]
    assert zones.convergence_pairs(counts, min_strength=0.5) == [(0, 0), (1, 1), (2, 3)]
    identity = np.arange(4)
    table = zones.concept_table(counts, identity, min_strength=0.6, min_share=0.2, max_entropy_bits=1.5)
    image = table[table["sense"] == "image"].set_index("concept")
    assert image.loc[0, "zone"] == "convergence"
    assert image.loc[1, "zone"] == "divergence"  # spread evenly over two audio concepts
    assert image.loc[1, "entropy_bits"] == pytest.approx(1.0)
    assert image.loc[2, "zone"] == "convergence"
    # Merging audio 1 and 2 (one digit, two speakers) turns image concept 1 into a convergence zone too.
    merged = zones.concept_table(counts, np.array([0, 1, 1, 2]), 0.6, 0.2, 1.5)
    assert merged.set_index(["sense", "concept"]).loc[("image", 1), "zone"] == "both"
    assert zones.zone_counts(merged) == {"n_convergence_zones": 3, "n_divergence_zones": 1}


def test_entropy_bits():
    np.testing.assert_allclose(zones.entropy_bits(np.array([[1.0, 0, 0, 0], [0.5, 0.5, 0, 0], [0.25] * 4])), [0, 1, 2])


def test_divergence_beyond_chance_ignores_pairing_noise():
    # 10 image concepts, 10 audio concepts, 200 episodes each; concept 3 truly spreads over audio 3 and 8.
    rng = np.random.default_rng(0)
    clean = np.diag(np.full(10, 200))
    clean[3, 3], clean[3, 8] = 100, 100
    assert zones.partners_beyond_chance(clean, alpha=0.01).tolist() == [1, 1, 1, 2, 1, 1, 1, 1, 1, 1]
    for noise in (0.3, 0.7):  # each episode's recording replaced by a random one with this probability
        kept = rng.binomial(clean, 1 - noise)
        noisy = kept + np.array([rng.multinomial(moved, np.full(10, 0.1)) for moved in (clean - kept).sum(axis=1)])
        table = zones.concept_table(noisy, np.arange(10), 0.5, 0.1, 1.5, divergence_alpha=0.01)
        counts = zones.zone_counts(table)
        assert counts["n_divergence_zones_beyond_chance"] == 2, noise  # image 3 (audio 3, 8), audio 8 (image 3, 8)
        assert counts["n_divergence_zones"] > 1  # the entropy reading counts the noise
    with pytest.raises(ValueError, match="divergence_alpha"):
        zones.partners_beyond_chance(clean, alpha=0.0)
