"""Concepts of each sense, of the audio alone and of the joint episodes: what the cluster stage finds.

Audio is clustered first: with ``k_selection: cooccurrence`` the number of image concepts is
chosen by how well they fit the audio clusters over the train episodes (label-free). Every split
takes the path a new sample takes (``SenseModel.place``); labels only score the result.
"""

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from digit_concepts.concepts import clustering, self_labelling, voices
from digit_concepts.crossmodal import relations
from digit_concepts.evaluation import scoring
from digit_concepts.concepts.adaptation import recording_features
from digit_concepts.core.evidence import Bootstrap
from digit_concepts.core.params import (AudioReferenceSettings, AudioSelfLabellingSettings, ClusterSettings,
                                        DrawingAugmentation, SelfLabellingSettings)

SENSES = ("audio", "image")  # audio first: the image concepts are chosen by their fit to it


@dataclass
class Concepts:
    """Everything the cluster stage writes, as arrays and tables (the stage only writes them)."""

    assignments: dict = field(default_factory=dict)  # per split and sense: concepts and log posteriors
    audio_alone: dict = field(default_factory=dict)  # the audio-alone reference (scored only)
    learner: dict = field(default_factory=dict)  # what the tool needs to place a new sample as a test one
    learner_settings: dict = field(default_factory=dict)
    gaussians: dict = field(default_factory=dict)  # each concept's Gaussian in code space
    metrics: dict = field(default_factory=dict)
    trials: list = field(default_factory=list)  # (space, k, score) of every k tried
    image_classifier: object = None  # the self-labelled classifier that names new images (None: the codes do)
    image_views: dict = field(default_factory=dict)  # the transfer proxies' image concepts, f"{split}_{view}"
    audio_classifier: object = None  # the classifier taught the image concepts that names new recordings (None: off)
    audio_views: dict = field(default_factory=dict)  # its log posteriors of the audio proxies, f"audio_{split}_{shift}"

    def choice_table(self) -> pd.DataFrame:
        return pd.DataFrame(self.trials, columns=["space", "k", "score"])


@dataclass(frozen=True)
class ImageNaming:
    """What names new images. With ``settings.epochs`` > 0, a classifier taught the train
    digits' concepts (``self_labelling``) reads the pixels of ``images`` (train, validation, test)
    and of ``views`` (the transfer proxies: f"{split}_{view}" -> images); otherwise the concepts'
    own path names their codes (``views``: f"{split}_{view}" -> codes)."""

    images: dict
    views: dict
    settings: SelfLabellingSettings | None  # params cluster.self_labelling (None: no classifier)
    augmentation: DrawingAugmentation | None  # params image_ae.augmentation: the renderings the classifier learns from

    @property
    def classifier(self) -> bool:
        return self.settings is not None and self.settings.epochs > 0


@dataclass(frozen=True)
class AudioNaming:
    """What names new recordings. With ``settings.epochs`` > 0, a classifier taught each train
    recording's partner image concepts (``self_labelling.train_audio_classifier``) reads the audio
    autoencoder's inputs (``recordings``: train, train_views, validation, test; ``heard``: the audio
    transfer proxies' inputs, f"{split}_{shift}"); otherwise the audio clusters are carried through
    the co-occurrence (relate)."""

    recordings: dict
    heard: dict
    settings: AudioSelfLabellingSettings | None  # params cluster.audio_self_labelling (None: no classifier)

    @property
    def classifier(self) -> bool:
        return self.settings is not None and self.settings.epochs > 0


def taught_audio(found: Concepts, image_train_concepts: np.ndarray, concepts: int, streams: dict,
                 naming: AudioNaming, seed: int) -> None:
    """Self-labelling for sound: the classifier learns each train recording's partner image
    concepts over the train episodes, then gives the image-concept log posteriors of validation,
    test (``audio_<split>_taught_log_posteriors``) and the audio proxies (``audio_views``)."""
    if not naming.classifier:
        return
    shares = self_labelling.partner_concept_shares(image_train_concepts, streams["train_image_index"],
                                                   streams["train_audio_index"], len(naming.recordings["train"]),
                                                   concepts)
    found.audio_classifier = self_labelling.train_audio_classifier(
        naming.recordings["train"], naming.recordings["train_views"], shares, naming.settings, seed)
    for split in ("validation", "test"):
        found.assignments[f"audio_{split}_taught_log_posteriors"] = self_labelling.log_posteriors(
            found.audio_classifier, naming.recordings[split]).astype(np.float32)
    found.audio_views = {f"audio_{name}": self_labelling.log_posteriors(found.audio_classifier, inputs).astype(
        np.float32) for name, inputs in naming.heard.items()}


