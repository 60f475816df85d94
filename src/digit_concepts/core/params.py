"""params.yaml as one typed, validated model (``Params``), read as DVC reads it (YAML 1.2).

Every key is an attribute (``params.cluster.image.k_range``, ``params.audio_ae.augmentation.views``)
and every section a frozen model, checked before any work starts: strictly typed (a bool is no
integer, a string such as YAML 1.1's '1e-3' no number, NaN no number; an integer is a number),
within its range or choices, and no key unknown. ``parse`` turns pydantic's errors into one line
per problem, naming the dotted key, the value got and the rule it breaks.
"""

import csv
import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal, get_args, get_origin

import annotated_types
from pydantic import (AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, NonNegativeInt, PositiveInt,
                      ValidationError, field_validator, model_validator)
from pydantic.fields import FieldInfo
from ruamel.yaml import YAML

PARAMS_FILE = Path("params.yaml")

ClusterAlgorithm = Literal["kmeans", "gmm", "agglomerative"]
Reduction = Literal["none", "pca", "umap"]
KSelection = Literal["fixed", "bic", "silhouette", "cooccurrence"]
Architecture = Literal["dense", "conv"]
AudioArchitecture = Literal["dense", "conv", "frames"]  # frames: convolution over time, audio only
AudioSplit = Literal["official", "leave_speakers_out"]
AudioFeature = Literal["log_mel", "cepstral"]
GmmRestartChoice = Literal["likelihood", "cooccurrence"]  # which restart of a mixture is kept (clustering.Fitting)
UmapNeighbourSearch = Literal["exact", "approximate"]  # how a UMAP manifold finds neighbours (reduction.reduce)
ImaginationRoute = Literal["brain", "concept"]  # how a recording becomes an image (generation.images_from_recordings)
VoiceCountSelection = Literal["none", "fixed", "bic"]
Speaker = Literal["george", "jackson", "lucas", "nicolas", "theo", "yweweler"]

# The choices as tuples, for the code that lists or indexes them (command-line choices, seeds,
# learner.json's checks).
CLUSTER_ALGORITHMS = get_args(ClusterAlgorithm)
REDUCTIONS = get_args(Reduction)
AUDIO_FEATURES = get_args(AudioFeature)
IMAGINATION_ROUTES = get_args(ImaginationRoute)
SPEAKERS = get_args(Speaker)


@dataclass(frozen=True)
class Rule:
    """What a value must be, in the words of the error line, for a field whose type and constraints
    do not say it in one phrase (a pair); pydantic keeps it in the field's metadata."""

    text: str


class Problem(ValueError):
    """A broken rule a validator words itself: ``text`` follows the dotted key in the error line;
    ``key`` (dotted, below the model that raised it) names the param when a model validator, which
    sees several, raises it."""

    def __init__(self, text: str, key: str = ""):
        super().__init__(text)
        self.text, self.key = text, key


class ParamsError(ValueError):
    """params.yaml breaks its rules: every problem, one line each."""


def _tuple_from_list(value):
    return tuple(value) if isinstance(value, list) else value  # YAML has lists; a pair is a tuple


def _lowest_first(pair: tuple) -> tuple:
    if pair[0] > pair[1]:
        raise ValueError("lowest first")  # worded by the field's Rule
    return pair


def _number_range(lowest: float, highest: float):
    """[lowest, highest]: two numbers within [``lowest``, ``highest``], in order (a tuple)."""
    bounded = Annotated[float, Field(ge=lowest, le=highest)]
    return Annotated[tuple[bounded, bounded], BeforeValidator(_tuple_from_list), AfterValidator(_lowest_first),
                     Rule(f"[lowest, highest]: two numbers with {lowest} <= lowest <= highest <= {highest}")]


RecordingIndexRange = Annotated[tuple[NonNegativeInt, NonNegativeInt], BeforeValidator(_tuple_from_list),
                                AfterValidator(_lowest_first),
                                Rule("[first, last]: two recording indices, 0 <= first <= last")]


def _low_below_high(value: list[int]) -> list[int]:
    if len(value) != 2 or value[0] >= value[1]:
        raise Problem(f"got {value!r}, must be [low, high] with low < high")
    return value


# [low, high]: the counts to try (of clusters, of voices), every one from low to high.
CountRange = Annotated[list[PositiveInt], Field(min_length=2), AfterValidator(_low_below_high)]


