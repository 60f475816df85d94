"""The faults found by the fault probe, one test or more each."""

import gzip
import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile
from ruamel.yaml import YAML

from conftest import REPO
from digit_concepts.senses import audio, data
from digit_concepts.core import params, stage_runner, storage
from fakes import SAMPLE_RATE, idx_bytes, tone, write_checksums, write_mirror


def _project(root: Path) -> Path:
    """A folder that looks like the project to storage (a .dvc folder) and to stage scripts (dvc.yaml)."""
    (root / ".dvc").mkdir(parents=True)
    (root / "dvc.yaml").write_text("stages: {}\n")
    return root


# ------------------------------------------------------------- 1, 10: temp files, modes


def test_atomic_path_writes_in_the_scratch_folder_not_in_the_output_folder(tmp_path):
    project = _project(tmp_path / "project")
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
    project = _project(tmp_path / "project")
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
        project = _project(tmp_path / "project")
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
    project = _project(tmp_path / "project")
    with pytest.raises(RuntimeError):
        with storage.atomic_directory(project / "data" / "raw") as staging:
            (staging / "half").write_text("x")
            raise RuntimeError("killed")
    assert not (project / "data" / "raw").exists() and list((project / storage.SCRATCH_DIR).iterdir()) == []


# ------------------------------------------------------------- 2: split against the data


def _table(speakers=("george", "theo"), indices=(0, 5)) -> pd.DataFrame:
    rows = [(f"{d}_{s}_{i}.wav", d, s, i) for d in range(2) for s in speakers for i in indices]
    return pd.DataFrame(rows, columns=["file", "digit", "speaker", "recording_index"])


@pytest.mark.parametrize("split, speakers, message", [
    ("leave_speakers_out", ["george", "theo"], r"split\.test_speakers: holds out every speaker in the data "
                                               r"\(george, theo\), leaving none to train on"),
    ("leave_speakers_out", ["lucas"], r"split\.test_speakers: lucas not in the recordings; the data has speakers "
                                      r"george, theo"),
    ("leave_speakers_out", ["theo", "nicolas"], r"split\.test_speakers: nicolas not in the recordings"),
])
def test_split_is_checked_against_the_speakers_found(split, speakers, message):
    with pytest.raises(ValueError, match=message):
        audio.test_split_mask(_table(), split, speakers)
    assert audio.test_split_mask(_table(), "leave_speakers_out", ["theo"]).sum() == 4


def test_official_split_needs_both_splits():
    with pytest.raises(ValueError, match=r"split\.audio: official leaves no train recordings among the 4 found"):
        audio.test_split_mask(_table(speakers=("theo",), indices=(0, 1)), "official", ["theo"])


# ------------------------------------------------------------- 3: k against sample counts


@pytest.fixture
def committed_tree() -> dict:
    """params.yaml as plain dicts and lists, to change before ``params.parse``."""
    return YAML(typ="safe", pure=True).load(REPO / "params.yaml")


REAL_COUNTS = {"image": 60000, "audio": 2700, "joint": 60000}


def test_committed_params_fit_the_real_data():
    params.check_cluster_sizes(params.load(REPO / "params.yaml"), REAL_COUNTS)


def test_k_larger_than_the_samples_names_key_and_space():
    with pytest.raises(ValueError) as caught:
        params.check_cluster_sizes(params.load(REPO / "params.yaml"), {"image": 40, "audio": 40, "joint": 40})
    message = str(caught.value)
    assert "cluster.audio.k: 300 clusters need at least 300 train recordings, the data has 40" in message
    assert "cluster.image.k_range" not in message  # 16 <= 40


def test_k_range_and_voice_counts_are_checked(committed_tree):
    cluster = committed_tree["cluster"]
    cluster["image"]["k_range"] = [6, 50]
    cluster["joint"]["k"] = 45
    cluster["audio_reference"]["voices"].update(count_selection="bic", count_range=[2, 9])
    with pytest.raises(ValueError) as caught:
        params.check_cluster_sizes(params.parse(committed_tree), {"image": 40, "audio": 8, "joint": 40})
    message = str(caught.value)
    assert "cluster.image.k_range: 50 clusters need at least 50 train images, the data has 40" in message
    assert "cluster.joint.k: 45 clusters need at least 45 train episodes, the data has 40" in message
    assert "cluster.audio_reference.voices.count_range: 9 voices need at least 9 train recordings" in message
    cluster["audio_reference"]["voices"].update(count_selection="fixed", count=10)
    with pytest.raises(ValueError, match=r"cluster\.audio_reference\.voices\.count: 10 voices"):
        params.check_cluster_sizes(params.parse(committed_tree), {"image": 400, "audio": 9, "joint": 400})


