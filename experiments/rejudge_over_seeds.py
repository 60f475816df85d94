"""Exploration (not a stage): choices re-judged on validation over the seeds of the seeds sweep.

Produced: docs/experiments.md, section "Choices re-judged with the noise known", the table
"Paired over seeds, on validation". Command, from the repository root, after
`python scripts/sweep.py seeds --seeds 5` has finished for the current commit:

    .venv/bin/python experiments/rejudge_over_seeds.py --seeds 5

Both options of each choice below are scored in every run (the pipeline writes both), so each
seed gives a paired difference, option minus the other, on the same codes and clusters. A choice
holds only when the mean paired difference exceeds 2 sds of the differences over seeds; otherwise
it is a tie and the simpler option should win. Test numbers are printed beside, never used.
"""

import argparse
import sys
from pathlib import Path

import numpy as np

from digit_concepts.core import evidence
from digit_concepts.evaluation import sweeps
from digit_concepts.core.params import load

REPO = Path(__file__).resolve().parents[1]
# (choice, metric with the committed option, metric with the other one, which is simpler)
PAIRS = (
    ("convergence.imagine_images_from: concept over brain",
     "convergence.validation_coherence_audio_to_image_concept", "convergence.validation_coherence_audio_to_image_brain",
     "neither (two routes)"),
    ("adaptation.batch_neighbours: 20 over 0 (seen voices)",
     "relate.validation_audio_acc_through_images", "relate.validation_audio_acc_through_images_each_alone",
     "0 (no adaptation)"),
)
TEST_PAIRS = {
    PAIRS[0][0]: ("convergence.coherence_audio_to_image_concept", "convergence.coherence_audio_to_image_brain"),
    PAIRS[1][0]: ("relate.audio_acc_through_images", "relate.audio_acc_through_images_each_alone"),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    arguments = parser.parse_args()
    repository = sweeps.Repository(REPO)
    finished = repository.finished()
    jobs = sweeps.seed_jobs(sweeps.seed_list(arguments.seeds, load(REPO / "params.yaml").seed))
    missing = [job.name for job in jobs if job.name not in finished]
    if missing:
        print(f"error: run the seeds sweep first; not finished: {', '.join(missing)}", file=sys.stderr)
        return 1
    runs = [sweeps.flat_metrics(repository.metrics_of(finished[job.name])) for job in jobs]
    print("| choice | paired difference per seed (validation) | mean +- sd | verdict | test, mean difference |")
    print("|---|---|---|---|---|")
    for choice, chosen, other, _ in PAIRS:
        differences = np.array([run[chosen] - run[other] for run in runs])
        summary = evidence.summarise_runs([{"d": value} for value in differences], ["d"])["d"]
        holds = abs(summary["mean"]) > evidence.NOISE_SDS * summary["sd"] and summary["mean"] != 0
        verdict = ("holds" if summary["mean"] > 0 else "reversed") if holds else "tie (within seed noise)"
        test_chosen, test_other = TEST_PAIRS[choice]
        test_difference = float(np.mean([run[test_chosen] - run[test_other] for run in runs]))
        print(f"| {choice} | {', '.join(f'{value:+.4f}' for value in differences)} | "
              f"{summary['mean']:+.4f} +- {summary['sd']:.4f} | {verdict} | {test_difference:+.4f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
