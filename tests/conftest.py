"""Shared fixtures: a loopback HTTP server that is always shut down, and the tiny pipeline,
built once per test run and shared by every test that only reads it."""

import contextlib
import functools
import http.server
import os
import shutil
import threading
from pathlib import Path

import pytest
from filelock import FileLock

from tiny_project import DVC, ONE_THREAD, REPO, environment, make_project, run  # noqa: F401, I001

os.environ.update(ONE_THREAD)  # before numpy's BLAS or TensorFlow starts here (tiny_project.environment says why)

from fakes import write_checksums, write_mirror  # noqa: E402 - imports numpy


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    timeout = 10  # seconds a stalled connection may hold a handler thread

    def log_message(self, format, *args):  # noqa: A002 - signature of the base class
        pass


@contextlib.contextmanager
def serve_directory(directory: Path):
    """Serve ``directory`` on 127.0.0.1 at an ephemeral port; yield the base URL (ends in '/')."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def http_root(tmp_path):
    """(folder, base URL): files written into the folder are served over HTTP for this test."""
    folder = tmp_path / "served"
    folder.mkdir()
    with serve_directory(folder) as base:
        yield folder, base


def _shared_folder(tmp_path_factory, name: str) -> Path:
    """A folder of this test run that every pytest-xdist worker sees (each has a base of its own)."""
    base = tmp_path_factory.getbasetemp()
    return (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / name


@pytest.fixture(scope="session")
def mirror(tmp_path_factory):
    """(folder, checksums file) of a tiny fake mirror in the real formats, written once per test run."""
    root = _shared_folder(tmp_path_factory, "mirror")
    checksums = root.parent / f"{root.name}-checksums.json"
    with FileLock(f"{root}.lock"):
        if not checksums.is_file():
            shutil.rmtree(root, ignore_errors=True)
            root.mkdir(parents=True)
            write_checksums(checksums, write_mirror(root))
    return root, checksums


def _built_once(shared: Path, env: dict, prepare=None) -> str:
    """`dvc repro` of a fresh tiny project in ``shared``/project, once per test run: the first
    worker to ask builds it, under a file lock, and the others wait for it. ``prepare(shared)``
    runs first. Returns the output of `dvc repro`."""
    record, failure = shared / "dvc-repro-output.txt", shared.parent / f"{shared.name}-failed.txt"
    with FileLock(f"{shared}.lock"):
        if not record.is_file() and not failure.is_file():  # a failed build is not tried again
            shutil.rmtree(shared, ignore_errors=True)
            project = make_project(shared)
            if prepare is not None:
                prepare(shared)
            result = run([DVC, "repro"], project, env)
            output = result.stdout + result.stderr
            (record if result.returncode == 0 else failure).write_text(output)
    assert not failure.is_file(), f"dvc repro failed:\n{failure.read_text()[-8000:]}"
    return record.read_text()


@pytest.fixture(scope="session")
def pipeline(tmp_path_factory, mirror):
    """Run `dvc repro` (every stage) once per test run, the mirror served over HTTP; yield
    (project, env, output). Built by whichever worker needs it first; the others serve the same
    mirror themselves. Read it only: a test that changes it, or runs DVC in it (DVC locks the
    repository), works on ``tiny_project.copy_project``."""
    root, checksums = mirror
    shared = _shared_folder(tmp_path_factory, "tiny-pipeline")
    with serve_directory(root) as base:
        env = environment(DATA_MIRROR=base, DATA_CHECKSUMS=str(checksums))
        yield shared / "project", env, _built_once(shared, env)


@pytest.fixture(scope="session")
def audited_pipeline(tmp_path_factory, mirror):
    """A second tiny pipeline, built from scratch apart from ``pipeline`` (the mirror read as a
    folder, the file:// path), with the files each stage reads logged (READS_LOG_DIR, read by
    tests/stage_site/sitecustomize.py): (project, env, folder of the logs). Compared with
    ``pipeline``; the LOSO test runs its folds from a copy of it."""
    root, checksums = mirror
    shared = _shared_folder(tmp_path_factory, "audited-pipeline")
    env = environment(DATA_MIRROR=str(root), DATA_CHECKSUMS=str(checksums))
    _built_once(shared, dict(env, READS_LOG_DIR=str(shared / "reads")),
                lambda folder: (folder / "reads").mkdir())
    return shared / "project", env, shared / "reads"


# The order the two pytest-xdist workers take the tests in (`-n auto --dist loadgroup` in
# pytest.ini: one test at a time, to whichever worker is free), measured with `pytest --durations=20`
# (docs/testing.md). The slow tier first, longest first: the LOSO test's worker builds the audited
# pipeline and runs the folds from it, while the other builds the shared pipeline for the next one.
# Then the fast tier: one pipeline test (its worker builds the shared pipeline, when the slow tier
# did not) while the other worker runs the unit tests, and the other pipeline tests last.
FIRST = "test_leave_one_speaker_out_runs_every_fold_as_an_experiment_and_summarises"
FIRST_FAST = "test_every_stage_ran_and_every_output_exists"
SLOWEST_UNIT_TESTS = ("test_umap_concepts_reach_new_codes_by_a_saved_neighbour_vote",)
SLOWEST_PIPELINE_TESTS = (
    "test_a_fresh_clone_sweeps_after_its_own_repro_without_retraining_the_image_side",
    "test_a_sweep_spread_over_two_machines_collects_what_one_machine_computes",
    "test_a_job_on_a_fresh_clone_with_an_empty_remote_builds_what_it_needs",
    "test_a_sweep_runs_as_a_slurm_array_and_collects_into_the_one_machine_summary",
    "test_log_mel_features_retrain_only_the_audio_branch",
    "test_nothing_is_fitted_on_the_test_split",
    "test_permuting_scoring_labels_changes_no_decision",
    "test_push_pull_and_experiment_shared_between_clones_without_recomputing",
)


def pytest_collection_modifyitems(items):
    slowest = {name: position for position, name in enumerate(SLOWEST_PIPELINE_TESTS + SLOWEST_UNIT_TESTS)}

    def turn(item) -> tuple[int, int]:
        if item.originalname == FIRST:
            return 0, 0
        if item.get_closest_marker("slow"):
            return 1, slowest.get(item.originalname, len(slowest))
        if item.originalname == FIRST_FAST:
            return 2, 0
        group = 4 if item.get_closest_marker("pipeline") else 3
        return group, slowest.get(item.originalname, len(slowest))

    items.sort(key=turn)  # stable: each group keeps its collection order


def pytest_terminal_summary(terminalreporter):
    """The try-it page's latencies, as tests/test_page.py measured them in the browser (printed,
    never asserted: the goals live in scripts/benchmark_page.py's output)."""
    lines = [value for report in terminalreporter.stats.get("passed", [])
             for name, value in getattr(report, "user_properties", []) if name == "page latency"]
    if lines:
        terminalreporter.write_sep("-", "try-it page latency (tiny learner, this machine)")
        for line in lines:
            terminalreporter.write_line(line)
