"""Fusion of the two senses: each sense's posteriors calibrated without labels, then weighed by
its own confidence (the learner's attention) to name one concept per episode.

Calibration makes each sense's posteriors honest: temperatures chosen so that each sense best
predicts what its partner names over validation episodes (no labels, only that an episode's image
and recording share a digit).
"""

from dataclasses import dataclass

import numpy as np
from scipy.special import log_softmax

from digit_concepts.concepts.clustering import gaussian_log_posteriors
from digit_concepts.core.sense import AUDIO, IMAGE, SplitArrays


def fuse(image_posteriors: np.ndarray, audio_evidence: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fuse two distributions over image concepts, each weighted by its own confidence.

    Confidence is one minus the normalised entropy; the weights are the learner's attention.
    Returns (fused concept, image weight, audio weight).
    """
    def confidence(distributions):
        safe = np.clip(distributions, 1e-12, 1.0)
        entropy = -(distributions * np.log(safe)).sum(axis=1)
        return 1.0 - entropy / np.log(distributions.shape[1])

    image_confidence, audio_confidence = confidence(image_posteriors), confidence(audio_evidence)
    total = image_confidence + audio_confidence + 1e-12
    image_weight, audio_weight = image_confidence / total, audio_confidence / total
    scores = (image_weight[:, None] * np.log(np.clip(image_posteriors, 1e-12, 1.0))
              + audio_weight[:, None] * np.log(np.clip(audio_evidence, 1e-12, 1.0)))
    return scores.argmax(axis=1), image_weight, audio_weight


def temper(log_posteriors: np.ndarray, temperature: float) -> np.ndarray:
    """Posteriors softened (temperature > 1) or sharpened (< 1): softmax(log p / temperature)."""
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    return np.exp(log_softmax(np.asarray(log_posteriors, dtype=np.float64) / temperature, axis=1))


def partner_agreement(image_log_posteriors: np.ndarray, audio_log_posteriors: np.ndarray,
                      image_given_audio: np.ndarray, image_temperature: float, audio_temperature: float,
                      image_rows: np.ndarray | None = None, audio_rows: np.ndarray | None = None) -> float:
    """Mean log-probability that the two senses name the same image concept, episode by episode.

    Each sense's posterior is tempered; the audio one is carried over to image concepts through
    P(image concept | audio cluster). Needs no labels: only that paired episodes share a digit.
    ``image_rows`` / ``audio_rows``: each episode's row of the posteriors given (then each sample's
    posterior is tempered once, however many episodes it is in); default: one row per episode.
    """
    image = temper(image_log_posteriors, image_temperature)
    audio = temper(audio_log_posteriors, audio_temperature) @ image_given_audio.T
    if image_rows is not None:
        image = image[image_rows]
    if audio_rows is not None:
        audio = audio[audio_rows]
    return float(np.log((image * audio).sum(axis=1) + 1e-300).mean())


CALIBRATION_GRID = np.linspace(-2.0, 5.0, 29)  # log-temperatures tried before refining (fusion.calibrate)


def calibrate(image_log_posteriors: np.ndarray, audio_log_posteriors: np.ndarray,
              image_given_audio: np.ndarray) -> tuple[float, float, float]:
    """Temperatures of both senses that make each best predict its partner over episodes.

    A sense that is overconfident (posteriors near 1 even on its mistakes) would win every
    disagreement in the fusion; the temperatures that maximise ``partner_agreement`` make the
    posteriors honest without labels. Pass posteriors of samples no fit has seen (validation),
    or the fit looks better than it is. Returns (image temperature, audio temperature, agreement reached).
    """
    from scipy.optimize import minimize

    # A recording is in ~30 episodes: temper each distinct posterior once (the grid tries hundreds).
    images, image_rows = np.unique(np.asarray(image_log_posteriors), axis=0, return_inverse=True)
    recordings, audio_rows = np.unique(np.asarray(audio_log_posteriors), axis=0, return_inverse=True)

    def loss(log_temperatures):
        image_temperature, audio_temperature = np.exp(np.clip(log_temperatures, -5.0, 5.0))
        return -partner_agreement(images, recordings, image_given_audio, image_temperature, audio_temperature,
                                  image_rows.reshape(-1), audio_rows.reshape(-1))

    # Smooth in log-temperature but not always single-peaked: started from (1, 1), Nelder-Mead once
    # stopped at an audio temperature of 1.3 where 15.6 agreed far better (a new voice's fold; its
    # fused accuracy fell from 0.98 to 0.80). So a grid over both log-temperatures (e^-2 .. e^5, a
    # quarter step) finds the best region first, and Nelder-Mead refines from there.
    grid = CALIBRATION_GRID
    losses = [[loss(np.array([image, audio])) for audio in grid] for image in grid]
    best_image, best_audio = np.unravel_index(int(np.argmin(losses)), (len(grid), len(grid)))
    result = minimize(loss, np.array([grid[best_image], grid[best_audio]]), method="Nelder-Mead",
                      options={"xatol": 1e-3, "fatol": 1e-7})
    image_temperature, audio_temperature = np.exp(np.clip(result.x, -5.0, 5.0))
    return float(image_temperature), float(audio_temperature), float(-result.fun)


@dataclass
class FusedDecision:
    """The fused concept of each test episode, the attention behind it and its calibration."""

    concepts: np.ndarray
    uncalibrated_concepts: np.ndarray
    validation_concepts: np.ndarray  # the same decision on the validation episodes (where choices are scored)
    image_weight: np.ndarray
    audio_weight: np.ndarray
    image_temperature: float
    audio_temperature: float
    validation_agreement: float  # mean log P(both senses name the same concept) reached on validation episodes


def fused_decision(image_log_posteriors: dict, audio_log_posteriors: dict, image_given_audio: np.ndarray) -> FusedDecision:
    """Calibrate both senses on the validation episodes, then fuse them on the test episodes.

    ``*_log_posteriors[split]`` are per episode: image concept posteriors and audio cluster
    posteriors. Validation samples were placed as test ones are (held out from every fit), so the
    temperatures are not flattered by samples the clusters were fitted on. Audio evidence reaches
    image concepts through P(image | audio). No labels enter.
    """
    image_temperature, audio_temperature, agreement = calibrate(
        image_log_posteriors["validation"], audio_log_posteriors["validation"], image_given_audio)

    def fused_at(split: str, image_t: float, audio_t: float):
        return fuse(temper(image_log_posteriors[split], image_t),
                    temper(audio_log_posteriors[split], audio_t) @ image_given_audio.T)

    concepts, image_weight, audio_weight = fused_at("test", image_temperature, audio_temperature)
    uncalibrated, _, _ = fused_at("test", 1.0, 1.0)
    validation_concepts, _, _ = fused_at("validation", image_temperature, audio_temperature)
    return FusedDecision(concepts, uncalibrated, validation_concepts, image_weight, audio_weight, image_temperature,
                         audio_temperature, agreement)


def episode_log_posteriors(codes: dict, assignments: dict, gaussians: dict, streams: dict,
                           image_by_classifier: bool = False) -> tuple[dict, dict]:
    """Per split (validation, test), each episode's image concept and audio cluster log posteriors.

    Image posteriors come from the self-labelled classifier when it names new images
    (``image_by_classifier``), else from each concept's Gaussian in the code space: a UMAP
    mixture is ~100% sure even of its mistakes, so its posteriors cannot be calibrated.
    """
    assignments, codes, streams = SplitArrays(assignments), SplitArrays(codes), SplitArrays(streams)
    means, covariances = gaussians[IMAGE.key("means")], gaussians[IMAGE.key("covariances")]
    sizes = np.bincount(assignments.of(IMAGE, "train"), minlength=means.shape[0])
    image, audio = {}, {}
    for split in ("validation", "test"):
        image[split] = (assignments.log_posteriors(IMAGE, split) if image_by_classifier else
                        gaussian_log_posteriors(codes.of(IMAGE, split), means, covariances, sizes)
                        )[streams.episode_index(IMAGE, split)]
        audio[split] = assignments.log_posteriors(AUDIO, split)[streams.episode_index(AUDIO, split)]
    return image, audio
