"""Faults of the tool (digit-concepts) found by probing: an --out it cannot write, and a learner
folder whose pieces are there but cannot be read (truncated, corrupt or crafted) or used (an array,
key or column missing, a wrong shape or type). Each ends in one line naming the file, never a
traceback."""

import json
import os
import shutil
import socket
import threading
import time
import zipfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile

from digit_concepts.tool import cli, learner, server
from digit_concepts.core import paths, storage
from digit_concepts.tool.learner import REQUIRED, WRITTEN_BY, Learner, Perception, Recognition
from digit_concepts.tool.learner_files import Sizes
from digit_concepts.senses.user_files import write_image
from fakes import tone
from synthetic_learner import rewrite_json, write_learner
from tiny_project import run_tool
from user_samples import digit_picture, large_png

# ------------------------------------------------------------- imagine --out it cannot write


class _FakeLearner:
    """Just what ``imagine`` asks of a learner: the write is under test, not the learner."""

    audio_settings = SimpleNamespace(sample_rate=8000)
    batch_neighbours = 20  # the pipeline's adaptation.batch_neighbours, for --adapt alone

    def __init__(self):
        self.borrowed = []  # the batch_neighbours each recognise call was given

    def audio_inputs(self, signals):
        return np.zeros((len(signals), 3), np.float32)

    def codes(self, sense, inputs):
        return np.zeros((len(inputs), 4), np.float32)

    def perceive(self, sense, contents):
        return Perception(self.codes(sense, contents), np.zeros(len(contents)))

    def recognise(self, sense, perceived, batch_neighbours=0):
        self.borrowed.append(batch_neighbours)
        return [Recognition(sense, 1, 1, 0.9, 1, 0.5, "none") for _ in perceived.codes]

    def imagine(self, sense, codes, samples=1, temperature=0.5, image_from="brain", named=None):
        shape = (8, 12) if sense == "image" else (28, 28)  # a log-mel to sound out, or an image
        return np.full((len(codes), samples, *shape), 0.5, np.float32)

    def sound(self, log_mel):
        return np.sin(np.linspace(0, 200, 800)).astype(np.float32) * 0.3


@pytest.fixture
def fake_learner(monkeypatch):
    """The learner the tool loads, replaced by the fake."""
    fake = _FakeLearner()
    monkeypatch.setattr(cli, "load_learner", lambda model: fake)
    return fake


@pytest.fixture
def inputs(tmp_path, fake_learner):
    """{sense: a file of that sense}; the tool's learner replaced by the fake."""
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


# ------------------------------------------------------------- imagine --out, --temperature, --samples


@pytest.mark.parametrize("sense, out, expected", [("image", "imagined.png", ".wav"), ("audio", "imagined.wav", ".png"),
                                                  ("image", "imagined.v2", ".wav")])
def test_imagine_refuses_an_out_suffix_it_would_not_write(inputs, tmp_path, capsys, sense, out, expected):
    code, printed, err = _imagine(inputs[sense], tmp_path / out, capsys)
    assert code == cli.USAGE and printed == "", err
    what = {"image": "an image is a sound", "audio": "a recording is an image"}[sense]
    assert err.splitlines() == [f"digit-concepts: --out {tmp_path / out}: what is imagined for {what}, written as "
                                f"{expected}: give OUT ending in {expected}, or no suffix"], err
    assert sorted(path.name for path in tmp_path.iterdir()) == ["in"]  # nothing written


@pytest.mark.parametrize("sense, out, written", [
    ("image", "sound.wav", ["sound.wav"]), ("image", "sound", ["sound.wav"]), ("image", "sound.WAV", ["sound.WAV"]),
    ("audio", "picture.png", ["picture.png"]), ("audio", "picture", ["picture.png"])])
def test_imagine_writes_the_out_it_was_given(inputs, tmp_path, capsys, sense, out, written):
    code, printed, err = _imagine(inputs[sense], tmp_path / "out" / out, capsys)
    assert code == cli.OK and err == "", err
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == written
    assert printed.splitlines()[-1] == f"imagined {'sound' if sense == 'image' else 'image'}: {tmp_path / 'out' / written[0]}"


