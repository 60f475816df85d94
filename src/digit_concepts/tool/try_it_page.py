"""What the try-it page shows (``server.py``): the learner's answer for a drawing or a recording,
its pictures and sounds as bytes, a few training images of each image concept, and the concept
page, built by the report's own content functions.

Nothing here decides anything about a sample: the concept, confidence, partner and zone are the
``Learner``'s, and the doubts only put its own numbers into words.
"""

import base64
import dataclasses
import io
import os
import re
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from digit_concepts.reporting import figures, html_report, report_content
from digit_concepts.core import paths
from digit_concepts.crossmodal import zones
from digit_concepts.tool.learner import Learner, Recognition
from digit_concepts.core.params import PARAMS_FILE
from digit_concepts.core.params import load as load_params
from digit_concepts.senses.user_files import UserFileError, read_user_file

# Display choices, not model parameters (nothing is fitted or scored with them).
# The confidence is the learner's calibrated estimate that the concept is right: below 0.8 it
# expects to be wrong at least one time in five.
UNSURE_BELOW = 0.8
# Fewer than half of the concept's train episodes went with its best partner: the other sense is in doubt.
WEAK_PARTNER_BELOW = 0.5
EXAMPLES_SHOWN = 8  # training images shown for a concept
CONCEPT_PAGE = "/concepts/"  # where the concept page is served; its links are relative to it
MEDIA_TYPES = {".png": "image/png", ".wav": "audio/wav"}


@dataclasses.dataclass(frozen=True)
class ServedFile:
    content: bytes
    media_type: str


def png_bytes(pixels: np.ndarray) -> bytes:
    """A PNG of grey values in [0, 1] (h, w) or of RGB pixels (h, w, 3) as uint8."""
    from PIL import Image

    pixels = np.asarray(pixels)
    if pixels.dtype != np.uint8:
        pixels = np.round(np.clip(pixels, 0.0, 1.0) * 255).astype(np.uint8)
    stream = io.BytesIO()
    Image.fromarray(pixels).save(stream, format="PNG")
    return stream.getvalue()


def wav_bytes(signal: np.ndarray, sample_rate: int) -> bytes:
    """A 16-bit mono WAV, as ``audio.write_wav`` writes one to disk."""
    import soundfile

    stream = io.BytesIO()
    soundfile.write(stream, np.asarray(signal, dtype=np.float32), sample_rate, format="WAV", subtype="PCM_16")
    return stream.getvalue()


def data_uri(content: bytes, media_type: str) -> str:
    """``content`` inline in the answer (no second request, nothing stored on the server)."""
    return f"data:{media_type};base64,{base64.b64encode(content).decode('ascii')}"


def doubts(recognition: Recognition) -> list[str]:
    """Why the learner may be wrong about this sample, in words; empty when it is sure."""
    reasons = []
    if recognition.unfamiliar:
        reasons.append(f"unlike anything it learnt from: only {recognition.familiarity:.1%} of the digits it was "
                       f"checked on look this far from every concept (is it a digit?)")
    if recognition.confidence < UNSURE_BELOW:
        reasons.append(f"low confidence ({recognition.confidence:.2f}): other concepts are also likely")
    if recognition.p_partner_given_concept < WEAK_PARTNER_BELOW:
        reasons.append(f"this concept has no clear partner in the other sense (only "
                       f"{recognition.p_partner_given_concept:.0%} of its episodes went with concept "
                       f"{recognition.partner})")
    if not recognition.convergence:
        reasons.append("the two senses do not meet on this concept (it is in no convergence zone)")
    return reasons


def answer(recognition: Recognition) -> dict:
    """The recognition as the page reads it: the tool's fields (``recognise --json``), its line of
    text and the doubts."""
    return {**recognition.as_dict(), "description": recognition.describe(), "doubts": doubts(recognition),
            "unsure": bool(doubts(recognition))}


# Per sense: what an upload is called, what kind of file it is, and the formats read.
UPLOAD_NAMES = {"image": "the drawing", "audio": "the recording"}
FILE_KINDS = {"image": "a picture", "audio": "a recording"}
FILE_FORMATS = {"image": "PNG, JPEG", "audio": "WAV, FLAC, OGG"}


class NotThisSense(UserFileError):
    """An upload of the other sense (a picture where a recording was asked for, or the reverse)."""


