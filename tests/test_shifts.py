"""Shifts: the held-out image transfer proxies (shifts.py)."""

import numpy as np
import pytest

from digit_concepts import shifts

def _digit() -> np.ndarray:
    image = np.zeros((1, 28, 28), np.float32)
    image[0, 6:22, 12:16] = 1.0  # a 1
    return image


def test_image_shifts_keep_the_form_and_range_and_move_the_ink():
    digit = _digit()
    for shifted in (shifts.elastic(digit, 34.0, 4.0, np.random.default_rng(0)), shifts.blurred(digit, 1.0),
                    shifts.low_resolution(digit, 8)):
        assert shifted.shape == digit.shape and shifted.dtype == np.float32
        assert 0.0 <= shifted.min() and shifted.max() <= 1.0
        assert 0.0 < np.abs(shifted - digit).mean() < 0.2
    np.testing.assert_array_equal(shifts.elastic(digit, 34.0, 4.0, np.random.default_rng(0)),
                                  shifts.elastic(digit, 34.0, 4.0, np.random.default_rng(0)))
    with pytest.raises(ValueError, match="side"):
        shifts.low_resolution(digit, 1)


def test_the_held_out_views_are_seeded_and_a_large_picture_reads_back_as_the_digit():
    digits = np.concatenate([_digit(), np.roll(_digit(), 3, axis=2)])
    views = shifts.held_out_views(digits, seed=42)
    assert tuple(views) == shifts.HELD_OUT_IMAGE_VIEWS
    np.testing.assert_array_equal(views["elastic"], shifts.held_out_views(digits, seed=42)["elastic"])
    assert not np.array_equal(views["elastic"], shifts.held_out_views(digits, seed=1)["elastic"])
    # Drawn large and dark on light, then read as the tool reads a picture: the same upright bar,
    # refitted into MNIST's 20 x 20 box and centred (so not pixel for pixel the input).
    back = views["large_picture"][0]
    assert back.shape == (28, 28) and back[:, 14].sum() > 10 * back[:, 4].sum()
    assert abs(np.argmax(back.sum(axis=0)) - 13.5) <= 1.5
