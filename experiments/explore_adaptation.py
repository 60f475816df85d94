"""Exploration (not a stage): how many batch neighbours test-time adaptation should borrow from,
chosen without the test speaker.

Produced: docs/experiments.md, section "adaptation.batch_neighbours", the table after
"How many neighbours, chosen without the test speaker" (columns
k = 0 / 5 / 10 / 20 / 40 / chosen; the printed column for the fold's own test speaker at k = 20
was left out of the doc). It chose the default `adaptation.batch_neighbours: 20`. Command, from
the repository root, with the real recordings in data/raw/fsdd (`dvc repro download`):

    .venv/bin/python experiments/explore_adaptation.py

Inside each leave-one-speaker-out fold, every remaining speaker in turn is held out of a
4-speaker train set as validation. A linear probe (logistic regression on PCA-64 of the
cepstral features) trained on teacher-like targets (digits with 3% flipped at random: the image
teacher is ~97% right) gives each validation recording its evidence; the recordings are then
named with up to k batch neighbours nearer than their nearest train recording
(``adaptation.batch_neighbourhoods``, as the pipeline does; the evidence is summed as logs here,
which is safe for the probe's smooth posteriors, while the pipeline sums probabilities: see
docs/experiments.md). Prints the mean validation
accuracy per k for each fold, and the k it would choose. Also prints, for the default k, the
fold's own test speaker and the official split (scored only, never used to choose).

With --batch-sizes it instead gives every (fold's test speaker, other speaker) pair's scored
speaker in random batches of 1, 10, 40 and 500 and names them with each batch-size rule
(``adaptation.batch_neighbours_for``); docs/experiments.md, "How much a small batch may borrow",
cites its result (the probe showed no harm from small batches; the pipeline's recipe in
explore_audio_transfer.py --batch-sizes did).

Needs the feature cache of experiments/explore_audio_transfer.py (.tmp/audio_transfer_cache.npz,
built on first use from data/raw/fsdd).
"""

import importlib.util
import sys
from pathlib import Path

import numpy as np
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from digit_concepts.concepts.adaptation import batch_neighbourhoods, batch_neighbours_for  # noqa: E402

CANDIDATES = (0, 5, 10, 20, 40)
DEFAULT = 20


