"""Faults of the tool (digit-concepts) found by probing: an --out it cannot write, and a learner
folder whose pieces are there but cannot be read (truncated, corrupt or crafted). Each ends in one
line naming the file, never a traceback."""

import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile

from digit_concepts.tool import cli, learner
from digit_concepts.core import paths, storage
from digit_concepts.tool.learner import REQUIRED, WRITTEN_BY, Learner, Perception, Recognition
from digit_concepts.senses.user_files import write_image
from fakes import tone
from tiny_project import run_tool
from user_samples import digit_picture

# ------------------------------------------------------------- imagine --out it cannot write


class _FakeLearner:
    """Just what ``imagine`` asks of a learner: the write is under test, not the learner."""

    audio_settings = SimpleNamespace(sample_rate=8000)

    def audio_inputs(self, signals):
        return np.zeros((len(signals), 3), np.float32)

    def codes(self, sense, inputs):
        return np.zeros((len(inputs), 4), np.float32)

    def perceive(self, sense, contents):
        return Perception(self.codes(sense, contents), np.zeros(len(contents)))

    def recognise(self, sense, perceived, batch_neighbours=0):
        return [Recognition(sense, 1, 1, 0.9, 1, 0.5, "none") for _ in perceived.codes]

    def imagine(self, sense, codes, samples=1, temperature=0.5, image_from="brain", named=None):
        shape = (8, 12) if sense == "image" else (28, 28)  # a log-mel to sound out, or an image
        return np.full((len(codes), samples, *shape), 0.5, np.float32)

    def sound(self, log_mel):
        return np.sin(np.linspace(0, 200, 800)).astype(np.float32) * 0.3


@pytest.fixture
def inputs(tmp_path, monkeypatch):
    """{sense: a file of that sense}; the tool's learner replaced by the fake."""
    monkeypatch.setattr(cli, "load_learner", lambda model: _FakeLearner())
    (tmp_path / "in").mkdir()
    write_image(tmp_path / "in" / "digit.png", digit_picture() / 255.0)
    soundfile.write(tmp_path / "in" / "digit.wav", tone(3, 0, 0), 8000, subtype="PCM_16")
    return {"image": tmp_path / "in" / "digit.png", "audio": tmp_path / "in" / "digit.wav"}


def _imagine(file: Path, out: Path, capsys, *extra: str) -> tuple[int, str, str]:
    code = cli.main(["imagine", str(file), "--out", str(out), *map(str, extra)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("sense, suffix", [("image", ".wav"), ("audio", ".png")])
def test_imagine_into_a_path_under_a_file_names_the_path(inputs, tmp_path, capsys, sense, suffix):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder")
    out = blocker / "sub" / "imagined"
    code, _, err = _imagine(inputs[sense], out, capsys)
    assert code == cli.BAD_FILE, err
    assert err.splitlines() == [f"digit-concepts: {out}{suffix}: cannot write the output file "
                                f"({blocker} is a file, not a folder)"], err
    assert blocker.read_text() == "a file, not a folder"


@pytest.mark.parametrize("sense, suffix", [("image", ".wav"), ("audio", ".png")])
def test_imagine_onto_a_folder_names_the_path_and_writes_the_other_samples(inputs, tmp_path, capsys, sense, suffix):
    out = tmp_path / "out" / "imagined"
    (out.parent / f"imagined_2{suffix}").mkdir(parents=True)  # a folder where the second sample must go
    code, printed, err = _imagine(inputs[sense], out, capsys, "--samples", 3)
    assert code == cli.BAD_FILE, err
    assert err.splitlines() == [f"digit-concepts: {out.parent / f'imagined_2{suffix}'}: cannot write the output "
                                f"file (a folder of that name is in the way)"], err
    for number in (1, 3):  # the others are still written, and said so
        assert (out.parent / f"imagined_{number}{suffix}").stat().st_size > 0
        assert f": {out.parent / f'imagined_{number}{suffix}'}" in printed
    assert sorted(path.name for path in out.parent.iterdir()) == [f"imagined_{n}{suffix}" for n in (1, 2, 3)]


def test_imagine_into_a_writable_folder_still_writes(inputs, tmp_path, capsys):
    code, _, err = _imagine(inputs["image"], tmp_path / "new" / "folder" / "sound", capsys)
    assert code == cli.OK and err == ""
    assert soundfile.info(str(tmp_path / "new" / "folder" / "sound.wav")).samplerate == 8000
    code, _, err = _imagine(inputs["audio"], tmp_path / "new" / "picture", capsys)
    assert code == cli.OK and err == ""
    assert (tmp_path / "new" / "picture.png").stat().st_mode & 0o777 == storage._shared_mode(0o666)


# ------------------------------------------------------------- a learner it cannot read


def _placeholder_learner(folder: Path) -> Path:
    """A folder with every piece the tool looks for, each an empty placeholder."""
    for relative in REQUIRED:
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_bytes(b"")
    return folder


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
def test_an_unreadable_learner_npz_is_one_line_exit_3(tmp_path, capsys, damage, reason):
    folder = _placeholder_learner(tmp_path / "learner")
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
    loaded.root, loaded.seed, loaded.keras_models = folder, 0, {}
    return loaded


@pytest.mark.parametrize("damage, reason", [
    ("truncated", "(not a complete zip archive: truncated or corrupt)"),
    ("lambda", "(ValueError: Requested the deserialization of a `Lambda` layer"),
])
def test_an_unreadable_keras_model_is_named(keras_files, tmp_path, damage, reason):
    folder = tmp_path / "learner"
    for relative in (paths.autoencoder_model("image"), paths.brain_model("image_to_audio")):
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(keras_files / ("lambda.keras" if damage == "lambda" else "good.keras"), folder / relative)
        if damage == "truncated":
            _truncated(folder / relative)
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


# ------------------------------------------------------------- the same, end to end on the tiny pipeline


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
