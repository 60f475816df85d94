"""self_labelling: the classifiers that learn the image concepts from the learner's own pseudo-labels
(images) and from the images each recording was seen with (recordings)."""

import numpy as np
import pytest

from digit_concepts.core import params, runtime
from digit_concepts.concepts import self_labelling

SETTINGS = params.SelfLabellingSettings(epochs=3, batch_size=16, learning_rate=3.0e-3, filters=[4, 8], dense_units=16)
NO_AUGMENTATION = params.DrawingAugmentation(affine_probability=0.0, thicken_probability=0.0, thin_probability=0.0,
                                             max_rotation_degrees=0.0, scale_range=(1.0, 1.0), max_shift_pixels=0.0)


def bars(count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Vertical (concept 0) or horizontal (concept 1) bars at random places: two concepts."""
    images, concepts = np.zeros((count, 28, 28), np.float32), rng.integers(0, 2, count)
    for image, concept, place in zip(images, concepts, rng.integers(6, 22, count)):
        if concept == 0:
            image[4:24, place - 1:place + 2] = 1.0
        else:
            image[place - 1:place + 2, 4:24] = 1.0
    return images, concepts


def test_the_classifier_gives_one_logit_per_concept_and_normalised_log_posteriors():
    keras = runtime.keras_with_seed(0)
    model = self_labelling.classifier(keras, 7, SETTINGS)
    logits = model.predict(np.zeros((3, 28, 28), np.float32), verbose=0)
    assert logits.shape == (3, 7)
    log_posteriors = self_labelling.log_posteriors_of(logits)
    np.testing.assert_allclose(np.exp(log_posteriors).sum(axis=1), 1.0)


def test_it_learns_the_pseudo_labels_and_names_new_images_seeded():
    images, concepts = bars(96, np.random.default_rng(0))
    model = self_labelling.train_classifier(images=images, concepts=concepts, count=2, settings=SETTINGS,
                                            augmentation=NO_AUGMENTATION, seed=1)
    fresh, truth = bars(40, np.random.default_rng(1))
    named = self_labelling.log_posteriors(model, fresh).argmax(axis=1)
    assert (named == truth).mean() >= 0.9
    again = self_labelling.train_classifier(images=images, concepts=concepts, count=2, settings=SETTINGS,
                                            augmentation=NO_AUGMENTATION, seed=1)
    np.testing.assert_array_equal(self_labelling.log_posteriors(again, fresh), self_labelling.log_posteriors(model, fresh))


def test_pseudo_labels_must_match_the_images():
    images, concepts = bars(10, np.random.default_rng(0))
    with pytest.raises(ValueError, match="10 images but 9 concepts"):
        self_labelling.train_classifier(images=images, concepts=concepts[:9], count=2, settings=SETTINGS,
                                        augmentation=NO_AUGMENTATION, seed=1)


AUDIO_SETTINGS = params.AudioSelfLabellingSettings(epochs=6, batch_size=16, learning_rate=3.0e-3, noise_stddev=0.1,
                                                   filters=[4, 4], kernel=3, dense_units=16, dropout=0.0)


def test_a_recordings_targets_are_the_shares_of_the_image_concepts_it_was_seen_with():
    image_concepts = np.array([0, 1, 1, 2])
    # Recording 0 seen with images 0, 1, 2 (concepts 0, 1, 1); recording 1 with image 3; recording 2 never.
    shares = self_labelling.partner_concept_shares(image_concepts, np.array([0, 1, 2, 3]), np.array([0, 0, 0, 1]),
                                                   3, 3)
    np.testing.assert_allclose(shares, [[1 / 3, 2 / 3, 0.0], [0.0, 0.0, 1.0], [1 / 3, 1 / 3, 1 / 3]], rtol=1e-6)
    assert shares.dtype == np.float32
    with pytest.raises(ValueError, match="3 train recordings"):
        self_labelling.partner_concept_shares(image_concepts, np.array([0]), np.array([3]), 3, 3)
    with pytest.raises(ValueError, match="2 episode images but 1 recordings"):
        self_labelling.partner_concept_shares(image_concepts, np.array([0, 1]), np.array([0]), 3, 3)


def rising_or_falling(count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(count, 6 features, 8 frames): a feature row that rises over time (concept 0) or falls (1), in noise."""
    concepts = rng.integers(0, 2, count)
    ramps = np.where(concepts[:, None] == 0, np.linspace(-1, 1, 8), np.linspace(1, -1, 8))
    recordings = 0.3 * rng.standard_normal((count, 6, 8))
    recordings[:, 2] += 2.0 * ramps
    return recordings.astype(np.float32), concepts


def test_the_audio_classifier_learns_its_partners_concepts_from_recordings_and_views_seeded():
    recordings, concepts = rising_or_falling(80, np.random.default_rng(0))
    views = np.stack([recordings + 0.1 * np.random.default_rng(view).standard_normal(recordings.shape).astype(
        np.float32) for view in (1, 2)])
    shares = np.eye(2, dtype=np.float32)[concepts]
    model = self_labelling.train_audio_classifier(recordings, views, shares, AUDIO_SETTINGS, seed=1)
    fresh, truth = rising_or_falling(40, np.random.default_rng(3))
    log_posteriors = self_labelling.log_posteriors(model, fresh)
    assert log_posteriors.shape == (40, 2)
    assert (log_posteriors.argmax(axis=1) == truth).mean() >= 0.9
    again = self_labelling.train_audio_classifier(recordings, views, shares, AUDIO_SETTINGS, seed=1)
    np.testing.assert_array_equal(self_labelling.log_posteriors(again, fresh), log_posteriors)


def test_the_audio_classifier_refuses_views_or_targets_of_other_recordings():
    recordings, concepts = rising_or_falling(10, np.random.default_rng(0))
    shares = np.eye(2, dtype=np.float32)[concepts]
    with pytest.raises(ValueError, match="10 recordings, 9 target rows"):
        self_labelling.train_audio_classifier(recordings, recordings[None], shares[:9], AUDIO_SETTINGS, seed=1)
    with pytest.raises(ValueError, match="the views must be"):
        self_labelling.train_audio_classifier(recordings, recordings[None, :5], shares, AUDIO_SETTINGS, seed=1)
