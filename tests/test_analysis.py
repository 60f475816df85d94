"""Unit tests of the analysis: scoring, relations, zones, fusion, clustering, generation."""

import numpy as np
import pytest

from digit_concepts.concepts import adaptation, clustering
from digit_concepts.crossmodal import fusion, generation, relations, zones
from digit_concepts.evaluation import scoring


class TestHungarianAccuracy:
    def test_perfect(self):
        digits = np.array([0, 0, 1, 1, 2, 2])
        assert scoring.hungarian_accuracy(digits, digits) == 1.0

    def test_permuted_cluster_ids_are_matched(self):
        digits = np.array([0, 0, 1, 1, 2, 2])
        assert scoring.hungarian_accuracy(np.array([2, 2, 0, 0, 1, 1]), digits) == 1.0

    def test_one_mistake(self):
        digits = np.array([0, 0, 1, 1, 2, 2])
        assert scoring.hungarian_accuracy(np.array([1, 1, 0, 0, 2, 0]), digits) == pytest.approx(5 / 6)

    def test_degenerate_single_cluster(self):
        digits = np.array([0, 0, 1, 1, 2, 2, 2])
        assert scoring.hungarian_accuracy(np.zeros(7, dtype=int), digits) == pytest.approx(3 / 7)

    def test_over_clustering_is_one_to_one_but_purity_is_many_to_one(self):
        digits = np.array([0, 0, 1, 1])
        assignments = np.array([0, 1, 2, 3])
        assert scoring.hungarian_accuracy(assignments, digits) == 0.5
        assert scoring.purity(assignments, digits) == 1.0

    def test_purity_named_on_train(self):
        train_assignments, train_digits = np.array([0, 0, 1, 1, 2]), np.array([3, 3, 4, 4, 5])
        # cluster 0 -> 3, 1 -> 4, 2 -> 5; cluster 7 never seen in train counts as wrong
        assert scoring.purity(np.array([0, 1, 2, 7]), np.array([3, 4, 4, 3]), train_assignments, train_digits) == 0.5

    def test_mismatched_lengths(self):
        with pytest.raises(ValueError, match="equally long"):
            scoring.hungarian_accuracy(np.array([0, 1]), np.array([0]))


def test_coherence_on_a_toy():
    assert scoring.coherence(np.array([1, 2, 3, 3]), np.array([1, 2, 3, 4])) == 0.75
    with pytest.raises(ValueError, match="non-empty"):
        scoring.coherence(np.array([]), np.array([]))


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


def test_zones_on_hand_made_matrices():
    counts = np.array([[90, 5, 5, 0], [0, 45, 45, 0], [0, 0, 0, 100]])
    assert zones.convergence_pairs(counts, min_strength=0.6) == [(0, 0), (2, 3)]
    assert zones.convergence_pairs(counts, min_strength=0.5) == [(0, 0), (1, 1), (2, 3)]
    identity = np.arange(4)
    table = zones.concept_table(counts, identity, min_strength=0.6, min_share=0.2, max_entropy_bits=1.5)
    image = table[table["sense"] == "image"].set_index("concept")
    assert image.loc[0, "zone"] == "convergence"
    assert image.loc[1, "zone"] == "divergence"  # spread evenly over two audio concepts
    assert image.loc[1, "entropy_bits"] == pytest.approx(1.0)
    assert image.loc[2, "zone"] == "convergence"
    # Merging audio 1 and 2 (one digit, two speakers) turns image concept 1 into a convergence zone too.
    merged = zones.concept_table(counts, np.array([0, 1, 1, 2]), 0.6, 0.2, 1.5)
    assert merged.set_index(["sense", "concept"]).loc[("image", 1), "zone"] == "both"
    assert zones.zone_counts(merged) == {"n_convergence_zones": 3, "n_divergence_zones": 1}


def test_entropy_bits():
    np.testing.assert_allclose(zones.entropy_bits(np.array([[1.0, 0, 0, 0], [0.5, 0.5, 0, 0], [0.25] * 4])), [0, 1, 2])


