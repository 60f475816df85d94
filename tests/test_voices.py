"""voices: label-free voice discovery, per-voice centring and cross-voice alignment of concepts."""

import numpy as np
import pytest

from digit_concepts.core.params import AudioReferenceSettings, VoiceSettings
from digit_concepts.evaluation import scoring
from digit_concepts.concepts import voices

VOICES = VoiceSettings(count_selection="bic", count=1, count_range=[2, 6], rounds=2, within_neighbors=15)
GMM_ON_PCA = AudioReferenceSettings(algorithm="gmm", k=4, k_selection="fixed", k_range=[2, 6], reduction="pca",
                                    reduced_dim=6, umap_neighbors=15, voices=VOICES)


def test_group_means_and_centring_use_train_means_only():
    train = np.array([[1.0, 2.0], [3.0, 4.0], [10.0, 0.0]])
    groups = np.array([0, 0, 2])
    means = voices.group_means(train, groups, 3)
    assert np.allclose(means, [[2.0, 3.0], [0.0, 0.0], [10.0, 0.0]])  # group 1 is empty: zeros
    centred_train, centred_test = voices.centre_groups(train, np.array([[5.0, 5.0]]), groups, np.array([2]), 3)
    assert np.allclose(centred_train, [[-1.0, -1.0], [1.0, 1.0], [0.0, 0.0]])
    assert np.allclose(centred_test, [[-5.0, 5.0]])


def test_matching_undoes_a_permutation_of_concept_centres():
    rng = np.random.default_rng(0)
    shared = rng.normal(size=(5, 3)) * 10
    permutation = np.array([3, 0, 4, 1, 2])  # local concept i is shared concept permutation[i]
    local = shared[permutation] + rng.normal(scale=0.1, size=(5, 3))
    assert voices.matching(local, shared).tolist() == permutation.tolist()


def test_discover_voices_separates_two_voices_and_bic_counts_them():
    rng = np.random.default_rng(1)
    descriptors = np.concatenate([rng.normal(0.0, 1.0, (40, 4)), rng.normal(8.0, 1.0, (40, 4))])
    train_voices, test_voices, bics = voices.discover_voices(descriptors, descriptors[[0, 79]], [1, 2, 3, 4], seed=0)
    assert min(bics, key=bics.get) == 2 and sorted(bics) == [1, 2, 3, 4]
    assert scoring.adjusted_rand(np.repeat([0, 1], 40), train_voices) == 1.0
    assert test_voices[0] != test_voices[1]
    with pytest.raises(ValueError, match="81 voices asked for, but there are only 80 train recordings"):
        voices.discover_voices(descriptors, descriptors, [81], seed=0)


def test_candidate_counts():
    assert voices.candidate_counts(VOICES.model_copy(update={"count_selection": "fixed", "count": 6})) == [6]
    assert voices.candidate_counts(VOICES.model_copy(update={"count_range": [2, 4]})) == [2, 3, 4]
    with pytest.raises(ValueError, match="voices.count_selection: got 'none'"):
        voices.candidate_counts(VOICES.model_copy(update={"count_selection": "none"}))


def speakers_saying_digits(rng: np.random.Generator, per_pair: dict[str, int]):
    """Per split: codes = digit pattern + a large speaker offset + noise; descriptors = speaker
    signature plus a little of the digit, as real voice descriptors carry some of the word."""
    digit_patterns, speaker_offsets = rng.normal(size=(4, 8)) * 2.0, rng.normal(size=(3, 8)) * 6.0
    signatures, word_leak = rng.normal(size=(3, 5)) * 3.0, rng.normal(size=(4, 5))
    splits = {}
    for split, count in per_pair.items():
        speakers, digits = np.repeat(np.arange(3), 4 * count), np.tile(np.repeat(np.arange(4), count), 3)
        codes = digit_patterns[digits] + speaker_offsets[speakers] + rng.normal(scale=0.5, size=(len(digits), 8))
        descriptors = signatures[speakers] + word_leak[digits] + rng.normal(scale=0.5, size=(len(digits), 5))
        splits[split] = (codes, descriptors, digits, speakers)
    return splits


def test_voice_aware_concepts_find_digits_that_speakers_hide():
    from digit_concepts.concepts.clustering import cluster_codes

    splits = speakers_saying_digits(np.random.default_rng(2), {"train": 20, "test": 5})
    (codes, descriptors, digits, _), (test_codes, test_descriptors, test_digits, test_speakers) = splits.values()
    plain = cluster_codes(train_codes=codes, test_codes=test_codes, settings=GMM_ON_PCA, sample=100, seed=0)
    assert scoring.hungarian_accuracy(plain.test_assignments, test_digits) < 0.8  # speakers dominate
    found = voices.voice_aware_concepts(train_codes=codes, test_codes=test_codes, train_descriptors=descriptors,
                                        test_descriptors=test_descriptors, settings=GMM_ON_PCA, sample=100, seed=0)
    assert found.voice_count == 3  # found by BIC among 2..6
    assert scoring.adjusted_rand(test_speakers, found.test_voices) == 1.0
    assert scoring.hungarian_accuracy(found.train_assignments, digits) >= 0.95
    assert scoring.hungarian_accuracy(found.test_assignments, test_digits) >= 0.95


def test_align_relabels_a_voice_whose_concepts_are_permuted():
    rng = np.random.default_rng(3)
    centres = rng.normal(size=(3, 2)) * 10
    labels = np.tile(np.arange(3), 4)
    voice_of = np.repeat([0, 1], 6)
    codes = centres[labels] + rng.normal(scale=0.1, size=(12, 2))
    shared = labels.copy()
    shared[[6, 7]] = shared[[7, 6]]  # the shared clustering got two of voice 1's recordings wrong
    local = {1: (labels[voice_of == 1] + 1) % 3}  # voice 1 clustered on its own, under other names
    aligned, mappings = voices.align(codes, shared, voice_of, local, 3)
    assert aligned.tolist() == labels.tolist()
    assert mappings[1].tolist() == [2, 0, 1]
