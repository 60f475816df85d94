"""Stage convergence: zones, fused accuracy with attention, generation and its coherence."""

import numpy as np
import pandas as pd

from digit_concepts.senses import autoencoders
from digit_concepts.crossmodal import brain, fusion, generation, relations, zones
from digit_concepts.evaluation import coherence_classifiers, scoring
from digit_concepts.core import paths, storage
from digit_concepts.concepts.familiarity import Familiarity
from digit_concepts.core.standardisation import Standardiser
from digit_concepts.concepts.adaptation import batch_neighbours_for, recording_features
from digit_concepts.core.evidence import Bootstrap
from digit_concepts.core.params import load

SENSES = ("image", "audio")


def main() -> None:
    params = load()
    settings, seed = params.convergence, params.seed
    assignments = storage.read_npz(paths.CLUSTER_ASSIGNMENTS)
    streams = storage.read_npz(paths.EPISODES)
    codes = storage.read_npz(paths.ENCODINGS)
    gaussians = storage.read_npz(paths.CLUSTER_MODELS)
    counts = pd.read_csv(paths.COOCCURRENCE).drop(columns="image_concept").to_numpy()

    # Zones: over-clustered audio clusters merge into concepts through their best image partner.
    audio_concept_of_cluster = relations.merge_by_partner(counts)
    table = zones.concept_table(counts, audio_concept_of_cluster, settings.min_strength, settings.min_share,
                                settings.max_entropy_bits, settings.divergence_alpha)

    image_by_classifier = storage.read_json(paths.LEARNER_SETTINGS)["image"]["classifier"]  # self-labelling
    decision = fusion.fused_decision(*fusion.episode_log_posteriors(codes, assignments, gaussians, streams,
                                                                    image_by_classifier),
                                    relations.image_given_audio(counts))
    print(f"calibration: image temperature {decision.image_temperature:.2f}, audio temperature "
          f"{decision.audio_temperature:.2f} (validation-episode agreement log-likelihood {decision.validation_agreement:.4f})",
          flush=True)

    rng = np.random.default_rng(seed)
    most = params.adaptation.batch_neighbours
    features = recording_features(codes, ("train", "validation", "test"))  # where recordings are near each other
    # How many neighbours each split's recordings may borrow from: no more than the batch holds of one concept.
    neighbours = {split: batch_neighbours_for(len(features[split]), counts.shape[0], most)
                  for split in ("validation", "test")}
    # The image concept each recording is named (as relate names it): what the concept route imagines.
    named = {split: relations.name_recordings_through_images(assignments[f"audio_{split}_log_posteriors"], counts,
                                                             features[split], neighbours[split], features["train"],
                                                             assignments.get(f"audio_{split}_taught_log_posteriors"))
             for split in ("validation", "test")}
    decoders = {sense: autoencoders.load_halves(paths.autoencoder_model(sense), seed)[1] for sense in SENSES}
    brain_maps = {direction: brain.load_map(paths.brain_model(direction), seed) for direction in brain.DIRECTIONS}
    imagined = generation.imagine(decoders, brain_maps, gaussians, relations.audio_given_image(counts).argmax(axis=1),
                                  codes["image_test"], settings.samples_per_concept,
                                  settings.generation_temperature, rng)

    samples = {"image": storage.read_npz(paths.IMAGES), "audio": storage.read_npz(paths.SPECTROGRAMS)}
    digits = {sense: {split: scoring.load_digits(sense, split) for split in ("train", "validation", "test")}
              for sense in SENSES}
    # Images for recordings by every route, on validation (where the route is chosen) and test; the
    # route in params is shown and is coherence_audio_to_image.
    other_images = {f"{prefix}coherence_audio_to_image_{route}": (images, digits["audio"][split])
                    for split, prefix in (("validation", "validation_"), ("test", ""))
                    for route, images in generation.images_by_route(
                        decoders["image"], brain_maps["audio_to_image"], gaussians, codes[f"audio_{split}"],
                        named[split], features[split], features["train"], neighbours[split],
                        settings.generation_temperature, seed).items()}
    imagined["audio_to_image"] = other_images[f"coherence_audio_to_image_{settings.imagine_images_from}"][0]
    # How unlike the train samples a validation sample gets: what flags a new one as unfamiliar.
    errors = {f"{sense}_{split}": autoencoders.sample_errors(samples[sense][split], decoders[sense].predict(
                  codes[f"{sense}_{split}"], batch_size=1024, verbose=0), binary=False)["mse"]
              for sense in SENSES for split in ("validation", "test")}
    references = {sense: Familiarity.calibrate(Standardiser.fit(codes[f"{sense}_train"]), codes[f"{sense}_train"],
                                               codes[f"{sense}_validation"], errors[f"{sense}_validation"],
                                               settings.unfamiliar_share) for sense in SENSES}
    bootstrap = Bootstrap.from_params(params)  # 95% intervals over the scored samples
    coherence = coherence_classifiers.coherence_scores(samples=samples, digits=digits, imagined=imagined,
                                                        epochs=settings.evaluation_classifier_epochs, seed=seed,
                                                        other_images=other_images, bootstrap=bootstrap)
    metrics = {
        **scoring.fused_scores(decision, scoring.episode_digits("test"), scoring.episode_digits("validation"),
                               bootstrap),
        "coherence_image_to_audio": coherence.pop("coherence_image_to_audio"),
        "coherence_audio_to_image": coherence.pop("coherence_audio_to_image"),
        **zones.zone_counts(table),
        "n_audio_concepts_merged": int(len(np.unique(audio_concept_of_cluster))),
        **coherence,
        # The share of test digits flagged unfamiliar: the calibration checked (about unfamiliar_share).
        **{f"unfamiliar_share_test_{sense}": float(reference.unfamiliar(
            reference.of(codes[f"{sense}_test"], errors[f"{sense}_test"])).mean()) for sense, reference in references.items()},
    }

    generated = generation.report_examples(imagined, samples["image"]["test"], samples["audio"]["test"],
                                           settings.cross_modal_examples, rng)
    storage.write_csv(paths.CONCEPT_TABLE, table)
    storage.write_npz(paths.ATTENTION, image_weight=decision.image_weight, audio_weight=decision.audio_weight,
                      fused_concept=decision.concepts, episode_image_index=streams["test_image_index"],
                      episode_audio_index=streams["test_audio_index"])
    storage.write_npz(paths.GENERATED, **generated)
    storage.write_npz(paths.FAMILIARITY, **{name: values for sense, reference in references.items()
                                            for name, values in reference.arrays(sense).items()})
    storage.write_json(paths.CONVERGENCE_METRICS, metrics)
    print(", ".join(f"{name} {value:.3f}" for name, value in metrics.items() if not isinstance(value, dict)))


if __name__ == "__main__":
    from digit_concepts.core.stage_runner import run

    run(main, __file__)