class Section(BaseModel):
    """A section of params.yaml: every key known and strictly typed, read-only."""

    # strict: a bool is no integer and a string (YAML 1.1's '1e-3') no number; an integer still
    # makes a float, as a number without a dot always did.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class AudioProcessingSettings(Section):
    """params ``audio``: recordings to spectrograms and the audio autoencoder's features
    (``audio.AudioSettings`` adds what preprocess measures on the train split)."""

    sample_rate: int = Field(ge=1000, le=48000)
    n_fft: int = Field(ge=16, le=8192)
    hop_length: int = Field(ge=1, le=8192)
    n_mels: int = Field(ge=8, le=512)
    fmax: float = Field(ge=100.0, le=24000.0)
    frames: int = Field(ge=8, le=4096)
    trim_top_db: float = Field(ge=1.0, le=120.0)
    per_recording_normalisation: bool
    griffin_lim_iterations: int = Field(ge=1, le=1000)
    silence_floor_db: float = Field(ge=1.0, le=200.0)
    features: AudioFeature
    cepstral_mels: int = Field(ge=8, le=512)
    cepstral_fmin: float = Field(ge=0.0, le=24000.0)
    cepstra: int = Field(ge=1, le=100)

    @model_validator(mode="after")
    def _cepstral_fmin_below_fmax(self):
        if self.cepstral_fmin >= self.fmax:
            raise Problem(f"got {self.cepstral_fmin!r}, must be below audio.fmax ({self.fmax!r})", "cepstral_fmin")
        return self


class SplitSettings(Section):
    audio: AudioSplit
    test_speakers: list[Speaker] = Field(min_length=1)  # used only by leave_speakers_out
    validation_images: int = Field(ge=1)
    validation_recordings: RecordingIndexRange


class PairingSettings(Section):
    noise: float = Field(ge=0.0, le=1.0)


class AutoencoderSettings(Section):
    """What both senses' autoencoders share."""

    architecture: Architecture
    hidden_units: list[PositiveInt] = Field(min_length=1)
    latent_dim: int = Field(ge=2, le=256)
    epochs: int = Field(ge=1)
    batch_size: int = Field(ge=1)
    learning_rate: float = Field(gt=0.0, le=1.0)
    noise_stddev: float = Field(ge=0.0, le=1.0)


class DrawingAugmentation(Section):
    """params ``image_ae.augmentation``: the renderings of ``drawing_variations.augmented_images``."""

    affine_probability: float = Field(ge=0.0, le=1.0)
    thicken_probability: float = Field(ge=0.0, le=1.0)
    thin_probability: float = Field(ge=0.0, le=1.0)
    max_rotation_degrees: float = Field(ge=0.0, le=180.0)
    scale_range: _number_range(0.1, 10.0)
    max_shift_pixels: float = Field(ge=0.0, le=14.0)

    @model_validator(mode="after")
    def _one_stroke_change_at_most(self):
        strokes = self.thicken_probability + self.thin_probability
        if strokes > 1.0:
            raise Problem(f"thicken_probability + thin_probability is {strokes}, must be at most 1 (an image gets "
                          f"one stroke change at most)", "thin_probability")
        return self


class ImageAutoencoderSettings(AutoencoderSettings):
    augmentation: DrawingAugmentation
    decoder_finetune_epochs: int = Field(ge=0, le=1000)


class AudioAugmentation(Section):
    """params ``audio_ae.augmentation``: the train views of ``audio.augmented_views``."""

    views: int = Field(ge=0, le=32)
    warp: float = Field(ge=0.0, le=1.0)
    crop: float = Field(ge=0.0, le=0.4)
    bend: float = Field(ge=0.0, le=0.3)
    noise_probability: float = Field(ge=0.0, le=1.0)
    noise_snr_db: _number_range(-20.0, 60.0)
    noise_tilt: _number_range(-4.0, 4.0)


class AudioAutoencoderSettings(AutoencoderSettings):
    architecture: AudioArchitecture
    frame_filters: list[PositiveInt] = Field(min_length=1)  # architecture frames only
    frame_kernel: int = Field(ge=1, le=64)
    teacher_weight: float = Field(ge=0.0, le=100.0)
    augmentation: AudioAugmentation


class ClusteringSettings(Section):
    """How one space's codes are clustered (params ``cluster.image``; its k may be chosen by co-occurrence)."""

    algorithm: ClusterAlgorithm
    k: int = Field(ge=2, le=500)
    k_selection: KSelection
    k_range: CountRange
    reduction: Reduction
    reduced_dim: int = Field(ge=2, le=256)
    umap_neighbors: int = Field(ge=2, le=500)


