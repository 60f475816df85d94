"""Stages train_image_ae / train_audio_ae: one sense's autoencoder, trained on its train split."""

import argparse

import numpy as np

from digit_concepts import autoencoders, paths, storage, transfer
from digit_concepts.params import load
from digit_concepts.standardisation import Standardiser

SAMPLES = {"image": paths.IMAGES, "audio": paths.AUDIO_FEATURES}


def image_partner_targets(seed: int, recordings: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """Train and validation recordings' targets from the image sense: the mean (train-standardised)
    image code of the images each recording was shown with, over its split's episodes."""
    images = storage.read_npz(paths.IMAGES)
    streams = storage.read_npz(paths.EPISODES)
    encoder, _ = autoencoders.load_halves(paths.autoencoder_model("image"), seed)
    codes = {split: encoder.predict(images[split], batch_size=1024, verbose=0) for split in recordings}
    standardiser = Standardiser.fit(codes["train"])
    return tuple(autoencoders.partner_targets(standardiser.apply(codes[split]), streams[f"{split}_image_index"],
                                              streams[f"{split}_audio_index"], count)
                 for split, count in recordings.items())


def image_augmentation(config: dict):
    """``augment(images, rng)`` drawing the renderings ``config`` (params image_ae.augmentation) asks
    for, or None when it asks for none."""
    if config["affine_probability"] == 0 and config["thicken_probability"] == 0 and config["thin_probability"] == 0:
        return None
    settings = {**config, "scale_range": tuple(config["scale_range"])}
    return lambda images, rng: transfer.augmented_images(images, rng, settings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--modality", choices=sorted(SAMPLES), required=True)
    modality = parser.parse_args().modality
    params = load()
    samples = storage.read_npz(SAMPLES[modality])
    sounds = None
    if modality == "audio" and params["audio"]["features"] != "log_mel":
        log_mels = storage.read_npz(paths.SPECTROGRAMS)
        sounds = (log_mels["train"], log_mels["validation"])
    teachers = None
    if modality == "audio" and params["audio_ae"]["teacher_weight"] > 0:
        teachers = image_partner_targets(params["seed"], {split: len(samples[split]) for split in ("train", "validation")})
    final = autoencoders.train(modality, samples["train"], samples["validation"], params[f"{modality}_ae"],
                               params["seed"], paths.autoencoder_model(modality), paths.training_log_dir(modality),
                               train_views=samples.get("train_views"), sounds=sounds, teachers=teachers,
                               augment=image_augmentation(params["image_ae"]["augmentation"]) if modality == "image"
                               else None)
    print(f"{modality} autoencoder: " + ", ".join(f"{name} {value:.4f}" for name, value in final.items()))


if __name__ == "__main__":
    from digit_concepts.stage_runner import run

    run(main, __file__)
