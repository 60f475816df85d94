"""What the convergence stage computes: zones, the fused decision with its attention, what is
imagined by every route, how unfamiliar each sense's samples are, and the scores of it all."""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from digit_concepts.concepts.adaptation import batch_neighbours_for, recording_features
from digit_concepts.concepts.familiarity import Familiarity
from digit_concepts.core import paths, storage
from digit_concepts.core.evidence import Bootstrap
from digit_concepts.core.sense import AUDIO, IMAGE, SENSES, SplitArrays
from digit_concepts.core.standardisation import Standardiser
from digit_concepts.crossmodal import brain, fusion, generation, relations, zones
from digit_concepts.evaluation import coherence_classifiers, scoring
from digit_concepts.evaluation.scoring import Labels
from digit_concepts.senses import autoencoders

BATCHES = ("validation", "test")  # the splits whose recordings come as a batch of new ones


@dataclass(frozen=True)
class Inputs:
    """Everything the convergence stage reads."""

    assignments: SplitArrays  # the cluster stage's concepts and log posteriors
    streams: SplitArrays  # the episodes
    codes: SplitArrays
    gaussians: dict  # each concept's Gaussian in code space
    counts: np.ndarray  # co-occurrence: image concepts x audio clusters, over the train episodes
    image_by_classifier: bool  # whether the self-labelled classifier names new images
    decoders: dict  # sense name -> its autoencoder's decoder
    brain_maps: dict  # direction -> the brain module's map
    samples: dict  # sense name -> split -> what the sense shows (images, log-mels)
    labels: Labels


def read_inputs(seed: int) -> Inputs:
    return Inputs(
        assignments=SplitArrays.read(paths.CLUSTER_ASSIGNMENTS), streams=SplitArrays.read(paths.EPISODES),
        codes=SplitArrays.read(paths.ENCODINGS), gaussians=storage.read_npz(paths.CLUSTER_MODELS),
        counts=pd.read_csv(paths.COOCCURRENCE).drop(columns="image_concept").to_numpy(),
        image_by_classifier=storage.read_json(paths.LEARNER_SETTINGS)[IMAGE.name]["classifier"],
        decoders={sense.name: autoencoders.load_halves(paths.autoencoder_model(sense.name), seed)[1]
                  for sense in SENSES},
        brain_maps={direction: brain.load_map(paths.brain_model(direction), seed) for direction in brain.DIRECTIONS},
        samples={sense.name: storage.read_npz(sense.shown) for sense in SENSES}, labels=Labels.read())


@dataclass(frozen=True)
class Zones:
    """The per-concept table of convergence and divergence zones, and the concept each audio
    cluster merges into through its best image partner."""

    table: pd.DataFrame
    audio_concept_of_cluster: np.ndarray


def zones_of(counts: np.ndarray, settings: dict) -> Zones:
    """Over-clustered audio clusters merge into concepts through their best image partner
    (params ``convergence``: the zones' thresholds)."""
    audio_concept_of_cluster = relations.merge_by_partner(counts)
    return Zones(zones.concept_table(counts, audio_concept_of_cluster, settings["min_strength"],
                                     settings["min_share"], settings["max_entropy_bits"],
                                     settings["divergence_alpha"]), audio_concept_of_cluster)


def fused_decision(*, codes: SplitArrays, assignments: SplitArrays, gaussians: dict, streams: SplitArrays,
                   counts: np.ndarray, image_by_classifier: bool) -> fusion.FusedDecision:
    """Both senses' episode posteriors, calibrated on validation and fused on test."""
    decision = fusion.fused_decision(*fusion.episode_log_posteriors(
        codes.arrays, assignments.arrays, gaussians, streams.arrays, image_by_classifier),
        relations.image_given_audio(counts))
    print(f"calibration: image temperature {decision.image_temperature:.2f}, audio temperature "
          f"{decision.audio_temperature:.2f} (validation-episode agreement log-likelihood "
          f"{decision.validation_agreement:.4f})", flush=True)
    return decision


