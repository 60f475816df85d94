"""The try-it page (``digit-concepts serve``) on the tiny pipeline's learner: the same answers as
the tool, every refusal a 4xx with a reason, limits, concurrency, nothing from the network; then,
in headless Chromium driven by Selenium, a person's drawing, upload and recording."""

import concurrent.futures
import io
import json
import os
import re
import select
import signal
import subprocess
import sys
import threading
import time
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import soundfile
from PIL import Image

from digit_concepts.tool import cli, server, try_it_page
from digit_concepts.tool.learner import Learner, Recognition
from fakes import tone, wav_bytes
from tiny_project import run_tool

# One worker runs this module: its apps (each loads the learner once) and its browser are built once.
pytestmark = pytest.mark.xdist_group("page")
SMALL = server.Limits(upload_bytes=60_000, recording_seconds=2.0, picture_pixels=200_000)


def drawing(variant: int) -> bytes:
    """A PNG as the page's canvas sends one (dark ink on white, 280x280): a bar on top and a
    stroke down from a place that depends on ``variant``, so that no two variants look alike."""
    from PIL import ImageDraw

    picture = Image.new("RGBA", (280, 280), "white")
    pen = ImageDraw.Draw(picture)
    pen.line([(50, 60), (230, 60)], fill="black", width=22)
    pen.line([(60 + 17 * variant, 60), (140, 240 - 8 * variant)], fill="black", width=22)
    stream = io.BytesIO()
    picture.save(stream, format="PNG")
    return stream.getvalue()


def recording(digit: int, seconds: float | None = None, rate: int = 8000) -> bytes:
    """A fake spoken digit (a chirp) as WAV; padded with silence to ``seconds`` when given."""
    sound = tone(digit, 0, 0, rate)
    if seconds is not None:
        sound = np.pad(sound, (0, max(0, int(seconds * rate) - len(sound))))
    return wav_bytes(sound, rate)


def post(client, endpoint: str, content: bytes, filename: str = "upload", **headers):
    return client.post(f"/api/{endpoint}", files={"file": (filename, content, "application/octet-stream")},
                       headers=headers)


# ------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def learner(pipeline):
    project, _, _ = pipeline
    return Learner(project)


@pytest.fixture(scope="module")
def app(learner):
    return server.create_app(learner)


@pytest.fixture(scope="module")
def client(app):
    from starlette.testclient import TestClient

    with TestClient(app, base_url="http://127.0.0.1") as test_client:
        yield test_client


@pytest.fixture(scope="module")
def small_client(learner):
    from starlette.testclient import TestClient

    with TestClient(server.create_app(learner, limits=SMALL), base_url="http://127.0.0.1") as test_client:
        yield test_client


@pytest.fixture(scope="module")
def served(app):
    """The app on a free port of 127.0.0.1, uvicorn in a thread of this process: its base URL."""
    with server.serving(app) as url:
        yield url


# ------------------------------------------------------------------------------------- without a browser


def test_doubts_put_the_learners_own_numbers_into_words():
    sure = Recognition("image", 3, 3, 0.97, 3, 0.9, "both")
    assert try_it_page.doubts(sure) == [] and try_it_page.answer(sure)["unsure"] is False
    unsure = Recognition("audio", 3, 41, 0.55, 2, 0.3, "divergence")
    reasons = try_it_page.doubts(unsure)
    assert len(reasons) == 3 and "0.55" in reasons[0] and "30%" in reasons[1] and "convergence" in reasons[2]
    found = try_it_page.answer(unsure)
    assert found["unsure"] is True and found["description"] == unsure.describe()
    assert found["description"].startswith("audio concept 3 (cluster 41), confidence 0.550; partner: image concept 2")


def test_templates_are_filled_and_an_unknown_slot_is_an_error():
    text = try_it_page.fill("{{max_recording_seconds}} s, {{max_upload_megabytes}} MB: {{x}}", server.Limits(), x="{{y}}")
    assert text == "10 s, 4 MB: {{y}}"  # filled content is not filled again
    with pytest.raises(KeyError):
        try_it_page.fill("{{nothing}}", server.Limits())


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links = []

    def handle_starttag(self, tag, attrs):
        self.links += [value for name, value in attrs if name in ("src", "href") and value]


