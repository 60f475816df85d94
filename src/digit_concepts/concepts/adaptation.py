"""Test-time adaptation to new voices from a batch of their own unlabelled recordings.

A voice never heard in training puts its recordings far from every train recording, but its
recordings of one digit still lie close to each other. So each recording of a batch (the test
split, or the recordings given to ``digit-concepts recognise --adapt N`` together) may borrow from
its nearest fellow batch members:
its evidence about the concept is summed with theirs (``relations.name_with_batch_neighbours``),
and what it imagines is the mean of their translations (``generation.translate``).

It borrows only from members closer to it than its nearest train recording. A voice heard in
training has train recordings of the same digit nearer than any fellow test recording, so it
borrows little and keeps its own (already good) answer; a new voice borrows from most of its
neighbours. And it borrows from no more of them than the batch holds of one concept
(``batch_neighbours_for``): in a batch of one recording per digit every neighbour says another
digit, so a batch of 10 or fewer is named each alone. No labels, no voices to find, one number
to set: how many neighbours at most.
"""

import numpy as np

from digit_concepts.core.standardisation import Standardiser
from digit_concepts.core.sense import AUDIO, SplitArrays


def batch_neighbours_for(batch_size: int, concepts: int, most: int, share: float = 1.0) -> int:
    """How many batch neighbours a recording may borrow from, decided by the batch: at most
    ``share`` x (``batch_size`` / ``concepts`` - 1), the fellow recordings of its own concept an
    evenly mixed batch holds, and never more than ``most``. A batch of one recording per concept
    or fewer borrows nothing (each alone); a large batch borrows ``most``."""
    if batch_size < 0 or concepts < 1 or most < 0 or share < 0:
        raise ValueError(f"need batch_size >= 0, concepts >= 1, most >= 0 and share >= 0, got {batch_size}, "
                         f"{concepts}, {most} and {share}")
    return int(min(most, max(0, np.floor(share * (batch_size / concepts - 1.0)))))


def batch_neighbourhoods(batch_features: np.ndarray, neighbours: int,
                         train_features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each batch member, the indices of itself and its ``neighbours`` nearest batch members
    (Euclidean; itself first) and a 0/1 weight for each: 1 for itself and for members closer than
    its own nearest train sample. ``neighbours`` = 0: itself alone."""
    from sklearn.neighbors import KDTree

    batch_features = np.asarray(batch_features, dtype=np.float64)
    train_features = np.asarray(train_features, dtype=np.float64)
    if neighbours < 0:
        raise ValueError(f"adaptation.batch_neighbours must be >= 0, got {neighbours}")
    if batch_features.ndim != 2 or train_features.ndim != 2 or batch_features.shape[1] != train_features.shape[1]:
        raise ValueError(f"batch and train features must be (n, d) with the same d, got {batch_features.shape} "
                         f"and {train_features.shape}")
    count = min(neighbours + 1, len(batch_features))
    if count <= 1 or len(train_features) == 0:
        return np.arange(len(batch_features))[:, None], np.ones((len(batch_features), 1))
    # A k-d tree answers each query on its own: a sample's neighbourhood does not depend on rounding
    # in batched matrix products.
    distances, indices = KDTree(batch_features).query(batch_features, k=count)
    # Ties with itself (duplicates) could put another index first: put itself first.
    rows = np.arange(len(batch_features))
    own = np.argmax(indices == rows[:, None], axis=1)
    has_own = indices[rows, own] == rows
    indices[has_own, own[has_own]] = indices[has_own, 0]
    indices[:, 0], distances[:, 0] = rows, 0.0
    nearest_train, _ = KDTree(train_features).query(batch_features, k=1)
    weights = (distances < nearest_train).astype(np.float64)
    weights[:, 0] = 1.0
    return indices, weights


def pooled(values: np.ndarray, batch_features: np.ndarray, neighbours: int,
           train_features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row of ``values`` summed with the rows of the batch members it may borrow from
    (``batch_neighbourhoods``), and how many rows went into each sum (itself included)."""
    values = np.asarray(values)
    if len(values) != len(batch_features):
        raise ValueError(f"need one feature row per sample, got {len(batch_features)} rows for {len(values)}")
    indices, weights = batch_neighbourhoods(batch_features, neighbours, train_features)
    return (values[indices] * weights[:, :, None]).sum(axis=1), weights.sum(axis=1, keepdims=True)


def recording_space(codes: dict) -> Standardiser:
    """The space in which recordings are near each other: audio codes standardised with the train
    recordings' (``codes["audio_train"]``) statistics."""
    return Standardiser.fit(SplitArrays(codes).of(AUDIO, "train"))


def recording_features(codes: dict, splits) -> dict[str, np.ndarray]:
    """Each split's audio codes (``codes["audio_<split>"]``) in ``recording_space``."""
    space = recording_space(codes)
    audio_codes = SplitArrays(codes)
    return {split: space.apply(audio_codes.of(AUDIO, split)) for split in splits}
