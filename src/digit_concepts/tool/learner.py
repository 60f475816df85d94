"""The trained learner as a tool: place a new recording or image among the concepts, imagine its partner.

Everything is read from the pipeline's own outputs (all saved without pickle): the autoencoders
and the brain module (.keras), the fitted standardisers, reductions and clusters
(``data/clusters/learner.npz``, see ``clustering.SenseModel``), the concept Gaussians, the
co-occurrence and concept tables, the calibration temperatures and the audio settings. A new
sample takes exactly the steps a test sample took in the pipeline, through the same functions:

- image: pixels -> the self-labelled classifier (``self_labelling.py``: taught the train digits'
  concepts) -> the image concept; its codes (image encoder) give familiarity and imagination.
  With self-labelling off: pixels -> image encoder -> standardise -> 1/distance-weighted vote of
  the 15 nearest train codes over the concepts UMAP + the Gaussian mixture gave them
  (``reduction.NeighbourVote``: UMAP itself cannot be saved without pickle);
- recording: trim, log-mel, loudness removed, normalised (``audio.py``) -> audio encoder ->
  standardise -> PCA -> nearest k-means centre (the audio cluster), merged into its audio
  concept through its best image partner (``relations.merge_by_partner``).

Confidence is the calibrated posterior the fused decision uses (the classifier's, or code-space
Gaussians without it, for images; k-means posteriors for recordings, each softened by its label-free temperature), lowered
for a sample unlike every train sample: familiarity (``familiarity.py``, calibrated on validation
in ``convergence``) is the share of validation samples at least as far from the train codes and
as badly reconstructed; below the flagged share the sample is *unfamiliar*, and its confidence is
the posterior times familiarity / flagged share.
"""

import zipfile
import zlib
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from digit_concepts.senses import audio
from digit_concepts.concepts import clustering
from digit_concepts.concepts.learner_settings import SENSES
from digit_concepts.crossmodal import fusion, relations
from digit_concepts.core import paths
from digit_concepts.concepts.adaptation import batch_neighbours_for
from digit_concepts.crossmodal.generation import sample_concepts
from digit_concepts.core.params import IMAGINATION_ROUTES
from digit_concepts.tool import learner_files
from digit_concepts.tool.learner_files import LearnerFileError

# Each file the tool reads, and the stage that writes it.
REQUIRED = {paths.LEARNER_ARRAYS: "cluster", paths.LEARNER_SETTINGS: "cluster", paths.CLUSTER_MODELS: "cluster",
            paths.COOCCURRENCE: "relate", paths.brain_model("image_to_audio"): "relate",
            paths.brain_model("audio_to_image"): "relate", paths.ADAPTATION_SETTINGS: "relate",
            paths.CONCEPT_TABLE: "convergence",
            paths.CONVERGENCE_METRICS: "convergence", paths.FAMILIARITY: "convergence", paths.AUDIO_SETTINGS: "preprocess",
            paths.autoencoder_model("image"): "train_image_ae", paths.autoencoder_model("audio"): "train_audio_ae"}
STAGE_ORDER = ["preprocess", "train_image_ae", "train_audio_ae", "cluster", "relate", "convergence"]
# Each file the tool may read (some only for some settings), and the stage that writes it.
WRITTEN_BY = {**REQUIRED, paths.AUDIO_FEATURE_STATISTICS: "preprocess", paths.IMAGE_CLASSIFIER: "cluster",
              paths.AUDIO_CLASSIFIER: "cluster"}
# What reading a damaged or crafted piece raises: OSError (h5py, I/O), ValueError (np.load of an
# object array with allow_pickle=False, JSON, CSV, Keras: "File not found" for a truncated .keras,
# safe mode refusing a Lambda layer, an unknown class), zipfile.BadZipFile (a truncated .npz, a
# bad CRC), zlib.error and EOFError (a truncated compressed member).
UNREADABLE = (OSError, ValueError, zipfile.BadZipFile, zlib.error, EOFError)
# Keras also fails to rebuild a crafted or incomplete model with a TypeError (a layer it cannot
# build), a KeyError (no config.json in the archive) or a RuntimeError (a layer the config lacks).
UNREADABLE_MODEL = (*UNREADABLE, TypeError, KeyError, RuntimeError)


