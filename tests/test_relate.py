"""The relate stage's work (pipeline/relate.py) on tiny synthetic concepts and codes."""

import numpy as np

from digit_concepts.core.sense import SplitArrays
from digit_concepts.evaluation.scoring import Labels
from digit_concepts.pipeline import relate

# Three image concepts and four audio clusters; six train and six test episodes pair them.
ASSIGNMENTS = SplitArrays({
    "image_train": np.array([0, 1, 2, 0, 1, 2]), "audio_train": np.array([3, 1, 2, 3, 1, 0]),
    "image_test": np.array([0, 1, 2, 2]), "audio_test": np.array([3, 1, 0, 2]),
    "image_test_log_posteriors": np.zeros((4, 3), np.float32),
    "audio_test_log_posteriors": np.zeros((4, 4), np.float32)})
STREAMS = SplitArrays({"train_image_index": np.arange(6), "train_audio_index": np.arange(6),
                       "test_image_index": np.array([0, 1, 2, 3]), "test_audio_index": np.array([0, 1, 2, 3])})


def test_episodes_pair_each_sense_s_concepts_through_the_stream():
    reversed_recordings = SplitArrays({**STREAMS.arrays, "test_audio_index": np.array([3, 2, 1, 0])})
    episodes = relate.episode_concepts(ASSIGNMENTS, reversed_recordings, "test")
    np.testing.assert_array_equal(episodes.image, [0, 1, 2, 2])
    np.testing.assert_array_equal(episodes.audio, [2, 0, 1, 3])
    assert list(episodes.table().columns) == ["image_concept", "audio_concept"]


def test_cooccurrence_counts_every_concept_of_both_senses():
    counts = relate.cooccurrence(relate.episode_concepts(ASSIGNMENTS, STREAMS, "train"), ASSIGNMENTS)
    assert counts.shape == (3, 4) and counts.sum() == 6
    assert counts[0, 3] == 2 and counts[2, 2] == 1 and counts[2, 0] == 1


def test_agreements_lead_the_naming_scores():
    counts = relate.cooccurrence(relate.episode_concepts(ASSIGNMENTS, STREAMS, "train"), ASSIGNMENTS)
    agreements = relate.agreements(relate.episode_concepts(ASSIGNMENTS, STREAMS, "test"), counts)
    # image 0 -> audio 3, 1 -> 1 and 2 -> 0 (the first of two equal partners): right on the first three episodes
    assert agreements["agreement_image_to_audio"] == 0.75
    assert list(agreements) == ["agreement_image_to_audio", "agreement_audio_to_image"]


def test_the_brain_module_learns_from_train_codes_paired_by_the_episodes():
    codes = SplitArrays({"image_train": np.arange(6.0)[:, None], "audio_train": np.arange(6.0)[:, None] * 10})
    streams = SplitArrays({"train_image_index": np.array([0, 2]), "train_audio_index": np.array([5, 1])})
    pairs = relate.brain_pairs(codes, streams)
    assert list(pairs) == ["image_to_audio", "audio_to_image"]
    source, target = pairs["image_to_audio"]
    np.testing.assert_array_equal(source[:, 0], [0, 2])
    np.testing.assert_array_equal(target[:, 0], [50, 10])
    np.testing.assert_array_equal(pairs["audio_to_image"][0], target)


def test_tables_and_summary():
    counts = np.array([[3, 0], [1, 2]])
    tables = relate.tables(counts, min_share=0.5)
    assert len(tables.one_to_one) == 2 and set(tables.one_to_many["sense"]) == {"image", "audio"}
    assert relate.summary({"acc": 0.5, "n": 3, "acc_interval": {"low": 0.1}}) == "acc 0.500"


def test_recordings_are_named_alone_and_with_their_batch():
    rng = np.random.default_rng(0)
    counts = np.array([[4, 0], [0, 4]])
    log_posteriors = np.log(np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3]], np.float32))
    assignments = SplitArrays({"audio_test_log_posteriors": log_posteriors,
                               "audio_validation_log_posteriors": log_posteriors,
                               "image_test": np.array([0, 1]), "image_validation": np.array([1, 0])})
    codes = SplitArrays({"audio_train": rng.normal(size=(4, 2)), "audio_test": rng.normal(size=(3, 2)),
                         "audio_validation": rng.normal(size=(3, 2))})
    labels = Labels({"audio": {"test": np.array([0, 1, 0]), "validation": np.array([0, 1, 0])},
                     "image": {"test": np.array([0, 1]), "validation": np.array([1, 0])}}, {})
    test_episodes = relate.EpisodeConcepts(np.array([0, 1]), np.array([0, 1]))
    naming = relate.naming(assignments=assignments, codes=codes, counts=counts, test_episodes=test_episodes,
                           labels=labels, most=5, bootstrap=None)
    np.testing.assert_array_equal(naming.named_alone["test"], [0, 1, 0])
    assert naming.scores["audio_acc_through_images_each_alone"] == 1.0
    assert list(naming.scores)[:2] == ["agreement_image_to_audio", "agreement_audio_to_image"]
    assert {"validation_audio_acc_through_images", "image_acc_through_audio"} <= set(naming.scores)
