"""cli: the command line: recognise, imagine, their options and their one-line errors."""

import json
import os
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile
from user_samples import large_png, one_of_each_sense

from digit_concepts.core import storage
from digit_concepts.tool import cli
from digit_concepts.tool.learner import Perception, Recognition


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
    return one_of_each_sense(tmp_path)


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
