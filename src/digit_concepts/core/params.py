"""Load params.yaml as DVC does (YAML 1.2) and validate every key before any work starts."""

import csv
import difflib
from collections.abc import Callable
from pathlib import Path

from ruamel.yaml import YAML

PARAMS_FILE = Path("params.yaml")

CLUSTER_ALGORITHMS = ("kmeans", "gmm", "agglomerative")
REDUCTIONS = ("none", "pca", "umap")
K_SELECTIONS = ("fixed", "bic", "silhouette", "cooccurrence")
ARCHITECTURES = ("dense", "conv")
AUDIO_ARCHITECTURES = (*ARCHITECTURES, "frames")  # frames: convolution over time, audio only
AUDIO_SPLITS = ("official", "leave_speakers_out")
AUDIO_FEATURES = ("log_mel", "cepstral")
GMM_RESTART_CHOICES = ("likelihood", "cooccurrence")  # which restart of a mixture is kept (clustering.Fitting)
IMAGINATION_ROUTES = ("brain", "concept")  # how a recording becomes an image (generation.images_from_recordings)
VOICE_COUNT_SELECTIONS = ("none", "fixed", "bic")
SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return (_is_int(value) or isinstance(value, float)) and value == value


def integer(minimum: int = 0, maximum: int | None = None) -> Callable:
    def check(value) -> str | None:
        if not _is_int(value) or value < minimum or (maximum is not None and value > maximum):
            upper = "" if maximum is None else f" and <= {maximum}"
            return f"an integer >= {minimum}{upper}"
        return None
    return check


def number(minimum: float, maximum: float | None = None, strict_minimum: bool = False) -> Callable:
    def check(value) -> str | None:
        # Type first: comparing a string (PyYAML's '1e-3') or None with a float is a TypeError.
        if (not _is_number(value) or (value <= minimum if strict_minimum else value < minimum)
                or (maximum is not None and value > maximum)):
            lower = f"> {minimum}" if strict_minimum else f">= {minimum}"
            upper = "" if maximum is None else f" and <= {maximum}"
            return f"a number {lower}{upper} (floats need a dot, e.g. 1.0e-3)"
        return None
    return check


def choice(*allowed) -> Callable:
    def check(value) -> str | None:
        return None if value in allowed else f"one of {', '.join(map(str, allowed))}"
    return check


def integer_list(minimum_length: int = 1) -> Callable:
    def check(value) -> str | None:
        if not isinstance(value, list) or len(value) < minimum_length or not all(_is_int(v) and v > 0 for v in value):
            return f"a list of at least {minimum_length} positive integers"
        return None
    return check


def number_pair(minimum: float, maximum: float) -> Callable:
    def check(value) -> str | None:
        if (not isinstance(value, list) or len(value) != 2 or not all(_is_number(item) for item in value)
                or not minimum <= value[0] <= value[1] <= maximum):
            return f"[lowest, highest]: two numbers with {minimum} <= lowest <= highest <= {maximum}"
        return None
    return check


def index_range(value) -> str | None:
    if (not isinstance(value, list) or len(value) != 2 or not all(_is_int(item) and item >= 0 for item in value)
            or value[0] > value[1]):
        return "[first, last]: two recording indices, 0 <= first <= last"
    return None


def boolean(value) -> str | None:
    return None if isinstance(value, bool) else "true or false"


def speaker_list(value) -> str | None:
    if not isinstance(value, list) or not value or not set(value) <= set(SPEAKERS):
        return f"a non-empty list drawn from {', '.join(SPEAKERS)}"
    return None


def _autoencoder_schema(prefix: str) -> dict:
    return {
        f"{prefix}.architecture": choice(*ARCHITECTURES),
        f"{prefix}.latent_dim": integer(2, 256),
        f"{prefix}.hidden_units": integer_list(1),
        f"{prefix}.epochs": integer(1),
        f"{prefix}.batch_size": integer(1),
        f"{prefix}.learning_rate": number(0.0, 1.0, strict_minimum=True),
        f"{prefix}.noise_stddev": number(0.0, 1.0),
    }


