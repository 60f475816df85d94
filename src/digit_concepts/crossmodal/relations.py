"""Cross-modal relationships learned from co-occurrence alone (Hebbian counting)."""

import numpy as np
import pandas as pd

from digit_concepts.concepts.adaptation import pooled
from digit_concepts.core.sense import AUDIO, SplitArrays


def cooccurrence(image_concepts: np.ndarray, audio_concepts: np.ndarray, n_image: int, n_audio: int) -> np.ndarray:
    """Counts of (image concept, audio concept) over episodes: each episode strengthens one link."""
    image_concepts = np.asarray(image_concepts, dtype=np.int64)
    audio_concepts = np.asarray(audio_concepts, dtype=np.int64)
    if image_concepts.shape != audio_concepts.shape:
        raise ValueError(f"episodes need one image and one audio concept each, got {image_concepts.shape} and {audio_concepts.shape}")
    counts = np.zeros((n_image, n_audio), dtype=np.int64)
    np.add.at(counts, (image_concepts, audio_concepts), 1)
    return counts


def audio_given_image(counts: np.ndarray) -> np.ndarray:
    """P(audio concept | image concept); rows of never-seen concepts stay uniform."""
    totals = counts.sum(axis=1, keepdims=True)
    return np.where(totals > 0, counts / np.maximum(totals, 1), 1.0 / counts.shape[1])


def image_given_audio(counts: np.ndarray) -> np.ndarray:
    """P(image concept | audio concept), indexed [image, audio]; columns sum to one."""
    return audio_given_image(counts.T).T


def one_to_one(counts: np.ndarray) -> pd.DataFrame:
    """Mutual best partners: image concept i and audio concept a, each the other's most frequent."""
    forward, backward = audio_given_image(counts), image_given_audio(counts)
    rows = []
    for image_concept in range(counts.shape[0]):
        audio_concept = int(forward[image_concept].argmax())
        if counts[image_concept, audio_concept] > 0 and int(backward[:, audio_concept].argmax()) == image_concept:
            rows.append((image_concept, audio_concept, int(counts[image_concept, audio_concept]),
                         float(forward[image_concept, audio_concept]), float(backward[image_concept, audio_concept])))
    return pd.DataFrame(rows, columns=["image_concept", "audio_concept", "count", "p_audio_given_image", "p_image_given_audio"])


def one_to_many(counts: np.ndarray, min_share: float) -> pd.DataFrame:
    """Every concept's partners in the other sense whose share of its episodes is >= ``min_share``."""
    rows = []
    for sense, shares, table in (("image", audio_given_image(counts), counts), ("audio", image_given_audio(counts).T, counts.T)):
        for concept in range(table.shape[0]):
            if table[concept].sum() == 0:
                continue
            for partner in np.flatnonzero(shares[concept] >= min_share):
                rows.append((sense, concept, int(partner), int(table[concept, partner]), float(shares[concept, partner])))
    frame = pd.DataFrame(rows, columns=["sense", "concept", "partner", "count", "share"])
    return frame.sort_values(["sense", "concept", "share"], ascending=[True, True, False], kind="stable").reset_index(drop=True)


def agreement(source_concepts: np.ndarray, partner_concepts: np.ndarray, conditional: np.ndarray) -> float:
    """Label-free: share of episodes whose partner concept is the one predicted from the source concept."""
    predicted = conditional[np.asarray(source_concepts)].argmax(axis=1)
    return float(np.mean(predicted == np.asarray(partner_concepts)))


def name_through(concepts: np.ndarray, conditional: np.ndarray) -> np.ndarray:
    """Name each sample by the other sense's concept that its own concept is most associated with.

    ``conditional`` is P(other | own), indexed [own, other].
    """
    return conditional.argmax(axis=1)[np.asarray(concepts)]


def evidence_through(log_posteriors: np.ndarray, conditional: np.ndarray) -> np.ndarray:
    """Log P(other sense's concept | sample): the sample's own concept posteriors carried over by
    ``conditional`` = P(other | own), indexed [own, other]."""
    evidence = np.exp(np.asarray(log_posteriors, dtype=np.float64)) @ np.asarray(conditional, dtype=np.float64)
    return np.log(np.maximum(evidence, np.finfo(np.float64).tiny))


