"""Voices: who is speaking, found without labels, so that audio concepts line up across speakers.

Recordings group by speaker x digit: a voice moves every code of a speaker by roughly the same
offset, so digits of one speaker sit closer together than one digit of two speakers. Voice-aware
clustering undoes that in three steps, none of which sees a label:

1. discover voices: a Gaussian mixture over per-recording voice descriptors (long-term cepstrum,
   noise floor, level; ``audio.voice_descriptors``), as many voices as BIC prefers. Descriptors
   also carry some of the word, so each later round subtracts the descriptor mean of each digit
   concept found so far, and the voices sharpen round by round;
2. centre each voice's codes on that voice's mean, then cluster all recordings into concepts;
3. cluster each voice's recordings on their own (within one voice digits separate cleanly) and
   align those concepts to the shared ones by a one-to-one matching of concept centres
   (Hungarian), re-estimating the shared centres from the aligned labels a few times.
"""

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.mixture import GaussianMixture

from digit_concepts.concepts.clustering import Fitting, cluster_codes
from digit_concepts.core.params import AudioReferenceSettings, VoiceSettings
from digit_concepts.core.standardisation import standardise

ALIGNMENT_ITERATIONS = 5  # the aligned labels settle within two or three on FSDD
VOICE_MIXTURE_RESTARTS = 10


@dataclass(frozen=True)
class VoiceAwareConcepts:
    train_assignments: np.ndarray
    test_assignments: np.ndarray
    unaligned_test_assignments: np.ndarray  # the shared clustering alone, before per-voice alignment
    train_voices: np.ndarray
    test_voices: np.ndarray
    voice_count: int  # found in the last round (or given)
    centred_test_codes: np.ndarray  # the space the concepts live in, for silhouette


def discover_voices(train_descriptors: np.ndarray, test_descriptors: np.ndarray, counts: list[int],
                    seed: int) -> tuple[np.ndarray, np.ndarray, dict[int, float]]:
    """Voice of every recording: a full-covariance Gaussian mixture of the standardised
    descriptors, with as many components as the count in ``counts`` of lowest BIC (one count
    given: that one). Returns train voices, test voices and the BIC of every count tried."""
    if max(counts) > len(train_descriptors):
        raise ValueError(f"voices: {max(counts)} voices asked for, but there are only {len(train_descriptors)} "
                         f"train recordings")
    train, test = standardise(train_descriptors.astype(np.float64), test_descriptors.astype(np.float64))
    mixtures = {count: GaussianMixture(count, covariance_type="full", n_init=VOICE_MIXTURE_RESTARTS, reg_covar=1e-4,
                                       random_state=seed).fit(train) for count in counts}
    bics = {count: float(mixture.bic(train)) for count, mixture in mixtures.items()}
    best = mixtures[min(bics, key=bics.get)]
    return best.predict(train), best.predict(test), bics


def candidate_counts(voices: VoiceSettings) -> list[int]:
    """The voice counts to try: ``count`` (fixed) or every count in ``count_range`` (bic)."""
    selection = voices.count_selection
    if selection == "fixed":
        return [voices.count]
    if selection == "bic":
        low, high = voices.count_range
        return list(range(low, high + 1))
    raise ValueError(f"voices.count_selection: got {selection!r}, must be fixed or bic here (none clusters raw codes)")


def group_means(values: np.ndarray, groups: np.ndarray, count: int) -> np.ndarray:
    """Mean row of each group 0..count-1 (zeros for an empty group)."""
    means = np.zeros((count, values.shape[1]))
    for group in range(count):
        if (groups == group).any():
            means[group] = values[groups == group].mean(axis=0)
    return means


def centre_groups(train: np.ndarray, test: np.ndarray, train_groups: np.ndarray, test_groups: np.ndarray,
                  count: int) -> tuple[np.ndarray, np.ndarray]:
    """Subtract from every row its group's train mean."""
    means = group_means(train, train_groups, count)
    return train - means[train_groups], test - means[test_groups]


