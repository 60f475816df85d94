"""Shared fixtures: a loopback HTTP server that is always shut down, and the tiny pipeline,
built once per test run and shared by every test that only reads it."""

import contextlib
import functools
import http.server
import threading
from pathlib import Path

import pytest

from fakes import write_checksums, write_mirror
from tiny_project import DVC, REPO, environment, make_project, run  # noqa: F401 - REPO for the tests


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


@pytest.fixture(scope="session")
def mirror(tmp_path_factory):
    """(folder, checksums file) of a tiny fake mirror in the real formats."""
    root = tmp_path_factory.mktemp("mirror")
    checksums = write_mirror(root)
    return root, write_checksums(root.parent / f"{root.name}-checksums.json", checksums)


@pytest.fixture(scope="session")
def pipeline(tmp_path_factory, mirror):
    """Run `dvc repro` (every stage) once per test run, the mirror served over HTTP; yield
    (project, env, output). Read it only: a test that changes it works on tiny_project.copy_project."""
    root, checksums = mirror
    project = make_project(tmp_path_factory.mktemp("pipeline"))
    with serve_directory(root) as base:
        env = environment(DATA_MIRROR=base, DATA_CHECKSUMS=str(checksums))
        result = run([DVC, "repro"], project, env)
        output = result.stdout + result.stderr
        assert result.returncode == 0, f"dvc repro failed:\n{output[-8000:]}"
        yield project, env, output
