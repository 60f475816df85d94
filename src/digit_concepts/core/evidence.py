"""Evidence: how sure a number is (DESIGN.md, "Evidence").

Two kinds of spread, two tools:

- **Sampling noise**, per run: a percentile bootstrap over the scored samples (test recordings,
  images, episodes), with the learner's answers held fixed. Every score here is a function of a
  table of (answer, truth) counts, and resampling n scored pairs with replacement is a
  multinomial draw over that table's cells, so a thousand resamples cost milliseconds and never
  touch the samples themselves.
- **Training noise**, over runs: the same params under other seeds (``summarise_runs``).

``compare`` says, metric by metric, whether a change between two runs exceeds either.
"""

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from digit_concepts.core.params import Params

INTERVAL_SUFFIX = "_interval"  # a metric's interval is stored beside it: {"acc": .., "acc_interval": {"low", "high"}}
NOISE_SDS = 2.0  # a change beyond this many seed sds is beyond training noise (DESIGN.md, "Evidence")


def matched_share(table: np.ndarray) -> float:
    """Share of samples on the best one-to-one matching of rows (answers) to columns (truths):
    clustering accuracy from its contingency table."""
    rows, columns = linear_sum_assignment(-table)
    return float(table[rows, columns].sum() / table.sum())


def right_share(table: np.ndarray) -> float:
    """Share of samples right, from a (wrong, right) count pair."""
    return float(table[1] / table.sum())


