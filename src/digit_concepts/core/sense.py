"""The two senses as records (``IMAGE``, ``AUDIO``): what each one's autoencoder reads and makes,
how its reconstruction is scored, and how its arrays are named in the pipeline's npz files.

The array names are spelled here only (``Sense.key`` and the keys beside it), and read through
``SplitArrays``: the files keep the names they always had (``image_test``,
``audio_validation_log_posteriors``, ``test_image_index``), which the tool reads too.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from digit_concepts.core import paths, storage

SPLITS = ("train", "validation", "test")


@dataclass(frozen=True)
class Sense:
    """One sense: its name, what its autoencoder reads (``inputs``) and what it shows and its
    decoder makes (``shown``), and whether that is [0, 1] data, scored by cross-entropy too."""

    name: str
    inputs: Path
    shown: Path
    binary_reconstruction: bool

    def key(self, part: str) -> str:
        """A per-sense array's name: a split's codes or concepts (``key("test")``: ``image_test``),
        or any other part (``key("test_noise")``: ``audio_test_noise``)."""
        return f"{self.name}_{part}"

    def log_posteriors_key(self, split: str) -> str:
        return self.key(f"{split}_log_posteriors")

    def taught_log_posteriors_key(self, split: str) -> str:
        """The image-concept log posteriors the classifier taught by the other sense gives a split."""
        return self.key(f"{split}_taught_log_posteriors")

    def episode_index_key(self, split: str) -> str:
        """Each episode's sample of this sense, in the split's episode stream."""
        return f"{split}_{self.name}_index"


IMAGE = Sense("image", inputs=paths.IMAGES, shown=paths.IMAGES, binary_reconstruction=True)
AUDIO = Sense("audio", inputs=paths.AUDIO_FEATURES, shown=paths.SPECTROGRAMS, binary_reconstruction=False)
SENSES = (IMAGE, AUDIO)


def sense_named(name: str) -> Sense:
    for sense in SENSES:
        if sense.name == name:
            return sense
    raise ValueError(f"no sense is named {name!r}: the senses are {', '.join(sense.name for sense in SENSES)}")


def view_key(split: str, view: str) -> str:
    """A split's samples drawn or heard differently (``test_noise``): a view of the split."""
    return f"{split}_{view}"


@dataclass(frozen=True)
class SplitArrays:
    """One npz file's arrays, read by sense and split: codes, concepts, log posteriors, episode
    streams (``SplitArrays(codes).of(IMAGE, "test")``)."""

    arrays: Mapping[str, np.ndarray]

    @classmethod
    def read(cls, source: Path) -> "SplitArrays":
        return cls(storage.read_npz(source))

    def of(self, sense: Sense, split: str) -> np.ndarray:
        return self.arrays[sense.key(split)]

    def by_split(self, sense: Sense, splits: Iterable[str]) -> dict[str, np.ndarray]:
        return {split: self.of(sense, split) for split in splits}

    def log_posteriors(self, sense: Sense, split: str) -> np.ndarray:
        return self.arrays[sense.log_posteriors_key(split)]

    def taught_log_posteriors(self, sense: Sense, split: str) -> np.ndarray | None:
        """None where no classifier was taught (the file then holds none)."""
        return self.arrays.get(sense.taught_log_posteriors_key(split))

    def episode_index(self, sense: Sense, split: str) -> np.ndarray:
        return self.arrays[sense.episode_index_key(split)]
