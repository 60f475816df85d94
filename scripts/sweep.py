"""Sweeps of the committed pipeline as DVC experiments: seeds, leave-one-speaker-out, pairing noise.

    DATA_MIRROR=../shared/datasets python scripts/sweep.py seeds --seeds 5 --jobs 2
    python scripts/sweep.py loso --seeds 3 --jobs 2            # 6 speakers x 3 seeds
    python scripts/sweep.py noise --levels 0,0.1,0.3,0.5,0.7 --seeds 2 --jobs 2

On one machine the jobs are queued `dvc exp run convergence --queue --name <job> -S ...` and run by
`dvc queue start`; jobs already finished for this commit are kept (resume, or extend with more
seeds). Across machines, any batch scheduler runs one job per task (docs/workflow.md has a Slurm
array):

    python scripts/sweep.py seeds --seeds 10 --list                  # the job names, one per line
    python scripts/sweep.py seeds --seeds 10 --job seed-3 --push origin   # one task: run it, dvc exp push
    python scripts/sweep.py seeds --seeds 10 --collect origin        # dvc exp pull, then summarise

Written when every job is done (commit first: experiments run what git tracks):

- seeds: metrics/variability.json (every metric's mean, sd, min, max and n over the seeds) and
  docs/variability.md (the headline table, the command, the wall time);
- loso: metrics/generalisation.json (per fold and over seeds) and docs/loso.md;
- noise: metrics/noise.json (each level's metrics over seeds) and docs/noise.md.
"""

import argparse
import shlex
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# The package of this checkout, as the stages import theirs (stages/digit_concepts), not the one an
# editable install of another checkout points at.
sys.path.insert(0, str(REPO / "src"))

from digit_concepts.core import storage
from digit_concepts.core.params import SPEAKERS, load
from digit_concepts.evaluation import generalisation, sweeps

OUTPUTS = {  # kind: (summary, doc)
    "seeds": (Path("metrics/variability.json"), Path("docs/variability.md")),
    "loso": (Path("metrics/generalisation.json"), Path("docs/loso.md")),
    "noise": (Path("metrics/noise.json"), Path("docs/noise.md")),
}
POLL_SECONDS = 15
# What the noise sweep follows: the learner's naming through the other sense, the fusion, the
# imagination, and both readings of the zones.
NOISE_METRICS = ("relate.audio_acc_through_images", "relate.image_acc_through_audio", "cluster.image.acc",
                 "cluster.image.n_clusters", "cluster.joint.acc", "convergence.fused_acc",
                 "convergence.coherence_audio_to_image", "convergence.n_convergence_zones",
                 "convergence.n_divergence_zones", "convergence.n_divergence_zones_beyond_chance")


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Sweeps of the committed pipeline as DVC experiments.")
    parser.add_argument("kind", choices=sorted(OUTPUTS), help="seeds, loso (leave one speaker out) or noise")
    parser.add_argument("--seeds", type=int, default=None,
                        help="how many seeds: the committed one, then 1, 2, ... (default: seeds 5, loso 1, noise 2)")
    parser.add_argument("--speakers", default=",".join(SPEAKERS), help="loso: comma-separated speakers to hold out")
    parser.add_argument("--levels", default="0,0.1,0.3,0.5,0.7", help="noise: comma-separated pairs.noise levels")
    parser.add_argument("--jobs", type=int, default=1, help="queue workers on this machine (each run uses both cores)")
    parser.add_argument("--poll-seconds", type=float, default=POLL_SECONDS, help="how often to read the queue")
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--list", action="store_true", help="print the job names, one per line, and stop")
    action.add_argument("--job", metavar="NAME", help="run this one job here (a batch task), not through the queue")
    action.add_argument("--collect", metavar="GIT_REMOTE",
                        help="dvc exp pull every pushed job of this commit from GIT_REMOTE, then summarise")
    parser.add_argument("--push", metavar="GIT_REMOTE", help="with --job: dvc exp push the finished job to GIT_REMOTE")
    return parser.parse_args()


def build_jobs(arguments: argparse.Namespace, committed_seed: int) -> list[sweeps.Job]:
    count = arguments.seeds if arguments.seeds is not None else {"seeds": 5, "loso": 1, "noise": 2}[arguments.kind]
    seeds = sweeps.seed_list(count, committed_seed)
    if arguments.kind == "seeds":
        return sweeps.seed_jobs(seeds)
    if arguments.kind == "loso":
        speakers = [speaker.strip() for speaker in arguments.speakers.split(",") if speaker.strip()]
        unknown = sorted(set(speakers) - set(SPEAKERS))
        if unknown or not speakers:
            raise ValueError(f"--speakers: {', '.join(unknown) or 'none given'}; allowed: {', '.join(SPEAKERS)}")
        return sweeps.loso_jobs(speakers, seeds)
    try:
        levels = [float(level) for level in arguments.levels.split(",") if level.strip()]
    except ValueError:
        raise ValueError(f"--levels: comma-separated numbers from 0 to 1, got {arguments.levels!r}") from None
    return sweeps.noise_jobs(levels, seeds)


def settings_of(job: sweeps.Job) -> dict[str, str]:
    return dict(setting.split("=", 1) for setting in job.settings)