def test_fusion_trusts_the_confident_sense():
    image = np.array([[0.5, 0.5], [0.9, 0.1]])
    audio = np.array([[0.05, 0.95], [0.5, 0.5]])
    fused, image_weight, audio_weight = fusion.fuse(image, audio)
    assert fused.tolist() == [1, 0]
    assert audio_weight[0] > image_weight[0] and image_weight[1] > audio_weight[1]
    np.testing.assert_allclose(image_weight + audio_weight, 1.0)


def test_temper_softens_sharpens_and_refuses_a_bad_temperature():
    log_posteriors = np.log(np.array([[0.7, 0.2, 0.1]]))
    np.testing.assert_allclose(fusion.temper(log_posteriors, 1.0), [[0.7, 0.2, 0.1]])
    np.testing.assert_allclose(fusion.temper(log_posteriors, 1e6), [[1 / 3] * 3], atol=1e-5)
    assert fusion.temper(log_posteriors, 0.5)[0, 0] > 0.7
    with pytest.raises(ValueError, match="temperature"):
        fusion.temper(log_posteriors, 0.0)


def test_calibration_recovers_how_overconfident_each_sense_is_without_labels():
    # Each sense sees its episode's concept as a unit-variance Gaussian around margin * one-hot;
    # its calibrated log-posteriors are then margin * evidence. Both are handed over 10x too sure.
    rng = np.random.default_rng(0)
    concepts = rng.integers(0, 4, 4000)  # the shared concept of each episode, never shown to calibrate
    image_evidence = 3.0 * np.eye(4)[concepts] + rng.standard_normal((4000, 4))
    audio_evidence = 2.0 * np.eye(4)[concepts] + rng.standard_normal((4000, 4))
    image, audio = 10.0 * 3.0 * image_evidence, 10.0 * 2.0 * audio_evidence
    image_temperature, audio_temperature, agreement = fusion.calibrate(image, audio, np.eye(4))
    assert image_temperature == pytest.approx(10.0, rel=0.1) and audio_temperature == pytest.approx(10.0, rel=0.1)
    assert agreement > fusion.partner_agreement(image, audio, np.eye(4), 1.0, 1.0)


def test_calibration_finds_the_best_temperatures_anywhere_and_counts_each_episode():
    # Random, bumpy agreement surface; 30 recordings each in many episodes (tempered once, counted per episode).
    rng = np.random.default_rng(1)
    recordings = 20.0 * rng.standard_normal((30, 5))
    audio = recordings[rng.integers(0, 30, 600)]
    image = 5.0 * rng.standard_normal((600, 3))
    image_given_audio = rng.dirichlet(np.ones(3), size=5).T  # [image concept, audio cluster]
    image_temperature, audio_temperature, agreement = fusion.calibrate(image, audio, image_given_audio)
    assert agreement == pytest.approx(fusion.partner_agreement(image, audio, image_given_audio, image_temperature,
                                                              audio_temperature))
    everywhere = max(fusion.partner_agreement(image, audio, image_given_audio, np.exp(log_image), np.exp(log_audio))
                     for log_image in np.linspace(-2.0, 5.0, 57) for log_audio in np.linspace(-2.0, 5.0, 57))
    assert agreement >= everywhere - 1e-6


def test_calibration_is_not_stopped_by_a_plateau_near_temperature_one():
    # Recordings named with near-certainty, 30% of them wrongly: around T = 1 the tempered audio
    # posteriors stay one-hot, so a search started there sees no slope (Nelder-Mead from (1, 1)
    # stops at an audio temperature of 0.5, agreement -0.865); softening them by ~20 agrees far better.
    rng = np.random.default_rng(0)
    concepts = rng.integers(0, 4, 4000)
    image = 3.0 * (3.0 * np.eye(4)[concepts] + rng.standard_normal((4000, 4)))
    heard = np.where(rng.random(4000) < 0.3, rng.integers(0, 4, 4000), concepts)
    audio = 50.0 * np.eye(4)[heard] + rng.standard_normal((4000, 4))
    _, audio_temperature, agreement = fusion.calibrate(image, audio, np.eye(4))
    assert audio_temperature > 5.0 and agreement > -0.82


