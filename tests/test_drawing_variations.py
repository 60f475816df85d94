"""Digits drawn differently (drawing_variations.py): affine transforms, thicker and thinner strokes, augmentation."""

import numpy as np
import pytest
from scipy import ndimage

from digit_concepts.core.params import DrawingAugmentation
from digit_concepts.senses import drawing_variations
from digit_concepts.senses.drawing_variations import (DEFAULT_AUGMENTATION, TRANSFER_VIEW_NAMES, affine_matrix_and_offset,
                                     affine_transformed, affine_transformed_with, augmented_images, thickened,
                                     thinned, transfer_views)


def strokes(count: int = 6, size: int = 28, seed: int = 0) -> np.ndarray:
    """Digit-like images: a few bright bars on black, in [0, 1]."""
    rng = np.random.default_rng(seed)
    images = np.zeros((count, size, size), dtype=np.float32)
    for image in images:
        row, column = rng.integers(6, size - 10, 2)
        image[row:row + 8, column:column + 2] = 1.0
        image[row + 3, column:column + 6] = 0.7
    return images


def _augmentation(**changes) -> DrawingAugmentation:
    """The default augmentation with ``changes``, validated as params.yaml's is."""
    return DrawingAugmentation.model_validate({**DEFAULT_AUGMENTATION.model_dump(), **changes})


def test_views_keep_shape_dtype_and_range():
    images = strokes()
    views = transfer_views(images, seed=3)
    assert tuple(views) == TRANSFER_VIEW_NAMES
    for view in [*views.values(), augmented_images(images, np.random.default_rng(1))]:
        assert view.shape == images.shape
        assert view.dtype == np.float32
        assert view.min() >= 0.0 and view.max() <= 1.0


def test_same_seed_same_images():
    images = strokes()
    np.testing.assert_array_equal(transfer_views(images, 5)["affine"], transfer_views(images, 5)["affine"])
    assert not np.array_equal(transfer_views(images, 5)["affine"], transfer_views(images, 6)["affine"])
    always = _augmentation(affine_probability=1.0)
    first = augmented_images(images, np.random.default_rng(9), always)
    second = augmented_images(images, np.random.default_rng(9), always)
    np.testing.assert_array_equal(first, second)


def test_zero_ranges_leave_images_unchanged():
    images = strokes()
    unchanged = affine_transformed(images, np.random.default_rng(0), 0.0, (1.0, 1.0), 0.0)
    np.testing.assert_allclose(unchanged, images, atol=1e-6)
    nothing = _augmentation(affine_probability=0.0, thicken_probability=0.0, thin_probability=0.0)
    np.testing.assert_array_equal(augmented_images(images, np.random.default_rng(0), nothing), images)


def test_dilation_thickens_and_erosion_thins_each_image_alone():
    images = strokes()
    thick, thin = thickened(images), thinned(images)
    assert np.all(thick.sum(axis=(1, 2)) > images.sum(axis=(1, 2)))
    assert np.all(thin.sum(axis=(1, 2)) < images.sum(axis=(1, 2)))
    # Per image, not across the batch: a blank image next to a full one stays blank.
    pair = np.stack([np.zeros((28, 28)), np.ones((28, 28))]).astype(np.float32)
    assert thickened(pair)[0].max() == 0.0 and thinned(pair)[1].min() == 1.0


def test_rotation_by_a_known_angle_moves_a_known_pixel():
    # 29 x 29: the centre (14, 14) is a pixel, so whole quarter turns land on pixels.
    image = np.zeros((1, 29, 29), dtype=np.float32)
    image[0, 9, 14] = 1.0  # five rows above the centre
    turned = affine_transformed_with(image, [90.0], [1.0], [[0.0, 0.0]])
    # Counter-clockwise as displayed: above the centre goes to the left of it.
    assert turned[0, 14, 9] == pytest.approx(1.0)
    assert turned.sum() == pytest.approx(1.0)
    shifted = affine_transformed_with(image, [0.0], [1.0], [[2.0, -3.0]])
    assert shifted[0, 11, 11] == pytest.approx(1.0)


def test_batched_transform_matches_scipy_image_by_image():
    images = strokes(5)
    rng = np.random.default_rng(4)
    rotations, scales, shifts = rng.uniform(-30, 30, 5), rng.uniform(0.8, 1.2, 5), rng.uniform(-3, 3, (5, 2))
    batched = affine_transformed_with(images, rotations, scales, shifts)
    for index, image in enumerate(images):
        matrix, offset = affine_matrix_and_offset(rotations[index], scales[index], shifts[index], image.shape)
        expected = ndimage.affine_transform(image.astype(np.float64), matrix, offset, order=1, mode="constant", cval=0.0)
        np.testing.assert_allclose(batched[index], np.clip(expected, 0, 1), atol=1e-6)


