"""episodes: the co-occurrence stream pairs every image with a recording of the same digit."""

import numpy as np
import pytest

from digit_concepts.senses import episodes


def _digits(count: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).permutation(np.arange(count) % 10)


@pytest.fixture
def stream_inputs():
    # 503 images, 47 recordings: uneven counts per digit, recordings must repeat.
    return _digits(503, 1), _digits(47, 2)


def test_same_digit_at_zero_noise(stream_inputs):
    image_digits, audio_digits = stream_inputs
    image_index, audio_index, replaced = episodes.episode_stream(image_digits, audio_digits, 0.0,
                                                                 np.random.default_rng(0))
    np.testing.assert_array_equal(image_digits[image_index], audio_digits[audio_index])
    assert not replaced.any()


def test_every_image_once_every_recording_used(stream_inputs):
    image_digits, audio_digits = stream_inputs
    image_index, audio_index, _ = episodes.episode_stream(image_digits, audio_digits, 0.0,
                                                          np.random.default_rng(0))
    assert image_index.dtype == np.int64 and audio_index.dtype == np.int64
    np.testing.assert_array_equal(np.sort(image_index), np.arange(len(image_digits)))
    assert set(audio_index.tolist()) == set(range(len(audio_digits)))
    # Recordings of one digit repeat as evenly as possible.
    for digit in range(10):
        uses = np.bincount(audio_index, minlength=len(audio_digits))[audio_digits == digit]
        assert uses.max() - uses.min() <= 1


def test_episodes_are_shuffled(stream_inputs):
    image_digits, audio_digits = stream_inputs
    image_index, _, _ = episodes.episode_stream(image_digits, audio_digits, 0.0, np.random.default_rng(0))
    assert not np.array_equal(image_index, np.arange(len(image_digits)))


@pytest.mark.parametrize("noise", [0.1, 0.25, 0.5, 1.0])
def test_noise_share(stream_inputs, noise):
    image_digits, audio_digits = stream_inputs
    image_index, audio_index, replaced = episodes.episode_stream(image_digits, audio_digits, noise,
                                                                 np.random.default_rng(3))
    assert replaced.dtype == bool
    assert replaced.sum() == round(noise * len(image_digits))
    np.testing.assert_array_equal(np.sort(image_index), np.arange(len(image_digits)))
    assert audio_index.min() >= 0 and audio_index.max() < len(audio_digits)
    kept = ~replaced
    np.testing.assert_array_equal(image_digits[image_index[kept]], audio_digits[audio_index[kept]])
    if noise >= 0.5:  # random partners: most of them are another digit
        mismatched = image_digits[image_index[replaced]] != audio_digits[audio_index[replaced]]
        assert mismatched.mean() > 0.6


def test_seeded_determinism(stream_inputs):
    image_digits, audio_digits = stream_inputs
    first = episodes.episode_stream(image_digits, audio_digits, 0.2, np.random.default_rng(7))
    again = episodes.episode_stream(image_digits, audio_digits, 0.2, np.random.default_rng(7))
    other = episodes.episode_stream(image_digits, audio_digits, 0.2, np.random.default_rng(8))
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], other[0])


def test_digit_without_recording():
    image_digits = np.array([0, 1, 2, 3, 3])
    audio_digits = np.array([0, 1, 2, 2])
    with pytest.raises(ValueError, match=r"no recording for digit\(s\) \[3\]"):
        episodes.episode_stream(image_digits, audio_digits, 0.0, np.random.default_rng(0))


@pytest.mark.parametrize("noise", [-0.1, 1.5, float("nan")])
def test_bad_noise(noise):
    with pytest.raises(ValueError, match="pairs.noise must be in"):
        episodes.episode_stream(np.arange(10), np.arange(10), noise, np.random.default_rng(0))