def _clustering_schema(prefix: str) -> dict:
    return {
        f"{prefix}.algorithm": choice(*CLUSTER_ALGORITHMS),
        f"{prefix}.k": integer(2, 500),
        f"{prefix}.k_selection": choice(*K_SELECTIONS),
        f"{prefix}.k_range": integer_list(2),
        f"{prefix}.reduction": choice(*REDUCTIONS),
        f"{prefix}.reduced_dim": integer(2, 256),
        f"{prefix}.umap_neighbors": integer(2, 500),
    }


SCHEMA: dict[str, Callable] = {
    "seed": integer(0, 2**31 - 1),
    "audio.sample_rate": integer(1000, 48000),
    "audio.n_fft": integer(16, 8192),
    "audio.hop_length": integer(1, 8192),
    "audio.n_mels": integer(8, 512),
    "audio.fmax": number(100.0, 24000.0),
    "audio.frames": integer(8, 4096),
    "audio.trim_top_db": number(1.0, 120.0),
    "audio.per_recording_normalisation": boolean,
    "audio.griffin_lim_iterations": integer(1, 1000),
    "audio.features": choice(*AUDIO_FEATURES),
    "audio.cepstral_mels": integer(8, 512),
    "audio.cepstral_fmin": number(0.0, 24000.0),
    "audio.cepstra": integer(1, 100),
    "audio.silence_floor_db": number(1.0, 200.0),
    "split.audio": choice(*AUDIO_SPLITS),
    "split.test_speakers": speaker_list,
    "split.validation_images": integer(1),
    "split.validation_recordings": index_range,
    "pairs.noise": number(0.0, 1.0),
    **_autoencoder_schema("image_ae"),
    **_autoencoder_schema("audio_ae"),
    "audio_ae.architecture": choice(*AUDIO_ARCHITECTURES),
    "audio_ae.frame_filters": integer_list(1),
    "audio_ae.frame_kernel": integer(1, 64),
    "audio_ae.teacher_weight": number(0.0, 100.0),
    "image_ae.decoder_finetune_epochs": integer(0, 1000),
    "image_ae.augmentation.affine_probability": number(0.0, 1.0),
    "image_ae.augmentation.thicken_probability": number(0.0, 1.0),
    "image_ae.augmentation.thin_probability": number(0.0, 1.0),
    "image_ae.augmentation.max_rotation_degrees": number(0.0, 180.0),
    "image_ae.augmentation.scale_range": number_pair(0.1, 10.0),
    "image_ae.augmentation.max_shift_pixels": number(0.0, 14.0),
    "audio_ae.augmentation.views": integer(0, 32),
    "audio_ae.augmentation.warp": number(0.0, 1.0),
    "audio_ae.augmentation.crop": number(0.0, 0.4),
    "audio_ae.augmentation.bend": number(0.0, 0.3),
    "audio_ae.augmentation.noise_probability": number(0.0, 1.0),
    "audio_ae.augmentation.noise_snr_db": number_pair(-20.0, 60.0),
    "audio_ae.augmentation.noise_tilt": number_pair(-4.0, 4.0),
    **_clustering_schema("cluster.image"),
    **_clustering_schema("cluster.audio"),
    **_clustering_schema("cluster.joint"),
    **_clustering_schema("cluster.audio_reference"),
    "cluster.audio_reference.voices.count_selection": choice(*VOICE_COUNT_SELECTIONS),
    "cluster.audio_reference.voices.count": integer(1, 50),
    "cluster.audio_reference.voices.count_range": integer_list(2),
    "cluster.audio_reference.voices.rounds": integer(1, 10),
    "cluster.audio_reference.voices.within_neighbors": integer(2, 200),
    "cluster.silhouette_sample": integer(100),
    "cluster.cooccurrence_uncertainty_weight": number(0.0, 10.0),
    "cluster.gmm_restarts": integer(1, 100),
    "cluster.gmm_restart_choice": choice(*GMM_RESTART_CHOICES),
    "cluster.gmm_reg_covar": number(0.0, 1.0, strict_minimum=True),
    "cluster.kmeans_restarts": integer(1, 100),
    "cluster.umap_transform_neighbors": integer(1, 500),
    "cluster.self_labelling.epochs": integer(0, 1000),
    "cluster.self_labelling.batch_size": integer(1),
    "cluster.self_labelling.learning_rate": number(0.0, 1.0, strict_minimum=True),
    "cluster.self_labelling.filters": integer_list(1),
    "cluster.self_labelling.dense_units": integer(1, 100_000),
    "cluster.audio_self_labelling.epochs": integer(0, 1000),
    "cluster.audio_self_labelling.batch_size": integer(1),
    "cluster.audio_self_labelling.learning_rate": number(0.0, 1.0, strict_minimum=True),
    "cluster.audio_self_labelling.noise_stddev": number(0.0, 100.0),
    "cluster.audio_self_labelling.filters": integer_list(1),
    "cluster.audio_self_labelling.kernel": integer(1, 1000),
    "cluster.audio_self_labelling.dense_units": integer(1, 100_000),
    "cluster.audio_self_labelling.dropout": number(0.0, 0.99),
    "adaptation.batch_neighbours": integer(0, 1000),
    "relate.min_share": number(0.0, 1.0),
    "relate.brain.hidden_units": integer_list(1),
    "relate.brain.epochs": integer(1),
    "relate.brain.batch_size": integer(1),
    "relate.brain.learning_rate": number(0.0, 1.0, strict_minimum=True),
    "convergence.min_strength": number(0.0, 1.0),
    "convergence.min_share": number(0.0, 1.0),
    "convergence.max_entropy_bits": number(0.0, 20.0),
    "convergence.divergence_alpha": number(0.0, 0.5, strict_minimum=True),
    "convergence.samples_per_concept": integer(1, 100),
    "convergence.cross_modal_examples": integer(1, 100),
    "convergence.generation_temperature": number(0.0, 10.0),
    "convergence.imagine_images_from": choice(*IMAGINATION_ROUTES),
    "convergence.unfamiliar_share": number(0.0, 0.5, strict_minimum=True),
    "convergence.evaluation_classifier_epochs.image": integer(1, 1000),
    "convergence.evaluation_classifier_epochs.audio": integer(1, 1000),
    "evidence.bootstrap_resamples": integer(100, 100_000),
    "evidence.interval_level": number(0.5, 0.999),
}