def centred_codes(train_codes: np.ndarray, test_codes: np.ndarray, train_voices: np.ndarray,
                  test_voices: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Standardised codes with each voice's train mean taken out: the space voice-aware concepts live in."""
    train, test = standardise(train_codes.astype(np.float64), test_codes.astype(np.float64))
    return centre_groups(train, test, train_voices, test_voices, count)


def matching(local_centres: np.ndarray, shared_centres: np.ndarray) -> np.ndarray:
    """One-to-one map local concept -> shared concept minimising the summed squared distances."""
    distances = ((local_centres[:, None, :] - shared_centres[None, :, :]) ** 2).sum(axis=-1)
    local, shared = linear_sum_assignment(distances)
    mapping = np.arange(len(local_centres))
    mapping[local] = shared
    return mapping


def align(codes: np.ndarray, shared: np.ndarray, voices: np.ndarray, local: dict[int, np.ndarray],
          k: int, iterations: int = ALIGNMENT_ITERATIONS) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """Relabel each voice's local concepts as shared ones; returns the labels and each voice's map.

    ``local`` holds, per voice, that voice's train recordings' local concepts (0..k-1). Voices
    without an entry keep their shared labels.
    """
    labels, mappings = shared.copy(), {}
    for _ in range(iterations):
        shared_centres = group_means(codes, labels, k)
        for voice, local_labels in local.items():
            mappings[voice] = matching(group_means(codes[voices == voice], local_labels, k), shared_centres)
            labels[voices == voice] = mappings[voice][local_labels]
    return labels, mappings


def voice_aware_concepts(*, train_codes: np.ndarray, test_codes: np.ndarray, train_descriptors: np.ndarray,
                         test_descriptors: np.ndarray, settings: AudioReferenceSettings, sample: int,
                         seed: int, fitting: Fitting = Fitting()) -> VoiceAwareConcepts:
    """``settings`` cluster the centred codes (k fixed); its ``voices``: count_selection, count,
    count_range, rounds, within_neighbors. The number of voices is chosen afresh in every round.
    ``fitting``: the clusterers' restarts (params.yaml ``cluster``)."""
    k, counts = settings.k, candidate_counts(settings.voices)
    train_residual, test_residual = train_descriptors, test_descriptors
    for round_number in range(1, settings.voices.rounds + 1):
        train_voices, test_voices, bics = discover_voices(train_residual, test_residual, counts, seed)
        count = min(bics, key=bics.get)
        centred_train, centred_test = centred_codes(train_codes, test_codes, train_voices, test_voices, count)
        shared = cluster_codes(train_codes=centred_train, test_codes=centred_test, settings=settings, sample=sample,
                               seed=seed, fitting=fitting)
        print(f"  voices, round {round_number}: {count}, with {np.bincount(train_voices, minlength=count).tolist()} "
              f"train recordings", flush=True)
        # The next round's voices: descriptors with each concept's mean (the word) taken out.
        train_residual, test_residual = centre_groups(train_descriptors, test_descriptors, shared.train_assignments,
                                                      shared.test_assignments, k)
    within_voice = settings.model_copy(update={"umap_neighbors": settings.voices.within_neighbors})
    train_local, test_local = {}, {}
    for voice in range(count):
        train_members, test_members = train_voices == voice, test_voices == voice
        if train_members.sum() < 3 * k:  # too few to split into k concepts on its own
            continue
        # A voice heard only in train still needs a test array to transform: lend it one row, then drop it.
        test_part = centred_test[test_members] if test_members.any() else centred_train[train_members][:1]
        within = cluster_codes(train_codes=centred_train[train_members], test_codes=test_part, settings=within_voice,
                               sample=sample, seed=seed, fitting=fitting)
        train_local[voice] = within.train_assignments
        test_local[voice] = within.test_assignments[:test_members.sum()]
    train_labels, mappings = align(centred_train, shared.train_assignments, train_voices, train_local, k)
    test_labels = shared.test_assignments.copy()
    for voice, mapping in mappings.items():
        test_labels[test_voices == voice] = mapping[test_local[voice]]
    return VoiceAwareConcepts(train_labels, test_labels, shared.test_assignments, train_voices, test_voices, count,
                              centred_test)
