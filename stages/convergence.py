"""Stage convergence: zones, fused accuracy with attention, generation and its coherence."""

import numpy as np
import pandas as pd

from digit_concepts import autoencoders, brain, clustering, evaluation_classifiers, generation, paths, relations, scoring, storage, zones
from digit_concepts.params import load


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

    # Fusion on test episodes. Image posteriors come from each concept's Gaussian in the code
    # space (a UMAP mixture is ~100% sure even of its mistakes); audio evidence is carried over to
    # image concepts through P(image | audio). Both are first calibrated, label-free, on the train
    # episodes: the temperatures that make each sense best predict its partner.
    image_sizes = np.bincount(assignments["image_train"], minlength=gaussians["image_means"].shape[0])

    def image_log_posteriors(split):
        return clustering.gaussian_log_posteriors(codes[f"image_{split}"], gaussians["image_means"],
                                                  gaussians["image_covariances"], image_sizes)[streams[f"{split}_image_index"]]

    image_given_audio = relations.image_given_audio(counts)
    image_temperature, audio_temperature, agreement = zones.calibrate(
        image_log_posteriors("train"), assignments["audio_train_held_out_log_posteriors"][streams["train_audio_index"]],
        image_given_audio)
    print(f"calibration: image temperature {image_temperature:.2f}, audio temperature {audio_temperature:.2f} "
          f"(train-episode agreement log-likelihood {agreement:.4f})", flush=True)
    test_image, test_audio = image_log_posteriors("test"), assignments["audio_test_log_posteriors"][streams["test_audio_index"]]
    fused, image_weight, audio_weight = zones.fuse(zones.temper(test_image, image_temperature),
                                                   zones.temper(test_audio, audio_temperature) @ image_given_audio.T)
    uncalibrated, _, _ = zones.fuse(zones.temper(test_image, 1.0), zones.temper(test_audio, 1.0) @ image_given_audio.T)

    # Generation: concept samples and cross-modal translation through the brain module.
    rng = np.random.default_rng(seed)
    _, image_decoder = autoencoders.load_halves(paths.autoencoder_model("image"), seed)
    _, audio_decoder = autoencoders.load_halves(paths.autoencoder_model("audio"), seed)
    image_concepts = np.arange(gaussians["image_means"].shape[0])
    partner_clusters = relations.audio_given_image(counts).argmax(axis=1)
    per_concept, temperature = settings["samples_per_concept"], settings["generation_temperature"]
    concept_images = generation.decode(image_decoder, generation.sample_concepts(
        gaussians["image_means"], gaussians["image_covariances"], image_concepts, per_concept, temperature, rng))
    concept_spectrograms = generation.decode(audio_decoder, generation.sample_concepts(
        gaussians["audio_means"], gaussians["audio_covariances"], partner_clusters, per_concept, temperature, rng))
    image_to_audio = generation.translate(brain.load_map(paths.brain_model("image_to_audio"), seed), audio_decoder,
                                          codes["image_test"])
    audio_to_image = generation.translate(brain.load_map(paths.brain_model("audio_to_image"), seed), image_decoder,
                                          codes["audio_test"])

    # Coherence, scored by evaluation-only classifiers trained on train labels.
    images, spectrograms = storage.read_npz(paths.IMAGES), storage.read_npz(paths.SPECTROGRAMS)
    image_digits, audio_digits = scoring.load_digits("image", "test"), scoring.load_digits("audio", "test")
    image_classifier = evaluation_classifiers.train_classifier(images["train"], scoring.load_digits("image", "train"), "image", seed)
    audio_classifier = evaluation_classifiers.train_classifier(spectrograms["train"], scoring.load_digits("audio", "train"), "audio", seed)
    metrics = {
        "fused_acc": scoring.hungarian_accuracy(fused, scoring.episode_digits("test")),
        "fused_acc_uncalibrated": scoring.hungarian_accuracy(uncalibrated, scoring.episode_digits("test")),
        "calibration_temperature_image": image_temperature,
        "calibration_temperature_audio": audio_temperature,
        "coherence_image_to_audio": scoring.coherence(evaluation_classifiers.classify(audio_classifier, image_to_audio), image_digits),
        "coherence_audio_to_image": scoring.coherence(evaluation_classifiers.classify(image_classifier, audio_to_image), audio_digits),
        **zones.zone_counts(table),
        "n_audio_concepts_merged": int(len(np.unique(audio_concept_of_cluster))),
        "evaluation_classifier_acc_image": scoring.coherence(evaluation_classifiers.classify(image_classifier, images["test"]), image_digits),
        "evaluation_classifier_acc_audio": scoring.coherence(evaluation_classifiers.classify(audio_classifier, spectrograms["test"]), audio_digits),
    }

    examples = settings["cross_modal_examples"]
    image_examples = rng.choice(len(image_to_audio), size=min(examples, len(image_to_audio)), replace=False)
    audio_examples = rng.choice(len(audio_to_image), size=min(examples, len(audio_to_image)), replace=False)
    storage.write_csv(paths.CONCEPT_TABLE, table)
    storage.write_npz(paths.ATTENTION, image_weight=image_weight, audio_weight=audio_weight, fused_concept=fused,
                      episode_image_index=streams["test_image_index"], episode_audio_index=streams["test_audio_index"])
    storage.write_npz(paths.GENERATED, concept_images=concept_images, concept_spectrograms=concept_spectrograms,
                      image_to_audio_source_index=image_examples, image_to_audio_sources=images["test"][image_examples],
                      image_to_audio_spectrograms=image_to_audio[image_examples],
                      audio_to_image_source_index=audio_examples, audio_to_image_sources=spectrograms["test"][audio_examples],
                      audio_to_image_images=audio_to_image[audio_examples])
    storage.write_json(paths.CONVERGENCE_METRICS, metrics)
    print(", ".join(f"{name} {value:.3f}" for name, value in metrics.items()))


if __name__ == "__main__":
    main()
