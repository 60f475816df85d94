"""Stage convergence: zones, fused accuracy with attention, generation and its coherence."""

import numpy as np
import pandas as pd

from digit_concepts import (autoencoders, brain, evaluation_classifiers, generation, paths, relations,
                            scoring, storage, zones)
from digit_concepts.params import IMAGINATION_ROUTES, load
from digit_concepts.standardisation import Standardiser

SENSES = ("image", "audio")


def main() -> None:
    params = load()
    settings, seed = params["convergence"], params["seed"]
    assignments = storage.read_npz(paths.CLUSTER_ASSIGNMENTS)
    streams = storage.read_npz(paths.EPISODES)
    codes = storage.read_npz(paths.ENCODINGS)
    gaussians = storage.read_npz(paths.CLUSTER_MODELS)
    counts = pd.read_csv(paths.COOCCURRENCE).drop(columns="image_concept").to_numpy()

    # Zones: over-clustered audio clusters merge into concepts through their best image partner.
    audio_concept_of_cluster = relations.merge_by_partner(counts)
    table = zones.concept_table(counts, audio_concept_of_cluster, settings["min_strength"], settings["min_share"],
                                settings["max_entropy_bits"])

    decision = zones.fused_decision(*zones.episode_log_posteriors(codes, assignments, gaussians, streams),
                                    relations.image_given_audio(counts))
    print(f"calibration: image temperature {decision.image_temperature:.2f}, audio temperature "
          f"{decision.audio_temperature:.2f} (validation-episode agreement log-likelihood {decision.validation_agreement:.4f})",
          flush=True)

    rng = np.random.default_rng(seed)
    standardiser = Standardiser.fit(codes["audio_train"])  # where recordings are near each other
    neighbours = params["adaptation"]["batch_neighbours"]
    features = {split: standardiser.apply(codes[f"audio_{split}"]) for split in ("train", "validation", "test")}
    # The image concept each recording is named (as relate names it): what the concept route imagines.
    named = {split: relations.name_recordings_through_images(assignments[f"audio_{split}_log_posteriors"], counts,
                                                             features[split], neighbours, features["train"])
             for split in ("validation", "test")}
    decoders = {sense: autoencoders.load_halves(paths.autoencoder_model(sense), seed)[1] for sense in SENSES}
    brain_maps = {direction: brain.load_map(paths.brain_model(direction), seed) for direction in brain.DIRECTIONS}
    imagined = generation.imagine(decoders, brain_maps, gaussians, relations.audio_given_image(counts).argmax(axis=1),
                                  codes["image_test"], settings["samples_per_concept"],
                                  settings["generation_temperature"], rng)

    samples = {"image": storage.read_npz(paths.IMAGES), "audio": storage.read_npz(paths.SPECTROGRAMS)}
    digits = {sense: {split: scoring.load_digits(sense, split) for split in ("train", "validation", "test")}
              for sense in SENSES}
    # Images for recordings by both routes, on validation (where the route is chosen) and test; the
    # route in params is shown and is coherence_audio_to_image.
    other_images = {}
    for split, prefix in (("validation", "validation_"), ("test", "")):
        for route in IMAGINATION_ROUTES:
            images = generation.images_from_recordings(
                route, decoders["image"], brain_maps["audio_to_image"], gaussians, codes[f"audio_{split}"],
                named[split], features[split], features["train"], neighbours, settings["generation_temperature"],
                np.random.default_rng([seed, 5, IMAGINATION_ROUTES.index(route)]))
            other_images[f"{prefix}coherence_audio_to_image_{route}"] = (images, digits["audio"][split])
    imagined["audio_to_image"] = other_images[f"coherence_audio_to_image_{settings['imagine_images_from']}"][0]
    coherence = evaluation_classifiers.coherence_scores(samples, digits, imagined,
                                                        settings["evaluation_classifier_epochs"], seed, other_images)
    test_digits = scoring.episode_digits("test")
    metrics = {
        "fused_acc": scoring.hungarian_accuracy(decision.concepts, test_digits),
        "fused_acc_uncalibrated": scoring.hungarian_accuracy(decision.uncalibrated_concepts, test_digits),
        "validation_fused_acc": scoring.hungarian_accuracy(decision.validation_concepts,
                                                           scoring.episode_digits("validation")),
        "calibration_temperature_image": decision.image_temperature,
        "calibration_temperature_audio": decision.audio_temperature,
        "coherence_image_to_audio": coherence.pop("coherence_image_to_audio"),
        "coherence_audio_to_image": coherence.pop("coherence_audio_to_image"),
        **zones.zone_counts(table),
        "n_audio_concepts_merged": int(len(np.unique(audio_concept_of_cluster))),
        **coherence,
    }

    examples = settings["cross_modal_examples"]
    image_to_audio, audio_to_image = imagined["image_to_audio"], imagined["audio_to_image"]
    image_examples = rng.choice(len(image_to_audio), size=min(examples, len(image_to_audio)), replace=False)
    audio_examples = rng.choice(len(audio_to_image), size=min(examples, len(audio_to_image)), replace=False)
    storage.write_csv(paths.CONCEPT_TABLE, table)
    storage.write_npz(paths.ATTENTION, image_weight=decision.image_weight, audio_weight=decision.audio_weight,
                      fused_concept=decision.concepts, episode_image_index=streams["test_image_index"],
                      episode_audio_index=streams["test_audio_index"])
    storage.write_npz(paths.GENERATED, concept_images=imagined["concept_images"],
                      concept_spectrograms=imagined["concept_spectrograms"],
                      image_to_audio_source_index=image_examples, image_to_audio_sources=samples["image"]["test"][image_examples],
                      image_to_audio_spectrograms=image_to_audio[image_examples],
                      audio_to_image_source_index=audio_examples, audio_to_image_sources=samples["audio"]["test"][audio_examples],
                      audio_to_image_images=audio_to_image[audio_examples])
    storage.write_json(paths.CONVERGENCE_METRICS, metrics)
    print(", ".join(f"{name} {value:.3f}" for name, value in metrics.items()))


if __name__ == "__main__":
    from digit_concepts.stage_runner import run

    run(main, __file__)
