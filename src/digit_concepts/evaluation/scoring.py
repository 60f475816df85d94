"""Scoring against the digit labels: the only module besides ``episodes`` that reads them."""

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score, silhouette_score

from digit_concepts.core import paths
from digit_concepts.core.evidence import INTERVAL_SUFFIX, Bootstrap
from digit_concepts.core.sense import IMAGE, SENSES, SPLITS, Sense, SplitArrays

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


@dataclass(frozen=True)
class Labels:
    """The labels a stage scores with, read once at its edge (``Labels.read``): each sense's
    digits and each recording's speaker, per split (scoring only: no decision reads them)."""

    digits: Mapping[str, Mapping[str, np.ndarray]]  # sense name -> split -> digit of each sample
    speakers: Mapping[str, np.ndarray]  # split -> speaker of each recording

    @classmethod
    def read(cls) -> "Labels":
        return cls({sense.name: {split: load_digits(sense.name, split) for split in SPLITS} for sense in SENSES},
                   {split: load_speakers(split) for split in SPLITS})

    def of(self, sense: Sense, split: str) -> np.ndarray:
        return self.digits[sense.name][split]

    def of_episodes(self, streams: SplitArrays, split: str) -> np.ndarray:
        """Digit of each episode's image (the digit the episode is about)."""
        return self.of(IMAGE, split)[streams.episode_index(IMAGE, split)]


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


def accuracy_interval(assignments: np.ndarray, digits: np.ndarray, bootstrap: Bootstrap) -> dict:
    """Bootstrap interval of ``hungarian_accuracy`` over the scored samples."""
    return bootstrap.of_matching(contingency(assignments, digits))


def with_accuracy(name: str, assignments: np.ndarray, digits: np.ndarray, bootstrap: Bootstrap | None) -> dict:
    """``{name: hungarian_accuracy, name_interval: its bootstrap interval}`` (no interval without a bootstrap)."""
    scores = {name: hungarian_accuracy(assignments, digits)}
    if bootstrap is not None:
        scores[f"{name}{INTERVAL_SUFFIX}"] = accuracy_interval(assignments, digits, bootstrap)
    return scores


def right_under_mapping_of(reference_assignments: np.ndarray, reference_digits: np.ndarray,
                           assignments: np.ndarray, digits: np.ndarray) -> np.ndarray:
    """Which ``assignments`` are right with each cluster named as the reference (clean) samples name it
    (their Hungarian matching): transformed digits are named as the learner names clean ones, not
    given a matching of their own."""
    table = contingency(reference_assignments, reference_digits)
    rows, columns = linear_sum_assignment(-table)
    digit_of_cluster = dict(zip(rows.tolist(), columns.tolist()))
    named = np.array([digit_of_cluster.get(int(cluster), -1) for cluster in np.asarray(assignments)])
    if named.shape != np.shape(digits) or named.size == 0:
        raise ValueError(f"need equally long, non-empty assignments and digits, got {named.shape} and {np.shape(digits)}")
    return named == np.asarray(digits)


def accuracy_under_mapping_of(reference_assignments: np.ndarray, reference_digits: np.ndarray,
                              assignments: np.ndarray, digits: np.ndarray) -> float:
    """Accuracy of ``right_under_mapping_of``."""
    return float(np.mean(right_under_mapping_of(reference_assignments, reference_digits, assignments, digits)))


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
                   train_digits: np.ndarray | None = None, bootstrap: Bootstrap | None = None) -> dict:
    """Test-split scores; purity names clusters on the train split when it is given; with a
    bootstrap, ACC's interval (``acc_interval``) too."""
    n_clusters = int(len(np.unique(assignments)))
    if 1 < n_clusters < len(assignments):
        silhouette = float(silhouette_score(features, assignments, sample_size=min(silhouette_sample, len(features)),
                                            random_state=seed))
    else:
        silhouette = 0.0
    return {
        **with_accuracy("acc", assignments, digits, bootstrap),
        "purity": purity(assignments, digits, train_assignments, train_digits),
        "nmi": float(normalized_mutual_info_score(digits, assignments)),
        "ari": float(adjusted_rand_score(digits, assignments)),
        "silhouette": silhouette,
        "n_clusters": n_clusters,
    }


def coherent(predicted_digits: np.ndarray, source_digits: np.ndarray) -> np.ndarray:
    """Which generated samples the evaluation classifier assigns to their source's digit."""
    predicted_digits = np.asarray(predicted_digits)
    source_digits = np.asarray(source_digits)
    if predicted_digits.shape != source_digits.shape or predicted_digits.size == 0:
        raise ValueError(f"coherence needs equally long, non-empty arrays, got {predicted_digits.shape} and {source_digits.shape}")
    return predicted_digits == source_digits


def coherence(predicted_digits: np.ndarray, source_digits: np.ndarray) -> float:
    """Share of generated samples that the evaluation classifier assigns to the source's digit."""
    return float(np.mean(coherent(predicted_digits, source_digits)))


def with_share(name: str, correct: np.ndarray, bootstrap: Bootstrap | None) -> dict:
    """``{name: share of correct, name_interval: its bootstrap interval}`` (no interval without a bootstrap)."""
    scores = {name: float(np.mean(correct))}
    if bootstrap is not None:
        scores[f"{name}{INTERVAL_SUFFIX}"] = bootstrap.of_share(correct)
    return scores


def fused_scores(decision, test_digits: np.ndarray, validation_digits: np.ndarray,
                 bootstrap: Bootstrap | None = None) -> dict:
    """Accuracy of the fused decision (``fusion.FusedDecision``) on the test and validation
    episodes, with the calibration temperatures behind it."""
    return {**with_accuracy("fused_acc", decision.concepts, test_digits, bootstrap),
            **with_accuracy("fused_acc_uncalibrated", decision.uncalibrated_concepts, test_digits, bootstrap),
            **with_accuracy("validation_fused_acc", decision.validation_concepts, validation_digits, bootstrap),
            "calibration_temperature_image": decision.image_temperature,
            "calibration_temperature_audio": decision.audio_temperature}
