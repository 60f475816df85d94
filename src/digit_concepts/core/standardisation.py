"""Standardisation: each feature shifted and scaled by statistics of the train split only.

One ``Standardiser`` is fitted on train data and applied, unchanged, to every other split and to
any new sample; it is saved as plain arrays (npz, no pickle) so the tool can apply it too.
"""

from dataclasses import dataclass

import numpy as np

EPSILON = 1e-8  # keeps a constant feature finite


@dataclass(frozen=True)
class Standardiser:
    mean: np.ndarray
    scale: np.ndarray  # standard deviation plus epsilon

    @classmethod
    def fit(cls, train: np.ndarray, epsilon: float = EPSILON) -> "Standardiser":
        train = np.asarray(train, dtype=np.float64)
        return cls(train.mean(axis=0), train.std(axis=0) + epsilon)

    def apply(self, values: np.ndarray) -> np.ndarray:
        return (np.asarray(values, dtype=np.float64) - self.mean) / self.scale

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        """The arrays to save under ``prefix`` (``from_arrays`` reads them back)."""
        return {f"{prefix}_mean": self.mean, f"{prefix}_scale": self.scale}

    @classmethod
    def from_arrays(cls, arrays: dict, prefix: str) -> "Standardiser":
        return cls(np.asarray(arrays[f"{prefix}_mean"]), np.asarray(arrays[f"{prefix}_scale"]))


def standardise(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both splits standardised with the train split's statistics."""
    standardiser = Standardiser.fit(train)
    return standardiser.apply(train), standardiser.apply(test)