def attention(decision: fusion.FusedDecision, streams: SplitArrays) -> dict[str, np.ndarray]:
    """Each test episode's fused concept and the weight each sense had in it."""
    return {"image_weight": decision.image_weight, "audio_weight": decision.audio_weight,
            "fused_concept": decision.concepts, "episode_image_index": streams.episode_index(IMAGE, "test"),
            "episode_audio_index": streams.episode_index(AUDIO, "test")}


@dataclass(frozen=True)
class Batches:
    """The validation and test recordings as batches: where recordings are near each other
    (``features``, train too), how many neighbours each split's recordings may borrow from, and
    the image concept each is named (as relate names it)."""

    features: dict
    neighbours: dict
    named: dict


def recording_batches(assignments: SplitArrays, codes: SplitArrays, counts: np.ndarray, most: int) -> Batches:
    """``most``: params adaptation.batch_neighbours; no more than the batch holds of one concept."""
    features = recording_features(codes.arrays, ("train", *BATCHES))
    neighbours = {split: batch_neighbours_for(len(features[split]), counts.shape[0], most) for split in BATCHES}
    named = {split: relations.name_split_recordings(assignments, counts, features, split, neighbours[split])
             for split in BATCHES}
    return Batches(features, neighbours, named)


@dataclass(frozen=True)
class Imagination:
    """What was imagined: ``imagined`` (generation.imagine's samples, and ``audio_to_image``, an
    image for every test recording by the route in params), ``other_images`` (images for the
    validation and test recordings by every route, each with its sources' digits, keyed by the
    name of its coherence score) and ``generated`` (what the report shows of it)."""

    imagined: dict
    other_images: dict
    generated: dict


def imagination(*, decoders: dict, brain_maps: dict, gaussians: dict, counts: np.ndarray, codes: SplitArrays,
                batches: Batches, samples: dict, labels: Labels, settings: dict, seed: int) -> Imagination:
    """New samples of every concept, a sound for every test image and an image for every
    recording by every route (params ``convergence``), and the report's examples of them."""
    rng = np.random.default_rng(seed)  # the concepts' samples, then the report's examples
    imagined = generation.imagine(decoders, brain_maps, gaussians,
                                  relations.audio_given_image(counts).argmax(axis=1), codes.of(IMAGE, "test"),
                                  settings["samples_per_concept"], settings["generation_temperature"], rng)
    other_images = images_for_recordings(image_decoder=decoders[IMAGE.name], brain_map=brain_maps["audio_to_image"],
                                         gaussians=gaussians, codes=codes, batches=batches, labels=labels,
                                         temperature=settings["generation_temperature"], seed=seed)
    # The route in params is shown, and is coherence_audio_to_image.
    imagined = {**imagined, "audio_to_image": other_images[
        f"coherence_audio_to_image_{settings['imagine_images_from']}"][0]}
    generated = generation.report_examples(imagined, samples[IMAGE.name]["test"], samples[AUDIO.name]["test"],
                                           settings["cross_modal_examples"], rng)
    return Imagination(imagined, other_images, generated)


