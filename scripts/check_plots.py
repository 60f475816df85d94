"""Render a `dvc plots show` / `dvc plots diff` page in headless Chromium, offline, and check every chart.

Usage: python scripts/check_plots.py [dvc_plots/index.html]
Prints one line per chart and exits non-zero if the page loads anything from outside the file,
a script fails, a vega chart draws nothing (no data marks, or a blank canvas) or an image plot
does not load. Needs Chromium (Debian: apt-get install -y chromium).

How: a copy of the page gets two small scripts. One, first in <head>, records every error
(script errors, failed resource loads, rejected promises). The other, right after the vendored
vega scripts, wraps `vegaEmbed` to keep each chart's promise; once all have settled it counts
each chart's data-mark items in vega's scene graph and the non-background pixels of its
canvas, checks every <img>, and writes the findings as JSON into the page, which
`--dump-dom` prints.
"""

import argparse
import html
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent
sys.path[:0] = [str(SCRIPTS), str(SCRIPTS.parent / "src")]  # check_report imports the package
from check_report import FLAGS, find_browser  # noqa: E402 - the same offline Chromium set-up

RESULT_ID = "dvc-plots-check"
MINIMUM_INKED_PIXELS = 200  # axes and labels alone give thousands; a blank canvas 0

ERRORS_PROBE = """<script>
window.__plotErrors = [];
window.addEventListener("error", function (event) {
  var target = event.target || {};
  window.__plotErrors.push(event.message ? event.message + " (" + (event.filename || "") + ":" + event.lineno + ")"
                           : "failed to load " + (target.src || target.href || target.tagName));
}, true);
window.addEventListener("unhandledrejection", function (event) {
  window.__plotErrors.push("unhandled rejection: " + event.reason);
});
</script>
"""
CHARTS_PROBE = """<script>
(function () {
  var embeds = [];
  if (typeof window.vegaEmbed === "function") {
    var original = window.vegaEmbed;
    window.vegaEmbed = function (element, spec, options) {
      var promise = original(element, spec, options);
      embeds.push({element: element, promise: promise});
      return promise;
    };
  }
  function dataItems(node) {  // items of data marks (not axes, legends, titles) in the scene graph
    var count = 0;
    if (node && node.marktype) {
      if (node.role === "mark" && node.marktype !== "group") count += (node.items || []).length;
      (node.items || []).forEach(function (item) { count += dataItems(item); });
    } else if (node && node.items) {
      node.items.forEach(function (item) { count += dataItems(item); });
    }
    return count;
  }
  function inked(canvas) {
    if (!canvas || !canvas.width || !canvas.height) return 0;
    var pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data, count = 0;
    for (var i = 0; i < pixels.length; i += 4)
      if (pixels[i + 3] > 0 && (pixels[i] < 250 || pixels[i + 1] < 250 || pixels[i + 2] < 250)) count++;
    return count;
  }
  function report(charts) {
    var images = Array.prototype.map.call(document.images, function (image) {
      return {src: image.getAttribute("src"), width: image.naturalWidth, height: image.naturalHeight};
    });
    var pre = document.createElement("pre");
    pre.id = "RESULT_ID";
    pre.textContent = JSON.stringify({charts: charts, images: images, errors: window.__plotErrors,
                                      vegaLoaded: typeof window.vega === "object" && typeof window.vegaLite === "object"});
    document.body.appendChild(pre);
  }
  window.addEventListener("load", function () {
    Promise.allSettled(embeds.map(function (embed) { return embed.promise; })).then(function (results) {
      report(results.map(function (result, index) {
        var element = document.querySelector(embeds[index].element);
        var chart = {id: embeds[index].element, ok: result.status === "fulfilled"};
        if (!chart.ok) { chart.error = String(result.reason); return chart; }
        var view = result.value.view;
        chart.renderer = view.renderer();
        chart.dataItems = dataItems(view.scenegraph().root);
        chart.inkedPixels = inked(element && element.querySelector("canvas"));
        chart.svgMarks = element ? element.querySelectorAll("svg .mark-line path, svg .mark-rect path, "
                                                            + "svg .mark-symbol path").length : 0;
        return chart;
      }));
    });
  });
})();
</script>
""".replace("RESULT_ID", RESULT_ID)
EXTERNAL = re.compile(r"""<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)\s*=\s*["']?(?:https?:)?//""", re.IGNORECASE)


