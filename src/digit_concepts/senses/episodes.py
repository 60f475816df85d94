"""The co-occurrence stream: each episode shows an image and plays a recording of the same digit.

Digit labels decide one thing in the learner: which image and which recording share an
episode (this function, called by the preprocess stage through
``digit_concepts/pipeline/preprocess.py``, which reads the digits from the MNIST label files and
the FSDD file names, ``audio.recording_table``, and writes them to the metadata tables). Every other reader of the labels only scores or shows: ``scoring``
(``load_digits``, ``load_speakers``, ``Labels``; used by the cluster, relate,
convergence and plot stages), ``evaluation_classifiers`` (trained on train digits to score the
coherence of generated samples) and the plot stage (digits printed beside examples). Speaker
names also draw the optional ``split.audio: leave_speakers_out`` split
(``audio.test_split_mask``). No loss, clustering, threshold or association rule reads them.
"""

import numpy as np


def episode_stream(image_digits: np.ndarray, audio_digits: np.ndarray, noise: float,
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pair every image with a recording of its digit; recordings repeat, each is used.

    Returns (image_index, audio_index, replaced): episodes in a random order; ``replaced``
    marks the ``noise`` share whose partner was swapped for a random recording (any digit).
    """
    if not 0.0 <= noise <= 1.0:
        raise ValueError(f"pairs.noise must be in [0, 1], got {noise}")
    image_digits = np.asarray(image_digits)
    audio_digits = np.asarray(audio_digits)
    missing = sorted(int(digit) for digit in set(np.unique(image_digits)) - set(np.unique(audio_digits)))
    if missing:
        raise ValueError(f"no recording for digit(s) {missing}: cannot pair their images")
    image_index = rng.permutation(len(image_digits))
    audio_index = np.empty(len(image_digits), dtype=np.int64)
    for digit in np.unique(image_digits):
        slots = np.flatnonzero(image_digits[image_index] == digit)
        recordings = rng.permutation(np.flatnonzero(audio_digits == digit))
        # Cycle through a shuffled list so every recording appears as evenly as possible.
        repeats = -(-len(slots) // len(recordings))
        audio_index[slots] = np.tile(recordings, repeats)[:len(slots)]
    replaced = np.zeros(len(image_index), dtype=bool)
    replaced[rng.choice(len(image_index), size=int(round(noise * len(image_index))), replace=False)] = True
    audio_index[replaced] = rng.integers(0, len(audio_digits), size=int(replaced.sum()))
    return image_index.astype(np.int64), audio_index, replaced
