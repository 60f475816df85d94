"""Every file the pipeline reads or writes, relative to the project root (mirrors dvc.yaml)."""

from pathlib import Path

RAW_DIR = Path("data/raw")
MNIST_DIR = RAW_DIR / "mnist"
FSDD_RECORDINGS_DIR = RAW_DIR / "fsdd" / "recordings"

PREPROCESSED_DIR = Path("data/preprocessed")
IMAGES = PREPROCESSED_DIR / "images.npz"
SPECTROGRAMS = PREPROCESSED_DIR / "spectrograms.npz"
AUDIO_FEATURES = PREPROCESSED_DIR / "audio_features.npz"  # the audio autoencoder's inputs
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
CLUSTERS_DIR = Path("data/clusters")
CLUSTER_ASSIGNMENTS = CLUSTERS_DIR / "assignments.npz"
CLUSTER_MODELS = CLUSTERS_DIR / "cluster_models.npz"
CLUSTER_CHOICE = CLUSTERS_DIR / "k_selection.csv"

# Small tables a reviewer reads in the diff: kept in git (cache: false) beside the metrics.
RELATIONS_DIR = Path("metrics/tables")
COOCCURRENCE = RELATIONS_DIR / "cooccurrence.csv"
ONE_TO_ONE = RELATIONS_DIR / "one_to_one.csv"
ONE_TO_MANY = RELATIONS_DIR / "one_to_many.csv"
TEST_EPISODE_CONCEPTS = RELATIONS_DIR / "test_episode_concepts.csv"
BRAIN_DIR = MODELS_DIR / "brain"


def brain_model(direction: str) -> Path:
    return BRAIN_DIR / f"{direction}.keras"


CONVERGENCE_DIR = Path("data/convergence")
CONCEPT_TABLE = RELATIONS_DIR / "concepts.csv"
ATTENTION = CONVERGENCE_DIR / "attention.npz"
GENERATED = CONVERGENCE_DIR / "generated.npz"

METRICS_DIR = Path("metrics")
RECONSTRUCTION_METRICS = METRICS_DIR / "reconstruction.json"
CLUSTER_METRICS = METRICS_DIR / "cluster.json"
RELATE_METRICS = METRICS_DIR / "relate.json"
CONVERGENCE_METRICS = METRICS_DIR / "convergence.json"

PLOTS_DIR = Path("plots")
SOUNDS_DIR = PLOTS_DIR / "sounds"
REPORT_DIR = PLOTS_DIR / "report"


# --- plot stage (appended by the plot-stage helper; move up as you see fit) ---
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