@pytest.mark.pipeline
def test_the_page_loads_nothing_from_the_network(client):
    """No http:// or https:// URL in anything served; every link the pages hold is served here."""
    texts = {}
    for path in ("/", "/app.js", "/style.css", "/concepts/"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert "default-src 'self'" in response.headers["content-security-policy"]
        texts[path] = response.text
    for path, text in texts.items():
        assert not re.findall(r"https?://", text, flags=re.IGNORECASE), path
    for page in ("/", "/concepts/"):
        collector = _Links()
        collector.feed(texts[page])
        local = [link for link in collector.links if not link.startswith(("#", "data:"))]
        assert local, page
        for link in local:
            from urllib.parse import urljoin

            assert client.get(urljoin(page, link)).status_code == 200, (page, link)
    assert "<audio" in texts["/concepts/"] and "concept-0" in texts["/concepts/"] and "id=\"zones\"" in texts["/concepts/"]


@pytest.mark.pipeline
def test_a_drawing_is_read_and_answered_as_the_tool_answers_its_png(client, pipeline, tmp_path):
    """The server adds no logic: a drawing's answer is `recognise --json` of the same PNG file, its
    sound is `imagine`'s WAV of it, and what it saw is what read_image makes of the file."""
    project, _, _ = pipeline
    content = drawing(3)
    (tmp_path / "drawing.png").write_bytes(content)
    response = post(client, "drawing", content, "drawing.png")
    assert response.status_code == 200, response.text
    found = response.json()
    tool = run_tool(["recognise", "--json", "--model", project, tmp_path / "drawing.png"], tmp_path)
    expected = json.loads(tool.stdout)
    assert {key: found[key] for key in expected if key != "file"} == {k: v for k, v in expected.items() if k != "file"}
    assert found["examples"] == f"/examples/{found['concept']}.png" and client.get(found["examples"]).status_code == 200
    imagined = run_tool(["imagine", "--model", project, tmp_path / "drawing.png", "--out", tmp_path / "sound"], tmp_path)
    assert imagined.returncode == 0, imagined.stderr
    page_sound = decoded(found["imagined_sound"])
    tool_sound, rate = soundfile.read(tmp_path / "sound.wav", dtype="int16")
    assert rate == 8000 and np.array_equal(page_sound, tool_sound)
    from digit_concepts.senses.user_files import read_image

    seen = np.asarray(Image.open(io.BytesIO(data(found["seen"]))), dtype=np.float32) / 255
    np.testing.assert_allclose(seen, read_image(tmp_path / "drawing.png"), atol=1 / 255)


@pytest.mark.pipeline
def test_a_recording_is_read_and_answered_as_the_tool_answers_its_wav(client, pipeline, tmp_path):
    project, _, _ = pipeline
    content = recording(7, rate=16000)  # resampled on the way in, as a file is
    (tmp_path / "said.wav").write_bytes(content)
    found = post(client, "recording", content, "said.wav").json()
    expected = json.loads(run_tool(["recognise", "--json", "--model", project, tmp_path / "said.wav"], tmp_path).stdout)
    assert {key: found[key] for key in expected if key != "file"} == {k: v for k, v in expected.items() if k != "file"}
    imagined = run_tool(["imagine", "--model", project, tmp_path / "said.wav", "--out", tmp_path / "image"], tmp_path)
    assert imagined.returncode == 0, imagined.stderr
    with Image.open(tmp_path / "image.png") as tool_image:
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(data(found["imagined_image"])))), np.asarray(tool_image))
    with Image.open(io.BytesIO(data(found["spectrogram"]))) as spectrogram:
        assert spectrogram.mode == "RGB" and spectrogram.size[0] > 0
    assert abs(found["seconds"] - soundfile.info(tmp_path / "said.wav").duration) < 0.01


def data(uri: str) -> bytes:
    import base64

    header, _, payload = uri.partition(",")
    assert header.startswith("data:") and header.endswith(";base64"), header
    return base64.b64decode(payload)


