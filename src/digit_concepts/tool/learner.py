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
import pandas as pd

from digit_concepts.senses import audio
from digit_concepts.concepts import clustering
from digit_concepts.crossmodal import fusion, relations
from digit_concepts.core import paths, storage
from digit_concepts.concepts.adaptation import batch_neighbours_for
from digit_concepts.concepts.familiarity import Familiarity
from digit_concepts.crossmodal.generation import sample_concepts
from digit_concepts.core.params import IMAGINATION_ROUTES

DIRECTIONS = {"image": "image_to_audio", "audio": "audio_to_image"}
OTHER = {"image": "audio", "audio": "image"}
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
CLASSIFIERS = {"image": paths.IMAGE_CLASSIFIER, "audio": paths.AUDIO_CLASSIFIER}  # self-labelling, per sense
# What reading a damaged or crafted piece raises: OSError (h5py, I/O), ValueError (np.load of an
# object array with allow_pickle=False, JSON, CSV, Keras: "File not found" for a truncated .keras,
# safe mode refusing a Lambda layer, an unknown class), zipfile.BadZipFile (a truncated .npz, a
# bad CRC), zlib.error and EOFError (a truncated compressed member).
UNREADABLE = (OSError, ValueError, zipfile.BadZipFile, zlib.error, EOFError)
# Keras also wraps any layer of a crafted config it cannot rebuild in a TypeError.
UNREADABLE_MODEL = (*UNREADABLE, TypeError)


ZONE_WORDS = {"both": "convergence zone (and divergent)", "convergence": "convergence zone",
              "divergence": "divergence zone", "none": "no zone"}


class MissingLearner(RuntimeError):
    """The pipeline's outputs are not there; the message says what to run."""


class UnreadableLearner(MissingLearner):
    """A piece of the learner is there but cannot be read (truncated, corrupt or crafted); the
    message names the file and what to run. A MissingLearner: there is no usable learner either way."""


def read_piece(root: Path, relative: Path, reader, errors: tuple[type[BaseException], ...] = UNREADABLE):
    """``reader(root / relative)``; what a damaged or crafted file raises (``errors``) becomes one
    UnreadableLearner naming the file. Only the reading is guarded: other errors keep their traceback."""
    path = Path(root) / relative
    try:
        return reader(path)
    except errors as error:
        if path.suffix in (".keras", ".npz") and path.is_file() and not zipfile.is_zipfile(path):
            reason = "not a complete zip archive: truncated or corrupt"  # Keras would say "File not found"
        else:
            # One line, at most two sentences (Keras goes on with advice the tool cannot follow).
            reason = ". ".join(" ".join(f"{type(error).__name__}: {error}".split()).split(". ")[:2]).rstrip(".")
            reason = reason if len(reason) <= 300 else reason[:297] + "..."
        stage = WRITTEN_BY[Path(relative)]
        raise UnreadableLearner(
            f"{path.resolve()}: cannot read this piece of the trained learner ({reason}). Restore it with "
            f"`dvc checkout --force {stage}` (or `dvc pull --force {stage}` if a DVC remote holds it), or train "
            f"it again with `dvc repro {stage}` in the repository, or point --model at a folder that has it") from error


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
        return {**asdict(self), "partner_sense": OTHER[self.sense], "convergence": self.convergence}

    def describe(self) -> str:
        """One line, as ``digit-concepts recognise`` prints it."""
        own = f"{self.sense} concept {self.concept}" + (f" (cluster {self.cluster})" if self.sense == "audio" else "")
        unlike = f"; UNFAMILIAR: unlike every train sample (familiarity {self.familiarity:.3f})" if self.unfamiliar else ""
        return (f"{own}, confidence {self.confidence:.3f}; partner: {OTHER[self.sense]} concept {self.partner}, "
                f"P(partner | concept) {self.p_partner_given_concept:.2f}; {ZONE_WORDS.get(self.zone, self.zone)}"
                + unlike)


@dataclass(frozen=True)
class Perception:
    """Samples of one sense as the learner perceives them."""

    codes: np.ndarray  # (n, code size)
    errors: np.ndarray  # each sample's reconstruction error (what its autoencoder cannot give back)
    # Over image concepts, when a self-labelled classifier names the sense's samples (self_labelling.py).
    concept_log_posteriors: np.ndarray | None = None


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


