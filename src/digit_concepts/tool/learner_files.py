"""Every piece of the trained learner read, checked and typed before the tool uses it.

A piece can be readable and still unusable: an array, key or column missing, an array of the
wrong shape or kind, a setting of the wrong type, or two files from different runs (image codes
of 16 numbers in one, 8 in another). Each reader here checks all that on load and raises
``LearnerFileError``, one line saying what is wrong, instead of a KeyError or TypeError deep in
the first sample; ``learner.read_piece`` adds the file and the stage that writes it. The formats
are the pipeline's (DVC outputs), unchanged.
"""

from dataclasses import MISSING, dataclass, fields
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, NonNegativeInt, PositiveFloat, ValidationError, create_model

from digit_concepts.concepts import learner_settings
from digit_concepts.concepts.clustering import SenseModel
from digit_concepts.concepts.familiarity import Familiarity
from digit_concepts.concepts.learner_settings import SENSES, LearnerSettings
from digit_concepts.core import storage
from digit_concepts.senses.audio import AudioSettings

ZONES = ("both", "convergence", "divergence", "none")
# The concept table's columns the tool reads, and what each holds: whole numbers, numbers, or one of some words.
CONCEPT_COLUMNS = {"sense": SENSES, "concept": "whole", "size": "number", "best_partner": "whole",
                   "p_partner_given_concept": "number", "p_concept_given_partner": "number", "zone": ZONES,
                   "merged_concept": "whole"}


class LearnerFileError(ValueError):
    """A piece of the learner that was read but cannot be used; the message is one line."""


class Sizes:
    """Sizes that arrays in several files must share (the image code size, the number of audio
    clusters...): the first array to show one fixes it; an array that disagrees is a
    LearnerFileError naming where the size came from."""

    def __init__(self):
        self.known: dict[str, tuple[int, str]] = {}

    def of(self, size_name: str) -> int:
        return self.known[size_name][0]

    def fix(self, size_name: str, size: int, source: str) -> None:
        """``size_name`` is ``size``, as ``source`` says, unless an earlier source said otherwise."""
        if size_name in self.known and self.known[size_name][0] != size:
            known, where = self.known[size_name]
            raise LearnerFileError(f"{source} gives the {size_name} as {size}, but {where} gives {known}")
        self.known.setdefault(size_name, (size, source))

    def check(self, name: str, array: np.ndarray, axes: tuple[str, ...], source: Path) -> None:
        if array.ndim != len(axes):
            expected = f"({', '.join(axes)})" if axes else "a single number"
            raise LearnerFileError(f"array {name} has shape {array.shape}, expected {expected}")
        for size_name, size in zip(axes, array.shape):
            self.fix(size_name, int(size), f"array {name} of {source.name}")


def array_of(arrays: dict, name: str, axes: tuple[str, ...], sizes: Sizes, source: Path,
             kind: str = "number") -> np.ndarray:
    """``arrays[name]``, checked: there, of ``axes`` (sizes shared with every other array that
    names them), whole numbers (``kind`` "whole") or finite numbers ("number")."""
    if name not in arrays:
        raise LearnerFileError(f"no array {name}")
    array = np.asarray(arrays[name])
    whole = np.issubdtype(array.dtype, np.integer)
    if kind == "whole" and not whole:
        raise LearnerFileError(f"array {name} holds {array.dtype}, expected whole numbers")
    if not whole and not np.issubdtype(array.dtype, np.floating):
        raise LearnerFileError(f"array {name} holds {array.dtype}, expected numbers")
    if not whole and not np.isfinite(array).all():
        raise LearnerFileError(f"array {name} has values that are not finite")
    sizes.check(name, array, axes, source)
    return array


def is_number_dtype(dtype) -> bool:
    return pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)


def positive(name: str, array: np.ndarray) -> np.ndarray:
    if not (array > 0).all():
        raise LearnerFileError(f"array {name} must be positive")
    return array


