"""relations: co-occurrence counts, conditionals, the one-to-one and one-to-many tables, naming one
sense through the other."""

import numpy as np
import pytest

from digit_concepts.crossmodal import relations

# Hand-made episodes: image concept 0 co-occurs with audio 0 only; image concept 1 is
# spread over audio 1 and 2 (two speakers' "one"): a one-to-many case.
IMAGE = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 1])


AUDIO = np.array([0, 0, 0, 0, 1, 1, 1, 2, 2, 2])


def test_cooccurrence_counts():
    counts = relations.cooccurrence(IMAGE, AUDIO, 2, 3)
    assert counts.tolist() == [[4, 0, 0], [0, 3, 3]]


def test_conditionals():
    counts = relations.cooccurrence(IMAGE, AUDIO, 2, 3)
    np.testing.assert_allclose(relations.audio_given_image(counts), [[1, 0, 0], [0, 0.5, 0.5]])
    np.testing.assert_allclose(relations.image_given_audio(counts), [[1, 0, 0], [0, 1, 1]])


def test_one_to_one_table_keeps_mutual_best_partners():
    table = relations.one_to_one(relations.cooccurrence(IMAGE, AUDIO, 2, 3))
    assert table[["image_concept", "audio_concept"]].values.tolist() == [[0, 0], [1, 1]]
    assert table["p_audio_given_image"].tolist() == [1.0, 0.5]
    assert table["p_image_given_audio"].tolist() == [1.0, 1.0]


def test_one_to_many_table_lists_every_partner_above_the_share():
    table = relations.one_to_many(relations.cooccurrence(IMAGE, AUDIO, 2, 3), min_share=0.3)
    image_one = table[(table["sense"] == "image") & (table["concept"] == 1)]
    assert sorted(image_one["partner"]) == [1, 2]
    assert image_one["share"].tolist() == [0.5, 0.5]
    assert relations.one_to_many(relations.cooccurrence(IMAGE, AUDIO, 2, 3), min_share=0.6).query(
        "sense == 'image' and concept == 1").empty


def test_agreement_and_naming_through_the_other_sense():
    counts = relations.cooccurrence(IMAGE, AUDIO, 2, 3)
    assert relations.agreement(np.array([0, 1]), np.array([0, 1]), relations.audio_given_image(counts)) == 1.0
    named = relations.name_through(np.array([0, 1, 2]), relations.image_given_audio(counts).T)
    assert named.tolist() == [0, 1, 1]
    assert relations.merge_by_partner(counts).tolist() == [0, 1, 1]


def test_concept_consistency_peaks_where_the_senses_share_their_concepts():
    rng = np.random.default_rng(0)
    digits = rng.integers(0, 4, size=4000)
    speakers = rng.integers(0, 3, size=4000)
    audio = digits * 3 + speakers  # over-clustered partner: 12 speaker x digit clusters
    right = relations.concept_consistency(digits, audio, 1.0)
    lumped = relations.concept_consistency(np.minimum(digits, 2), audio, 1.0)  # two digits in one concept
    split = relations.concept_consistency(np.where((digits == 0) & (rng.random(4000) < 0.5), 4, digits), audio, 1.0)
    assert lumped < right and split < right
    assert right == pytest.approx(relations.concept_consistency(digits, digits * 3 + speakers, 1.0), rel=1e-12)


def test_concept_consistency_keeps_the_true_concepts_when_half_the_pairs_are_noise():
    rng = np.random.default_rng(0)
    digits = rng.integers(0, 4, size=20000)
    partner = np.where(rng.random(20000) < 0.5, rng.integers(0, 4, size=20000), digits)  # 50% random partners
    lumped, split = np.minimum(digits, 2), np.where((digits == 0) & (rng.random(20000) < 0.5), 4, digits)
    scores = {name: relations.concept_consistency(own, partner, 0.25) for name, own in
              (("right", digits), ("lumped", lumped), ("split", split))}
    assert scores["right"] > scores["lumped"] and scores["right"] > scores["split"]
    # With the whole conditional entropy as penalty, noise would make lumping win.
    assert relations.concept_consistency(lumped, partner, 1.0) > relations.concept_consistency(digits, partner, 1.0)


