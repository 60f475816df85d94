"""Self-labelling: the image concepts found in the codes, taught to a small convolutional classifier
that then names every new image (validation, test, the transfer proxies, the tool's pictures);
and taught to the ear as well: a second classifier learns, from each train recording, the image
concepts it was seen with, and names every new recording (``audio_classifier``).

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

from digit_concepts.core import runtime
from digit_concepts.core.params import AudioSelfLabellingSettings, DrawingAugmentation, SelfLabellingSettings
from digit_concepts.senses import drawing_variations
from digit_concepts.senses.autoencoders import fit_on_fresh_renderings, fresh_renderings, partner_targets

SIDE = 28


def classifier(keras, concepts: int, settings: SelfLabellingSettings):
    """Two 3x3 convolutions (``settings.filters``), each halving the picture, then a dense layer
    of ``settings.dense_units`` and one logit per concept (Keras functional API)."""
    inputs = keras.Input((SIDE, SIDE), name="image")
    hidden = keras.layers.Reshape((SIDE, SIDE, 1))(inputs)
    for filters in settings.filters:
        hidden = keras.layers.Conv2D(filters, 3, activation="relu", padding="same")(hidden)
        hidden = keras.layers.MaxPooling2D()(hidden)
    hidden = keras.layers.Dense(settings.dense_units, activation="relu")(keras.layers.Flatten()(hidden))
    logits = keras.layers.Dense(concepts, name="concept_logits")(hidden)
    return keras.Model(inputs, logits, name="image_concept_classifier")


def train_classifier(*, images: np.ndarray, concepts: np.ndarray, count: int, settings: SelfLabellingSettings,
                     augmentation: DrawingAugmentation, seed: int):
    """The classifier of ``count`` concepts, fitted on ``images`` (train digits) and their
    ``concepts`` (pseudo-labels) for ``settings.epochs`` epochs of fresh renderings
    (``augmentation``: params image_ae.augmentation)."""
    if len(images) != len(concepts):
        raise ValueError(f"self-labelling: {len(images)} images but {len(concepts)} concepts")
    keras = runtime.keras_with_seed(seed)
    model = classifier(keras, count, settings)
    model.compile(optimizer=keras.optimizers.Adam(settings.learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    augment = drawing_variations.augmentation(augmentation) or (lambda drawn, rng: drawn)
    print(f"self-labelling: a classifier learns {count} concepts from {len(images)} train digits", flush=True)
    renderings = fresh_renderings(images, augment, np.random.default_rng([seed, 7]))
    fit_on_fresh_renderings(model=model, renderings=renderings, targets=concepts.astype(np.int32),
                            epochs=settings.epochs, batch_size=settings.batch_size)
    return model


def log_posteriors_of(logits: np.ndarray) -> np.ndarray:
    """Log concept posteriors (n, concepts), float64, of the classifier's logits."""
    from scipy.special import log_softmax

    return log_softmax(np.asarray(logits, dtype=np.float64), axis=1)


def log_posteriors(model, images: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """Each image's log concept posteriors (n, concepts), float64."""
    return log_posteriors_of(model.predict(np.asarray(images, dtype=np.float32), batch_size=batch_size, verbose=0))


def partner_concept_shares(image_concepts: np.ndarray, episode_image_index: np.ndarray,
                           episode_audio_index: np.ndarray, recordings: int, concepts: int) -> np.ndarray:
    """(recordings, concepts) float32: for each train recording, the share of its episodes whose
    image was of each concept (the image concepts of ``image_concepts``, indexed by the episodes'
    image index). A recording in no episode gets a uniform row. No label enters: only who was seen
    with whom."""
    image_concepts, image_index = np.asarray(image_concepts), np.asarray(episode_image_index)
    audio_index = np.asarray(episode_audio_index)
    if len(image_index) != len(audio_index):
        raise ValueError(f"self-labelling: {len(image_index)} episode images but {len(audio_index)} recordings")
    if len(audio_index) and (audio_index.min() < 0 or audio_index.max() >= recordings):
        raise ValueError(f"self-labelling: episode recordings must index the {recordings} train recordings")
    # The mean one-hot concept of a recording's partners: the image teacher's partner mean, on concepts.
    shares = partner_targets(np.eye(concepts)[image_concepts], image_index, audio_index, recordings)
    seen = np.bincount(audio_index, minlength=recordings)[:, None] > 0
    return np.where(seen, shares, np.float32(1.0 / concepts)).astype(np.float32)


def audio_classifier(keras, input_shape: tuple[int, int], concepts: int, settings: AudioSelfLabellingSettings):
    """Recordings (features x frames) -> one logit per image concept: input noise, convolutions over
    time (``settings.filters``, ``kernel`` frames wide, each after the first halving the frames,
    as the audio autoencoder's frames encoder), a dense layer with dropout (Keras functional API)."""
    inputs = keras.Input(input_shape, name="recording")
    hidden = keras.layers.GaussianNoise(settings.noise_stddev)(inputs)
    hidden = keras.layers.Permute((2, 1))(hidden)  # (features, frames) -> (frames, features)
    for layer, filters in enumerate(settings.filters):
        hidden = keras.layers.Conv1D(filters, settings.kernel, strides=1 if layer == 0 else 2, padding="same",
                                     activation="relu")(hidden)
    hidden = keras.layers.Dense(settings.dense_units, activation="relu")(keras.layers.Flatten()(hidden))
    hidden = keras.layers.Dropout(settings.dropout)(hidden)
    logits = keras.layers.Dense(concepts, name="concept_logits")(hidden)
    return keras.Model(inputs, logits, name="audio_concept_classifier")


def train_audio_classifier(recordings: np.ndarray, views: np.ndarray, shares: np.ndarray,
                           settings: AudioSelfLabellingSettings, seed: int):
    """The audio classifier, fitted for ``settings.epochs`` epochs to each train recording's
    partner concept ``shares`` (``partner_concept_shares``) from the recording itself and each of its
    augmented ``views`` (views, recordings, features, frames: the audio autoencoder's own train views)."""
    recordings, views = np.asarray(recordings, dtype=np.float32), np.asarray(views, dtype=np.float32)
    if len(recordings) != len(shares) or (len(views) and views.shape[1:] != recordings.shape):
        raise ValueError(f"self-labelling: {len(recordings)} recordings, {len(shares)} target rows and views "
                         f"shaped {views.shape}; the views must be (views, {', '.join(map(str, recordings.shape))})")
    keras = runtime.keras_with_seed(seed)
    model = audio_classifier(keras, recordings.shape[1:], shares.shape[1], settings)
    model.compile(optimizer=keras.optimizers.Adam(settings.learning_rate),
                  loss=keras.losses.CategoricalCrossentropy(from_logits=True))
    inputs = np.concatenate([recordings, *views])
    print(f"self-labelling: an audio classifier learns {shares.shape[1]} image concepts from {len(recordings)} "
          f"train recordings and {len(views)} views of each", flush=True)
    model.fit(inputs, np.tile(shares, (len(views) + 1, 1)), epochs=settings.epochs,
              batch_size=settings.batch_size, shuffle=True, verbose=2)
    return model


def load_classifier(source: Path, seed: int):
    return runtime.load_model(source, seed)
