"""Imagination: new samples of every concept, and one sense's sample made from the other's."""

import numpy as np

from .adaptation import pooled


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



def imagine(decoders: dict, brain_maps: dict, gaussians: dict, partner_clusters: np.ndarray, test_codes: dict,
            per_concept: int, temperature: float, rng: np.random.Generator,
            batch_neighbours: int = 0, recording_features: dict[str, np.ndarray] | None = None) -> dict:
    """Everything the learner imagines: new samples of every image concept (images) and of its
    best audio partner (log-mels), and each test sample carried into the other sense.

    ``decoders`` and ``test_codes`` are keyed by sense, ``brain_maps`` by direction
    (``image_to_audio``, ``audio_to_image``). Test recordings are translated with up to
    ``batch_neighbours`` fellow test recordings (``recording_features`` of the test and train
    recordings, keyed by split, say who is near whom).
    """
    image_concepts = np.arange(gaussians["image_means"].shape[0])
    return {
        "concept_images": decode(decoders["image"], sample_concepts(
            gaussians["image_means"], gaussians["image_covariances"], image_concepts, per_concept, temperature, rng)),
        "concept_spectrograms": decode(decoders["audio"], sample_concepts(
            gaussians["audio_means"], gaussians["audio_covariances"], partner_clusters, per_concept, temperature, rng)),
        "image_to_audio": translate(brain_maps["image_to_audio"], decoders["audio"], test_codes["image"]),
        "audio_to_image": translate(brain_maps["audio_to_image"], decoders["image"], test_codes["audio"],
                                    (recording_features or {}).get("test"), batch_neighbours,
                                    (recording_features or {}).get("train")),
    }
