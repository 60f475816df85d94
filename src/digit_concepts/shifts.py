"""Shifts: the same digits as another hand or another picture would give them, for the image
transfer proxies held out of training (issue 18).

Images ((n, 28, 28) in [0, 1], ink bright on dark), none of them among the image autoencoder's
augmentation families (affine, thicker, thinner):

- ``elastic``: Simard et al.'s elastic distortion (a random displacement field smoothed by a
  Gaussian of ``sigma`` pixels and scaled by ``alpha``);
- ``blurred``: a Gaussian blur;
- ``low_resolution``: down to ``side`` x ``side`` pixels and back (bilinear);
- ``large_picture``: the digit as a person's picture of it would be (112 x 112, dark ink on
  light paper), read back as the tool reads any picture (``user_files.mnist_form``: cropped to
  its ink, fitted into 20 x 20, centred by mass).

``held_out_views`` makes all four, seeded: the image transfer proxies that measure transfer,
beside the three the autoencoder trains on (``transfer.transfer_views``).
"""

import numpy as np
from scipy import ndimage

from .user_files import mnist_form

HELD_OUT_IMAGE_VIEWS = ("elastic", "blur", "low_resolution", "large_picture")
ELASTIC = {"alpha": 34.0, "sigma": 4.0}  # Simard et al.'s values for MNIST
BLUR_SIGMA = 1.0
LOW_SIDE = 8
LARGE_SIDE = 112


def _checked_images(images: np.ndarray) -> np.ndarray:
    images = np.asarray(images, dtype=np.float64)
    if images.ndim != 3:
        raise ValueError(f"images must be an (n, height, width) array, got shape {images.shape}")
    return images


def elastic(images: np.ndarray, alpha: float, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Simard et al. (2003): each pixel read from where a smooth random field moves it."""
    images = _checked_images(images)
    rows, columns = np.meshgrid(np.arange(images.shape[1]), np.arange(images.shape[2]), indexing="ij")
    distorted = np.empty_like(images)
    for index, image in enumerate(images):
        moves = [ndimage.gaussian_filter(rng.uniform(-1.0, 1.0, image.shape), sigma) * alpha for _ in range(2)]
        distorted[index] = ndimage.map_coordinates(image, [rows + moves[0], columns + moves[1]], order=1, mode="constant")
    return np.clip(distorted, 0.0, 1.0).astype(np.float32)


def blurred(images: np.ndarray, sigma: float) -> np.ndarray:
    """A Gaussian blur of ``sigma`` pixels."""
    return np.clip(ndimage.gaussian_filter(_checked_images(images), sigma=(0.0, sigma, sigma)), 0.0, 1.0).astype(np.float32)


def low_resolution(images: np.ndarray, side: int) -> np.ndarray:
    """Down to ``side`` x ``side`` pixels and back up (bilinear; smoothed first, as any resize
    that averages would, so that the small image does not alias)."""
    images = _checked_images(images)
    if not 2 <= side <= min(images.shape[1:]):
        raise ValueError(f"side must be between 2 and {min(images.shape[1:])} pixels, got {side}")
    factor = images.shape[1] / side, images.shape[2] / side
    smooth = ndimage.gaussian_filter(images, sigma=(0.0, factor[0] / 2.5, factor[1] / 2.5))
    small = ndimage.zoom(smooth, (1.0, 1.0 / factor[0], 1.0 / factor[1]), order=1, grid_mode=True, mode="nearest")
    back = ndimage.zoom(small, (1.0, images.shape[1] / small.shape[1], images.shape[2] / small.shape[2]), order=1,
                        grid_mode=True, mode="nearest")
    return np.clip(back, 0.0, 1.0).astype(np.float32)


def large_picture(image: np.ndarray, side: int = LARGE_SIDE) -> np.ndarray:
    """One digit drawn large, dark on light, and read back as the tool reads a picture."""
    image = np.asarray(image, dtype=np.float64)
    large = ndimage.zoom(image, side / image.shape[0], order=1, grid_mode=True, mode="nearest")
    return mnist_form(1.0 - np.clip(large, 0.0, 1.0))


def held_out_views(images: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """The four image shifts no training view resembles, keyed by HELD_OUT_IMAGE_VIEWS."""
    rng = np.random.default_rng([seed, 18])  # its own stream: the trained views' draws stay as they were
    return {"elastic": elastic(images, ELASTIC["alpha"], ELASTIC["sigma"], rng), "blur": blurred(images, BLUR_SIGMA),
            "low_resolution": low_resolution(images, LOW_SIDE),
            "large_picture": np.stack([large_picture(image) for image in _checked_images(images)]).astype(np.float32)}