def in_range(what: str, array: np.ndarray, low: int, high: int) -> np.ndarray:
    """Whole numbers used as indices (``what``: "array x", "column y"): each in [low, high)."""
    if array.size and (array.min() < low or array.max() >= high):
        raise LearnerFileError(f"{what} has values from {array.min()} to {array.max()}, expected {low} to {high - 1}")
    return array


def sorted_ascending(name: str, array: np.ndarray) -> np.ndarray:
    if array.size == 0 or np.any(np.diff(array) < 0):
        raise LearnerFileError(f"array {name} must be non-empty and sorted ascending")
    return array


def model_of(content: object, model: type[BaseModel]) -> BaseModel:
    try:
        return model.model_validate(content)
    except ValidationError as error:
        raise LearnerFileError(learner_settings.one_line(error)) from None


# ----------------------------------------------------------------------------------- the cluster stage


def settings_file(path: Path, sizes: Sizes) -> LearnerSettings:
    """learner.json: each sense's reduction, clusterer, number of clusters and classifier."""
    content = storage.read_json(path)  # bad JSON: unreadable, not unusable
    try:
        settings = learner_settings.parsed(content)
    except ValueError as error:
        raise LearnerFileError(str(error)) from None
    for sense in SENSES:
        sizes.fix(f"{sense} clusters", settings.of(sense).n_clusters, f"{path.name} ({sense}.n_clusters)")
    return settings


def sense_model(arrays: dict, sense: str, settings: learner_settings.SenseSettings, sizes: Sizes,
                source: Path) -> SenseModel:
    """One sense's standardiser, reduction, clusters and neighbour vote, every array checked."""
    code, clusters = f"{sense} code size", f"{sense} clusters"
    positive(f"{sense}_standardiser_scale", array_of(arrays, f"{sense}_standardiser_scale", (code,), sizes, source))
    array_of(arrays, f"{sense}_standardiser_mean", (code,), sizes, source)
    features = {"none": code, "pca": f"{sense} reduced size", "umap": f"{sense} manifold size"}[settings.reduction]
    if settings.reduction == "pca":
        array_of(arrays, f"{sense}_reduction_components", (features, code), sizes, source)
        array_of(arrays, f"{sense}_reduction_centre", (code,), sizes, source)
    prefix = f"{sense}_clusters"
    if settings.algorithm == "gmm":
        positive(f"{prefix}_weights", array_of(arrays, f"{prefix}_weights", (clusters,), sizes, source))
        array_of(arrays, f"{prefix}_means", (clusters, features), sizes, source)
        for name in ("covariances", "precisions_cholesky"):
            array_of(arrays, f"{prefix}_{name}", (clusters, features, features), sizes, source)
    else:
        array_of(arrays, f"{prefix}_centres", (clusters, features), sizes, source)
        positive(f"{prefix}_spread", array_of(arrays, f"{prefix}_spread", (), sizes, source))
    # A UMAP manifold cannot place new codes (not saved): its concepts reach them by the vote.
    if settings.reduction == "umap" or f"{sense}_vote_k" in arrays:
        vote = f"{sense}_vote"
        array_of(arrays, f"{vote}_train_inputs", (f"{sense} vote train codes", code), sizes, source)
        concepts = array_of(arrays, f"{vote}_n_concepts", (), sizes, source, "whole")
        sizes.fix(clusters, int(concepts), f"array {vote}_n_concepts of {source.name}")
        train_concepts = array_of(arrays, f"{vote}_train_concepts", (f"{sense} vote train codes",), sizes, source,
                                  "whole")
        in_range(f"array {vote}_train_concepts", train_concepts, 0, int(concepts))
        if array_of(arrays, f"{vote}_k", (), sizes, source, "whole") < 1:
            raise LearnerFileError(f"array {vote}_k must be at least 1")
    return SenseModel.from_arrays(arrays, sense, settings.reduction)


