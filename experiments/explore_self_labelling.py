"""Exploration (not a stage): can the image concepts be sharpened by self-labelling, as DEC-DA and
SCAN-style methods do, without labels?

The image concepts of a committed run (`data/clusters/assignments.npz`, the train digits' concepts
found by the GMM on the UMAP manifold) become pseudo-labels. A classifier learns them from the
train digits, each epoch freshly re-rendered (``transfer.augmented_images``, the image
autoencoder's own augmentation), and names the validation digits. Only validation is scored
(Hungarian ACC, as ``cluster.image.validation_acc``, which is the baseline); labels score only.

Produced: docs/experiments.md, section "Self-labelling: a classifier names new images", its first
table (seed 42 all four variants, then cnn_all with --seed 1 and 2) and its second (``--epochs 4
--variants cnn_all --proxies``: the validation digits drawn differently).

Variants (each one seed): an MLP on the images, a small CNN on the images, each with all
pseudo-labels or only the train digits whose concept the neighbour vote is sure of (their own
concept shared by most of their 15 nearest train codes).

Command, from the repository root after a full `dvc repro`:

    .venv/bin/python experiments/explore_self_labelling.py [--epochs 6] [--variants cnn_all] [--seed 1]
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from digit_concepts.core import paths, storage  # noqa: E402
from digit_concepts.evaluation import scoring
from digit_concepts.senses import domain_shifts, drawing_variations
from digit_concepts.core.runtime import keras_with_seed  # noqa: E402

SEED = 42


def model(keras, kind: str, concepts: int):
    inputs = keras.Input((28, 28), name="image")
    if kind == "mlp":
        x = keras.layers.Flatten()(inputs)
        for width in (512, 256):
            x = keras.layers.Dense(width, activation="relu")(x)
    else:
        x = keras.layers.Reshape((28, 28, 1))(inputs)
        for filters in (32, 64):
            x = keras.layers.Conv2D(filters, 3, activation="relu", padding="same")(x)
            x = keras.layers.MaxPooling2D()(x)
        x = keras.layers.Flatten()(x)
        x = keras.layers.Dense(128, activation="relu")(x)
    outputs = keras.layers.Dense(concepts, activation="softmax")(x)
    network = keras.Model(inputs, outputs)
    network.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    return network


def sure_members(codes: np.ndarray, concepts: np.ndarray, neighbours: int = 15, share: float = 0.9) -> np.ndarray:
    """Train digits whose concept is shared by at least ``share`` of their nearest train codes."""
    from sklearn.neighbors import NearestNeighbors

    standardised = (codes - codes.mean(0)) / (codes.std(0) + 1e-6)
    _, indices = NearestNeighbors(n_neighbors=neighbours + 1).fit(standardised).kneighbors(standardised)
    return (concepts[indices[:, 1:]] == concepts[:, None]).mean(axis=1) >= share


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--variants", default="mlp_all,mlp_sure,cnn_all,cnn_sure")
    parser.add_argument("--seed", type=int, default=SEED, help="the classifier's seed (the concepts stay the run's)")
    parser.add_argument("--proxies", action="store_true",
                        help="after the last epoch, also name the validation digits drawn differently (transfer.json's views)")
    args = parser.parse_args()
    images = storage.read_npz(paths.IMAGES)
    assignments = storage.read_npz(paths.CLUSTER_ASSIGNMENTS)
    codes = storage.read_npz(paths.ENCODINGS)
    pseudo = assignments["image_train"]
    digits = scoring.load_digits("image", "validation")
    baseline = scoring.hungarian_accuracy(assignments["image_validation"], digits)
    train_digits = scoring.load_digits("image", "train")
    print(f"baseline (the committed concepts): validation ACC {baseline:.4f}; pseudo-labels right on train "
          f"{scoring.hungarian_accuracy(pseudo, train_digits):.4f}", flush=True)
    sure = sure_members(codes["image_train"], pseudo)
    print(f"sure members: {sure.mean():.3f} of train, pseudo-labels right among them "
          f"{scoring.hungarian_accuracy(pseudo[sure], train_digits[sure]):.4f}", flush=True)
    augment = drawing_variations.augmentation(drawing_variations.DEFAULT_AUGMENTATION)  # 0.5 / 0.25 / 0.25
    for variant in args.variants.split(","):
        kind, members = variant.split("_")
        keras = keras_with_seed(args.seed)
        rows = sure if members == "sure" else np.ones(len(pseudo), bool)
        network = model(keras, kind, int(pseudo.max()) + 1)
        rng = np.random.default_rng([args.seed, 7])
        started = time.time()
        for epoch in range(args.epochs):
            network.fit(augment(images["train"][rows], rng), pseudo[rows], batch_size=256, epochs=1, verbose=0,
                        shuffle=True)
            named = network.predict(images["validation"], batch_size=1024, verbose=0).argmax(axis=1)
            print(f"{variant} epoch {epoch + 1}: validation ACC {scoring.hungarian_accuracy(named, digits):.4f} "
                  f"({time.time() - started:.0f} s)", flush=True)
        if args.proxies:
            views = {**drawing_variations.transfer_views(images["validation"], SEED),
                     **domain_shifts.held_out_views(images["validation"], SEED)}
            for view, drawn in views.items():
                named = network.predict(drawn, batch_size=1024, verbose=0).argmax(axis=1)
                print(f"{variant} {view}: validation ACC {scoring.hungarian_accuracy(named, digits):.4f}", flush=True)


if __name__ == "__main__":
    main()
