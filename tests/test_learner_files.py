"""learner_files: a learner folder checked on load; what it lacks is one line naming the file and the stage to rerun (exit 3)."""

import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile
from fakes import tone
from synthetic_learner import rewrite_json, write_learner
from tiny_project import run_tool
from user_samples import digit_picture, one_of_each_sense

from digit_concepts.core import paths, storage
from digit_concepts.senses.user_files import write_image
from digit_concepts.tool import cli, learner
from digit_concepts.tool.learner import WRITTEN_BY, Learner
from digit_concepts.tool.learner_files import Sizes


def _object_array_npz(path: Path) -> None:
    path.unlink(missing_ok=True)  # a new file: never write through a link into a DVC cache
    np.savez(path, image_train_sizes=np.array([{"crafted": "object"}], dtype=object))  # needs pickle to load


def _truncated(path: Path) -> None:
    content = path.read_bytes()
    path.unlink()
    path.write_bytes(content[: len(content) // 2])


def _one_error_line(err: str, path: Path, stage: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith(f"digit-concepts: {path.resolve()}: cannot read this piece of the trained learner ("), \
        err
    assert f"`dvc repro {stage}`" in lines[0] and f"`dvc pull --force {stage}`" in lines[0], err
    return lines[0]


@pytest.mark.parametrize("damage, reason", [
    (_object_array_npz, "(ValueError: Object arrays cannot be loaded when allow_pickle=False)"),
    (lambda path: path.write_bytes(b"PK\x03\x04 cut short"), "(not a complete zip archive: truncated or corrupt)"),
])
def test_an_unreadable_learner_npz_is_one_line_exit_3(valid_learner, tmp_path, capsys, damage, reason):
    folder = shutil.copytree(valid_learner, tmp_path / "learner")
    damage(folder / paths.LEARNER_ARRAYS)
    assert cli.main(["concepts", "--model", str(folder)]) == cli.NO_LEARNER
    assert reason in _one_error_line(capsys.readouterr().err, folder / paths.LEARNER_ARRAYS, "cluster")


@pytest.fixture(scope="module")
def keras_files(tmp_path_factory):
    """A small autoencoder saved as the pipeline saves one, and a model with a Lambda layer."""
    from digit_concepts.core.runtime import keras_with_seed, save_model

    keras = keras_with_seed(0)
    folder = tmp_path_factory.mktemp("keras")
    inputs = keras.Input(shape=(3,))
    encoder = keras.Model(inputs, keras.layers.Dense(2)(inputs), name="encoder")
    codes = keras.Input(shape=(2,))
    decoder = keras.Model(codes, keras.layers.Dense(3)(codes), name="decoder")
    save_model(keras.Model(inputs, decoder(encoder(inputs)), name="autoencoder"), folder / "good.keras")
    lambda_layer = keras.layers.Lambda(lambda x: x * 2)  # safe mode refuses to load a Python lambda
    save_model(keras.Model(inputs, lambda_layer(inputs)), folder / "lambda.keras")
    return folder


def _lazy_learner(folder: Path) -> Learner:
    """A Learner of ``folder`` with only what loading its Keras models uses (root, seed, the cache)."""
    loaded = object.__new__(Learner)
    loaded.root, loaded.seed, loaded.keras_models, loaded.dimensions = folder, 0, {}, Sizes()
    return loaded


def _without_config(path: Path) -> None:
    """The .keras archive without its config.json (the model's architecture)."""
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist() if name != "config.json"}
    path.unlink()
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)


@pytest.mark.parametrize("damage, reason", [
    ("truncated", "(not a complete zip archive: truncated or corrupt)"),
    ("lambda", "(ValueError: Requested the deserialization of a `Lambda` layer"),
    ("no config", "(KeyError: \"There is no item named 'config.json' in the archive\")"),
])
def test_an_unreadable_keras_model_is_named(keras_files, tmp_path, damage, reason):
    folder = tmp_path / "learner"
    for relative in (paths.autoencoder_model("image"), paths.brain_model("image_to_audio")):
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(keras_files / ("lambda.keras" if damage == "lambda" else "good.keras"), folder / relative)
        if damage == "truncated":
            _truncated(folder / relative)
        if damage == "no config":
            _without_config(folder / relative)
    for load, relative, stage in ((lambda loaded: loaded.halves("image"), paths.autoencoder_model("image"),
                                   "train_image_ae"),
                                  (lambda loaded: loaded.brain("image_to_audio"), paths.brain_model("image_to_audio"),
                                   "relate")):
        with pytest.raises(learner.UnreadableLearner) as raised:
            load(_lazy_learner(folder))
        assert isinstance(raised.value, learner.MissingLearner)  # the tool's exit 3
        message = f"digit-concepts: {raised.value}"
        assert reason in _one_error_line(message, folder / relative, stage)


def test_a_good_keras_model_still_loads(keras_files, tmp_path):
    folder = tmp_path / "learner"
    (folder / paths.autoencoder_model("image")).parent.mkdir(parents=True)
    shutil.copy(keras_files / "good.keras", folder / paths.autoencoder_model("image"))
    encoder, decoder = _lazy_learner(folder).halves("image")
    assert encoder.name == "encoder" and decoder.name == "decoder"


@pytest.fixture(scope="module")
def valid_learner(tmp_path_factory):
    """Every piece but the Keras models (placeholders), consistent: ``concepts`` reads them all."""
    return write_learner(tmp_path_factory.mktemp("valid") / "learner", with_models=False)


def _changed_npz(change):
    """A damage: ``change(arrays)`` applied to the npz's arrays, written as a new file."""
    def damage(path: Path) -> None:
        arrays = storage.read_npz(path)
        change(arrays)
        path.unlink()
        storage.write_npz(path, **arrays)

    return damage


def _changed_csv(change):
    def damage(path: Path) -> None:
        import pandas as pd

        table = change(pd.read_csv(path))
        path.unlink()
        table.to_csv(path, index=False)

    return damage


def _changed_json(change):
    return lambda path: rewrite_json(path, change)


def test_the_synthetic_learner_is_usable(valid_learner, capsys):
    assert cli.main(["concepts", "--model", str(valid_learner)]) == cli.OK, capsys.readouterr().err
    assert "merged_concept" in capsys.readouterr().out


UNUSABLE_PIECES = [
    (paths.LEARNER_ARRAYS, _changed_npz(lambda arrays: arrays.pop("image_train_sizes")), "cluster",
     "no array image_train_sizes"),
    (paths.LEARNER_ARRAYS, _changed_npz(lambda arrays: arrays.update(audio_clusters_centres=np.zeros((5, 7)))),
     "cluster", "array audio_clusters_centres of learner.npz gives the audio reduced size as 7, but array "
                "audio_reduction_components of learner.npz gives 2"),
    (paths.LEARNER_ARRAYS, _changed_npz(lambda arrays: arrays.update(image_train_sizes=np.ones(3))), "cluster",
     "array image_train_sizes holds float64, expected whole numbers"),
    (paths.LEARNER_ARRAYS, _changed_npz(lambda arrays: arrays.update(audio_clusters_spread=np.array(np.nan))),
     "cluster", "array audio_clusters_spread has values that are not finite"),
    (paths.LEARNER_ARRAYS, _changed_npz(lambda arrays: arrays.update(image_vote_train_concepts=np.full(60, 7))),
     "cluster", "array image_vote_train_concepts has values from 7 to 7, expected 0 to 2"),
    (paths.LEARNER_SETTINGS, _changed_json(lambda content: content["image"].pop("reduction")), "cluster",
     "image.reduction: Field required"),
    (paths.LEARNER_SETTINGS, _changed_json(lambda content: content["audio"].update(n_clusters="5")), "cluster",
     "audio.n_clusters: Input should be a valid integer"),
    (paths.CLUSTER_MODELS, _changed_npz(lambda arrays: arrays.update(image_means=np.zeros((3, 5)))), "cluster",
     "array image_means of cluster_models.npz gives the image code size as 5, but array image_standardiser_scale "
     "of learner.npz gives 4"),
    (paths.COOCCURRENCE, _changed_csv(lambda table: table.drop(columns="image_concept")), "relate",
     "no column image_concept"),
    (paths.COOCCURRENCE, _changed_csv(lambda table: table.drop(columns="4")), "relate",
     "cooccurrence.csv (its audio cluster columns) gives the audio clusters as 4, but learner.json"),
    (paths.ADAPTATION_SETTINGS, _changed_json(lambda content: content.update(batch_neighbours="many")), "relate",
     "batch_neighbours: Input should be a valid integer"),
    (paths.CONCEPT_TABLE, _changed_csv(lambda table: table.drop(columns="zone")), "convergence", "no column zone"),
    (paths.CONCEPT_TABLE, _changed_csv(lambda table: table.assign(zone="maybe")), "convergence",
     "column zone holds 'maybe', expected one of both, convergence, divergence, none"),
    (paths.CONCEPT_TABLE, _changed_csv(lambda table: table.assign(concept=table["concept"] + 10)), "convergence",
     "column concept (the image rows) has values from 10 to 12, expected 0 to 2"),
    (paths.CONVERGENCE_METRICS, _changed_json(lambda content: content.update(calibration_temperature_image="hot")),
     "convergence", "calibration_temperature_image: Input should be a valid number"),
    (paths.CONVERGENCE_METRICS, _changed_json(lambda content: content.pop("calibration_temperature_audio")),
     "convergence", "calibration_temperature_audio: Field required"),
    (paths.FAMILIARITY, _changed_npz(lambda arrays: arrays.update(audio_train_codes=np.zeros((60, 5)))),
     "convergence", "array audio_train_codes of familiarity.npz gives the audio code size as 5"),
    (paths.FAMILIARITY, _changed_npz(lambda arrays: arrays.update(
        image_validation_errors=arrays["image_validation_errors"][::-1].copy())), "convergence",
     "array image_validation_errors must be non-empty and sorted ascending"),
    (paths.AUDIO_SETTINGS, _changed_json(lambda content: content.update(sample_rate="8000")), "preprocess",
     "sample_rate: Input should be a valid integer"),
    (paths.AUDIO_SETTINGS, _changed_json(lambda content: content.pop("n_mels")), "preprocess",
     "n_mels: Field required"),
]


@pytest.mark.parametrize("relative, damage, stage, reason", [
    pytest.param(*case, id=f"{case[0].name}-{case[3].split(':')[0][:40]}") for case in UNUSABLE_PIECES])
def test_a_learner_piece_lacking_what_the_tool_reads_is_one_line_exit_3(valid_learner, tmp_path, capsys, relative,
                                                                      damage, stage, reason):
    folder = shutil.copytree(valid_learner, tmp_path / "learner")
    damage(folder / relative)
    assert cli.main(["concepts", "--model", str(folder)]) == cli.NO_LEARNER
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"digit-concepts: {(folder / relative).resolve()}: not a usable piece of the "
                               f"trained learner ("), lines
    assert reason in lines[0] and f"`dvc repro {stage}`" in lines[0], lines


