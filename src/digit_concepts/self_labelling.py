"""Self-labelling: the image concepts found in the codes, taught to a small convolutional classifier
that then names every new image (validation, test, the transfer proxies, the tool's pictures).

The concepts are still discovered without labels, by clustering the autoencoder's codes
(``clustering``); the train digits' concepts become pseudo-labels. The classifier learns them from
the train digits, each epoch freshly re-rendered with the image autoencoder's own augmentation
(``transfer.augmented_images``), so it learns what a concept's members share however they are
drawn. It corrects some of the clustering's own mistakes (as DEC-DA and SCAN-style refinement
do): on validation digits 0.974 -> 0.981, and the held-out families (elastic, low resolution)
gain most (docs/experiments.md, "Self-labelling"). Labels only score.
"""

from pathlib import Path

import numpy as np

from . import runtime, transfer
from .autoencoders import fit_on_fresh_renderings, fresh_renderings

SIDE = 28


def classifier(keras, concepts: int, settings: dict):
    """Two 3x3 convolutions (``settings['filters']``), each halving the picture, then a dense layer
    of ``settings['dense_units']`` and one logit per concept (Keras functional API)."""
    inputs = keras.Input((SIDE, SIDE), name="image")
    hidden = keras.layers.Reshape((SIDE, SIDE, 1))(inputs)
    for filters in settings["filters"]:
        hidden = keras.layers.Conv2D(filters, 3, activation="relu", padding="same")(hidden)
        hidden = keras.layers.MaxPooling2D()(hidden)
    hidden = keras.layers.Dense(settings["dense_units"], activation="relu")(keras.layers.Flatten()(hidden))
    logits = keras.layers.Dense(concepts, name="concept_logits")(hidden)
    return keras.Model(inputs, logits, name="image_concept_classifier")


def train_classifier(images: np.ndarray, concepts: np.ndarray, count: int, settings: dict, augmentation: dict,
                     seed: int):
    """The classifier of ``count`` concepts, fitted on ``images`` (train digits) and their
    ``concepts`` (pseudo-labels) for ``settings['epochs']`` epochs of fresh renderings
    (``augmentation``: params image_ae.augmentation)."""
    if len(images) != len(concepts):
        raise ValueError(f"self-labelling: {len(images)} images but {len(concepts)} concepts")
    keras = runtime.keras_with_seed(seed)
    model = classifier(keras, count, settings)
    model.compile(optimizer=keras.optimizers.Adam(settings["learning_rate"]),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    augment = transfer.augmentation(augmentation) or (lambda drawn, rng: drawn)
    print(f"self-labelling: a classifier learns {count} concepts from {len(images)} train digits", flush=True)
    fit_on_fresh_renderings(model, fresh_renderings(images, concepts.astype(np.int32), augment,
                                                    np.random.default_rng([seed, 7])), settings)
    return model


def log_posteriors_of(logits: np.ndarray) -> np.ndarray:
    """Log concept posteriors (n, concepts), float64, of the classifier's logits."""
    from scipy.special import log_softmax

    return log_softmax(np.asarray(logits, dtype=np.float64), axis=1)


def log_posteriors(model, images: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """Each image's log concept posteriors (n, concepts), float64."""
    return log_posteriors_of(model.predict(np.asarray(images, dtype=np.float32), batch_size=batch_size, verbose=0))


def load_classifier(source: Path, seed: int):
    return runtime.load_model(source, seed)