@dataclass(frozen=True)
class FittedConcepts:
    """learner.npz, read and checked (``arrays``: everything in it, as saved)."""

    arrays: dict[str, np.ndarray]
    models: dict[str, SenseModel]
    train_sizes: dict[str, np.ndarray]  # train samples per cluster
    audio_train_features: np.ndarray  # what adaptation compares new recordings with


def fitted_concepts(path: Path, settings: LearnerSettings, sizes: Sizes) -> FittedConcepts:
    arrays = storage.read_npz(path)
    models = {sense: sense_model(arrays, sense, settings.of(sense), sizes, path) for sense in SENSES}
    train_sizes = {sense: array_of(arrays, f"{sense}_train_sizes", (f"{sense} clusters",), sizes, path, "whole")
                   for sense in SENSES}
    features = array_of(arrays, "audio_train_features", ("audio train recordings", "audio code size"), sizes, path)
    return FittedConcepts(arrays, models, train_sizes, features)


def concept_gaussians(path: Path, sizes: Sizes) -> dict[str, np.ndarray]:
    """cluster_models.npz: each concept's mean and covariance in code space."""
    arrays = storage.read_npz(path)
    for sense in SENSES:
        code, clusters = f"{sense} code size", f"{sense} clusters"
        array_of(arrays, f"{sense}_means", (clusters, code), sizes, path)
        array_of(arrays, f"{sense}_covariances", (clusters, code, code), sizes, path)
    return arrays


# ----------------------------------------------------------------------------------- relate


def cooccurrence_counts(path: Path, sizes: Sizes) -> np.ndarray:
    """cooccurrence.csv: train episodes per image concept (rows) and audio cluster (columns)."""
    table = pd.read_csv(path)
    if "image_concept" not in table:
        raise LearnerFileError("no column image_concept")
    rows = table["image_concept"]
    if not (pd.api.types.is_integer_dtype(rows.dtype) and (rows.to_numpy() == np.arange(len(table))).all()):
        raise LearnerFileError(f"column image_concept must number the rows 0 to {len(table) - 1}")
    columns = table.drop(columns="image_concept")
    if not all(map(is_number_dtype, columns.dtypes)):
        raise LearnerFileError("every audio cluster's column must hold numbers")
    counts = columns.to_numpy()
    if not (np.isfinite(counts).all() and (counts >= 0).all()):
        raise LearnerFileError("counts must be finite and not negative")
    sizes.fix("image clusters", counts.shape[0], f"{path.name} (its rows)")
    sizes.fix("audio clusters", counts.shape[1], f"{path.name} (its audio cluster columns)")
    return counts


