"""Sweeps on fresh clones of a published tiny project: a job with an empty DVC remote, a sweep
after this clone's own `dvc repro` (other float bits than the committed ones), and a sweep as a
real Slurm array on this machine's one-node Slurm (scripts/slurm_local.sh)."""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tiny_project import DVC, REPO, copy_project
from tiny_project import run as _run

pytestmark = [pytest.mark.pipeline, pytest.mark.slow]

SWEEP = "scripts/sweep.py"
SWEEP_FILES = ("scripts/sweep.py", "scripts/slurm_sweep.sbatch")
IMAGE_TRAINED = "Running stage 'train_image_ae'"


def _runner(env: dict):
    def run(*command, cwd: Path, timeout: int = 600, check: bool = True, extra: dict | None = None) -> str:
        result = _run([str(part) for part in command], cwd, dict(env, **(extra or {})), timeout=timeout)
        output = result.stdout + result.stderr
        if check:
            assert result.returncode == 0, f"{' '.join(map(str, command))}:\n{output[-6000:]}"
        return output
    return run


def _publish(project: Path, tmp_path: Path, env: dict, push_outputs: bool) -> tuple[Path, Path, str]:
    """A copy of the built tiny project with its results and the sweep's files committed, pushed
    to a bare git remote; its outputs pushed to the committed default DVC remote (beside the
    clones, in tmp_path) only when ``push_outputs``. Returns (source, origin, branch)."""
    run = _runner(env)
    source = copy_project(project, tmp_path / "source")
    for name in SWEEP_FILES:
        (source / name).parent.mkdir(exist_ok=True)
        shutil.copy2(REPO / name, source / name)
    (source / "docs").mkdir(exist_ok=True)
    run("git", "add", "-A", cwd=source)
    run("git", "commit", "-q", "-m", "results and the sweep command", cwd=source)
    branch = run("git", "rev-parse", "--abbrev-ref", "HEAD", cwd=source).strip()
    origin = tmp_path / "origin.git"
    run("git", "init", "-q", "--bare", f"--initial-branch={branch}", origin, cwd=tmp_path)
    run("git", "remote", "add", "origin", origin, cwd=source)
    run("git", "push", "-q", "origin", branch, cwd=source)
    if push_outputs:
        run(DVC, "push", "-q", cwd=source)
    return source, origin, branch


def _clone(origin: Path, branch: str, target: Path, env: dict, config_local: Path) -> Path:
    """A fresh clone: the committed files only, an empty DVC cache."""
    run = _runner(env)
    run("git", "clone", "-q", "--branch", branch, origin, target, cwd=target.parent)
    (target / ".dvc" / "config.local").write_text(config_local.read_text())
    for key, value in (("user.email", "tests@example.invalid"), ("user.name", "tests")):
        run("git", "config", key, value, cwd=target)
    return target


def _refs(clone: Path, env: dict) -> list[str]:
    return _runner(env)("git", "for-each-ref", "--format=%(refname)", "refs/exps/", cwd=clone).split()


def test_a_job_on_a_fresh_clone_with_an_empty_remote_builds_what_it_needs(pipeline, tmp_path):
    """Reported: `scripts/sweep.py loso --job ...` on a fresh clone whose DVC remote held nothing
    ran every stage, then failed committing the experiment: DVC loads the committed `plots`
    folder (dvc.yaml's top-level plots) that a job stopping at convergence never builds. The
    sweep now drops from dvc.lock what the cache lacks, so the job builds what it needs."""
    project, env, _ = pipeline
    run = _runner(env)
    _, origin, branch = _publish(project, tmp_path, env, push_outputs=False)
    clone = _clone(origin, branch, tmp_path / "clone", env, project / ".dvc" / "config.local")
    run(DVC, "pull", "-q", cwd=clone, check=False)  # the batch recipe's `dvc pull || true`: nothing there

    # The job as it ran before, a bare `dvc exp run` to convergence: every stage runs, then it fails.
    raw = run(DVC, "exp", "run", "convergence", "--name", "noise-0.5-seed-42", "-S", "pairs.noise=0.5", cwd=clone,
              check=False)
    assert "Running stage 'convergence'" in raw and "failed to load directory ('plots',)" in raw, raw[-4000:]
    assert not [ref for ref in _refs(clone, env) if ref.endswith("/noise-0.5-seed-42")]

    # Through the sweep: the same job succeeds (what the failed run computed comes from the run cache).
    run("git", "checkout", "-q", "--", ".", cwd=clone)
    output = run(sys.executable, SWEEP, "noise", "--levels", "0.5", "--seeds", "1", "--job", "noise-0.5-seed-42",
                 cwd=clone)
    forgotten = next(line for line in output.splitlines() if line.startswith("dvc.lock: not in this clone's cache"))
    assert "plots" in forgotten, output[-4000:]
    # The run cache restores the stages it keeps (a stage with a cache: false output, from encode
    # on, is not run-cached: dvc/stage/__init__.py, Stage.run).
    for stage in ("preprocess", "train_image_ae", "train_audio_ae"):
        assert f"Running stage '{stage}'" not in output, output[-4000:]
    assert "Stage 'train_audio_ae' is cached - skipping run" in output, output[-4000:]
    assert any(ref.endswith("/noise-0.5-seed-42") for ref in _refs(clone, env)), output[-4000:]


