"""Concepts of each sense, of the audio alone and of the joint episodes: what the cluster stage finds.

Audio is clustered first: with ``k_selection: cooccurrence`` the number of image concepts is
chosen by how well they fit the audio clusters over the train episodes (label-free). Every split
takes the path a new sample takes (``SenseModel.place``); labels only score the result.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from digit_concepts.concepts import clustering, self_labelling, voices
from digit_concepts.core import paths, storage
from digit_concepts.core.evidence import Bootstrap
from digit_concepts.core.params import (AudioReferenceSettings, AudioSelfLabellingSettings, ClusteringSettings,
                                        ClusterSettings, DrawingAugmentation, Params, SelfLabellingSettings,
                                        SelfScoredClusteringSettings)
from digit_concepts.core.sense import AUDIO, IMAGE, Sense, SplitArrays
from digit_concepts.crossmodal import relations
from digit_concepts.evaluation import scoring, transfer_proxies
from digit_concepts.evaluation.scoring import Labels
from digit_concepts.concepts.adaptation import recording_features
from digit_concepts.senses import autoencoders



@dataclass(frozen=True)
class Concepts:
    """Everything the cluster stage writes, as arrays and tables (the stage only writes them)."""

    assignments: dict  # per split and sense: concepts and log posteriors
    audio_alone: dict  # the audio-alone reference (scored only)
    learner: dict  # what the tool needs to place a new sample as a test one
    learner_settings: dict
    gaussians: dict  # each concept's Gaussian in code space
    metrics: dict
    trials: list  # (space, k, score) of every k tried
    image_classifier: object  # the self-labelled classifier that names new images (None: the codes do)
    image_views: dict  # the transfer proxies' image concepts, keyed by ``view_key(split, view)``
    audio_classifier: object  # the classifier taught the image concepts that names new recordings (None: off)
    audio_views: dict  # its log posteriors of the audio proxies, ``AUDIO.key(view_key(split, shift))``

    def choice_table(self) -> pd.DataFrame:
        return pd.DataFrame(self.trials, columns=["space", "k", "score"])


@dataclass(frozen=True)
class ImageNaming:
    """What names new images. With ``settings.epochs`` > 0, a classifier taught the train
    digits' concepts (``self_labelling``) reads the pixels of ``images`` (train, validation, test;
    ``named_images`` takes train out, as it is used once) and of ``views`` (the transfer proxies:
    (``view_key(split, view)``, images) pairs, drawn as they are read, once); otherwise the
    concepts' own path names their codes (``views``: (key, codes))."""

    images: dict
    views: Iterable[tuple[str, np.ndarray]]
    settings: SelfLabellingSettings | None  # params cluster.self_labelling (None: no classifier)
    augmentation: DrawingAugmentation | None  # params image_ae.augmentation: what the classifier learns from

    @property
    def classifier(self) -> bool:
        return self.settings is not None and self.settings.epochs > 0


@dataclass(frozen=True)
class AudioNaming:
    """What names new recordings. With ``settings.epochs`` > 0, a classifier taught each train
    recording's partner image concepts (``self_labelling.train_audio_classifier``) reads the audio
    autoencoder's inputs (``recordings``: train, train_views, validation, test; ``heard``: the audio
    transfer proxies' inputs, keyed by ``view_key(split, shift)``); otherwise the audio clusters
    are carried through the co-occurrence (relate)."""

    recordings: dict
    heard: dict
    settings: AudioSelfLabellingSettings | None  # params cluster.audio_self_labelling (None: no classifier)

    @property
    def classifier(self) -> bool:
        return self.settings is not None and self.settings.epochs > 0


def read_image_naming(params: Params) -> ImageNaming:
    """What names new images, read: the self-labelled classifier reads pixels (the splits' and the
    transfer proxies'); without it, the concepts' own path reads the image encoder's codes."""
    settings = params.cluster.self_labelling
    images = storage.read_npz(IMAGE.inputs)
    views = transfer_proxies.drawn_image_views(images, params.seed)
    if settings.epochs > 0:
        return ImageNaming(images, views, settings, params.image_ae.augmentation)
    encoder, _ = autoencoders.load_halves(paths.autoencoder_model(IMAGE.name), params.seed)
    return ImageNaming({}, ((name, encoder.predict(drawn, batch_size=1024, verbose=0)) for name, drawn in views),
                       settings, None)


