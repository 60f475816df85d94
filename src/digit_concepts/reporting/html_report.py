"""A static HTML page a person reads: the headline numbers, one row per concept, the cross-modal
examples with their pictures and players, the zones of the merged concepts, then every metric
and figure. It opens offline, straight from disk.

The page links files by relative paths (no copies, no data URIs, no scripts, nothing from the
network), so it stays small and works from any checkout in which the plot stage has run. This
module only writes text: ``report_content`` gathers what the page shows, and ``report_figures``
and ``report_content`` write its pictures and sounds.
"""

import html
import os
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote, unquote

import numpy as np

from digit_concepts.core import evidence
from digit_concepts.crossmodal.zones import MergedZones

STYLE = """
body { font-family: sans-serif; margin: 2em auto; max-width: 1200px; color: #222; line-height: 1.35; }
h2 { border-bottom: 1px solid #ccc; padding-bottom: 0.2em; margin-top: 1.6em; }
nav a { margin-right: 1em; }
figure { margin: 1.5em 0; }
figure img { max-width: 100%; border: 1px solid #eee; }
table { border-collapse: collapse; margin-bottom: 1em; }
td, th { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: left; vertical-align: middle; }
td.number { text-align: right; font-family: monospace; }
.note { color: #555; font-size: 0.9em; max-width: 60em; }
.headline { display: flex; flex-wrap: wrap; gap: 0.8em; }
.headline .card { border: 1px solid #ccc; border-radius: 6px; padding: 0.5em 0.8em; width: 17em; }
.headline .value { font-size: 1.9em; font-weight: bold; }
.headline .label { font-weight: bold; }
.headline .meaning { font-size: 0.85em; color: #444; }
td.pictures img, td.picture img { display: block; image-rendering: pixelated; margin: 2px 0; }
.caption { font-size: 0.75em; color: #666; }
audio { width: 200px; height: 32px; display: block; }
table.example audio { width: 150px; }
table.example td.source, table.example td.imagined { max-width: 160px; }
.examples { display: flex; flex-wrap: wrap; gap: 0.6em; }
table.example { margin: 0; }
table.example td { border: none; padding: 0.2em 0.3em; }
table.example { border: 1px solid #ccc; border-radius: 6px; border-collapse: separate; }
td.arrow { font-size: 1.6em; color: #888; }
.zone { padding: 0.1em 0.5em; border-radius: 4px; color: white; white-space: nowrap; }
.zone.convergence { background: #2ca02c; } .zone.divergence { background: #ff7f0e; }
.zone.both { background: #9467bd; } .zone.none { background: #7f7f7f; }
table.merged td { text-align: right; font-family: monospace; min-width: 3.2em; }
table.merged td.pair { outline: 2px solid #2ca02c; outline-offset: -2px; font-weight: bold; }
"""

ZONE_WORDS = {
    "convergence": "the senses meet: image concept and audio concept are each other's best partner",
    "divergence": "the concept spreads over several partners in the other sense",
    "both": "converges on one merged concept, and diverges over that concept's audio clusters",
    "none": "neither",
}


@dataclass(frozen=True)
class Headline:
    """One number of the headline: a share between 0 and 1 (None: not measured)."""

    label: str
    value: float | None
    meaning: str


@dataclass(frozen=True)
class ConceptRow:
    """One image concept with its pictures, its imagined sounds, its audio partners and zone."""

    concept: int
    size: int  # train images in the concept
    members: str | None  # link to a strip of test images the learner placed in it
    imagined: str | None  # link to a strip of images sampled from it
    sounds: tuple[str, ...]  # links to WAVs imagined from it (its audio partner's samples)
    partner: int  # best audio cluster
    p_partner_given_concept: float
    p_concept_given_partner: float
    zone: str
    merged_partner: int | None = None  # best merged audio concept, when the table has them
    merged_clusters: int | None = None  # audio clusters merged into it
    p_merged_given_concept: float | None = None
    p_concept_given_merged: float | None = None


@dataclass(frozen=True)
class Example:
    """A cross-modal example: the source (picture and/or sound) beside what was imagined from it."""

    source_label: str
    source_picture: str | None
    source_sound: str | None
    imagined_label: str
    imagined_picture: str | None
    imagined_sound: str | None