def test_clustering_finds_separated_blobs_and_posteriors_sum_to_one():
    rng = np.random.default_rng(0)
    centres = np.array([[0, 0], [10, 0], [0, 10]])
    train = np.concatenate([centre + rng.standard_normal((50, 2)) for centre in centres])
    truth = np.repeat(np.arange(3), 50)
    for algorithm in ("kmeans", "gmm", "agglomerative"):
        fitted = clustering.fit(train, algorithm, 3, seed=0)
        posteriors = fitted.posteriors(train)
        np.testing.assert_allclose(posteriors.sum(axis=1), 1.0, rtol=1e-6)
        assert scoring.hungarian_accuracy(fitted.assign(train), truth) == 1.0, algorithm


def test_discovery_picks_the_true_number_of_clusters():
    rng = np.random.default_rng(1)
    centres = np.array([[0, 0], [12, 0], [0, 12], [12, 12]])
    train = np.concatenate([centre + rng.standard_normal((60, 2)) for centre in centres])
    for criterion in ("bic", "silhouette"):
        fitted, trials = clustering.discover(train, "gmm", 2, criterion, [2, 7], 500, seed=0)
        assert fitted.centres.shape[0] == 4, (criterion, trials)
        assert [k for k, _ in trials] == list(range(2, 8))


def test_candidates_fitted_side_by_side_give_what_one_after_another_gives(monkeypatch):
    rng = np.random.default_rng(3)
    centres = np.array([[0, 0], [6, 0], [0, 6], [6, 6], [3, 9]])
    train = np.concatenate([centre + rng.standard_normal((80, 2)) for centre in centres])
    side_by_side = clustering.discover(train, "gmm", 2, "bic", [2, 8], 400, seed=0)
    monkeypatch.setattr(clustering, "TRIAL_THREADS", 1)
    one_by_one = clustering.discover(train, "gmm", 2, "bic", [2, 8], 400, seed=0)
    assert side_by_side[1] == one_by_one[1]
    np.testing.assert_array_equal(side_by_side[0].centres, one_by_one[0].centres)


def test_cooccurrence_keeps_the_restart_that_fits_the_partner_best():
    """Four equal blobs at a square's corners: two clusters can split them left/right or top/bottom
    with the same likelihood. The partner sense splits left/right; only that restart is kept."""
    rng = np.random.default_rng(0)
    corners = np.array([[0, 0], [10, 0], [0, 10], [10, 10]])
    train = np.concatenate([corner + rng.standard_normal((50, 2)) for corner in corners])
    partner = (train[:, 0] > 5).astype(int)

    def partner_score(assignments):
        return relations.concept_consistency(assignments, partner, 0.25)

    fitting = clustering.Fitting(gmm_restarts=8, gmm_restart_choice="cooccurrence")
    options = clustering.fit_options(train, "gmm", 2, 0, fitting, "cooccurrence")
    scores = [partner_score(option.assign(train)) for option in options]
    assert len(options) == 8 and min(scores) < max(scores)  # the restarts differ
    fitted, trials = clustering.discover(train, "gmm", 2, "cooccurrence", [2, 2], 100, 0, partner_score, fitting)
    assert trials == [(2, max(scores))]
    assert scoring.hungarian_accuracy(fitted.assign(train), partner) == 1.0
    by_likelihood = clustering.fit_options(train, "gmm", 2, 0, clustering.Fitting(gmm_restarts=8), "cooccurrence")
    assert len(by_likelihood) == 1
    assert clustering.restart_seeds(7, 3) == clustering.restart_seeds(7, 5)[:3]


def test_bad_cluster_requests_are_clear_errors():
    with pytest.raises(ValueError, match="cannot make 5 clusters from 3 samples"):
        clustering.fit(np.zeros((3, 2)), "kmeans", 5, seed=0)
    with pytest.raises(ValueError, match="must be kmeans, gmm or agglomerative"):
        clustering.fit(np.zeros((30, 2)), "spectral", 2, seed=0)
    with pytest.raises(ValueError, match="needs algorithm gmm"):
        clustering.discover(np.random.default_rng(0).standard_normal((40, 2)), "kmeans", 2, "bic", [2, 3], 40, 0)


