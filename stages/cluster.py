"""Stage cluster: concepts of each sense, and of the joint (paired) episodes, with scores."""

import numpy as np
import pandas as pd

from digit_concepts import clustering, paths, scoring, storage
from digit_concepts.params import load


def main() -> None:
    params = load()
    settings, seed = params["cluster"], params["seed"]
    sample = settings["silhouette_sample"]
    codes = storage.read_npz(paths.ENCODINGS)
    streams = storage.read_npz(paths.EPISODES)
    outputs, models, metrics, trials = {}, {}, {}, []

    for sense in ("image", "audio"):
        print(f"clustering {sense} codes ({settings[sense]['algorithm']}, reduction {settings[sense]['reduction']})", flush=True)
        result = clustering.cluster_codes(codes[f"{sense}_train"], codes[f"{sense}_test"], settings[sense], sample, seed)
        for split in ("train", "test"):
            outputs[f"{sense}_{split}"] = getattr(result, f"{split}_assignments")
            outputs[f"{sense}_{split}_posteriors"] = getattr(result, f"{split}_posteriors").astype(np.float32)
        n_clusters = result.train_posteriors.shape[1]
        models[f"{sense}_means"], models[f"{sense}_covariances"] = clustering.concept_gaussians(
            codes[f"{sense}_train"], result.train_assignments, n_clusters)
        metrics[sense] = scoring.cluster_scores(result.test_assignments, scoring.load_digits(sense, "test"),
                                                result.test_features, sample, seed)
        trials += [{"space": sense, "k": k, "score": score} for k, score in result.trials]

    print("clustering joint episode codes", flush=True)
    joint = {split: clustering.paired_codes(codes[f"image_{split}"], codes[f"audio_{split}"],
                                            streams[f"{split}_image_index"], streams[f"{split}_audio_index"])
             for split in ("train", "test")}
    result = clustering.cluster_codes(joint["train"], joint["test"], settings["joint"], sample, seed)
    outputs["joint_train"], outputs["joint_test"] = result.train_assignments, result.test_assignments
    metrics["joint"] = scoring.cluster_scores(result.test_assignments, scoring.episode_digits("test"),
                                              result.test_features, sample, seed)
    trials += [{"space": "joint", "k": k, "score": score} for k, score in result.trials]

    storage.write_npz(paths.CLUSTER_ASSIGNMENTS, **outputs)
    storage.write_npz(paths.CLUSTER_MODELS, **models)
    storage.write_csv(paths.CLUSTER_CHOICE, pd.DataFrame(trials, columns=["space", "k", "score"]))
    storage.write_json(paths.CLUSTER_METRICS, metrics)
    for space, scores in metrics.items():
        print(f"{space}: " + ", ".join(f"{name} {value:.3f}" for name, value in scores.items()))


if __name__ == "__main__":
    main()
