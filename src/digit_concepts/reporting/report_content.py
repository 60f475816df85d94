"""The report page's content: the headline numbers and what they mean, a summary, one row per
image concept (its pictures, sounds, partners and zone) and the cross-modal examples.

``page`` assembles it; ``report`` renders it as HTML. The pictures a row or an example shows are
written here, into the folder that will become plots/.
"""

from pathlib import Path

import numpy as np
import pandas as pd

from digit_concepts.reporting import figures, html_report
from digit_concepts.core import paths, storage
from digit_concepts.core.params import Params
from digit_concepts.evaluation import scoring
from digit_concepts.crossmodal import zones
from digit_concepts.reporting.report_figures import EXAMPLES, SOUNDS_PER_CONCEPT, inside

HEADLINE = (  # (metrics file, key, label, what it means)
    ("cluster", "image.acc", "images sorted into concepts",
     "Test images placed in the right one of the image concepts the learner found by itself (each concept "
     "matched to one digit only to score)."),
    ("relate", "audio_acc_through_images", "recordings named through images",
     "Test recordings named with the image concept of their digit by a classifier taught only by the images "
     "each train recording was seen with (each borrowing evidence from fellow test recordings nearer than any "
     "train one)."),
    ("transfer", "image_affine_acc", "digits tilted, scaled, shifted",
     "Test images under a random rotation (up to 20 degrees), scale (0.85-1.15) and shift (2 px), named as the "
     "clean ones are."),
    ("transfer", "audio_noise_acc", "recordings in noise",
     "Test recordings with white noise added at 10 dB signal-to-noise, each named alone through images as the "
     "clean ones are (the audio autoencoder trains on views in coloured noise at 0-20 dB, so this is a trained "
     "family, not transfer)."),
    ("convergence", "fused_acc", "both senses together",
     "Test episodes (an image and a recording of one digit) for which the two senses, each weighted by its "
     "confidence, name the right concept."),
    ("convergence", "coherence_image_to_audio", "image → imagined sound",
     "Sounds imagined from test images that an independent classifier (trained with labels, for scoring only) "
     "hears as the image's digit."),
    ("convergence", "coherence_audio_to_image", "recording → imagined image",
     "Images imagined from test recordings that an independent classifier reads as the recording's digit."),
    ("cluster", "audio_reference.acc", "audio alone",
     "Test recordings placed in the right one of 10 concepts found by clustering the audio codes alone, "
     "without the co-occurrence tables (the codes were shaped in training by the image teacher): "
     "what hearing achieves without naming through images."),
)
MEMBERS_SHOWN = 8  # test images per concept row


def headline(metrics: dict) -> list[html_report.Headline]:
    flat = {name: html_report.flatten_metrics(tree) for name, tree in metrics.items()}
    return [html_report.Headline(label, flat[source][key], meaning) for source, key, label, meaning in HEADLINE
            if key in flat.get(source, {})]


def summary(metrics: dict, concepts: pd.DataFrame) -> str:
    images = int((concepts["sense"] == "image").sum())
    clusters = int((concepts["sense"] == "audio").sum())
    text = f"The learner found {images} image concepts and {clusters} audio clusters"
    if "merged_concept" in concepts:
        merged = concepts.loc[concepts["sense"] == "audio", "merged_concept"].nunique()
        text += f", which it merged into {merged} audio concepts through their image partners"
    zones = metrics.get("convergence", {})
    if "n_convergence_zones" in zones:
        text += f"; {zones['n_convergence_zones']} image concepts converge with an audio concept"
    return text + "."


def concept_rows(folder: Path, generated: dict, test_images: np.ndarray, image_test_concepts: np.ndarray,
                 concepts: pd.DataFrame, zones_merged: zones.MergedZones | None, seed: int) -> list[html_report.ConceptRow]:
    """One row per image concept; writes its two picture strips."""
    link = lambda target: html_report.relative_link(target, paths.REPORT_PAGE)  # noqa: E731
    inside(folder, paths.REPORT_MEDIA_DIR).mkdir(parents=True, exist_ok=True)
    rows = []
    for entry in concepts[concepts["sense"] == "image"].sort_values("concept").itertuples():
        concept = int(entry.concept)
        strips = {}
        members = np.flatnonzero(image_test_concepts == concept)
        if len(members):
            chosen = members[figures.subsample(len(members), MEMBERS_SHOWN, seed + concept)]
            strips["members"] = test_images[chosen]
        if concept < len(generated["concept_images"]):
            strips["imagined"] = generated["concept_images"][concept][:MEMBERS_SHOWN]
        for what, samples in strips.items():
            figures.save_picture(figures.picture(samples, "image"), inside(folder, paths.concept_strip(concept, what)))
        sounds = tuple(link(paths.concept_sound(concept, sample)) for sample in range(SOUNDS_PER_CONCEPT)
                       if concept < len(generated["concept_spectrograms"])
                       and sample < generated["concept_spectrograms"].shape[1])
        merged = {}
        if zones_merged is not None and concept < len(zones_merged.audio_given_image):
            best = int(np.argmax(zones_merged.audio_given_image[concept]))
            merged = dict(merged_partner=zones_merged.merged_ids[best], merged_clusters=zones_merged.clusters[best],
                          p_merged_given_concept=float(zones_merged.audio_given_image[concept, best]),
                          p_concept_given_merged=float(zones_merged.image_given_audio[concept, best]))
        rows.append(html_report.ConceptRow(
            concept, int(entry.size), link(paths.concept_strip(concept, "members")) if "members" in strips else None,
            link(paths.concept_strip(concept, "imagined")) if "imagined" in strips else None, sounds,
            int(entry.best_partner), float(entry.p_partner_given_concept), float(entry.p_concept_given_partner),
            str(entry.zone), **merged))
    return rows