def test_concept_samples_stay_near_their_concept():
    means = np.array([[0.0, 0.0], [100.0, 100.0]])
    covariances = np.stack([np.eye(2), np.eye(2)])
    draws = generation.sample_concepts(means, covariances, np.array([1, 0]), 50, 0.5, np.random.default_rng(0))
    assert draws.shape == (2, 50, 2)
    assert np.abs(draws[0].mean(axis=0) - 100).max() < 0.5 and np.abs(draws[1].mean(axis=0)).max() < 0.5


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


def test_cooccurrence_k_selection_uses_the_partner_score():
    rng = np.random.default_rng(2)
    centres = np.array([[0, 0], [12, 0], [0, 12], [12, 12]])
    train = np.concatenate([centre + rng.standard_normal((60, 2)) for centre in centres])
    fitted, trials = clustering.discover(train, "kmeans", 2, "cooccurrence", [2, 5], 100, seed=0,
                                         partner_score=lambda assignments: -abs(len(np.unique(assignments)) - 3))
    assert fitted.centres.shape[0] == 3
    with pytest.raises(ValueError, match="image only"):
        clustering.discover(train, "kmeans", 2, "cooccurrence", [2, 3], 100, seed=0)


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


def test_neighbourhoods_put_each_sample_first_and_weigh_only_members_nearer_than_train():
    features = np.array([[0.0], [1.0], [3.0]])
    indices, weights = adaptation.batch_neighbourhoods(features, 2, np.array([[-0.5], [2.5]]))
    np.testing.assert_array_equal(indices[:, 0], [0, 1, 2])
    # Samples 0 and 2 are 0.5 from a train sample, nearer than any fellow: they borrow nothing.
    # Sample 1 is 1.5 from train, 1.0 from sample 0 (borrowed) and 2.0 from sample 2 (not).
    np.testing.assert_array_equal(weights, [[1, 0, 0], [1, 1, 0], [1, 0, 0]])
    duplicates = np.zeros((3, 2))
    assert (adaptation.batch_neighbourhoods(duplicates, 2, np.ones((1, 2)))[0][:, 0] == [0, 1, 2]).all()


@pytest.mark.parametrize("batch_size, expected", [(0, 0), (1, 0), (10, 0), (19, 0), (20, 1), (40, 3), (300, 20),
                                                 (500, 20)])
def test_a_batch_borrows_no_more_than_it_holds_of_one_concept(batch_size, expected):
    assert adaptation.batch_neighbours_for(batch_size, 10, 20) == expected
    assert adaptation.batch_neighbours_for(40, 10, 20, share=0.5) == 1 and adaptation.batch_neighbours_for(40, 10, 2) == 2
    with pytest.raises(ValueError, match="concepts >= 1"):
        adaptation.batch_neighbours_for(40, 0, 20)


def test_evidence_through_carries_posteriors_to_the_other_sense():
    log_posteriors = np.log([[0.5, 0.5, 0.0], [0.0, 0.0, 1.0]] + np.finfo(float).tiny)
    conditional = np.array([[1.0, 0.0], [0.0, 1.0], [0.25, 0.75]])  # P(image | audio cluster)
    np.testing.assert_allclose(np.exp(relations.evidence_through(log_posteriors, conditional)),
                               [[0.5, 0.5], [0.25, 0.75]], atol=1e-12)


def test_transformed_digits_are_named_as_the_clean_ones_are():
    clean_clusters, digits = np.array([2, 2, 0, 0, 1, 1]), np.array([7, 7, 3, 3, 5, 5])
    # The transformed samples land in clusters 2, 0, 0, 0, 1, 2: named 7, 3, 3, 3, 5, 7.
    accuracy = scoring.accuracy_under_mapping_of(clean_clusters, digits, np.array([2, 0, 0, 0, 1, 2]), digits)
    assert accuracy == pytest.approx(4 / 6)
    # A cluster the clean samples never used names nothing.
    assert scoring.accuracy_under_mapping_of(clean_clusters, digits, np.array([9] * 6), digits) == 0.0


