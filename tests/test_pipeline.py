"""The whole DVC pipeline, end to end, on a tiny fake mirror in the real formats, served over HTTP.

Covers every stage in dvc.yaml (later stages included automatically): `dvc repro` must run
them all, write every output, and a second `dvc repro` must have nothing to do.
"""

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from ruamel.yaml import YAML

from conftest import REPO, serve_directory
from digit_concepts import params as params_module
from fakes import write_checksums, write_mirror

pytestmark = pytest.mark.pipeline

VENV_BIN = Path(sys.executable).parent
DVC = str(VENV_BIN / "dvc")
N_TRAIN_IMAGES, N_TEST_IMAGES = 40, 20          # fakes.write_mnist defaults
N_TRAIN_AUDIO, N_TEST_AUDIO = 10 * 2 * 2, 10 * 2 * 5  # 10 digits x 2 speakers x indices 5-6 / 0-4
PROJECT_FILES = ["dvc.yaml", "params.yaml", "stages", "src", ".dvc/config", ".dvc/.gitignore",
                 ".dvcignore", ".gitignore"]

# Generic shrinking, whatever sections later stages add: any key of this name gets this value.
TINY_ANYWHERE = {"epochs": 1, "hidden_units": [8], "batch_size": 8, "reduced_dim": 2,
                 "griffin_lim_iterations": 4, "k": 4, "k_range": [2, 4], "umap_neighbors": 5, "silhouette_sample": 100,
                 "samples_per_concept": 2, "cross_modal_examples": 2,
                 "count": 2, "count_range": [2, 3], "within_neighbors": 5}  # the tiny FSDD has 2 speakers
TINY_AUTOENCODER = {"hidden_units": [16], "latent_dim": 4, "batch_size": 8, "epochs": 1}


def _shrink(node):
    if isinstance(node, dict):
        for key in node:
            if key in TINY_ANYWHERE:
                node[key] = TINY_ANYWHERE[key]
            else:
                _shrink(node[key])


def write_tiny_params(source: Path, target: Path) -> None:
    yaml = YAML()  # round trip: keeps comments and layout, writes YAML 1.2 floats
    tree = yaml.load(source)
    _shrink(tree)
    for section in ("image_ae", "audio_ae"):
        tree[section].update(TINY_AUTOENCODER)
    tree["pairs"]["noise"] = 0.0
    with open(target, "w") as stream:
        yaml.dump(tree, stream)
    params_module.load(target)  # a bad override fails here, not deep inside dvc


def _run(command: list[str], cwd: Path, env: dict, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def make_project(root: Path) -> Path:
    """A copy of this project's pipeline (code, dvc.yaml, tiny params) as a fresh git + DVC repo."""
    project = root / "project"
    for name in PROJECT_FILES:
        source = REPO / name
        if not source.exists():
            continue
        target = project / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source, target)
    write_tiny_params(REPO / "params.yaml", project / "params.yaml")
    (project / ".dvc" / "config.local").write_text("[core]\n    check_update = false\n    analytics = false\n")
    env = environment()
    for command in (["git", "init", "-q"], ["git", "config", "user.email", "tests@example.invalid"],
                    ["git", "config", "user.name", "tests"], ["git", "config", "commit.gpgsign", "false"]):
        subprocess.run(command, cwd=project, env=env, check=True, capture_output=True)
    if not (project / ".dvc" / "config").exists():
        subprocess.run([DVC, "init", "-q"], cwd=project, env=env, check=True, capture_output=True)
    subprocess.run(["git", "add", "-A"], cwd=project, env=env, check=True, capture_output=True)
    subprocess.run(["git", "commit", "-q", "-m", "pipeline under test"], cwd=project, env=env, check=True,
                   capture_output=True)
    return project


def environment(**extra: str) -> dict:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("DVC_", "DVCLIVE_", "DATA_")) and key != "PYTHONPATH"}
    env.update(PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}", VIRTUAL_ENV=str(VENV_BIN.parent),
               DVC_NO_ANALYTICS="1", PYTHONHASHSEED="0", DVCLIVE_LOGLEVEL="ERROR",
               GIT_CONFIG_NOSYSTEM="1", **extra)
    return env


@pytest.fixture(scope="module")
def mirror(tmp_path_factory):
    root = tmp_path_factory.mktemp("mirror")
    checksums = write_mirror(root)
    return root, write_checksums(root.parent / f"{root.name}-checksums.json", checksums)


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory, mirror):
    """Run `dvc repro` (every stage) once; yield (project, env, output)."""
    root, checksums = mirror
    project = make_project(tmp_path_factory.mktemp("pipeline"))
    with serve_directory(root) as base:
        env = environment(DATA_MIRROR=base, DATA_CHECKSUMS=str(checksums))
        result = _run([DVC, "repro"], project, env)
        output = result.stdout + result.stderr
        assert result.returncode == 0, f"dvc repro failed:\n{output[-8000:]}"
        yield project, env, output