def images_for_recordings(*, image_decoder, brain_map, gaussians: dict, codes: SplitArrays, batches: Batches,
                          labels: Labels, temperature: float, seed: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Images for recordings by every route, on validation (where the route is chosen) and test,
    each with its sources' digits: ``{<prefix>coherence_audio_to_image_<route>: (images, digits)}``."""
    return {f"{prefix}coherence_audio_to_image_{route}": (images, labels.of(AUDIO, split))
            for split, prefix in (("validation", "validation_"), ("test", ""))
            for route, images in generation.images_by_route(
                image_decoder, brain_map, gaussians, codes.of(AUDIO, split), batches.named[split],
                batches.features[split], batches.features["train"], batches.neighbours[split], temperature,
                seed).items()}


def coherence(*, samples: dict, labels: Labels, imagined: Imagination, epochs: dict, seed: int,
              bootstrap: Bootstrap | None) -> dict:
    """How often what was imagined is classified as its source's digit, by classifiers trained on
    real samples (``epochs``: params convergence.evaluation_classifier_epochs)."""
    return coherence_classifiers.coherence_scores(samples, labels.digits, imagined.imagined, epochs, seed,
                                                  imagined.other_images, bootstrap)


def reconstruction_errors(decoders: dict, codes: SplitArrays, samples: dict) -> dict[str, dict[str, np.ndarray]]:
    """Each validation and test sample's reconstruction error (MSE), per sense name and split."""
    return {sense.name: {split: autoencoders.sample_errors(samples[sense.name][split], decoders[sense.name].predict(
                codes.of(sense, split), batch_size=1024, verbose=0), binary=False)["mse"] for split in BATCHES}
            for sense in SENSES}


def familiarity_references(codes: SplitArrays, errors: dict, unfamiliar_share: float) -> dict[str, Familiarity]:
    """How unlike the train samples a validation sample gets, per sense name: what flags a new
    one as unfamiliar (``unfamiliar_share`` of validation samples are)."""
    return {sense.name: Familiarity.calibrate(Standardiser.fit(codes.of(sense, "train")), codes.of(sense, "train"),
                                              codes.of(sense, "validation"), errors[sense.name]["validation"],
                                              unfamiliar_share) for sense in SENSES}


def unfamiliar_shares(references: dict[str, Familiarity], codes: SplitArrays, errors: dict) -> dict[str, float]:
    """The share of test digits flagged unfamiliar, per sense: the calibration checked (about
    the share it was calibrated to)."""
    return {f"unfamiliar_share_test_{sense.name}": float(references[sense.name].unfamiliar(references[sense.name].of(
        codes.of(sense, "test"), errors[sense.name]["test"])).mean()) for sense in SENSES}


@dataclass(frozen=True)
class Unfamiliarity:
    """Each sense's familiarity reference (by sense name), and the share of its test samples flagged."""

    references: dict[str, Familiarity]
    test_shares: dict[str, float]  # metric name -> share

    def arrays(self) -> dict[str, np.ndarray]:
        """Every sense's reference as arrays, as the tool reads them."""
        return {name: values for sense, reference in self.references.items()
                for name, values in reference.arrays(sense).items()}


def unfamiliarity(*, decoders: dict, codes: SplitArrays, samples: dict, unfamiliar_share: float) -> Unfamiliarity:
    """What flags a new sample as unfamiliar (params convergence.unfamiliar_share), and its check on test."""
    errors = reconstruction_errors(decoders, codes, samples)
    references = familiarity_references(codes, errors, unfamiliar_share)
    return Unfamiliarity(references, unfamiliar_shares(references, codes, errors))


def metrics(*, decision: fusion.FusedDecision, coherence: dict, concept_zones: Zones, unfamiliar: Unfamiliarity,
            labels: Labels, streams: SplitArrays, bootstrap: Bootstrap | None) -> dict:
    """The stage's metrics: the fused decision's, both ways' coherence first, the zones, the rest
    of the coherence scores and the unfamiliar shares."""
    headline = ("coherence_image_to_audio", "coherence_audio_to_image")
    return {
        **scoring.fused_scores(decision, labels.of_episodes(streams, "test"), labels.of_episodes(streams, "validation"),
                               bootstrap),
        **{name: coherence[name] for name in headline},
        **zones.zone_counts(concept_zones.table),
        "n_audio_concepts_merged": int(len(np.unique(concept_zones.audio_concept_of_cluster))),
        **{name: value for name, value in coherence.items() if name not in headline},
        **unfamiliar.test_shares,
    }


def summary(metrics: dict) -> str:
    return ", ".join(f"{name} {value:.3f}" for name, value in metrics.items() if not isinstance(value, dict))
