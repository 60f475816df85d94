"""Stages train_image_ae / train_audio_ae: one sense's autoencoder, trained on its train split."""

import argparse

from digit_concepts.senses import autoencoders, drawing_variations
from digit_concepts.core import paths, storage
from digit_concepts.core.params import load

SAMPLES = {"image": paths.IMAGES, "audio": paths.AUDIO_FEATURES}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--modality", choices=sorted(SAMPLES), required=True)
    modality = parser.parse_args().modality
    params = load()
    samples = storage.read_npz(SAMPLES[modality])
    sounds = None
    if modality == "audio" and params.audio.features != "log_mel":
        log_mels = storage.read_npz(paths.SPECTROGRAMS)
        sounds = (log_mels["train"], log_mels["validation"])
    teachers = None
    if modality == "audio" and params.audio_ae.teacher_weight > 0:
        image_encoder, _ = autoencoders.load_halves(paths.autoencoder_model("image"), params.seed)
        teachers = autoencoders.image_teacher_targets(image_encoder, storage.read_npz(paths.IMAGES),
                                                      storage.read_npz(paths.EPISODES),
                                                      {split: len(samples[split]) for split in ("train", "validation")})
    settings = params.image_ae if modality == "image" else params.audio_ae
    final = autoencoders.train(modality=modality, train_samples=samples["train"],
                               validation_samples=samples["validation"], settings=settings, seed=params.seed,
                               model_path=paths.autoencoder_model(modality), log_dir=paths.training_log_dir(modality),
                               train_views=samples.get("train_views"), sounds=sounds, teachers=teachers,
                               augment=drawing_variations.augmentation(params.image_ae.augmentation)
                               if modality == "image" else None)
    print(f"{modality} autoencoder: " + ", ".join(f"{name} {value:.4f}" for name, value in final.items()))


if __name__ == "__main__":
    from digit_concepts.core.stage_runner import run

    run(main, __file__)