def resampled_tables(table: np.ndarray, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """``resamples`` bootstrap copies of a count table: n pairs drawn with replacement from the
    n scored pairs fall into the cells as one multinomial draw with the cells' shares."""
    table = np.asarray(table, dtype=np.int64)
    total = int(table.sum())
    if total <= 0 or (table < 0).any():
        raise ValueError(f"a bootstrap needs a table of non-negative counts with some samples, got total {total}")
    draws = rng.multinomial(total, table.ravel() / total, size=resamples)
    return draws.reshape(resamples, *table.shape)


def percentile_interval(values: np.ndarray, level: float) -> dict[str, float]:
    if not 0.0 < level < 1.0:
        raise ValueError(f"an interval level is a share strictly between 0 and 1, got {level}")
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(np.asarray(values, dtype=np.float64), [tail, 1.0 - tail])
    return {"low": float(low), "high": float(high)}


@dataclass(frozen=True)
class Bootstrap:
    """A seeded percentile bootstrap (params ``evidence``): the same inputs give the same interval."""

    resamples: int
    level: float
    seed: int

    @classmethod
    def from_params(cls, params: Params) -> "Bootstrap":
        return cls(params.evidence.bootstrap_resamples, params.evidence.interval_level, params.seed)

    def _interval(self, table: np.ndarray, statistic: Callable[[np.ndarray], float]) -> dict[str, float]:
        tables = resampled_tables(table, self.resamples, np.random.default_rng(self.seed))
        return percentile_interval(np.array([statistic(resample) for resample in tables]), self.level)

    def of_matching(self, table: np.ndarray) -> dict[str, float]:
        """Interval of clustering accuracy (``matched_share``), the matching held as found on all samples.

        Why not rematch each resample: the best matching of a resample picks the cells that
        resampling happened to swell, so the interval drifts above the accuracy, far above it when
        clusters outnumber digits (audio's 300 clusters: 0.153, rematched interval 0.177-0.233).
        Held fixed, the matching reads the learner's answers like every other mapping here.
        """
        table = np.asarray(table, dtype=np.int64)
        rows, columns = linear_sum_assignment(-table)
        matched = int(table[rows, columns].sum())
        return self._interval(np.array([int(table.sum()) - matched, matched]), right_share)

    def of_share(self, correct: np.ndarray) -> dict[str, float]:
        """Interval of the share of ``correct`` (booleans, one per scored sample) that is true."""
        correct = np.asarray(correct, dtype=bool)
        return self._interval(np.array([np.sum(~correct), np.sum(correct)]), right_share)

    def of_mean(self, values: np.ndarray) -> dict[str, float]:
        """Interval of the mean of per-sample values (e.g. reconstruction errors)."""
        values = np.asarray(values, dtype=np.float64).ravel()
        if values.size == 0:
            raise ValueError("a bootstrap of a mean needs at least one value")
        rng = np.random.default_rng(self.seed)
        # Chunked: 1,000 resamples of 10,000 values would be 80 MB of indices at once.
        means = np.concatenate([values[rng.integers(0, values.size, size=(count, values.size))].mean(axis=1)
                                for count in np.diff(np.r_[0:self.resamples:100, self.resamples])])
        return percentile_interval(means, self.level)


def flatten(metrics: Mapping, prefix: str = "") -> dict[str, float]:
    """``{"image": {"acc": 0.97}}`` -> ``{"image.acc": 0.97}``, as `dvc metrics` names them;
    ValueError on anything but numbers and nested mappings."""
    flat = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            flat[name] = value
        else:
            raise ValueError(f"metric {name}: expected a number or a nested mapping, got {value!r}")
    return flat


def intervals_of(flat: Mapping[str, float]) -> dict[str, dict[str, float]]:
    """``{"x.acc": {"low", "high"}}`` from flat metrics holding ``x.acc_interval.low/.high``."""
    found = {}
    for name in flat:
        if name.endswith(f"{INTERVAL_SUFFIX}.low") and name.replace(".low", ".high") in flat:
            metric = name[: -len(f"{INTERVAL_SUFFIX}.low")]
            found[metric] = {"low": flat[name], "high": flat[name.replace(".low", ".high")]}
    return found


def summarise_runs(runs: Sequence[Mapping[str, float]], names: Sequence[str]) -> dict[str, dict[str, float]]:
    """Mean, sample sd (n - 1), min, max and n of each named metric over runs (e.g. seeds).

    A metric missing from a run is a ValueError naming it: a summary over a different set of runs
    per metric would hide a failed run."""
    if not runs:
        raise ValueError("no runs to summarise")
    summary = {}
    for name in names:
        missing = [index for index, run in enumerate(runs) if name not in run]
        if missing:
            raise ValueError(f"metric {name} is missing from run(s) {missing} of {len(runs)}")
        values = np.array([run[name] for run in runs], dtype=np.float64)
        summary[name] = {"mean": float(values.mean()),
                         "sd": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
                         "min": float(values.min()), "max": float(values.max()), "n": int(len(values))}
    return summary


@dataclass(frozen=True)
class Change:
    """One metric between two runs, judged against both kinds of noise."""

    metric: str
    old: float | None
    new: float | None
    seed_sd: float | None  # from variability.json; None where no seeds were run for it
    new_interval: dict | None  # the new run's bootstrap interval, where it has one

    @property
    def change(self) -> float | None:
        return None if self.old is None or self.new is None else self.new - self.old

    @property
    def beyond_seed_noise(self) -> bool | None:
        if self.change is None or self.seed_sd is None:
            return None
        return abs(self.change) > NOISE_SDS * self.seed_sd

    @property
    def beyond_interval(self) -> bool | None:
        """Whether the old value lies outside the new run's 95% interval (sampling noise)."""
        if self.change is None or self.new_interval is None:
            return None
        return not self.new_interval["low"] <= self.old <= self.new_interval["high"]

    @property
    def verdict(self) -> str:
        if self.change is None:
            return "added" if self.old is None else "removed"
        if self.change == 0:
            return "same"
        judged = [flag for flag in (self.beyond_seed_noise, self.beyond_interval) if flag is not None]
        if not judged:
            return "no noise measure"
        if all(judged):
            return "beyond noise"
        return "within noise"


def compare(old: Mapping[str, float], new: Mapping[str, float], variability: Mapping[str, Mapping],
            only_changed: bool = True) -> list[Change]:
    """Every metric of two flat metric sets (interval bounds are not metrics of their own), judged
    against the seed sd of ``variability`` (``summarise_runs``' output) and the new bootstrap interval.

    "beyond noise" needs the change to exceed every noise measure known for that metric: 2 seed
    sds and the new run's interval; "within noise" if it fails any."""
    intervals = intervals_of(new)
    names = sorted(name for name in set(old) | set(new) if f"{INTERVAL_SUFFIX}." not in name)
    changes = []
    for name in names:
        change = Change(name, old.get(name), new.get(name),
                        variability[name]["sd"] if name in variability else None, intervals.get(name))
        if not only_changed or change.verdict != "same":
            changes.append(change)
    return changes


def format_number(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.4g}"