def decoded(uri: str) -> np.ndarray:
    samples, rate = soundfile.read(io.BytesIO(data(uri)), dtype="int16")
    assert rate == 8000 and len(samples) > 0
    return samples


BAD_UPLOADS = {  # name: (endpoint, content, status, words of the message)
    "corrupt": ("recording", b"RIFF\x10\x00\x00\x00WAVEfmt garbage" * 20, 422, "the recording: neither audio"),
    "text": ("drawing", b"these are my notes, not a drawing\n", 422, "the drawing: neither audio"),
    "empty": ("recording", b"", 422, "the recording: empty file"),
    "picture for a recording": ("recording", drawing(3), 415, "this is a picture, not a recording"),
    "recording for a drawing": ("drawing", recording(3), 415, "this is a recording, not a picture"),
    "silent": ("recording", wav_bytes(np.zeros(8000, np.int16)), 422, "silent"),
    "empty drawing": ("drawing", b"", 422, "the drawing: empty file"),
    "truncated picture": ("drawing", drawing(3)[:80], 422, "unreadable image"),
}


@pytest.mark.pipeline
@pytest.mark.parametrize("name", BAD_UPLOADS)
def test_a_bad_upload_is_refused_with_its_reason(client, name):
    endpoint, content, status, words = BAD_UPLOADS[name]
    response = post(client, endpoint, content)
    assert response.status_code == status, response.text
    message = response.json()["error"]
    assert words in message and "\n" not in message and "Traceback" not in message, message
    assert post(client, "drawing", drawing(2)).status_code == 200  # and the server goes on


@pytest.mark.pipeline
def test_a_blank_canvas_and_malformed_requests_are_refused(client):
    white = io.BytesIO()
    Image.new("RGB", (280, 280), "white").save(white, format="PNG")
    blank = post(client, "drawing", white.getvalue())
    assert blank.status_code == 422 and "blank" in blank.json()["error"]
    not_a_form = client.post("/api/drawing", content=b"{}", headers={"content-type": "application/json"})
    assert not_a_form.status_code == 400 and "multipart/form-data" in not_a_form.json()["error"]
    no_file = client.post("/api/drawing", data={"other": "field"}, files={"notfile": ("a.png", drawing(1))})
    assert no_file.status_code == 400, no_file.text
    assert client.get("/examples/999.png").status_code == 404
    assert client.get("/concepts/media/../../params.yaml").status_code == 404
    assert client.get("/", headers={"host": "rebound.example"}).status_code == 400  # DNS rebinding


@pytest.mark.pipeline
def test_limits_refuse_large_uploads_long_recordings_and_huge_pictures_with_413(small_client):
    too_big = post(small_client, "recording", recording(1, seconds=1.9, rate=44100))  # ~170 KB > 60 KB
    assert too_big.status_code == 413 and "too large (more than" in too_big.json()["error"]

    def chunks():  # no Content-Length: the cap is counted as the body arrives
        yield b"--edge\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n\r\n"
        for _ in range(100):
            yield b"\0" * 1000
        yield b"\r\n--edge--\r\n"

    streamed = small_client.post("/api/recording", content=chunks(),
                                 headers={"content-type": "multipart/form-data; boundary=edge"})
    assert streamed.status_code == 413, streamed.text
    long = post(small_client, "recording", recording(1, seconds=3.0, rate=8000))  # 48 KB, but 3 s > 2 s
    assert long.status_code == 413 and "too long" in long.json()["error"], long.text
    huge = io.BytesIO()
    Image.new("L", (600, 600), 255).save(huge, format="PNG", optimize=True)  # 360,000 pixels > 200,000
    refused = post(small_client, "drawing", huge.getvalue())
    assert refused.status_code == 413 and "600x600 pixels" in refused.json()["error"], refused.text
    assert post(small_client, "recording", recording(1, seconds=1.0)).status_code == 200