def write_outputs(kind: str, jobs: list[sweeps.Job], metrics: dict[str, dict], command: str, timing: str) -> str:
    """Summarise the finished jobs' metrics (job name -> metrics files by name); returns the table."""
    summary_path, doc_path = OUTPUTS[kind]
    if kind == "seeds":
        summary = sweeps.variability({int(settings_of(job)["seed"]): metrics[job.name] for job in jobs})
        table = sweeps.variability_table(summary)
        title, about = "Variability over seeds", (
            f"The committed params under {len(summary['seeds'])} seeds ({', '.join(map(str, summary['seeds']))}): "
            "each a `dvc exp run` of the official split that differs from the committed run only in `seed` "
            "(autoencoder initialisation and noise, UMAP, mixtures, the episode stream). Mean +- sample sd, "
            "min - max over the seeds; `metrics/variability.json` holds every metric. `scripts/review.py` "
            "calls a change beyond noise only when it exceeds 2 of these sds.")
    elif kind == "loso":
        folds: dict[int, dict] = {}
        for job in jobs:
            settings = settings_of(job)
            speaker = settings["split.test_speakers"].strip("[]")
            folds.setdefault(int(settings["seed"]), {})[speaker] = generalisation.fold_measures(
                {path.as_posix(): metrics[job.name][name] for name, path in sweeps.METRICS_FILES.items()})
        summary = generalisation.summarise(folds)
        table = generalisation.markdown_table(folds)
        title, about = "Leave-one-speaker-out", (
            f"{len(next(iter(folds.values())))} folds x {len(folds)} seed(s). Each fold holds one speaker out of "
            "training entirely (`split.audio=leave_speakers_out`); every other number of params.yaml is the "
            "committed one. Cells: mean over seeds +- sd over seeds; the mean row's sd is that of the mean over "
            "folds, seed to seed.")
    else:
        runs = {(float(settings_of(job)["pairs.noise"]), int(settings_of(job)["seed"])): metrics[job.name]
                for job in jobs}
        summary = sweeps.noise_summary(runs, NOISE_METRICS)
        table = sweeps.noise_table(summary, NOISE_METRICS)
        title, about = "Pairing noise", (
            "Each level replaces that share of the train episodes' recordings with a recording of another "
            "digit (`pairs.noise`); every other number of params.yaml is the committed one. Mean +- sd over seeds.")
    storage.write_json(REPO / summary_path, summary)
    text = (f"# {title}\n\nWritten by `scripts/sweep.py`. Command:\n\n```bash\n{command}\n```\n\n{timing}\n\n"
            f"{about}\n\n{table}\n")
    with storage.atomic_path(REPO / doc_path) as temporary:
        temporary.write_text(text)
    return table


def prepare(repository: sweeps.Repository) -> None:
    """Before any job: the committed code and params (this clone's own `dvc repro` may have changed
    dvc.lock and metrics/), and a dvc.lock naming only outputs this clone's cache holds."""
    repository.require_clean()
    forgotten = repository.forget_missing_outputs()
    if forgotten:
        print(f"dvc.lock: not in this clone's cache, so restored from the run cache or built again: "
              f"{', '.join(forgotten)} (`dvc pull` first to use the DVC remote's)", flush=True)


def main() -> int:
    arguments = parse_arguments()
    params = load(REPO / "params.yaml")  # bad params fail here, before any job is queued
    try:
        jobs = build_jobs(arguments, params.seed)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if arguments.list:
        print("\n".join(job.name for job in jobs))
        return 0
    repository = sweeps.Repository(REPO)
    names = [job.name for job in jobs]
    started = time.monotonic()
    command = "python scripts/sweep.py " + shlex.join(sys.argv[1:])
    if arguments.job:
        job = next((job for job in jobs if job.name == arguments.job), None)
        if job is None:
            print(f"error: --job {arguments.job}: not a job of this sweep; its jobs: {', '.join(names)}",
                  file=sys.stderr)
            return 2
        try:
            prepare(repository)
        except ValueError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        repository.run_here(job)
        if arguments.push:
            repository.push(arguments.push, [job.name])
        print(f"job {job.name} done in {time.monotonic() - started:.0f} s")
        return 0
    if arguments.collect:
        repository.pull(arguments.collect)
        finished = repository.finished()
        missing = [name for name in names if name not in finished]
        if missing:
            print(f"error: not pushed yet: {', '.join(missing)}", file=sys.stderr)
            return 1
        timing = f"Collected from {len(jobs)} jobs pushed to `{arguments.collect}` (`dvc exp pull`)."
    else:
        try:
            prepare(repository)
        except ValueError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        finished = repository.finished()
        to_run = [job for job in jobs if job.name not in finished]
        # A rerun resumes: what is still queued or running is waited for, what failed is queued again.
        states = {name: state.lower() for name, state in repository.queue_states().items()}
        pending = [job.name for job in to_run if states.get(job.name) in ("queued", "running")]
        if pending:
            print(f"already in the queue: {', '.join(pending)}", flush=True)
        repository.forget([job.name for job in to_run if states.get(job.name) == "failed"])
        if to_run:
            repository.queue([job for job in to_run if job.name not in pending])
            repository.start_missing_workers(arguments.jobs)
            finished = repository.wait_for(names, started, arguments.jobs, arguments.poll_seconds)
        minutes = (time.monotonic() - started) / 60
        timing = (f"{len(to_run)} of {len(jobs)} jobs run by this command (the others were already finished for "
                  f"this commit) on {arguments.jobs} queue worker(s): **{minutes:.1f} min** of wall time.")
    metrics = {name: repository.metrics_of(finished[name]) for name in names}
    print(write_outputs(arguments.kind, jobs, metrics, command, timing))
    print(f"wrote {OUTPUTS[arguments.kind][0]} and {OUTPUTS[arguments.kind][1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