ZONE_WORDS = {"both": "convergence zone (and divergent)", "convergence": "convergence zone",
              "divergence": "divergence zone", "none": "no zone"}


class MissingLearner(RuntimeError):
    """The pipeline's outputs are not there; the message says what to run."""


class UnreadableLearner(MissingLearner):
    """A piece of the learner is there but cannot be read (truncated, corrupt or crafted) or used
    (an array, key or column missing, a wrong shape or type, a piece of another run); the message
    names the file and what to run. A MissingLearner: there is no usable learner either way."""


def restore_advice(stage: str) -> str:
    return (f"Restore it with `dvc checkout --force {stage}` (or `dvc pull --force {stage}` if a DVC remote holds "
            f"it), or train it again with `dvc repro {stage}` in the repository, or point --model at a folder "
            "that has it")


def unusable(root: Path, relative: Path, reason: str) -> UnreadableLearner:
    """The error for a piece that was read but cannot be used (``reason``: one line)."""
    path = Path(root) / relative
    return UnreadableLearner(f"{path.resolve()}: not a usable piece of the trained learner ({reason}). "
                             + restore_advice(WRITTEN_BY[Path(relative)]))


def read_piece(root: Path, relative: Path, reader, errors: tuple[type[BaseException], ...] = UNREADABLE):
    """``reader(root / relative)``; what a damaged or crafted file raises (``errors``) becomes one
    UnreadableLearner naming the file, and so does a LearnerFileError (read, but not usable). Only
    the reading is guarded: other errors keep their traceback."""
    path = Path(root) / relative
    try:
        return reader(path)
    except LearnerFileError as error:
        raise unusable(root, relative, str(error)) from error
    except errors as error:
        if path.suffix in (".keras", ".npz") and path.is_file() and not zipfile.is_zipfile(path):
            reason = "not a complete zip archive: truncated or corrupt"  # Keras would say "File not found"
        else:
            # One line, at most two sentences (Keras goes on with advice the tool cannot follow).
            reason = ". ".join(" ".join(f"{type(error).__name__}: {error}".split()).split(". ")[:2]).rstrip(".")
            reason = reason if len(reason) <= 300 else reason[:297] + "..."
        raise UnreadableLearner(f"{path.resolve()}: cannot read this piece of the trained learner ({reason}). "
                                + restore_advice(WRITTEN_BY[Path(relative)])) from error


@dataclass(frozen=True)
class Recognition:
    """What the learner makes of one sample."""

    sense: str  # "image" or "audio"
    concept: int  # image concept, or merged audio concept (named after its image partner)
    cluster: int  # the cluster the sample fell in (the concept itself for images)
    confidence: float  # calibrated posterior of the concept
    partner: int  # the partner concept in the other sense
    p_partner_given_concept: float
    zone: str  # the concept's zone in the concept table: convergence, divergence, both or none
    familiarity: float = 1.0  # share of validation samples as unlike the train samples (familiarity.py)
    unfamiliar: bool = False  # familiarity below the flagged share: far from every concept
    posterior: float | None = None  # the calibrated posterior before familiarity lowered it

    @property
    def convergence(self) -> bool:
        return self.zone in ("convergence", "both")

    def as_dict(self) -> dict:
        return {**asdict(self), "partner_sense": SENSE_KINDS[self.sense].partner, "convergence": self.convergence}

    def describe(self) -> str:
        """One line, as ``digit-concepts recognise`` prints it."""
        kind = SENSE_KINDS[self.sense]
        own = f"{self.sense} concept {self.concept}" + (f" (cluster {self.cluster})" if kind.shows_cluster else "")
        unlike = f"; UNFAMILIAR: unlike every train sample (familiarity {self.familiarity:.3f})" if self.unfamiliar else ""
        return (f"{own}, confidence {self.confidence:.3f}; partner: {kind.partner} concept {self.partner}, "
                f"P(partner | concept) {self.p_partner_given_concept:.2f}; {ZONE_WORDS.get(self.zone, self.zone)}"
                + unlike)