class Learner:
    """The fitted learner of a project folder (a repository after ``dvc repro``, or a copy)."""

    def __init__(self, root: Path, seed: int = 42):
        self.root, self.seed = Path(root), seed
        missing = missing_files(self.root)
        if missing:
            stage = max((REQUIRED[path] for path in missing), key=STAGE_ORDER.index)
            raise MissingLearner(
                f"no trained learner in {self.root.resolve()}: missing {', '.join(map(str, missing))}. "
                f"Train it with `dvc repro {stage}` in the repository (or fetch it with `dvc pull {stage}` "
                f"if a DVC remote holds it), or point --model at a folder that has it")
        self.arrays = arrays = self._read(paths.LEARNER_ARRAYS, storage.read_npz)
        settings = self._read(paths.LEARNER_SETTINGS, storage.read_json)
        self.models = {sense: clustering.SenseModel.from_arrays(arrays, sense, settings[sense]["reduction"])
                       for sense in ("image", "audio")}
        # Self-labelling: classifiers taught the image concepts name new images and recordings (self_labelling.py).
        self.named_by_classifier = {sense: bool(settings[sense].get("classifier", False)) for sense in CLASSIFIERS}
        for sense, taught in self.named_by_classifier.items():
            if taught and not (self.root / CLASSIFIERS[sense]).is_file():
                raise MissingLearner(f"no trained learner in {self.root.resolve()}: missing {CLASSIFIERS[sense]}. "
                                     "Train it with `dvc repro cluster` in the repository")
        self.sizes = {sense: arrays[f"{sense}_train_sizes"] for sense in ("image", "audio")}
        self.gaussians = self._read(paths.CLUSTER_MODELS, storage.read_npz)
        self.counts = self._read(paths.COOCCURRENCE, pd.read_csv).drop(columns="image_concept").to_numpy()
        self.audio_concept_of_cluster = relations.merge_by_partner(self.counts)
        merged = np.zeros((self.counts.shape[0], self.counts.shape[0]), dtype=np.float64)
        np.add.at(merged.T, self.audio_concept_of_cluster, self.counts.T)
        self.merged_counts = merged  # image concept x merged audio concept
        self.table = self._read(paths.CONCEPT_TABLE, pd.read_csv)
        calibration = self._read(paths.CONVERGENCE_METRICS, storage.read_json)
        self.temperatures = {"image": calibration["calibration_temperature_image"],
                             "audio": calibration["calibration_temperature_audio"]}
        self.audio_settings = audio.AudioSettings(**self._read(paths.AUDIO_SETTINGS, storage.read_json))
        references = self._read(paths.FAMILIARITY, storage.read_npz)
        self.familiarity = {sense: Familiarity.from_arrays(references, sense) for sense in ("image", "audio")}
        # The most batch neighbours a recording borrows from (the pipeline's adaptation.batch_neighbours).
        self.batch_neighbours = int(self._read(paths.ADAPTATION_SETTINGS, storage.read_json)["batch_neighbours"])
        self.keras_models = {}

    def _read(self, relative: Path, reader, errors=UNREADABLE):
        return read_piece(self.root, relative, reader, errors)

    # --- models, each loaded once, and only when needed ---
    def halves(self, sense: str):
        if sense not in self.keras_models:
            from digit_concepts.senses.autoencoders import load_halves

            self.keras_models[sense] = self._read(paths.autoencoder_model(sense),
                                                  lambda path: load_halves(path, self.seed), UNREADABLE_MODEL)
        return self.keras_models[sense]

    def classifier(self, sense: str = "image"):
        """The self-labelled classifier that names the sense's new samples."""
        if f"{sense}_classifier" not in self.keras_models:
            from digit_concepts.concepts.self_labelling import load_classifier

            self.keras_models[f"{sense}_classifier"] = self._read(
                CLASSIFIERS[sense], lambda path: load_classifier(path, self.seed), UNREADABLE_MODEL)
        return self.keras_models[f"{sense}_classifier"]

    def taught(self, sense: str, perceived: Perception, inputs: np.ndarray) -> Perception:
        """``perceived`` with the image-concept log posteriors of the sense's classifier, if it has one."""
        if not self.named_by_classifier[sense]:
            return perceived
        from digit_concepts.concepts.self_labelling import log_posteriors_of

        return replace(perceived, concept_log_posteriors=log_posteriors_of(predicted(self.classifier(sense), inputs,
                                                                                     1024)))

    def brain(self, direction: str):
        if direction not in self.keras_models:
            from digit_concepts.crossmodal.brain import load_map

            self.keras_models[direction] = self._read(paths.brain_model(direction),
                                                      lambda path: load_map(path, self.seed), UNREADABLE_MODEL)
        return self.keras_models[direction]

    # --- perception ---
    def audio_inputs(self, signals: list[np.ndarray]) -> np.ndarray:
        """What the audio autoencoder reads, made as ``preprocess`` makes it for FSDD recordings."""
        settings = self.audio_settings
        if settings.features == "log_mel":
            return self.log_mels(signals)
        statistics_file = self.root / paths.AUDIO_FEATURE_STATISTICS
        if not statistics_file.is_file():
            raise MissingLearner(f"missing {paths.AUDIO_FEATURE_STATISTICS}: run `dvc repro preprocess`")
        return audio.inputs_of(signals, settings, self._read(paths.AUDIO_FEATURE_STATISTICS, storage.read_npz))

    def log_mels(self, signals: list[np.ndarray]) -> np.ndarray:
        """Normalised log-mels (n, n_mels, frames), made as ``preprocess`` makes FSDD's (trimmed,
        time-normalised, loudness removed): what an imagined sound is decoded to."""
        return audio.normalised_log_mels(signals, self.audio_settings)

    def perceive(self, sense: str, contents: list[np.ndarray]) -> Perception:
        """One sense's samples, in one batch: pictures as ``user_files.read_image`` gives them,
        recordings as ``user_files.read_audio`` does."""
        if sense == "image":
            pictures = np.stack(contents)
            return self.taught(sense, self.perception(sense, pictures, pictures), pictures)
        inputs = self.audio_inputs(contents)
        return self.taught(sense, self.perception(sense, inputs, self.log_mels(contents)), inputs)

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
        if sense == "image":
            log_posteriors = clustering.gaussian_log_posteriors(codes, self.gaussians["image_means"],
                                                                self.gaussians["image_covariances"], self.sizes["image"])
        else:
            log_posteriors = self.models["audio"].log_posteriors(codes)
        return fusion.temper(log_posteriors, self.temperatures[sense])

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
        codes = perceived.codes
        reference = self.familiarity[sense]
        familiarities = reference.of(codes, perceived.errors)
        taught = perceived.concept_log_posteriors  # over image concepts, from a self-labelled classifier
        if sense == "image" and taught is not None:
            clusters = taught.argmax(axis=1)
            posteriors = fusion.temper(taught, self.temperatures[sense])
        else:
            clusters = self.clusters(sense, codes)
            posteriors = self.calibrated_posteriors(sense, codes)
        adapted = None
        if sense == "audio" and (batch_neighbours or taught is not None):
            adapted = self.adapted_audio_concepts(codes, batch_neighbours, taught)
        results = []
        for index, (cluster, posterior, familiar) in enumerate(zip(clusters, posteriors, familiarities)):
            if sense == "image":
                concept = int(cluster)
                confidence = float(posterior[concept])
                shares = relations.audio_given_image(self.merged_counts)[concept]
            else:
                concept = int(self.audio_concept_of_cluster[cluster] if adapted is None else adapted[index])
                # The classifier's own probability where it names recordings, else the clusters' that merge into it.
                confidence = float(np.exp(taught[index, concept]) if taught is not None
                                   else posterior[self.audio_concept_of_cluster == concept].sum())
                shares = relations.image_given_audio(self.merged_counts)[:, concept]
            partner = int(shares.argmax())
            row = self.table[(self.table["sense"] == sense) & (self.table["concept"] == int(cluster))]
            zone = str(row["zone"].iloc[0]) if len(row) else "none"
            lowered = confidence * min(1.0, float(familiar) / reference.flagged_share)
            results.append(Recognition(sense, concept, int(cluster), lowered, partner, float(shares[partner]), zone,
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
        target = OTHER[sense]
        if sense == "audio" and image_from == "concept":
            partners = (self.adapted_audio_concepts(np.asarray(codes, dtype=np.float32), 0) if named is None
                        else np.asarray(named, dtype=np.int64))
            centres = self.gaussians["image_means"][partners].astype(np.float32)
        else:
            centres = predicted(self.brain(DIRECTIONS[sense]), codes, 32)  # 32: predict's default batch
            partners = self.clusters(target, centres)
        covariances = self.gaussians[f"{target}_covariances"]
        rng = np.random.default_rng(self.seed)
        drawn = [sample_concepts(code[None], covariances[[partner]], np.array([0]), samples - 1, temperature, rng)[0]
                 if samples > 1 else np.zeros((0, code.size), np.float32) for code, partner in zip(centres, partners)]
        all_codes = np.stack([np.concatenate([code[None], extra]) for code, extra in zip(centres, drawn)])
        _, decoder = self.halves(target)
        flat = predicted(decoder, all_codes.reshape(-1, all_codes.shape[-1]), 1024)
        return flat.reshape(all_codes.shape[:2] + flat.shape[1:])

    def sound(self, normalised_log_mel: np.ndarray) -> np.ndarray:
        """An imagined log-mel as an 8 kHz waveform (Griffin-Lim, as the pipeline makes its sounds)."""
        return audio.to_sound(normalised_log_mel, self.audio_settings)