def flatten(tree: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value:  # an empty section is a leaf: validate can name it
            flat.update(flatten(value, dotted + "."))
        else:
            flat[dotted] = value
    return flat


def validate(tree: dict) -> dict:
    """Return ``tree`` (as plain dicts/lists) if every key is known and valid, else raise ValueError."""
    flat = flatten(tree)
    problems = []
    for key in sorted(set(flat) - set(SCHEMA)):
        problems.append(f"{key}: unknown parameter ({_known_near(key)})")
    for key, check in SCHEMA.items():
        if key not in flat:
            problems.append(f"{key}: missing; must be {check(None) or 'set'}")
            continue
        expected = check(flat[key])
        if expected:
            problems.append(f"{key}: got {flat[key]!r}, must be {expected}")
    range_keys = [f"{prefix}.k_range" for prefix in ("cluster.image", "cluster.audio", "cluster.joint",
                                                     "cluster.audio_reference")]
    for key in range_keys + ["cluster.audio_reference.voices.count_range"]:
        low_high = flat.get(key)
        if isinstance(low_high, list) and (len(low_high) != 2 or low_high[0] >= low_high[1]):
            problems.append(f"{key}: got {low_high!r}, must be [low, high] with low < high")
    strokes = [flat.get(f"image_ae.augmentation.{kind}_probability") for kind in ("thicken", "thin")]
    if all(_is_number(share) for share in strokes) and sum(strokes) > 1.0:
        problems.append(f"image_ae.augmentation.thin_probability: thicken_probability + thin_probability is "
                        f"{sum(strokes)}, must be at most 1 (an image gets one stroke change at most)")
    for prefix in ("cluster.audio", "cluster.joint", "cluster.audio_reference"):
        if flat.get(f"{prefix}.k_selection") == "cooccurrence":
            problems.append(f"{prefix}.k_selection: cooccurrence is for cluster.image only (it scores image concepts "
                            f"against the audio clusters); use fixed, bic or silhouette")
    if (flat.get("cluster.audio_reference.voices.count_selection") in ("fixed", "bic")
            and flat.get("cluster.audio_reference.k_selection") != "fixed"):
        problems.append(f"cluster.audio_reference.k_selection: got {flat.get('cluster.audio_reference.k_selection')!r}, "
                        f"must be fixed while voices.count_selection is not none (voice-aware clustering aligns "
                        f"k concepts per voice)")
    fmin, fmax = flat.get("audio.cepstral_fmin"), flat.get("audio.fmax")
    if _is_number(fmin) and _is_number(fmax) and fmin >= fmax:
        problems.append(f"audio.cepstral_fmin: got {flat['audio.cepstral_fmin']!r}, must be below audio.fmax "
                        f"({flat.get('audio.fmax')!r})")
    if problems:
        raise ValueError("invalid params.yaml:\n  " + "\n  ".join(problems))
    return tree


def _known_near(key: str) -> str:
    """What is allowed instead of an unknown key: the keys of its section, or (a misspelt or
    unknown section such as ``pair``) the sections, with the closest match first."""
    section = key.split(".")[0]
    same_section = [known for known in SCHEMA if known.split(".")[0] == section]
    if same_section:
        return f"known: {', '.join(same_section)}"
    sections = list(dict.fromkeys(known.split(".")[0] for known in SCHEMA))
    close = difflib.get_close_matches(section, sections, n=1)
    hint = f"did you mean {close[0]}? " if close else ""
    return f"{hint}known sections: {', '.join(sections)}"


# The train samples each clustered space is fitted on (cluster stage): its key prefix -> space.
CLUSTERED_SPACES = {"cluster.image": "image", "cluster.audio": "audio", "cluster.audio_reference": "audio",
                    "cluster.joint": "joint"}
SAMPLE_NAMES = {"image": "train images", "audio": "train recordings", "joint": "train episodes"}


def _section(tree: dict, dotted: str) -> dict:
    for key in dotted.split("."):
        tree = tree[key]
    return tree


def check_cluster_sizes(tree: dict, train_counts: dict[str, int]) -> None:
    """ValueError naming each key that asks for more clusters (or voices) than its space has
    train samples; ``train_counts`` maps image, audio and joint to those counts.

    Checked before the cluster stage starts: otherwise the fit fails after minutes of work,
    with a message that names neither the key nor the space.
    """
    problems = []
    asked = []  # (key, largest number asked for, space)
    for prefix, space in CLUSTERED_SPACES.items():
        config = _section(tree, prefix)
        if config["k_selection"] == "fixed":
            asked.append((f"{prefix}.k", config["k"], space, "clusters"))
        else:
            asked.append((f"{prefix}.k_range", config["k_range"][1], space, "clusters"))
    voices = tree["cluster"]["audio_reference"]["voices"]
    if voices["count_selection"] == "fixed":
        asked.append(("cluster.audio_reference.voices.count", voices["count"], "audio", "voices"))
    elif voices["count_selection"] == "bic":
        asked.append(("cluster.audio_reference.voices.count_range", voices["count_range"][1], "audio", "voices"))
    for key, most, space, what in asked:
        if most > train_counts[space]:
            problems.append(f"{key}: {most} {what} need at least {most} {SAMPLE_NAMES[space]}, "
                            f"the data has {train_counts[space]}")
    if problems:
        raise ValueError("params.yaml asks for more than the data holds:\n  " + "\n  ".join(problems))


def train_sample_counts(image_metadata: Path, audio_metadata: Path) -> dict[str, int]:
    """Train images, train recordings and train episodes (one per train image), from preprocess's
    metadata tables: cheap to read before any clustering."""
    counts = {}
    for space, table in (("image", image_metadata), ("audio", audio_metadata)):
        with open(table, newline="") as stream:
            counts[space] = sum(row["split"] == "train" for row in csv.DictReader(stream))
    counts["joint"] = counts["image"]  # every train image is shown in exactly one episode
    return counts


def _plain(node):
    if isinstance(node, dict):
        return {str(key): _plain(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_plain(value) for value in node]
    if isinstance(node, bool) or node is None or isinstance(node, str):
        return node if not isinstance(node, str) else str(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    return node


def load(path: Path = PARAMS_FILE) -> dict:
    """Read and validate params.yaml with a YAML 1.2 parser, as DVC reads it."""
    yaml = YAML(typ="safe", pure=True)
    with open(path) as stream:
        tree = yaml.load(stream)
    if not isinstance(tree, dict):
        raise ValueError(f"{path}: expected a mapping of parameters, got {type(tree).__name__}")
    return validate(_plain(tree))
