"""The autoencoders' teaching and augmentation: the image sense's targets for the audio codes, the
partner head, and fresh renderings every epoch."""

import numpy as np
import pytest

from digit_concepts import autoencoders, runtime


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
    config = {"architecture": "dense", "hidden_units": [8], "latent_dim": 3, "noise_stddev": 0.1}
    model = autoencoders.build_autoencoder(keras, (4, 5), config, "linear", partner_dim=6)
    outputs = model(np.zeros((2, 4, 5), np.float32))
    assert outputs["reconstruction"].shape == (2, 4, 5) and outputs["partner"].shape == (2, 6)
    assert model.get_layer("encoder").output.shape[-1] == 3 and model.get_layer("decoder") is not None
    plain = autoencoders.build_autoencoder(keras, (4, 5), config, "linear")
    assert plain(np.zeros((1, 4, 5), np.float32)).shape == (1, 4, 5)


def test_fresh_views_every_epoch_are_new_each_epoch_and_repeatable():
    keras = runtime.keras_with_seed(0)
    samples = np.arange(10, dtype=np.float32).reshape(10, 1)

    def shifted(values, rng):  # a rendering: each sample moved by a random amount
        return values + rng.integers(1, 1000, size=values.shape).astype(np.float32)

    def two_epochs(seed):
        batches = autoencoders._fresh_views_every_epoch(keras, samples, samples, shifted, 4,
                                                         np.random.default_rng(seed))
        assert len(batches) == 3  # 10 samples in batches of 4
        first = [batches[index] for index in range(len(batches))]
        batches.on_epoch_end()
        second = [batches[index] for index in range(len(batches))]
        return first, second

    first, second = two_epochs(1)
    for views, targets in first:  # each view is its own clean sample, rendered
        assert (views > targets).all() and set(targets.ravel()) <= set(samples.ravel())
    assert sorted(np.concatenate([targets for _, targets in first]).ravel()) == list(samples.ravel())  # all, once
    assert not np.array_equal(np.concatenate([views for views, _ in first]),
                              np.concatenate([views for views, _ in second]))  # epoch 2 sees new views
    again_first, again_second = two_epochs(1)
    for (views, targets), (views_again, targets_again) in zip(first + second, again_first + again_second):
        np.testing.assert_array_equal(views, views_again)
        np.testing.assert_array_equal(targets, targets_again)
    # Drawn ahead in a thread, yet the generator is used as if in line: views, then order, per epoch.
    rng = np.random.default_rng(1)
    for epoch in (first, second):
        views, order = shifted(samples, rng), rng.permutation(len(samples))
        np.testing.assert_array_equal(np.concatenate([batch_views for batch_views, _ in epoch]), views[order])


def test_frames_architecture_convolves_over_time_and_keeps_a_dense_decoder():
    keras = runtime.keras_with_seed(0)
    config = {"architecture": "frames", "hidden_units": [16, 8], "latent_dim": 3, "noise_stddev": 0.0,
              "frame_filters": [4, 4], "frame_kernel": 3}
    model = autoencoders.build_autoencoder(keras, (5, 8), config, "linear", partner_dim=2)
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
