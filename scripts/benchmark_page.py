"""How long the try-it page (``digit-concepts serve``) takes to answer, on a trained learner.

Usage: python scripts/benchmark_page.py [--model DIR] [--repeats N] [--browser] [--screenshot PNG]

Serves the page from this process (uvicorn on a free port of 127.0.0.1) and times, over HTTP:

- a drawing: an MNIST test image drawn as the page's canvas sends it (a 280x280 PNG, dark ink on
  white) until its concept, the imagined sound (Griffin-Lim) and the picture are back;
- a 1 s recording: an FSDD test recording cut or padded to 1.0 s (WAV) until its concept, the
  imagined image and the spectrogram are back.

With ``--browser`` (Chromium and chromedriver installed), the same in the page itself: strokes drawn
with the mouse and 1 s recordings uploaded, timed by the page from asking to the answer on screen.
``--screenshot`` saves the page after a 7 is drawn and george's "seven" uploaded (docs/page.png is
made so). Last, the CPU time of each answer computed in-process: about the wall time on idle cores,
which the wall times above exceed on a machine busy with other work (the load average is printed).
The goals (a drawing under 300 ms, a 1 s recording under 500 ms, on 2 cores) are printed beside
the measurements; nothing is asserted. Each answer is timed after a warm-up (the server's own).
"""

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from digit_concepts.tool import cli, server
from digit_concepts.core import paths
from digit_concepts.tool.learner import Learner

GOALS_MS = {"drawing": 300.0, "recording": 500.0}
RECORDING_SECONDS = 1.0
DEMO_RECORDING = "7_george_2.wav"  # george says "seven" (docs/cli.md's demo): what the screenshot shows


def canvas_png(image: np.ndarray) -> bytes:
    """An MNIST digit (28x28, light on dark) as the page's canvas sends a drawing."""
    from PIL import Image

    picture = Image.fromarray(np.round(255 * (1.0 - image)).astype(np.uint8)).resize((280, 280),
                                                                                    Image.Resampling.BILINEAR)
    stream = io.BytesIO()
    picture.convert("RGBA").save(stream, format="PNG")
    return stream.getvalue()


def one_second(signal: np.ndarray, rate: int) -> bytes:
    import soundfile

    samples = int(RECORDING_SECONDS * rate)
    signal = np.pad(signal, (0, max(0, samples - len(signal))))[:samples]
    stream = io.BytesIO()
    soundfile.write(stream, signal, rate, format="WAV", subtype="PCM_16")
    return stream.getvalue()


def drawings(root: Path, count: int) -> list[bytes]:
    with np.load(root / paths.IMAGES, allow_pickle=False) as images:
        test = images["test"]
    return [canvas_png(test[index]) for index in np.linspace(0, len(test) - 1, count).astype(int)]


def recordings(root: Path, count: int) -> list[tuple[str, bytes]]:
    """(name, 1 s WAV) of FSDD test recordings (index 0-4), or of synthetic chirps without the raw data."""
    import soundfile

    files = sorted(root.glob(f"{paths.FSDD_RECORDINGS_DIR}/*_[0-4].wav"))
    if files:
        chosen = [files[index] for index in np.linspace(0, len(files) - 1, count).astype(int)]
        return [(file.name, one_second(*soundfile.read(file, dtype="float32"))) for file in chosen]
    rate, moments = 8000, np.arange(int(0.6 * 8000)) / 8000
    return [(f"chirp_{number}", one_second((0.5 * np.sin(2 * np.pi * (200 + 40 * number) * moments)).astype(np.float32),
                                          rate)) for number in range(count)]


def summary(kind: str, milliseconds: list[float], where: str) -> str:
    median = statistics.median(milliseconds)
    ordered = sorted(milliseconds)
    p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
    verdict = "meets" if median < GOALS_MS[kind] else "misses"
    return (f"{kind:9s} {where:34s} median {median:6.0f} ms, p90 {p90:6.0f} ms, max {max(milliseconds):6.0f} ms "
            f"over {len(milliseconds)} ({verdict} the goal of {GOALS_MS[kind]:.0f} ms)")


def over_http(url: str, uploads: dict[str, list[bytes]]) -> dict[str, tuple[list[float], list[float]]]:
    """Per kind: wall milliseconds of each request, and the learner's own share of each."""
    import httpx

    times = {}
    with httpx.Client(base_url=url, timeout=120) as http:
        for kind, contents in uploads.items():
            walls, learners = [], []
            for content in contents:
                started = time.perf_counter()
                response = http.post(f"/api/{kind}", files={"file": ("upload", content)})
                walls.append(1000 * (time.perf_counter() - started))
                response.raise_for_status()
                learners.append(1000 * response.json()["learner_seconds"])
            times[kind] = (walls, learners)
    return times


