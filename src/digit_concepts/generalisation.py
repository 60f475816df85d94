"""Leave-one-speaker-out (LOSO): how well concepts hold for a voice the learner never heard.

One fold per speaker: the speaker's recordings are the test split and every other speaker
trains. The folds are real ``dvc exp run`` experiments (``scripts/loso.py``); this module only
turns their metrics into one flat, numeric summary and a Markdown table (which ``scripts/loso.py``
writes to metrics/generalisation.json and docs/loso.md).
"""

import math

from .paths import METRICS_FILES

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


def summarise(folds: dict[str, dict[str, float]]) -> dict[str, float]:
    """Flat numeric summary for ``dvc metrics diff``: ``loso.<measure>.mean``, ``.min`` and
    ``.<speaker>`` for every fold (speaker -> its fold_measures), plus ``loso.folds``."""
    if not folds:
        raise ValueError("no LOSO folds to summarise")
    summary: dict[str, float] = {"loso.folds": len(folds)}
    for name, _, _ in MEASURES:
        values = {speaker: measures[name] for speaker, measures in sorted(folds.items())}
        summary[f"loso.{name}.mean"] = round(sum(values.values()) / len(values), 4)
        summary[f"loso.{name}.min"] = round(min(values.values()), 4)
        summary.update({f"loso.{name}.{speaker}": round(value, 4) for speaker, value in values.items()})
    return summary


def markdown_table(folds: dict[str, dict[str, float]]) -> str:
    """One row per held-out speaker, then the mean and the worst fold."""
    names = [name for name, _, _ in MEASURES]
    lines = ["| held out | " + " | ".join(name.replace("_", " ") for name in names) + " |",
             "|---|" + "---|" * len(names)]
    for speaker, measures in sorted(folds.items()):
        lines.append(f"| {speaker} | " + " | ".join(f"{measures[name]:.3f}" for name in names) + " |")
    for label, reduce in (("**mean**", lambda values: sum(values) / len(values)), ("**worst**", min)):
        lines.append(f"| {label} | " + " | ".join(
            f"**{reduce([measures[name] for measures in folds.values()]):.3f}**" for name in names) + " |")
    return "\n".join(lines)
