"""Exploration (not a stage): which restart of the image mixture is kept, judged on validation over seeds.

Produced: docs/experiments.md, section "Which restart of the image mixture", its table. Command,
from the repository root, on the seeds sweep of a commit that kept the likeliest restart (before
``cluster.gmm_restart_choice`` existed, or with it ``likelihood``):

    .venv/bin/python experiments/image_restarts_over_seeds.py --commit 76c40265ccfedfb4cd1948b03868f6461ff78e3f

For each seed's run it reads the image codes, the episodes and the audio clusters (DVC cache),
redoes the cluster stage's seeded UMAP, and picks the image concepts with
``gmm_restart_choice: cooccurrence`` (``clustering.discover``, as the stage would). The run's own
metrics are the ``likelihood`` side. Validation images are placed as the pipeline places them
(``NeighbourVote``) and scored by digit; test numbers are printed beside, never used.
"""

import argparse
import io
import json

import dvc.api
import numpy as np
from ruamel.yaml import YAML

from digit_concepts.concepts import clustering
from digit_concepts.crossmodal import relations
from digit_concepts.evaluation import scoring
from digit_concepts.core.params import load
from digit_concepts.concepts.reduction import NeighbourVote, reduce
from digit_concepts.core.standardisation import Standardiser


def load_yaml(text: str) -> dict:
    return YAML(typ="safe").load(text)


def read_npz(path: str, revision: str) -> dict:
    with dvc.api.open(path, rev=revision, mode="rb") as handle:
        return dict(np.load(io.BytesIO(handle.read()), allow_pickle=False))


def accuracy(train: np.ndarray, assignments: np.ndarray, k: int, codes: np.ndarray, digits: np.ndarray,
             neighbours: int) -> float:
    vote = NeighbourVote(train, assignments, k, neighbours)
    return scoring.hungarian_accuracy(vote.log_posteriors_of(*vote.nearest(codes)).argmax(axis=1), digits)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 1, 2, 3, 4])
    parser.add_argument("--commit", required=True, help="the commit whose seeds sweep is the likelihood side")
    arguments = parser.parse_args()
    cluster = load().cluster
    image = cluster.image
    fitting = clustering.Fitting(cluster.gmm_restarts, cluster.gmm_reg_covar, cluster.kmeans_restarts, "cooccurrence")
    commit = arguments.commit
    digits = {split: scoring.load_digits("image", split) for split in ("validation", "test")}
    results = {}
    for seed in arguments.seeds:
        revision = f"refs/exps/{commit[:2]}/{commit[2:]}/seed-{seed}"
        kept = load_yaml(dvc.api.read("params.yaml", rev=revision))["cluster"].get("gmm_restart_choice", "likelihood")
        if kept != "likelihood":
            raise ValueError(f"{revision}: cluster.gmm_restart_choice is {kept}; the likelihood side needs likelihood")
        committed = json.loads(dvc.api.read("metrics/cluster.json", rev=revision))["image"]
        codes = read_npz("data/encodings/codes.npz", revision)
        streams = read_npz("data/preprocessed/episodes.npz", revision)
        audio_train = read_npz("data/clusters/assignments.npz", revision)["audio_train"]
        standardiser = Standardiser.fit(codes["image_train"])
        train = standardiser.apply(codes["image_train"])
        manifold = reduce(train, "umap", image.reduced_dim, image.umap_neighbors, seed, keep_umap=False).train

        def partner_score(assignments):
            return relations.concept_consistency(assignments[streams["train_image_index"]],
                                                 audio_train[streams["train_audio_index"]],
                                                 cluster.cooccurrence_uncertainty_weight)

        chosen, trials = clustering.discover(manifold, "gmm", image.k, "cooccurrence", image.k_range,
                                             cluster.silhouette_sample, seed, partner_score, fitting)
        assignments = chosen.assign(manifold)
        k = chosen.centres.shape[0]
        scores = {split: accuracy(train, assignments, k, standardiser.apply(codes[f"image_{split}"]), digits[split],
                                  cluster.umap_transform_neighbors) for split in ("validation", "test")}
        results[seed] = {"likelihood": {"k": committed["n_clusters"], "validation_acc": committed["validation_acc"],
                                        "test_acc": committed["acc"]},
                         "cooccurrence": {"k": int(k), "score": max(score for _, score in trials),
                                          "validation_acc": scores["validation"], "test_acc": scores["test"]}}
        print(f"seed {seed}: {json.dumps(results[seed])}", flush=True)
    for rule in ("likelihood", "cooccurrence"):
        values = [results[seed][rule]["validation_acc"] for seed in arguments.seeds]
        print(f"{rule}: validation ACC mean {np.mean(values):.4f} sd {np.std(values, ddof=1):.4f} "
              f"({' '.join(f'{value:.4f}' for value in values)})")
    differences = [results[seed]["cooccurrence"]["validation_acc"] - results[seed]["likelihood"]["validation_acc"]
                   for seed in arguments.seeds]
    print(f"paired difference cooccurrence - likelihood: {np.mean(differences):+.4f} +- {np.std(differences, ddof=1):.4f}")
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