@dataclass(frozen=True)
class Perception:
    """Samples of one sense as the learner perceives them."""

    codes: np.ndarray  # (n, code size)
    errors: np.ndarray  # each sample's reconstruction error (what its autoencoder cannot give back)
    # Over image concepts, when a self-labelled classifier names the sense's samples (self_labelling.py).
    concept_log_posteriors: np.ndarray | None = None


@dataclass(frozen=True)
class Naming:
    """What a batch of one sense's samples is named, before familiarity and zones."""

    clusters: np.ndarray  # the cluster each sample fell in
    concepts: np.ndarray  # the concept each is named
    confidences: list[float]  # the calibrated posterior of that concept
    partner_shares: np.ndarray  # (n, the partner sense's concepts): P(partner | concept)


def predicted(model, inputs: np.ndarray, batch_size: int) -> np.ndarray:
    """``model.predict(inputs, batch_size)``. Inputs that fit in one batch go straight to the
    compiled step that predict would run on them (``predict_on_batch``: the same numbers, without
    predict's tens of milliseconds of set-up per call, which the try-it page would pay per stroke)."""
    inputs = np.asarray(inputs, dtype=np.float32)
    if len(inputs) <= batch_size:
        return np.asarray(model.predict_on_batch(inputs))
    return model.predict(inputs, batch_size=batch_size, verbose=0)


def missing_files(root: Path) -> list[Path]:
    return [path for path in REQUIRED if not (Path(root) / path).is_file()]


# ----------------------------------------------------------------------------------- the senses


