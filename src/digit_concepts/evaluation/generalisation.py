"""Leave-one-speaker-out (LOSO): how well concepts hold for a voice the learner never heard.

One fold per speaker (and seed): the speaker's recordings are the test split and every other
speaker trains. The folds are real ``dvc exp run`` experiments (``scripts/sweep.py loso``); this
module only turns their metrics into one flat, numeric summary and a Markdown table (which the
sweep writes to metrics/generalisation.json and docs/loso.md).
"""

import math
import statistics

from digit_concepts.core.paths import METRICS_FILES

_RELATE, _CLUSTER, _CONVERGENCE = (METRICS_FILES[name].as_posix() for name in ("relate", "cluster", "convergence"))
# (summary name, metrics file, key inside it): what each fold contributes.
MEASURES = (
    ("audio_acc_through_images", _RELATE, ("audio_acc_through_images",)),
    ("audio_reference_acc", _CLUSTER, ("audio_reference", "acc")),
    ("fused_acc", _CONVERGENCE, ("fused_acc",)),
    ("coherence_image_to_audio", _CONVERGENCE, ("coherence_image_to_audio",)),
    ("coherence_audio_to_image", _CONVERGENCE, ("coherence_audio_to_image",)),
    # the same recordings each named alone, without their batch neighbours (adaptation.batch_neighbours)
    ("audio_acc_through_images_each_alone", _RELATE, ("audio_acc_through_images_each_alone",)),
    # both routes from a recording to an image (convergence.imagine_images_from picks the one above)
    ("coherence_audio_to_image_brain", _CONVERGENCE, ("coherence_audio_to_image_brain",)),
    ("coherence_audio_to_image_concept", _CONVERGENCE, ("coherence_audio_to_image_concept",)),
)


def fold_measures(metrics_files: dict[str, dict]) -> dict[str, float]:
    """The MEASURES of one fold from its metrics files (path -> parsed JSON); ValueError naming
    the file and key that is missing or not a number."""
    values = {}
    for name, path, keys in MEASURES:
        node = metrics_files.get(path)
        if node is None:
            raise ValueError(f"{path}: missing from the fold's metrics (is the fold finished?)")
        for key in keys:
            if not isinstance(node, dict) or key not in node:
                raise ValueError(f"{path}: no {'.'.join(keys)} in the fold's metrics")
            node = node[key]
        if not isinstance(node, (int, float)) or isinstance(node, bool) or not math.isfinite(node):
            raise ValueError(f"{path}: {'.'.join(keys)} is {node!r}, not a finite number")
        values[name] = float(node)
    return values


def _mean(values) -> float:
    return statistics.fmean(values)


def _sd(values) -> float:
    """Sample sd (n - 1), as evidence.summarise_runs gives it; 0 for one value."""
    values = list(values)
    return statistics.stdev(values) if len(values) > 1 else 0.0


def _check_complete(folds_by_seed: dict[int, dict[str, dict[str, float]]]) -> list[str]:
    if not folds_by_seed or not all(folds_by_seed.values()):
        raise ValueError("no LOSO folds to summarise")
    speakers = sorted(next(iter(folds_by_seed.values())))
    for seed, folds in folds_by_seed.items():
        if sorted(folds) != speakers:
            raise ValueError(f"seed {seed} has folds {sorted(folds)}, other seeds {speakers}: every seed needs "
                             "the same speakers")
    return speakers


def summarise(folds_by_seed: dict[int, dict[str, dict[str, float]]]) -> dict[str, float]:
    """Flat numeric summary for ``dvc metrics diff``. ``folds_by_seed``: seed -> speaker -> that
    fold's ``fold_measures``. For every measure:

    - ``loso.<measure>.mean``: the mean over folds (held-out speakers), averaged over seeds;
    - ``loso.<measure>.sd``: the sd over seeds of that mean over folds (0 with one seed);
    - ``loso.<measure>.<speaker>`` and ``.<speaker>.sd``: each fold's mean and sd over seeds;
    - ``loso.<measure>.min``: the worst fold (of the folds' means over seeds);

    plus ``loso.folds`` and ``loso.seeds`` (how many of each)."""
    speakers = _check_complete(folds_by_seed)
    summary: dict[str, float] = {"loso.folds": len(speakers), "loso.seeds": len(folds_by_seed)}
    for name, _, _ in MEASURES:
        fold_means = {speaker: _mean(folds[speaker][name] for folds in folds_by_seed.values()) for speaker in speakers}
        seed_means = [_mean(folds[speaker][name] for speaker in speakers) for folds in folds_by_seed.values()]
        summary[f"loso.{name}.mean"] = round(_mean(seed_means), 4)
        summary[f"loso.{name}.sd"] = round(_sd(seed_means), 4)
        summary[f"loso.{name}.min"] = round(min(fold_means.values()), 4)
        for speaker in speakers:
            summary[f"loso.{name}.{speaker}"] = round(fold_means[speaker], 4)
            summary[f"loso.{name}.{speaker}.sd"] = round(_sd(folds[speaker][name] for folds in folds_by_seed.values()), 4)
    return summary


def markdown_table(folds_by_seed: dict[int, dict[str, dict[str, float]]]) -> str:
    """One row per held-out speaker (mean over seeds, +- sd when there are several), then the mean
    over folds (+- its sd over seeds) and the worst fold; then each seed's mean over folds."""
    speakers = _check_complete(folds_by_seed)
    several = len(folds_by_seed) > 1
    names = [name for name, _, _ in MEASURES]

    def cell(values: list[float], bold: bool = False) -> str:
        text = f"{_mean(values):.3f}" + (f" +- {_sd(values):.3f}" if several else "")
        return f"**{text}**" if bold else text

    lines = ["| held out | " + " | ".join(name.replace("_", " ") for name in names) + " |",
             "|---|" + "---|" * len(names)]
    for speaker in speakers:
        lines.append(f"| {speaker} | " + " | ".join(
            cell([folds[speaker][name] for folds in folds_by_seed.values()]) for name in names) + " |")
    lines.append("| **mean** | " + " | ".join(
        cell([_mean(folds[speaker][name] for speaker in speakers) for folds in folds_by_seed.values()], bold=True)
        for name in names) + " |")
    lines.append("| **worst** | " + " | ".join(
        f"**{min(_mean(folds[speaker][name] for folds in folds_by_seed.values()) for speaker in speakers):.3f}**"
        for name in names) + " |")
    if several:
        lines += ["", "Mean over the folds, seed by seed:", "",
                  "| seed | " + " | ".join(name.replace("_", " ") for name in names) + " |",
                  "|---|" + "---|" * len(names)]
        for seed, folds in sorted(folds_by_seed.items()):
            lines.append(f"| {seed} | " + " | ".join(
                f"{_mean(folds[speaker][name] for speaker in speakers):.3f}" for name in names) + " |")
    return "\n".join(lines)
