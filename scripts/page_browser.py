"""Drive the try-it page (``digit-concepts serve``) in headless Chromium with Selenium, offline:
draw a digit with mouse strokes, upload a recording, read the answers and how long they took.

Used by tests/test_page.py and scripts/benchmark_page.py. Needs Chromium and its driver (Debian:
apt-get install -y chromium chromium-driver); Selenium is told where both are, so it never tries to
download a driver.
"""

import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from check_report import find_browser, first_installed

DRIVERS = ("chromedriver", "chromium-driver")
# Headless and offline, as scripts/check_report.py runs it; a fake microphone (a beep) so that
# recording can be tried without one; sound may play without a click.
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
         "--autoplay-policy=no-user-gesture-required", "--window-size=1280,1500"]
# A "7" and a "3", as strokes of (x, y) points in a 0-1 square (the canvas is scaled to it).
DIGITS = {
    7: [[(0.25, 0.22), (0.75, 0.22), (0.45, 0.8)]],
    3: [[(0.3, 0.2), (0.65, 0.22), (0.45, 0.48), (0.68, 0.6), (0.6, 0.8), (0.3, 0.8)]],
}


def find_driver() -> str:
    return first_installed(DRIVERS, "chromedriver", "chromium-driver")


def missing_browser() -> str | None:
    """Why the browser tests cannot run here, or None when Chromium and its driver are both installed."""
    try:
        find_browser()
        find_driver()
    except ValueError as error:
        return str(error)
    return None


@contextmanager
def chromium() -> Iterator:
    """A headless Chromium under Selenium, closed afterwards; its profile in a temporary folder."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    with tempfile.TemporaryDirectory(prefix="page_browser_profile_") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = find_browser()
        for flag in [*FLAGS, f"--user-data-dir={profile}"]:
            options.add_argument(flag)
        driver = webdriver.Chrome(options=options, service=Service(executable_path=find_driver()))
        try:
            yield driver
        finally:
            driver.quit()


def wait_until(condition, timeout_s: float = 30.0, poll_s: float = 0.05, what: str = "the page"):
    """The first true value of ``condition()``; TimeoutError after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(poll_s)
    raise TimeoutError(f"waited {timeout_s:g} s for {what}")


def draw(driver, strokes: list[list[tuple[float, float]]]) -> None:
    """Draw ``strokes`` on the page's canvas with the mouse (press, move in small steps, release)."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    canvas = driver.find_element(By.ID, "canvas")
    width, height = canvas.size["width"], canvas.size["height"]
    for stroke in strokes:
        # Offsets are from the element's centre.
        points = [(round((x - 0.5) * width), round((y - 0.5) * height)) for x, y in stroke]
        actions = ActionChains(driver, duration=10).move_to_element_with_offset(canvas, *points[0]).click_and_hold()
        for (x0, y0), (x1, y1) in zip(points, points[1:]):
            for step in range(1, 9):
                actions.move_to_element_with_offset(canvas, round(x0 + (x1 - x0) * step / 8),
                                                    round(y0 + (y1 - y0) * step / 8))
        actions.release().perform()


def answers(driver, kind: str) -> int:
    """How many answers of ``kind`` ("drawing" or "recording") the page has shown."""
    return driver.execute_script(f"return window.pageTimings.{kind}.length")


def timings(driver, kind: str) -> list[float]:
    """Milliseconds from asking to the answer on screen, of each ``kind`` answer the page showed."""
    return driver.execute_script(f"return window.pageTimings.{kind}")


def upload(driver, path: Path) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.ID, "upload").send_keys(str(Path(path).resolve()))


def text(driver, element_id: str) -> str:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, element_id).text


def shown(driver, element_id: str) -> bool:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, element_id).is_displayed()


def sound_playable(driver, element_id: str) -> bool:
    """The audio element holds a sound the browser decoded (a duration, no error)."""
    return driver.execute_script(
        "const a = document.getElementById(arguments[0]); "
        "return a.readyState >= 1 && a.error === null && a.duration > 0;", element_id)


def image_loaded(driver, element_id: str) -> bool:
    return driver.execute_script(
        "const i = document.getElementById(arguments[0]); return i.complete && i.naturalWidth > 0;", element_id)


def screenshot(driver, target: Path) -> Path:
    """The whole page as PNG (the window grows to its height first)."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1280, max(800, height))
    driver.save_screenshot(str(target))
    return target
