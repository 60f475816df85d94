"""Benchmark: the whole pipeline from scratch on the real data, one table of results.

Produced: docs/benchmark.md (the whole page, "# Benchmark": the measures table and the stage
table) and docs/benchmark.json, both a record of an earlier learner (commit 335a281).
Command, from the repository root (commit first: the copy is made from what git tracks):

    DATA_MIRROR=../shared/datasets .venv/bin/python experiments/benchmark.py

Runs in a temporary copy of the committed project (clean DVC cache), stage by stage, timing
each and reading its peak memory (RSS of the stage's process tree); then a no-op `dvc repro`;
then `dvc exp run -S pairs.noise=0.2` for the noise-robustness row. Writes
docs/benchmark.json (numbers) and docs/benchmark.md (the table): a dated record of one
run, kept beside the docs rather than in metrics/, which holds only what the committed lock produced, and prints the table.
A measure the current metrics do not have (the voices' ARI when
`cluster.audio_reference.voices.count_selection` is none) is shown as "-".
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STAGES = ["download", "preprocess", "train_image_ae", "train_audio_ae", "encode", "cluster", "relate",
          "convergence", "plot"]

# (label, metrics file, key path, best known, target, higher is better)
MEASURES = [
    ("MNIST clustering ACC (test)", "cluster.json", ("image", "acc"), "0.948 (N2D)", 0.97, True),
    ("FSDD clustering ACC, audio alone, k=10", "cluster.json", ("audio_reference", "acc"), "~0.71", 0.80, True),
    ("audio alone: voices found, ARI against the speakers", "cluster.json", ("audio_reference", "voice_speaker_ari"), "-", None, True),
    ("FSDD clustering, over-clustered audio (k=300): train-named purity", "cluster.json", ("audio", "purity"), "-", None, True),
    ("audio ACC through images", "relate.json", ("audio_acc_through_images",), "1.00 (1 speaker)", 0.97, True),
    ("image ACC through audio", "relate.json", ("image_acc_through_audio",), "0.956", 0.97, True),
    ("fused ACC", "convergence.json", ("fused_acc",), "~0.95 (ReSOM)", 0.99, True),
    ("coherence image -> audio", "convergence.json", ("coherence_image_to_audio",), "0.86 (MMVAE)", 0.90, True),
    ("coherence audio -> image", "convergence.json", ("coherence_audio_to_image",), "0.69 (MMVAE)", 0.90, True),
    ("image concepts discovered", "cluster.json", ("image", "n_clusters"), "10", 10, None),
    ("audio concepts (merged through co-occurrence)", "convergence.json", ("n_audio_concepts_merged",), "10", 10, None),
]


def run(command: list[str], cwd: Path, env: dict) -> tuple[float, float, str]:
    """Wall seconds, peak RSS in MB of the process tree, and output of one command."""
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.perf_counter() - start
    if process.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{output[-4000:]}")
    return elapsed, usage.ru_maxrss / 1024.0, output


def copy_project(target: Path) -> None:
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    for name in tracked:
        destination = target / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, destination)
    for command in (["git", "init", "-q"], ["git", "add", "-A"],
                    ["git", "-c", "user.name=benchmark", "-c", "user.email=benchmark@example.invalid",
                     "commit", "-qm", "benchmark"]):
        subprocess.run(command, cwd=target, check=True, capture_output=True)


def lookup(folder: Path, file: str, keys: tuple) -> float | None:
    """The metric at ``keys`` in metrics/``file``; None when this learner does not write it."""
    value = json.loads((folder / "metrics" / file).read_text())
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return float(value)


def main() -> None:
    if not os.environ.get("DATA_MIRROR"):
        print("note: DATA_MIRROR is not set; downloading from the official hosts", file=sys.stderr)
    env = dict(os.environ, DVC_NO_ANALYTICS="1", PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    if env.get("DATA_MIRROR") and "://" not in env["DATA_MIRROR"]:
        env["DATA_MIRROR"] = str(Path(env["DATA_MIRROR"]).resolve())
    with tempfile.TemporaryDirectory(prefix="benchmark-") as scratch:
        project = Path(scratch) / "project"
        copy_project(project)
        stages = {}
        for stage in STAGES:
            seconds, megabytes, _ = run(["dvc", "repro", "--single-item", stage], project, env)
            stages[stage] = {"seconds": round(seconds, 1), "peak_rss_mb": round(megabytes)}
            print(f"{stage:16s} {seconds:7.1f} s  {megabytes:7.0f} MB", flush=True)
        noop_seconds, _, _ = run(["dvc", "repro"], project, env)
        results = {label: lookup(project, file, keys) for label, file, keys, *_ in MEASURES}
        subprocess.run(["git", "add", "-A"], cwd=project, check=True, capture_output=True)
        subprocess.run(["git", "-c", "user.name=benchmark", "-c", "user.email=benchmark@example.invalid",
                        "commit", "-qm", "baseline results"], cwd=project, check=True, capture_output=True)
        noise_seconds, _, _ = run(["dvc", "exp", "run", "-S", "pairs.noise=0.2"], project, env)
        noisy = {key: lookup(project, "relate.json", (key,)) for key in ("audio_acc_through_images", "image_acc_through_audio")}

    total = sum(stage["seconds"] for stage in stages.values())
    drop = max(100 * (results[f"{name} ACC through {other}"] - noisy[key])
               for name, other, key in (("audio", "images", "audio_acc_through_images"),
                                        ("image", "audio", "image_acc_through_audio")))
    peak = max(stage["peak_rss_mb"] for stage in stages.values())
    rows = [(label, best, target, results[label]) for label, _, _, best, target, _ in MEASURES]
    rows += [("drop of through-ACCs at pairs.noise=0.2 (points)", "-", 2.0, round(drop, 2)),
             ("full dvc repro from scratch (s)", "-", 600, round(total, 1)),
             ("no-op dvc repro (s)", "-", 3, round(noop_seconds, 2)),
             ("peak RSS of the heaviest stage (MB)", "4300 (original design)", 2048, peak)]
    lines = ["| measure | best known | target | reached |", "|---|---|---|---|"]
    lines += [f"| {label} | {best} | {'-' if target is None else target} | {'-' if value is None else f'{value:.4g}'} |"
              for label, best, target, value in rows]
    lines += ["", "| stage | wall time (s) | peak RSS (MB) |", "|---|---|---|"]
    lines += [f"| {stage} | {values['seconds']} | {values['peak_rss_mb']} |" for stage, values in stages.items()]
    table = "\n".join(lines)
    print(table)
    (REPO / "docs").mkdir(exist_ok=True)
    (REPO / "docs" / "benchmark.md").write_text(
        "# Benchmark\n\nProduced by `experiments/benchmark.py` (2 CPU cores, real data, clean cache; "
        f"the noisy run took {noise_seconds:.0f} s).\n\n" + table + "\n")
    (REPO / "docs" / "benchmark.json").write_text(json.dumps(
        {"measures": {label: value for label, _, _, value in rows}, "stages": stages,
         "noise_0.2": noisy}, indent=2) + "\n")


if __name__ == "__main__":
    main()
