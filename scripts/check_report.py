"""Render plots/report/index.html in headless Chromium, offline, and check the screenshot is not blank.

Usage: python scripts/check_report.py [--page plots/report/index.html] [--screenshot out.png]
Exits non-zero if a link is broken, Chromium fails, or the screenshot is missing or blank.
Needs Chromium (Debian: apt-get install -y chromium).
"""

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from digit_concepts.core import paths
from digit_concepts.reporting import html_report

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
# Everything that would let a browser reach the network or phone home is off: the page must
# render from disk alone.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--window-size=1280,4000"]
MINIMUM_DISTINCT_COLOURS = 50  # a page of figures has thousands; an empty or error page a handful


def first_installed(names: tuple[str, ...], what: str, package: str) -> str:
    """The path of the first of ``names`` on the PATH; ValueError naming them and the Debian package."""
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    raise ValueError(f"no {what} found (tried {', '.join(names)}); apt-get install -y {package}")


def find_browser() -> str:
    return first_installed(BROWSERS, "headless browser", "chromium")


def screenshot(page: Path, target: Path, timeout_s: float = 120.0) -> None:
    with tempfile.TemporaryDirectory(prefix="check_report_profile_") as profile:
        command = [find_browser(), *FLAGS, f"--user-data-dir={profile}", f"--screenshot={target}",
                   page.resolve().as_uri()]
        finished = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
    if finished.returncode != 0:
        raise ValueError(f"chromium exited with {finished.returncode}:\n{finished.stderr[-2000:]}")


def blank_reason(image_path: Path) -> str | None:
    """Why a screenshot looks like a failed render, or None if it shows real content."""
    if not image_path.is_file() or image_path.stat().st_size == 0:
        return f"{image_path}: no screenshot written"
    pixels = np.asarray(Image.open(image_path).convert("RGB"))
    distinct = len(np.unique(pixels.reshape(-1, 3)[::7], axis=0))
    if distinct < MINIMUM_DISTINCT_COLOURS:
        return f"{image_path}: looks blank ({distinct} distinct colours)"
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--page", type=Path, default=paths.REPORT_PAGE)
    parser.add_argument("--screenshot", type=Path, default=Path(tempfile.gettempdir()) / "report_screenshot.png")
    arguments = parser.parse_args()
    if not arguments.page.is_file():
        print(f"{arguments.page}: no report; run the plot stage first", file=sys.stderr)
        return 1
    problems = html_report.missing_files(arguments.page)
    if problems:
        print(f"{arguments.page}: broken links: {', '.join(problems)}", file=sys.stderr)
        return 1
    arguments.screenshot.unlink(missing_ok=True)
    try:
        screenshot(arguments.page, arguments.screenshot)
    except (ValueError, subprocess.TimeoutExpired) as error:
        print(error, file=sys.stderr)
        return 1
    reason = blank_reason(arguments.screenshot)
    if reason:
        print(reason, file=sys.stderr)
        return 1
    print(arguments.screenshot.resolve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