@dataclass
class Page:
    """Everything the page shows; links are relative to the page."""

    title: str
    headline: list[Headline] = field(default_factory=list)
    summary: str = ""  # a sentence under the headline: what was found
    concepts: list[ConceptRow] = field(default_factory=list)
    examples: dict[str, list[Example]] = field(default_factory=dict)  # section title -> examples
    merged_zones: MergedZones | None = None
    generalisation: dict | None = None  # metrics/generalisation.json, when it exists
    metrics: dict[str, dict] = field(default_factory=dict)
    figures: list[tuple[str, str]] = field(default_factory=list)  # (caption, link)

    def links(self) -> list[tuple[str, str]]:
        """(what, link) of every file the page points at."""
        found = list(self.figures)
        for row in self.concepts:
            found += [(f"concept {row.concept}", link) for link in (row.members, row.imagined, *row.sounds) if link]
        for examples in self.examples.values():
            for example in examples:
                found += [(example.source_label, link) for link in (example.source_picture, example.source_sound,
                                                                   example.imagined_picture, example.imagined_sound) if link]
        return found


def flatten_metrics(tree: dict) -> dict[str, float]:
    """Dotted names to numbers: metrics files are flat or nested (``image.acc``, ``image.acc_interval.low``)."""
    return evidence.flatten(tree)


def relative_link(target: Path, page: Path) -> str:
    """URL of ``target`` relative to the folder of ``page`` (both relative to the same root)."""
    relative = os.path.relpath(Path(target), Path(page).parent)
    return quote(Path(relative).as_posix())


def format_number(value: float) -> str:
    if isinstance(value, (int, np.integer)):
        return str(value)
    return f"{value:.4g}"


def percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100.0 * value:.1f}%"


def _e(text) -> str:
    return html.escape(str(text))


def _img(link: str | None, alt: str) -> str:
    return f"<img src=\"{_e(link)}\" alt=\"{_e(alt)}\">" if link else ""


def _player(link: str | None) -> str:
    return f"<audio controls preload=\"metadata\" src=\"{_e(link)}\"></audio>" if link else ""


def _zone(zone: str) -> str:
    return f"<span class=\"zone {_e(zone)}\" title=\"{_e(ZONE_WORDS.get(zone, ''))}\">{_e(zone)}</span>"


def headline_section(headline: list[Headline], summary: str = "") -> str:
    cards = "".join(f"<div class=\"card\"><div class=\"value\">{percent(item.value)}</div>"
                    f"<div class=\"label\">{_e(item.label)}</div><div class=\"meaning\">{_e(item.meaning)}</div></div>"
                    for item in headline)
    return ("<h2 id=\"headline\">Headline</h2>\n<p class=\"note\">All on the test split, which the learner never "
            "trained on. Digit labels were never used to learn; they only score the result.</p>\n"
            f"<div class=\"headline\">{cards}</div>" + (f"\n<p>{_e(summary)}</p>" if summary else ""))


def generalisation_section(generalisation: dict) -> str:
    """Flat keys ``<scheme>.<metric>.<statistic>`` (statistic ``mean``, ``min`` or a held-out
    speaker): one table per scheme, one row per metric, one column per statistic."""
    tables: dict[str, dict[str, dict[str, float]]] = {}
    for name, value in flatten_metrics(generalisation).items():
        parts = name.split(".")
        scheme, metric, statistic = (parts[0], ".".join(parts[1:-1]), parts[-1]) if len(parts) >= 3 else ("", name, "value")
        tables.setdefault(scheme, {}).setdefault(metric, {})[statistic] = value
    parts = ["<h2 id=\"generalisation\">Generalisation</h2>",
             "<p class=\"note\">Each scheme holds data out (for example <code>loso</code>: leave one speaker out) "
             "and scores the learner on them: the mean and the worst over the held-out groups, then each group.</p>"]
    for scheme, rows in tables.items():
        statistics = sorted({s for row in rows.values() for s in row},
                            key=lambda s: ({"mean": 0, "min": 1, "max": 2}.get(s, 3), s))
        head = "".join(f"<th>{_e(s)}</th>" for s in statistics)
        body = "".join(f"<tr><td>{_e(metric)}</td>" + "".join(
            f"<td class=\"number\">{format_number(row[s]) if s in row else ''}</td>" for s in statistics) + "</tr>"
            for metric, row in rows.items())
        parts.append(f"<h3>{_e(scheme or 'other')}</h3><table class=\"generalisation\"><tr><th>metric</th>{head}</tr>"
                     f"{body}</table>")
    return "\n".join(parts)