@pytest.mark.pipeline
def test_a_path_like_filename_is_ignored(client, tmp_path):
    target = tmp_path / "escaped.wav"
    for filename in (f"../../../../../../..{target}", str(target), "..\\..\\escaped.wav"):
        response = post(client, "recording", recording(4), filename)
        assert response.status_code == 200, response.text
        assert "escaped" not in response.text
    assert not target.exists() and not (Path.cwd() / "escaped.wav").exists()
    plain = post(client, "recording", recording(4), "plain.wav").json()
    assert all(response.json()[key] == plain[key] for key in ("concept", "confidence", "imagined_image"))


@pytest.mark.pipeline
def test_twenty_concurrent_requests_are_each_answered_for_their_own_upload(served):
    """10 drawings and 10 recordings at once, from 20 threads: each answer is the one its upload
    gets alone (the learner's calls queue on one worker thread)."""
    import httpx

    uploads = [("drawing", drawing(digit)) for digit in range(10)] + [("recording", recording(digit)) for digit in range(10)]
    keys = ("sense", "concept", "cluster", "confidence", "partner", "zone", "imagined_sound", "imagined_image", "seen",
            "spectrogram")

    def ask(upload, start=None):
        if start is not None:
            start.wait()
        endpoint, content = upload
        with httpx.Client(base_url=served, timeout=120) as http:
            response = http.post(f"/api/{endpoint}", files={"file": ("upload", content)})
        assert response.status_code == 200, response.text
        return {key: response.json().get(key) for key in keys}

    alone = [ask(upload) for upload in uploads]
    assert len({tuple(answer.values()) for answer in alone}) == len(uploads)  # a mix-up could not go unseen
    start = threading.Barrier(len(uploads))
    with concurrent.futures.ThreadPoolExecutor(len(uploads)) as pool:
        together = list(pool.map(lambda upload: ask(upload, start), uploads))
    assert together == alone


