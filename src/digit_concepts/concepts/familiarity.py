"""Familiarity: is a new sample like anything the learner met? (DESIGN.md, "The learner as a tool").

A concept's posterior says which concept a sample is nearest, not whether it is near any: a
scribble, a letter or a reversed recording can still get 100% of one concept. Two signals say
how unlike the train samples a sample is:

- its *distance*: from its standardised code to the nearest train code of its sense (the
  deep-nearest-neighbour score of Sun et al., 2022);
- its *reconstruction error*: the mean squared error of what its autoencoder gives back
  (for a recording, against its normalised log-mel).

Each becomes a share of validation samples at least as extreme (a conformal p-value,
``(1 + #validation scores >= score) / (n + 1)``), which assumes no distribution and means the same
for images and recordings. A sample's *familiarity* is the smaller share, doubled (Bonferroni, so
that at most ``flagged_share`` of validation samples fall below ``flagged_share``). A sample is
*unfamiliar* below the chosen share. Measured in docs/experiments.md ("Unfamiliar samples"): the
two signals together flag more of the non-digits than either alone, at the same share of digits.

The validation scores are measured once, in the ``convergence`` stage, and kept sorted.
"""

from dataclasses import dataclass

import numpy as np

from digit_concepts.concepts.reduction import NeighbourVote
from digit_concepts.core.standardisation import Standardiser

NEAREST = 1  # the distance is to the nearest train code: k = 1 flagged more non-digits than k = 15


def train_distances(standardised_codes: np.ndarray, train_codes: np.ndarray, k: int = NEAREST) -> np.ndarray:
    """Each code's distance to its k-th nearest train code (exact, Euclidean)."""
    standardised_codes = np.asarray(standardised_codes, dtype=np.float64)
    train_codes = np.asarray(train_codes, dtype=np.float64)
    if k < 1 or k > len(train_codes):
        raise ValueError(f"k must be between 1 and the {len(train_codes)} train codes, got {k}")
    if standardised_codes.ndim != 2 or standardised_codes.shape[1] != train_codes.shape[1]:
        raise ValueError(f"codes must be (n, {train_codes.shape[1]}), got shape {standardised_codes.shape}")
    # Only the exact search is borrowed: the vote's concepts are not used.
    search = NeighbourVote(train_codes, np.zeros(len(train_codes), dtype=np.int64), 1, k)
    distances, _ = search.nearest(standardised_codes)
    return distances[:, k - 1]


def share_at_least(scores: np.ndarray, validation_scores: np.ndarray) -> np.ndarray:
    """The share of validation samples scoring at least as high as each score (conformal p-value,
    in (0, 1]; ``validation_scores`` sorted ascending)."""
    validation_scores = np.asarray(validation_scores, dtype=np.float64)
    if validation_scores.ndim != 1 or len(validation_scores) == 0:
        raise ValueError("validation scores must be a non-empty 1-d array")
    if np.any(np.diff(validation_scores) < 0):
        raise ValueError("validation scores must be sorted ascending")
    at_least = len(validation_scores) - np.searchsorted(validation_scores, np.asarray(scores, np.float64), side="left")
    return (1.0 + at_least) / (len(validation_scores) + 1.0)


def combined(*shares: np.ndarray) -> np.ndarray:
    """The smallest share times the number of shares, at most 1 (Bonferroni)."""
    return np.minimum(1.0, len(shares) * np.minimum.reduce([np.asarray(share, np.float64) for share in shares]))


def checked_share(flagged_share: float) -> float:
    if not 0.0 < flagged_share < 1.0:
        raise ValueError(f"flagged_share must be between 0 and 1 (exclusive), got {flagged_share}")
    return float(flagged_share)


@dataclass(frozen=True)
class Familiarity:
    """One sense's reference: the standardised train codes and the validation scores, sorted."""

    standardiser: Standardiser
    train_codes: np.ndarray  # standardised, float32 (the stage and the tool measure against these)
    validation_distances: np.ndarray
    validation_errors: np.ndarray
    flagged_share: float

    @classmethod
    def calibrate(cls, standardiser: Standardiser, train_codes: np.ndarray, validation_codes: np.ndarray,
                  validation_errors: np.ndarray, flagged_share: float) -> "Familiarity":
        """From raw (unstandardised) train and validation codes and the validation reconstruction errors."""
        reference = standardiser.apply(train_codes).astype(np.float32)
        distances = train_distances(standardiser.apply(validation_codes), reference)
        return cls(standardiser, reference, np.sort(distances), np.sort(np.asarray(validation_errors, np.float64)),
                   checked_share(flagged_share))

    def of(self, codes: np.ndarray, errors: np.ndarray) -> np.ndarray:
        """Each sample's familiarity, in (0, 1]: low is unlike the train samples."""
        distances = train_distances(self.standardiser.apply(codes), self.train_codes)
        return combined(share_at_least(distances, self.validation_distances),
                        share_at_least(errors, self.validation_errors))

    def unfamiliar(self, familiarities: np.ndarray) -> np.ndarray:
        return np.asarray(familiarities) < self.flagged_share

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        return {**self.standardiser.arrays(f"{prefix}_standardiser"), f"{prefix}_train_codes": self.train_codes,
                f"{prefix}_validation_distances": self.validation_distances,
                f"{prefix}_validation_errors": self.validation_errors,
                f"{prefix}_flagged_share": np.array(self.flagged_share)}

    @classmethod
    def from_arrays(cls, arrays: dict, prefix: str) -> "Familiarity":
        return cls(Standardiser.from_arrays(arrays, f"{prefix}_standardiser"), np.asarray(arrays[f"{prefix}_train_codes"]),
                   np.asarray(arrays[f"{prefix}_validation_distances"]), np.asarray(arrays[f"{prefix}_validation_errors"]),
                   checked_share(float(arrays[f"{prefix}_flagged_share"])))