def concepts_section(concepts: list[ConceptRow], merged: bool) -> str:
    rows = []
    for row in concepts:
        pictures = "".join(f"<div class=\"caption\">{caption}</div>{_img(link, f'concept {row.concept}: {caption}')}"
                           for caption, link in (("test images it holds", row.members),
                                                 ("imagined new samples", row.imagined)) if link)
        partner = (f"audio cluster {row.partner}: P(cluster | concept) {row.p_partner_given_concept:.2f}, "
                   f"P(concept | cluster) {row.p_concept_given_partner:.2f}")
        if merged and row.merged_partner is not None:
            partner = (f"<b>audio concept {row.merged_partner}</b> ({row.merged_clusters} clusters merged): "
                       f"P(audio | image) {row.p_merged_given_concept:.2f}, P(image | audio) "
                       f"{row.p_concept_given_merged:.2f}<br><span class=\"caption\">best single {_e(partner)}</span>")
        else:
            partner = _e(partner)
        rows.append(f"<tr class=\"concept\" id=\"concept-{row.concept}\"><td class=\"number\"><b>{row.concept}</b>"
                    f"<div class=\"caption\">{row.size} train images</div></td>"
                    f"<td class=\"pictures\">{pictures}</td><td class=\"sounds\">{''.join(map(_player, row.sounds))}</td>"
                    f"<td class=\"partner\">{partner}</td><td>{_zone(row.zone)}</td></tr>")
    return ("<h2 id=\"concepts\">Concepts</h2>\n<p class=\"note\">One row per image concept the learner found. "
            "The sounds are imagined from the concept: samples of its best audio partner, decoded and turned into "
            "sound by Griffin-Lim. The partner comes from counting which concepts occur together; the zone is "
            "explained under <a href=\"#zones\">Zones</a>.</p>\n"
            "<table class=\"concepts\"><tr><th>concept</th><th>images</th><th>imagined sound</th><th>partner</th>"
            f"<th>zone</th></tr>{''.join(rows)}</table>")


def _side(label: str, picture: str | None, sound: str | None, role: str) -> str:
    return (f"<td class=\"{role}\"><div class=\"caption\">{_e(label)}</div>"
            f"{_img(picture, label)}{_player(sound)}</td>")


def examples_section(examples: dict[str, list[Example]]) -> str:
    parts = ["<h2 id=\"cross-modal\">Cross-modal imagination</h2>",
             "<p class=\"note\">Test samples of one sense and what the learner imagines for them in the other, "
             "through the other sense's decoder: a sound from the brain module's translation of the image's code, "
             "an image from the image concept the recording is named or from the brain module's translation "
             "(<code>convergence.imagine_images_from</code>). Recordings are shown as log-mel spectrograms "
             "(time left to right, low frequencies at the bottom); their players re-synthesise the spectrogram by "
             "Griffin-Lim, so the source recordings sound as robotic as the imagined ones. The true digit is shown "
             "only to judge by eye.</p>"]
    for title, items in examples.items():
        # One small table per example (source, arrow, imagined), laid out in a wrapping grid.
        cards = "".join(f"<table class=\"example\"><tr class=\"pair\">"
                        f"{_side(item.source_label, item.source_picture, item.source_sound, 'source')}"
                        f"<td class=\"arrow\">&rarr;</td>"
                        f"{_side(item.imagined_label, item.imagined_picture, item.imagined_sound, 'imagined')}</tr></table>"
                        for item in items)
        parts.append(f"<h3>{_e(title)}</h3><div class=\"examples\">{cards}</div>")
    return "\n".join(parts)


def zones_section(zones: MergedZones | None, zone_figure: str | None, concepts: list[ConceptRow]) -> str:
    parts = ["<h2 id=\"zones\">Zones</h2>"]
    if zones is not None:
        parts.append(
            "<p class=\"note\">Audio is over-clustered (many small clusters, each mostly one speaker saying one digit); "
            "each audio cluster is merged into the audio concept of its best image partner. Below, each cell is "
            "P(audio concept | image concept) over the train episodes, with P(image concept | audio concept) on hover. "
            f"A <b>convergence zone</b> (outlined) is a pair that is each other's best partner with both "
            f"conditionals &ge; {zones.min_strength:g}. A <b>divergence zone</b> is a concept spread over two or more "
            f"partners with a share &ge; {zones.min_share:g}, or a partner entropy above "
            f"{zones.max_entropy_bits:g} bits.</p>")
        head = "".join(f"<th>audio {m}<div class=\"caption\">{n} clusters</div></th>"
                       for m, n in zip(zones.merged_ids, zones.clusters))
        pairs = {(i, int(np.argmax(zones.audio_given_image[i]))) for i, zone in enumerate(zones.zones)
                 if zone in ("convergence", "both")}
        rows = []
        for i, shares in enumerate(zones.audio_given_image):
            cells = []
            for j, share in enumerate(shares):
                shade = f"background: rgba(31, 119, 180, {0.85 * share:.2f});" + (" color: white;" if share > 0.5 else "")
                cells.append(f"<td class=\"{'pair' if (i, j) in pairs else ''}\" style=\"{shade}\" "
                             f"title=\"P(image {i} | audio {zones.merged_ids[j]}) = {zones.image_given_audio[i, j]:.3f}\">"
                             f"{share:.2f}</td>")
            rows.append(f"<tr><th>image {i}</th>{''.join(cells)}<th>{_zone(zones.zones[i])}</th></tr>")
        parts.append(f"<table class=\"merged\"><tr><th></th>{head}<th>zone (merged)</th></tr>{''.join(rows)}</table>")
        spread = sum(row.zone in ("divergence", "both") for row in concepts)
        if concepts:
            parts.append(f"<p class=\"note\">At the level of single audio clusters, {spread} of {len(concepts)} image "
                         "concepts diverge: they spread over several clusters, each mostly one speaker's recordings. The "
                         "per-concept zones above combine the two levels, as the pipeline reads them: convergence on "
                         "merged concepts, divergence on single clusters (the chart below).</p>")
    if zone_figure:
        parts.append(f"<figure><img src=\"{_e(zone_figure)}\" alt=\"zones\"><figcaption>partner entropy and link "
                     "strengths of every concept, at the level of clusters</figcaption></figure>")
    return "\n".join(parts)