def test_a_fresh_clone_sweeps_after_its_own_repro_without_retraining_the_image_side(pipeline, tmp_path):
    """On a fresh clone whose `dvc repro` gave other float bits than the committed dvc.lock
    (oneDNN off stands for another CPU), the sweep starts without a commit of those bits, and two
    pairing-noise cells, one from this clone's dvc.lock and one after `git checkout dvc.lock
    metrics`, restore the image autoencoder (deps and params unchanged) instead of retraining it."""
    project, env, _ = pipeline
    other_cpu = dict(env, TF_ENABLE_ONEDNN_OPTS="0")  # other kernels, other last bits
    run = _runner(other_cpu)
    _, origin, branch = _publish(project, tmp_path, env, push_outputs=False)
    clone = _clone(origin, branch, tmp_path / "clone", env, project / ".dvc" / "config.local")
    assert IMAGE_TRAINED in run(DVC, "repro", cwd=clone)
    changed = run("git", "status", "--porcelain", "--untracked-files=no", cwd=clone)
    assert "dvc.lock" in changed and "metrics/" in changed, changed

    try:
        for level in ("0.5", "0.7"):
            if level == "0.7":  # the committed dvc.lock: outputs this clone never had
                run("git", "checkout", "-q", "HEAD", "--", "dvc.lock", "metrics", cwd=clone)
            output = run(sys.executable, SWEEP, "noise", "--levels", level, "--seeds", "1", "--poll-seconds", "2",
                         cwd=clone, timeout=900)
            assert "commit first" not in output
            log = run(DVC, "queue", "logs", f"noise-{level}-seed-42", cwd=clone)
            assert "Running stage 'preprocess'" in log, log[-4000:]  # the cell really ran
            assert IMAGE_TRAINED not in log, log[-4000:]
            assert ("Stage 'train_image_ae' didn't change" in log
                    or "Stage 'train_image_ae' is cached - skipping run" in log), log[-4000:]
    finally:
        run(DVC, "queue", "stop", "--kill", cwd=clone, check=False)


def _slurm_or_skip() -> None:
    reason = None
    missing = [tool for tool in ("sbatch", "sinfo", "squeue") if shutil.which(tool) is None]
    if missing:
        reason = f"no Slurm here ({', '.join(missing)} missing); scripts/slurm_local.sh installs and starts one"
    else:
        states = subprocess.run(["sinfo", "--noheader", "--format=%t"], capture_output=True, text=True,
                                check=False).stdout.split()
        if not {"idle", "mix"} & set(states):
            reason = f"no Slurm node up (sinfo: {' '.join(states) or 'nothing'}); start one: scripts/slurm_local.sh"
    if reason:
        if os.environ.get("REQUIRE_SLURM"):  # .ci/run installs and starts it, and sets this
            pytest.fail(reason)
        pytest.skip(reason)


def test_a_sweep_runs_as_a_slurm_array_and_collects_into_the_one_machine_summary(pipeline, tmp_path):
    """Four pairing-noise jobs as a real `sbatch --array=0-3` of scripts/slurm_sweep.sbatch: each
    task clones the git remote, pulls, runs its job and pushes it; one clone then collects them
    (`--collect`), after a commit of docs, into metrics/noise.json and docs/noise.md."""
    _slurm_or_skip()
    project, env, _ = pipeline
    run = _runner(env)
    source, origin, _ = _publish(project, tmp_path, env, push_outputs=True)
    sweep = ["noise", "--levels", "0,0.3,0.5,0.7", "--seeds", "1"]
    jobs = run(sys.executable, SWEEP, *sweep, "--list", cwd=source).split()
    assert len(jobs) == 4
    logs = tmp_path / "logs"
    logs.mkdir()
    task_env = {"GIT_REMOTE": str(origin), "COMMIT": run("git", "rev-parse", "HEAD", cwd=source).strip(),
                "SWEEP": " ".join(sweep), "WORK_ROOT": str(tmp_path / "work"),
                "DVC_REMOTE": str(tmp_path / "digit-concepts-dvc-storage")}
    (tmp_path / "work").mkdir()
    # One core a task: two tasks side by side on a 2-core node.
    array = run("sbatch", "--parsable", f"--array=0-{len(jobs) - 1}", "--cpus-per-task=1",
                f"--output={logs}/slurm-sweep-%A_%a.out", "scripts/slurm_sweep.sbatch", cwd=source,
                extra=task_env).strip().split(";")[0]
    deadline = time.monotonic() + 1200
    try:
        while run("squeue", "--noheader", f"--jobs={array}", cwd=source, check=False).strip():
            assert time.monotonic() < deadline, run("squeue", cwd=source, check=False)
            time.sleep(3)
    finally:
        run("scancel", array, cwd=source, check=False)
    outputs = {path.name: path.read_text() for path in sorted(logs.glob("slurm-sweep-*.out"))}
    assert len(outputs) == len(jobs), outputs
    for job in jobs:
        assert any(f"job {job} done" in text for text in outputs.values()), "\n".join(outputs.values())[-6000:]

    # A commit of docs after the submission (the pipeline files unchanged) does not orphan the jobs.
    (source / "docs" / "sweep-notes.md").write_text("Submitted before this commit.\n")
    run("git", "add", "docs/sweep-notes.md", cwd=source)
    run("git", "commit", "-q", "-m", "notes on the sweep", cwd=source)
    run(sys.executable, SWEEP, *sweep, "--collect", "origin", cwd=source)
    summary = json.loads((source / "metrics" / "noise.json").read_text())
    assert sorted(summary, key=float) == ["0", "0.3", "0.5", "0.7"]
    assert all(level["relate.audio_acc_through_images"]["n"] == 1 for level in summary.values())
    assert "Collected from 4 jobs pushed to `origin`" in (source / "docs" / "noise.md").read_text()
