"""Small supervised classifiers that only *score* generated samples (coherence).

Trained on the train split's labels; nothing in the pipeline's own decisions uses them.
"""

import numpy as np

from .runtime import keras_with_seed

EPOCHS = {"image": 4, "audio": 40}


def train_classifier(samples: np.ndarray, digits: np.ndarray, sense: str, seed: int):
    """A dense classifier of one sense's samples (images or normalised log-mels) into digits."""
    keras = keras_with_seed(seed)
    inputs = keras.Input(shape=samples.shape[1:])
    x = keras.layers.Flatten()(inputs)
    x = keras.layers.Dense(256, activation="relu")(x)
    x = keras.layers.Dropout(0.3)(x)
    outputs = keras.layers.Dense(10, activation="softmax")(x)
    model = keras.Model(inputs, outputs, name=f"{sense}_evaluation_classifier")
    model.compile(optimizer=keras.optimizers.Adam(1.0e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(samples, digits, epochs=EPOCHS[sense], batch_size=128, shuffle=True, verbose=0)
    return model


def classify(model, samples: np.ndarray) -> np.ndarray:
    return model.predict(samples, batch_size=1024, verbose=0).argmax(axis=1)
