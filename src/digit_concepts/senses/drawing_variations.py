"""Digits drawn differently: seeded affine transforms and thicker or thinner strokes (numpy/scipy).

Two uses. ``transfer_views`` renders a batch the three ways the image concepts are checked
against (do the concepts still hold when the same digits are tilted, scaled, shifted, or written
with another pen?). ``augmented_images`` draws such renderings at random while the image
autoencoder trains, so that its codes learn to ignore what the renderings vary.

Images are (n, height, width) arrays in [0, 1], ink bright on a dark background (MNIST).
"""

import functools

import numpy as np
from scipy import ndimage

from digit_concepts.core.params import DrawingAugmentation
from digit_concepts.core.storage import aligned_empty

DEFAULT_AUGMENTATION = DrawingAugmentation(
    affine_probability=0.5,     # share of images given a random affine transform
    thicken_probability=0.25,   # share given thicker strokes (grey dilation 3x3)
    thin_probability=0.25,      # share given thinner strokes (grey erosion 2x2); never with thicken
    max_rotation_degrees=20.0,
    scale_range=(0.85, 1.15),
    max_shift_pixels=2.0,
)


CHUNK = 1024  # images per map_coordinates call (affine_transformed_with)


def _checked_images(images: np.ndarray) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(f"images must be a (n, height, width) array, got shape {images.shape}")
    if not np.issubdtype(images.dtype, np.number):
        raise ValueError(f"images must be numeric, got dtype {images.dtype}")
    return images


def _checked_ranges(max_rotation_degrees: float, scale_range, max_shift_pixels: float) -> tuple[float, float]:
    if not np.isfinite(max_rotation_degrees) or max_rotation_degrees < 0:
        raise ValueError(f"max_rotation_degrees must be finite and >= 0, got {max_rotation_degrees}")
    if not np.isfinite(max_shift_pixels) or max_shift_pixels < 0:
        raise ValueError(f"max_shift_pixels must be finite and >= 0, got {max_shift_pixels}")
    if len(scale_range) != 2:
        raise ValueError(f"scale_range must be (lowest, highest), got {scale_range!r}")
    lowest, highest = float(scale_range[0]), float(scale_range[1])
    if not (np.isfinite(lowest) and np.isfinite(highest)) or lowest <= 0 or highest < lowest:
        raise ValueError(f"scale_range must satisfy 0 < lowest <= highest, got {scale_range!r}")
    return lowest, highest


