"""What the relate stage computes: co-occurrence of the two senses' concepts over the train
episodes, how well each sense names the other's digits through it (recordings alone and with
their batch neighbours), the transfer proxies, and the paired codes the brain module learns from."""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from digit_concepts.concepts import clustering
from digit_concepts.concepts.adaptation import batch_neighbours_for, recording_features, recording_space
from digit_concepts.core import paths, storage
from digit_concepts.core.evidence import Bootstrap
from digit_concepts.core.sense import AUDIO, IMAGE, SplitArrays, sense_named
from digit_concepts.crossmodal import brain, relations
from digit_concepts.evaluation import scoring, transfer_proxies
from digit_concepts.evaluation.scoring import Labels

SCORED = (("test", ""), ("validation", "validation_"))  # (split, metric prefix): choices are made on validation


@dataclass(frozen=True)
class Inputs:
    """Everything the relate stage reads."""

    assignments: SplitArrays  # the cluster stage's concepts and log posteriors
    streams: SplitArrays  # the episodes
    codes: SplitArrays
    labels: Labels
    learner: dict  # the fitted learner's arrays (learner.npz)
    learner_settings: dict
    transfer_codes: dict  # the audio transfer proxies' codes
    image_views: dict  # the image transfer proxies' concepts
    audio_views: dict  # the audio proxies' log posteriors from the taught classifier (empty: none)


def read_inputs() -> Inputs:
    return Inputs(
        assignments=SplitArrays.read(paths.CLUSTER_ASSIGNMENTS), streams=SplitArrays.read(paths.EPISODES),
        codes=SplitArrays.read(paths.ENCODINGS), labels=Labels.read(), learner=storage.read_npz(paths.LEARNER_ARRAYS),
        learner_settings=storage.read_json(paths.LEARNER_SETTINGS),
        transfer_codes=storage.read_npz(paths.TRANSFER_ENCODINGS),
        image_views=storage.read_npz(paths.IMAGE_VIEW_CONCEPTS),
        audio_views=storage.read_npz(paths.AUDIO_VIEW_CONCEPTS))


@dataclass(frozen=True)
class EpisodeConcepts:
    """The concept of each episode's image and of its recording, in one split."""

    image: np.ndarray
    audio: np.ndarray

    def table(self) -> pd.DataFrame:
        return pd.DataFrame({"image_concept": self.image, "audio_concept": self.audio})


def episode_concepts(assignments: SplitArrays, streams: SplitArrays, split: str) -> EpisodeConcepts:
    return EpisodeConcepts(assignments.of(IMAGE, split)[streams.episode_index(IMAGE, split)],
                           assignments.of(AUDIO, split)[streams.episode_index(AUDIO, split)])


def cooccurrence(train_episodes: EpisodeConcepts, assignments: SplitArrays) -> np.ndarray:
    """Co-occurrence counts of image concepts (rows) and audio clusters over the train episodes,
    every concept of both senses counted (as many as their log posteriors have columns)."""
    return relations.cooccurrence(train_episodes.image, train_episodes.audio,
                                  assignments.log_posteriors(IMAGE, "test").shape[1],
                                  assignments.log_posteriors(AUDIO, "test").shape[1])


def agreements(test_episodes: EpisodeConcepts, counts: np.ndarray) -> dict[str, float]:
    """How often each sense's test concept is the partner the co-occurrence expects of the other's."""
    return {"agreement_image_to_audio": relations.agreement(test_episodes.image, test_episodes.audio,
                                                            relations.audio_given_image(counts)),
            "agreement_audio_to_image": relations.agreement(test_episodes.audio, test_episodes.image,
                                                            relations.image_given_audio(counts).T)}


@dataclass(frozen=True)
class Naming:
    """Each sense named through the other: the scores (the test episodes' agreements first), and
    each validation and test recording named alone (what the recordings heard differently are
    scored against)."""

    scores: dict
    named_alone: dict  # split -> image concept of each recording
    features: dict  # split -> where recordings are near each other (``recording_features``)


def naming(*, assignments: SplitArrays, codes: SplitArrays, counts: np.ndarray, test_episodes: EpisodeConcepts,
           labels: Labels, most: int, bootstrap: Bootstrap | None) -> Naming:
    """Recordings named through images, with their batch neighbours (``most``: params
    adaptation.batch_neighbours; test-time adaptation) and each alone, and images named through audio."""
    features = recording_features(codes.arrays, ("train", "test", "validation"))
    scores, named_alone = agreements(test_episodes, counts), {}
    for split, prefix in SCORED:
        audio_digits = labels.of(AUDIO, split)
        for suffix, count in (("", batch_neighbours_for(len(features[split]), counts.shape[0], most)),
                              ("_each_alone", 0)):
            named = relations.name_split_recordings(assignments, counts, features, split, count)
            if not count:
                named_alone[split] = named
            scores.update(scoring.with_accuracy(f"{prefix}audio_acc_through_images{suffix}", named, audio_digits,
                                                bootstrap))
        image_named = relations.name_through(assignments.of(IMAGE, split), relations.audio_given_image(counts))
        scores.update(scoring.with_accuracy(f"{prefix}image_acc_through_audio", image_named, labels.of(IMAGE, split),
                                            bootstrap))
    return Naming(scores, named_alone, features)


def transfer_metrics(*, inputs: Inputs, counts: np.ndarray, naming: Naming, most: int,
                     bootstrap: Bootstrap | None) -> dict:
    """The transfer proxies: samples drawn or heard differently, placed as the tool places new ones."""
    audio_settings = inputs.learner_settings[AUDIO.name]
    audio_model = clustering.SenseModel.from_arrays(inputs.learner, AUDIO.name, audio_settings["reduction"])
    return {**transfer_proxies.image_scores(inputs.assignments.by_split(IMAGE, ("test", "validation")),
                                            inputs.image_views, bootstrap),
            **transfer_proxies.audio_scores(audio_model, counts, naming.named_alone, inputs.transfer_codes,
                                            recording_space(inputs.codes.arrays).apply, naming.features["train"],
                                            most, bootstrap,
                                            inputs.audio_views if audio_settings.get("classifier") else None)}


@dataclass(frozen=True)
class Tables:
    """The relationship tables a reviewer reads: the co-occurrence counts, each concept's one
    best partner, and every partner above a share."""

    cooccurrence: pd.DataFrame
    one_to_one: pd.DataFrame
    one_to_many: pd.DataFrame


def tables(counts: np.ndarray, min_share: float) -> Tables:
    """``min_share``: params relate.min_share, the least share of a concept's episodes a partner
    in the one-to-many table has."""
    return Tables(relations.cooccurrence_table(counts), relations.one_to_one(counts),
                  relations.one_to_many(counts, min_share))


def brain_pairs(codes: SplitArrays, streams: SplitArrays) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """What the brain module learns from, per direction: the source sense's train codes and the
    target sense's, paired by the train episodes."""
    return {direction: tuple(codes.of(sense, "train")[streams.episode_index(sense, "train")]
                             for sense in map(sense_named, direction.split("_to_")))
            for direction in brain.DIRECTIONS}


def summary(metrics: dict) -> str:
    return ", ".join(f"{name} {value:.3f}" for name, value in metrics.items() if isinstance(value, float))
