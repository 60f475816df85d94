"""fusion: label-free calibration of the two senses' posteriors and their confidence-weighted fusion."""

import numpy as np
import pytest

from digit_concepts.crossmodal import fusion


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
