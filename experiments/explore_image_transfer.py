"""Exploration: do the image concepts hold for digits drawn differently (affine, thick, thin)?

Produced: docs/experiments.md, section "image_ae.augmentation", the table under
"Images drawn differently" (rows: baseline, aug_clean_target,
conv_aug_clean_target; the train times are this script's one-thread `train_seconds`), and the
`image_ae.augmentation` row of the "Protocol" section's table. It chose the default
`image_ae.augmentation` (affine 0.5, thicker 0.25, thinner 0.25). Command, from the repository
root, after `dvc repro preprocess` on the real data:

    .venv/bin/python experiments/explore_image_transfer.py baseline aug_clean_target conv_aug_clean_target

Protocol: train on the first 50,000 MNIST train images, choose on the last 10,000 (validation);
MNIST test is never read. Per variant: train the image autoencoder (optionally on fresh random
renderings every epoch, transfer.augmented_images), encode, cluster the train codes exactly as
the pipeline does (standardise -> UMAP 10 dims -> GMM k=10, new codes by a 15-neighbour vote),
then score the validation digits clean and in the three transfer views (Hungarian accuracy).

Usage: python experiments/explore_image_transfer.py VARIANT [VARIANT ...]; results are appended to
.tmp/image_transfer_results.jsonl and the table is rewritten to .tmp/image_transfer_results.md.
"""

import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from digit_concepts.concepts.clustering import Fitting, cluster_codes  # noqa: E402
from digit_concepts.core.params import AutoencoderSettings, ClusteringSettings, DrawingAugmentation  # noqa: E402
from digit_concepts.evaluation.scoring import hungarian_accuracy, load_digits  # noqa: E402
from digit_concepts.senses.drawing_variations import (DEFAULT_AUGMENTATION, augmented_images,  # noqa: E402
                                                      transfer_views)

OUTPUT = REPO / ".tmp"
TRAIN_COUNT = 50_000
SEED = 42
VIEW_SEED = 2024  # the validation views' transforms (fixed for every variant)
DENSE = {"architecture": "dense", "hidden_units": [512, 256], "latent_dim": 32, "noise_stddev": 0.2}
CONV = {"architecture": "conv", "hidden_units": [32, 64], "latent_dim": 32, "noise_stddev": 0.2}
CLUSTER = ClusteringSettings(reduction="umap", reduced_dim=10, umap_neighbors=30, algorithm="gmm", k=10,
                             k_selection="fixed", k_range=[6, 16])
MIXED = {"affine_probability": 0.5, "thicken_probability": 0.25, "thin_probability": 0.25}
STRONG = {**MIXED, "affine_probability": 0.6, "max_rotation_degrees": 25.0, "scale_range": (0.8, 1.2),
          "max_shift_pixels": 3.0}

# name: (architecture, epochs, augmentation or None, target: "clean" or "augmented")
VARIANTS = {
    "baseline": (DENSE, 25, None, "clean"),
    "aug_clean_target": (DENSE, 25, MIXED, "clean"),
    "aug_self_target": (DENSE, 25, MIXED, "augmented"),
    "aug_clean_target_40ep": (DENSE, 40, MIXED, "clean"),
    "aug_strong_clean_target": (DENSE, 25, STRONG, "clean"),
    "conv_baseline": (CONV, 25, None, "clean"),
    "conv_aug_clean_target": (CONV, 25, MIXED, "clean"),
}


def train_encoder(architecture: dict, epochs: int, augmentation: dict | None, target: str, train: np.ndarray):
    from digit_concepts.senses.autoencoders import build_autoencoder
    from digit_concepts.core.runtime import keras_with_seed

    keras = keras_with_seed(SEED)
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    settings = AutoencoderSettings(**architecture, epochs=epochs, batch_size=256, learning_rate=1.0e-3)
    autoencoder = build_autoencoder(keras=keras, input_shape=(28, 28), settings=settings, output_activation="sigmoid")
    autoencoder.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy")
    # The variant's keys over the defaults, as augmented_images once merged them.
    drawn = None if augmentation is None else DrawingAugmentation(**{**DEFAULT_AUGMENTATION.model_dump(),
                                                                     **augmentation})
    rng = np.random.default_rng(SEED)
    started = time.perf_counter()
    augment_seconds = 0.0
    for epoch in range(epochs):
        inputs = train
        if augmentation is not None:
            # Fresh renderings every epoch: the codes never see the same rendering twice.
            augment_started = time.perf_counter()
            inputs = augmented_images(train, rng, drawn)
            augment_seconds += time.perf_counter() - augment_started
        targets = train if target == "clean" else inputs
        history = autoencoder.fit(inputs, targets, initial_epoch=epoch, epochs=epoch + 1, batch_size=256,
                                  shuffle=True, verbose=0)
        if epoch % 5 == 4 or epoch == epochs - 1:
            print(f"  epoch {epoch + 1}: loss {history.history['loss'][-1]:.4f} "
                  f"({time.perf_counter() - started:.0f} s)", flush=True)
    seconds = time.perf_counter() - started
    return autoencoder.get_layer("encoder"), seconds, augment_seconds


