"""The leave-one-speaker-out summary: per-fold measures, flat numeric metrics, the table."""

import pytest

from digit_concepts.evaluation import generalisation


def fold(through: float, alone: float, fused: float, image_to_audio: float, audio_to_image: float) -> dict:
    return {"metrics/relate.json": {"audio_acc_through_images": through, "image_acc_through_audio": 0.9,
                                    "audio_acc_through_images_each_alone": through - 0.25},
            "metrics/cluster.json": {"audio_reference": {"acc": alone, "nmi": 0.5}, "image": {"acc": 0.97}},
            "metrics/convergence.json": {"fused_acc": fused, "coherence_image_to_audio": image_to_audio,
                                         "coherence_audio_to_image": audio_to_image,
                                         "coherence_audio_to_image_brain": audio_to_image,
                                         "coherence_audio_to_image_concept": audio_to_image + 0.1}}


def test_fold_measures_reads_every_measure_from_its_file():
    assert generalisation.fold_measures(fold(0.5, 0.4, 0.95, 0.6, 0.7)) == {
        "audio_acc_through_images": 0.5, "audio_reference_acc": 0.4, "fused_acc": 0.95,
        "coherence_image_to_audio": 0.6, "coherence_audio_to_image": 0.7,
        "audio_acc_through_images_each_alone": 0.25, "coherence_audio_to_image_brain": 0.7,
        "coherence_audio_to_image_concept": pytest.approx(0.8)}


def test_fold_measures_names_what_is_missing():
    broken = fold(0.5, 0.4, 0.95, 0.6, 0.7)
    del broken["metrics/cluster.json"]["audio_reference"]["acc"]
    with pytest.raises(ValueError, match=r"metrics/cluster.json: no audio_reference.acc"):
        generalisation.fold_measures(broken)
    with pytest.raises(ValueError, match=r"metrics/relate.json: missing"):
        generalisation.fold_measures({key: value for key, value in broken.items() if "relate" not in key})
    broken = fold(float("nan"), 0.4, 0.95, 0.6, 0.7)
    with pytest.raises(ValueError, match="not a finite number"):
        generalisation.fold_measures(broken)


def test_summary_is_flat_numeric_with_mean_min_and_every_fold():
    folds = {"theo": generalisation.fold_measures(fold(0.8, 0.6, 0.99, 0.9, 0.8)),
             "george": generalisation.fold_measures(fold(0.5, 0.4, 0.95, 0.6, 0.7))}
    summary = generalisation.summarise({42: folds})
    assert summary["loso.folds"] == 2 and summary["loso.seeds"] == 1
    assert summary["loso.audio_acc_through_images.mean"] == pytest.approx(0.65)
    assert summary["loso.audio_acc_through_images.min"] == 0.5
    assert summary["loso.audio_acc_through_images.george"] == 0.5
    assert summary["loso.audio_reference_acc.theo"] == 0.6
    assert summary["loso.coherence_audio_to_image.mean"] == pytest.approx(0.75)
    assert all(isinstance(value, (int, float)) for value in summary.values())
    assert summary["loso.audio_acc_through_images_each_alone.min"] == 0.25
    assert summary["loso.audio_acc_through_images.sd"] == 0.0  # one seed: no spread measured
    assert len(summary) == 2 + len(generalisation.MEASURES) * (3 + 2 * 2)
    with pytest.raises(ValueError, match="no LOSO folds"):
        generalisation.summarise({})


def test_table_has_a_row_per_speaker_then_mean_and_worst():
    folds = {"theo": generalisation.fold_measures(fold(0.8, 0.6, 0.99, 0.9, 0.8)),
             "george": generalisation.fold_measures(fold(0.5, 0.4, 0.95, 0.6, 0.7))}
    lines = generalisation.markdown_table({42: folds}).splitlines()
    assert lines[2].startswith("| george | 0.500 | 0.400 | 0.950")
    assert lines[3].startswith("| theo | 0.800")
    assert lines[4].startswith("| **mean** | **0.650** | **0.500**")
    assert lines[5].startswith("| **worst** | **0.500** | **0.400**")


def test_seeds_give_the_mean_of_fold_means_its_sd_and_each_fold_over_seeds():
    seed_1 = {"theo": generalisation.fold_measures(fold(0.8, 0.6, 0.99, 0.9, 0.8)),
              "george": generalisation.fold_measures(fold(0.5, 0.4, 0.95, 0.6, 0.7))}
    seed_2 = {"theo": generalisation.fold_measures(fold(0.9, 0.6, 0.99, 0.9, 0.8)),
              "george": generalisation.fold_measures(fold(0.6, 0.4, 0.95, 0.6, 0.7))}
    summary = generalisation.summarise({1: seed_1, 2: seed_2})
    assert summary["loso.seeds"] == 2 and summary["loso.folds"] == 2
    assert summary["loso.audio_acc_through_images.mean"] == pytest.approx(0.7)  # (0.65 + 0.75) / 2
    assert summary["loso.audio_acc_through_images.sd"] == pytest.approx(0.0707, abs=1e-4)  # sd of 0.65, 0.75
    assert summary["loso.audio_acc_through_images.george"] == pytest.approx(0.55)
    assert summary["loso.audio_acc_through_images.george.sd"] == pytest.approx(0.0707, abs=1e-4)
    assert summary["loso.audio_acc_through_images.min"] == pytest.approx(0.55)
    assert summary["loso.fused_acc.sd"] == 0.0
    table = generalisation.markdown_table({1: seed_1, 2: seed_2})
    assert "| george | 0.550 +- 0.071" in table and "| 2 | 0.750" in table
    with pytest.raises(ValueError, match="same speakers"):
        generalisation.summarise({1: seed_1, 2: {"theo": seed_2["theo"]}})