def read_upload(learner: Learner, content: bytes, sense: str, max_seconds: float, max_pixels: int):
    """An upload read as the tool reads a file of that sense (``user_files.read_user_file``)."""
    name = UPLOAD_NAMES[sense]
    found, sample = read_user_file(content, learner.audio_settings.sample_rate, name, max_seconds, max_pixels)
    if found != sense:
        raise NotThisSense(f"{name}: this is {FILE_KINDS[found]}, not {FILE_KINDS[sense]} ({FILE_FORMATS[sense]})")
    return sample


def drawing_answer(learner: Learner, content: bytes, max_seconds: float, max_pixels: int, image_from: str) -> dict:
    """A drawing (any picture the tool reads), as ``recognise`` and ``imagine`` treat a PNG file:
    its concept, the sound imagined for it, and what the learner saw."""
    started = time.perf_counter()
    picture = read_upload(learner, content, "image", max_seconds, max_pixels)
    perceived = learner.perceive("image", [picture])
    recognition = learner.recognise("image", perceived)[0]
    sound = learner.sound(learner.imagine("image", perceived.codes, 1, image_from=image_from)[0, 0])
    return {**answer(recognition), "seen": data_uri(png_bytes(picture), "image/png"),
            "imagined_sound": data_uri(wav_bytes(sound, learner.audio_settings.sample_rate), "audio/wav"),
            "examples_of": recognition.concept, "learner_seconds": time.perf_counter() - started}


def recording_answer(learner: Learner, content: bytes, max_seconds: float, max_pixels: int, image_from: str) -> dict:
    """A recording, as ``recognise`` and ``imagine`` treat a WAV file: its concept, the image
    imagined for it, and its log-mel as the learner hears it."""
    started = time.perf_counter()
    signal = read_upload(learner, content, "audio", max_seconds, max_pixels)
    perceived = learner.perceive("audio", [signal])
    recognition = learner.recognise("audio", perceived)[0]
    image = learner.imagine("audio", perceived.codes, 1, image_from=image_from,
                            named=np.array([recognition.concept]))[0, 0]
    return {**answer(recognition), "seconds": len(signal) / learner.audio_settings.sample_rate,
            "spectrogram": data_uri(spectrogram_png(learner.log_mels([signal])[0]), "image/png"),
            "imagined_image": data_uri(png_bytes(image), "image/png"),
            "examples_of": recognition.partner, "learner_seconds": time.perf_counter() - started}


def warm_up(learner: Learner, image_from: str) -> None:
    """One drawing and one recording (at 16 kHz: resampled) through every step: the models load
    and librosa's functions compile before the first visitor."""
    picture = np.zeros((56, 56))
    picture[10:46, 25:31] = 1.0  # a stroke, a "1"
    rate = 16000
    time_axis = np.arange(int(0.6 * rate)) / rate
    signal = 0.5 * np.sin(2 * np.pi * (300 * time_axis + 400 * time_axis ** 2)) * np.sin(np.pi * time_axis / 0.6)
    drawing_answer(learner, png_bytes(picture), 10.0, 10 ** 6, image_from)
    recording_answer(learner, wav_bytes(signal, rate), 10.0, 10 ** 6, image_from)


def fill(template: str, limits, **content: str) -> str:
    """A page template with its ``{{name}}`` slots filled: the limits, and ``content``."""
    values = {"max_upload_megabytes": f"{limits.upload_bytes / 2 ** 20:g}",
              "max_recording_seconds": f"{limits.recording_seconds:g}", **content}
    return re.sub(r"\{\{(\w+)\}\}", lambda match: values[match[1]], template)


def report_style() -> str:
    return html_report.STYLE


def spectrogram_png(log_mel: np.ndarray) -> bytes:
    """A log-mel as the report draws one (low frequencies at the bottom, its own colour range)."""
    return png_bytes(figures.picture(log_mel[None], "spectrogram", figures.spectrogram_limits(log_mel)))