def read_audio_naming(params: Params) -> AudioNaming:
    """What names new recordings, read: the classifier taught the image concepts reads the audio
    autoencoder's inputs (the splits', its train views, and the recordings heard differently)."""
    settings = params.cluster.audio_self_labelling
    if settings.epochs == 0:
        return AudioNaming({}, {}, settings)
    return AudioNaming(storage.read_npz(AUDIO.inputs), storage.read_npz(paths.AUDIO_SHIFTS), settings)


@dataclass(frozen=True)
class SenseConcepts:
    """One sense's concepts found in its train codes, test and validation placed as new samples."""

    sense: Sense
    clusters: clustering.SenseClusters
    validation_log_posteriors: np.ndarray

    @property
    def n_clusters(self) -> int:
        return self.clusters.train_posteriors.shape[1]

    def assignments(self) -> dict[str, np.ndarray]:
        """Concepts per split; log posteriors (float32), so that convergence can still soften them."""
        return {self.sense.key("train"): self.clusters.train_assignments,
                self.sense.key("test"): self.clusters.test_assignments,
                self.sense.key("validation"): self.validation_log_posteriors.argmax(axis=1),
                self.sense.log_posteriors_key("validation"): self.validation_log_posteriors.astype(np.float32),
                self.sense.log_posteriors_key("test"): self.clusters.test_log_posteriors.astype(np.float32)}

    def learner_arrays(self) -> dict[str, np.ndarray]:
        """The fitted path from codes to concepts, and each concept's train size (the tool's)."""
        return {**self.clusters.model.arrays(self.sense.name),
                self.sense.key("train_sizes"): np.bincount(self.clusters.train_assignments, minlength=self.n_clusters)}

    def settings(self, space: ClusteringSettings) -> dict:
        return {"reduction": space.reduction, "algorithm": space.algorithm, "n_clusters": int(self.n_clusters)}

    def gaussians(self, train_codes: np.ndarray) -> dict[str, np.ndarray]:
        means, covariances = clustering.concept_gaussians(train_codes, self.clusters.train_assignments,
                                                          self.n_clusters)
        return {self.sense.key("means"): means, self.sense.key("covariances"): covariances}

    def trials(self) -> list[tuple[str, int, float]]:
        return [(self.sense.name, k, score) for k, score in self.clusters.trials]


def sense_concepts(sense: Sense, codes: SplitArrays, space: ClusteringSettings, *, sample: int,
                   transform_neighbours: int, seed: int, fitting: clustering.Fitting,
                   partner_score: Callable[[np.ndarray], float] | None = None) -> SenseConcepts:
    """``sense``'s concepts in its train codes (``space``: params ``cluster.image`` or
    ``cluster.audio``), test and validation codes placed as new samples are; ``partner_score`` scores
    a k by its fit to the other sense's concepts."""
    print(f"clustering {sense.name} codes ({space.algorithm}, reduction {space.reduction}, "
          f"k {space.k if space.k_selection == 'fixed' else 'by ' + space.k_selection})", flush=True)
    clusters = clustering.cluster_codes(train_codes=codes.of(sense, "train"), test_codes=codes.of(sense, "test"),
                                        settings=space, sample=sample, seed=seed, partner_score=partner_score,
                                        fitting=fitting, transform_neighbours=transform_neighbours)
    # Validation codes take the test path: convergence calibrates on them, choices are scored on them.
    _, validation_log_posteriors = clusters.model.place(codes.of(sense, "validation"))
    return SenseConcepts(sense, clusters, validation_log_posteriors)


def partner_score(audio_train_concepts: np.ndarray, streams: SplitArrays,
                  uncertainty_weight: float) -> Callable[[np.ndarray], float]:
    """How well train image concepts fit the audio clusters over the train episodes (label-free)."""
    def score(image_train_concepts: np.ndarray) -> float:
        return relations.concept_consistency(image_train_concepts[streams.episode_index(IMAGE, "train")],
                                             audio_train_concepts[streams.episode_index(AUDIO, "train")],
                                             uncertainty_weight)
    return score


@dataclass(frozen=True)
class NamedImages:
    """How new images are named: by the self-labelled ``classifier`` (then ``assignments`` holds
    the validation and test concepts it gives), or by the concepts' own path (``classifier`` None,
    ``assignments`` empty); ``views``: the transfer proxies' concepts."""

    classifier: object
    assignments: dict
    views: dict


