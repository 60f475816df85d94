"""self_labelling: the classifier that learns the image concepts from the learner's own pseudo-labels."""

import numpy as np
import pytest

from digit_concepts import runtime, self_labelling

SETTINGS = {"epochs": 3, "batch_size": 16, "learning_rate": 3.0e-3, "filters": [4, 8], "dense_units": 16}
NO_AUGMENTATION = {"affine_probability": 0.0, "thicken_probability": 0.0, "thin_probability": 0.0,
                   "max_rotation_degrees": 0.0, "scale_range": [1.0, 1.0], "max_shift_pixels": 0.0}


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
    model = self_labelling.train_classifier(images, concepts, 2, SETTINGS, NO_AUGMENTATION, seed=1)
    fresh, truth = bars(40, np.random.default_rng(1))
    named = self_labelling.log_posteriors(model, fresh).argmax(axis=1)
    assert (named == truth).mean() >= 0.9
    again = self_labelling.train_classifier(images, concepts, 2, SETTINGS, NO_AUGMENTATION, seed=1)
    np.testing.assert_array_equal(self_labelling.log_posteriors(again, fresh), self_labelling.log_posteriors(model, fresh))


def test_pseudo_labels_must_match_the_images():
    images, concepts = bars(10, np.random.default_rng(0))
    with pytest.raises(ValueError, match="10 images but 9 concepts"):
        self_labelling.train_classifier(images, concepts[:9], 2, SETTINGS, NO_AUGMENTATION, seed=1)
