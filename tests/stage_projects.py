"""Folders that look like the project to storage and to stage scripts, and a stage script run in
one, for the tests of whole-or-nothing writes, downloads and params errors (no DVC run)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tiny_project import REPO


def project_folder(root: Path) -> Path:
    """A folder that looks like the project to storage (a .dvc folder) and to stage scripts (dvc.yaml)."""
    (root / ".dvc").mkdir(parents=True)
    (root / "dvc.yaml").write_text("stages: {}\n")
    return root


def stage_copy(tmp_path: Path) -> Path:
    """A project folder holding this checkout's stages, package and params, and a folder beside it
    (``tmp_path``/elsewhere) to start stages from."""
    project = project_folder(tmp_path / "project")
    shutil.copytree(REPO / "stages", project / "stages", symlinks=True)  # a stage runs its own checkout's code
    shutil.copytree(REPO / "src", project / "src", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "params.yaml", project / "params.yaml")
    (tmp_path / "elsewhere").mkdir()
    return project


def run_stage(project: Path, name: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    """``python <project>/stages/<name>.py`` from ``cwd``, without this process's DATA_ settings."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("DATA_")}
    environment.update(PYTHONPATH=str(REPO / "src"), **env)
    return subprocess.run([sys.executable, str(project / "stages" / f"{name}.py")], cwd=cwd, env=environment,
                          capture_output=True, text=True, timeout=120)