def test_batch_neighbour_means_average_each_row_with_the_members_it_may_borrow_from():
    features = np.array([[0.0], [0.1], [5.0], [5.1]])
    far_train = np.array([[100.0]])
    values = np.array([[1.0, 0.0], [3.0, 0.0], [0.0, 2.0], [0.0, 4.0]], dtype=np.float32)
    np.testing.assert_allclose(generation.batch_neighbour_means(values, features, 1, far_train),
                               [[2.0, 0.0], [2.0, 0.0], [0.0, 3.0], [0.0, 3.0]])
    assert generation.batch_neighbour_means(values, features, 0, far_train) is values
    np.testing.assert_allclose(generation.batch_neighbour_means(values, features, 3, features), values)  # all heard
    with pytest.raises(ValueError, match="one feature row per value"):
        generation.batch_neighbour_means(values, features[:2], 1, far_train)


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


class _Identity:  # a decoder that shows the code itself
    def predict(self, codes, batch_size=None, verbose=0):
        return np.asarray(codes)


def test_images_imagined_from_concepts_are_draws_from_the_named_concept():
    means = np.array([[0.0, 0.0], [10.0, 10.0]])
    covariances = np.stack([np.eye(2)] * 2)
    concepts = np.array([1, 0, 1])
    exact = generation.imagine_from_concepts(_Identity(), means, covariances, concepts, 0.0, np.random.default_rng(0))
    np.testing.assert_allclose(exact, means[concepts])  # temperature 0: the concept's mean
    varied = generation.imagine_from_concepts(_Identity(), means, covariances, concepts, 0.5, np.random.default_rng(0))
    assert varied.shape == (3, 2) and not np.allclose(varied, means[concepts])
    assert (np.linalg.norm(varied - means[concepts], axis=1) < 3.0).all()  # near its own concept, far from the other
    again = generation.imagine_from_concepts(_Identity(), means, covariances, concepts, 0.5, np.random.default_rng(0))
    np.testing.assert_array_equal(varied, again)


class _Shift:  # a brain map that moves every code by +1
    def predict(self, codes, batch_size=None, verbose=0):
        return np.asarray(codes) + 1.0


def test_images_from_recordings_follow_the_route_asked_for():
    gaussians = {"image_means": np.array([[0.0, 0.0], [10.0, 10.0]]), "image_covariances": np.stack([np.eye(2)] * 2)}
    codes, named = np.array([[3.0, 3.0], [5.0, 5.0]]), np.array([1, 0])
    far_train = np.array([[100.0, 100.0]])

    def images(route, neighbours=0):
        return generation.images_from_recordings(route, _Identity(), _Shift(), gaussians, codes, named, codes, far_train,
                                                 neighbours, 0.0, np.random.default_rng(0))

    np.testing.assert_allclose(images("brain"), codes + 1.0)  # the translation of each code
    np.testing.assert_allclose(images("brain", 1), [[5.0, 5.0], [5.0, 5.0]])  # pooled with its batch neighbour
    np.testing.assert_allclose(images("concept"), gaussians["image_means"][named])  # the named concept
    with pytest.raises(ValueError, match="imagine_images_from must be brain or concept"):
        images("dream")


def test_divergence_beyond_chance_ignores_pairing_noise():
    # 10 image concepts, 10 audio concepts, 200 episodes each; concept 3 truly spreads over audio 3 and 8.
    rng = np.random.default_rng(0)
    clean = np.diag(np.full(10, 200))
    clean[3, 3], clean[3, 8] = 100, 100
    assert zones.partners_beyond_chance(clean, alpha=0.01).tolist() == [1, 1, 1, 2, 1, 1, 1, 1, 1, 1]
    for noise in (0.3, 0.7):  # each episode's recording replaced by a random one with this probability
        kept = rng.binomial(clean, 1 - noise)
        noisy = kept + np.array([rng.multinomial(moved, np.full(10, 0.1)) for moved in (clean - kept).sum(axis=1)])
        table = zones.concept_table(noisy, np.arange(10), 0.5, 0.1, 1.5, divergence_alpha=0.01)
        counts = zones.zone_counts(table)
        assert counts["n_divergence_zones_beyond_chance"] == 2, noise  # image 3 (audio 3, 8), audio 8 (image 3, 8)
        assert counts["n_divergence_zones"] > 1  # the entropy reading counts the noise
    with pytest.raises(ValueError, match="divergence_alpha"):
        zones.partners_beyond_chance(clean, alpha=0.0)