class SelfScoredClusteringSettings(ClusteringSettings):
    """A space whose k is chosen by its own clusters' score (fixed, bic or silhouette): co-occurrence
    scores image concepts against the audio clusters, so only ``cluster.image`` has a partner."""

    @field_validator("k_selection")
    @classmethod
    def _no_partner(cls, value: str) -> str:
        if value == "cooccurrence":
            raise Problem("cooccurrence is for cluster.image only (it scores image concepts against the audio "
                          "clusters); use fixed, bic or silhouette")
        return value


class VoiceSettings(Section):
    """params ``cluster.audio_reference.voices`` (voices.py)."""

    count_selection: VoiceCountSelection
    count: int = Field(ge=1, le=50)
    count_range: CountRange
    rounds: int = Field(ge=1, le=10)
    within_neighbors: int = Field(ge=2, le=200)


class AudioReferenceSettings(SelfScoredClusteringSettings):
    voices: VoiceSettings

    @model_validator(mode="after")
    def _k_fixed_for_voices(self):
        if self.voices.count_selection != "none" and self.k_selection != "fixed":
            raise Problem(f"got {self.k_selection!r}, must be fixed while voices.count_selection is not none "
                          f"(voice-aware clustering aligns k concepts per voice)", "k_selection")
        return self


class SelfLabellingSettings(Section):
    """params ``cluster.self_labelling``: the classifier taught the image concepts (0 epochs: off)."""

    epochs: int = Field(ge=0, le=1000)
    batch_size: int = Field(ge=1)
    learning_rate: float = Field(gt=0.0, le=1.0)
    filters: list[PositiveInt] = Field(min_length=1)
    dense_units: int = Field(ge=1, le=100_000)


class AudioSelfLabellingSettings(Section):
    """params ``cluster.audio_self_labelling``: the classifier that names recordings (0 epochs: off)."""

    epochs: int = Field(ge=0, le=1000)
    batch_size: int = Field(ge=1)
    learning_rate: float = Field(gt=0.0, le=1.0)
    noise_stddev: float = Field(ge=0.0, le=100.0)
    filters: list[PositiveInt] = Field(min_length=1)
    kernel: int = Field(ge=1, le=1000)
    dense_units: int = Field(ge=1, le=100_000)
    dropout: float = Field(ge=0.0, le=0.99)


class ClusterSettings(Section):
    silhouette_sample: int = Field(ge=100)
    cooccurrence_uncertainty_weight: float = Field(ge=0.0, le=10.0)
    gmm_restarts: int = Field(ge=1, le=100)
    gmm_restart_choice: GmmRestartChoice
    gmm_reg_covar: float = Field(gt=0.0, le=1.0)
    kmeans_restarts: int = Field(ge=1, le=100)
    umap_transform_neighbors: int = Field(ge=1, le=500)
    umap_epochs: int = Field(ge=0, le=5000)
    umap_neighbour_search: UmapNeighbourSearch
    image: ClusteringSettings
    audio: SelfScoredClusteringSettings
    audio_reference: AudioReferenceSettings
    joint: SelfScoredClusteringSettings
    self_labelling: SelfLabellingSettings
    audio_self_labelling: AudioSelfLabellingSettings


class AdaptationSettings(Section):
    batch_neighbours: int = Field(ge=0, le=1000)


class BrainSettings(Section):
    """params ``relate.brain``: the maps between the two latent spaces (brain.py)."""

    hidden_units: list[PositiveInt] = Field(min_length=1)
    epochs: int = Field(ge=1)
    batch_size: int = Field(ge=1)
    learning_rate: float = Field(gt=0.0, le=1.0)


class RelateSettings(Section):
    min_share: float = Field(ge=0.0, le=1.0)
    brain: BrainSettings


class EvaluationClassifierEpochs(Section):
    image: int = Field(ge=1, le=1000)
    audio: int = Field(ge=1, le=1000)


class ConvergenceSettings(Section):
    min_strength: float = Field(ge=0.0, le=1.0)
    min_share: float = Field(ge=0.0, le=1.0)
    max_entropy_bits: float = Field(ge=0.0, le=20.0)
    divergence_alpha: float = Field(gt=0.0, le=0.5)
    samples_per_concept: int = Field(ge=1, le=100)
    cross_modal_examples: int = Field(ge=1, le=100)
    generation_temperature: float = Field(ge=0.0, le=10.0)
    imagine_images_from: ImaginationRoute
    unfamiliar_share: float = Field(gt=0.0, le=0.5)
    evaluation_classifier_epochs: EvaluationClassifierEpochs