def test_train_sample_counts_from_the_metadata(tmp_path):
    pd.DataFrame({"split": ["train"] * 3 + ["test"] * 2, "index": range(5)}).to_csv(tmp_path / "i.csv", index=False)
    pd.DataFrame({"split": ["test", "train"], "index": range(2)}).to_csv(tmp_path / "a.csv", index=False)
    assert params.train_sample_counts(tmp_path / "i.csv", tmp_path / "a.csv") == {"image": 3, "audio": 1, "joint": 3}


# ------------------------------------------------------------- 4: unknown top-level keys


@pytest.mark.parametrize("extra, message", [
    ({"pair": {"noise": 0.5}}, r"pair\.noise: unknown parameter \(did you mean pairs\? known sections: seed, "),
    ({"pair": {}}, r"pair: unknown parameter \(did you mean pairs\?"),
    ({"pair": None}, r"pair: unknown parameter"),
    ({"verbose": True}, r"verbose: unknown parameter \(known sections: seed, audio, split, pairs"),
])
def test_unknown_top_level_key_or_section_is_named(committed_tree, extra, message):
    with pytest.raises(ValueError, match=message):
        params.parse({**committed_tree, **extra})


def test_misspelt_section_instead_of_the_right_one(committed_tree):
    committed_tree["pair"] = committed_tree.pop("pairs")
    with pytest.raises(ValueError) as caught:
        params.parse(committed_tree)
    assert "pair.noise: unknown parameter (did you mean pairs?" in str(caught.value)
    assert "pairs.noise: missing" in str(caught.value)


# ------------------------------------------------------------- 7: degenerate recordings


@pytest.mark.parametrize("case, signal, message", [
    ("short", (tone(3, 0, 0)[2000:2010]), r"too short, 10 samples; at least 256 needed"),
    ("dc", np.full(4000, 3000, dtype=np.int16), r"constant signal \(4000 samples all 0\.0915"),
    ("silent", np.zeros(4000, dtype=np.int16), r"empty, silent or non-finite audio"),
])
def test_degenerate_recordings_are_rejected_naming_the_file(tmp_path, case, signal, message):
    settings = audio.AudioSettings(8000, 256, 64, 64, 4000.0, 32, 30.0, True, 4)
    path = tmp_path / f"3_theo_{case}.wav"
    soundfile.write(path, signal, SAMPLE_RATE, subtype="PCM_16")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no librosa warning on the way
        with pytest.raises(ValueError, match=message) as caught:
            audio.read_recordings(tmp_path, [path.name], settings)
    assert str(path) in str(caught.value)


# ------------------------------------------------------------- 8: errors that name the file


def test_truncated_gzip_names_the_file(tmp_path):
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.arange(100) % 10, 2049), mtime=0)[:-20])
    with pytest.raises(ValueError, match=rf"{path}: truncated or corrupt gzip file \(EOFError"):
        data.read_idx(path, 2049)
    path.write_bytes(b"not gzip at all")
    with pytest.raises(ValueError, match=rf"{path}: truncated or corrupt gzip file \(BadGzipFile"):
        data.read_idx(path, 2049)


@pytest.mark.parametrize("content, message", [
    (None, r"DATA_CHECKSUMS=.*missing\.json: cannot read the checksums file \(No such file or directory\)"),
    ("{not json", r"DATA_CHECKSUMS=.*missing\.json: not valid JSON \(Expecting property name"),
])
def test_bad_checksums_file_names_variable_and_file(tmp_path, monkeypatch, content, message):
    path = tmp_path / "missing.json"
    if content is not None:
        path.write_text(content)
    monkeypatch.setenv(data.CHECKSUMS_ENV, str(path))
    with pytest.raises(ValueError, match=message):
        data.known_sha256()


# ------------------------------------------------------------- 11: nothing fetched is no checksum error


def test_nothing_fetched_is_a_download_error_naming_every_url(http_root, tmp_path):
    _, base = http_root
    urls = (base + "missing/payload.bin", data.mirror_base(str(tmp_path / "nowhere")) + "payload.bin")
    with pytest.raises(data.DownloadError) as caught:
        data.fetch(data.RemoteFile("payload.bin", urls, "0" * 64), tmp_path / "target")
    message = str(caught.value)
    assert not isinstance(caught.value, data.ChecksumError)
    assert message.startswith("could not fetch payload.bin from any URL") and all(url in message for url in urls)
    assert "404" in message and "FileNotFoundError" in message


def test_user_errors_are_one_line_real_bugs_keep_their_traceback(tmp_path, monkeypatch, capsys):
    project = _project(tmp_path / "project")
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
    project = _project(tmp_path / "project")
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


# ------------------------------------------------------------- 6, 9, 11: stage scripts end to end