def metrics_section(metrics: dict[str, dict]) -> str:
    """One table per metrics file: ``metrics`` maps a file's name to its (nested) content."""
    parts = ["<h2 id=\"metrics\">All metrics</h2>"]
    if not metrics:
        parts.append("<p>No metrics files were found.</p>")
    for source, tree in metrics.items():
        rows = "".join(f"<tr><td>{html.escape(name)}</td><td class=\"number\">{format_number(value)}</td></tr>"
                       for name, value in flatten_metrics(tree).items())
        parts.append(f"<h3>{html.escape(source)}</h3><table><tr><th>metric</th><th>value</th></tr>{rows}</table>")
    return "\n".join(parts)


def figures_section(figures: list[tuple[str, str]]) -> str:
    """``figures``: (caption, relative link) pairs, shown in the given order."""
    items = [f"<figure><img src=\"{html.escape(link)}\" alt=\"{html.escape(caption)}\">"
             f"<figcaption>{html.escape(caption)}</figcaption></figure>" for caption, link in figures]
    return "<h2 id=\"figures\">All figures</h2>\n" + "\n".join(items)


def render(page: Page) -> str:
    """The whole page as text."""
    for caption, link in page.links():
        if "://" in link or link.startswith(("/", "data:")):
            raise ValueError(f"{caption}: link {link!r} must be relative, so the page works offline from disk")
    sections = [headline_section(page.headline, page.summary)]
    if page.generalisation is not None:
        sections.append(generalisation_section(page.generalisation))
    sections.append(concepts_section(page.concepts, page.merged_zones is not None))
    if page.examples:
        sections.append(examples_section(page.examples))
    zone_figure = next((link for caption, link in page.figures if link.endswith("zones.png")), None)
    sections += [zones_section(page.merged_zones, zone_figure, page.concepts), metrics_section(page.metrics),
                 figures_section(page.figures)]
    contents = [("headline", "Headline")] + ([("generalisation", "Generalisation")] if page.generalisation is not None
                                             else []) + [("concepts", "Concepts")] + (
        [("cross-modal", "Cross-modal imagination")] if page.examples else []) + [
        ("zones", "Zones"), ("metrics", "All metrics"), ("figures", "All figures")]
    nav = "<nav>" + "".join(f"<a href=\"#{anchor}\">{_e(name)}</a>" for anchor, name in contents) + "</nav>"
    return (f"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{_e(page.title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
            f"<h1>{_e(page.title)}</h1>\n"
            "<p>A learner sees handwritten digits (MNIST) and hears spoken digits (FSDD) and discovers digit concepts "
            "without labels: it clusters what each sense perceives and counts which concepts occur together. Digits "
            "are used only to score and to colour figures.</p>\n"
            f"{nav}\n" + "\n".join(sections) + "\n</body>\n</html>\n")


class _LinkCollector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.links.extend(value for name, value in attrs if name in ("src", "href") and value)


def local_links(page_text: str) -> list[str]:
    """Every src/href of a page that names a file (not an anchor of the page itself), decoded to
    file paths as a browser would resolve them."""
    collector = _LinkCollector()
    collector.feed(page_text)
    return [unquote(link) for link in collector.links if not link.startswith("#")]


def missing_files(page: Path) -> list[str]:
    """Links of a written page that are remote or point at no file beside it."""
    page = Path(page)
    problems = []
    for link in local_links(page.read_text()):
        if "://" in link or link.startswith("data:"):
            problems.append(f"{link} (not a local file)")
        elif not (page.parent / link).is_file():
            problems.append(f"{link} (no such file)")
    return problems
