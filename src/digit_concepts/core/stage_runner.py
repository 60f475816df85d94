"""The entry point of every stage script: run from the repository root, user errors in one line.

``python stages/download.py`` started from another folder would otherwise read and write
``data/`` there (every path in ``paths.py`` is relative to the root). And a user's mistake
(a bad param, a missing input, a wrong download) deserves one line naming it, not a traceback;
real bugs (any other exception) keep theirs.

A stage runs the code of its own checkout: ``stages/digit_concepts`` links to ``src/digit_concepts``,
and Python looks in the script's folder first. Without it, the package installed in editable mode
would be imported from wherever it was installed: a queued experiment (``dvc exp run --queue``
copies the repository into a temporary folder) would run the workspace's code as it is when the
stage starts, edits included, and record it under the experiment's commit.
"""

import os
import sys
from collections.abc import Callable
from pathlib import Path

# Expected user errors: bad params or data (ValueError, data.ChecksumError included), a missing
# input (FileNotFoundError), nothing fetched (data.DownloadError, a ConnectionError). Named by
# base class: importing data here would make every stage depend on data.py.
USER_ERRORS = (ValueError, FileNotFoundError, ConnectionError)
TRACEBACK_ENV = "STAGE_TRACEBACK"  # set (to anything) to see the traceback of a user error too
DVC_STAGE_ENV = "DVC_STAGE"  # set by DVC to the name of the stage it runs


def error_line(error: Exception, stage: str | None) -> str:
    """``error: <message>``; when DVC ran ``stage``, also how to get back the outputs of its last
    good run: DVC removes them before it runs the stage, so one that fails at once (a bad param)
    has none left."""
    if not stage:
        return f"error: {error}"
    message = str(error)
    separator = "\n" if "\n" in message else " "  # after a list of problems, a line of its own
    return (f"error: {message}{separator}(DVC removed this stage's previous outputs before it ran: "
            f"`dvc checkout {stage}` restores them from the cache, `git checkout metrics/` the metrics)")


def repository_root(stage_file: str) -> Path:
    """The project root of ``stages/<name>.py``; ValueError if it is not one (no dvc.yaml there)."""
    root = Path(stage_file).resolve().parents[1]
    if not (root / "dvc.yaml").is_file():
        raise ValueError(f"{stage_file}: expected a stage script in <project>/stages/, but {root} has no dvc.yaml")
    return root


def check_own_package(root: Path) -> None:
    """ValueError unless this package is ``root``'s own ``src/digit_concepts``."""
    package, own = Path(__file__).resolve().parents[1], (root / "src" / "digit_concepts").resolve()
    if package != own:
        raise ValueError(f"this stage imported digit_concepts from {package}, not from its own checkout ({own}): "
                         f"restore the link stages/digit_concepts -> ../src/digit_concepts (git checkout stages)")


# glibc's mallopt parameter (malloc.h)
M_ARENA_MAX = -8


def cap_malloc_arenas() -> bool:
    """Cap glibc at two arenas for every thread. Its default keeps freed blocks in an arena per
    thread (TensorFlow's pools, the drawing threads), which held a few hundred MB in the image
    autoencoder's and the cluster stage's peaks (docs/performance.md). Blocks are not mapped on
    their own below glibc's own threshold: with a 1 MiB threshold every temporary of the image
    mixtures' fits (4 MB) was mapped, zeroed and unmapped again, about 14 million page faults that
    made the cluster stage 176 s instead of 137 s for 50 MB less at its peak. Where the numbers
    land in memory changes no number. False where the C library is not glibc."""
    import ctypes
    import platform

    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    return bool(ctypes.CDLL("libc.so.6").mallopt(M_ARENA_MAX, 2))


def run(main: Callable[[], None], stage_file: str) -> None:
    """Run ``main`` in the repository root of ``stage_file``; exit 1 with ``error: ...`` on a user error."""
    cap_malloc_arenas()
    try:
        root = repository_root(stage_file)
        check_own_package(root)
        os.chdir(root)
        main()
    except USER_ERRORS as error:
        if os.environ.get(TRACEBACK_ENV):  # debugging: the whole story
            raise
        print(error_line(error, os.environ.get(DVC_STAGE_ENV)), file=sys.stderr, flush=True)
        sys.exit(1)
