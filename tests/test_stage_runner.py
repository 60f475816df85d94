"""stage_runner: user errors in one line (with how to get back what DVC removed), the project root."""

from pathlib import Path

import pytest
from conftest import REPO
from stage_projects import project_folder

from digit_concepts.core import params, stage_runner


def test_user_errors_are_one_line_real_bugs_keep_their_traceback(tmp_path, monkeypatch, capsys):
    project = project_folder(tmp_path / "project")
    stage = project / "stages" / "x.py"
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(stage_runner.DVC_STAGE_ENV, raising=False)  # run by hand, not by DVC
    # This fake project has no package of its own (a real copy's is checked in test_runtime.py).
    monkeypatch.setattr(stage_runner, "check_own_package", lambda root: None)

    def user_error():
        assert Path.cwd() == project  # run from the repository root
        raise ValueError("params.yaml: bad")

    with pytest.raises(SystemExit) as caught:
        stage_runner.run(user_error, str(stage))
    assert caught.value.code == 1 and capsys.readouterr().err == "error: params.yaml: bad\n"

    def bug():
        raise KeyError("bug")

    with pytest.raises(KeyError):
        stage_runner.run(bug, str(stage))
    monkeypatch.setenv(stage_runner.TRACEBACK_ENV, "1")
    with pytest.raises(ValueError):
        stage_runner.run(user_error, str(stage))


RESTORE = ("(DVC removed this stage's previous outputs before it ran: `dvc checkout cluster` restores them from the "
           "cache, `git checkout metrics/` the metrics)")


def test_under_dvc_a_user_error_says_how_to_get_the_removed_outputs_back(tmp_path, monkeypatch, capsys):
    """DVC removes a stage's outputs before it runs it: a bad param leaves none, and says how to restore them."""
    project = project_folder(tmp_path / "project")
    (project / "params.yaml").write_text((REPO / "params.yaml").read_text().replace("  noise: 0.0", "  noise: 1.5"))
    monkeypatch.setattr(stage_runner, "check_own_package", lambda root: None)
    monkeypatch.setenv(stage_runner.DVC_STAGE_ENV, "cluster")
    with pytest.raises(SystemExit):
        stage_runner.run(params.load, str(project / "stages" / "cluster.py"))
    assert capsys.readouterr().err == ("error: invalid params.yaml:\n  pairs.noise: got 1.5, must be a number >= 0.0 "
                                       "and <= 1.0 (floats need a dot, e.g. 1.0e-3)\n" + RESTORE + "\n")

    def missing_input():
        raise FileNotFoundError("data/encodings/codes.npz: missing")

    with pytest.raises(SystemExit):
        stage_runner.run(missing_input, str(project / "stages" / "cluster.py"))
    assert capsys.readouterr().err == f"error: data/encodings/codes.npz: missing {RESTORE}\n"  # one line


def test_a_stage_outside_a_project_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"expected a stage script in <project>/stages/, but .* has no dvc.yaml"):
        stage_runner.repository_root(str(tmp_path / "stages" / "x.py"))


def test_malloc_arenas_are_capped_on_glibc():
    import platform

    glibc = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"
    assert stage_runner.cap_malloc_arenas() is glibc
