"""A static HTML page of every figure, sound and metric that opens offline, straight from disk.

The page links files by relative paths (no copies, no data URIs, no scripts, nothing from the
network), so it stays small and works from any checkout in which the plot stage has run.
"""

import html
import os
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote, unquote

STYLE = """
body { font-family: sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
h2 { border-bottom: 1px solid #ccc; padding-bottom: 0.2em; }
figure { margin: 1.5em 0; }
figure img { max-width: 100%; border: 1px solid #eee; }
table { border-collapse: collapse; margin-bottom: 1em; }
td, th { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: left; }
td.number { text-align: right; font-family: monospace; }
.sounds { display: flex; flex-wrap: wrap; gap: 1em; }
.sound { border: 1px solid #eee; padding: 0.4em; font-size: 0.9em; }
"""


def flatten_metrics(tree: dict, prefix: str = "") -> dict[str, float]:
    """Dotted names to numbers: metrics files are flat or nested one level (``image.acc``)."""
    flat = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten_metrics(value, name + "."))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            flat[name] = value
        else:
            raise ValueError(f"metric {name}: expected a number or a nested mapping, got {value!r}")
    return flat


def relative_link(target: Path, page: Path) -> str:
    """URL of ``target`` relative to the folder of ``page`` (both relative to the same root)."""
    relative = os.path.relpath(Path(target), Path(page).parent)
    return quote(Path(relative).as_posix())


def format_number(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    return f"{value:.4g}"


def metrics_section(metrics: dict[str, dict]) -> str:
    """One table per metrics file: ``metrics`` maps a file's name to its (nested) content."""
    parts = ["<h2>Metrics</h2>"]
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
    return "<h2>Figures</h2>\n" + "\n".join(items)


def sounds_section(sounds: list[tuple[str, str]]) -> str:
    """``sounds``: (label, relative link to a WAV) pairs; one native player each, no script needed."""
    items = [f"<div class=\"sound\"><div>{html.escape(label)}</div>"
             f"<audio controls preload=\"metadata\" src=\"{html.escape(link)}\"></audio></div>" for label, link in sounds]
    return "<h2>Generated sounds</h2>\n<div class=\"sounds\">" + "\n".join(items) + "</div>"


def render(title: str, figures: list[tuple[str, str]], sounds: list[tuple[str, str]], metrics: dict[str, dict]) -> str:
    """The whole page as text."""
    for caption, link in figures + sounds:
        if "://" in link or link.startswith(("/", "data:")):
            raise ValueError(f"{caption}: link {link!r} must be relative, so the page works offline from disk")
    return (f"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{html.escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
            f"<h1>{html.escape(title)}</h1>\n"
            "<p>Digit concepts discovered without labels from MNIST images and FSDD recordings; "
            "digits are used only to colour figures and to score.</p>\n"
            # Sounds before figures: the short section stays in view (and in a 4000 px screenshot).
            f"{metrics_section(metrics)}\n{sounds_section(sounds)}\n{figures_section(figures)}\n</body>\n</html>\n")


class _LinkCollector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.links.extend(value for name, value in attrs if name in ("src", "href") and value)


def local_links(page_text: str) -> list[str]:
    """Every src/href of a page, decoded to file paths as a browser would resolve them."""
    collector = _LinkCollector()
    collector.feed(page_text)
    return [unquote(link) for link in collector.links]


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
