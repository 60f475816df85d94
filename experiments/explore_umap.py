"""Exploration (not a stage): how the image concepts depend on how their UMAP manifold is fitted.

Each variant is ``neighbour search:epochs`` (params cluster.umap_neighbour_search, cluster.umap_epochs;
epochs 0: UMAP's default, 200 here). On the committed pipeline's codes (data/encodings), for each
seed: the audio clusters, then the image concepts as the cluster stage finds them (k chosen by
co-occurrence), scored on the validation digits by their codes (Hungarian accuracy, as
``cluster.image.validation_acc_by_codes``; labels only score). One row per variant and seed: k,
validation accuracy, seconds of the image clustering (UMAP and the mixtures of every k).

Produced: docs/experiments.md, "cluster.umap_epochs", its table. Command, from the repository
root after a full `dvc repro`:

    PYTHONPATH=src .venv/bin/python experiments/explore_umap.py --seeds 42,1,2 --variants approximate:0,exact:100,approximate:100
"""

import argparse
import time

from digit_concepts.concepts import clustering
from digit_concepts.concepts.reduction import UmapFitting
from digit_concepts.core import paths
from digit_concepts.core.params import load
from digit_concepts.core.sense import AUDIO, IMAGE, SplitArrays
from digit_concepts.evaluation import scoring
from digit_concepts.evaluation.scoring import Labels
from digit_concepts.pipeline import cluster


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="42,1,2")
    parser.add_argument("--variants", default="approximate:0,exact:0,exact:100")
    arguments = parser.parse_args()
    params = load()
    codes, streams, labels = SplitArrays.read(paths.ENCODINGS), SplitArrays.read(paths.EPISODES), Labels.read()
    settings = params.cluster
    print("| variant | seed | k | validation acc (codes) | image clustering s |")
    print("|---|---|---|---|---|")
    for variant in arguments.variants.split(","):
        search, epochs = variant.split(":")
        for seed in (int(seed) for seed in arguments.seeds.split(",")):
            fitting = clustering.Fitting(settings.gmm_restarts, settings.gmm_reg_covar, settings.kmeans_restarts,
                                         settings.gmm_restart_choice, UmapFitting(int(epochs), search))
            placing = {"sample": settings.silhouette_sample, "transform_neighbours": settings.umap_transform_neighbors,
                       "seed": seed, "fitting": fitting}
            audio = cluster.sense_concepts(AUDIO, codes, settings.audio, **placing)
            started = time.perf_counter()
            image = cluster.sense_concepts(IMAGE, codes, settings.image, **placing, partner_score=cluster.partner_score(
                audio.clusters.train_assignments, streams, settings.cooccurrence_uncertainty_weight))
            seconds = time.perf_counter() - started
            accuracy = scoring.hungarian_accuracy(image.assignments()[IMAGE.key("validation")],
                                                  labels.of(IMAGE, "validation"))
            print(f"| {variant} | {seed} | {image.n_clusters} | {accuracy:.4f} | {seconds:.1f} |", flush=True)


if __name__ == "__main__":
    main()