def test_transform_gives_the_pixels_of_scipys_map_coordinates_to_the_bit():
    # The compiled kernel replaces one map_coordinates call over the batch (a batch coordinate that is
    # a whole number, then rows and columns); the trained models depend on these exact pixels. Wide
    # ranges put many points on and beyond the edges; whole-pixel shifts put them exactly on pixels.
    rng = np.random.default_rng(8)
    images = rng.random((600, 28, 28)).astype(np.float32) * (rng.random((600, 28, 28)) < 0.4)
    rotations, scales = rng.uniform(-45, 45, 600), rng.uniform(0.5, 1.5, 600)
    shifts = rng.uniform(-8, 8, (600, 2))
    rotations[:100], scales[:100], shifts[:100] = 0.0, 1.0, np.round(shifts[:100])
    batched = affine_transformed_with(images, rotations, scales, shifts)
    rows, columns = np.meshgrid(np.arange(28.0), np.arange(28.0), indexing="ij")
    for index, image in enumerate(images):
        matrix, offset = affine_matrix_and_offset(rotations[index], scales[index], shifts[index], image.shape)
        source = matrix @ np.stack([rows.ravel(), columns.ravel()]) + offset[:, None]
        batch = np.zeros((1, source.shape[1]))
        expected = ndimage.map_coordinates(image[None].astype(np.float64), np.concatenate([batch, source]), order=1,
                                           mode="constant", cval=0.0)
        np.testing.assert_array_equal(batched[index], np.clip(expected.reshape(28, 28), 0, 1).astype(np.float32))


def test_augmentation_mixes_renderings():
    images = np.repeat(strokes(1), 400, axis=0)
    augmented = augmented_images(images, np.random.default_rng(2), DEFAULT_AUGMENTATION)
    unchanged = np.all(augmented == images, axis=(1, 2))
    # (1 - 0.5) * (1 - 0.25 - 0.25) = a quarter stay clean.
    assert 0.15 < unchanged.mean() < 0.35


@pytest.mark.parametrize("bad", [np.zeros((28, 28)), np.zeros((2, 28, 28, 1)), np.full((2, 28, 28), "a")])
def test_wrong_images_are_refused(bad):
    with pytest.raises(ValueError, match="images"):
        thickened(bad)
    with pytest.raises(ValueError, match="images"):
        affine_transformed(bad, np.random.default_rng(0))


@pytest.mark.parametrize("arguments, message", [
    ((-1.0, (0.9, 1.1), 2.0), "max_rotation_degrees"),
    ((20.0, (1.1, 0.9), 2.0), "scale_range"),
    ((20.0, (0.0, 1.1), 2.0), "scale_range"),
    ((20.0, (0.9,), 2.0), "scale_range"),
    ((20.0, (0.9, 1.1), -2.0), "max_shift_pixels"),
    ((float("nan"), (0.9, 1.1), 2.0), "max_rotation_degrees"),
])
def test_bad_ranges_are_refused(arguments, message):
    with pytest.raises(ValueError, match=message):
        affine_transformed(strokes(), np.random.default_rng(0), *arguments)


@pytest.mark.parametrize("changes, message", [
    ({"affine_probability": 1.5}, "affine_probability"),
    ({"thicken_probability": 0.7, "thin_probability": 0.5}, "one stroke change at most"),
    ({"rotation": 10}, r"rotation\n  Extra inputs are not permitted"),
    ({"scale_range": (1.2, 0.8)}, "scale_range"),
])
def test_bad_augmentation_is_refused(changes, message):
    with pytest.raises(ValueError, match=message):
        _augmentation(**changes)


def test_per_image_transforms_must_match_the_batch():
    with pytest.raises(ValueError, match="one rotation, scale"):
        affine_transformed_with(strokes(3), [0.0, 1.0], [1.0, 1.0, 1.0], np.zeros((3, 2)))


def test_large_batches_are_transformed_in_chunks_with_the_same_pixels():
    rng = np.random.default_rng(3)
    images = rng.random((drawing_variations.CHUNK * 2 + 5, 28, 28)).astype(np.float32)
    rotations, scales = rng.uniform(-20, 20, len(images)), rng.uniform(0.85, 1.15, len(images))
    shifts = rng.uniform(-2, 2, (len(images), 2))
    whole = drawing_variations.affine_transformed_with(images, rotations, scales, shifts)
    one_by_one = np.concatenate([drawing_variations.affine_transformed_with(images[i:i + 1], rotations[i:i + 1], scales[i:i + 1],
                                                                  shifts[i:i + 1]) for i in (0, drawing_variations.CHUNK, len(images) - 1)])
    np.testing.assert_array_equal(whole[[0, drawing_variations.CHUNK, len(images) - 1]], one_by_one)


def test_augmentation_renders_in_place_the_pixels_each_rendering_gives_on_its_own():
    images = np.random.default_rng(4).random((drawing_variations.CHUNK + 300, 28, 28)).astype(np.float32)
    augmented = augmented_images(images, np.random.default_rng(5), DEFAULT_AUGMENTATION)
    rng = np.random.default_rng(5)  # the same draws, in augmented_images' order
    count = len(images)
    chosen, stroke = rng.random(count) < 0.5, rng.random(count)
    rotations, scales, shifts = rng.uniform(-20, 20, count), rng.uniform(0.85, 1.15, count), rng.uniform(-2, 2, (count, 2))
    expected = images.copy()
    expected[chosen] = affine_transformed_with(images[chosen], rotations[chosen], scales[chosen], shifts[chosen])
    thick, thin = stroke < 0.25, (stroke >= 0.25) & (stroke < 0.5)
    expected[thick], expected[thin] = thickened(expected[thick]), thinned(expected[thin])
    np.testing.assert_array_equal(augmented, expected)
    assert augmented.dtype == np.float32