def named_images(concepts: SenseConcepts, naming: ImageNaming, seed: int) -> NamedImages:
    """Names validation, test and the transfer proxies' images: by the self-labelled classifier
    (trained here on the train concepts), or else by the concepts' own path from their codes."""
    if not naming.classifier:
        return NamedImages(None, {}, {view: concepts.clusters.model.log_posteriors(view_codes).argmax(axis=1)
                                      for view, view_codes in naming.views})
    # Taken out of ``naming``: once they have taught the classifier, nothing holds the train digits
    # (157 MB) while the proxies are named, the stage's largest moment in memory.
    classifier = self_labelling.train_classifier(images=naming.images.pop("train"),
                                                 concepts=concepts.clusters.train_assignments,
                                                 count=concepts.n_clusters, settings=naming.settings,
                                                 augmentation=naming.augmentation, seed=seed)
    assignments = {}
    for split in ("validation", "test"):
        log_posteriors = self_labelling.log_posteriors(classifier, naming.images[split])
        assignments[IMAGE.key(split)] = log_posteriors.argmax(axis=1)
        assignments[IMAGE.log_posteriors_key(split)] = log_posteriors.astype(np.float32)
    return NamedImages(classifier, assignments, {view: self_labelling.log_posteriors(classifier, drawn).argmax(axis=1)
                                                 for view, drawn in naming.views})


@dataclass(frozen=True)
class TaughtAudio:
    """The classifier taught the image concepts that names new recordings (None: off), the
    image-concept log posteriors it gives validation and test, and those of the audio proxies."""

    classifier: object
    assignments: dict
    views: dict


def taught_audio(image_train_concepts: np.ndarray, concepts: int, streams: SplitArrays, naming: AudioNaming,
                 seed: int) -> TaughtAudio:
    """Self-labelling for sound: the classifier learns each train recording's partner image
    concepts over the train episodes, then gives the image-concept log posteriors of validation,
    test and the audio proxies."""
    if not naming.classifier:
        return TaughtAudio(None, {}, {})
    shares = self_labelling.partner_concept_shares(image_train_concepts, streams.episode_index(IMAGE, "train"),
                                                   streams.episode_index(AUDIO, "train"),
                                                   len(naming.recordings["train"]), concepts)
    classifier = self_labelling.train_audio_classifier(naming.recordings["train"], naming.recordings["train_views"],
                                                       shares, naming.settings, seed)
    assignments = {AUDIO.taught_log_posteriors_key(split): self_labelling.log_posteriors(
        classifier, naming.recordings[split]).astype(np.float32) for split in ("validation", "test")}
    return TaughtAudio(classifier, assignments, {AUDIO.key(name): self_labelling.log_posteriors(
        classifier, inputs).astype(np.float32) for name, inputs in naming.heard.items()})


def sense_scores(concepts: SenseConcepts, test_concepts: np.ndarray, labels: Labels, *, sample: int, seed: int,
                 bootstrap: Bootstrap | None) -> dict:
    """Test concepts (``test_concepts``: however new samples are named) scored against the digits."""
    sense = concepts.sense
    scores = scoring.cluster_scores(test_concepts, labels.of(sense, "test"), concepts.clusters.test_features, sample,
                                    seed, concepts.clusters.train_assignments, labels.of(sense, "train"), bootstrap)
    scores["n_clusters"] = concepts.n_clusters  # fitted on train; a few may go unused on test
    return scores


def image_scores(concepts: SenseConcepts, named: NamedImages, labels: Labels, *, sample: int, seed: int,
                 bootstrap: Bootstrap | None) -> dict:
    """The image concepts' scores as new images are named, on validation too, and, under the
    self-labelled classifier, what the codes alone named. (Audio's clusters are scored named
    through images, in relate.)"""
    assignments = {**concepts.assignments(), **named.assignments}
    scores = sense_scores(concepts, assignments[IMAGE.key("test")], labels, sample=sample, seed=seed,
                          bootstrap=bootstrap)
    scores.update(scoring.with_accuracy("validation_acc", assignments[IMAGE.key("validation")],
                                        labels.of(IMAGE, "validation"), bootstrap))
    if named.classifier is not None:  # what the codes alone named, before self-labelling
        by_codes = concepts.assignments()
        for split, prefix in (("test", ""), ("validation", "validation_")):
            scores[f"{prefix}acc_by_codes"] = scoring.hungarian_accuracy(by_codes[IMAGE.key(split)],
                                                                         labels.of(IMAGE, split))
    return scores


@dataclass(frozen=True)
class Reference:
    """Concepts scored only, as a reference: their scores, the k tried and their arrays."""

    scores: dict
    trials: list  # (k, score) of every k tried
    arrays: dict


