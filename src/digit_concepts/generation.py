"""Imagination: new samples of every concept, and one sense's sample made from the other's."""

import numpy as np


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


def translate(brain_map, decoder, source_codes: np.ndarray) -> np.ndarray:
    """Cross-modal generation: source codes -> brain module -> target codes -> target decoder."""
    return decode(decoder, brain_map.predict(source_codes, batch_size=1024, verbose=0))

