"""The cluster stage's work (pipeline/cluster.py) on tiny synthetic codes: each sense's concepts,
the audio-alone reference and the joint concepts, each made by a function of its own."""

import numpy as np
import pytest

from conftest import REPO
from digit_concepts.concepts import clustering
from digit_concepts.core import params
from digit_concepts.core.sense import AUDIO, IMAGE, SplitArrays
from digit_concepts.evaluation.scoring import Labels
from digit_concepts.pipeline import cluster

SPACE = params.SelfScoredClusteringSettings(algorithm="kmeans", k=3, k_selection="fixed", k_range=[2, 4],
                                            reduction="none", reduced_dim=2, umap_neighbors=5)
NO_VOICES = params.VoiceSettings(count_selection="none", count=1, count_range=[2, 6], rounds=2, within_neighbors=15)
SETTINGS = params.load(REPO / "params.yaml").cluster.model_copy(update=dict(
    silhouette_sample=100, gmm_restarts=1, gmm_restart_choice="likelihood", kmeans_restarts=2, image=SPACE,
    audio=SPACE, joint=SPACE, audio_reference=params.AudioReferenceSettings(**SPACE.model_dump(), voices=NO_VOICES)))
COUNTS = {"train": 30, "validation": 9, "test": 12}


def blobs(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Codes of three digits far apart, and the digits."""
    rng = np.random.default_rng(seed)
    digits = np.arange(count) % 3
    return (digits[:, None] * 10.0 + rng.normal(size=(count, 4))).astype(np.float32), digits


def project() -> tuple[SplitArrays, SplitArrays, Labels]:
    codes, digits, streams = {}, {"image": {}, "audio": {}}, {}
    for split, count in COUNTS.items():
        for offset, sense in enumerate((IMAGE, AUDIO)):
            codes[sense.key(split)], digits[sense.name][split] = blobs(count, offset * 10 + len(split))
        streams[IMAGE.episode_index_key(split)] = streams[AUDIO.episode_index_key(split)] = np.arange(count)
    return SplitArrays(codes), SplitArrays(streams), Labels(digits, {"test": np.zeros(COUNTS["test"])})


def test_find_composes_every_result_in_the_files_order():
    codes, streams, labels = project()
    found = cluster.find(codes, streams, SETTINGS, labels, seed=0)
    assert list(found.assignments) == [
        "audio_train", "audio_test", "audio_validation", "audio_validation_log_posteriors", "audio_test_log_posteriors",
        "image_train", "image_test", "image_validation", "image_validation_log_posteriors", "image_test_log_posteriors",
        "joint_train", "joint_test"]
    assert found.assignments["image_test_log_posteriors"].dtype == np.float32
    assert list(found.gaussians) == ["audio_means", "audio_covariances", "image_means", "image_covariances"]
    assert found.learner_settings == {sense: {"reduction": "none", "algorithm": "kmeans", "n_clusters": 3,
                                              "classifier": False} for sense in ("audio", "image")}
    assert list(found.learner)[-1] == "image_train_sizes" and "audio_train_features" in found.learner
    assert list(found.metrics) == ["audio", "image", "audio_reference", "joint"]
    assert found.metrics["image"]["acc"] == 1.0 and "acc_by_codes" not in found.metrics["image"]  # no classifier
    assert set(found.audio_alone) == {"audio_alone_train", "audio_alone_test", "audio_voice_train", "audio_voice_test"}
    assert found.image_classifier is None and found.audio_classifier is None and found.audio_views == {}
    assert list(found.choice_table().columns) == ["space", "k", "score"]
    assert "image: acc 1.000" in cluster.summary(found.metrics)


def test_validation_codes_take_the_test_path():
    codes, _, _ = project()
    concepts = cluster.sense_concepts(IMAGE, codes, SETTINGS.image, sample=100, transform_neighbours=15, seed=0,
                                      fitting=clustering.Fitting())
    placed = concepts.clusters.model.log_posteriors(codes.of(IMAGE, "validation"))
    np.testing.assert_array_equal(concepts.assignments()["image_validation"], placed.argmax(axis=1))
    assert concepts.n_clusters == 3 and concepts.trials() == []


def test_the_partner_score_compares_the_episodes_concepts():
    streams = SplitArrays({"train_image_index": np.array([0, 1, 2]), "train_audio_index": np.array([2, 1, 0])})
    score = cluster.partner_score(np.array([5, 6, 7]), streams, uncertainty_weight=0.0)
    # Image concepts that follow the audio clusters one to one fit them best.
    assert score(np.array([2, 1, 0])) >= score(np.array([0, 0, 0]))


def test_without_a_classifier_the_codes_name_the_views_and_no_ear_is_taught():
    codes, streams, _ = project()
    concepts = cluster.sense_concepts(IMAGE, codes, SETTINGS.image, sample=100, transform_neighbours=15, seed=0,
                                      fitting=clustering.Fitting())
    views = {"test_thick": codes.of(IMAGE, "test")}
    named = cluster.named_images(concepts, cluster.ImageNaming({}, views.items(), None, None), seed=0)
    assert named.classifier is None and named.assignments == {}
    np.testing.assert_array_equal(named.views["test_thick"], concepts.clusters.test_assignments)
    taught = cluster.taught_audio(concepts.clusters.train_assignments, 3, streams,
                                  cluster.AudioNaming({}, {}, None), seed=0)
    assert taught == cluster.TaughtAudio(None, {}, {})


def test_voice_aware_reference_needs_the_descriptors():
    codes, _, labels = project()
    config = SETTINGS.audio_reference.model_copy(update=dict(voices=NO_VOICES.model_copy(
        update=dict(count_selection="fixed"))))
    with pytest.raises(ValueError, match="voice descriptors"):
        cluster.audio_alone(codes, config, labels, sample=100, seed=0, fitting=clustering.Fitting(), descriptors=None)
