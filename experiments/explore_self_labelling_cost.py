"""Exploration (not a stage): a cheaper self-labelling classifier, chosen on validation digits.

The committed run's train image concepts (``data/clusters/assignments.npz``, found in the codes)
teach the stage's own classifier (``self_labelling.train_classifier``) in each variant of
``cluster.self_labelling``; it names the validation digits, scored as
``cluster.image.validation_acc`` (Hungarian ACC; labels only score). Each variant with each
classifier seed; the seconds are the training's, on this machine.

Produced: docs/experiments.md, "cluster.self_labelling", its table of variants. Command, from the
repository root after a full `dvc repro`:

    .venv/bin/python experiments/explore_self_labelling_cost.py [--seeds 42,1,2]
"""

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from digit_concepts.concepts import self_labelling  # noqa: E402
from digit_concepts.core import paths, storage  # noqa: E402
from digit_concepts.core.params import load  # noqa: E402
from digit_concepts.evaluation import scoring  # noqa: E402

# name: the changes to params cluster.self_labelling
VARIANTS = {"committed": {}, "filters 16 32": {"filters": [16, 32]}, "3 epochs": {"epochs": 3}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="42,1,2")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated names of VARIANTS")
    arguments = parser.parse_args()
    params = load()
    images = storage.read_npz(paths.IMAGES)
    concepts = storage.read_npz(paths.CLUSTER_ASSIGNMENTS)["image_train"]
    digits = scoring.load_digits("image", "validation")
    print("| variant | seed | validation ACC | training seconds |\n|---|---|---|---|")
    for name in arguments.variants.split(","):
        settings = params.cluster.self_labelling.model_copy(update=VARIANTS[name])
        for seed in (int(seed) for seed in arguments.seeds.split(",")):
            started = time.perf_counter()
            classifier = self_labelling.train_classifier(images=images["train"], concepts=concepts,
                                                         count=int(concepts.max()) + 1, settings=settings,
                                                         augmentation=params.image_ae.augmentation, seed=seed)
            seconds = time.perf_counter() - started
            named = self_labelling.log_posteriors(classifier, images["validation"]).argmax(axis=1)
            print(f"| {name} | {seed} | {scoring.hungarian_accuracy(named, digits):.4f} | {seconds:.1f} |", flush=True)


if __name__ == "__main__":
    main()
