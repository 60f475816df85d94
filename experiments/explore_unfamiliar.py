"""Exploration (not a stage): which signal tells digits from things that are not digits, for the
tool's unfamiliar flag (``familiarity.py``)?

Produced: docs/experiments.md, section "Unfamiliar samples: the flag and what it catches" (the
table). It chose the flag's signals: the distance to the nearest train code (k = 1) and the
reconstruction error, combined (Bonferroni). Command, from the repository root after `dvc repro`:

    .venv/bin/python experiments/explore_unfamiliar.py [--k 1 15] [--shares 0.01 0.02 0.05]

Calibration is on the validation split only. Reported, per sense and k: the share flagged of
test digits (should be about the chosen share), of digits shifted in ways the learner should
still name (noise, printed fonts), and of probes that are not digits (reversed and shuffled
recordings, white noise; letters from fonts, random scribbles, noise pictures), plus the AUROC
of validation digits against each probe. Prints a Markdown table.
"""

import argparse
import io
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import font_manager
from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from digit_concepts.concepts import familiarity  # noqa: E402
from digit_concepts.core import paths, storage
from digit_concepts.senses import user_files
from digit_concepts.tool.learner import Learner  # noqa: E402

FONTS = ["DejaVu Sans", "DejaVu Serif", "DejaVu Sans Mono"]
LETTERS = "ABCDEFGHJKLMNPQRTUVWXYabcdefhkmnprtuvwxy"  # no letter that reads as a digit (O, I, S, Z, g, q...)


def rendered(character: str, font_name: str, rng: np.random.Generator) -> np.ndarray:
    """A character drawn dark on light in a large picture, read as the tool reads a picture."""
    font_file = font_manager.findfont(font_manager.FontProperties(family=font_name), fallback_to_default=False)
    font = ImageFont.truetype(font_file, int(rng.integers(90, 140)))
    picture = Image.new("L", (200, 200), 255)
    ImageDraw.Draw(picture).text((100, 100), character, font=font, fill=0, anchor="mm")
    buffer = io.BytesIO()
    picture.rotate(float(rng.uniform(-10, 10)), fillcolor=255).save(buffer, format="PNG")
    return user_files.read_image(buffer.getvalue(), name=f"{character}.png")


def scribble(rng: np.random.Generator) -> np.ndarray:
    picture = Image.new("L", (200, 200), 255)
    draw = ImageDraw.Draw(picture)
    points = [tuple(rng.uniform(20, 180, 2)) for _ in range(int(rng.integers(4, 9)))]
    draw.line(points, fill=0, width=int(rng.integers(8, 16)), joint="curve")
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return user_files.read_image(buffer.getvalue(), name="scribble.png")