def _stage(project: Path, name: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("DATA_")}
    environment.update(PYTHONPATH=str(REPO / "src"), **env)
    return subprocess.run([sys.executable, str(project / "stages" / f"{name}.py")], cwd=cwd, env=environment,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def stage_project(tmp_path) -> Path:
    project = _project(tmp_path / "project")
    shutil.copytree(REPO / "stages", project / "stages", symlinks=True)  # a stage runs its own checkout's code
    shutil.copytree(REPO / "src", project / "src", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "params.yaml", project / "params.yaml")
    (tmp_path / "elsewhere").mkdir()
    return project


def test_download_from_another_folder_writes_the_project_and_records_the_checksums(stage_project, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    mirror = tmp_path / "mirror"
    checksums = write_mirror(mirror)
    result = _stage(stage_project, "download", elsewhere, DATA_MIRROR=str(mirror),
                    DATA_CHECKSUMS=str(write_checksums(tmp_path / "sums.json", checksums)))
    assert result.returncode == 0, result.stderr
    assert list(elsewhere.iterdir()) == []  # nothing written in the working directory
    recorded = stage_project / "data" / "raw" / data.CHECKSUMS_RECORD
    assert json.loads(recorded.read_text()) == checksums
    assert (stage_project / "data" / "raw").stat().st_mode & 0o777 == 0o755
    assert list((stage_project / storage.SCRATCH_DIR).iterdir()) == []

    # Another mirror holding other files: other checksums give other data/raw bytes, and a
    # later preprocess refuses the old download while DATA_CHECKSUMS names other files.
    other = tmp_path / "other-mirror"
    shutil.copytree(mirror, other)
    (other / "mnist" / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.arange(20) % 10, 2049)))
    other_sums = write_checksums(tmp_path / "other-sums.json",
                                 {**checksums, "t10k-labels-idx1-ubyte.gz": data.pooch.file_hash(
                                     str(other / "mnist" / "t10k-labels-idx1-ubyte.gz"))})
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(data.CHECKSUMS_ENV, str(other_sums))
        with pytest.raises(ValueError, match=r"checksums\.json holds other sha256 .* run `dvc repro -f download`"):
            data.check_recorded_checksums(recorded)
    result = _stage(stage_project, "download", elsewhere, DATA_MIRROR=str(other), DATA_CHECKSUMS=str(other_sums))
    assert result.returncode == 0, result.stderr
    assert json.loads(recorded.read_text()) == json.loads(other_sums.read_text())


def test_downloaded_files_are_0644_and_folders_0755_as_a_dvc_checkout_gives(stage_project, tmp_path):
    """pooch renames its mkstemp file (0600) into place; the published data/raw is shared all the same."""
    mirror = tmp_path / "mirror"
    sums = write_checksums(tmp_path / "sums.json", write_mirror(mirror))
    previous = os.umask(0o022)  # the stage inherits it; DVC's checkout gives 0o666 / 0o777 less the umask
    try:
        result = _stage(stage_project, "download", tmp_path / "elsewhere", DATA_MIRROR=str(mirror),
                        DATA_CHECKSUMS=str(sums))
    finally:
        os.umask(previous)
    assert result.returncode == 0, result.stderr
    raw = stage_project / "data" / "raw"
    files = [path for path in raw.rglob("*") if path.is_file()]
    assert len([path for path in files if path.suffix == ".gz"]) == 4 and len(files) > 4
    modes = {str(path.relative_to(raw)): oct(path.stat().st_mode & 0o777) for path in [raw, *raw.rglob("*")]}
    assert modes == {name: "0o755" if (raw / name).is_dir() else "0o644" for name in modes}


def test_download_with_nothing_to_fetch_is_one_error_line(stage_project, tmp_path):
    empty = tmp_path / "empty-mirror"
    empty.mkdir()
    result = _stage(stage_project, "download", tmp_path / "elsewhere", DATA_MIRROR=str(empty))
    assert result.returncode == 1
    last = result.stderr.splitlines()[-1]  # after pooch's "Downloading data from ..." line
    assert last.startswith("error: could not fetch train-images-idx3-ubyte.gz from any URL; tried: file://")
    assert "Traceback" not in result.stderr and "ChecksumError" not in result.stderr
    assert not (stage_project / "data" / "raw").exists()


def test_a_bad_params_file_is_named_in_one_error_from_any_folder(stage_project, tmp_path):
    (stage_project / "params.yaml").write_text((REPO / "params.yaml").read_text() + "pair:\n  noise: 0.5\n")
    result = _stage(stage_project, "plot", tmp_path / "elsewhere", DVC_STAGE="plot")
    assert result.returncode == 1, result.stdout
    assert result.stderr.startswith("error: invalid params.yaml:\n  pair.noise: unknown parameter (did you mean pairs?")
    assert result.stderr.endswith("`dvc checkout plot` restores them from the cache, `git checkout metrics/` the metrics)\n")
    assert "Traceback" not in result.stderr


def test_a_section_no_stage_uses_still_reruns_the_plot_stage_which_names_it():
    """DVC reruns a stage only for the params it lists; plot lists the whole file, so an unknown
    section (which changes no other stage) still reaches a params check."""
    from ruamel.yaml import YAML

    plot = YAML(typ="safe").load(REPO / "dvc.yaml")["stages"]["plot"]
    assert {"params.yaml": None} in plot["params"], plot["params"]
