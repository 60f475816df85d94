"""storage: whole-or-nothing writes through the scratch folder, stale scratch files, file modes."""

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import REPO
from stage_projects import project_folder

from digit_concepts.core import storage


def test_atomic_path_writes_in_the_scratch_folder_not_in_the_output_folder(tmp_path):
    project = project_folder(tmp_path / "project")
    target = project / "metrics" / "tables" / "cooccurrence.csv"
    with storage.atomic_path(target) as temporary:
        assert temporary.parent == project / storage.SCRATCH_DIR
        assert temporary.name.startswith(f"{os.getpid()}-cooccurrence.csv.") and temporary.suffix == ".csv"
        temporary.write_text("a,b\n")
        assert list(target.parent.iterdir()) == []  # nothing DVC would hash into the output folder
    assert target.read_text() == "a,b\n" and list((project / storage.SCRATCH_DIR).iterdir()) == []


def test_scratch_folder_is_ignored_by_git_and_dvc():
    assert "/.tmp/" in (REPO / ".gitignore").read_text().split()
    assert "/.tmp/" in (REPO / ".dvcignore").read_text().split()
    assert storage.SCRATCH_DIR == ".tmp"


def test_stale_temp_files_of_dead_writers_are_removed(tmp_path):
    project = project_folder(tmp_path / "project")
    scratch = project / storage.SCRATCH_DIR
    scratch.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (scratch / f"{dead.pid}-cooccurrence.csv.x1.csv").write_text("half")  # a writer killed mid-write
    (scratch / f"{dead.pid}-raw.x2").mkdir()
    (scratch / f"{dead.pid}-raw.x2" / "file").write_text("half")
    (scratch / f"{os.getppid()}-live.x3.csv").write_text("still being written")  # a live writer
    storage.write_json(project / "metrics" / "m.json", {"a": 1})
    assert sorted(path.name for path in scratch.iterdir()) == [f"{os.getppid()}-live.x3.csv"]


def test_outside_a_project_temp_files_stay_beside_the_target(tmp_path):
    with storage.atomic_path(tmp_path / "out" / "x.json") as temporary:
        assert temporary.parent == tmp_path / "out"
        temporary.write_text("{}")
    assert (tmp_path / "out" / "x.json").exists()


def test_outputs_are_0644_and_folders_0755(tmp_path):
    previous = os.umask(0o022)
    try:
        project = project_folder(tmp_path / "project")
        storage.write_json(project / "metrics" / "m.json", {"a": 1})
        storage.write_npz(project / "data" / "a.npz", x=np.arange(3))
        with storage.atomic_directory(project / "data" / "raw") as staging:
            (staging / "file.txt").write_text("x")
            storage.write_csv(staging / "table.csv", pd.DataFrame({"a": [1]}))
    finally:
        os.umask(previous)
    for path in (project / "metrics" / "m.json", project / "data" / "a.npz", project / "data" / "raw" / "table.csv"):
        assert path.stat().st_mode & 0o777 == 0o644, path
    assert (project / "data" / "raw").stat().st_mode & 0o777 == 0o755
    assert list((project / storage.SCRATCH_DIR).iterdir()) == []


def test_a_failed_write_leaves_neither_target_nor_temp_file(tmp_path):
    project = project_folder(tmp_path / "project")
    with pytest.raises(RuntimeError):
        with storage.atomic_directory(project / "data" / "raw") as staging:
            (staging / "half").write_text("x")
            raise RuntimeError("killed")
    assert not (project / "data" / "raw").exists() and list((project / storage.SCRATCH_DIR).iterdir()) == []


def test_aligned_arrays_start_on_64_bytes_and_keep_their_values():
    empty = storage.aligned_empty((3, 5), np.float32)
    assert empty.ctypes.data % storage.ALIGNMENT == 0 and empty.shape == (3, 5) and empty.dtype == np.float32
    values = np.arange(1, 16, dtype=np.float64)[1:].reshape(2, 7)  # an offset view: not aligned
    copy = storage.aligned(values)
    assert copy.ctypes.data % storage.ALIGNMENT == 0 and copy.flags.c_contiguous
    np.testing.assert_array_equal(copy, values)
    assert storage.aligned(copy) is copy  # already aligned: no copy
