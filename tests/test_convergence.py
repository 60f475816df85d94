"""The convergence stage's work (pipeline/convergence.py) on tiny synthetic arrays."""

import numpy as np
import pandas as pd

from digit_concepts.core.sense import SENSES, SplitArrays
from digit_concepts.crossmodal.fusion import FusedDecision
from digit_concepts.evaluation.scoring import Labels
from digit_concepts.pipeline import convergence

ZONE_SETTINGS = {"min_strength": 0.5, "min_share": 0.1, "max_entropy_bits": 1.5, "divergence_alpha": 0.01}


class Decoder:
    """Makes every code into a sample of ones times the code's first value: enough to check wiring."""

    def predict(self, codes, batch_size=None, verbose=None):
        return np.ones((len(codes), 2, 2)) * np.asarray(codes)[:, :1, None]


def codes_and_samples(seed: int = 0) -> tuple[SplitArrays, dict]:
    rng = np.random.default_rng(seed)
    codes = SplitArrays({sense.key(split): rng.normal(size=(count, 3)) for sense in SENSES
                         for split, count in (("train", 40), ("validation", 20), ("test", 10))})
    samples = {sense.name: {split: np.zeros((len(codes.of(sense, split)), 2, 2)) for split in ("validation", "test")}
               for sense in SENSES}
    return codes, samples


def test_over_clustered_audio_merges_into_concepts_through_the_image_partner():
    counts = np.array([[5, 4, 0], [0, 0, 6]])
    zones = convergence.zones_of(counts, ZONE_SETTINGS)
    np.testing.assert_array_equal(zones.audio_concept_of_cluster, [0, 0, 1])
    assert {"concept", "sense", "zone"} <= set(zones.table.columns)


def test_reconstruction_errors_are_each_sample_s_mse_per_sense_and_split():
    codes, samples = codes_and_samples()
    errors = convergence.reconstruction_errors({"image": Decoder(), "audio": Decoder()}, codes, samples)
    assert set(errors) == {"image", "audio"} and set(errors["audio"]) == {"validation", "test"}
    np.testing.assert_allclose(errors["image"]["test"], codes.arrays["image_test"][:, 0] ** 2)


def test_unfamiliarity_flags_about_the_share_it_is_calibrated_to():
    codes, samples = codes_and_samples()
    unfamiliarity = convergence.unfamiliarity(decoders={"image": Decoder(), "audio": Decoder()}, codes=codes,
                                              samples=samples, unfamiliar_share=0.05)
    assert list(unfamiliarity.test_shares) == ["unfamiliar_share_test_image", "unfamiliar_share_test_audio"]
    assert all(0.0 <= share <= 1.0 for share in unfamiliarity.test_shares.values())
    arrays = unfamiliarity.arrays()
    assert "image_train_codes" in arrays and float(arrays["audio_flagged_share"]) == 0.05


def test_attention_keeps_each_test_episode_s_samples():
    decision = FusedDecision(np.array([1, 0]), np.array([1, 1]), np.array([0]), np.array([0.7, 0.2]),
                             np.array([0.3, 0.8]), 1.0, 1.0, -0.5)
    streams = SplitArrays({"test_image_index": np.array([4, 5]), "test_audio_index": np.array([9, 8])})
    attention = convergence.attention(decision, streams)
    assert list(attention) == ["image_weight", "audio_weight", "fused_concept", "episode_image_index",
                               "episode_audio_index"]
    np.testing.assert_array_equal(attention["episode_audio_index"], [9, 8])


def test_metrics_put_both_ways_coherence_before_the_zones():
    decision = FusedDecision(np.array([0, 1]), np.array([0, 0]), np.array([1, 1]), np.ones(2), np.zeros(2), 0.5, 2.0,
                             -0.1)
    labels = Labels({"image": {"test": np.array([5, 6]), "validation": np.array([6, 6])}}, {})
    streams = SplitArrays({"test_image_index": np.array([0, 1]), "validation_image_index": np.array([0, 1])})
    table = pd.DataFrame({"concept": [0], "sense": ["image"], "zone": ["convergence"]})
    zones = convergence.Zones(table, np.array([0, 0, 1]))
    coherence = {"coherence_image_to_audio": 0.5, "coherence_audio_to_image": 0.25,
                 "evaluation_classifier_acc_image": 1.0}
    unfamiliar = convergence.Unfamiliarity({}, {"unfamiliar_share_test_image": 0.0})
    metrics = convergence.metrics(decision=decision, coherence=coherence, concept_zones=zones, unfamiliar=unfamiliar,
                                  labels=labels, streams=streams, bootstrap=None)
    names = list(metrics)
    assert names.index("coherence_audio_to_image") < names.index("n_convergence_zones") < names.index(
        "n_audio_concepts_merged") < names.index("evaluation_classifier_acc_image") < names.index(
        "unfamiliar_share_test_image")
    assert metrics["n_audio_concepts_merged"] == 2 and metrics["n_convergence_zones"] == 1
    assert convergence.summary({"a": 0.5, "b": {"low": 0.1}}) == "a 0.500"