@pytest.mark.parametrize("option, value, why", [
    ("--temperature", "nan", "must be a finite number >= 0, got 'nan'"),
    ("--temperature", "inf", "must be a finite number >= 0, got 'inf'"),
    ("--temperature", "-0.5", "must be a finite number >= 0, got '-0.5'"),
    ("--temperature", "warm", "must be a finite number >= 0, got 'warm'"),
    ("--samples", "0", "must be a whole number >= 1, got '0'"),
])
def test_imagine_refuses_a_temperature_or_count_out_of_range(inputs, tmp_path, capsys, option, value, why):
    with pytest.raises(SystemExit) as raised:
        cli.main(["imagine", str(inputs["image"]), "--out", str(tmp_path / "sound"), option, value])
    assert raised.value.code == cli.USAGE
    assert capsys.readouterr().err.splitlines()[-1] == f"digit-concepts imagine: error: argument {option}: {why}"
    assert not (tmp_path / "sound.wav").exists()


def test_imagine_takes_a_temperature_of_zero(inputs, tmp_path, capsys):
    code, _, err = _imagine(inputs["image"], tmp_path / "sound", capsys, "--temperature", "0", "--samples", 2)
    assert code == cli.OK and err == ""


# ------------------------------------------------------------- files the tool must not decode or open


def test_recognise_calls_a_huge_picture_too_large_and_a_named_pipe_not_a_file(inputs, tmp_path, capsys):
    (tmp_path / "huge.png").write_bytes(large_png(12_000, 12_000))
    files = [tmp_path / "huge.png", inputs["image"]]
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "pipe.wav")
        files.append(tmp_path / "pipe.wav")
    code = cli.main(["recognise", *map(str, files)])
    captured = capsys.readouterr()
    assert code == cli.BAD_FILE
    assert captured.err.splitlines() == [
        f"digit-concepts: {tmp_path / 'huge.png'}: too large (12000x12000 pixels; at most 50,000,000 pixels)",
        *([f"digit-concepts: {tmp_path / 'pipe.wav'}: not a regular file (a named pipe)"] if len(files) > 2 else [])]
    assert captured.out.startswith(f"{inputs['image']}: image concept 1")  # the usable file is still recognised


# ------------------------------------------------------------- recognise --adapt, wherever it stands


@pytest.mark.parametrize("arguments, files, borrowed", [
    (["--adapt", "image"], ["image"], 20),  # --adapt alone, then one file
    (["--adapt", "image", "audio"], ["image", "audio"], 20),
    (["--adapt", "10", "image", "audio"], ["image", "audio"], 10),
    (["image", "audio", "--adapt"], ["image", "audio"], 20),
    (["image", "--adapt", "audio"], ["image", "audio"], 20),
    (["--json", "--adapt", "audio", "image"], ["audio", "image"], 20),
    (["image", "--adapt=3"], ["image"], 3),
    (["image", "--adapt", "0"], ["image"], 0),
    (["audio"], ["audio"], 0),  # each file alone
])
def test_recognise_adapt_takes_a_number_or_nothing_wherever_it_stands(inputs, fake_learner, capsys, arguments,
                                                                     files, borrowed):
    code = cli.main(["recognise", *(str(inputs[argument]) if argument in inputs else argument
                                    for argument in arguments)])
    captured = capsys.readouterr()
    assert code == cli.OK and captured.err == "", captured.err
    named = [line.split(": ")[0] if not line.startswith("{") else json.loads(line)["file"]
             for line in captured.out.splitlines()]
    assert named == [str(inputs[sense]) for sense in files]
    assert fake_learner.borrowed == [borrowed] * len(files)


@pytest.mark.parametrize("value", ["-1", "1.5", "+2"])
def test_recognise_refuses_an_adapt_that_is_not_a_whole_number(inputs, capsys, value):
    with pytest.raises(SystemExit) as raised:
        cli.main(["recognise", "--adapt", value, str(inputs["image"])])
    assert raised.value.code == cli.USAGE
    assert capsys.readouterr().err.splitlines()[-1] == (f"digit-concepts recognise: error: argument --adapt: must be "
                                                        f"a whole number >= 0, got {value!r}")


# ------------------------------------------------------------- serve: connections and slow requests

SERVE_LIMITS = server.Limits(connections=2, request_seconds=0.6, keep_alive_seconds=1, header_bytes=4096)


def test_serve_passes_its_limits_to_uvicorn():
    config = server.uvicorn_config(None, SERVE_LIMITS)
    assert config.limit_concurrency == 3  # uvicorn counts the asking connection: it refuses past 2, as the guard
    assert (config.timeout_keep_alive, config.h11_max_incomplete_event_size) == (1, 4096)
    assert config.http.func is server.GuardedH11Protocol and config.http.keywords == {"limits": SERVE_LIMITS}
    assert config.timeout_graceful_shutdown is not None
    defaults = server.uvicorn_config(None)
    assert defaults.limit_concurrency == server.Limits().connections + 1 and defaults.timeout_keep_alive == 5


