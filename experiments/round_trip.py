"""The label-free round trip of the trained learner, through the tool's own functions.

For every test image: recognise it (image concept i, partner audio concept p), imagine its sound
(brain module, audio decoder, Griffin-Lim, written as 16-bit 8 kHz WAV as `imagine` writes it),
then recognise that sound as `recognise` would a user's file; it counts when the sound lands in
p. The reverse for every FSDD test recording: its imagined image (8-bit PNG; the brain route,
`imagine --image-from brain`, since a draw from the named concept would come back by
construction) must land in the recording's partner image concept. No label is read.

Produced: docs/cli.md, section "Round trip, label-free", its table of shares. Command, from the
repository root, after a full `dvc repro` (or `dvc pull`) on the real data:

    .venv/bin/python experiments/round_trip.py

Usage: python experiments/round_trip.py [--model DIR] [--images N]   (N: only the first N test images)
"""

import argparse
import io
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile

from digit_concepts.core import paths, storage
from digit_concepts.senses import user_files
from digit_concepts.tool.learner import Learner


def as_written_wav(signal: np.ndarray, sample_rate: int) -> np.ndarray:
    """The sound as a user would get it back from the WAV file `imagine` writes."""
    buffer = io.BytesIO()
    soundfile.write(buffer, signal, sample_rate, subtype="PCM_16", format="WAV")
    buffer.seek(0)
    return soundfile.read(buffer, dtype="float32")[0]


def images_to_sounds(learner: Learner, images: np.ndarray) -> float:
    started = time.perf_counter()
    recognised = learner.recognise("image", learner.codes("image", images))
    spectrograms = learner.imagine("image", learner.codes("image", images))[:, 0]
    rate = learner.audio_settings.sample_rate
    signals = []
    for number, spectrogram in enumerate(spectrograms, 1):
        signals.append(as_written_wav(learner.sound(spectrogram), rate))
        if number % 1000 == 0:
            print(f"  {number} sounds imagined, {time.perf_counter() - started:.0f} s", flush=True)
    heard = learner.recognise("audio", learner.codes("audio", learner.audio_inputs(signals)))
    return float(np.mean([sound.concept == image.partner for image, sound in zip(recognised, heard)]))


def sounds_to_images(learner: Learner, root: Path) -> tuple[float, int]:
    table = pd.read_csv(root / paths.AUDIO_METADATA)
    files = [root / paths.FSDD_RECORDINGS_DIR / name for name in table.loc[table["split"] == "test"].sort_values("index")["file"]]
    signals = [user_files.read_audio(path, learner.audio_settings.sample_rate) for path in files]
    codes = learner.codes("audio", learner.audio_inputs(signals))
    recognised = learner.recognise("audio", codes)
    pictures = learner.imagine("audio", codes)[:, 0]
    as_png = np.round(np.clip(pictures, 0.0, 1.0) * 255) / 255.0  # what `imagine` writes, read back
    seen = learner.recognise("image", learner.codes("image", np.stack([user_files.mnist_form(p) for p in as_png])))
    return float(np.mean([picture.concept == sound.partner for sound, picture in zip(recognised, seen)])), len(files)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("."))
    parser.add_argument("--images", type=int, default=None, help="only the first N test images")
    arguments = parser.parse_args()
    learner = Learner(arguments.model)
    images = storage.read_npz(arguments.model / paths.IMAGES)["test"][:arguments.images]
    started = time.perf_counter()
    image_share = images_to_sounds(learner, images)
    print(f"images -> imagined sounds: {image_share:.4f} of {len(images)} land in the partner audio concept "
          f"({time.perf_counter() - started:.0f} s)", flush=True)
    started = time.perf_counter()
    sound_share, count = sounds_to_images(learner, arguments.model)
    print(f"recordings -> imagined images: {sound_share:.4f} of {count} land in the partner image concept "
          f"({time.perf_counter() - started:.0f} s)", flush=True)
    print(json.dumps({"image_to_sound_round_trip": image_share, "sound_to_image_round_trip": sound_share,
                      "images": len(images), "recordings": count}))


if __name__ == "__main__":
    main()