def instrument(page_html: str) -> str:
    """The page with the error probe first in <head> and the chart probe after the last head script."""
    head = page_html.index("<head>") + len("<head>")
    instrumented = page_html[:head] + "\n" + ERRORS_PROBE + page_html[head:]
    end_of_head = instrumented.rindex("</head>")  # the last: vega-embed's code has "</head>" in a string
    return instrumented[:end_of_head] + CHARTS_PROBE + instrumented[end_of_head:]


def render(page: Path, timeout_s: float = 180.0) -> dict:
    """Load ``page`` (instrumented, beside the original so relative image links work); return the findings."""
    copy = page.with_name(f".{page.stem}.check.html")
    copy.write_text(instrument(page.read_text(encoding="utf-8")), encoding="utf-8")
    try:
        with tempfile.TemporaryDirectory(prefix="check_plots_profile_") as profile:
            command = [find_browser(), *FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=30000",
                       "--dump-dom", copy.resolve().as_uri()]
            finished = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
    finally:
        copy.unlink(missing_ok=True)
    if finished.returncode != 0:
        raise ValueError(f"chromium exited with {finished.returncode}:\n{finished.stderr[-2000:]}")
    found = re.search(rf'<pre id="{RESULT_ID}">(.*?)</pre>', finished.stdout, re.DOTALL)
    if not found:
        raise ValueError(f"{page}: the page never finished rendering its charts (no result in the DOM):\n"
                         f"{finished.stdout[-1000:]}\n{finished.stderr[-2000:]}")
    return json.loads(html.unescape(found.group(1)))


def problems(page: Path, findings: dict, expected_charts: int | None = None,
             expected_images: int | None = None) -> list[str]:
    """Everything wrong with a rendered plots page (empty when every chart and image shows)."""
    text = page.read_text(encoding="utf-8")
    errors = [f"loads from outside the file: {match.group(0)}" for match in EXTERNAL.finditer(text)]
    errors += [f"script error: {error}" for error in findings["errors"]]
    if not findings["vegaLoaded"]:
        errors.append("vega / vega-lite not loaded (is plots.html_template set to .dvc/plots/offline.html?)")
    charts, images = findings["charts"], findings["images"]
    if expected_charts is not None and len(charts) != expected_charts:
        errors.append(f"{len(charts)} vega charts rendered, expected {expected_charts}")
    for chart in charts:
        if not chart["ok"]:
            errors.append(f"chart {chart['id']}: vegaEmbed failed: {chart['error']}")
        elif chart["dataItems"] == 0:
            errors.append(f"chart {chart['id']}: no data drawn")
        elif chart["renderer"] == "canvas" and chart["inkedPixels"] < MINIMUM_INKED_PIXELS:
            errors.append(f"chart {chart['id']}: blank canvas ({chart['inkedPixels']} inked pixels)")
    if expected_images is not None and len(images) != expected_images:
        errors.append(f"{len(images)} images on the page, expected {expected_images}")
    errors += [f"image {image['src']} did not load" for image in images if not image["width"]]
    return errors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("page", type=Path, nargs="?", default=Path("dvc_plots/index.html"))
    arguments = parser.parse_args()
    if not arguments.page.is_file():
        print(f"{arguments.page}: no page; run `dvc plots show` first", file=sys.stderr)
        return 1
    try:
        findings = render(arguments.page)
    except (ValueError, subprocess.TimeoutExpired) as error:
        print(error, file=sys.stderr)
        return 1
    for chart in findings["charts"]:
        print(f"chart {chart['id']}: " + (f"{chart['dataItems']} data items, {chart['inkedPixels']} inked pixels"
                                          if chart["ok"] else f"failed: {chart['error']}"))
    print(f"{sum(1 for image in findings['images'] if image['width'])}/{len(findings['images'])} images loaded")
    errors = problems(arguments.page, findings)
    for error in errors:
        print(f"error: {error}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