class EvidenceSettings(Section):
    bootstrap_resamples: int = Field(ge=100, le=100_000)
    interval_level: float = Field(ge=0.5, le=0.999)


class Params(Section):
    """The whole of params.yaml."""

    seed: int = Field(ge=0, le=2**31 - 1)
    audio: AudioProcessingSettings
    split: SplitSettings
    pairs: PairingSettings
    image_ae: ImageAutoencoderSettings
    audio_ae: AudioAutoencoderSettings
    cluster: ClusterSettings
    adaptation: AdaptationSettings
    relate: RelateSettings
    convergence: ConvergenceSettings
    evidence: EvidenceSettings


# ------------------------------------------------------------------ errors, one line each


def _section_model(field: FieldInfo) -> type[Section] | None:
    return field.annotation if isinstance(field.annotation, type) and issubclass(field.annotation, Section) else None


def leaf_keys(model: type[Section], prefix: str = "") -> list[str]:
    """The dotted keys of every param below ``model``, in the order of params.yaml."""
    keys = []
    for name, field in model.model_fields.items():
        section = _section_model(field)
        keys += leaf_keys(section, f"{prefix}{name}.") if section else [f"{prefix}{name}"]
    return keys


def _bound(field: FieldInfo, kind: type, attribute: str):
    return next((getattr(item, attribute) for item in field.metadata if isinstance(item, kind)), None)


def rule(field: FieldInfo) -> str:
    """What a value of ``field`` must be, read from its type and constraints."""
    worded = _bound(field, Rule, "text")
    if worded:
        return worded
    kind, section = field.annotation, _section_model(field)
    if section:
        return f"a section of keys (known: {', '.join(leaf_keys(section))})"
    upper = _bound(field, annotated_types.Le, "le")
    upper = "" if upper is None else f" and <= {upper}"
    if kind is bool:
        return "true or false"
    if kind is int:
        return f"an integer >= {_bound(field, annotated_types.Ge, 'ge')}{upper}"
    if kind is float:
        strict_lower = _bound(field, annotated_types.Gt, "gt")
        lower = f"> {strict_lower}" if strict_lower is not None else f">= {_bound(field, annotated_types.Ge, 'ge')}"
        return f"a number {lower}{upper} (floats need a dot, e.g. 1.0e-3)"
    if get_origin(kind) is Literal:
        return f"one of {', '.join(get_args(kind))}"
    if get_origin(kind) is list:
        item = get_args(kind)[0]
        if get_origin(item) is Literal:
            return f"a non-empty list drawn from {', '.join(get_args(item))}"
        return f"a list of at least {_bound(field, annotated_types.MinLen, 'min_length')} positive integers"
    raise TypeError(f"no rule worded for {kind}")  # a new kind of field: word its rule here


def _field_at(path: list[str]) -> FieldInfo | None:
    """The field of the dotted ``path`` (None: no such param)."""
    model, field = Params, None
    for name in path:
        if model is None or name not in model.model_fields:
            return None
        field = model.model_fields[name]
        model = _section_model(field)
    return field


def _value_at(tree, path: list[str]):
    for name in path:
        tree = tree[name]
    return tree


def _leaves(value, prefix: str) -> list[str]:
    """The dotted keys of an unknown key's value: the key itself, or every leaf of a section below it."""
    if isinstance(value, dict) and value:
        return [leaf for key, inner in value.items() for leaf in _leaves(inner, f"{prefix}.{key}")]
    return [prefix]


def _known_near(key: str) -> str:
    """What is allowed instead of an unknown key: the keys of its section, or (a misspelt or
    unknown section such as ``pair``) the sections, with the closest match first."""
    section = key.split(".")[0]
    if section in Params.model_fields:
        return f"known: {', '.join(leaf for leaf in leaf_keys(Params) if leaf.split('.')[0] == section)}"
    sections = list(Params.model_fields)
    close = difflib.get_close_matches(section, sections, n=1)
    hint = f"did you mean {close[0]}? " if close else ""
    return f"{hint}known sections: {', '.join(sections)}"