def test_batch_neighbours_let_a_new_voice_borrow_evidence_from_recordings_it_sounds_like():
    # A new voice: two digits, each a tight group of 6 recordings, all far from the train recordings.
    # One recording per group carries misleading evidence of its own, which its neighbours outvote.
    rng = np.random.default_rng(0)
    features = np.concatenate([rng.normal(0.0, 0.1, (6, 2)), rng.normal(5.0, 0.1, (6, 2))])
    far_train = np.array([[50.0, 50.0], [-50.0, 50.0]])
    evidence = np.log(np.tile([[0.8, 0.2]], (12, 1)))
    evidence[6:] = np.log([0.2, 0.8])
    evidence[0], evidence[6] = np.log([0.1, 0.9]), np.log([0.9, 0.1])
    alone = relations.name_with_batch_neighbours(evidence, features, 0, far_train)
    assert alone[0] == 1 and alone[6] == 0  # each alone, the two are wrong
    together = relations.name_with_batch_neighbours(evidence, features, 5, far_train)
    np.testing.assert_array_equal(together, [0] * 6 + [1] * 6)
    # A voice heard in training: a train recording right beside each one, so nothing is borrowed.
    near_train = features + 1e-3
    np.testing.assert_array_equal(relations.name_with_batch_neighbours(evidence, features, 5, near_train), alone)
    # More neighbours than the batch holds: the whole batch, no error.
    assert relations.name_with_batch_neighbours(evidence[:3], features[:3], 50, far_train).shape == (3,)
    with pytest.raises(ValueError, match="batch_neighbours must be >= 0"):
        relations.name_with_batch_neighbours(evidence, features, -1, far_train)
    with pytest.raises(ValueError, match="one feature row per sample"):
        relations.name_with_batch_neighbours(evidence, features[:5], 2, far_train)


def test_evidence_through_carries_posteriors_to_the_other_sense():
    log_posteriors = np.log([[0.5, 0.5, 0.0], [0.0, 0.0, 1.0]] + np.finfo(float).tiny)
    conditional = np.array([[1.0, 0.0], [0.0, 1.0], [0.25, 0.75]])  # P(image | audio cluster)
    np.testing.assert_allclose(np.exp(relations.evidence_through(log_posteriors, conditional)),
                               [[0.5, 0.5], [0.25, 0.75]], atol=1e-12)


def test_one_overconfident_neighbour_cannot_veto_what_the_others_agree_on():
    features = np.arange(6, dtype=float)[:, None] * 0.01
    evidence = np.log(np.array([[0.6, 0.4]] + [[0.9, 0.1]] * 4 + [[1e-300, 1.0]]))
    named = relations.name_with_batch_neighbours(evidence, features, 5, np.array([[100.0]]))
    assert named[0] == 0  # summed as logs, the last neighbour's 1e-300 would have named it 1


def test_recordings_named_through_images_pool_the_carried_evidence():
    # Two audio clusters, each seen with one image concept; the counts carry them over.
    counts = np.array([[9.0, 1.0], [1.0, 9.0]])
    log_posteriors = np.log(np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]]))
    features, far_train = np.array([[0.0], [0.1], [0.2]]), np.array([[100.0]])
    alone = relations.name_recordings_through_images(log_posteriors, counts, features, 0, far_train)
    np.testing.assert_array_equal(alone, [0, 1, 0])
    evidence = relations.evidence_through(log_posteriors, relations.image_given_audio(counts).T)
    np.testing.assert_array_equal(relations.name_recordings_through_images(log_posteriors, counts, features, 2, far_train),
                                  relations.name_with_batch_neighbours(evidence, features, 2, far_train))


def test_recordings_named_by_the_audio_classifier_use_its_evidence_instead():
    counts = np.array([[9.0, 1.0], [1.0, 9.0]])
    cluster_log_posteriors = np.log(np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]]))
    taught = np.log(np.array([[0.3, 0.7], [0.6, 0.4], [0.1, 0.9]]))  # over image concepts
    features, far_train = np.array([[0.0], [0.1], [0.2]]), np.array([[100.0]])
    alone = relations.name_recordings_through_images(cluster_log_posteriors, counts, features, 0, far_train, taught)
    np.testing.assert_array_equal(alone, [1, 0, 1])
    np.testing.assert_array_equal(
        relations.name_recordings_through_images(cluster_log_posteriors, counts, features, 2, far_train, taught),
        relations.name_with_batch_neighbours(taught, features, 2, far_train))
    with pytest.raises(ValueError, match="3 image concepts, the co-occurrence 2"):
        relations.name_recordings_through_images(cluster_log_posteriors, counts, features, 0, far_train,
                                                 np.log(np.full((3, 3), 1 / 3)))
