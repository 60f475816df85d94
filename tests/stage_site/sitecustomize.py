"""Loaded at start-up by every Python process the pipeline tests start (tiny_project.environment
puts this folder on PYTHONPATH); it acts only in stage scripts (``python stages/<name>.py``).

- The cluster stage runs UMAP's numba functions as the plain Python they are written in: on the
  tiny pipeline's 30 codes that takes 1-2 s, where compiling them takes 10 s in every cluster
  stage (numba caches few of them), and the suite runs that stage about seven times. The
  compiled path stays tested: tests/test_learner.py runs UMAP compiled. Only this stage: others
  use numba code (librosa's) that does not run uncompiled.
- With READS_LOG_DIR set, the stage logs every file and folder it reads (Python audit events) to
  READS_LOG_DIR/<its command>.reads (tiny_project.reads_log_name), for the test that checks each
  read against the stage's declared deps.
"""

import os
import sys

STAGE = sys.argv[0] if sys.argv and sys.argv[0].startswith("stages/") else None

if STAGE == "stages/cluster.py":
    os.environ["NUMBA_DISABLE_JIT"] = "1"  # read when numba is imported, which is later

if STAGE and os.environ.get("READS_LOG_DIR"):
    _log = open(os.path.join(os.environ["READS_LOG_DIR"], "_".join(sys.argv).replace("/", "_") + ".reads"), "a")
    _WRITING = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC

    def _hook(event, args):
        if event not in ("open", "os.listdir", "os.scandir"):  # the hook sees every event: leave the rest at once
            return
        # A relative name that is not there was opened relative to a folder handle (dir_fd, as
        # shutil.rmtree does): not a path from the project root, and never a read of data.
        if isinstance(args[0], (str, bytes, os.PathLike)) and not os.path.isabs(args[0]) and not os.path.exists(args[0]):
            return
        if event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
            mode, flags = args[1], args[2]
            writing = any(c in mode for c in "wax+") if isinstance(mode, str) else bool((flags or 0) & _WRITING)
            if not writing:
                _log.write(os.path.abspath(os.fsdecode(args[0])) + "\n")
        elif event in ("os.listdir", "os.scandir") and isinstance(args[0], (str, bytes, os.PathLike)):
            _log.write(os.path.abspath(os.fsdecode(args[0])) + "\n")

    sys.addaudithook(_hook)
