"""Whole-or-nothing file output: write beside the target, then rename over it."""

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd


@contextlib.contextmanager
def atomic_path(target: Path):
    """Yield a temporary path in the target's folder; on success rename it onto the target."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=target.suffix, dir=target.parent)
    os.close(handle)
    temporary = Path(temporary)
    try:
        yield temporary
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_directory(target: Path):
    """Yield an empty temporary folder; on success it replaces ``target`` as a whole."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        yield temporary
        if target.exists():
            shutil.rmtree(target)
        os.replace(temporary, target)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


def write_npz(target: Path, **arrays: np.ndarray) -> None:
    with atomic_path(target) as temporary:
        with open(temporary, "wb") as stream:
            np.savez_compressed(stream, **arrays)


def read_npz(source: Path) -> dict[str, np.ndarray]:
    with np.load(source, allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def write_json(target: Path, content: dict) -> None:
    with atomic_path(target) as temporary:
        temporary.write_text(json.dumps(content, indent=2, sort_keys=False) + "\n")


def read_json(source: Path) -> dict:
    return json.loads(Path(source).read_text())


def write_csv(target: Path, table: pd.DataFrame) -> None:
    with atomic_path(target) as temporary:
        table.to_csv(temporary, index=False, float_format="%.6g", lineterminator="\n")
