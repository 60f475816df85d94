"""Saved models: the same weights give the same bytes, and load back unchanged."""

import io
import json
import time
import zipfile

import numpy as np

from digit_concepts.senses import autoencoders
from digit_concepts.core import params, runtime

DENSE = params.AutoencoderSettings(architecture="dense", hidden_units=[8], latent_dim=3, epochs=1, batch_size=8,
                                   learning_rate=1.0e-3, noise_stddev=0.1)


def _model():
    keras = runtime.keras_with_seed(0)
    model = autoencoders.build_autoencoder(keras=keras, input_shape=(6, 5), settings=DENSE, output_activation="sigmoid")
    model.compile(optimizer="adam", loss="mse")
    data = np.random.default_rng(0).random((16, 6, 5)).astype(np.float32)
    model.fit(data, data, epochs=1, verbose=0)
    return model, data


def test_same_model_saved_twice_gives_identical_bytes_that_load_back(tmp_path):
    model, data = _model()
    first, second = tmp_path / "first.keras", tmp_path / "second.keras"
    runtime.save_model(model, first)
    time.sleep(1.1)  # Keras stamps the save time to the second
    runtime.save_model(model, second)
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as archive:
        assert "date_saved" not in json.loads(archive.read("metadata.json"))
        assert {entry.date_time for entry in archive.infolist()} == {runtime.ZIP_EPOCH}
    loaded = runtime.load_model(first, 0)
    np.testing.assert_array_equal(loaded.predict(data, verbose=0), model.predict(data, verbose=0))
    assert oct(first.stat().st_mode & 0o777) == oct(0o644)


def test_plain_keras_save_is_not_deterministic_but_normalised_archives_are(tmp_path):
    """Guards the reason for the normalisation: if Keras ever stops stamping, this says so."""
    model, _ = _model()
    saved = []
    for name in ("a.keras", "b.keras"):
        model.save(tmp_path / name)
        saved.append((tmp_path / name).read_bytes())
        time.sleep(1.1)
    assert saved[0] != saved[1]
    assert runtime.deterministic_keras_archive(saved[0]) == runtime.deterministic_keras_archive(saved[1])


def test_shared_object_ids_are_renumbered_consistently():
    config = {"a": {"shared_object_id": 140234}, "b": [{"shared_object_id": 99}, {"shared_object_id": 140234}]}
    renumbered = runtime._renumbered_shared_objects(config, {})
    assert renumbered == {"a": {"shared_object_id": 0}, "b": [{"shared_object_id": 1}, {"shared_object_id": 0}]}


def test_archive_members_keep_their_content_apart_from_the_stamps():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("metadata.json", json.dumps({"keras_version": "3", "date_saved": "now"}))
        archive.writestr("config.json", json.dumps({"x": 1}))
        archive.writestr("model.weights.h5", b"\x00weights")
    with zipfile.ZipFile(io.BytesIO(runtime.deterministic_keras_archive(buffer.getvalue()))) as archive:
        assert json.loads(archive.read("metadata.json")) == {"keras_version": "3"}
        assert json.loads(archive.read("config.json")) == {"x": 1}
        assert archive.read("model.weights.h5") == b"\x00weights"


def test_a_stage_runs_the_code_of_its_own_checkout(tmp_path):
    """A copy of the repository (as a queued experiment gets) imports its own package, not the
    editable install's, and a stage whose link is gone refuses to run."""
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    repository = Path(__file__).resolve().parents[1]
    copy = tmp_path / "copy"
    for name in ("stages", "src"):
        shutil.copytree(repository / name, copy / name, symlinks=True,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy2(repository / "dvc.yaml", copy / "dvc.yaml")
    (copy / "stages" / "where.py").write_text(
        "import digit_concepts\nfrom digit_concepts.core.stage_runner import run\n"
        "run(lambda: print(digit_concepts.__file__), __file__)\n")
    found = subprocess.run([sys.executable, "stages/where.py"], cwd=copy, capture_output=True, text=True)
    assert found.returncode == 0, found.stderr
    assert Path(found.stdout.strip()).resolve().is_relative_to(copy / "src"), found.stdout

    (copy / "stages" / "digit_concepts").unlink()
    refused = subprocess.run([sys.executable, "stages/where.py"], cwd=copy, capture_output=True, text=True)
    assert refused.returncode == 1 and "not from its own checkout" in refused.stderr, refused.stderr