def audio_alone(codes: SplitArrays, config: AudioReferenceSettings, labels: Labels, *, sample: int, seed: int,
                fitting: clustering.Fitting, descriptors: dict | None,
                bootstrap: Bootstrap | None = None) -> Reference:
    """The audio codes clustered on their own, at k given (params ``cluster.audio_reference``):
    raw codes when ``voices.count_selection`` is none (the voices are then all 0), otherwise
    voice-aware (``descriptors``: each split's voice descriptors)."""
    print(f"audio alone ({config.algorithm}, reduction {config.reduction}, "
          f"k {config.k}; reference, scored only)", flush=True)
    digits = {split: labels.of(AUDIO, split) for split in ("train", "test")}
    if config.voices.count_selection == "none":
        result = clustering.cluster_codes(train_codes=codes.of(AUDIO, "train"), test_codes=codes.of(AUDIO, "test"),
                                          settings=config, sample=sample, seed=seed, fitting=fitting)
        scores = scoring.cluster_scores(result.test_assignments, digits["test"], result.test_features, sample, seed,
                                        result.train_assignments, digits["train"], bootstrap)
        one_voice = [np.zeros(len(codes.of(AUDIO, split)), np.int64) for split in ("train", "test")]
        return Reference({**scores, "n_clusters": result.train_posteriors.shape[1]}, result.trials,
                         _alone_outputs(result.train_assignments, result.test_assignments, *one_voice))
    if descriptors is None:
        raise ValueError("cluster.audio_reference.voices: voice-aware clustering needs the voice descriptors")
    result = voices.voice_aware_concepts(train_codes=codes.of(AUDIO, "train"), test_codes=codes.of(AUDIO, "test"),
                                         train_descriptors=descriptors["train"], test_descriptors=descriptors["test"],
                                         settings=config, sample=sample, seed=seed, fitting=fitting)
    scores = scoring.cluster_scores(result.test_assignments, digits["test"], result.centred_test_codes, sample, seed,
                                    result.train_assignments, digits["train"], bootstrap)
    # Speakers score the voices found, as digits score the concepts: neither is seen before this.
    scores.update(n_clusters=int(config.k), voices=result.voice_count,
                  voice_speaker_ari=scoring.adjusted_rand(labels.speakers["test"], result.test_voices),
                  acc_without_alignment=scoring.hungarian_accuracy(result.unaligned_test_assignments, digits["test"]))
    return Reference(scores, [], _alone_outputs(result.train_assignments, result.test_assignments,
                                                result.train_voices, result.test_voices))


def _alone_outputs(train_concepts, test_concepts, train_voices, test_voices) -> dict:
    return {"audio_alone_train": train_concepts, "audio_alone_test": test_concepts,
            "audio_voice_train": train_voices, "audio_voice_test": test_voices}


def joint_concepts(codes: SplitArrays, streams: SplitArrays, config: SelfScoredClusteringSettings, labels: Labels, *, sample: int, seed: int,
                   fitting: clustering.Fitting, bootstrap: Bootstrap | None = None) -> Reference:
    """Concepts of the episodes' paired codes (both senses side by side), scored by the episodes'
    digits; ``arrays``: the train and test episodes' concepts."""
    print("clustering joint episode codes", flush=True)
    splits = ("train", "test")
    joint = clustering.paired_codes(codes.by_split(IMAGE, splits), codes.by_split(AUDIO, splits),
                                    {split: streams.episode_index(IMAGE, split) for split in splits},
                                    {split: streams.episode_index(AUDIO, split) for split in splits})
    result = clustering.cluster_codes(train_codes=joint["train"], test_codes=joint["test"], settings=config,
                                      sample=sample, seed=seed, fitting=fitting)
    scores = scoring.cluster_scores(result.test_assignments, labels.of_episodes(streams, "test"),
                                    result.test_features, sample, seed, result.train_assignments,
                                    labels.of_episodes(streams, "train"), bootstrap)
    return Reference(scores, result.trials, {"joint_train": result.train_assignments,
                                             "joint_test": result.test_assignments})


def scored_references(codes: SplitArrays, streams: SplitArrays, settings: ClusterSettings, labels: Labels, *,
                      sample: int, seed: int, fitting: clustering.Fitting, descriptors: dict | None,
                      bootstrap: Bootstrap | None) -> tuple[Reference, Reference]:
    """The audio-alone reference and the joint episode concepts (scored only)."""
    from digit_concepts.core.stage_runner import cap_malloc_arenas

    cap_malloc_arenas()  # a process of its own: the stage's setting again
    return (audio_alone(codes, settings.audio_reference, labels, sample=sample, seed=seed, fitting=fitting,
                        descriptors=descriptors, bootstrap=bootstrap),
            joint_concepts(codes, streams, settings.joint, labels, sample=sample, seed=seed, fitting=fitting,
                           bootstrap=bootstrap))


