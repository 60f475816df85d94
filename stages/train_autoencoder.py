"""Stages train_image_ae / train_audio_ae: one sense's autoencoder, trained on its train split."""

import argparse

from digit_concepts.core import paths
from digit_concepts.core.params import load
from digit_concepts.pipeline import train_autoencoder
from digit_concepts.senses import autoencoders


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--modality", choices=sorted(train_autoencoder.READERS), required=True)
    modality = parser.parse_args().modality
    params = load()
    training = train_autoencoder.READERS[modality](params)
    final = autoencoders.train(sense=training.sense, train_samples=training.samples["train"],
                               validation_samples=training.samples["validation"], config=training.config,
                               seed=params["seed"], model_path=paths.autoencoder_model(modality),
                               log_dir=paths.training_log_dir(modality),
                               train_views=training.samples.get("train_views"), sounds=training.sounds,
                               teachers=training.teachers, augment=training.augment)
    print(train_autoencoder.summary(training.sense, final))


if __name__ == "__main__":
    from digit_concepts.core.stage_runner import run

    run(main, __file__)