class AdaptationFile(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    batch_neighbours: NonNegativeInt  # the most batch neighbours a recording borrows from (--adapt alone)


def batch_neighbours(path: Path) -> int:
    return model_of(storage.read_json(path), AdaptationFile).batch_neighbours


# ----------------------------------------------------------------------------------- convergence


def concept_table(path: Path, sizes: Sizes) -> pd.DataFrame:
    """concepts.csv: one row per concept of each sense (size, partner, zone...)."""
    table = pd.read_csv(path)
    for column, kind in CONCEPT_COLUMNS.items():
        if column not in table:
            raise LearnerFileError(f"no column {column}")
        values = table[column]
        if kind == "whole" and not pd.api.types.is_integer_dtype(values.dtype):
            raise LearnerFileError(f"column {column} must hold whole numbers")
        if kind == "number" and not (is_number_dtype(values.dtype) and np.isfinite(values.to_numpy(np.float64)).all()):
            raise LearnerFileError(f"column {column} must hold finite numbers")
        if isinstance(kind, tuple) and not set(values).issubset(kind):
            unknown = sorted(map(str, set(values) - set(kind)))[0]
            raise LearnerFileError(f"column {column} holds {unknown!r}, expected one of {', '.join(kind)}")
    for sense in SENSES:
        in_range(f"column concept (the {sense} rows)", table.loc[table["sense"] == sense, "concept"].to_numpy(), 0,
                 sizes.of(f"{sense} clusters"))
    return table


class CalibrationFile(BaseModel):
    """The two calibration temperatures in metrics/convergence.json (the rest is metrics)."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True, allow_inf_nan=False)

    calibration_temperature_image: PositiveFloat
    calibration_temperature_audio: PositiveFloat


def calibration_temperatures(path: Path) -> dict[str, float]:
    calibration = model_of(storage.read_json(path), CalibrationFile)
    return {sense: getattr(calibration, f"calibration_temperature_{sense}") for sense in SENSES}


def familiarity_references(path: Path, sizes: Sizes) -> dict[str, Familiarity]:
    """familiarity.npz: per sense, the standardised train codes and the sorted validation scores."""
    arrays = storage.read_npz(path)
    references = {}
    for sense in SENSES:
        code = f"{sense} code size"
        positive(f"{sense}_standardiser_scale", array_of(arrays, f"{sense}_standardiser_scale", (code,), sizes, path))
        array_of(arrays, f"{sense}_standardiser_mean", (code,), sizes, path)
        array_of(arrays, f"{sense}_train_codes", (f"{sense} familiarity train codes", code), sizes, path)
        for scores in ("validation_distances", "validation_errors"):
            sorted_ascending(f"{sense}_{scores}", array_of(arrays, f"{sense}_{scores}", (f"{sense} {scores}",), sizes,
                                                           path))
        share = float(array_of(arrays, f"{sense}_flagged_share", (), sizes, path))
        if not 0.0 < share < 1.0:
            raise LearnerFileError(f"array {sense}_flagged_share is {share}, expected between 0 and 1")
        references[sense] = Familiarity.from_arrays(arrays, sense)
    return references


# ----------------------------------------------------------------------------------- preprocess

# The audio settings as a strict model of the AudioSettings dataclass, field for field: the file is
# AudioSettings.as_dict(), so a missing, unknown or mistyped key is a damaged file.
AudioSettingsFile = create_model(
    "AudioSettingsFile", __config__=ConfigDict(strict=True, extra="forbid", frozen=True, allow_inf_nan=False),
    **{field.name: (field.type, ... if field.default is MISSING else field.default)
       for field in fields(AudioSettings)})
POSITIVE_AUDIO_SETTINGS = ("sample_rate", "n_fft", "hop_length", "n_mels", "frames", "cepstral_mels", "cepstra")


def audio_settings(path: Path) -> AudioSettings:
    """audio_settings.json: how recordings become the autoencoder's inputs, and back to sound."""
    values = model_of(storage.read_json(path), AudioSettingsFile).model_dump()
    for name in POSITIVE_AUDIO_SETTINGS:
        if values[name] <= 0:
            raise LearnerFileError(f"{name}: must be positive, got {values[name]}")
    if values["features"] not in ("log_mel", "cepstral"):
        raise LearnerFileError(f"features: must be log_mel or cepstral, got {values['features']!r}")
    return AudioSettings(**values)


def feature_statistics(path: Path) -> dict[str, np.ndarray]:
    """audio_feature_statistics.npz: the train mean and deviation of the cepstral inputs."""
    arrays = storage.read_npz(path)
    sizes = Sizes()
    for name in ("mean", "deviation"):
        array_of(arrays, name, ("feature rows", "frames"), sizes, path)
    positive("deviation", arrays["deviation"])
    return arrays


# ----------------------------------------------------------------------------------- Keras models


def width(model, side: str) -> int:
    """The last dimension of a model's one input (``side`` "inputs") or one output ("outputs")."""
    tensors = getattr(model, side, None)
    if not tensors or len(tensors) != 1 or not getattr(tensors[0], "shape", None):
        raise LearnerFileError(f"not a model with one {side[:-1]}")
    return int(tensors[0].shape[-1])