def read_arrays(source: Path, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Only the named arrays of an npz (images.npz holds every split: no need to inflate them all)."""
    with np.load(source, allow_pickle=False) as archive:
        return {name: archive[name] for name in names}


def training_strips(images: np.ndarray, concepts: np.ndarray, seed: int) -> dict[int, bytes]:
    """Per image concept, a PNG strip of a seeded few of the training images the learner placed in it."""
    strips = {}
    for concept in np.unique(concepts):
        members = np.flatnonzero(concepts == concept)
        chosen = members[figures.subsample(len(members), EXAMPLES_SHOWN, seed + int(concept))]
        strips[int(concept)] = png_bytes(figures.picture(images[chosen], "image"))
    return strips


def training_examples(learner: Learner) -> dict[int, bytes]:
    """``training_strips`` of the learner's folder; empty when its train images or their concepts are
    not there (the page then shows no examples; recognition does not need them)."""
    root = learner.root
    if not ((root / paths.IMAGES).is_file() and (root / paths.CLUSTER_ASSIGNMENTS).is_file()):
        return {}
    images = read_arrays(root / paths.IMAGES, ("train",))["train"]
    concepts = read_arrays(root / paths.CLUSTER_ASSIGNMENTS, ("image_train",))["image_train"]
    if len(images) != len(concepts):
        raise ValueError(f"{root / paths.IMAGES}: {len(images)} train images, but "
                         f"{root / paths.CLUSTER_ASSIGNMENTS} places {len(concepts)}: rerun `dvc repro`")
    return training_strips(images, concepts, learner.seed)


# ----------------------------------------------------------------------------------- concept page

CONCEPT_PAGE_NEEDS = (paths.GENERATED, paths.IMAGES, paths.CLUSTER_ASSIGNMENTS, PARAMS_FILE)


def url_of(link: str) -> str:
    """The URL a relative link of the report's page has on the concept page."""
    from urllib.parse import unquote, urljoin

    return unquote(urljoin(CONCEPT_PAGE, link))


def report_file(link: str) -> Path:
    """The file under plots/ that a link of the report's page (plots/report/index.html) names."""
    from urllib.parse import unquote

    return Path(os.path.normpath(paths.REPORT_PAGE.parent / unquote(link)))


def concept_rows(learner: Learner, folder: Path) -> tuple[list[html_report.ConceptRow], zones.MergedZones]:
    """The report's concept rows and merged zones (``report_content.concept_rows``), their pictures
    written into ``folder`` (which stands for plots/)."""
    root = learner.root
    params = load_params(root / PARAMS_FILE)
    convergence = params.convergence
    counts = pd.read_csv(root / paths.COOCCURRENCE, index_col="image_concept").to_numpy()
    merged = zones.merged_zones(learner.table, counts, convergence.min_strength, convergence.min_share,
                                convergence.max_entropy_bits)
    generated = read_arrays(root / paths.GENERATED, ("concept_images", "concept_spectrograms"))
    test_images = read_arrays(root / paths.IMAGES, ("test",))["test"]
    test_concepts = read_arrays(root / paths.CLUSTER_ASSIGNMENTS, ("image_test",))["image_test"]
    rows = report_content.concept_rows(folder, generated, test_images, test_concepts, learner.table, merged,
                                       params.seed)
    return rows, merged


def served_links(rows: list[html_report.ConceptRow], folder: Path, root: Path) -> tuple[list[html_report.ConceptRow],
                                                                                     dict[str, ServedFile]]:
    """Every file the rows link, read into memory by the URL it has on the concept page: pictures
    from ``folder`` (written by ``concept_rows``), sounds from the learner's plots/ (the plot
    stage's); a sound that is not there is left out of its row."""
    served = {}

    def serve(link: str) -> bool:
        relative = report_file(link).relative_to(paths.PLOTS_DIR)
        for candidate in (folder / relative, root / paths.PLOTS_DIR / relative):
            if candidate.is_file():
                served[url_of(link)] = ServedFile(candidate.read_bytes(), MEDIA_TYPES[candidate.suffix])
                return True
        return False

    kept = []
    for row in rows:
        pictures = {what: getattr(row, what) if getattr(row, what) and serve(getattr(row, what)) else None
                    for what in ("members", "imagined")}
        kept.append(dataclasses.replace(row, **pictures, sounds=tuple(link for link in row.sounds if serve(link))))
    return kept, served


def concept_sections(learner: Learner) -> tuple[str, dict[str, ServedFile]]:
    """The report's "Concepts" and "Zones" sections for this learner, and the files they link (by
    URL). Pictures are drawn into a temporary folder that is removed before returning."""
    missing = [str(path) for path in CONCEPT_PAGE_NEEDS if not (learner.root / path).is_file()]
    if missing:
        table = learner.table.to_html(index=False, float_format=lambda value: f"{value:.3f}", border=0)
        return (f"<p class=\"note\">Pictures and zones need {', '.join(missing)} in {learner.root} (run "
                f"<code>dvc repro</code>); here is the concept table alone.</p>\n{table}", {})
    with tempfile.TemporaryDirectory(prefix="digit-concepts-page-") as folder:
        rows, merged = concept_rows(learner, Path(folder))
        rows, served = served_links(rows, Path(folder), learner.root)
    sections = "\n".join([html_report.concepts_section(rows, merged=True), html_report.zones_section(merged, None, rows)])
    return sections, served
