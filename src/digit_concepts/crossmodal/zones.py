"""Convergence zones (both senses arrive at one concept) and divergence zones (a concept spreads).

Zones are read from the train co-occurrence counts: divergence at the level of audio clusters,
convergence after over-clustered audio clusters are merged into concepts by their best image
partner (``relations.merge_by_partner``). ``merged_zones`` is the same reading at the level of
merged concepts, as the report shows it.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import binom

from digit_concepts.crossmodal.relations import audio_given_image, image_given_audio


@dataclass(frozen=True)
class MergedZones:
    """Image concepts against merged audio concepts (over-clustered audio merged by best partner)."""

    audio_given_image: np.ndarray  # (image concepts, merged audio concepts)
    image_given_audio: np.ndarray
    merged_ids: list[int]  # the merged audio concepts, in column order
    clusters: list[int]  # audio clusters merged into each
    zones: list[str]  # per image concept, at the level of merged concepts
    min_strength: float
    min_share: float
    max_entropy_bits: float


def entropy_bits(distributions: np.ndarray) -> np.ndarray:
    """Shannon entropy in bits of each row."""
    safe = np.where(distributions > 0, distributions, 1.0)
    return -(distributions * np.log2(safe)).sum(axis=1)


def partners_beyond_chance(counts: np.ndarray, alpha: float) -> np.ndarray:
    """Per row (concept), how many partners (columns) it meets more often than chance would pair them.

    Chance is a pairing that ignores the concepts: a row of n episodes meets partner j
    Binomial(n, q_j) times, q_j being j's share of all episodes. A partner counts when the one-sided
    binomial test gives p < alpha / (number of partners) (Bonferroni over the row). Unlike a share or
    entropy threshold, this does not grow with pairing noise: noise spreads a concept's episodes over
    its partners in proportion to chance, so it adds no partner beyond it (docs/noise.md).
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"convergence.divergence_alpha: a significance level strictly between 0 and 1, got {alpha}")
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum()
    if total <= 0:
        return np.zeros(counts.shape[0], dtype=np.int64)
    chance = counts.sum(axis=0, keepdims=True) / total
    p_values = binom.sf(counts - 1, counts.sum(axis=1, keepdims=True), chance)
    return ((p_values < alpha / counts.shape[1]) & (counts > 0)).sum(axis=1).astype(np.int64)


def convergence_pairs(counts: np.ndarray, min_strength: float) -> list[tuple[int, int]]:
    """(image, audio) pairs that are each other's best partner with both conditionals >= min_strength."""
    forward, backward = audio_given_image(counts), image_given_audio(counts)
    pairs = []
    for image_concept in range(counts.shape[0]):
        if counts[image_concept].sum() == 0:
            continue
        audio_concept = int(forward[image_concept].argmax())
        if (int(backward[:, audio_concept].argmax()) == image_concept
                and forward[image_concept, audio_concept] >= min_strength
                and backward[image_concept, audio_concept] >= min_strength):
            pairs.append((image_concept, audio_concept))
    return pairs


def _sense_rows(sense: str, table: np.ndarray, shares: np.ndarray, reverse: np.ndarray, converging: set,
                min_share: float, max_entropy_bits: float) -> list[tuple]:
    """One row per concept; ``shares`` is P(partner | concept), ``reverse`` P(concept | partner)."""
    entropies = entropy_bits(shares)
    rows = []
    for concept in range(table.shape[0]):
        size = int(table[concept].sum())
        if size == 0:
            continue
        partner = int(shares[concept].argmax())
        n_partners = int((shares[concept] >= min_share).sum())
        divergent = n_partners >= 2 or entropies[concept] > max_entropy_bits
        zone = {(True, True): "both", (True, False): "convergence", (False, True): "divergence"}.get(
            (concept in converging, bool(divergent)), "none")
        rows.append((concept, sense, size, partner, float(shares[concept, partner]), float(reverse[concept, partner]),
                     float(entropies[concept]), n_partners, zone))
    return rows


def merged_counts(counts: np.ndarray, audio_concept_of_cluster: np.ndarray) -> np.ndarray:
    """Co-occurrence counts with the audio clusters summed into their concepts (columns 0 .. max id)."""
    merged = np.zeros((counts.shape[0], int(audio_concept_of_cluster.max()) + 1), dtype=counts.dtype)
    np.add.at(merged.T, audio_concept_of_cluster, counts.T)
    return merged