def test_every_stage_ran_and_every_output_exists(pipeline):
    project, _, output = pipeline
    stages = YAML(typ="safe").load(project / "dvc.yaml")["stages"]
    lock = YAML(typ="safe").load(project / "dvc.lock")["stages"]
    for name in stages:  # foreach/matrix stages run and lock as name@item
        ran = [locked for locked in lock if locked == name or locked.startswith(name + "@")]
        assert ran, f"stage {name} missing from dvc.lock"
        assert all(f"Running stage '{locked}'" in output for locked in ran), output[-4000:]
    for name, stage in lock.items():
        for out in stage.get("outs", []):
            assert (project / out["path"]).exists(), f"{name}: output {out['path']} missing"


def test_metrics(pipeline):
    project, _, _ = pipeline
    reconstruction = json.loads((project / "metrics" / "reconstruction.json").read_text())
    assert set(reconstruction) >= {"image", "audio"}
    assert set(reconstruction["image"]) >= {"mse", "bce"} and set(reconstruction["audio"]) >= {"mse"}
    for sense in reconstruction.values():
        assert all(math.isfinite(value) for value in sense.values())
    # Every declared metrics file is JSON with numeric leaves (dvc metrics diff can read it).
    for entry in YAML(typ="safe").load(project / "dvc.yaml").get("metrics", []):
        tree = json.loads((project / entry).read_text())
        leaves = params_module.flatten(tree).values()
        assert all(isinstance(value, (int, float)) for value in leaves), entry
    alone = json.loads((project / "metrics" / "cluster.json").read_text())["audio_reference"]
    assert alone["voices"] in (2, 3) and alone["n_clusters"] == 4 and -1.0 <= alone["voice_speaker_ari"] <= 1.0


def test_codes(pipeline):
    project, _, _ = pipeline
    with np.load(project / "data" / "encodings" / "codes.npz", allow_pickle=False) as codes:
        rows = {name: codes[name].shape for name in codes.files}
    assert rows["image_train"] == (N_TRAIN_IMAGES, 4) and rows["image_test"] == (N_TEST_IMAGES, 4)
    assert rows["audio_train"] == (N_TRAIN_AUDIO, 4) and rows["audio_test"] == (N_TEST_AUDIO, 4)


def test_episodes_pair_same_digit_within_split(pipeline):
    project, _, _ = pipeline
    preprocessed = project / "data" / "preprocessed"
    images = pd.read_csv(preprocessed / "image_metadata.csv")
    recordings = pd.read_csv(preprocessed / "audio_metadata.csv")
    with np.load(preprocessed / "episodes.npz", allow_pickle=False) as stored:
        streams = {name: stored[name] for name in stored.files}
    sizes = {"train": (N_TRAIN_IMAGES, N_TRAIN_AUDIO), "test": (N_TEST_IMAGES, N_TEST_AUDIO)}
    for split, (n_images, n_recordings) in sizes.items():
        image_part = images[images["split"] == split].sort_values("index")
        audio_part = recordings[recordings["split"] == split].sort_values("index")
        assert len(image_part) == n_images and len(audio_part) == n_recordings
        image_index, audio_index = streams[f"{split}_image_index"], streams[f"{split}_audio_index"]
        np.testing.assert_array_equal(np.sort(image_index), np.arange(n_images))  # every image once
        assert audio_index.min() >= 0 and audio_index.max() < n_recordings       # this split only
        np.testing.assert_array_equal(image_part["digit"].to_numpy()[image_index],
                                      audio_part["digit"].to_numpy()[audio_index])  # noise 0
    assert (recordings.loc[recordings["split"] == "test", "recording_index"] < 5).all()
    assert (recordings.loc[recordings["split"] == "train", "recording_index"] >= 5).all()


def test_models_and_training_logs(pipeline):
    project, _, _ = pipeline
    for sense in ("image", "audio"):
        folder = project / "models" / f"{sense}_autoencoder"
        assert (folder / "model.keras").stat().st_size > 0
        loss = folder / "training" / "plots" / "metrics" / "train" / "loss.tsv"
        assert loss.is_file() and len(loss.read_text().splitlines()) >= 2  # header + 1 epoch