def explore_audio_transfer():
    spec = importlib.util.spec_from_file_location("explore_audio_transfer", REPO / "experiments" / "explore_audio_transfer.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def accuracies(features, targets, digits, train, test) -> list[float]:
    """Accuracy of the test recordings named with 0, 5, ... batch neighbours (CANDIDATES)."""
    mean, deviation = features[train].mean(axis=0), features[train].std(axis=0) + 1e-6
    pca = PCA(64, random_state=0).fit((features[train] - mean) / deviation)
    train_points, test_points = (pca.transform((features[rows] - mean) / deviation) for rows in (train, test))
    probe = LogisticRegression(C=0.1, max_iter=2000).fit(train_points, targets[train])
    log_evidence = np.log(probe.predict_proba(test_points) + 1e-9)
    scores = []
    for neighbours in CANDIDATES:
        indices, weights = batch_neighbourhoods(test_points, neighbours, train_points)
        named = (log_evidence[indices] * weights[:, :, None]).sum(axis=1).argmax(axis=1)
        scores.append(float(np.mean(named == digits[test])))
    return scores


BATCH_SIZES = (1, 10, 40, 500)  # how a user might give one new voice's files: alone, a few, a set, all
SHARES = (0.5, 1.0, 2.0)  # rule candidates: at most share x (batch size / concepts - 1) neighbours, and 20


def named_in_batches(probabilities, points, train_points, batch_size, neighbours_of, rng) -> np.ndarray:
    """Each recording named within a random batch of ``batch_size`` (whole batches of a random
    order), borrowing from ``neighbours_of(batch_size)`` neighbours at most, as the pipeline does
    (probabilities summed; ``adaptation.batch_neighbourhoods``)."""
    order = rng.permutation(len(points))
    named = np.full(len(points), -1)
    for start in range(0, len(order) - batch_size + 1, batch_size):
        batch = order[start:start + batch_size]
        indices, weights = batch_neighbourhoods(points[batch], neighbours_of(batch_size), train_points)
        named[batch] = (probabilities[batch][indices] * weights[:, :, None]).sum(axis=1).argmax(axis=1)
    return named


def batch_rules() -> dict:
    rules = {"each alone": lambda size: 0, f"fixed {DEFAULT}": lambda size: DEFAULT}
    for share in SHARES:
        rules[f"share {share}"] = lambda size, share=share: batch_neighbours_for(size, 10, DEFAULT, share)
    return rules


def explore_batch_sizes(features, targets, digits, speakers) -> None:
    """Every (fold's test speaker, validation speaker) pair: the validation speaker's recordings
    given in batches of each size, named by each rule; the test speaker never read."""
    rules = batch_rules()
    scores = {(size, rule): [] for size in BATCH_SIZES for rule in rules}
    for held_out in np.unique(speakers):
        for validation in np.unique(speakers):
            if validation == held_out:
                continue
            train = (speakers != held_out) & (speakers != validation)
            mean, deviation = features[train].mean(axis=0), features[train].std(axis=0) + 1e-6
            pca = PCA(64, random_state=0).fit((features[train] - mean) / deviation)
            train_points, points = (pca.transform((features[rows] - mean) / deviation)
                                    for rows in (train, speakers == validation))
            probe = LogisticRegression(C=0.1, max_iter=2000).fit(train_points, targets[train])
            probabilities = probe.predict_proba(points)
            truth = digits[speakers == validation]
            for size in BATCH_SIZES:
                for rule, neighbours_of in rules.items():
                    # The same batches for every rule: a fresh generator per size, seeded alike.
                    named = named_in_batches(probabilities, points, train_points, size, neighbours_of,
                                             np.random.default_rng([0, size]))
                    kept = named >= 0
                    scores[size, rule].append(float(np.mean(named[kept] == truth[kept])))
            print(f"  {held_out} out, {validation} scored: " + "; ".join(
                f"{size}: " + " ".join(f"{scores[size, rule][-1]:.3f}" for rule in rules) for size in BATCH_SIZES),
                flush=True)
    print(f"\nmean over {len(scores[BATCH_SIZES[0], 'each alone'])} (test speaker out, validation speaker) pairs; "
          "in brackets the worst pair's difference from each alone")
    print("| batch size | " + " | ".join(rules) + " |")
    print("|---" * (len(rules) + 1) + "|")
    for size in BATCH_SIZES:
        alone = np.array(scores[size, "each alone"])
        print(f"| {size} | " + " | ".join(
            f"{np.mean(scores[size, rule]):.3f} ({np.min(np.array(scores[size, rule]) - alone):+.3f})"
            for rule in rules) + " |")


def main() -> None:
    cache = explore_audio_transfer().build_cache()
    features, digits, speakers = cache["cep"].reshape(len(cache["cep"]), -1), cache["digit"], cache["speaker"]
    rng = np.random.default_rng(0)
    targets = digits.copy()
    flipped = rng.random(len(digits)) < 0.03
    targets[flipped] = rng.integers(0, 10, flipped.sum())
    if "--batch-sizes" in sys.argv[1:]:
        explore_batch_sizes(features, targets, digits, speakers)
        return
    print("| fold's test speaker | " + " | ".join(f"k = {k}" for k in CANDIDATES) + " | chosen | test speaker at k = "
          f"{DEFAULT} (k = 0) |")
    for held_out in np.unique(speakers):
        inner = [accuracies(features, targets, digits, (speakers != held_out) & (speakers != validation),
                            speakers == validation)
                 for validation in np.unique(speakers) if validation != held_out]
        mean = np.mean(inner, axis=0)
        test = accuracies(features, targets, digits, speakers != held_out, speakers == held_out)
        print(f"| {held_out} | " + " | ".join(f"{value:.3f}" for value in mean)
              + f" | {CANDIDATES[int(mean.argmax())]} | {test[CANDIDATES.index(DEFAULT)]:.3f} ({test[0]:.3f}) |",
              flush=True)
    official = accuracies(features, targets, digits, cache["index"] >= 10, cache["index"] < 5)
    print("official split (train 10-49, test 0-4): " + ", ".join(f"k={k}: {value:.3f}"
                                                                  for k, value in zip(CANDIDATES, official)))


if __name__ == "__main__":
    main()
