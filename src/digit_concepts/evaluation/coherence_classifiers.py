"""Small supervised classifiers that only *score* generated samples (coherence).

Trained on the train split's labels; nothing in the pipeline's own decisions uses them.
"""

import time

import numpy as np

from digit_concepts.core.runtime import keras_with_seed
from digit_concepts.core.evidence import Bootstrap
from digit_concepts.core.params import EvaluationClassifierEpochs
from digit_concepts.evaluation.scoring import coherent, with_share


def train_classifier(samples: np.ndarray, digits: np.ndarray, sense: str, epochs: int, seed: int):
    """A dense classifier of one sense's samples (images or normalised log-mels) into digits."""
    keras = keras_with_seed(seed)
    inputs = keras.Input(shape=samples.shape[1:])
    x = keras.layers.Flatten()(inputs)
    x = keras.layers.Dense(256, activation="relu")(x)
    x = keras.layers.Dropout(0.3)(x)
    outputs = keras.layers.Dense(10, activation="softmax")(x)
    model = keras.Model(inputs, outputs, name=f"{sense}_evaluation_classifier")
    model.compile(optimizer=keras.optimizers.Adam(1.0e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    started = time.perf_counter()
    history = model.fit(samples, digits, epochs=epochs, batch_size=128, shuffle=True, verbose=0)
    print(f"evaluation classifier ({sense}): {epochs} epochs on {len(samples)} train samples, "
          f"train accuracy {history.history['accuracy'][-1]:.3f}, {time.perf_counter() - started:.0f} s", flush=True)
    return model


def classify(model, samples: np.ndarray) -> np.ndarray:
    return model.predict(samples, batch_size=1024, verbose=0).argmax(axis=1)


def coherence_scores(*, samples: dict, digits: dict, imagined: dict, epochs: EvaluationClassifierEpochs, seed: int,
                     other_images: dict | None = None, bootstrap: Bootstrap | None = None) -> dict:
    """How often what was imagined from a test sample is classified as that sample's digit, both
    ways, and the classifiers' own accuracy on real test samples (their ceiling); with a
    bootstrap, each coherence's interval over the samples it is scored on.

    ``samples[sense][split]`` and ``digits[sense][split]`` are the real data; ``imagined`` holds
    ``image_to_audio`` (log-mels) and ``audio_to_image`` (images), one per test sample.
    ``other_images``: more images imagined from recordings, each with its sources' digits, keyed by
    the name of the score to return (``{name: (images, digits)}``).
    """
    epochs_of = {"image": epochs.image, "audio": epochs.audio}
    classifiers = {sense: train_classifier(samples[sense]["train"], digits[sense]["train"], sense, epochs_of[sense],
                                           seed) for sense in ("image", "audio")}
    scored = {  # name: (classifier, what it classifies, the digits it should say)
        "coherence_image_to_audio": ("audio", imagined["image_to_audio"], digits["image"]["test"]),
        "coherence_audio_to_image": ("image", imagined["audio_to_image"], digits["audio"]["test"]),
        **{name: ("image", images, source_digits) for name, (images, source_digits) in (other_images or {}).items()},
    }
    scores = {}
    for name, (sense, generated, source_digits) in scored.items():
        scores.update(with_share(name, coherent(classify(classifiers[sense], generated), source_digits), bootstrap))
    for sense in ("image", "audio"):  # the ceiling: real test samples
        scores[f"evaluation_classifier_acc_{sense}"] = float(np.mean(coherent(
            classify(classifiers[sense], samples[sense]["test"]), digits[sense]["test"])))
    return scores