def audio_alone(codes: dict, config: AudioReferenceSettings, sample: int, seed: int,
                fitting: clustering.Fitting, descriptors: dict | None,
                bootstrap: Bootstrap | None = None) -> tuple[dict, list, dict]:
    """Scores, k trials and assignments of the audio codes clustered on their own, at k given:
    raw codes when ``voices.count_selection`` is none (the voices are then all 0), otherwise
    voice-aware (``descriptors``: each split's voice descriptors)."""
    digits = {split: scoring.load_digits("audio", split) for split in ("train", "test")}
    if config.voices.count_selection == "none":
        result = clustering.cluster_codes(train_codes=codes["audio_train"], test_codes=codes["audio_test"],
                                          settings=config, sample=sample, seed=seed, fitting=fitting)
        scores = scoring.cluster_scores(result.test_assignments, digits["test"], result.test_features, sample, seed,
                                        result.train_assignments, digits["train"], bootstrap)
        one_voice = [np.zeros(len(codes[f"audio_{split}"]), np.int64) for split in ("train", "test")]
        return ({**scores, "n_clusters": result.train_posteriors.shape[1]}, result.trials,
                _alone_outputs(result.train_assignments, result.test_assignments, *one_voice))
    if descriptors is None:
        raise ValueError("cluster.audio_reference.voices: voice-aware clustering needs the voice descriptors")
    result = voices.voice_aware_concepts(train_codes=codes["audio_train"], test_codes=codes["audio_test"],
                                         train_descriptors=descriptors["train"], test_descriptors=descriptors["test"],
                                         settings=config, sample=sample, seed=seed, fitting=fitting)
    scores = scoring.cluster_scores(result.test_assignments, digits["test"], result.centred_test_codes, sample, seed,
                                    result.train_assignments, digits["train"], bootstrap)
    # Speakers score the voices found, as digits score the concepts: neither is seen before this.
    scores.update(n_clusters=int(config.k), voices=result.voice_count,
                  voice_speaker_ari=scoring.adjusted_rand(scoring.load_speakers("test"), result.test_voices),
                  acc_without_alignment=scoring.hungarian_accuracy(result.unaligned_test_assignments, digits["test"]))
    return scores, [], _alone_outputs(result.train_assignments, result.test_assignments, result.train_voices,
                                      result.test_voices)


def _alone_outputs(train_concepts, test_concepts, train_voices, test_voices) -> dict:
    return {"audio_alone_train": train_concepts, "audio_alone_test": test_concepts,
            "audio_voice_train": train_voices, "audio_voice_test": test_voices}


def self_labelled(found: Concepts, model: clustering.SenseModel, train_concepts: np.ndarray, concepts: int,
                  naming: ImageNaming, seed: int) -> None:
    """Names validation, test and the transfer proxies' images: by the self-labelled classifier
    (trained here on ``train_concepts``), or else by the concepts' own path from their codes."""
    if not naming.classifier:
        found.image_views = {view: model.log_posteriors(view_codes).argmax(axis=1)
                             for view, view_codes in naming.views.items()}
        return
    found.image_classifier = self_labelling.train_classifier(images=naming.images["train"], concepts=train_concepts,
                                                             count=concepts, settings=naming.settings,
                                                             augmentation=naming.augmentation, seed=seed)
    for split in ("validation", "test"):
        log_posteriors = self_labelling.log_posteriors(found.image_classifier, naming.images[split])
        found.assignments[f"image_{split}"] = log_posteriors.argmax(axis=1)
        found.assignments[f"image_{split}_log_posteriors"] = log_posteriors.astype(np.float32)
    found.image_views = {view: self_labelling.log_posteriors(found.image_classifier, drawn).argmax(axis=1)
                         for view, drawn in naming.views.items()}


