"""Whole-or-nothing file output: write in a scratch folder, then rename over the target."""

import contextlib
import json
import os
import re
import shutil
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

# Temporary files live here, in the project root, not beside their target: a temp file left
# inside a DVC output folder (after a kill) would be hashed into dvc.lock and never removed.
# .gitignore and .dvcignore both list it; being inside the project keeps os.replace atomic
# (same filesystem).
SCRATCH_DIR = ".tmp"
_OWNER = re.compile(r"^(?P<pid>[0-9]+)-")  # every scratch entry starts with its writer's PID


def project_root(path: Path) -> Path | None:
    """The nearest folder at or above ``path`` that holds a ``.dvc`` folder, if any."""
    for folder in (path, *path.parents):
        if (folder / ".dvc").is_dir():
            return folder
    return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def remove_stale(scratch: Path) -> list[Path]:
    """Delete scratch entries whose writer (the PID in the name) is no longer running."""
    removed = []
    for entry in scratch.iterdir() if scratch.is_dir() else []:
        owner = _OWNER.match(entry.name)
        if owner and int(owner["pid"]) != os.getpid() and not _alive(int(owner["pid"])):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            removed.append(entry)
    return removed


def scratch_folder(target: Path) -> Path:
    """Where ``target``'s temporary copy is written: the project's scratch folder (stale entries
    cleaned first) or, outside any DVC project, the target's own folder."""
    target.parent.mkdir(parents=True, exist_ok=True)
    root = project_root(target.parent.resolve())
    if root is None:
        return target.parent
    scratch = root / SCRATCH_DIR
    scratch.mkdir(exist_ok=True)
    remove_stale(scratch)
    return scratch


def _shared_mode(mode: int) -> int:
    """``mode`` less the process umask: what open() and mkdir() would give (mkstemp gives 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    return mode & ~umask


@contextlib.contextmanager
def atomic_path(target: Path):
    """Yield a temporary path (in ``scratch_folder``); on success rename it onto the target, mode 0644."""
    target = Path(target)
    handle, temporary = tempfile.mkstemp(prefix=f"{os.getpid()}-{target.name}.", suffix=target.suffix,
                                         dir=scratch_folder(target))
    os.close(handle)
    temporary = Path(temporary)
    try:
        yield temporary
        os.chmod(temporary, _shared_mode(0o666))  # outputs are ordinary shared files, not private
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def share_tree(folder: Path) -> None:
    """Every folder in ``folder`` (itself included) and every file to the shared modes (0755 and
    0644 under umask 022, as a DVC checkout gives), whoever wrote them: pooch, for one, renames its
    mkstemp file (0600) into place. Links are left alone."""
    folder_mode, file_mode = _shared_mode(0o777), _shared_mode(0o666)
    os.chmod(folder, folder_mode)
    for parent, folders, files in os.walk(folder):  # does not follow links to folders
        for name in folders:
            if not os.path.islink(os.path.join(parent, name)):
                os.chmod(os.path.join(parent, name), folder_mode)
        for name in files:
            if not os.path.islink(os.path.join(parent, name)):
                os.chmod(os.path.join(parent, name), file_mode)


@contextlib.contextmanager
def atomic_directory(target: Path):
    """Yield an empty temporary folder (in ``scratch_folder``); on success it replaces ``target`` as
    a whole, every folder in it 0755 and every file 0644 (``share_tree``)."""
    target = Path(target)
    temporary = Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-{target.name}.", dir=scratch_folder(target)))
    temporary.chmod(_shared_mode(0o777))  # mkdtemp makes it private; outputs are ordinary shared folders
    try:
        yield temporary
        share_tree(temporary)
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


ALIGNMENT = 64  # bytes: Eigen's alignment; a tensor shares an array so aligned (DLPack), copies any other


def aligned_empty(shape: tuple[int, ...], dtype) -> np.ndarray:
    """An uninitialised C-ordered array whose data starts on a 64-byte boundary, so that a tensor
    can share it without a copy (``autoencoders.tensor_of``)."""
    dtype = np.dtype(dtype)
    size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    buffer = np.empty(size + ALIGNMENT, dtype=np.uint8)
    start = -buffer.ctypes.data % ALIGNMENT
    return buffer[start:start + size].view(dtype).reshape(shape)


def aligned(array: np.ndarray) -> np.ndarray:
    """``array`` itself when C-ordered on a 64-byte boundary, else an aligned copy (``aligned_empty``)."""
    array = np.asarray(array)
    if array.flags.c_contiguous and array.ctypes.data % ALIGNMENT == 0:
        return array
    copy = aligned_empty(array.shape, array.dtype)
    copy[...] = array
    return copy
