"""generation: new samples of a concept, and images imagined for recordings by each route."""

import numpy as np
import pytest

from digit_concepts.crossmodal import generation


def test_concept_samples_stay_near_their_concept():
    means = np.array([[0.0, 0.0], [100.0, 100.0]])
    covariances = np.stack([np.eye(2), np.eye(2)])
    draws = generation.sample_concepts(means, covariances, np.array([1, 0]), 50, 0.5, np.random.default_rng(0))
    assert draws.shape == (2, 50, 2)
    assert np.abs(draws[0].mean(axis=0) - 100).max() < 0.5 and np.abs(draws[1].mean(axis=0)).max() < 0.5


def test_batch_neighbour_means_average_each_row_with_the_members_it_may_borrow_from():
    features = np.array([[0.0], [0.1], [5.0], [5.1]])
    far_train = np.array([[100.0]])
    values = np.array([[1.0, 0.0], [3.0, 0.0], [0.0, 2.0], [0.0, 4.0]], dtype=np.float32)
    np.testing.assert_allclose(generation.batch_neighbour_means(values, features, 1, far_train),
                               [[2.0, 0.0], [2.0, 0.0], [0.0, 3.0], [0.0, 3.0]])
    assert generation.batch_neighbour_means(values, features, 0, far_train) is values
    np.testing.assert_allclose(generation.batch_neighbour_means(values, features, 3, features), values)  # all heard
    with pytest.raises(ValueError, match="one feature row per value"):
        generation.batch_neighbour_means(values, features[:2], 1, far_train)


class _Identity:  # a decoder that shows the code itself
    def predict(self, codes, batch_size=None, verbose=0):
        return np.asarray(codes)


def test_images_imagined_from_concepts_are_draws_from_the_named_concept():
    means = np.array([[0.0, 0.0], [10.0, 10.0]])
    covariances = np.stack([np.eye(2)] * 2)
    concepts = np.array([1, 0, 1])
    exact = generation.imagine_from_concepts(_Identity(), means, covariances, concepts, 0.0, np.random.default_rng(0))
    np.testing.assert_allclose(exact, means[concepts])  # temperature 0: the concept's mean
    varied = generation.imagine_from_concepts(_Identity(), means, covariances, concepts, 0.5, np.random.default_rng(0))
    assert varied.shape == (3, 2) and not np.allclose(varied, means[concepts])
    assert (np.linalg.norm(varied - means[concepts], axis=1) < 3.0).all()  # near its own concept, far from the other
    again = generation.imagine_from_concepts(_Identity(), means, covariances, concepts, 0.5, np.random.default_rng(0))
    np.testing.assert_array_equal(varied, again)


class _Shift:  # a brain map that moves every code by +1
    def predict(self, codes, batch_size=None, verbose=0):
        return np.asarray(codes) + 1.0


def test_images_from_recordings_follow_the_route_asked_for():
    gaussians = {"image_means": np.array([[0.0, 0.0], [10.0, 10.0]]), "image_covariances": np.stack([np.eye(2)] * 2)}
    codes, named = np.array([[3.0, 3.0], [5.0, 5.0]]), np.array([1, 0])
    far_train = np.array([[100.0, 100.0]])

    def images(route, neighbours=0):
        return generation.images_from_recordings(route, _Identity(), _Shift(), gaussians, codes, named, codes, far_train,
                                                 neighbours, 0.0, np.random.default_rng(0))

    np.testing.assert_allclose(images("brain"), codes + 1.0)  # the translation of each code
    np.testing.assert_allclose(images("brain", 1), [[5.0, 5.0], [5.0, 5.0]])  # pooled with its batch neighbour
    np.testing.assert_allclose(images("concept"), gaussians["image_means"][named])  # the named concept
    with pytest.raises(ValueError, match="imagine_images_from must be brain or concept"):
        images("dream")