def find(codes: dict, streams: dict, settings: ClusterSettings, seed: int, voice_descriptors: dict | None = None,
         bootstrap: Bootstrap | None = None, image_naming: ImageNaming | None = None,
         audio_naming: AudioNaming | None = None) -> Concepts:
    """The cluster stage's work: each sense's concepts (placing validation and test as new
    samples), the audio-alone reference, the joint episode concepts, their scores (with their
    intervals, given a bootstrap) and the learner. ``image_naming``: what names new images (by
    default, their codes, and no transfer proxies); ``audio_naming``: what names new recordings
    (by default, their clusters, in relate)."""
    sample = settings.silhouette_sample
    fitting = clustering.Fitting.from_params(settings)
    found = Concepts()
    outputs = found.assignments

    def partner_score(image_assignments: np.ndarray) -> float:
        return relations.concept_consistency(image_assignments[streams["train_image_index"]],
                                             outputs["audio_train"][streams["train_audio_index"]],
                                             settings.cooccurrence_uncertainty_weight)

    clusterings = {"audio": settings.audio, "image": settings.image}
    for sense in SENSES:
        config = clusterings[sense]
        print(f"clustering {sense} codes ({config.algorithm}, reduction {config.reduction}, "
              f"k {config.k if config.k_selection == 'fixed' else 'by ' + config.k_selection})", flush=True)
        result = clustering.cluster_codes(train_codes=codes[f"{sense}_train"], test_codes=codes[f"{sense}_test"],
                                          settings=config, sample=sample, seed=seed,
                                          partner_score=partner_score if sense == "image" else None, fitting=fitting,
                                          transform_neighbours=settings.umap_transform_neighbors)
        n_clusters = result.train_posteriors.shape[1]
        found.learner.update(result.model.arrays(sense))
        found.learner[f"{sense}_train_sizes"] = np.bincount(result.train_assignments, minlength=n_clusters)
        if sense == "audio":  # test-time adaptation compares new recordings with the train ones (adaptation.py)
            found.learner["audio_train_features"] = recording_features(codes, ("train",))["train"]
        found.learner_settings[sense] = {"reduction": config.reduction, "algorithm": config.algorithm,
                                         "n_clusters": int(n_clusters)}
        # Validation codes take the test path: convergence calibrates on them, choices are scored on them.
        _, validation_log_posteriors = result.model.place(codes[f"{sense}_validation"])
        outputs[f"{sense}_train"], outputs[f"{sense}_test"] = result.train_assignments, result.test_assignments
        outputs[f"{sense}_validation"] = validation_log_posteriors.argmax(axis=1)
        # Logs, so that convergence can still soften them (calibration).
        outputs[f"{sense}_validation_log_posteriors"] = validation_log_posteriors.astype(np.float32)
        outputs[f"{sense}_test_log_posteriors"] = result.test_log_posteriors.astype(np.float32)
        found.gaussians[f"{sense}_means"], found.gaussians[f"{sense}_covariances"] = clustering.concept_gaussians(
            codes[f"{sense}_train"], result.train_assignments, n_clusters)
        clustered = {split: outputs[f"{sense}_{split}"] for split in ("validation", "test")}
        if sense == "image":
            self_labelled(found, result.model, result.train_assignments, n_clusters,
                          image_naming or ImageNaming({}, {}, None, None), seed)
            found.learner_settings[sense]["classifier"] = found.image_classifier is not None
            # The image concepts now known, they teach the ear (self-labelling for sound).
            taught_audio(found, result.train_assignments, n_clusters, streams,
                         audio_naming or AudioNaming({}, {}, None), seed)
            found.learner_settings["audio"]["classifier"] = found.audio_classifier is not None
        scores = scoring.cluster_scores(outputs[f"{sense}_test"], scoring.load_digits(sense, "test"),
                                        result.test_features, sample, seed, result.train_assignments,
                                        scoring.load_digits(sense, "train"), bootstrap)
        scores["n_clusters"] = n_clusters  # fitted on train; a few may go unused on test
        if sense == "image":  # audio's 300 clusters are scored named through images (relate)
            scores.update(scoring.with_accuracy("validation_acc", outputs["image_validation"],
                                                scoring.load_digits("image", "validation"), bootstrap))
            if found.image_classifier is not None:  # what the codes alone named, before self-labelling
                for split, prefix in (("test", ""), ("validation", "validation_")):
                    scores[f"{prefix}acc_by_codes"] = scoring.hungarian_accuracy(
                        clustered[split], scoring.load_digits(sense, split))
        found.metrics[sense] = scores
        found.trials += [(sense, k, score) for k, score in result.trials]

    reference = settings.audio_reference
    print(f"audio alone ({reference.algorithm}, reduction {reference.reduction}, "
          f"k {reference.k}; reference, scored only)", flush=True)
    found.metrics["audio_reference"], reference_trials, found.audio_alone = audio_alone(
        codes, reference, sample, seed, fitting, voice_descriptors, bootstrap)
    found.trials += [("audio_reference", k, score) for k, score in reference_trials]

    print("clustering joint episode codes", flush=True)
    splits = ("train", "test")
    joint = clustering.paired_codes({split: codes[f"image_{split}"] for split in splits},
                                    {split: codes[f"audio_{split}"] for split in splits},
                                    {split: streams[f"{split}_image_index"] for split in splits},
                                    {split: streams[f"{split}_audio_index"] for split in splits})
    result = clustering.cluster_codes(train_codes=joint["train"], test_codes=joint["test"], settings=settings.joint,
                                      sample=sample, seed=seed, fitting=fitting)
    outputs["joint_train"], outputs["joint_test"] = result.train_assignments, result.test_assignments
    found.metrics["joint"] = scoring.cluster_scores(result.test_assignments, scoring.episode_digits("test"),
                                                    result.test_features, sample, seed, result.train_assignments,
                                                    scoring.episode_digits("train"), bootstrap)
    found.trials += [("joint", k, score) for k, score in result.trials]
    return found
