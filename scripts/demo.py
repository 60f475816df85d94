"""Regenerate the demo in docs/learner/ with the trained learner, and print its transcript.

    .venv/bin/python scripts/demo.py               # after a full `dvc repro` (or `dvc pull`) on the real data
    .venv/bin/python scripts/demo.py --model DIR   # a learner in another folder (the commands then name it)

It writes the small files that docs/cli.md, "The demo", shows: the pictures are committed to git,
the sound is a generated output that git ignores (docs/learner/.gitignore):

- docs/learner/mnist_test_{0,1,2,3}.png: MNIST test images 0-3 (data/raw/mnist t10k), 28x28 8-bit PNG;
- docs/learner/imagined_sound.wav: the sound imagined for mnist_test_0.png (8 kHz mono 16-bit, a
  fraction of a second: a few kB);
- docs/learner/imagined_image_{1,2,3}.png: three images imagined for the recording
  data/raw/fsdd/recordings/7_george_2.wav (`--samples 3`).

Every step after the MNIST pictures runs through the `digit-concepts` command line itself
(``digit_concepts.tool.cli.main``, what the installed command calls), from the repository root, so the
transcript printed (each command after `$ `, then its output) is what the same commands print in a
shell. Exit codes: 0 done; 2 an input is missing (the message says what to run); 3 no trained learner;
otherwise the failing command's own code, or 1 when an output is not what the demo promises.
"""

import argparse
import os
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
OUT = Path("docs/learner")  # relative to the repository root, as the transcript names it
RECORDINGS = ("0_jackson_0", "3_theo_1", "7_george_2", "9_yweweler_4")
IMAGE_COUNT = 4
SOUND_FROM = 0  # the MNIST test image whose sound is imagined
IMAGES_FROM = "7_george_2"  # the recording whose images are imagined
IMAGINED_IMAGES = 3
MAX_SOUND_SECONDS = 2.0  # imagined sounds are 32 frames of 64 samples at 8 kHz plus Griffin-Lim's tail


def recording(name: str) -> str:
    from digit_concepts.core import paths

    return f"{paths.FSDD_RECORDINGS_DIR.as_posix()}/{name}.wav"


def picture(index: int) -> str:
    return f"{OUT.as_posix()}/mnist_test_{index}.png"


def commands() -> list[tuple[str, list[str]]]:
    """(as the transcript shows it, the arguments run) for each `digit-concepts` command of the demo."""
    from digit_concepts.core import paths

    folder = paths.FSDD_RECORDINGS_DIR.as_posix()
    pictures = [picture(index) for index in range(IMAGE_COUNT)]
    return [
        (f"recognise {folder}/{{{','.join(RECORDINGS)}}}.wav "
         + f"{OUT.as_posix()}/mnist_test_{{{','.join(str(index) for index in range(IMAGE_COUNT))}}}.png",
         ["recognise", *[recording(name) for name in RECORDINGS], *pictures]),
        (f"imagine {picture(SOUND_FROM)} --out {OUT.as_posix()}/imagined_sound",
         ["imagine", picture(SOUND_FROM), "--out", f"{OUT.as_posix()}/imagined_sound"]),
        (f"imagine {recording(IMAGES_FROM)} --out {OUT.as_posix()}/imagined_image --samples {IMAGINED_IMAGES}",
         ["imagine", recording(IMAGES_FROM), "--out", f"{OUT.as_posix()}/imagined_image", "--samples",
          str(IMAGINED_IMAGES)]),
        (f"recognise {OUT.as_posix()}/imagined_sound.wav {OUT.as_posix()}/imagined_image_1.png",
         ["recognise", f"{OUT.as_posix()}/imagined_sound.wav", f"{OUT.as_posix()}/imagined_image_1.png"]),
    ]


def outputs() -> list[Path]:
    """Every file the demo writes, relative to the repository root."""
    return ([Path(picture(index)) for index in range(IMAGE_COUNT)] + [OUT / "imagined_sound.wav"]
            + [OUT / f"imagined_image_{number}.png" for number in range(1, IMAGINED_IMAGES + 1)])


def missing_inputs(root: Path) -> list[Path]:
    """The raw files the demo reads that are not under ``root``."""
    from digit_concepts.core import paths

    needed = [paths.MNIST_DIR / "t10k-images-idx3-ubyte.gz"] + [Path(recording(name)) for name in RECORDINGS]
    return [path for path in needed if not (root / path).is_file()]


def write_mnist_pictures(idx_file: Path, folder: Path, count: int = IMAGE_COUNT) -> list[Path]:
    """The first ``count`` images of an MNIST IDX file as 8-bit PNGs ``mnist_test_<i>.png`` (pixels unchanged)."""
    from digit_concepts.senses import data, user_files

    pixels = data.read_idx(idx_file, data.IDX_IMAGES_MAGIC)[:count]
    if len(pixels) < count:
        raise ValueError(f"{idx_file}: {len(pixels)} images, the demo shows {count}")
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for index, image in enumerate(pixels):
        target = folder / f"mnist_test_{index}.png"
        user_files.write_image(target, image.astype(np.float32) / 255.0)
        written.append(target)
    return written


def sound_problems(path: Path) -> list[str]:
    """Why ``path`` is not a small demo sound (8 kHz, mono, 16-bit PCM WAV, at most MAX_SOUND_SECONDS); [] if it is."""
    import soundfile

    info = soundfile.info(str(path))
    problems = []
    if (info.format, info.subtype) != ("WAV", "PCM_16"):
        problems.append(f"{info.format}/{info.subtype}, not WAV/PCM_16")
    if info.samplerate != 8000:
        problems.append(f"{info.samplerate} Hz, not 8000 Hz")
    if info.channels != 1:
        problems.append(f"{info.channels} channels, not mono")
    if info.duration > MAX_SOUND_SECONDS:
        problems.append(f"{info.duration:.2f} s, over {MAX_SOUND_SECONDS} s")
    return [f"{path}: {problem}" for problem in problems]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None, metavar="DIR",
                        help="folder holding the trained learner (default: this repository)")
    arguments = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from digit_concepts.tool import cli
    from digit_concepts.core import paths
    from digit_concepts.tool.learner import missing_files

    model = (arguments.model or REPO).resolve()
    missing = missing_files(model)
    if missing:
        print(f"demo: no trained learner in {model}: missing {', '.join(map(str, missing))}; run `dvc repro` "
              f"(or `dvc pull`) on the real data first", file=sys.stderr)
        return cli.NO_LEARNER
    absent = missing_inputs(REPO)
    if absent:
        print(f"demo: missing {', '.join(map(str, absent))}; run `dvc repro download` first", file=sys.stderr)
        return cli.USAGE
    os.chdir(REPO)  # the commands and their output name files relative to the repository root
    write_mnist_pictures(paths.MNIST_DIR / "t10k-images-idx3-ubyte.gz", OUT)
    # The folder as the user named it in the transcript; resolved for the run (the cwd changed).
    shown_model = "" if arguments.model is None else f" --model {arguments.model}"
    run_model = [] if arguments.model is None else ["--model", str(model)]
    for shown, command in commands():
        print(f"$ digit-concepts {shown}{shown_model}", flush=True)
        code = cli.main(command + run_model)
        sys.stdout.flush()
        if code != cli.OK:
            print(f"demo: `digit-concepts {shown}` exited with {code}", file=sys.stderr)
            return code
    problems = [f"{path}: not written" for path in outputs() if not path.is_file()]
    problems += sound_problems(OUT / "imagined_sound.wav") if (OUT / "imagined_sound.wav").is_file() else []
    for problem in problems:
        print(f"demo: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