def codes_of(encoder, images: np.ndarray) -> np.ndarray:
    # Direct calls in fixed chunks: Keras 3's predict once failed here after per-epoch fits
    # ("input ran out of data", UnboundLocalError batch_outputs) and lost a trained model.
    return np.concatenate([np.asarray(encoder(images[start:start + 1024], training=False))
                           for start in range(0, len(images), 1024)])


def run(name: str) -> dict:
    architecture, epochs, augmentation, target = VARIANTS[name]
    # preprocess carves validation (the last split.validation_images = 10,000 MNIST train images) out
    # of train; this script first ran before that split existed and cut the same 50,000 / 10,000.
    images = np.load(REPO / "data/preprocessed/images.npz")
    train, validation = images["train"].astype(np.float32), images["validation"].astype(np.float32)
    if len(train) != TRAIN_COUNT:
        raise SystemExit(f"expected {TRAIN_COUNT} train images (split.validation_images 10000), got {len(train)}")
    digits, validation_digits = load_digits("image", "train"), load_digits("image", "validation")
    views = {"clean": validation, **transfer_views(validation, VIEW_SEED)}
    print(f"{name}: training ({architecture['architecture']}, {epochs} epochs, augmentation {augmentation}, "
          f"target {target})", flush=True)
    encoder, train_seconds, augment_seconds = train_encoder(architecture, epochs, augmentation, target, train)
    train_codes = codes_of(encoder, train)
    view_codes = {view: codes_of(encoder, values) for view, values in views.items()}
    np.savez(OUTPUT / f"codes_{name}.npz", train=train_codes, **view_codes)
    started = time.perf_counter()
    clusters = cluster_codes(train_codes=train_codes, test_codes=view_codes["clean"], settings=CLUSTER, sample=3000,
                             seed=SEED, fitting=Fitting(3, 1e-4, 4), transform_neighbours=15)
    scores = {"clean": hungarian_accuracy(clusters.test_assignments, validation_digits)}
    for view in ("affine", "thick", "thin"):
        assignments = clusters.model.log_posteriors(view_codes[view]).argmax(axis=1)
        scores[view] = hungarian_accuracy(assignments, validation_digits)
    scores["train_fit"] = hungarian_accuracy(clusters.train_assignments, digits[:TRAIN_COUNT])
    result = {"variant": name, "architecture": architecture, "epochs": epochs, "augmentation": augmentation,
              "target": target, "train_seconds": round(train_seconds, 1), "augment_seconds": round(augment_seconds, 1),
              "cluster_seconds": round(time.perf_counter() - started, 1),
              **{key: round(value, 4) for key, value in scores.items()}}
    print(json.dumps(result), flush=True)
    return result


def write_table() -> None:
    rows = [json.loads(line) for line in (OUTPUT / "image_transfer_results.jsonl").read_text().splitlines() if line]
    lines = ["# Image concepts under transfer (validation: last 10,000 MNIST train images)", "",
             "Train: first 50,000 MNIST train images. Autoencoder -> standardise -> UMAP (30 neighbours, 10 dims, "
             "full 50,000 fit) -> GMM k=10 (full cov, reg 1e-4, 3 inits); validation codes named by a 1/distance "
             f"vote of 15 nearest train codes. Views seeded {VIEW_SEED}: affine (+-20 deg, scale 0.85-1.15, "
             "shift +-2 px), thick (grey dilation 3x3), thin (grey erosion 2x2). One CPU thread.", "",
             "| variant | arch | epochs | augmentation | target | clean | affine | thick | thin | train fit | "
             "train s | of which augment s |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        arch = f"{row['architecture']['architecture']} {row['architecture']['hidden_units']}"
        lines.append(f"| {row['variant']} | {arch} | {row['epochs']} | {row['augmentation'] or '-'} | {row['target']} | "
                     f"{row['clean']:.4f} | {row['affine']:.4f} | {row['thick']:.4f} | {row['thin']:.4f} | "
                     f"{row['train_fit']:.4f} | {row['train_seconds']:.0f} | {row['augment_seconds']:.0f} |")
    (OUTPUT / "image_transfer_results.md").write_text("\n".join(lines) + "\n")


def main(names: list[str]) -> None:
    unknown = [name for name in names if name not in VARIANTS]
    if unknown:
        raise SystemExit(f"unknown variants {unknown}; known: {sorted(VARIANTS)}")
    OUTPUT.mkdir(exist_ok=True)
    for name in names:
        result = run(name)
        with open(OUTPUT / "image_transfer_results.jsonl", "a") as results:
            results.write(json.dumps(result) + "\n")
        write_table()


if __name__ == "__main__":
    main(sys.argv[1:])