def name_with_batch_neighbours(log_evidence: np.ndarray, batch_features: np.ndarray, neighbours: int,
                               train_features: np.ndarray) -> np.ndarray:
    """Name each sample of a batch by its own evidence summed with that of the nearest batch
    members it may borrow from (``adaptation.batch_neighbourhoods``: at most ``neighbours``, each
    closer to it than its nearest train sample); 0 neighbours: its own evidence only.

    A soft vote: the evidence is summed as probabilities, not as logs. The audio posteriors are
    far too sure (the calibration softens them by a temperature of ~17), and as logs one
    neighbour's near-zero evidence would veto a concept all the others agree on.
    """
    evidence, _ = pooled(np.exp(np.asarray(log_evidence, dtype=np.float64)), batch_features, neighbours, train_features)
    return evidence.argmax(axis=1)


def name_recordings_through_images(log_posteriors: np.ndarray, counts: np.ndarray, batch_features: np.ndarray,
                                   neighbours: int, train_features: np.ndarray,
                                   taught_log_posteriors: np.ndarray | None = None) -> np.ndarray:
    """The image concept each recording of a batch is named, from its image-concept evidence pooled
    with up to ``neighbours`` batch members (``name_with_batch_neighbours``). The evidence: the
    self-labelled audio classifier's ``taught_log_posteriors`` where it names recordings, else the
    audio-cluster posteriors carried over by the co-occurrence ``counts``."""
    evidence = (evidence_through(log_posteriors, image_given_audio(counts).T) if taught_log_posteriors is None
                else np.asarray(taught_log_posteriors, dtype=np.float64))
    if evidence.shape[1] != counts.shape[0]:
        raise ValueError(f"recordings' evidence covers {evidence.shape[1]} image concepts, the co-occurrence "
                         f"{counts.shape[0]}: retrain the cluster stage")
    return name_with_batch_neighbours(evidence, batch_features, neighbours, train_features)


def name_split_recordings(assignments: SplitArrays, counts: np.ndarray, features: dict, split: str,
                          neighbours: int) -> np.ndarray:
    """``name_recordings_through_images`` of a split's recordings, as the cluster stage placed them
    (``assignments``: their audio log posteriors, and the taught classifier's where it names
    recordings); ``features``: where recordings are near each other, per split (train too)."""
    return name_recordings_through_images(assignments.log_posteriors(AUDIO, split), counts, features[split],
                                          neighbours, features["train"], assignments.taught_log_posteriors(AUDIO, split))


def cooccurrence_table(counts: np.ndarray) -> pd.DataFrame:
    frame = pd.DataFrame(counts, columns=[str(audio) for audio in range(counts.shape[1])])
    frame.insert(0, "image_concept", np.arange(counts.shape[0]))
    return frame


def merge_by_partner(counts: np.ndarray) -> np.ndarray:
    """Group over-clustered audio clusters into audio concepts: those sharing a best image partner.

    Returns, for each audio cluster, its concept id (the partner image concept's id). This is
    how one-to-many structure becomes useful: several speakers' "seven" clusters form one concept.
    """
    return image_given_audio(counts).argmax(axis=0)


def concept_consistency(own_concepts: np.ndarray, partner_concepts: np.ndarray, uncertainty_weight: float) -> float:
    """Label-free fit of one sense's concepts to the other sense's clusters over co-occurring pairs.

    I(own; partner) - w * H(own | partner), in nats. Too few own concepts lump digits together,
    so they share less information with the partner; too many split a digit into parts that
    co-occur with the same partner clusters, which adds uncertainty given the partner and no
    information. It peaks where the senses share their concepts.

    Why w < 1: noisy pairs (a random partner) add uncertainty to every candidate in proportion
    to its own entropy, so with w = 1 lumping digits starts to pay once about 40% of the pairs
    are noise. With w = 0.25 the true number still wins at 50% noise (docs/experiments.md),
    and a split still costs a quarter of the entropy it adds.
    """
    from sklearn.metrics import mutual_info_score

    own_concepts = np.asarray(own_concepts, dtype=np.int64)
    shares = np.bincount(own_concepts) / len(own_concepts)
    own_entropy = float(-(shares[shares > 0] * np.log(shares[shares > 0])).sum())
    shared = float(mutual_info_score(own_concepts, np.asarray(partner_concepts, dtype=np.int64)))
    return shared - uncertainty_weight * (own_entropy - shared)
