"""The tiny project the pipeline tests share: this repository's code and dvc.yaml with tiny
params, as a fresh git + DVC repo, run on a fake mirror in the real formats.

conftest.py builds it once per test run (the session fixture ``pipeline``); tests that change
it work on a copy (``copy_project``)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from ruamel.yaml import YAML

from digit_concepts.core import params as params_module

REPO = Path(__file__).resolve().parents[1]
STAGE_SITE = Path(__file__).resolve().parent / "stage_site"  # sitecustomize.py for the stages tests run

VENV_BIN = Path(sys.executable).parent
DVC = str(VENV_BIN / "dvc")
# fakes.write_mnist writes 40 train and 20 test images; the last 10 train ones are validation.
N_TRAIN_IMAGES, N_VALIDATION_IMAGES, N_TEST_IMAGES = 30, 10, 20
# 10 digits x 2 speakers x recording indices 6 / 5 / 0-4 (train / validation / test)
N_TRAIN_AUDIO, N_VALIDATION_AUDIO, N_TEST_AUDIO = 10 * 2 * 1, 10 * 2 * 1, 10 * 2 * 5
# metrics/generalisation.json, once `scripts/sweep.py loso` has written it, is a committed input of the
# plot stage (the report shows it): copied when it exists, like the code.
PROJECT_FILES = ["dvc.yaml", "params.yaml", "stages", "src", ".dvc/config", ".dvc/.gitignore", ".dvc/plots",
                 ".dvcignore", ".gitignore", "metrics/generalisation.json"]

# Generic shrinking, whatever sections later stages add: any key of this name gets this value.
TINY_ANYWHERE = {"epochs": 1, "hidden_units": [8], "batch_size": 8, "reduced_dim": 2,
                 "griffin_lim_iterations": 4, "k": 4, "k_range": [2, 4], "umap_neighbors": 5, "silhouette_sample": 100,
                 "samples_per_concept": 2, "cross_modal_examples": 2,
                 "count": 2, "count_range": [2, 3], "within_neighbors": 5,  # the tiny FSDD has 2 speakers
                 "validation_images": N_VALIDATION_IMAGES, "validation_recordings": [5, 5]}
TINY_AUTOENCODER = {"hidden_units": [16], "latent_dim": 4, "batch_size": 8, "epochs": 1}


def _shrink(node):
    if isinstance(node, dict):
        for key in node:
            if key in TINY_ANYWHERE:
                node[key] = TINY_ANYWHERE[key]
            else:
                _shrink(node[key])


def write_tiny_params(source: Path, target: Path) -> None:
    yaml = YAML()  # round trip: keeps comments and layout, writes YAML 1.2 floats
    tree = yaml.load(source)
    _shrink(tree)
    for section in ("image_ae", "audio_ae"):
        tree[section].update(TINY_AUTOENCODER)
    tree["pairs"]["noise"] = 0.0
    with open(target, "w") as stream:
        yaml.dump(tree, stream)
    params_module.load(target)  # a bad override fails here, not deep inside dvc


def run(command: list[str], cwd: Path, env: dict, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def make_project(root: Path) -> Path:
    """A copy of this project's pipeline (code, dvc.yaml, tiny params) as a fresh git + DVC repo."""
    project = root / "project"
    for name in PROJECT_FILES:
        source = REPO / name
        if not source.exists():
            continue
        target = project / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, symlinks=True, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source, target)
    write_tiny_params(REPO / "params.yaml", project / "params.yaml")
    (project / ".dvc" / "config.local").write_text("[core]\n    check_update = false\n    analytics = false\n")
    env = environment()
    for command in (["git", "init", "-q"], ["git", "config", "user.email", "tests@example.invalid"],
                    ["git", "config", "user.name", "tests"], ["git", "config", "commit.gpgsign", "false"]):
        subprocess.run(command, cwd=project, env=env, check=True, capture_output=True)
    if not (project / ".dvc" / "config").exists():
        subprocess.run([DVC, "init", "-q"], cwd=project, env=env, check=True, capture_output=True)
    subprocess.run(["git", "add", "-A"], cwd=project, env=env, check=True, capture_output=True)
    subprocess.run(["git", "commit", "-q", "-m", "pipeline under test"], cwd=project, env=env, check=True,
                   capture_output=True)
    return project


ONE_THREAD = {name: "1" for name in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS",
                                      "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}


def environment(**extra: str) -> dict:
    """The environment of every DVC command and stage the pipeline tests run.

    PYTHONPATH: every Python process started here loads tests/stage_site/sitecustomize.py (it
    says what it does to the stages).

    ONE_THREAD: two test workers, each starting stages (and the LOSO folds two at a time), share
    two cores; TensorFlow's and BLAS's thread pools, two threads each in every process, would
    spin against each other for models this small. conftest.py sets the same in the test
    processes, so the tool run in-process computes as the stages did."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("DVC_", "DVCLIVE_", "DATA_")) and key != "PYTHONPATH"}
    env.update(PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}", VIRTUAL_ENV=str(VENV_BIN.parent),
               DVC_NO_ANALYTICS="1", PYTHONHASHSEED="0", DVCLIVE_LOGLEVEL="ERROR",
               GIT_CONFIG_NOSYSTEM="1", PYTHONPATH=str(STAGE_SITE), **ONE_THREAD)
    env.update(extra)
    return env


def copy_project(project: Path, target: Path) -> Path:
    """A copy of the built tiny project (git, DVC cache and outputs), for a test that changes it."""
    shutil.copytree(project, target, symlinks=True)
    return target


def run_tool(arguments: list, cwd: Path) -> subprocess.CompletedProcess:
    """``digit-concepts ARGUMENTS`` run in this process, from ``cwd``: ``cli.main``, which the
    console script and ``python -m digit_concepts`` call, with its exit status, stdout and stderr."""
    import contextlib
    import io

    from digit_concepts.tool import cli

    arguments = [str(argument) for argument in arguments]
    stdout, stderr, previous = io.StringIO(), io.StringIO(), os.getcwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            try:
                status = cli.main(arguments)
            except SystemExit as exit:  # argparse's usage errors
                status = exit.code
    finally:
        os.chdir(previous)
    return subprocess.CompletedProcess(arguments, status, stdout.getvalue(), stderr.getvalue())


# Project files that are not data: code (checked from the imports), params (the params section),
# DVC/git bookkeeping (dvclive reads the ignore files to see whether it runs inside a DVC repo).
NOT_DATA = (".git", ".dvc", ".tmp", "src", "stages", "params.yaml", "dvc.yaml", "dvc.lock", ".gitignore",
            ".dvcignore")


def under(path: str, folders) -> bool:
    return any(path == folder or path.startswith(folder.rstrip("/") + "/") for folder in folders)


def reads_log_name(command: list[str]) -> str:
    """The file stage_site/sitecustomize.py logs the reads of the stage ``python COMMAND...`` in."""
    return "_".join(command).replace("/", "_") + ".reads"
