"""Stage cluster: concepts of each sense, and of the joint (paired) episodes, with scores.

Audio is clustered first: with ``k_selection: cooccurrence`` the number of image concepts
is chosen by how well they fit the audio clusters over the train episodes (label-free).
"""

import numpy as np
import pandas as pd

from digit_concepts import clustering, paths, relations, scoring, storage, transfer, voices
from digit_concepts.params import check_cluster_sizes, load, train_sample_counts


def alone_outputs(train_concepts, test_concepts, train_voices, test_voices) -> dict:
    return {"audio_alone_train": train_concepts, "audio_alone_test": test_concepts,
            "audio_voice_train": train_voices, "audio_voice_test": test_voices}


def audio_alone(codes: dict, config: dict, sample: int, seed: int,
                fitting: clustering.Fitting) -> tuple[dict, list, dict]:
    """Scores, k trials and assignments of the audio codes clustered on their own, at k given
    (voice-aware unless voices.count_selection is none; then the voices are all 0)."""
    digits = {split: scoring.load_digits("audio", split) for split in ("train", "test")}
    voice_config = config["voices"]
    if voice_config["count_selection"] == "none":
        result = clustering.cluster_codes(codes["audio_train"], codes["audio_test"], config, sample, seed,
                                          fitting=fitting)
        scores = scoring.cluster_scores(result.test_assignments, digits["test"], result.test_features, sample, seed,
                                        result.train_assignments, digits["train"])
        one_voice = [np.zeros(len(codes[f"audio_{split}"]), np.int64) for split in ("train", "test")]
        return ({**scores, "n_clusters": result.train_posteriors.shape[1]}, result.trials,
                alone_outputs(result.train_assignments, result.test_assignments, *one_voice))
    descriptors = storage.read_npz(paths.VOICE_DESCRIPTORS)
    result = voices.voice_aware_concepts(codes["audio_train"], codes["audio_test"], descriptors["train"],
                                         descriptors["test"], config, voice_config, sample, seed, fitting)
    scores = scoring.cluster_scores(result.test_assignments, digits["test"], result.centred_test_codes, sample, seed,
                                    result.train_assignments, digits["train"])
    # Speakers score the voices found, as digits score the concepts: neither is seen before this.
    scores.update(n_clusters=int(config["k"]), voices=result.voice_count,
                  voice_speaker_ari=scoring.adjusted_rand(scoring.load_speakers("test"), result.test_voices),
                  acc_without_alignment=scoring.hungarian_accuracy(result.unaligned_test_assignments, digits["test"]))
    return scores, [], alone_outputs(result.train_assignments, result.test_assignments, result.train_voices,
                                     result.test_voices)


def transfer_scores(image_model: clustering.SenseModel, outputs: dict) -> dict:
    """Validation and test digits drawn differently (affine, thicker, thinner), named by the learner
    as clean ones are: accuracy with each concept meaning the digit it means for the clean split."""
    views = storage.read_npz(paths.TRANSFER_ENCODINGS)
    scores = {}
    for split, prefix in (("test", "image_"), ("validation", "validation_image_")):
        digits = scoring.load_digits("image", split)
        for view in transfer.TRANSFER_VIEW_NAMES:
            _, log_posteriors = image_model.place(views[f"{split}_{view}"])
            scores[f"{prefix}{view}_acc"] = scoring.accuracy_under_mapping_of(
                outputs[f"image_{split}"], digits, log_posteriors.argmax(axis=1), digits)
    return scores