class Sense:
    """What the learner does differently for one sense: how a sample reaches its encoder, how it
    is named, and where the partner sense's imagination of it starts. One per sense
    (``ImageSense``, ``AudioSense``), holding its learner."""

    name: str
    partner: str  # the other sense
    direction: str  # the brain module that translates this sense's codes into the partner's
    classifier_file: Path  # the self-labelled classifier that names this sense's new samples
    shows_cluster: bool  # a recognition line gives the cluster beside the concept

    def __init__(self, learner: "Learner"):
        self.learner = learner

    def inputs(self, contents: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """What the encoder reads, and what the decoder should give back."""
        raise NotImplementedError

    def calibrated_posteriors(self, codes: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def named(self, perceived: Perception, batch_neighbours: int) -> Naming:
        raise NotImplementedError

    def imagined_from(self, codes: np.ndarray, image_from: str, named: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Where the partner sense's imagination starts: codes in its space, and its concept of
        each (the brain module's translation, named by the partner's own clusters)."""
        centres = predicted(self.learner.brain(self.direction), codes, 32)  # 32: predict's default batch
        return centres, self.learner.clusters(self.partner, centres)


class ImageSense(Sense):
    name = "image"
    partner = "audio"
    direction = "image_to_audio"
    classifier_file = paths.IMAGE_CLASSIFIER
    shows_cluster = False  # an image's cluster is its concept

    def inputs(self, contents: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        pictures = np.stack(contents)
        return pictures, pictures

    def calibrated_posteriors(self, codes: np.ndarray) -> np.ndarray:
        """Over image concepts: the concepts' Gaussians in code space."""
        learner = self.learner
        log_posteriors = clustering.gaussian_log_posteriors(codes, learner.gaussians["image_means"],
                                                            learner.gaussians["image_covariances"], learner.sizes["image"])
        return fusion.temper(log_posteriors, learner.temperatures["image"])

    def named(self, perceived: Perception, batch_neighbours: int) -> Naming:
        """An image's concept is its cluster: the self-labelled classifier's, else the codes' own."""
        learner, taught = self.learner, perceived.concept_log_posteriors
        if taught is not None:
            clusters, posteriors = taught.argmax(axis=1), fusion.temper(taught, learner.temperatures["image"])
        else:
            clusters, posteriors = learner.clusters("image", perceived.codes), self.calibrated_posteriors(perceived.codes)
        concepts = clusters.astype(np.int64)
        confidences = [float(posterior[concept]) for posterior, concept in zip(posteriors, concepts)]
        return Naming(clusters, concepts, confidences, relations.audio_given_image(learner.merged_counts)[concepts])


class AudioSense(Sense):
    name = "audio"
    partner = "image"
    direction = "audio_to_image"
    classifier_file = paths.AUDIO_CLASSIFIER
    shows_cluster = True  # many audio clusters merge into one concept

    def inputs(self, contents: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        return self.learner.audio_inputs(contents), self.learner.log_mels(contents)

    def calibrated_posteriors(self, codes: np.ndarray) -> np.ndarray:
        """Over audio clusters: the k-means posteriors."""
        return fusion.temper(self.learner.models["audio"].log_posteriors(codes), self.learner.temperatures["audio"])

    def named(self, perceived: Perception, batch_neighbours: int) -> Naming:
        """A recording's concept is the image concept its cluster is merged into, or the one the
        audio classifier names, or (a batch that adapts) the one its batch neighbours help name."""
        learner, codes, taught = self.learner, perceived.codes, perceived.concept_log_posteriors
        clusters, posteriors = learner.clusters("audio", codes), self.calibrated_posteriors(codes)
        if batch_neighbours or taught is not None:
            concepts = learner.adapted_audio_concepts(codes, batch_neighbours, taught).astype(np.int64)
        else:
            concepts = learner.audio_concept_of_cluster[clusters].astype(np.int64)
        # The classifier's own probability where it names recordings, else the clusters' that merge into it.
        confidences = [float(np.exp(taught[index, concept]) if taught is not None
                             else posterior[learner.audio_concept_of_cluster == concept].sum())
                       for index, (posterior, concept) in enumerate(zip(posteriors, concepts))]
        return Naming(clusters, concepts, confidences, relations.image_given_audio(learner.merged_counts)[:, concepts].T)

    def imagined_from(self, codes: np.ndarray, image_from: str, named: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """With ``image_from`` "concept", the mean of the image concept each recording is ``named``
        (by default, the one its code is named alone)."""
        if image_from != "concept":
            return super().imagined_from(codes, image_from, named)
        partners = (self.learner.adapted_audio_concepts(np.asarray(codes, dtype=np.float32), 0) if named is None
                    else np.asarray(named, dtype=np.int64))
        return self.learner.gaussians["image_means"][partners].astype(np.float32), partners


SENSE_KINDS: dict[str, type[Sense]] = {kind.name: kind for kind in (ImageSense, AudioSense)}


# ----------------------------------------------------------------------------------- the learner


class Learner:
    """The fitted learner of a project folder (a repository after ``dvc repro``, or a copy). Every
    piece is checked as it is read (``learner_files``): one that cannot be used is an
    UnreadableLearner naming the file and the stage that writes it."""

    def __init__(self, root: Path, seed: int = 42):
        self.root, self.seed = Path(root), seed
        missing = missing_files(self.root)
        if missing:
            stage = max((REQUIRED[path] for path in missing), key=STAGE_ORDER.index)
            raise MissingLearner(
                f"no trained learner in {self.root.resolve()}: missing {', '.join(map(str, missing))}. "
                f"Train it with `dvc repro {stage}` in the repository (or fetch it with `dvc pull {stage}` "
                f"if a DVC remote holds it), or point --model at a folder that has it")
        # Sizes several pieces share (code sizes, numbers of clusters): read in stage order, so a
        # piece that disagrees with an earlier stage's is the one named.
        self.dimensions = dimensions = learner_files.Sizes()
        self.settings = settings = self._read(paths.LEARNER_SETTINGS,
                                              lambda path: learner_files.settings_file(path, dimensions))
        fitted = self._read(paths.LEARNER_ARRAYS, lambda path: learner_files.fitted_concepts(path, settings, dimensions))
        self.arrays, self.models, self.sizes = fitted.arrays, fitted.models, fitted.train_sizes
        self.senses = {kind.name: kind(self) for kind in SENSE_KINDS.values()}
        # Self-labelling: classifiers taught the image concepts name new images and recordings (self_labelling.py).
        self.named_by_classifier = {sense: settings.of(sense).classifier for sense in SENSES}
        for sense, taught in self.named_by_classifier.items():
            classifier_file = self.senses[sense].classifier_file
            if taught and not (self.root / classifier_file).is_file():
                raise MissingLearner(f"no trained learner in {self.root.resolve()}: missing {classifier_file}. "
                                     "Train it with `dvc repro cluster` in the repository")
        self.gaussians = self._read(paths.CLUSTER_MODELS, lambda path: learner_files.concept_gaussians(path, dimensions))
        self.counts = self._read(paths.COOCCURRENCE, lambda path: learner_files.cooccurrence_counts(path, dimensions))
        self.audio_concept_of_cluster = relations.merge_by_partner(self.counts)
        merged = np.zeros((self.counts.shape[0], self.counts.shape[0]), dtype=np.float64)
        np.add.at(merged.T, self.audio_concept_of_cluster, self.counts.T)
        self.merged_counts = merged  # image concept x merged audio concept
        # The most batch neighbours a recording borrows from (the pipeline's adaptation.batch_neighbours).
        self.batch_neighbours = self._read(paths.ADAPTATION_SETTINGS, learner_files.batch_neighbours)
        self.table = self._read(paths.CONCEPT_TABLE, lambda path: learner_files.concept_table(path, dimensions))
        self.temperatures = self._read(paths.CONVERGENCE_METRICS, learner_files.calibration_temperatures)
        self.familiarity = self._read(paths.FAMILIARITY,
                                      lambda path: learner_files.familiarity_references(path, dimensions))
        self.audio_settings = self._read(paths.AUDIO_SETTINGS, learner_files.audio_settings)
        self.keras_models = {}

    def _read(self, relative: Path, reader, errors=UNREADABLE):
        return read_piece(self.root, relative, reader, errors)

    def _model(self, key: str, relative: Path, load, widths):
        """The Keras model at ``relative``, loaded once (``load(path)``); ``widths(model)`` lists
        (size name, its size in the model, what shows it), each checked against the other pieces."""
        if key not in self.keras_models:
            def checked(path: Path):
                model = load(path)
                for size_name, size, shown_by in widths(model):
                    self.dimensions.fix(size_name, size, f"{shown_by} of {relative.name}")
                return model

            self.keras_models[key] = self._read(relative, checked, UNREADABLE_MODEL)
        return self.keras_models[key]

    # --- models, each loaded once, and only when needed ---
    def halves(self, sense: str):
        from digit_concepts.senses.autoencoders import load_halves

        relative = paths.autoencoder_model(sense)
        if sense not in self.keras_models:
            encoder, decoder = self._model(sense, relative, lambda path: load_halves(path, self.seed), lambda halves: [])
            # The autoencoder comes before the cluster stage: codes of another size mean that the
            # learner's arrays were made from another autoencoder.
            try:
                for size, shown_by in ((learner_files.width(encoder, "outputs"), "the encoder's output"),
                                       (learner_files.width(decoder, "inputs"), "the decoder's input")):
                    self.dimensions.fix(f"{sense} code size", size, f"{shown_by} in {relative}")
            except LearnerFileError as error:
                del self.keras_models[sense]
                raise unusable(self.root, paths.LEARNER_ARRAYS, str(error)) from error
        return self.keras_models[sense]

    def classifier(self, sense: str = "image"):
        """The self-labelled classifier that names the sense's new samples (over the image concepts)."""
        from digit_concepts.concepts.self_labelling import load_classifier

        return self._model(f"{sense}_classifier", self.senses[sense].classifier_file,
                           lambda path: load_classifier(path, self.seed),
                           lambda model: [("image clusters", learner_files.width(model, "outputs"), "the output")])

    def taught(self, sense: str, perceived: Perception, inputs: np.ndarray) -> Perception:
        """``perceived`` with the image-concept log posteriors of the sense's classifier, if it has one."""
        if not self.named_by_classifier[sense]:
            return perceived
        from digit_concepts.concepts.self_labelling import log_posteriors_of

        return replace(perceived, concept_log_posteriors=log_posteriors_of(predicted(self.classifier(sense), inputs,
                                                                                     1024)))

    def brain(self, direction: str):
        from digit_concepts.crossmodal.brain import load_map

        source, target = direction.split("_to_")
        return self._model(direction, paths.brain_model(direction), lambda path: load_map(path, self.seed),
                           lambda model: [(f"{source} code size", learner_files.width(model, "inputs"), "the input"),
                                          (f"{target} code size", learner_files.width(model, "outputs"), "the output")])

    # --- perception ---
    def audio_inputs(self, signals: list[np.ndarray]) -> np.ndarray:
        """What the audio autoencoder reads, made as ``preprocess`` makes it for FSDD recordings."""
        settings = self.audio_settings
        if settings.features == "log_mel":
            return self.log_mels(signals)
        statistics_file = self.root / paths.AUDIO_FEATURE_STATISTICS
        if not statistics_file.is_file():
            raise MissingLearner(f"missing {paths.AUDIO_FEATURE_STATISTICS}: run `dvc repro preprocess`")
        return audio.inputs_of(signals, settings, self._read(paths.AUDIO_FEATURE_STATISTICS,
                                                             learner_files.feature_statistics))

    def log_mels(self, signals: list[np.ndarray]) -> np.ndarray:
        """Normalised log-mels (n, n_mels, frames), made as ``preprocess`` makes FSDD's (trimmed,
        time-normalised, loudness removed): what an imagined sound is decoded to."""
        return audio.normalised_log_mels(signals, self.audio_settings)

    def perceive(self, sense: str, contents: list[np.ndarray]) -> Perception:
        """One sense's samples, in one batch: pictures as ``user_files.read_image`` gives them,
        recordings as ``user_files.read_audio`` does."""
        samples, targets = self.senses[sense].inputs(contents)
        return self.taught(sense, self.perception(sense, samples, targets), samples)

    def perception(self, sense: str, samples: np.ndarray, targets: np.ndarray) -> Perception:
        """What the encoder reads (``samples``) and what the decoder should give back (``targets``:
        the pictures themselves, or the recordings' normalised log-mels)."""
        from digit_concepts.senses.autoencoders import sample_errors

        codes = self.codes(sense, samples)
        _, decoder = self.halves(sense)
        return Perception(codes, sample_errors(targets, predicted(decoder, codes, 1024), binary=False)["mse"])

    def codes(self, sense: str, samples: np.ndarray) -> np.ndarray:
        encoder, _ = self.halves(sense)
        return predicted(encoder, samples, 1024)

    def clusters(self, sense: str, codes: np.ndarray) -> np.ndarray:
        """Each code's cluster, exactly as the pipeline assigns a test sample."""
        return self.models[sense].log_posteriors(codes).argmax(axis=1)

    def calibrated_posteriors(self, sense: str, codes: np.ndarray) -> np.ndarray:
        """Over image concepts (image) or audio clusters (audio), softened by the sense's temperature."""
        return self.senses[sense].calibrated_posteriors(codes)

    def adapted_audio_concepts(self, codes: np.ndarray, batch_neighbours: int,
                               taught_log_posteriors: np.ndarray | None = None) -> np.ndarray:
        """Audio concepts of recordings given together, as the pipeline names its test split:
        each borrows evidence from up to ``batch_neighbours`` fellow recordings nearer to it than
        its nearest train recording, and never more than the batch holds of one concept
        (``adaptation.batch_neighbours_for``: a batch of 10 or fewer borrows nothing). The evidence
        is the audio classifier's (``taught_log_posteriors``) where it names recordings."""
        borrowed = batch_neighbours_for(len(codes), self.counts.shape[0], batch_neighbours)
        # An audio concept is named after its image partner (relations.merge_by_partner).
        return relations.name_recordings_through_images(self.models["audio"].log_posteriors(codes), self.counts,
                                                        self.models["audio"].standardiser.apply(codes),
                                                        borrowed, self.arrays["audio_train_features"],
                                                        taught_log_posteriors)

    def recognise(self, sense: str, perceived: Perception, batch_neighbours: int = 0) -> list[Recognition]:
        """What the learner makes of each sample; recordings given together adapt to their voice
        when ``batch_neighbours`` > 0 (the concept may then differ from the cluster's own)."""
        reference = self.familiarity[sense]
        familiarities = reference.of(perceived.codes, perceived.errors)
        naming = self.senses[sense].named(perceived, batch_neighbours)
        results = []
        for cluster, concept, confidence, shares, familiar in zip(naming.clusters, naming.concepts, naming.confidences,
                                                                  naming.partner_shares, familiarities):
            partner = int(shares.argmax())
            row = self.table[(self.table["sense"] == sense) & (self.table["concept"] == int(cluster))]
            zone = str(row["zone"].iloc[0]) if len(row) else "none"
            lowered = confidence * min(1.0, float(familiar) / reference.flagged_share)
            results.append(Recognition(sense, int(concept), int(cluster), lowered, partner, float(shares[partner]), zone,
                                       float(familiar), bool(reference.unfamiliar(familiar)), confidence))
        return results

    # --- imagination ---
    def imagine(self, sense: str, codes: np.ndarray, samples: int = 1, temperature: float = 0.5,
                image_from: str = "brain", named: np.ndarray | None = None) -> np.ndarray:
        """What the other sense imagines for each code: (len(codes), samples, ...) images in [0, 1]
        (from recordings) or normalised log-mels (from images). The first sample is the brain
        module's translation, or, for a recording with ``image_from="concept"``, the mean of the
        image concept it is ``named`` (``recognise``'s concept; by default the one its code is named
        alone); the others vary it within that concept's Gaussian in code space."""
        if image_from not in IMAGINATION_ROUTES:
            raise ValueError(f"image_from must be one of {', '.join(IMAGINATION_ROUTES)}, got {image_from!r}")
        own = self.senses[sense]
        centres, partners = own.imagined_from(codes, image_from, named)
        covariances = self.gaussians[f"{own.partner}_covariances"]
        rng = np.random.default_rng(self.seed)
        drawn = [sample_concepts(code[None], covariances[[partner]], np.array([0]), samples - 1, temperature, rng)[0]
                 if samples > 1 else np.zeros((0, code.size), np.float32) for code, partner in zip(centres, partners)]
        all_codes = np.stack([np.concatenate([code[None], extra]) for code, extra in zip(centres, drawn)])
        _, decoder = self.halves(own.partner)
        flat = predicted(decoder, all_codes.reshape(-1, all_codes.shape[-1]), 1024)
        return flat.reshape(all_codes.shape[:2] + flat.shape[1:])

    def sound(self, normalised_log_mel: np.ndarray) -> np.ndarray:
        """An imagined log-mel as an 8 kHz waveform (Griffin-Lim, as the pipeline makes its sounds)."""
        return audio.to_sound(normalised_log_mel, self.audio_settings)