def concept_table(counts: np.ndarray, audio_concept_of_cluster: np.ndarray, min_strength: float, min_share: float,
                  max_entropy_bits: float, divergence_alpha: float | None = None) -> pd.DataFrame:
    """Per-concept table of both senses: size, best partner, both conditionals, entropy, zone.

    Divergence is read at the level of clusters (one image concept spread over several audio
    clusters); convergence at the level of concepts, after over-clustered audio clusters are
    merged by ``audio_concept_of_cluster`` (identity when audio is not over-clustered).
    """
    merged = merged_counts(counts, audio_concept_of_cluster)
    pairs = convergence_pairs(merged, min_strength)
    converging_images = {image for image, _ in pairs}
    converging_clusters = set(np.flatnonzero(np.isin(audio_concept_of_cluster, [audio for _, audio in pairs])).tolist())
    forward, backward = audio_given_image(counts), image_given_audio(counts)
    rows = _sense_rows("image", counts, forward, backward, converging_images, min_share, max_entropy_bits)
    rows += _sense_rows("audio", counts.T, backward.T, forward.T, converging_clusters, min_share, max_entropy_bits)
    table = pd.DataFrame(rows, columns=["concept", "sense", "size", "best_partner", "p_partner_given_concept",
                                        "p_concept_given_partner", "entropy_bits", "n_partners", "zone"])
    is_audio = (table["sense"] == "audio").to_numpy()
    if divergence_alpha is not None:  # the noise-robust reading of divergence (partners_beyond_chance)
        beyond = {"image": partners_beyond_chance(counts, divergence_alpha),
                  "audio": partners_beyond_chance(counts.T, divergence_alpha)}
        table["n_partners_beyond_chance"] = [int(beyond[sense][concept])
                                             for sense, concept in zip(table["sense"], table["concept"])]
    merged_concept = table["concept"].to_numpy().copy()
    merged_concept[is_audio] = audio_concept_of_cluster[merged_concept[is_audio]]
    table["merged_concept"] = merged_concept
    return table


def zone_counts(table: pd.DataFrame) -> dict:
    """Zones of the concept table; ``n_divergence_zones_beyond_chance`` counts the concepts with two or
    more partners beyond chance (``partners_beyond_chance``), the reading that stays meaningful under
    pairing noise (the share / entropy reading of ``n_divergence_zones`` counts noise as divergence)."""
    convergent = table["zone"].isin(["convergence", "both"])
    divergent = table["zone"].isin(["divergence", "both"])
    counts = {"n_convergence_zones": int((convergent & (table["sense"] == "image")).sum()),
              "n_divergence_zones": int(divergent.sum())}
    if "n_partners_beyond_chance" in table:
        counts["n_divergence_zones_beyond_chance"] = int((table["n_partners_beyond_chance"] >= 2).sum())
    return counts


def merged_zones(concepts: pd.DataFrame, counts: np.ndarray, min_strength: float, min_share: float,
                 max_entropy_bits: float) -> MergedZones | None:
    """Image concepts against the merged audio concepts of the concept table (its
    ``merged_concept`` column), with the zones read by the same rules at that level; None when
    the table has no merged concepts. ``counts``: the train co-occurrence counts (image, audio cluster)."""
    if "merged_concept" not in concepts:
        return None
    audio_rows = concepts[concepts["sense"] == "audio"]
    merged_ids = sorted(set(audio_rows["merged_concept"].astype(int)))
    position = {merged: column for column, merged in enumerate(merged_ids)}
    # Clusters missing from the table met no train episode: their columns are zero wherever they go.
    column_of_cluster = np.zeros(counts.shape[1], dtype=np.int64)
    for cluster, merged in zip(audio_rows["concept"].astype(int), audio_rows["merged_concept"].astype(int)):
        column_of_cluster[cluster] = position[merged]
    table = merged_counts(counts, column_of_cluster).astype(np.float64)
    rows = concept_table(table, np.arange(len(merged_ids)), min_strength, min_share, max_entropy_bits)
    image_rows = rows[rows["sense"] == "image"].set_index("concept")
    zone_of = [image_rows["zone"].get(concept, "none") for concept in range(counts.shape[0])]
    clusters = [int((audio_rows["merged_concept"] == merged).sum()) for merged in merged_ids]
    return MergedZones(audio_given_image(table), image_given_audio(table), merged_ids, clusters, zone_of,
                       min_strength, min_share, max_entropy_bits)
