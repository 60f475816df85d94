"""Imagination: new samples of every concept, and one sense's sample made from the other's."""

import numpy as np

from digit_concepts.concepts.adaptation import pooled
from digit_concepts.core.params import IMAGINATION_ROUTES


def sample_concepts(means: np.ndarray, covariances: np.ndarray, concepts: np.ndarray, per_concept: int,
                    temperature: float, rng: np.random.Generator) -> np.ndarray:
    """Latent codes drawn around each listed concept's Gaussian; shape (len(concepts), per_concept, dim)."""
    draws = []
    for concept in concepts:
        # Cholesky of a covariance estimated from few members may fail: fall back to its diagonal.
        try:
            factor = np.linalg.cholesky(covariances[concept])
        except np.linalg.LinAlgError:
            factor = np.diag(np.sqrt(np.clip(np.diag(covariances[concept]), 0.0, None)))
        noise = rng.standard_normal((per_concept, means.shape[1]))
        draws.append(means[concept] + temperature * noise @ factor.T)
    return np.stack(draws).astype(np.float32)


def decode(decoder, codes: np.ndarray) -> np.ndarray:
    """Decode codes of any leading shape."""
    flat = codes.reshape(-1, codes.shape[-1])
    decoded = decoder.predict(flat, batch_size=1024, verbose=0)
    return decoded.reshape(codes.shape[:-1] + decoded.shape[1:])


def batch_neighbour_means(values: np.ndarray, batch_features: np.ndarray, neighbours: int,
                          train_features: np.ndarray) -> np.ndarray:
    """Each row averaged with the rows of the batch members it may borrow from
    (``adaptation.batch_neighbourhoods``); 0 neighbours: unchanged."""
    values = np.asarray(values)
    if len(values) != len(batch_features):
        raise ValueError(f"need one feature row per value, got {len(batch_features)} rows for {len(values)}")
    if neighbours == 0:
        return values
    sums, counts = pooled(values, batch_features, neighbours, train_features)
    return (sums / counts).astype(values.dtype)


def translate(brain_map, decoder, source_codes: np.ndarray, batch_features: np.ndarray | None = None,
              neighbours: int = 0, train_features: np.ndarray | None = None) -> np.ndarray:
    """Cross-modal generation: source codes -> brain module -> target codes -> target decoder.

    With ``neighbours``, each translated code is first averaged with those of the batch members it
    may borrow from (``adaptation``): a new voice's recording is imagined from what it and the
    recordings it sounds like say together."""
    translated = brain_map.predict(source_codes, batch_size=1024, verbose=0)
    if neighbours:
        translated = batch_neighbour_means(translated, batch_features, neighbours, train_features)
    return decode(decoder, translated)



def imagine_from_concepts(decoder, means: np.ndarray, covariances: np.ndarray, concepts: np.ndarray,
                          temperature: float, rng: np.random.Generator) -> np.ndarray:
    """One sample per source, drawn around the Gaussian of the concept the source was named:
    what the learner understood, shown in the other sense. A new voice's translated code may land
    between concepts even when its name is right; a draw from the named concept cannot."""
    return decode(decoder, sample_concepts(means, covariances, np.asarray(concepts), 1, temperature, rng)[:, 0])


def imagine(decoders: dict, brain_maps: dict, gaussians: dict, partner_clusters: np.ndarray, test_image_codes: np.ndarray,
            per_concept: int, temperature: float, rng: np.random.Generator) -> dict:
    """New samples of every image concept (images) and of its best audio partner (log-mels), and
    a sound for every test image (brain module, audio decoder). Images for recordings:
    ``images_from_recordings``.

    ``decoders`` are keyed by sense, ``brain_maps`` by direction (``image_to_audio``, ``audio_to_image``).
    """
    image_concepts = np.arange(gaussians["image_means"].shape[0])
    return {
        "concept_images": decode(decoders["image"], sample_concepts(
            gaussians["image_means"], gaussians["image_covariances"], image_concepts, per_concept, temperature, rng)),
        "concept_spectrograms": decode(decoders["audio"], sample_concepts(
            gaussians["audio_means"], gaussians["audio_covariances"], partner_clusters, per_concept, temperature, rng)),
        "image_to_audio": translate(brain_maps["image_to_audio"], decoders["audio"], test_image_codes),
    }


def images_from_recordings(route: str, image_decoder, brain_map, gaussians: dict, codes: np.ndarray,
                           named_concepts: np.ndarray, batch_features: np.ndarray, train_features: np.ndarray,
                           batch_neighbours: int, temperature: float, rng: np.random.Generator) -> np.ndarray:
    """An image for every recording of a batch, by ``route`` (params convergence.imagine_images_from):
    ``brain``, the brain module's translation of its code pooled with up to ``batch_neighbours``
    batch members' (``translate``); ``concept``, a draw from the image concept it was named
    (``named_concepts``; ``imagine_from_concepts``)."""
    if route == "brain":
        return translate(brain_map, image_decoder, codes, batch_features, batch_neighbours, train_features)
    if route == "concept":
        return imagine_from_concepts(image_decoder, gaussians["image_means"], gaussians["image_covariances"],
                                     named_concepts, temperature, rng)
    raise ValueError(f"convergence.imagine_images_from must be brain or concept, got {route!r}")


def images_by_route(image_decoder, brain_map, gaussians: dict, codes: np.ndarray, named_concepts: np.ndarray,
                    batch_features: np.ndarray, train_features: np.ndarray, batch_neighbours: int, temperature: float,
                    seed: int) -> dict[str, np.ndarray]:
    """Images for a batch of recordings by every route of ``params.IMAGINATION_ROUTES``
    (``images_from_recordings``), each route drawing from a random stream of its own."""
    return {route: images_from_recordings(route, image_decoder, brain_map, gaussians, codes, named_concepts,
                                          batch_features, train_features, batch_neighbours, temperature,
                                          np.random.default_rng([seed, 5, IMAGINATION_ROUTES.index(route)]))
            for route in IMAGINATION_ROUTES}


def report_examples(imagined: dict, test_images: np.ndarray, test_spectrograms: np.ndarray, count: int,
                    rng: np.random.Generator) -> dict[str, np.ndarray]:
    """What the report shows of the imagination: the concepts' samples, and ``count`` random test
    images and recordings (drawn in that order from ``rng``) beside what was imagined from them."""
    image_to_audio, audio_to_image = imagined["image_to_audio"], imagined["audio_to_image"]
    image_examples = rng.choice(len(image_to_audio), size=min(count, len(image_to_audio)), replace=False)
    audio_examples = rng.choice(len(audio_to_image), size=min(count, len(audio_to_image)), replace=False)
    return {"concept_images": imagined["concept_images"], "concept_spectrograms": imagined["concept_spectrograms"],
            "image_to_audio_source_index": image_examples, "image_to_audio_sources": test_images[image_examples],
            "image_to_audio_spectrograms": image_to_audio[image_examples],
            "audio_to_image_source_index": audio_examples, "audio_to_image_sources": test_spectrograms[audio_examples],
            "audio_to_image_images": audio_to_image[audio_examples]}