def beside_process():
    """One worker process, started fresh (spawn: never a fork of a process that may hold TensorFlow's
    threads), its output on the stage's own."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))


def learner_settings(audio: SenseConcepts, image: SenseConcepts, settings: ClusterSettings, named: NamedImages,
                     taught: TaughtAudio) -> dict:
    """How the tool places a new sample of each sense: its path to the concepts, and whether a
    classifier names it."""
    return {AUDIO.name: {**audio.settings(settings.audio), "classifier": taught.classifier is not None},
            IMAGE.name: {**image.settings(settings.image), "classifier": named.classifier is not None}}


def find(codes: SplitArrays, streams: SplitArrays, settings: ClusterSettings, labels: Labels, *, seed: int,
         voice_descriptors: dict | None = None, bootstrap: Bootstrap | None = None,
         image_naming: ImageNaming | None = None, audio_naming: AudioNaming | None = None) -> Concepts:
    """The cluster stage's work: each sense's concepts (audio first: the image concepts may be
    chosen by their fit to it), the audio-alone reference, the joint episode concepts, their
    scores (with their intervals, given a bootstrap) and the learner. ``image_naming``: what names
    new images (by default, their codes, and no transfer proxies); ``audio_naming``: what names
    new recordings (by default, their clusters, in relate)."""
    sample, fitting = settings.silhouette_sample, clustering.Fitting.from_params(settings)
    scored = {"sample": sample, "seed": seed, "bootstrap": bootstrap}
    placing = {"sample": sample, "transform_neighbours": settings.umap_transform_neighbors, "seed": seed,
               "fitting": fitting}
    # The references (audio alone, the joint episodes) depend on nothing found here: a second process
    # finds them while this one finds the concepts (mostly one core's work each, UMAP's above all),
    # with the same results; it ends before the classifiers train, so its memory is not held beside theirs.
    with beside_process() as beside:
        references = beside.submit(scored_references, codes, streams, settings, labels, sample=sample, seed=seed,
                                   fitting=fitting, descriptors=voice_descriptors, bootstrap=bootstrap)
        audio = sense_concepts(AUDIO, codes, settings.audio, **placing)
        image = sense_concepts(IMAGE, codes, settings.image, **placing, partner_score=partner_score(
            audio.clusters.train_assignments, streams, settings.cooccurrence_uncertainty_weight))
        reference, joint = references.result()
    named = named_images(image, image_naming or ImageNaming({}, (), None, None), seed)
    # The image concepts now known, they teach the ear (self-labelling for sound).
    taught = taught_audio(image.clusters.train_assignments, image.n_clusters, streams,
                          audio_naming or AudioNaming({}, {}, None), seed)
    return Concepts(
        assignments={**audio.assignments(), **image.assignments(), **named.assignments, **taught.assignments,
                     **joint.arrays},
        audio_alone=reference.arrays,
        # Test-time adaptation compares new recordings with the train ones (adaptation.py).
        learner={**audio.learner_arrays(), AUDIO.key("train_features"): recording_features(
            codes.arrays, ("train",))["train"], **image.learner_arrays()},
        learner_settings=learner_settings(audio, image, settings, named, taught),
        gaussians={**audio.gaussians(codes.of(AUDIO, "train")), **image.gaussians(codes.of(IMAGE, "train"))},
        metrics={AUDIO.name: sense_scores(audio, audio.clusters.test_assignments, labels, **scored),
                 IMAGE.name: image_scores(image, named, labels, **scored), "audio_reference": reference.scores,
                 "joint": joint.scores},
        trials=[*audio.trials(), *image.trials(), *(("audio_reference", k, score) for k, score in reference.trials),
                *(("joint", k, score) for k, score in joint.trials)],
        image_classifier=named.classifier, image_views=named.views,
        audio_classifier=taught.classifier, audio_views=taught.views)


def summary(metrics: dict) -> str:
    """One line per space: its scores (intervals left out)."""
    return "\n".join(f"{space}: " + ", ".join(f"{name} {value:.3f}" for name, value in scores.items()
                                               if not isinstance(value, dict)) for space, scores in metrics.items())
