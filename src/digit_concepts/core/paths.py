"""Every file the pipeline reads or writes, relative to the project root (mirrors dvc.yaml)."""

from pathlib import Path

RAW_DIR = Path("data/raw")
MNIST_DIR = RAW_DIR / "mnist"
FSDD_RECORDINGS_DIR = RAW_DIR / "fsdd" / "recordings"
RAW_CHECKSUMS = RAW_DIR / "checksums.json"  # the sha256 the download was checked against (data.CHECKSUMS_RECORD)

PREPROCESSED_DIR = Path("data/preprocessed")
IMAGES = PREPROCESSED_DIR / "images.npz"
SPECTROGRAMS = PREPROCESSED_DIR / "spectrograms.npz"
AUDIO_FEATURES = PREPROCESSED_DIR / "audio_features.npz"  # the audio autoencoder's inputs
# Train mean and deviation of those inputs when they are not log-mels (the tool standardises with them).
AUDIO_FEATURE_STATISTICS = PREPROCESSED_DIR / "audio_feature_statistics.npz"
# The autoencoder's inputs for validation and test recordings through each of shifts.AUDIO_SHIFTS.
AUDIO_SHIFTS = PREPROCESSED_DIR / "audio_shifts.npz"
AUDIO_SETTINGS = PREPROCESSED_DIR / "audio_settings.json"
VOICE_DESCRIPTORS = PREPROCESSED_DIR / "voice_descriptors.npz"  # who speaks: only for voice-aware clustering
EPISODES = PREPROCESSED_DIR / "episodes.npz"
IMAGE_METADATA = PREPROCESSED_DIR / "image_metadata.csv"
AUDIO_METADATA = PREPROCESSED_DIR / "audio_metadata.csv"

MODELS_DIR = Path("models")


def autoencoder_dir(modality: str) -> Path:
    """Stage output folder of one sense's autoencoder: the model plus its dvclive logs."""
    return MODELS_DIR / f"{modality}_autoencoder"


def autoencoder_model(modality: str) -> Path:
    return autoencoder_dir(modality) / "model.keras"


def training_log_dir(modality: str) -> Path:
    return autoencoder_dir(modality) / "training"


ENCODINGS = Path("data/encodings/codes.npz")
# Codes of validation and test samples drawn differently: images ("<split>_<view>", transfer and
# shifts), recordings ("audio_<split>_<shift>", shifts.AUDIO_SHIFTS).
TRANSFER_ENCODINGS = Path("data/encodings/transfer_codes.npz")
CLUSTERS_DIR = Path("data/clusters")
CLUSTER_ASSIGNMENTS = CLUSTERS_DIR / "assignments.npz"
CLUSTER_MODELS = CLUSTERS_DIR / "cluster_models.npz"
CLUSTER_CHOICE = CLUSTERS_DIR / "k_selection.csv"
AUDIO_ALONE = CLUSTERS_DIR / "audio_alone.npz"  # the scored-only audio-alone reference (and its voices)
# The fitted learner (standardisers, reductions, clusters: learner.py), as the tool reads it.
LEARNER_ARRAYS = CLUSTERS_DIR / "learner.npz"
LEARNER_SETTINGS = CLUSTERS_DIR / "learner.json"
IMAGE_CLASSIFIER = CLUSTERS_DIR / "image_classifier.keras"  # self-labelling: names new images (self_labelling.py)
IMAGE_VIEW_CONCEPTS = CLUSTERS_DIR / "image_view_concepts.npz"  # the image transfer proxies, named
AUDIO_CLASSIFIER = CLUSTERS_DIR / "audio_classifier.keras"  # self-labelling for sound: names new recordings
AUDIO_VIEW_CONCEPTS = CLUSTERS_DIR / "audio_view_concepts.npz"  # the audio proxies' image-concept log posteriors

# Small tables a reviewer reads in the diff: kept in git (cache: false) beside the metrics.
RELATIONS_DIR = Path("metrics/tables")
COOCCURRENCE = RELATIONS_DIR / "cooccurrence.csv"
ONE_TO_ONE = RELATIONS_DIR / "one_to_one.csv"
ONE_TO_MANY = RELATIONS_DIR / "one_to_many.csv"
TEST_EPISODE_CONCEPTS = RELATIONS_DIR / "test_episode_concepts.csv"
BRAIN_DIR = MODELS_DIR / "brain"

ADAPTATION_SETTINGS = MODELS_DIR / "adaptation.json"  # what `recognise --adapt` borrows at most


def brain_model(direction: str) -> Path:
    return BRAIN_DIR / f"{direction}.keras"


CONVERGENCE_DIR = Path("data/convergence")
CONCEPT_TABLE = RELATIONS_DIR / "concepts.csv"
ATTENTION = CONVERGENCE_DIR / "attention.npz"
GENERATED = CONVERGENCE_DIR / "generated.npz"
FAMILIARITY = CONVERGENCE_DIR / "familiarity.npz"  # validation scores that tell an unfamiliar sample

METRICS_DIR = Path("metrics")
RECONSTRUCTION_METRICS = METRICS_DIR / "reconstruction.json"
CLUSTER_METRICS = METRICS_DIR / "cluster.json"
TRANSFER_METRICS = METRICS_DIR / "transfer.json"  # digits drawn and recordings heard differently
RELATE_METRICS = METRICS_DIR / "relate.json"
CONVERGENCE_METRICS = METRICS_DIR / "convergence.json"
# Every metrics file a full dvc repro writes, by name (the report shows them; dvc.yaml lists them).
METRICS_FILES = {"reconstruction": RECONSTRUCTION_METRICS, "cluster": CLUSTER_METRICS, "relate": RELATE_METRICS,
                 "convergence": CONVERGENCE_METRICS, "transfer": TRANSFER_METRICS}

PLOTS_DIR = Path("plots")
SOUNDS_DIR = PLOTS_DIR / "sounds"
REPORT_DIR = PLOTS_DIR / "report"


# --- plot stage: figures, sounds and the report page ---
REPORT_PAGE = REPORT_DIR / "index.html"


def training_loss_log(modality: str, split: str) -> Path:
    """dvclive's loss curve of one sense's autoencoder; split is "train" or "eval"."""
    return training_log_dir(modality) / "plots" / "metrics" / split / "loss.tsv"


def figure_file(name: str) -> Path:
    return PLOTS_DIR / f"{name}.png"


def image_to_audio_sound(example: int) -> Path:
    return SOUNDS_DIR / f"image_to_audio_{example}.wav"


def concept_sound(concept: int, sample: int) -> Path:
    return SOUNDS_DIR / f"concept_{concept}_{sample}.wav"


def source_sound(example: int) -> Path:
    """A test recording of the audio -> image examples, re-synthesised from its log-mel."""
    return SOUNDS_DIR / f"audio_to_image_source_{example}.wav"


# Small pictures the report shows beside its players (written by the plot stage).
REPORT_MEDIA_DIR = REPORT_DIR / "media"
# Written by a later stage, if at all: the report shows it when it exists.
GENERALISATION_METRICS = METRICS_DIR / "generalisation.json"


def concept_strip(concept: int, what: str) -> Path:
    """A row of samples of one image concept; what is "members" (test images) or "imagined"."""
    return REPORT_MEDIA_DIR / f"concept_{concept}_{what}.png"


def cross_modal_picture(direction: str, example: int, role: str) -> Path:
    """direction "image_to_audio" or "audio_to_image"; role "source" or "imagined"."""
    return REPORT_MEDIA_DIR / f"{direction}_{example}_{role}.png"