def in_browser(url: str, repeats: int, recording: bytes, shown: Path, screenshot: Path | None) -> dict[str, list[float]]:
    """Per kind, milliseconds from asking to the answer on screen, timed by the page. First a 7
    is drawn and ``shown`` uploaded (the screenshot's state), then strokes and the 1 s recording."""
    import page_browser as browser

    with browser.chromium() as driver, tempfile.TemporaryDirectory(prefix="benchmark_page_") as folder:
        driver.get(url)
        browser.draw(driver, browser.DIGITS[7])
        browser.wait_until(lambda: browser.answers(driver, "drawing") >= 1, what="the drawing's answer")
        browser.upload(driver, shown)
        browser.wait_until(lambda: browser.answers(driver, "recording") >= 1, what="the recording's answer")
        browser.wait_until(lambda: browser.image_loaded(driver, "speak-image")
                           and browser.sound_playable(driver, "draw-sound"), what="the answers' media")
        if screenshot is not None:
            save_panels(driver, screenshot)
            print(f"screenshot: {screenshot}")
        wav = Path(folder) / "one_second.wav"
        wav.write_bytes(recording)
        for number in range(2, repeats + 2):
            browser.upload(driver, wav)
            browser.wait_until(lambda: browser.answers(driver, "recording") >= number, what="a recording's answer")
        for number in range(1, repeats):  # further strokes: each answered anew
            row = 0.92 - 0.6 * number / repeats
            browser.draw(driver, [[(0.08, row), (0.16, row)]])
            browser.wait_until(lambda: browser.answers(driver, "drawing") > number, what="a drawing's answer")
        return {"drawing": browser.timings(driver, "drawing"), "recording": browser.timings(driver, "recording")[1:]}


def save_panels(driver, target: Path) -> None:
    """A screenshot of the page down to the end of its two panels."""
    from PIL import Image

    driver.set_window_size(1280, 1600)
    time.sleep(0.5)  # laid out again, players showing their length
    bottom = driver.execute_script("return document.querySelector('.panels').getBoundingClientRect().bottom")
    driver.save_screenshot(str(target))
    with Image.open(target) as whole:
        page = whole.crop((0, 0, whole.width, min(whole.height, int(bottom) + 24)))
    page.save(target, format="PNG", optimize=True)


def cpu_milliseconds(learner: Learner, uploads: dict[str, list[bytes]]) -> dict[str, list[float]]:
    """Per kind, the CPU time of this process (every thread) for each answer, computed in-process:
    about what it takes on idle cores, whatever else the machine is running."""
    from digit_concepts.tool import try_it_page

    answers = {"drawing": try_it_page.drawing_answer, "recording": try_it_page.recording_answer}
    limits = server.Limits()
    times = {}
    for kind, contents in uploads.items():
        times[kind] = []
        for content in contents:
            started = time.process_time()
            answers[kind](learner, content, limits.recording_seconds, limits.picture_pixels, "concept")
            times[kind].append(1000 * (time.process_time() - started))
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None, metavar="DIR",
                        help="the trained learner's folder (default: as digit-concepts finds it)")
    parser.add_argument("--repeats", type=int, default=20, help="answers timed per kind")
    parser.add_argument("--browser", action="store_true", help="also time the page in headless Chromium")
    parser.add_argument("--screenshot", type=Path, default=None, help="save the page after a drawing and a recording")
    arguments = parser.parse_args()
    root = (arguments.model or cli.default_model_dir()).resolve()
    started = time.perf_counter()
    learner = Learner(root)
    app = server.create_app(learner)
    print(f"learner {root}: loaded and warmed up in {time.perf_counter() - started:.1f} s; "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    sounds = recordings(root, arguments.repeats)
    uploads = {"drawing": drawings(root, arguments.repeats), "recording": [content for _, content in sounds]}
    with server.serving(app) as url:
        for kind, (walls, learners) in over_http(url, uploads).items():
            print(summary(kind, walls, "over HTTP"))
            print(summary(kind, learners, "  of which in the learner"))
        if arguments.browser or arguments.screenshot:
            demo = root / paths.FSDD_RECORDINGS_DIR / DEMO_RECORDING
            if not demo.is_file():
                demo = Path(tempfile.mkdtemp(prefix="benchmark_page_")) / "recording.wav"
                demo.write_bytes(uploads["recording"][0])
            for kind, milliseconds in in_browser(url, arguments.repeats, uploads["recording"][0], demo,
                                                 arguments.screenshot).items():
                print(summary(kind, milliseconds, "in the browser (asked -> shown)"))
    for kind, milliseconds in cpu_milliseconds(learner, uploads).items():
        print(summary(kind, milliseconds, "CPU time per answer, in-process"))
    print(f"load average now {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
