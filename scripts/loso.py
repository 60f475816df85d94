"""Leave-one-speaker-out, as real DVC experiments: one queued `dvc exp run` per held-out speaker.

    DATA_MIRROR=../shared/datasets python scripts/loso.py            # all six FSDD speakers
    python scripts/loso.py --speakers george,theo --jobs 1           # some of them

Each fold is `dvc exp run convergence --queue -S split.audio=leave_speakers_out
-S split.test_speakers=[<speaker>]` of the committed params (commit first: queued runs copy what
git tracks); the image branch comes from the run cache, so a fold retrains only the audio side.
A fold stops at `convergence`, the last stage a summary measure comes from: the report (`plot`,
a minute and a half a fold on the real data) is drawn only for a fold one applies
(`dvc exp apply <fold>`, then `dvc repro plot`). When every fold is done it
writes metrics/generalisation.json (flat: loso.<measure>.mean / .min / .<speaker>) and
docs/loso.md (the command, the wall time, the per-fold table), and prints the table.
The folds stay as experiments: `dvc exp show`, `dvc exp apply loso-<speaker>-<run>`.
"""

import argparse
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

from digit_concepts import generalisation, storage
from digit_concepts.params import SPEAKERS, load

REPO = Path(__file__).resolve().parents[1]
SUMMARY = Path("metrics/generalisation.json")
REPORT = Path("docs/loso.md")
LAST_STAGE = "convergence"  # every measure of generalisation.MEASURES is written by then
POLL_SECONDS = 15  # how often the queue is read (--poll-seconds)
RESTART_AFTER_SECONDS = 30  # short of workers this long (not just between two folds): start them again


def run(command: list[str], check: bool = True) -> str:
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise RuntimeError(f"{shlex.join(command)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def fold_name(speaker: str, run_id: str) -> str:
    return f"loso-{speaker}-{run_id}"


def queue_folds(speakers: list[str], run_id: str) -> None:
    for speaker in speakers:
        run(["dvc", "exp", "run", LAST_STAGE, "--queue", "--name", fold_name(speaker, run_id),
             "-S", "split.audio=leave_speakers_out", "-S", f"split.test_speakers=[{speaker}]"])
        print(f"queued fold {fold_name(speaker, run_id)}", flush=True)


def experiment_refs(names: list[str]) -> dict[str, str]:
    """Git ref of each finished experiment, by name (experiments live under refs/exps/)."""
    refs = run(["git", "for-each-ref", "--format=%(refname)", "refs/exps/"]).split()
    return {name: ref for ref in refs for name in names if ref.rsplit("/", 1)[-1] == name}


def start_workers(jobs: int) -> None:
    # The worker outlives `dvc queue start` and would hold a captured pipe open until every fold
    # is done, hiding the progress lines: let it write nowhere (`dvc queue logs` has it all).
    subprocess.run(["dvc", "queue", "start", "--jobs", str(jobs)], cwd=REPO, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_for(names: list[str], started: float, jobs: int, poll_seconds: float = POLL_SECONDS) -> dict[str, str]:
    """Poll the queue until every fold has finished; RuntimeError naming the folds that failed.
    A worker that exits while folds are still queued (seen with 2 workers) is started again."""
    short_since = None  # since when fewer folds run than there are workers, with folds queued
    while True:
        status = run(["dvc", "queue", "status"], check=False)
        rows = {line.split()[1]: line.split()[-1] for line in status.splitlines()
                if len(line.split()) >= 3 and line.split()[1] in names}
        failed = [name for name, state in rows.items() if state.lower() == "failed"]
        if failed:
            raise RuntimeError(f"folds failed: {', '.join(failed)} (see `dvc queue logs <name>`)")
        refs = experiment_refs(names)
        print(f"[{time.monotonic() - started:6.0f} s] {len(refs)}/{len(names)} folds done"
              + "".join(f"; {name} {state}" for name, state in rows.items() if state.lower() == "running"),
              flush=True)
        if len(refs) == len(names):
            return refs
        states = [state.lower() for state in rows.values()]
        short = "queued" in states and states.count("running") < jobs
        short_since = (short_since or time.monotonic()) if short else None
        if short_since is not None and time.monotonic() - short_since >= RESTART_AFTER_SECONDS:
            start_workers(jobs)
            short_since = None
        time.sleep(poll_seconds)


def fold_metrics(ref: str) -> dict[str, dict]:
    """The metrics files a fold committed (they are git-tracked, cache: false)."""
    files = {}
    for _, path, _ in generalisation.MEASURES:
        if path not in files:
            files[path] = json.loads(run(["git", "show", f"{ref}:{path}"]))
    return files


def write_report(command: str, seconds: float, folds: dict, jobs: int) -> None:
    table = generalisation.markdown_table(folds)
    storage.write_json(REPO / SUMMARY, generalisation.summarise(folds))
    text = (f"# Leave-one-speaker-out\n\nWritten by `scripts/loso.py`. Command:\n\n```bash\n{command}\n```\n\n"
            f"{len(folds)} folds as queued `dvc exp run` experiments ({jobs} worker(s)) took "
            f"**{seconds / 60:.1f} min** of wall time. Each fold holds one speaker out of training entirely "
            f"(`split.audio=leave_speakers_out`); every other number of params.yaml is the committed one.\n\n"
            f"{table}\n")
    with storage.atomic_path(REPO / REPORT) as temporary:
        temporary.write_text(text)
    print(table)


def main() -> int:
    parser = argparse.ArgumentParser(description="Leave-one-speaker-out folds as queued DVC experiments.")
    parser.add_argument("--speakers", default=",".join(SPEAKERS),
                        help="comma-separated speakers to hold out, one fold each (default: all six)")
    parser.add_argument("--jobs", type=int, default=1, help="queue workers (each run already uses both cores)")
    parser.add_argument("--poll-seconds", type=float, default=POLL_SECONDS, help="how often to read the queue")
    arguments = parser.parse_args()
    speakers = [speaker.strip() for speaker in arguments.speakers.split(",") if speaker.strip()]
    load(REPO / "params.yaml")  # bad params fail here, before any fold is queued
    unknown = sorted(set(speakers) - set(SPEAKERS))
    if unknown or not speakers:
        print(f"error: --speakers: {', '.join(unknown) or 'none given'}; allowed: {', '.join(SPEAKERS)}",
              file=sys.stderr)
        return 2
    if run(["git", "status", "--porcelain", "--untracked-files=no"]).strip():
        print("error: commit first: queued experiments run the committed code and params", file=sys.stderr)
        return 2
    command = ("python scripts/loso.py" + (f" --speakers {arguments.speakers}" if arguments.speakers != ",".join(SPEAKERS) else "")
               + (f" --jobs {arguments.jobs}" if arguments.jobs != 1 else ""))
    started = time.monotonic()
    run_id = time.strftime("%Y%m%d%H%M%S")
    names = [fold_name(speaker, run_id) for speaker in speakers]
    queue_folds(speakers, run_id)
    start_workers(arguments.jobs)
    refs = wait_for(names, started, arguments.jobs, arguments.poll_seconds)
    folds = {speaker: generalisation.fold_measures(fold_metrics(refs[fold_name(speaker, run_id)]))
             for speaker in speakers}
    write_report(command, time.monotonic() - started, folds, arguments.jobs)
    print(f"wrote {SUMMARY} and {REPORT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