@pytest.fixture(scope="module")
def learner_with_models(tmp_path_factory):
    """The synthetic learner with tiny Keras models of the right shapes."""
    return write_learner(tmp_path_factory.mktemp("models") / "learner")


def test_the_synthetic_learner_recognises_and_imagines(learner_with_models, tmp_path, capsys, monkeypatch):
    inputs = one_of_each_sense(tmp_path)
    monkeypatch.setattr(cli, "load_learner", lambda model: Learner(learner_with_models))
    assert cli.main(["recognise", str(inputs["image"]), str(inputs["audio"])]) == cli.OK
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith(f"{inputs['image']}: image concept ") and " (cluster " in printed[1], printed
    assert cli.main(["imagine", str(inputs["audio"]), "--out", str(tmp_path / "imagined")]) == cli.OK
    assert (tmp_path / "imagined.png").is_file()


def _dense_model(path: Path, inputs_size: int, outputs_size: int) -> None:
    from digit_concepts.core.runtime import keras_with_seed, save_model

    keras = keras_with_seed(0)
    inputs = keras.Input(shape=(inputs_size,))
    path.unlink()
    save_model(keras.Model(inputs, keras.layers.Dense(outputs_size)(inputs)), path)


def test_a_keras_model_of_other_sizes_than_the_learner_is_named_with_the_stage_to_rerun(learner_with_models,
                                                                                       tmp_path):
    folder = shutil.copytree(learner_with_models, tmp_path / "learner")
    _dense_model(folder / paths.brain_model("image_to_audio"), 5, 3)  # the image codes have 4 numbers
    _dense_model(folder / paths.AUDIO_CLASSIFIER, 3, 7)  # over 7 image concepts, not 3
    loaded = Learner(folder)
    for load, relative, stage, reason in (
            (lambda: loaded.brain("image_to_audio"), paths.brain_model("image_to_audio"), "relate",
             "the input of image_to_audio.keras gives the image code size as 5, but array image_standardiser_scale "
             "of learner.npz gives 4"),
            (lambda: loaded.classifier("audio"), paths.AUDIO_CLASSIFIER, "cluster",
             "the output of audio_classifier.keras gives the image clusters as 7, but learner.json "
             "(image.n_clusters) gives 3")):
        with pytest.raises(learner.UnreadableLearner) as raised:
            load()
        message = str(raised.value)
        assert message.startswith(f"{(folder / relative).resolve()}: not a usable piece of the trained learner (")
        assert reason in message and f"`dvc repro {stage}`" in message, message
    # An autoencoder whose codes differ from those the cluster stage saw: the cluster stage reruns.
    from digit_concepts.core.runtime import keras_with_seed, save_model

    keras = keras_with_seed(0)
    pictures = keras.Input(shape=(28, 28))
    encoder = keras.Model(pictures, keras.layers.Dense(2)(keras.layers.Flatten()(pictures)), name="encoder")
    codes = keras.Input(shape=(2,))
    decoder = keras.Model(codes, keras.layers.Reshape((28, 28))(keras.layers.Dense(784)(codes)), name="decoder")
    (folder / paths.autoencoder_model("image")).unlink()
    save_model(keras.Model(pictures, decoder(encoder(pictures))), folder / paths.autoencoder_model("image"))
    with pytest.raises(learner.UnreadableLearner) as raised:
        Learner(folder).halves("image")
    message = str(raised.value)
    assert message.startswith(f"{(folder / paths.LEARNER_ARRAYS).resolve()}: not a usable piece of the trained")
    assert "the encoder's output in models/image_autoencoder/model.keras gives the image code size as 2" in message
    assert "`dvc repro cluster`" in message