def cross_modal_examples(folder: Path, generated: dict) -> dict[str, list[html_report.Example]]:
    """Each example's source beside what was imagined from it; writes their small pictures."""
    link = lambda target: html_report.relative_link(target, paths.REPORT_PAGE)  # noqa: E731
    limits = figures.spectrogram_limits(generated["image_to_audio_spectrograms"][:EXAMPLES],
                                        generated["audio_to_image_sources"][:EXAMPLES])
    inside(folder, paths.REPORT_MEDIA_DIR).mkdir(parents=True, exist_ok=True)

    def draw(direction: str, example: int, role: str, sample: np.ndarray, kind: str) -> str:
        target = paths.cross_modal_picture(direction, example, role)
        figures.save_picture(figures.picture(sample[None], kind, limits), inside(folder, target))
        return link(target)

    examples = {}
    digits = scoring.load_digits("image", "test")  # shown beside each example, to judge by eye
    examples["image → sound: a test image and the sound imagined from it"] = [
        html_report.Example(f"test image #{index} (digit {digits[index]})",
                       draw("image_to_audio", example, "source", source, "image"), None,
                       "imagined sound", draw("image_to_audio", example, "imagined", imagined, "spectrogram"),
                       link(paths.image_to_audio_sound(example)))
        for example, (index, source, imagined) in enumerate(zip(
            generated["image_to_audio_source_index"][:EXAMPLES], generated["image_to_audio_sources"][:EXAMPLES],
            generated["image_to_audio_spectrograms"][:EXAMPLES]))]
    digits = scoring.load_digits("audio", "test")
    examples["sound → image: a test recording and the image imagined from it"] = [
        html_report.Example(f"test recording #{index} (digit {digits[index]})",
                       draw("audio_to_image", example, "source", source, "spectrogram"), link(paths.source_sound(example)),
                       "imagined image", draw("audio_to_image", example, "imagined", imagined, "image"), None)
        for example, (index, source, imagined) in enumerate(zip(
            generated["audio_to_image_source_index"][:EXAMPLES], generated["audio_to_image_sources"][:EXAMPLES],
            generated["audio_to_image_images"][:EXAMPLES]))]
    return examples


def read_metrics() -> dict[str, dict]:
    """Every metrics file the report shows (``paths.METRICS_FILES``), by name."""
    return {name: storage.read_json(source) for name, source in paths.METRICS_FILES.items()}


def read_generalisation() -> dict | None:
    """The leave-one-speaker-out summary, once `scripts/sweep.py loso` has written it (the report leaves its
    section out until then; tests/test_dvc_deps.py then insists on it being a dep of the plot stage)."""
    return storage.read_json(paths.GENERALISATION_METRICS) if paths.GENERALISATION_METRICS.is_file() else None


def page(*, folder: Path, params: Params, metrics: dict, generated: dict, test_images: np.ndarray,
         image_test_concepts: np.ndarray, concepts: pd.DataFrame, counts: pd.DataFrame,
         drawn: list[tuple[str, str]], generalisation: dict | None) -> html_report.Page:
    """The whole page; writes the pictures of its concept rows and examples into ``folder``."""
    convergence = params.convergence
    merged = zones.merged_zones(concepts, counts.to_numpy(), convergence.min_strength, convergence.min_share,
                                convergence.max_entropy_bits)
    return html_report.Page(
        "Digit concepts from two senses", headline=headline(metrics), summary=summary(metrics, concepts),
        concepts=concept_rows(folder, generated, test_images, image_test_concepts, concepts, merged, params.seed),
        examples=cross_modal_examples(folder, generated), merged_zones=merged, generalisation=generalisation,
        metrics=metrics, figures=drawn)