def main() -> None:
    params = load()
    # Before minutes of work: every k, k_range and voice count must fit the train samples.
    check_cluster_sizes(params, train_sample_counts(paths.IMAGE_METADATA, paths.AUDIO_METADATA))
    settings, seed = params["cluster"], params["seed"]
    sample = settings["silhouette_sample"]
    codes = storage.read_npz(paths.ENCODINGS)
    streams = storage.read_npz(paths.EPISODES)
    fitting = clustering.Fitting.from_params(settings)
    outputs, models, metrics, trials = {}, {}, {}, []
    learner, learner_settings = {}, {}  # what the tool needs to place a new sample as a test one

    def partner_score(image_assignments: np.ndarray) -> float:
        return relations.concept_consistency(image_assignments[streams["train_image_index"]],
                                             outputs["audio_train"][streams["train_audio_index"]],
                                             settings["cooccurrence_uncertainty_weight"])

    for sense in ("audio", "image"):
        config = settings[sense]
        print(f"clustering {sense} codes ({config['algorithm']}, reduction {config['reduction']}, "
              f"k {config['k'] if config['k_selection'] == 'fixed' else 'by ' + config['k_selection']})", flush=True)
        result = clustering.cluster_codes(codes[f"{sense}_train"], codes[f"{sense}_test"], config, sample, seed,
                                          partner_score if sense == "image" else None, fitting,
                                          settings["umap_transform_neighbors"])
        learner.update(result.model.arrays(sense))
        learner[f"{sense}_train_sizes"] = np.bincount(result.train_assignments, minlength=result.train_posteriors.shape[1])
        if sense == "audio":  # test-time adaptation compares new recordings with the train ones (adaptation.py)
            learner["audio_train_features"] = result.model.standardiser.apply(codes["audio_train"])
        learner_settings[sense] = {"reduction": config["reduction"], "algorithm": config["algorithm"],
                                   "n_clusters": int(result.train_posteriors.shape[1])}
        # Validation codes take the test path: convergence calibrates on them, choices are scored on them.
        _, validation_log_posteriors = result.model.place(codes[f"{sense}_validation"])
        outputs[f"{sense}_train"], outputs[f"{sense}_test"] = result.train_assignments, result.test_assignments
        outputs[f"{sense}_validation"] = validation_log_posteriors.argmax(axis=1)
        # Logs, so that convergence can still soften them (calibration).
        outputs[f"{sense}_validation_log_posteriors"] = validation_log_posteriors.astype(np.float32)
        outputs[f"{sense}_test_log_posteriors"] = result.test_log_posteriors.astype(np.float32)
        n_clusters = result.train_posteriors.shape[1]
        models[f"{sense}_means"], models[f"{sense}_covariances"] = clustering.concept_gaussians(
            codes[f"{sense}_train"], result.train_assignments, n_clusters)
        metrics[sense] = scoring.cluster_scores(result.test_assignments, scoring.load_digits(sense, "test"),
                                                result.test_features, sample, seed, result.train_assignments,
                                                scoring.load_digits(sense, "train"))
        metrics[sense]["n_clusters"] = n_clusters  # fitted on train; a few may go unused on test
        if sense == "image":
            transfer_metrics = transfer_scores(result.model, outputs)
        if sense == "image":  # audio's 300 clusters are scored named through images (relate)
            metrics[sense]["validation_acc"] = scoring.hungarian_accuracy(outputs[f"{sense}_validation"],
                                                                          scoring.load_digits(sense, "validation"))
        trials += [{"space": sense, "k": k, "score": score} for k, score in result.trials]

    reference_config = settings["audio_reference"]
    print(f"audio alone ({reference_config['algorithm']}, reduction {reference_config['reduction']}, "
          f"k {reference_config['k']}; reference, scored only)", flush=True)
    metrics["audio_reference"], reference_trials, reference_assignments = audio_alone(codes, reference_config,
                                                                                      sample, seed, fitting)
    trials += [{"space": "audio_reference", "k": k, "score": score} for k, score in reference_trials]

    print("clustering joint episode codes", flush=True)
    splits = ("train", "test")
    joint = clustering.paired_codes({split: codes[f"image_{split}"] for split in splits},
                                    {split: codes[f"audio_{split}"] for split in splits},
                                    {split: streams[f"{split}_image_index"] for split in splits},
                                    {split: streams[f"{split}_audio_index"] for split in splits})
    result = clustering.cluster_codes(joint["train"], joint["test"], settings["joint"], sample, seed, fitting=fitting)
    outputs["joint_train"], outputs["joint_test"] = result.train_assignments, result.test_assignments
    metrics["joint"] = scoring.cluster_scores(result.test_assignments, scoring.episode_digits("test"),
                                              result.test_features, sample, seed, result.train_assignments,
                                              scoring.episode_digits("train"))
    trials += [{"space": "joint", "k": k, "score": score} for k, score in result.trials]

    storage.write_npz(paths.CLUSTER_ASSIGNMENTS, **outputs)
    storage.write_npz(paths.AUDIO_ALONE, **reference_assignments)  # scored only: nothing downstream decides on it
    storage.write_npz(paths.LEARNER_ARRAYS, **learner)
    storage.write_json(paths.LEARNER_SETTINGS, learner_settings)
    storage.write_npz(paths.CLUSTER_MODELS, **models)
    storage.write_csv(paths.CLUSTER_CHOICE, pd.DataFrame(trials, columns=["space", "k", "score"]))
    storage.write_json(paths.CLUSTER_METRICS, metrics)
    storage.write_json(paths.TRANSFER_METRICS, transfer_metrics)
    for space, scores in metrics.items():
        print(f"{space}: " + ", ".join(f"{name} {value:.3f}" for name, value in scores.items()))


if __name__ == "__main__":
    from digit_concepts.stage_runner import run

    run(main, __file__)
