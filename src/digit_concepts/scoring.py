"""Scoring against the digit labels: the only module besides ``episodes`` that reads them."""

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score, silhouette_score

from . import paths, storage

METADATA = {"image": paths.IMAGE_METADATA, "audio": paths.AUDIO_METADATA}


def _metadata_column(sense: str, split: str, column: str) -> np.ndarray:
    table = pd.read_csv(METADATA[sense])
    return table[table["split"] == split].sort_values("index")[column].to_numpy()


def load_digits(sense: str, split: str) -> np.ndarray:
    """True digits of one sense's split, in sample order (for scoring and display only)."""
    return _metadata_column(sense, split, "digit").astype(np.int64)


def load_speakers(split: str) -> np.ndarray:
    """Speaker of each recording of a split, in sample order (to score the voices found, only)."""
    return _metadata_column("audio", split, "speaker")


def adjusted_rand(truth: np.ndarray, assignments: np.ndarray) -> float:
    return float(adjusted_rand_score(truth, assignments))


def contingency(assignments: np.ndarray, digits: np.ndarray) -> np.ndarray:
    """Counts of (cluster, digit); rows are clusters 0..max, columns digits 0..max."""
    assignments = np.asarray(assignments, dtype=np.int64)
    digits = np.asarray(digits, dtype=np.int64)
    if assignments.shape != digits.shape or assignments.size == 0:
        raise ValueError(f"need equally long, non-empty assignments and digits, got {assignments.shape} and {digits.shape}")
    table = np.zeros((assignments.max() + 1, digits.max() + 1), dtype=np.int64)
    np.add.at(table, (assignments, digits), 1)
    return table


def hungarian_accuracy(assignments: np.ndarray, digits: np.ndarray) -> float:
    """Clustering accuracy under the best one-to-one matching of clusters to digits."""
    table = contingency(assignments, digits)
    rows, columns = linear_sum_assignment(-table)
    return float(table[rows, columns].sum() / len(digits))


def accuracy_under_mapping_of(reference_assignments: np.ndarray, reference_digits: np.ndarray,
                              assignments: np.ndarray, digits: np.ndarray) -> float:
    """Accuracy of ``assignments`` with each cluster named as the reference (clean) samples name it
    (their Hungarian matching): transformed digits are named as the learner names clean ones, not
    given a matching of their own."""
    table = contingency(reference_assignments, reference_digits)
    rows, columns = linear_sum_assignment(-table)
    digit_of_cluster = dict(zip(rows.tolist(), columns.tolist()))
    named = np.array([digit_of_cluster.get(int(cluster), -1) for cluster in np.asarray(assignments)])
    if named.shape != np.shape(digits) or named.size == 0:
        raise ValueError(f"need equally long, non-empty assignments and digits, got {named.shape} and {np.shape(digits)}")
    return float(np.mean(named == np.asarray(digits)))


def purity(assignments: np.ndarray, digits: np.ndarray, train_assignments: np.ndarray | None = None,
           train_digits: np.ndarray | None = None) -> float:
    """Many-to-one accuracy, fair to over-clustering: each cluster is named by its majority digit.

    With the train split given, clusters are named on train and test samples scored by that
    name; otherwise on the scored samples themselves (optimistic when clusters are tiny).
    """
    if train_assignments is None:
        return float(contingency(assignments, digits).max(axis=1).sum() / len(digits))
    names = contingency(train_assignments, train_digits).argmax(axis=1)
    assignments = np.asarray(assignments, dtype=np.int64)
    known = assignments < len(names)
    named = np.where(known, names[np.minimum(assignments, len(names) - 1)], -1)
    return float(np.mean(named == np.asarray(digits)))


def cluster_scores(assignments: np.ndarray, digits: np.ndarray, features: np.ndarray,
                   silhouette_sample: int, seed: int, train_assignments: np.ndarray | None = None,
                   train_digits: np.ndarray | None = None) -> dict:
    """Test-split scores; purity names clusters on the train split when it is given."""
    n_clusters = int(len(np.unique(assignments)))
    if 1 < n_clusters < len(assignments):
        silhouette = float(silhouette_score(features, assignments, sample_size=min(silhouette_sample, len(features)),
                                            random_state=seed))
    else:
        silhouette = 0.0
    return {
        "acc": hungarian_accuracy(assignments, digits),
        "purity": purity(assignments, digits, train_assignments, train_digits),
        "nmi": float(normalized_mutual_info_score(digits, assignments)),
        "ari": float(adjusted_rand_score(digits, assignments)),
        "silhouette": silhouette,
        "n_clusters": n_clusters,
    }


def episode_digits(split: str) -> np.ndarray:
    """Digit of each episode's image (the digit the episode is about)."""
    streams = storage.read_npz(paths.EPISODES)
    return load_digits("image", split)[streams[f"{split}_image_index"]]


def coherence(predicted_digits: np.ndarray, source_digits: np.ndarray) -> float:
    """Share of generated samples that the evaluation classifier assigns to the source's digit."""
    predicted_digits = np.asarray(predicted_digits)
    source_digits = np.asarray(source_digits)
    if predicted_digits.shape != source_digits.shape or predicted_digits.size == 0:
        raise ValueError(f"coherence needs equally long, non-empty arrays, got {predicted_digits.shape} and {source_digits.shape}")
    return float(np.mean(predicted_digits == source_digits))


def fused_scores(decision, test_digits: np.ndarray, validation_digits: np.ndarray) -> dict:
    """Accuracy of the fused decision (``fusion.FusedDecision``) on the test and validation
    episodes, with the calibration temperatures behind it."""
    return {"fused_acc": hungarian_accuracy(decision.concepts, test_digits),
            "fused_acc_uncalibrated": hungarian_accuracy(decision.uncalibrated_concepts, test_digits),
            "validation_fused_acc": hungarian_accuracy(decision.validation_concepts, validation_digits),
            "calibration_temperature_image": decision.image_temperature,
            "calibration_temperature_audio": decision.audio_temperature}
