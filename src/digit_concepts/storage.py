"""Whole-or-nothing file output: write beside the target, then rename over it."""

import contextlib
import json
import os
import shutil
import tempfile
import zipfile
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
    temporary.chmod(0o755)  # mkdtemp makes it private; outputs are ordinary shared folders
    try:
        yield temporary
        if target.exists():
            shutil.rmtree(target)
        os.replace(temporary, target)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


def write_npz(target: Path, **arrays: np.ndarray) -> None:
    """A compressed .npz whose bytes depend only on the arrays.

    numpy's savez stamps the current time into the zip, so identical arrays would hash
    differently and DVC would rerun every stage downstream; a fixed timestamp avoids that.
    """
    with atomic_path(target) as temporary:
        with zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, array in arrays.items():
                entry = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
                entry.compress_type = zipfile.ZIP_DEFLATED
                with archive.open(entry, "w", force_zip64=True) as stream:
                    np.lib.format.write_array(stream, np.asarray(array), allow_pickle=False)


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