def problem_lines(error: ValidationError, tree: dict) -> list[str]:
    """One line per problem of ``error`` (validating ``tree``): the dotted key, the value got, the rule."""
    lines = []
    for detail in error.errors():
        path = [str(part) for part in detail["loc"] if not isinstance(part, int)]  # a list item: the list's key
        dotted = ".".join(path)
        raised = detail.get("ctx", {}).get("error")
        if isinstance(raised, Problem):
            lines.append(f"{'.'.join(filter(None, [dotted, raised.key]))}: {raised.text}")
        elif detail["type"] in ("extra_forbidden", "invalid_key"):  # invalid: a key that is no string (`1: x`)
            unknown = ".".join(str(part) for part in detail["loc"])
            below = detail["input"] if detail["type"] == "extra_forbidden" else None
            lines += [f"{leaf}: unknown parameter ({_known_near(leaf)})" for leaf in _leaves(below, unknown)]
        elif detail["type"] == "missing":  # a missing section: each of its keys
            section = _section_model(_field_at(path))
            missing = leaf_keys(section, f"{dotted}.") if section else [dotted]
            lines += [f"{key}: missing; must be {rule(_field_at(key.split('.')))}" for key in missing]
        else:
            lines.append(f"{dotted}: got {_value_at(tree, path)!r}, must be {rule(_field_at(path))}")
    return list(dict.fromkeys(lines))  # two bad items of one list: one line


def parse(tree: dict) -> Params:
    """``tree`` (params.yaml as plain dicts and lists) as ``Params``; ParamsError listing every problem."""
    if not isinstance(tree, dict):
        raise ParamsError(f"params.yaml: expected a mapping of parameters, got {type(tree).__name__}")
    try:
        return Params.model_validate(tree)
    except ValidationError as error:
        raise ParamsError("invalid params.yaml:\n  " + "\n  ".join(problem_lines(error, tree))) from None


def load(path: Path = PARAMS_FILE) -> Params:
    """Read and validate params.yaml with a YAML 1.2 parser, as DVC reads it."""
    yaml = YAML(typ="safe", pure=True)
    with open(path) as stream:
        tree = yaml.load(stream)
    if not isinstance(tree, dict):  # named here with its path
        raise ParamsError(f"{path}: expected a mapping of parameters, got {type(tree).__name__}")
    return parse(tree)


# ------------------------------------------------------------------ params against the data


SAMPLE_NAMES = {"image": "train images", "audio": "train recordings", "joint": "train episodes"}


def clustered_spaces(cluster: ClusterSettings) -> list[tuple[str, ClusteringSettings, str]]:
    """(key, settings, space whose train samples it is fitted on) of each clustering of the cluster stage."""
    return [("cluster.image", cluster.image, "image"), ("cluster.audio", cluster.audio, "audio"),
            ("cluster.audio_reference", cluster.audio_reference, "audio"), ("cluster.joint", cluster.joint, "joint")]


def check_cluster_sizes(params: Params, train_counts: dict[str, int]) -> None:
    """ParamsError naming each key that asks for more clusters (or voices) than its space has
    train samples; ``train_counts`` maps image, audio and joint to those counts.

    Checked before the cluster stage starts: otherwise the fit fails after minutes of work,
    with a message that names neither the key nor the space.
    """
    asked = []  # (key, largest number asked for, space, what)
    for key, clustering, space in clustered_spaces(params.cluster):
        if clustering.k_selection == "fixed":
            asked.append((f"{key}.k", clustering.k, space, "clusters"))
        else:
            asked.append((f"{key}.k_range", clustering.k_range[1], space, "clusters"))
    voices = params.cluster.audio_reference.voices
    if voices.count_selection == "fixed":
        asked.append(("cluster.audio_reference.voices.count", voices.count, "audio", "voices"))
    elif voices.count_selection == "bic":
        asked.append(("cluster.audio_reference.voices.count_range", voices.count_range[1], "audio", "voices"))
    problems = [f"{key}: {most} {what} need at least {most} {SAMPLE_NAMES[space]}, the data has {train_counts[space]}"
                for key, most, space, what in asked if most > train_counts[space]]
    if problems:
        raise ParamsError("params.yaml asks for more than the data holds:\n  " + "\n  ".join(problems))


def train_sample_counts(image_metadata: Path, audio_metadata: Path) -> dict[str, int]:
    """Train images, train recordings and train episodes (one per train image), from preprocess's
    metadata tables: cheap to read before any clustering."""
    counts = {}
    for space, table in (("image", image_metadata), ("audio", audio_metadata)):
        with open(table, newline="") as stream:
            counts[space] = sum(row["split"] == "train" for row in csv.DictReader(stream))
    counts["joint"] = counts["image"]  # every train image is shown in exactly one episode
    return counts