def noisy(signal: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    noise = rng.normal(size=signal.shape)
    scale = np.sqrt(np.mean(signal ** 2) / (np.mean(noise ** 2) * 10 ** (snr_db / 10)))
    return signal + scale * noise


def shuffled(signal: np.ndarray, chunk: int, rng: np.random.Generator) -> np.ndarray:
    pieces = [signal[start:start + chunk] for start in range(0, len(signal), chunk)]
    return np.concatenate([pieces[index] for index in rng.permutation(len(pieces))])


def auroc(inside: np.ndarray, outside: np.ndarray) -> float:
    """P(an outside sample is farther than an inside one), ties counted half."""
    ranks = pd.Series(np.concatenate([inside, outside])).rank().to_numpy()
    outside_ranks = ranks[len(inside):]
    return float((outside_ranks.sum() - len(outside) * (len(outside) + 1) / 2) / (len(inside) * len(outside)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, nargs="+", default=[1, 15])
    parser.add_argument("--shares", type=float, nargs="+", default=[0.01, 0.02, 0.05])
    parser.add_argument("--seed", type=int, default=0)
    arguments = parser.parse_args()
    rng = np.random.default_rng(arguments.seed)
    learner = Learner(ROOT)
    codes = storage.read_npz(ROOT / paths.ENCODINGS)
    metadata = pd.read_csv(ROOT / paths.AUDIO_METADATA)
    rate = learner.audio_settings.sample_rate

    def recordings(split: str) -> list[np.ndarray]:
        files = metadata[metadata["split"] == split].sort_values("index")["file"]
        return [user_files.read_audio(ROOT / paths.FSDD_RECORDINGS_DIR / name, rate) for name in files]

    validation_recordings = recordings("validation")
    test_recordings = recordings("test")
    digits_from_fonts = [rendered(str(digit), font, rng) for font in FONTS for digit in range(10) for _ in range(3)]
    images = storage.read_npz(ROOT / paths.IMAGES)
    features = storage.read_npz(ROOT / paths.AUDIO_FEATURES)
    spectrograms = storage.read_npz(ROOT / paths.SPECTROGRAMS)
    probe_recordings = {
        "test digits, noise at 10 dB SNR": [noisy(s, 10, rng) for s in test_recordings],
        "reversed recordings": [s[::-1].copy() for s in validation_recordings],
        "shuffled 50 ms pieces": [shuffled(s, rate // 20, rng) for s in validation_recordings],
        "white noise": [rng.normal(scale=0.1, size=len(s)) for s in validation_recordings],
    }
    # (what the encoder reads, what the decoder should give back): the audio autoencoder reads
    # cepstral features and gives back the log-mel.
    inputs = {
        "audio": {
            "validation digits": (features["validation"], spectrograms["validation"]),
            "test digits": (features["test"], spectrograms["test"]),
            **{name: (learner.audio_inputs(signals), learner.log_mels(signals)) for name, signals in probe_recordings.items()},
        },
        "image": {name: (pictures, pictures) for name, pictures in {
            "validation digits": images["validation"],
            "test digits": images["test"],
            "printed digits (3 fonts)": np.stack(digits_from_fonts),
            "letters (3 fonts)": np.stack([rendered(letter, font, rng) for font in FONTS for letter in LETTERS]),
            "scribbles": np.stack([scribble(rng) for _ in range(200)]),
            "noise pictures": rng.uniform(size=(200, 28, 28)).astype(np.float32),
        }.items()},
    }
    train = {"image": learner.models["image"].vote.train_inputs, "audio": learner.arrays["audio_train_features"]}
    print("| sense | score | probe | n | AUROC | " + " | ".join(f"flagged at {share:g}" for share in arguments.shares) + " |")
    print("|---|---|---|---|---|" + "---|" * len(arguments.shares))
    for sense, sense_inputs in inputs.items():
        standardiser = learner.models[sense].standardiser
        scores = {}
        for name, (samples, targets) in sense_inputs.items():
            perceived = learner.perception(sense, samples, targets)
            scores[name] = {f"distance, k={k}": familiarity.train_distances(standardiser.apply(perceived.codes),
                                                                         train[sense], k) for k in arguments.k}
            scores[name]["reconstruction MSE"] = perceived.errors
        validation_p = {}
        for score in scores["validation digits"]:
            validation = np.sort(scores["validation digits"][score])
            validation_p[score] = {name: familiarity.share_at_least(scores[name][score], validation) for name in scores}
        # Both signals: the smaller familiarity of distance (k=1) and reconstruction, doubled (Bonferroni).
        combined = {name: familiarity.combined(validation_p[f"distance, k={arguments.k[0]}"][name],
                                               validation_p["reconstruction MSE"][name]) for name in scores}
        for score, shares_of in [*validation_p.items(), ("both (Bonferroni)", combined)]:
            for name in scores:
                if name == "validation digits":
                    continue
                shares = shares_of[name]
                flagged = [(shares < share).mean() for share in arguments.shares]
                # AUROC on familiarity: lower is farther.
                area = auroc(-shares_of["validation digits"], -shares)
                print(f"| {sense} | {score} | {name} | {len(shares)} | {area:.3f} | "
                      + " | ".join(f"{value:.3f}" for value in flagged) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