def affine_matrix_and_offset(rotation_degrees: float, scale: float, shift_pixels: tuple[float, float],
                             shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The (matrix, offset) that ``scipy.ndimage.affine_transform`` needs to rotate an image by
    ``rotation_degrees`` (counter-clockwise as displayed), scale it by ``scale`` about its centre,
    then shift it by ``shift_pixels`` (rows down, columns right).

    affine_transform maps each output pixel back to where it is read in the input, so the
    forward transform ``output = scale * rotation @ (input - centre) + centre + shift`` is inverted.
    """
    if scale <= 0:
        raise ValueError(f"scale must be > 0, got {scale}")
    angle = np.deg2rad(rotation_degrees)
    cosine, sine = np.cos(angle), np.sin(angle)
    # On (row, column) coordinates with rows pointing down, this turns the image counter-clockwise.
    rotation = np.array([[cosine, -sine], [sine, cosine]])
    centre = (np.asarray(shape, dtype=np.float64) - 1.0) / 2.0
    matrix = rotation.T / scale  # inverse of scale * rotation (a rotation's inverse is its transpose)
    offset = centre - matrix @ (centre + np.asarray(shift_pixels, dtype=np.float64))
    return matrix, offset


def affine_transformed(images: np.ndarray, rng: np.random.Generator, max_rotation_degrees: float = 20.0,
                       scale_range: tuple[float, float] = (0.85, 1.15), max_shift_pixels: float = 2.0) -> np.ndarray:
    """Each image through its own random affine transform about its centre: rotation uniform in
    +-max_rotation_degrees, scale uniform in scale_range, shift uniform in +-max_shift_pixels per
    axis. Bilinear, zero outside the image; float32 in [0, 1], same shape."""
    images = _checked_images(images)
    lowest, highest = _checked_ranges(max_rotation_degrees, scale_range, max_shift_pixels)
    count = len(images)
    # Drawn in one go, in a fixed order, so a seed gives the same transforms whatever else happens.
    rotations = rng.uniform(-max_rotation_degrees, max_rotation_degrees, count)
    scales = rng.uniform(lowest, highest, count)
    shifts = rng.uniform(-max_shift_pixels, max_shift_pixels, (count, 2))
    return affine_transformed_with(images, rotations, scales, shifts)


def affine_transformed_with(images: np.ndarray, rotations_degrees, scales, shifts_pixels) -> np.ndarray:
    """Image i rotated by rotations_degrees[i] (counter-clockwise as displayed), scaled by scales[i]
    about its centre, then shifted by shifts_pixels[i] = (rows down, columns right); see
    ``affine_matrix_and_offset``. The same as ``scipy.ndimage.affine_transform`` (order 1, zero
    outside) image by image, but in one ``map_coordinates`` call over the batch, as the per-call
    overhead dominates on 28x28 images. Float32 in [0, 1], same shape."""
    images = _checked_images(images)
    count, height, width = images.shape
    rotations = np.asarray(rotations_degrees, dtype=np.float64)
    scales = np.asarray(scales, dtype=np.float64)
    shifts = np.asarray(shifts_pixels, dtype=np.float64)
    if rotations.shape != (count,) or scales.shape != (count,) or shifts.shape != (count, 2):
        raise ValueError(f"need one rotation, scale and (row, column) shift per image for {count} images, got "
                         f"shapes {rotations.shape}, {scales.shape} and {shifts.shape}")
    if not (np.isfinite(rotations).all() and np.isfinite(scales).all() and np.isfinite(shifts).all()):
        raise ValueError("rotations, scales and shifts must be finite")
    if np.any(scales <= 0):
        raise ValueError(f"scales must be > 0, got minimum {scales.min()}")
    rendered = np.empty(images.shape, dtype=np.float32)
    _affine_into(rendered, images, np.arange(count), rotations, scales, shifts)
    return rendered


def _affine_into(rendered: np.ndarray, images: np.ndarray, rows: np.ndarray, rotations: np.ndarray,
                 scales: np.ndarray, shifts: np.ndarray) -> None:
    """``rendered[rows[i]]`` = ``images[rows[i]]`` through transform i, clipped to [0, 1]
    (``rendered`` may be ``images``: each row is read whole before it is written). Chunks of
    CHUNK rows, each transformed on its own, so the pixels do not depend on the chunking; small
    chunks keep the coordinate arrays in cache (5x faster on 25,000 digits) and run on every core."""
    if len(rows) > CHUNK:
        import os
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(min(os.cpu_count() or 1, 4)) as pool:
            list(pool.map(lambda start: _affine_into(rendered, images, rows[start:start + CHUNK],
                                                     rotations[start:start + CHUNK], scales[start:start + CHUNK],
                                                     shifts[start:start + CHUNK]),
                          range(0, len(rows), CHUNK)))
        return
    count, (height, width) = len(rows), images.shape[1:]
    if count == 0:
        return
    rows_grid, columns = np.meshgrid(np.arange(height, dtype=np.float64), np.arange(width, dtype=np.float64),
                                     indexing="ij")
    output_points = np.stack([rows_grid.ravel(), columns.ravel()])  # (2, pixels)
    # affine_matrix_and_offset for every image at once (same formulas, batched).
    angles = np.deg2rad(rotations)
    cosines, sines = np.cos(angles), np.sin(angles)
    matrices = np.stack([np.stack([cosines, sines], axis=1), np.stack([-sines, cosines], axis=1)], axis=1)
    matrices /= scales[:, None, None]
    centre = (np.array([height, width], dtype=np.float64) - 1.0) / 2.0
    offsets = centre - np.einsum("nij,nj->ni", matrices, centre + shifts)
    source = np.einsum("nij,jp->nip", matrices, output_points) + offsets[:, :, None]  # (count, 2, pixels)
    _bilinear_kernel()(images, np.ascontiguousarray(rows, dtype=np.int64), np.ascontiguousarray(source), rendered)


@functools.cache
def _bilinear_kernel():
    """``kernel(images, rows, source, rendered)``: rendered[rows[i]] = image rows[i] read at
    source[i, :, p] (row, column) for every pixel p, bilinear, 0 outside the image, clipped to
    [0, 1]: the arithmetic of ``scipy.ndimage.map_coordinates`` (order 1, mode constant) term by
    term in float64, then ``np.clip`` and a cast to ``rendered``'s type, so the pixels are the same
    to the bit (tests/test_drawing_variations.py compares them), without its per-point overhead
    (about 4x faster), its float64 copy of the images or its temporaries. Compiled once by numba
    (UMAP's own dependency) and cached beside this file; it releases the GIL, so chunks run on every core."""
    import numba

    @numba.njit(cache=True, nogil=True)
    def kernel(images, rows, source, rendered):  # pragma: no cover - compiled
        height, width = images.shape[1], images.shape[2]
        values = np.empty(height * width)
        for index in range(len(rows)):
            image = rows[index]
            for point in range(height * width):
                row, column = source[index, 0, point], source[index, 1, point]
                if row < 0.0 or row > height - 1 or column < 0.0 or column > width - 1:
                    values[point] = 0.0  # mode constant: no interpolation beyond the edges
                    continue
                top, left = int(np.floor(row)), int(np.floor(column))
                down, right = row - top, column - left
                bottom, far = min(top + 1, height - 1), min(left + 1, width - 1)
                total = 0.0
                total += images[image, top, left] * ((1.0 - down) * (1.0 - right))
                total += images[image, top, far] * ((1.0 - down) * right)
                total += images[image, bottom, left] * (down * (1.0 - right))
                total += images[image, bottom, far] * (down * right)
                values[point] = total
            for point in range(height * width):  # the row read whole: now it may be overwritten
                value = values[point]
                if value < 0.0:
                    value = 0.0
                elif value > 1.0:
                    value = 1.0
                rendered[image, point // width, point % width] = value

    return kernel


def thickened(images: np.ndarray) -> np.ndarray:
    """Thicker strokes: grey dilation over 3x3 pixels of each image (never across images)."""
    images = _checked_images(images)
    return _clipped(ndimage.grey_dilation(images, size=(1, 3, 3)))


def thinned(images: np.ndarray) -> np.ndarray:
    """Thinner strokes: grey erosion over 2x2 pixels of each image (never across images)."""
    images = _checked_images(images)
    return _clipped(ndimage.grey_erosion(images, size=(1, 2, 2)))


def _clipped(drawn: np.ndarray) -> np.ndarray:
    """``drawn`` clipped to [0, 1] as float32, in place where it already is float32 (no copies)."""
    if drawn.dtype == np.float32:
        return np.clip(drawn, 0.0, 1.0, out=drawn)
    return np.clip(drawn, 0.0, 1.0).astype(np.float32)


TRANSFER_VIEW_NAMES = ("affine", "thick", "thin")


def transfer_views(images: np.ndarray, seed: int, max_rotation_degrees: float = 20.0,
                   scale_range: tuple[float, float] = (0.85, 1.15),
                   max_shift_pixels: float = 2.0) -> dict[str, np.ndarray]:
    """The three renderings the concepts are checked against, keyed by TRANSFER_VIEW_NAMES:
    'affine' (one seeded random transform per image), 'thick' and 'thin'."""
    rng = np.random.default_rng(seed)
    return {"affine": affine_transformed(images, rng, max_rotation_degrees, scale_range, max_shift_pixels),
            "thick": thickened(images), "thin": thinned(images)}


def augmented_images(images: np.ndarray, rng: np.random.Generator,
                     settings: DrawingAugmentation = DEFAULT_AUGMENTATION) -> np.ndarray:
    """A random rendering of each image, for training: with ``affine_probability`` a random affine
    transform (the settings' ranges); then, independently, thicker strokes with ``thicken_probability``
    or else thinner ones with ``thin_probability``. The rest stay as they are, so the clean digits
    are still learnt. Float32 in [0, 1], same shape; the same rng state gives the same images."""
    images = _checked_images(images)
    count = len(images)
    # All random numbers first, in a fixed order: the result depends only on the rng state.
    transform_chosen = rng.random(count) < settings.affine_probability
    stroke_draw = rng.random(count)
    lowest, highest = _checked_ranges(settings.max_rotation_degrees, settings.scale_range, settings.max_shift_pixels)
    rotations = rng.uniform(-settings.max_rotation_degrees, settings.max_rotation_degrees, count)
    scales = rng.uniform(lowest, highest, count)
    shifts = rng.uniform(-settings.max_shift_pixels, settings.max_shift_pixels, (count, 2))

    # Drawn into a 64-byte-aligned array, which a TensorFlow tensor shares without a copy (autoencoders.tensor_of).
    augmented = aligned_empty(images.shape, np.float32)
    if images.dtype == np.float32:
        np.clip(images, 0.0, 1.0, out=augmented)
    else:
        augmented[...] = np.clip(images, 0.0, 1.0)
    # In place: no copies of the chosen rows in and out.
    _affine_into(augmented, augmented, np.flatnonzero(transform_chosen), rotations[transform_chosen],
                 scales[transform_chosen], shifts[transform_chosen])
    thicken = stroke_draw < settings.thicken_probability
    thin = ~thicken & (stroke_draw < settings.thicken_probability + settings.thin_probability)
    if thicken.any():
        augmented[thicken] = thickened(augmented[thicken])
    if thin.any():
        augmented[thin] = thinned(augmented[thin])
    return augmented


def augmentation(settings: DrawingAugmentation):
    """``augment(images, rng)`` drawing the renderings ``settings`` (params image_ae.augmentation)
    asks for, or None when it asks for none."""
    if settings.affine_probability == 0 and settings.thicken_probability == 0 and settings.thin_probability == 0:
        return None
    return lambda images, rng: augmented_images(images, rng, settings)