@pytest.fixture
def small_server():
    """(base URL, warning lines) of a page app on a fake learner under SERVE_LIMITS: the connection
    guards are under test, not the learner."""
    import logging

    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    page = object.__new__(server.Page)  # no learner: what ``answer`` uses, and nothing else
    page.learner, page.image_from, page.limits, page.examples = None, "concept", SERVE_LIMITS, {}
    page.worker, page.worker_lock = None, threading.Lock()
    async def drawing(request):
        return await page.answer(request, lambda learner, content, *limits: {"length": len(content),
                                                                             "examples_of": 0})

    app = Starlette(routes=[Route("/", lambda request: PlainTextResponse("ok")),
                            Route("/api/drawing", drawing, methods=["POST"])])
    lines = []

    class Lines(logging.Handler):
        def emit(self, record):
            lines.append(record.getMessage() + (" TRACEBACK" if record.exc_info else ""))

    with server.serving(app, limits=SERVE_LIMITS) as base:
        handler = Lines()
        logging.getLogger("uvicorn.error").addHandler(handler)
        try:
            yield base, lines
        finally:
            logging.getLogger("uvicorn.error").removeHandler(handler)
    page.stop()


def _connected(base: str) -> socket.socket:
    host, port = base.split("//")[1].rstrip("/").split(":")
    return socket.create_connection((host, int(port)), timeout=5)


def _answer(connection: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    received = b""
    while chunk := connection.recv(65536):
        received += chunk
    return received


def test_serve_refuses_a_connection_past_its_cap_and_closes_slow_requests_in_one_line_each(small_server):
    base, lines = small_server
    idle = [_connected(base) for _ in range(2)]
    time.sleep(0.1)
    third = _connected(base)
    assert _answer(third).startswith(b"HTTP/1.1 503 Service Unavailable")
    assert len(lines) == 1 and lines[0].startswith("refused a connection from 127.0.0.1:"), lines
    assert lines[0].endswith(": 2 are open, the most the page serves at once"), lines
    # Silent clients: closed at the deadline, with 408, not kept open.
    started = time.monotonic()
    for connection in idle:
        assert _answer(connection).startswith(b"HTTP/1.1 408 Request Timeout")
    assert time.monotonic() - started < 2.0
    # A body that trickles: closed at the deadline; the app sees the client leave, without a traceback.
    slow = _connected(base)
    slow.sendall(b"POST /api/drawing HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: multipart/form-data; "
                 b"boundary=x\r\ncontent-length: 1000\r\n\r\n--x\r\n")
    assert _answer(slow) == b""
    time.sleep(0.2)
    closed = [line for line in lines[1:] if line.startswith("closed the connection from 127.0.0.1:")]
    assert len(closed) == 3 and all(line.endswith("its request did not arrive whole within 0.6 s") for line in closed)
    assert not [line for line in lines if "TRACEBACK" in line or "Exception" in line], lines
    # Headers that go on past their cap: 400, one line (uvicorn's own).
    endless = _connected(base)
    endless.sendall(b"GET / HTTP/1.1\r\nhost: 127.0.0.1\r\nx-padding: " + b"a" * 5000)
    assert _answer(endless).startswith(b"HTTP/1.1 400")
    assert lines[-1] == "Invalid HTTP request received.", lines
    # A whole request is still answered; the connection, kept alive, closes when idle, without a 408.
    answered = _connected(base)
    answered.sendall(b"GET / HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
    received = _answer(answered)
    assert received.startswith(b"HTTP/1.1 200 OK") and b"408" not in received
    # An upload's own refusals are still answered (here: too large).
    declared = _connected(base)
    declared.sendall(b"POST /api/drawing HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: multipart/form-data; "
                     b"boundary=x\r\ncontent-length: 99999999\r\n\r\n")
    assert _answer(declared).startswith(b"HTTP/1.1 413")
    assert not [line for line in lines if "TRACEBACK" in line], lines


# ------------------------------------------------------------- a learner it cannot read


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


# ------------------------------------------------------------- a learner that is read but cannot be used


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


def test_the_synthetic_learner_recognises_and_imagines(learner_with_models, inputs, tmp_path, capsys, monkeypatch):
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