def _learner_copy(project: Path, folder: Path) -> Path:
    """The pieces the tool reads, copied (new files: the project and its DVC cache stay as they are)."""
    for relative in WRITTEN_BY:
        if (project / relative).is_file():
            (folder / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(project / relative, folder / relative)
    return folder


def _lambda_model(path: Path) -> None:
    from digit_concepts.core.runtime import keras_with_seed

    keras = keras_with_seed(0)
    inputs = keras.Input(shape=(4,))
    path.unlink()
    keras.Model(inputs, keras.layers.Lambda(lambda x: -x)(inputs)).save(path)


@pytest.mark.pipeline
@pytest.mark.parametrize("command, relative, damage, stage, reason", [
    ("recognise", paths.autoencoder_model("image"), _truncated, "train_image_ae", "not a complete zip archive"),
    ("recognise", paths.IMAGE_CLASSIFIER, _truncated, "cluster", "not a complete zip archive"),
    ("recognise", paths.AUDIO_CLASSIFIER, _truncated, "cluster", "not a complete zip archive"),
    ("imagine", paths.brain_model("image_to_audio"), _lambda_model, "relate", "`Lambda` layer"),
    ("concepts", paths.LEARNER_ARRAYS, _object_array_npz, "cluster", "Object arrays cannot be loaded"),
])
def test_the_tool_names_an_unreadable_learner_file_and_exits_3(pipeline, tmp_path, command, relative, damage, stage,
                                                               reason):
    project, env, _ = pipeline
    folder = _learner_copy(project, tmp_path / "learner")
    damage(folder / relative)
    picture = tmp_path / "digit.png"
    write_image(picture, digit_picture() / 255.0)
    recording = tmp_path / "digit.wav"  # so that the audio classifier is read too
    soundfile.write(recording, tone(3, 0, 0), 8000, subtype="PCM_16")
    arguments = {"recognise": [picture, recording], "imagine": [picture, "--out", tmp_path / "out"],
                 "concepts": []}[command]
    result = run_tool([command, "--model", folder, *arguments], tmp_path)  # cli.main, in this process
    assert result.returncode == cli.NO_LEARNER, result.stderr[-3000:]
    assert reason in _one_error_line(result.stderr, folder / relative, stage)
    assert not (tmp_path / "out.wav").exists()


@pytest.mark.pipeline
@pytest.mark.parametrize("classifier", [paths.IMAGE_CLASSIFIER, paths.AUDIO_CLASSIFIER])
def test_a_learner_that_names_samples_by_a_classifier_it_lacks_says_which_stage_makes_it(pipeline, tmp_path,
                                                                                        classifier):
    project, _, _ = pipeline
    folder = _learner_copy(project, tmp_path / "learner")
    (folder / classifier).unlink()
    picture = tmp_path / "digit.png"
    write_image(picture, digit_picture() / 255.0)
    result = run_tool(["recognise", "--model", folder, picture], tmp_path)
    assert result.returncode == cli.NO_LEARNER, result.stderr[-3000:]
    assert str(classifier) in result.stderr and "dvc repro cluster" in result.stderr
