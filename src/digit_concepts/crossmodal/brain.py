"""The brain module: learned maps between the two latent spaces, trained on co-occurring pairs.

Each map regresses one sense's code onto the code of what co-occurred with it; since many
partners co-occur with one input, it learns their centre: the prototypical partner.
"""

from pathlib import Path

import numpy as np

from digit_concepts.core.params import BrainSettings
from digit_concepts.core.runtime import keras_with_seed, load_model, save_model

DIRECTIONS = ("image_to_audio", "audio_to_image")


def build_map(keras, source_codes: np.ndarray, target_codes: np.ndarray, hidden_units: list[int]):
    """An MLP that standardises its input and outputs codes in the target's own scale."""
    inputs = keras.Input(shape=(source_codes.shape[1],), name="source_code")
    normalise = keras.layers.Normalization(name="standardise_source")
    normalise.adapt(source_codes)
    x = normalise(inputs)
    for width in hidden_units:
        x = keras.layers.Dense(width, activation="relu")(x)
    x = keras.layers.Dense(target_codes.shape[1], name="standardised_target")(x)
    restore = keras.layers.Normalization(invert=True, name="restore_target_scale")
    restore.adapt(target_codes)
    return keras.Model(inputs, restore(x), name="brain_map")


def train_map(source_codes: np.ndarray, target_codes: np.ndarray, settings: BrainSettings, seed: int,
              model_path: Path) -> float:
    """Fit one direction on paired codes (standardised MSE); save it; return the final loss."""
    keras = keras_with_seed(seed)
    model = build_map(keras, source_codes, target_codes, settings.hidden_units)
    deviation = target_codes.std(axis=0) + 1e-8

    def standardised_mse(truth, prediction):
        return keras.ops.mean(keras.ops.square((truth - prediction) / deviation))

    model.compile(optimizer=keras.optimizers.Adam(settings.learning_rate), loss=standardised_mse)
    history = model.fit(source_codes, target_codes, epochs=settings.epochs, batch_size=settings.batch_size,
                        shuffle=True, verbose=2)
    # The custom loss is only for training; save without it so loading needs no custom objects.
    model.compile(optimizer=keras.optimizers.Adam(settings.learning_rate), loss="mean_squared_error")
    save_model(model, model_path)
    return float(history.history["loss"][-1])


def load_map(model_path: Path, seed: int):
    return load_model(model_path, seed)
