"""Exploration (not a stage): how well does the learner name printed digits, a hand it never met?

Every TrueType font on this machine (``fc-list``: DejaVu, Liberation, and matplotlib's own) prints
each digit 0-9 dark on light in a large picture, at a few sizes and slight rotations, read as the
tool reads a picture (``user_files.read_image``). The committed learner names them, as
``digit-concepts recognise`` does: by the self-labelled classifier (the default), and by the
codes alone (the neighbour vote, what named new images before self-labelling). A concept means
the digit its validation digits mostly are, for each path; nothing here was tuned on fonts.

Produced: docs/generalisation.md, section "What is and is not claimed", the bullet on "printed
digits in 66 font files". Command, from the repository root after `dvc repro`:

    .venv/bin/python experiments/explore_printed_digits.py [--pictures-per-digit 3]
"""

import argparse
import io
import subprocess
import sys
from pathlib import Path

import numpy as np
from matplotlib import font_manager
from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from digit_concepts.core import paths, storage  # noqa: E402
from digit_concepts.evaluation import scoring
from digit_concepts.senses import user_files
from digit_concepts.tool.learner import Learner  # noqa: E402


SYMBOL_FONTS = ("STIXSiz", "cmex", "cmsy", "LastResort")  # their "digits" are other glyphs, or none


def font_files() -> list[str]:
    """Every distinct TrueType file with digits: the system's (fc-list) and matplotlib's, but
    SYMBOL_FONTS."""
    found = set()
    try:
        listing = subprocess.run(["fc-list", "--format", "%{file}\n"], capture_output=True, text=True, check=True)
        found.update(line for line in listing.stdout.splitlines() if line.endswith(".ttf"))
    except (OSError, subprocess.CalledProcessError):
        pass
    found.update(font_manager.findSystemFonts(fontpaths=[str(Path(font_manager.__file__).parent / "mpl-data" / "fonts"
                                                          / "ttf")], fontext="ttf"))
    return sorted(name for name in found if not any(symbol in Path(name).name for symbol in SYMBOL_FONTS))


def printed(digit: int, font_file: str, rng: np.random.Generator) -> np.ndarray | None:
    """The digit drawn dark on light in a 200x200 picture, read as the tool reads one; None when the
    font has no glyph for it (nothing drawn)."""
    font = ImageFont.truetype(font_file, int(rng.integers(90, 140)))
    picture = Image.new("L", (200, 200), 255)
    ImageDraw.Draw(picture).text((100, 100), str(digit), font=font, fill=0, anchor="mm")
    buffer = io.BytesIO()
    picture.rotate(float(rng.uniform(-8, 8)), fillcolor=255).save(buffer, format="PNG")
    try:
        return user_files.read_image(buffer.getvalue(), name=f"{digit}.png")
    except ValueError:
        return None


def meaning(concepts: np.ndarray, digits: np.ndarray) -> np.ndarray:
    """Each concept's digit: the one its validation digits mostly are."""
    table = np.zeros((concepts.max() + 1, 10))
    np.add.at(table, (concepts, digits), 1)
    return table.argmax(axis=1)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pictures-per-digit", type=int, default=3, help="per font (sizes and rotations vary)")
    arguments = parser.parse_args()
    learner = Learner(ROOT)
    if not learner.image_classifier:
        raise SystemExit("the committed learner has no self-labelled classifier (cluster.self_labelling.epochs 0)")
    rng = np.random.default_rng(0)
    pictures, truth, font_of, fonts = [], [], [], font_files()
    for font_file in fonts:
        for digit in range(10):
            for _ in range(arguments.pictures_per_digit):
                picture = printed(digit, font_file, rng)
                if picture is not None:
                    pictures.append(picture)
                    truth.append(digit)
                    font_of.append(Path(font_file).stem)
    pictures, truth, font_of = np.stack(pictures), np.array(truth), np.array(font_of)
    validation = storage.read_npz(paths.IMAGES)["validation"]
    validation_digits = scoring.load_digits("image", "validation")
    perceived = learner.perceive("image", list(pictures))
    validation_perceived = learner.perceive("image", list(validation))
    named = {
        "self-labelled classifier (default)": (perceived.concept_log_posteriors.argmax(axis=1),
                                               validation_perceived.concept_log_posteriors.argmax(axis=1)),
        "codes alone (neighbour vote)": (learner.clusters("image", perceived.codes),
                                         learner.clusters("image", validation_perceived.codes)),
    }
    print(f"{len(pictures)} printed digits from {len(fonts)} fonts\n")
    print("| named by | printed digits right | validation digits right |")
    print("|---|---|---|")
    right = {}
    for name, (concepts, validation_concepts) in named.items():
        digit_of = meaning(validation_concepts, validation_digits)
        right[name] = digit_of[concepts] == truth
        print(f"| {name} | {right[name].mean():.3f} | "
              f"{(digit_of[validation_concepts] == validation_digits).mean():.3f} |")
    print("\nper digit, each path in the order above: " + "; ".join(
        f"{digit} " + "/".join(f"{right[name][truth == digit].mean():.2f}" for name in named) for digit in range(10)))
    digit_of = meaning(named["self-labelled classifier (default)"][1], validation_digits)
    taken = digit_of[named["self-labelled classifier (default)"][0]]
    print("\nwhat the classifier takes each printed digit for (counts of the digits its concepts mean): " + "; ".join(
        f"{digit}: " + ", ".join(f"{other} x{count}" for other, count in enumerate(np.bincount(taken[truth == digit],
                                                                                              minlength=10)) if count)
        for digit in range(10)))
    print("\nper font, each path in the order above: " + "; ".join(
        f"{font} " + "/".join(f"{right[name][font_of == font].mean():.2f}" for name in named)
        for font in sorted(set(font_of))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