@pytest.mark.pipeline
def test_serve_listens_where_it_is_told_and_says_why_it_cannot(pipeline, tmp_path, capsys):
    project, env, _ = pipeline
    with server.listening_socket("127.0.0.1", 0) as taken:
        port = taken.getsockname()[1]
        assert cli.main(["serve", "--model", str(project), "--port", str(port)]) == cli.USAGE
        assert f"cannot listen on 127.0.0.1 port {port}" in capsys.readouterr().err
    assert cli.main(["serve", "--model", str(tmp_path / "nothing"), "--port", "0"]) == cli.NO_LEARNER
    with pytest.raises(SystemExit):
        cli.main(["serve", "--port", "70000"])
    # The command itself, in a process of its own: serves the page, and stops on Ctrl+C.
    process = subprocess.Popen([sys.executable, "-m", "digit_concepts", "serve", "--model", str(project), "--port", "0"],
                               cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([process.stdout], [], [], 300)  # loading the learner takes seconds
        line = process.stdout.readline() if ready else ""
        url = re.search(r"served at (http://127\.0\.0\.1:\d+/)", line)
        assert url, f"{line!r}; stderr: {process.stderr.read() if process.poll() is not None else ''}"
        import httpx

        assert "Draw a digit" in httpx.get(url[1], timeout=30).text
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0, process.stderr.read()
    assert not list(tmp_path.iterdir())  # nothing written where it ran


# ------------------------------------------------------------------------------------- in a browser


@pytest.fixture(scope="module")
def browser():
    import page_browser

    missing = page_browser.missing_browser()
    if missing:
        if os.environ.get("REQUIRE_CHROMIUM"):  # .ci/run installs both and sets this
            pytest.fail(missing)
        pytest.skip(missing)
    with page_browser.chromium() as driver:
        yield driver


@pytest.fixture
def page(browser, served):
    browser.get(served)
    return browser


def latency(record_property, what: str, milliseconds: list[float]) -> None:
    """Printed here and in the run's summary (conftest.py): measured, never asserted."""
    print(f"{what}: {', '.join(f'{value:.0f}' for value in milliseconds)} ms")
    record_property("page latency", f"{what}: median {np.median(milliseconds):.0f} ms over {len(milliseconds)}")


@pytest.mark.pipeline
def test_a_digit_drawn_with_the_mouse_gets_a_concept_a_confidence_and_a_playable_sound(page, tmp_path,
                                                                                       record_property):
    import page_browser as browser

    browser.draw(page, browser.DIGITS[7])
    browser.wait_until(lambda: browser.answers(page, "drawing") >= 1, what="the drawing's answer")
    browser.wait_until(lambda: browser.sound_playable(page, "draw-sound"), what="the imagined sound")
    assert re.fullmatch(r"\d+", browser.text(page, "draw-concept"))
    assert re.fullmatch(r"confidence \d+(\.\d)?%", browser.text(page, "draw-confidence"))
    assert "Partner: audio concept" in browser.text(page, "draw-partner")
    assert browser.image_loaded(page, "draw-seen") and browser.image_loaded(page, "draw-examples")
    browser.screenshot(page, tmp_path / "drawn.png")
    for _ in range(3):  # more strokes, each answered anew
        before = browser.answers(page, "drawing")
        browser.draw(page, [[(0.15, 0.9 - 0.05 * before), (0.3, 0.9 - 0.05 * before)]])
        browser.wait_until(lambda: browser.answers(page, "drawing") > before, what="the next answer")
    latency(record_property, "drawing -> concept and imagined sound, in the browser", browser.timings(page, "drawing"))
    page.find_element("id", "clear").click()
    assert not browser.shown(page, "draw-result") and browser.shown(page, "draw-placeholder")


@pytest.mark.pipeline
def test_an_uploaded_recording_gets_a_concept_and_an_imagined_image(page, tmp_path, record_property):
    import page_browser as browser

    (tmp_path / "one_second.wav").write_bytes(recording(5, seconds=1.0, rate=16000))
    for number in range(1, 4):
        browser.upload(page, tmp_path / "one_second.wav")
        browser.wait_until(lambda: browser.answers(page, "recording") >= number, what="the recording's answer")
    browser.wait_until(lambda: browser.image_loaded(page, "speak-image") and browser.image_loaded(page, "speak-spectrogram"),
                       what="the imagined image")
    assert re.fullmatch(r"\d+", browser.text(page, "speak-concept"))
    assert "Partner: image concept" in browser.text(page, "speak-partner")
    assert browser.text(page, "record-status") == "1.0 s of sound"
    browser.screenshot(page, tmp_path / "uploaded.png")
    latency(record_property, "1 s recording -> concept and imagined image, in the browser",
            browser.timings(page, "recording"))


@pytest.mark.pipeline
def test_a_corrupt_upload_shows_why_it_was_refused(page, tmp_path):
    import page_browser as browser

    (tmp_path / "corrupt.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt garbage" * 20)
    browser.upload(page, tmp_path / "corrupt.wav")
    message = browser.wait_until(lambda: browser.shown(page, "speak-error") and browser.text(page, "speak-error"),
                                 what="the refusal")
    assert message == "the recording: neither audio (WAV, FLAC, OGG) nor an image (PNG, JPEG)"
    assert not browser.shown(page, "speak-result")
    browser.screenshot(page, tmp_path / "refused.png")


@pytest.mark.pipeline
def test_a_recording_from_the_microphone_is_sent_as_wav(page, tmp_path):
    """Chromium's fake microphone (a beep): MediaRecorder's recording decoded and written as WAV in
    the page, then answered like an upload."""
    import page_browser as browser

    page.find_element("id", "record").click()
    browser.wait_until(lambda: "Recording" in browser.text(page, "record-status"), what="recording to start")
    time.sleep(1.2)
    page.find_element("id", "record").click()
    browser.wait_until(lambda: browser.answers(page, "recording") >= 1 or browser.shown(page, "speak-error"),
                       what="the recording's answer")
    assert not browser.shown(page, "speak-error"), browser.text(page, "speak-error")
    assert re.fullmatch(r"\d+", browser.text(page, "speak-concept"))
    assert re.fullmatch(r"1\.\d s of sound", browser.text(page, "record-status")), browser.text(page, "record-status")
    browser.screenshot(page, tmp_path / "recorded.png")
