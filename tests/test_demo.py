"""scripts/demo.py without a trained learner: the commands it runs are the ones its transcript shows,
the MNIST pictures keep their pixels, the sound check, and the run order with the command line faked.
(The real demo needs the full pipeline's outputs: the lead runs it after `dvc repro` on the real data.)"""

import itertools
import re
import shlex

import numpy as np
import pytest
import soundfile
from PIL import Image

import demo
from fakes import write_idx


def brace_expanded(word: str) -> list[str]:
    """Shell brace expansion of the {a,b,...} groups in one word (what `$ ...` lines rely on)."""
    parts = re.split(r"\{([^{}]*)\}", word)
    choices = [[part] if index % 2 == 0 else part.split(",") for index, part in enumerate(parts)]
    return ["".join(combination) for combination in itertools.product(*choices)]


def test_the_transcript_shows_the_commands_that_run():
    from digit_concepts.tool import cli

    shown = [shown for shown, _ in demo.commands()]
    assert shown[0] == ("recognise data/raw/fsdd/recordings/{0_jackson_0,3_theo_1,7_george_2,9_yweweler_4}.wav "
                        "docs/learner/mnist_test_{0,1,2,3}.png")
    for text, arguments in demo.commands():
        assert [expanded for word in shlex.split(text) for expanded in brace_expanded(word)] == arguments
        cli.parser().parse_args(arguments)  # a usage error would exit


def test_mnist_pictures_keep_their_pixels(tmp_path):
    from digit_concepts.senses import user_files

    pixels = np.zeros((6, 28, 28), np.uint8)  # light ink on a dark field, as MNIST's digits
    pixels[:, 4:24, 6:22] = np.random.default_rng(0).integers(0, 256, size=(6, 20, 16))
    idx = write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", pixels, 2051)
    written = demo.write_mnist_pictures(idx, tmp_path / "out")
    assert [path.name for path in written] == [f"mnist_test_{index}.png" for index in range(4)]
    for path, expected in zip(written, pixels):
        with Image.open(path) as image:
            assert image.mode == "L" and image.size == (28, 28)
            assert np.array_equal(np.asarray(image), expected)
        assert np.array_equal(user_files.read_image(path), expected / np.float32(255.0))  # read as MNIST's form
    with pytest.raises(ValueError, match="2 images, the demo shows 4"):
        demo.write_mnist_pictures(write_idx(tmp_path / "short.gz", pixels[:2], 2051), tmp_path / "short")


def test_sound_check(tmp_path):
    small = tmp_path / "small.wav"
    soundfile.write(small, np.zeros(3000, np.float32), 8000, subtype="PCM_16")
    assert demo.sound_problems(small) == []
    big = tmp_path / "big.wav"
    soundfile.write(big, np.zeros((3 * 44100, 2), np.float32), 44100, subtype="FLOAT")
    problems = " ".join(demo.sound_problems(big))
    for reason in ("FLOAT, not WAV/PCM_16", "44100 Hz", "2 channels", "3.00 s, over 2.0 s"):
        assert reason in problems


def test_without_a_learner_nothing_is_written(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(demo, "REPO", tmp_path)
    assert demo.main(["--model", str(tmp_path)]) == 3
    assert "no trained learner" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def _fake_project(tmp_path, monkeypatch, sound_rate: int) -> list[list[str]]:
    """A repository with the raw inputs, a learner said to be complete, and a fake `digit-concepts`
    that writes what `imagine` would (a sound at ``sound_rate``); returns the commands it was given."""
    import digit_concepts.tool.cli
    import digit_concepts.tool.learner
    from digit_concepts.core import paths

    (tmp_path / paths.MNIST_DIR).mkdir(parents=True)
    write_idx(tmp_path / paths.MNIST_DIR / "t10k-images-idx3-ubyte.gz",
              np.full((5, 28, 28), 200, np.uint8), 2051)
    (tmp_path / paths.FSDD_RECORDINGS_DIR).mkdir(parents=True)
    for name in demo.RECORDINGS:
        soundfile.write(tmp_path / paths.FSDD_RECORDINGS_DIR / f"{name}.wav", np.zeros(800, np.float32), 8000)
    calls = []

    def fake_main(arguments):
        calls.append(arguments)
        if arguments[0] == "imagine":
            out = tmp_path / arguments[arguments.index("--out") + 1]
            if "--samples" in arguments:
                for number in range(1, int(arguments[arguments.index("--samples") + 1]) + 1):
                    Image.fromarray(np.zeros((28, 28), np.uint8)).save(out.with_name(f"{out.name}_{number}.png"))
            else:
                soundfile.write(out.with_suffix(".wav"), np.zeros(sound_rate // 2, np.float32), sound_rate,
                                subtype="PCM_16")
        print(f"ran {arguments[0]}")
        return 0

    monkeypatch.setattr(demo, "REPO", tmp_path)
    monkeypatch.setattr(digit_concepts.tool.learner, "missing_files", lambda root: [])
    monkeypatch.setattr(digit_concepts.tool.cli, "main", fake_main)
    monkeypatch.chdir(tmp_path)  # demo.main moves to its REPO; the cwd comes back after the test
    return calls


def test_the_demo_writes_every_asset_and_prints_the_transcript(tmp_path, capsys, monkeypatch):
    calls = _fake_project(tmp_path, monkeypatch, 8000)
    assert demo.main([]) == 0
    assert calls == [arguments for _, arguments in demo.commands()]
    lines = capsys.readouterr().out.splitlines()
    assert lines == [line for shown, arguments in demo.commands()
                     for line in (f"$ digit-concepts {shown}", f"ran {arguments[0]}")]
    assert sorted(path.name for path in (tmp_path / "docs" / "learner").iterdir()) == sorted(
        path.name for path in demo.outputs())
    with Image.open(tmp_path / "docs" / "learner" / "mnist_test_3.png") as image:
        assert np.asarray(image).max() == 200


def test_the_demo_refuses_a_sound_that_is_not_small(tmp_path, capsys, monkeypatch):
    _fake_project(tmp_path, monkeypatch, 44100)
    assert demo.main([]) == 1
    assert "44100 Hz, not 8000 Hz" in capsys.readouterr().err
