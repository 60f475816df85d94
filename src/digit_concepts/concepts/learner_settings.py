"""The settings of the fitted learner (``data/clusters/learner.json``, written by the ``cluster``
stage), typed and checked on reading: how each sense's codes reach its concepts, how many
concepts it has, and whether a self-labelled classifier names its new samples.

The file's format is the pipeline's: ``{"image": {...}, "audio": {...}}``, each with
``reduction``, ``algorithm``, ``n_clusters`` and ``classifier`` (absent in learners fitted before
self-labelling: false).
"""

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, PositiveInt, ValidationError

from digit_concepts.core import storage
from digit_concepts.core.params import CLUSTER_ALGORITHMS, REDUCTIONS

SENSES = ("image", "audio")


class SenseSettings(BaseModel):
    """One sense's entry."""

    # Strict: a number written as a string, or a count as a float, is a damaged file, not a setting.
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    reduction: Literal[REDUCTIONS]
    algorithm: Literal[CLUSTER_ALGORITHMS]
    n_clusters: PositiveInt
    classifier: bool = False  # a self-labelled classifier names this sense's new samples


class LearnerSettings(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    image: SenseSettings
    audio: SenseSettings

    def of(self, sense: str) -> SenseSettings:
        if sense not in SENSES:
            raise ValueError(f"sense must be one of {', '.join(SENSES)}, got {sense!r}")
        return getattr(self, sense)


def one_line(error: ValidationError) -> str:
    """A pydantic error as one line: where and what, for the first problem (and how many more)."""
    problems = error.errors()
    first = problems[0]
    where = ".".join(str(part) for part in first["loc"]) or "the file"
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"{where}: {first['msg']}{more}"


def parsed(content: object) -> LearnerSettings:
    """``content`` (learner.json as loaded) checked; ValueError in one line naming the key."""
    try:
        return LearnerSettings.model_validate(content)
    except ValidationError as error:
        raise ValueError(one_line(error)) from None


def read(path: Path) -> LearnerSettings:
    """learner.json, typed; ValueError (bad JSON, a missing key, a wrong type) or OSError."""
    return parsed(storage.read_json(path))
