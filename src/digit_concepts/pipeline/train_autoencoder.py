"""What each sense's autoencoder learns from (the train_image_ae and train_audio_ae stages): its
train and validation samples, and what only one sense has: fresh renderings of every image each
epoch; for recordings, the log-mels a second decoder learns to make, and the image sense as teacher."""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from digit_concepts.core import paths, storage
from digit_concepts.core.sense import AUDIO, IMAGE, Sense
from digit_concepts.senses import autoencoders, drawing_variations


@dataclass(frozen=True)
class Training:
    """One sense's training inputs, as ``autoencoders.train`` takes them."""

    sense: Sense
    config: dict  # params <sense>_ae
    samples: dict  # train, validation (and train_views: augmented renderings of the train samples)
    sounds: tuple[np.ndarray, np.ndarray] | None = None  # train, validation log-mels, when the inputs are not log-mels
    teachers: tuple[np.ndarray, np.ndarray] | None = None  # train, validation targets from the image sense
    augment: Callable | None = None  # a fresh rendering of every train sample each epoch


def read_image_training(params: dict) -> Training:
    return Training(IMAGE, params["image_ae"], storage.read_npz(IMAGE.inputs),
                    augment=drawing_variations.augmentation(params["image_ae"]["augmentation"]))


def read_audio_training(params: dict) -> Training:
    """The audio autoencoder's inputs; the log-mels its sound decoder learns to make (unless the
    inputs are log-mels); the image sense's targets for its codes (``teacher_weight`` > 0)."""
    samples = storage.read_npz(AUDIO.inputs)
    sounds = None
    if params["audio"]["features"] != "log_mel":
        log_mels = storage.read_npz(AUDIO.shown)
        sounds = (log_mels["train"], log_mels["validation"])
    teachers = None
    if params["audio_ae"]["teacher_weight"] > 0:
        image_encoder, _ = autoencoders.load_halves(paths.autoencoder_model(IMAGE.name), params["seed"])
        teachers = autoencoders.image_teacher_targets(image_encoder, storage.read_npz(IMAGE.inputs),
                                                      storage.read_npz(paths.EPISODES),
                                                      {split: len(samples[split]) for split in ("train", "validation")})
    return Training(AUDIO, params["audio_ae"], samples, sounds, teachers)


READERS = {IMAGE.name: read_image_training, AUDIO.name: read_audio_training}  # sense name -> its training inputs


def summary(sense: Sense, final: dict) -> str:
    return f"{sense.name} autoencoder: " + ", ".join(f"{name} {value:.4f}" for name, value in final.items())
