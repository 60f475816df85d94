"""Exploration (not a stage): how the image concepts depend on how long the image autoencoder trains.

For each seed, the image autoencoder is trained as train_image_ae trains it (params image_ae, the
same renderings, batches and validation), and the encoder's codes of every split are taken after
each of the epochs asked for (one run serves every count: the optimiser has no schedule, so the
weights after epoch 15 of a 25-epoch run are those of a 15-epoch run). For each such encoder, the
image concepts are found as the cluster stage finds them (k chosen by co-occurrence with the audio
clusters of the committed audio codes) and scored on the validation digits by their codes
(Hungarian accuracy, as ``cluster.image.validation_acc_by_codes``; labels only score). The
decoder's sharpening does not change a code, so it is left out. One row per epoch count and
seed: k, validation accuracy, the validation BCE after that epoch, seconds of the training so far.

Produced: docs/experiments.md, "image_ae.epochs", its table. Command, from the repository root
after a full `dvc repro`:

    PYTHONPATH=src .venv/bin/python experiments/explore_image_epochs.py --seeds 42,1,2 --epochs 15,20,25
"""

import argparse
import time

import numpy as np

from digit_concepts.concepts import clustering
from digit_concepts.core import paths, storage
from digit_concepts.core.params import load
from digit_concepts.core.runtime import keras_with_seed
from digit_concepts.core.sense import AUDIO, IMAGE, SPLITS, SplitArrays
from digit_concepts.evaluation import scoring
from digit_concepts.evaluation.scoring import Labels
from digit_concepts.pipeline import cluster
from digit_concepts.senses import autoencoders, drawing_variations


def encoder_codes_by_epoch(images: dict, settings, seed: int, epochs: list[int]) -> tuple[dict, dict, dict]:
    """{epochs: {split: codes}}, {epochs: validation loss}, {epochs: seconds of training so far}."""
    import keras as keras_module

    keras = keras_with_seed(seed)
    autoencoder = autoencoders.build_autoencoder(keras=keras, input_shape=images["train"].shape[1:], settings=settings,
                                                 output_activation=autoencoders.OUTPUT_ACTIVATIONS[IMAGE.name])
    autoencoders._compile(keras, autoencoder, settings.learning_rate, autoencoders.LOSSES[IMAGE.name], 0.0)
    codes, losses, seconds, started = {}, {}, {}, time.perf_counter()

    class Snapshot(keras_module.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch + 1 in epochs:
                seconds[epoch + 1] = time.perf_counter() - started
                encoder = self.model.get_layer("encoder")
                codes[epoch + 1] = {split: encoder.predict(images[split], batch_size=1024, verbose=0)
                                    for split in SPLITS}
                losses[epoch + 1] = float(logs["val_loss"])

    augment = drawing_variations.augmentation(settings.augmentation)
    renderings = autoencoders.fresh_renderings(images["train"], augment, np.random.default_rng([seed, 4]))
    autoencoders.fit_on_fresh_renderings(model=autoencoder, renderings=renderings, targets=images["train"],
                                         epochs=max(epochs), batch_size=settings.batch_size,
                                         validation_data=(images["validation"], images["validation"]),
                                         epoch_log=Snapshot())
    return codes, losses, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="42,1,2")
    parser.add_argument("--epochs", default="15,20,25")
    arguments = parser.parse_args()
    params = load()
    epochs = sorted(int(count) for count in arguments.epochs.split(","))
    committed, streams, labels = SplitArrays.read(paths.ENCODINGS), SplitArrays.read(paths.EPISODES), Labels.read()
    images = storage.read_npz(IMAGE.inputs)
    settings = params.cluster
    fitting = clustering.Fitting.from_params(settings)
    print("| epochs | seed | k | validation acc (codes) | validation BCE | training s |")
    print("|---|---|---|---|---|---|")
    for seed in (int(seed) for seed in arguments.seeds.split(",")):
        codes_by_epoch, losses, seconds = encoder_codes_by_epoch(images, params.image_ae, seed, epochs)
        if seed == params.seed and params.image_ae.epochs in codes_by_epoch:  # the harness is the stage's training
            same = all(np.array_equal(codes_by_epoch[params.image_ae.epochs][split], committed.of(IMAGE, split))
                       for split in SPLITS)
            print(f"(seed {seed}, {params.image_ae.epochs} epochs: the committed codes {'exactly' if same else 'NOT'})",
                  flush=True)
        placing = {"sample": settings.silhouette_sample, "transform_neighbours": settings.umap_transform_neighbors,
                   "seed": seed, "fitting": fitting}
        audio = cluster.sense_concepts(AUDIO, committed, settings.audio, **placing)
        for count in epochs:
            codes = SplitArrays({**committed.arrays, **{IMAGE.key(split): codes_by_epoch[count][split]
                                                        for split in SPLITS}})
            image = cluster.sense_concepts(IMAGE, codes, settings.image, **placing, partner_score=cluster.partner_score(
                audio.clusters.train_assignments, streams, settings.cooccurrence_uncertainty_weight))
            accuracy = scoring.hungarian_accuracy(image.assignments()[IMAGE.key("validation")],
                                                  labels.of(IMAGE, "validation"))
            print(f"| {count} | {seed} | {image.n_clusters} | {accuracy:.4f} | {losses[count]:.4f} | "
                  f"{seconds[count]:.0f} |", flush=True)


if __name__ == "__main__":
    main()
