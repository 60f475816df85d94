"""What the encode stage computes: every sample's code, per sense and split, the reconstruction
errors of validation and test, and the codes of the recordings heard differently."""

from dataclasses import dataclass

import numpy as np

from digit_concepts.core.evidence import INTERVAL_SUFFIX, Bootstrap
from digit_concepts.core.sense import SPLITS, Sense
from digit_concepts.senses import autoencoders


@dataclass(frozen=True)
class Encoded:
    """One sense's codes (``sense.key(split)`` -> codes) and reconstruction metrics."""

    sense: Sense
    codes: dict[str, np.ndarray]
    metrics: dict


def codes_of(encoder, samples: np.ndarray) -> np.ndarray:
    return encoder.predict(samples, batch_size=1024, verbose=0)


def reconstruction_metrics(sense: Sense, targets: np.ndarray, reconstructions: np.ndarray,
                           bootstrap: Bootstrap) -> dict:
    """Errors over all samples, and each one's interval over the samples (MSE, and BCE for [0, 1] data)."""
    errors = autoencoders.reconstruction_errors(targets, reconstructions, binary=sense.binary_reconstruction)
    per_sample = autoencoders.sample_errors(targets, reconstructions, binary=sense.binary_reconstruction)
    return {**errors, **{f"{name}{INTERVAL_SUFFIX}": bootstrap.of_mean(values) for name, values in per_sample.items()}}


def encoded(sense: Sense, encoder, decoder, *, samples: dict, targets: dict, bootstrap: Bootstrap) -> Encoded:
    """Every split's codes of ``samples`` (what the autoencoder reads), and how well the decoder
    makes ``targets`` (what it makes) from the validation and test codes. Test errors keep their
    old names (comparable across commits); validation ones are prefixed."""
    codes = {sense.key(split): codes_of(encoder, samples[split]) for split in SPLITS}
    metrics = {}
    for split in ("validation", "test"):
        reconstructions = decoder.predict(codes[sense.key(split)], batch_size=1024, verbose=0)
        errors = reconstruction_metrics(sense, targets[split], reconstructions, bootstrap)
        metrics.update(errors if split == "test" else {f"validation_{name}": value for name, value in errors.items()})
    return Encoded(sense, codes, metrics)


def shifted_codes(sense: Sense, encoder, shifted: dict) -> dict[str, np.ndarray]:
    """The codes of validation and test samples drawn or heard differently (``shifted``, keyed by
    ``view_key(split, view)``), keyed ``sense.key(view_key(split, view))``."""
    return {sense.key(view): codes_of(encoder, inputs) for view, inputs in shifted.items()}


def metrics_by_sense(*encoded: Encoded) -> dict[str, dict]:
    return {each.sense.name: each.metrics for each in encoded}

