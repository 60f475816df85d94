"""The encode stage's work (pipeline/encode.py), with stand-in halves of an autoencoder."""

import numpy as np

from digit_concepts.core.evidence import Bootstrap
from digit_concepts.core.sense import AUDIO, IMAGE
from digit_concepts.pipeline import encode


class Halves:
    """An encoder that sums each sample's rows, and a decoder that repeats the code: enough to check wiring."""

    def __init__(self, rows: int = 2):
        self.rows = rows

    def predict(self, samples, batch_size=None, verbose=None):
        samples = np.asarray(samples, dtype=np.float32)
        if samples.ndim == 3:  # encoding
            return samples.sum(axis=1)
        return np.repeat(samples[:, None, :], self.rows, axis=1) / self.rows


def samples(count: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    return {split: rng.uniform(size=(count, 2, 3)).astype(np.float32) for split in ("train", "validation", "test")}


def test_every_split_is_encoded_and_named_by_the_sense():
    images = samples(4, 0)
    result = encode.encoded(IMAGE, Halves(), Halves(), samples=images, targets=images, bootstrap=Bootstrap(20, 0.95, 0))
    assert list(result.codes) == ["image_train", "image_validation", "image_test"]
    np.testing.assert_allclose(result.codes["image_test"], images["test"].sum(axis=1))
    # Test errors keep the plain names, validation ones are prefixed; [0, 1] data are scored by BCE too.
    assert {"mse", "bce", "mse_interval", "bce_interval", "validation_mse", "validation_bce"} <= set(result.metrics)


def test_recordings_are_scored_by_mse_only_against_what_the_decoder_makes():
    inputs, log_mels = samples(3, 1), samples(3, 2)
    result = encode.encoded(AUDIO, Halves(), Halves(), samples=inputs, targets=log_mels,
                            bootstrap=Bootstrap(20, 0.95, 0))
    assert "bce" not in result.metrics and "validation_mse" in result.metrics
    rebuilt = Halves().predict(inputs["test"].sum(axis=1))
    assert np.isclose(result.metrics["mse"], np.mean((log_mels["test"].astype(np.float64) - rebuilt) ** 2))
    assert encode.metrics_by_sense(result) == {"audio": result.metrics}


def test_shifted_samples_keep_their_view_name_behind_the_sense():
    heard = {"test_noise": np.ones((2, 2, 3), np.float32)}
    codes = encode.shifted_codes(AUDIO, Halves(), heard)
    assert list(codes) == ["audio_test_noise"]
    np.testing.assert_allclose(codes["audio_test_noise"], np.full((2, 3), 2.0))