def test_second_repro_does_nothing(pipeline):
    project, env, _ = pipeline
    lock = (project / "dvc.lock").read_bytes()
    status = _run([DVC, "status"], project, env)
    assert status.returncode == 0 and "Data and pipelines are up to date" in status.stdout, status.stdout
    again = _run([DVC, "repro"], project, env)
    output = again.stdout + again.stderr
    assert again.returncode == 0, output
    assert "Running stage" not in output, output
    assert "didn't change, skipping" in output and "Data and pipelines are up to date" in output, output
    assert (project / "dvc.lock").read_bytes() == lock


def test_corrupt_mirror_fails_download_and_keeps_nothing(tmp_path, mirror):
    root, checksums = mirror
    broken = tmp_path / "broken-mirror"
    shutil.copytree(root, broken)
    archive = broken / "fsdd" / "v1.0.10.zip"
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])  # truncated download
    expected = json.loads(checksums.read_text())["v1.0.10.zip"]
    project = make_project(tmp_path)

    # A plain folder as DATA_MIRROR: the file:// path of data.fetch, in a real stage run.
    result = _run([DVC, "repro", "download"], project,
                  environment(DATA_MIRROR=str(broken), DATA_CHECKSUMS=str(checksums)), timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "ChecksumError" in output and "v1.0.10.zip" in output, output
    assert expected in output, "expected sha256 not reported"
    assert (broken / "fsdd" / "v1.0.10.zip").as_uri() in output, "URL tried not reported"
    assert not (project / "data" / "raw").exists()
    leftovers = list((project / "data").iterdir()) if (project / "data").exists() else []
    assert leftovers == [], f"staging files left behind: {leftovers}"


def _hashes(project: Path, patterns: list[str]) -> dict:
    import hashlib

    return {str(path.relative_to(project)): hashlib.sha256(path.read_bytes()).hexdigest()
            for pattern in patterns for path in sorted(project.glob(pattern))}


def test_permuting_scoring_labels_changes_no_decision(pipeline, tmp_path):
    """Label leakage: with the scoring labels shuffled, every clustering, table, zone and
    generated file is byte-identical (only the scores may change)."""
    import numpy as np
    import pandas as pd

    project, env, _ = pipeline
    decisions = ["data/clusters/*.npz", "metrics/tables/*.csv", "data/convergence/*.npz", "plots/sounds/*.wav"]
    before = _hashes(project, decisions)
    assert any(name.startswith("plots/sounds/") for name in before) and any("tables" in name for name in before)
    copy = tmp_path / "permuted"
    shutil.copytree(project, copy, symlinks=True)
    rng = np.random.default_rng(123)
    for table_path in (copy / "data/preprocessed/image_metadata.csv", copy / "data/preprocessed/audio_metadata.csv"):
        table = pd.read_csv(table_path)
        table["digit"] = rng.permutation(table["digit"].to_numpy())
        if "speaker" in table:  # speakers, too, only score (the voices found)
            table["speaker"] = rng.permutation(table["speaker"].to_numpy())
        table_path.unlink()  # DVC may have linked it to the cache: never write through the link
        table.to_csv(table_path, index=False)
    for stage in ("cluster", "relate", "convergence", "plot"):
        result = _run([sys.executable, f"stages/{stage}.py"], copy, dict(env, PYTHONPATH="src"))
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert _hashes(copy, decisions) == before


def test_cepstral_features_with_views_retrain_only_the_audio_branch(pipeline):
    """The speaker-robust audio option end to end: the image branch is untouched, the audio
    autoencoder reads cepstra (with augmented views) and still decodes log-mels for sound."""
    project, env, _ = pipeline
    yaml = YAML()
    tree = yaml.load(project / "params.yaml")
    tree["audio"]["features"] = "cepstral"
    tree["audio_ae"]["augmentation"]["views"] = 2
    with open(project / "params.yaml", "w") as stream:
        yaml.dump(tree, stream)
    result = _run([DVC, "repro"], project, env)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-8000:]
    assert "Stage 'train_image_ae' didn't change, skipping" in output, output[-4000:]
    assert "Running stage 'train_audio_ae'" in output and "Running stage 'plot'" in output
    settings = YAML(typ="safe").load(project / "params.yaml")["audio"]
    with np.load(project / "data" / "preprocessed" / "audio_features.npz", allow_pickle=False) as features:
        assert features["train"].shape == (N_TRAIN_AUDIO, 2 * settings["cepstra"], settings["frames"])
        assert features["train_views"].shape == (2, *features["train"].shape)
    with np.load(project / "data" / "convergence" / "generated.npz", allow_pickle=False) as generated:
        assert generated["image_to_audio_spectrograms"].shape[1:] == (settings["n_mels"], settings["frames"])
    reconstruction = json.loads((project / "metrics" / "reconstruction.json").read_text())
    assert math.isfinite(reconstruction["audio"]["mse"])  # of the log-mels the sound decoder makes
