"""Evidence: bootstrap intervals, summaries over seeds, and the noise-aware comparison."""

import json
from pathlib import Path

import numpy as np
import pytest

from digit_concepts.core import evidence
from digit_concepts.evaluation import scoring, sweeps
from digit_concepts.core.evidence import Bootstrap


def test_interval_of_a_share_matches_the_normal_approximation():
    # 300 recordings, 294 right (0.98): the textbook 95% interval is 0.98 +- 1.96 sqrt(.98 .02 / 300) = +-0.0158.
    correct = np.r_[np.ones(294, bool), np.zeros(6, bool)]
    interval = Bootstrap(resamples=4000, level=0.95, seed=0).of_share(correct)
    assert interval["low"] == pytest.approx(0.98 - 0.0158, abs=0.004)
    assert interval["high"] == pytest.approx(min(1.0, 0.98 + 0.0158), abs=0.004)
    assert interval["low"] < 0.98 < interval["high"]


def test_interval_is_seeded():
    correct = np.random.default_rng(1).random(500) < 0.9
    first, again = (Bootstrap(1000, 0.95, seed=7).of_share(correct) for _ in range(2))
    other = Bootstrap(1000, 0.95, seed=8).of_share(correct)
    assert first == again
    assert other != first


def test_perfect_scores_have_a_point_interval():
    digits = np.arange(50) % 10
    assert scoring.accuracy_interval(digits, digits, Bootstrap(200, 0.95, 0)) == {"low": 1.0, "high": 1.0}


def test_matching_interval_holds_the_accuracy_when_clusters_outnumber_digits():
    """Rematching every resample would put this interval above the accuracy (the max of swollen cells)."""
    rng = np.random.default_rng(5)
    digits = rng.integers(0, 10, 300)
    assignments = rng.integers(0, 300, 300)  # 300 clusters of about one sample each
    accuracy = scoring.hungarian_accuracy(assignments, digits)
    interval = scoring.accuracy_interval(assignments, digits, Bootstrap(500, 0.95, 0))
    assert interval["low"] < accuracy < interval["high"]


def test_matching_interval_finds_the_matching_and_holds_the_accuracy():
    rng = np.random.default_rng(3)
    digits = rng.integers(0, 10, 2000)
    assignments = (digits + 3) % 10  # clusters named differently from digits: the matching finds it
    wrong = rng.random(2000) < 0.1
    assignments[wrong] = rng.integers(0, 10, wrong.sum())
    accuracy = scoring.hungarian_accuracy(assignments, digits)
    interval = scoring.accuracy_interval(assignments, digits, Bootstrap(500, 0.95, 0))
    assert 0.88 < accuracy < 0.94
    assert interval["low"] < accuracy < interval["high"]
    assert interval["high"] - interval["low"] == pytest.approx(2 * 1.96 * np.sqrt(accuracy * (1 - accuracy) / 2000),
                                                              rel=0.25)


def test_interval_of_a_mean():
    values = np.random.default_rng(0).normal(5.0, 2.0, 10_000)
    interval = Bootstrap(500, 0.95, 0).of_mean(values)
    assert interval["low"] == pytest.approx(values.mean() - 1.96 * 2.0 / 100, abs=0.01)
    assert interval["high"] == pytest.approx(values.mean() + 1.96 * 2.0 / 100, abs=0.01)


def test_bad_bootstrap_inputs_are_named():
    with pytest.raises(ValueError, match="level"):
        evidence.percentile_interval(np.ones(3), 1.5)
    with pytest.raises(ValueError, match="non-negative counts"):
        evidence.resampled_tables(np.zeros((2, 2)), 10, np.random.default_rng(0))


def test_summary_over_seeds():
    runs = [{"a": 0.97, "b": 10.0}, {"a": 0.98, "b": 12.0}, {"a": 0.99, "b": 11.0}]
    summary = evidence.summarise_runs(runs, ["a", "b"])
    assert summary["a"]["mean"] == pytest.approx(0.98)
    assert summary["a"]["sd"] == pytest.approx(0.01)  # sample sd (n - 1)
    assert (summary["b"]["min"], summary["b"]["max"], summary["b"]["n"]) == (10.0, 12.0, 3)
    with pytest.raises(ValueError, match="c is missing from run"):
        evidence.summarise_runs(runs, ["c"])


def test_flatten_names_metrics_as_dvc_does():
    flat = evidence.flatten({"image": {"acc": 0.97, "acc_interval": {"low": 0.96, "high": 0.98}},
                             "fused_acc": 0.99})
    assert flat == {"image.acc": 0.97, "image.acc_interval.low": 0.96, "image.acc_interval.high": 0.98,
                    "fused_acc": 0.99}
    assert evidence.intervals_of(flat) == {"image.acc": {"low": 0.96, "high": 0.98}}
    with pytest.raises(ValueError, match="image.name"):
        evidence.flatten({"image": {"name": "x"}})


def test_comparison_within_and_beyond_noise():
    variability = {"acc": {"sd": 0.005}, "zones": {"sd": 1.0}}
    old = {"acc": 0.975, "zones": 10.0, "gone": 1.0}
    within = {"acc": 0.980, "acc_interval.low": 0.970, "acc_interval.high": 0.990, "zones": 11.0}
    verdicts = {change.metric: change.verdict for change in evidence.compare(old, within, variability)}
    assert verdicts == {"acc": "within noise", "zones": "within noise", "gone": "removed"}

    beyond = {"acc": 0.995, "acc_interval.low": 0.990, "acc_interval.high": 0.999, "zones": 13.0, "new": 2.0}
    changes = {change.metric: change for change in evidence.compare(old, beyond, variability)}
    assert changes["acc"].verdict == "beyond noise"  # 0.02 > 2 x 0.005, and 0.975 is outside [0.990, 0.999]
    assert changes["acc"].change == pytest.approx(0.02)
    assert changes["zones"].verdict == "beyond noise"  # no interval: the seed sd alone decides
    assert changes["new"].verdict == "added"
    # Beyond the seed noise but inside the interval: sampling noise could explain it.
    wide = {"acc": 0.990, "acc_interval.low": 0.970, "acc_interval.high": 0.999}
    assert evidence.compare({"acc": 0.975}, wide, variability)[0].verdict == "within noise"
    assert evidence.compare({"acc": 0.975}, {"acc": 0.99}, {})[0].verdict == "no noise measure"


def test_committed_headline_metrics_lie_inside_their_intervals():
    """On the real splits (300 recordings or more) every headline metric's interval holds it, and is
    informative."""
    metrics = Path(__file__).resolve().parents[1] / "metrics"
    flat = {f"{name}.{key}": value for name in ("cluster", "relate", "convergence", "transfer", "reconstruction")
            for key, value in evidence.flatten(json.loads((metrics / f"{name}.json").read_text())).items()}
    intervals = evidence.intervals_of(flat)
    for file, key, _ in sweeps.HEADLINE:
        if not key.startswith("n_"):
            interval = intervals[f"{file}.{key}"]
            assert interval["low"] <= flat[f"{file}.{key}"] <= interval["high"], (file, key)
            # Informative, not vacuous: a share near 0.8 over 300 recordings spans about +-4.6 points.
            assert interval["high"] - interval["low"] < 0.1, (file, key)
