"""`dvc metrics diff`, with each change judged against the noise (DESIGN.md, "Evidence").

    python scripts/review.py                      # HEAD against the workspace (e.g. an applied experiment)
    python scripts/review.py main my-experiment   # any two revisions or experiment names, as dvc takes them
    python scripts/review.py --all                # every metric, changed or not

For each metric it adds two seed sds (from metrics/variability.json, `scripts/sweep.py seeds`) and
the new run's 95% bootstrap interval (the stages write it beside the metric). A change is
"beyond noise" only when it exceeds 2 seed sds and the old value lies outside the new interval;
otherwise "within noise" (training noise or sampling noise could explain it). A metric with neither
measure says "no noise measure". Prints a Markdown table; `--json` prints the rows as JSON.
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

from digit_concepts.core import evidence, storage
from digit_concepts.evaluation.sweeps import dvc_executable

REPO = Path(__file__).resolve().parents[1]
VARIABILITY = Path("metrics/variability.json")
SUMMARIES = ("variability", "noise")


def metrics_diff(old: str | None, new: str | None) -> tuple[dict[str, float], dict[str, float]]:
    """Old and new flat metrics (``<file stem>.<key>``) from `dvc metrics diff --json --all`."""
    command = [dvc_executable(), "metrics", "diff", "--json", "--all", *[revision for revision in (old, new) if revision]]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stderr}")
    diff = json.loads(result.stdout or "{}")
    old_values, new_values = {}, {}
    for path, keys in diff.items():
        stem = Path(path).stem
        if stem in SUMMARIES:  # summaries of sweeps, not a run's metrics
            continue
        for key, change in keys.items():
            for values, side in ((old_values, "old"), (new_values, "new")):
                if isinstance(change.get(side), (int, float)) and not isinstance(change.get(side), bool):
                    values[f"{stem}.{key}"] = float(change[side])
    return old_values, new_values


def seed_noise(path: Path) -> dict[str, dict]:
    """variability.json's metrics (``seeds`` left out); empty when no seeds sweep has run."""
    if not path.is_file():
        return {}
    return {name: stats for name, stats in storage.read_json(path).items() if isinstance(stats, dict)}


def table(changes: list[evidence.Change]) -> str:
    lines = ["| metric | old | new | change | 2 seed sd | new 95% interval | verdict |", "|---|---|---|---|---|---|---|"]
    for change in changes:
        interval = ("-" if change.new_interval is None
                    else f"[{change.new_interval['low']:.4g}, {change.new_interval['high']:.4g}]")
        two_sd = None if change.seed_sd is None else evidence.NOISE_SDS * change.seed_sd
        lines.append(f"| {change.metric} | {evidence.format_number(change.old)} | {evidence.format_number(change.new)} "
                     f"| {evidence.format_number(change.change)} | {evidence.format_number(two_sd)} | {interval} "
                     f"| {change.verdict} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description="dvc metrics diff, each change judged against seed and sampling noise.")
    parser.add_argument("old", nargs="?", help="old revision or experiment (default: HEAD)")
    parser.add_argument("new", nargs="?", help="new revision or experiment (default: the workspace)")
    parser.add_argument("--all", action="store_true", help="every metric, not only those that changed")
    parser.add_argument("--variability", type=Path, default=VARIABILITY, help="the seeds sweep's summary")
    parser.add_argument("--json", action="store_true", help="rows as JSON instead of a Markdown table")
    arguments = parser.parse_args()
    old, new = metrics_diff(arguments.old, arguments.new)
    changes = evidence.compare(old, new, seed_noise(REPO / arguments.variability), only_changed=not arguments.all)
    if arguments.json:
        print(json.dumps([{"metric": change.metric, "old": change.old, "new": change.new, "change": change.change,
                           "seed_sd": change.seed_sd, "new_interval": change.new_interval,
                           "verdict": change.verdict} for change in changes], indent=2))
    else:
        print(table(changes) if changes else "no metric changed")
        beyond = [change.metric for change in changes if change.verdict == "beyond noise"]
        print(f"\n{len(beyond)} of {len(changes)} shown beyond noise" + (f": {', '.join(beyond)}" if beyond else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
