"""The autoencoders' teaching and augmentation: the image sense's targets for the audio codes, the
partner head, and fresh renderings every epoch."""

import numpy as np
import pytest

from conftest import REPO
from digit_concepts.senses import autoencoders
from digit_concepts.core import params, runtime

DENSE = params.AutoencoderSettings(architecture="dense", hidden_units=[8], latent_dim=3, epochs=1, batch_size=8,
                                   learning_rate=1.0e-3, noise_stddev=0.1)


def test_partner_targets_are_the_mean_code_of_each_samples_episode_partners():
    partner_codes = np.array([[1.0, 0.0], [3.0, 0.0], [0.0, 5.0]])
    # Recording 0 was shown with images 0 and 1; recording 1 with image 2 twice; recording 2 never.
    targets = autoencoders.partner_targets(partner_codes, np.array([0, 1, 2, 2]), np.array([0, 0, 1, 1]), 3)
    np.testing.assert_allclose(targets, [[2.0, 0.0], [0.0, 5.0], [0.0, 0.0]])
    assert targets.dtype == np.float32
    with pytest.raises(ValueError, match="own samples but"):
        autoencoders.partner_targets(partner_codes, np.array([0, 1]), np.array([0]), 3)


def test_partner_head_is_a_second_output_and_the_halves_stay_extractable():
    keras = runtime.keras_with_seed(0)
    model = autoencoders.build_autoencoder(keras=keras, input_shape=(4, 5), settings=DENSE, output_activation="linear",
                                           partner_dim=6)
    outputs = model(np.zeros((2, 4, 5), np.float32))
    assert outputs["reconstruction"].shape == (2, 4, 5) and outputs["partner"].shape == (2, 6)
    assert model.get_layer("encoder").output.shape[-1] == 3 and model.get_layer("decoder") is not None
    plain = autoencoders.build_autoencoder(keras=keras, input_shape=(4, 5), settings=DENSE, output_activation="linear")
    assert plain(np.zeros((1, 4, 5), np.float32)).shape == (1, 4, 5)


def test_fresh_renderings_are_new_each_epoch_repeatable_and_drawn_as_views_then_order():
    samples = np.arange(10, dtype=np.float32).reshape(10, 1)

    def shifted(values, rng):  # a rendering: each sample moved by a random amount
        return values + rng.integers(1, 1000, size=values.shape).astype(np.float32)

    def two_epochs(seed):
        epochs = autoencoders.fresh_renderings(samples, shifted, np.random.default_rng(seed))
        return next(epochs), next(epochs)

    first, second = two_epochs(1)
    for views, order in (first, second):  # row i renders sample i; the order names every row once
        assert (views > samples).all() and sorted(order) == list(range(10))
    assert not np.array_equal(first[0], second[0])  # epoch 2 sees new views
    for epoch, again in zip((first, second), two_epochs(1)):
        np.testing.assert_array_equal(epoch[0], again[0])
        np.testing.assert_array_equal(epoch[1], again[1])
    rng = np.random.default_rng(1)  # the generator is used as views, then order, per epoch
    for views, order in (first, second):
        np.testing.assert_array_equal(views, shifted(samples, rng))
        np.testing.assert_array_equal(order, rng.permutation(len(samples)))


def test_batches_come_whole_in_the_order_named_the_last_one_short():
    runtime.keras_with_seed(0)
    samples = np.arange(10, dtype=np.float32).reshape(10, 1)
    order = np.array([9, 8, 7, 6, 5, 4, 3, 2, 1, 0])
    batches = [(np.asarray(views).ravel().tolist(), np.asarray(targets).ravel().tolist())
               for views, targets in autoencoders._batches(samples, -samples, order, 4, [2, 0, 1])]
    assert batches == [([1, 0], [-1, 0]), ([9, 8, 7, 6], [-9, -8, -7, -6]), ([5, 4, 3, 2], [-5, -4, -3, -2])]
    named = autoencoders._batches(samples, {"reconstruction": -samples, "partner": 2 * samples}, order, 4, [0])
    views, targets = next(iter(named))
    assert np.asarray(targets["partner"]).ravel().tolist() == [18, 16, 14, 12]


def test_frames_architecture_convolves_over_time_and_keeps_a_dense_decoder():
    keras = runtime.keras_with_seed(0)
    committed = params.load(REPO / "params.yaml").audio_ae.model_dump()
    settings = params.AudioAutoencoderSettings.model_validate(
        {**committed, "architecture": "frames", "hidden_units": [16, 8], "latent_dim": 3, "noise_stddev": 0.0,
         "frame_filters": [4, 4], "frame_kernel": 3})
    model = autoencoders.build_autoencoder(keras=keras, input_shape=(5, 8), settings=settings,
                                           output_activation="linear", partner_dim=2)
    outputs = model(np.zeros((2, 5, 8), np.float32))
    assert outputs["reconstruction"].shape == (2, 5, 8) and outputs["partner"].shape == (2, 2)
    encoder = model.get_layer("encoder")
    convolutions = [layer for layer in encoder.layers if isinstance(layer, keras.layers.Conv1D)]
    assert [layer.strides[0] for layer in convolutions] == [1, 2]  # frames halved after the first layer
    # The same digit said one frame later meets the same filters: the first layer's response shifts with it.
    sample = np.random.default_rng(0).normal(size=(1, 5, 8)).astype(np.float32)
    shifted = np.roll(sample, 1, axis=2)
    first = keras.Model(encoder.input, convolutions[0].output)
    np.testing.assert_allclose(np.asarray(first(shifted))[0, 2:-1], np.asarray(first(sample))[0, 1:-2], atol=1e-5)
