"""The product speaks of itself as it is: no rounds of its making in code, docs or tests.

History (which round of work did what, which issue asked for it) belongs in CHANGELOG.md, by date
and commit; decisions belong in the decision log (docs/experiments.md), by param and commit. Every
text file git tracks, CHANGELOG.md aside, must name no working session by number or as "this"
one, no issue by number, and no numbered round of work (the examples are in the first test).
pytest's session scope (a session-scoped fixture) is not history and passes.

The patterns are assembled from pieces, so that this file does not match them itself.
"""

import re
import subprocess

from conftest import REPO

SESSION, ISSUE, ROUND, THIS = "sess" + "ion", "iss" + "ue", "rou" + "nd", "th" + "is"
HISTORY = re.compile(
    rf"\b{SESSION}s?[ -]?#?\d+"     # a session by number, alone, in a range or hyphenated
    rf"|\b{THIS} {SESSION}\b"       # the session at hand
    rf"|\b{ISSUE}s?[ -]?#?\d+"      # an issue by number, with or without '#' or a hyphen
    rf"|\b{ROUND} \d+\b",           # a numbered round
    re.IGNORECASE,
)
EXEMPT = {"CHANGELOG.md"}
BINARY_SUFFIXES = {".png", ".jpg", ".jpeg", ".wav", ".flac", ".ogg", ".npz", ".npy", ".keras", ".zip", ".gz"}


def tracked_text_files() -> list[str]:
    """Every file git tracks here that is a regular text file (links, such as stages/digit_concepts,
    and binaries left out)."""
    names = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    files = []
    for name in names.decode().split("\0"):
        path = REPO / name
        if not name or name in EXEMPT or path.suffix.lower() in BINARY_SUFFIXES:
            continue
        if path.is_symlink() or not path.is_file():
            continue
        files.append(name)
    return files


def history_in(text: str) -> list[tuple[int, str]]:
    return [(number, match.group(0)) for number, line in enumerate(text.splitlines(), 1)
            for match in HISTORY.finditer(line)]


def test_the_patterns_catch_history_and_spare_pytest_and_algorithms():
    caught = ("measured in " + SESSION + " 11", SESSION + "s 1-3", "the " + SESSION + "-9 run", THIS + " " + SESSION,
              ISSUE + " 17", "(" + ISSUE.capitalize() + " 18, item 3)", ISSUE + " #18", ROUND + " 2 / " + ROUND + " 3")
    spared = ('@pytest.fixture(scope="' + SESSION + '")', "the " + SESSION + "-scoped fixture",
              "each later " + ROUND + " subtracts", "np." + ROUND + "(x, 3)", "known " + ISSUE + "s of DVC")
    assert all(history_in(text) for text in caught), [text for text in caught if not history_in(text)]
    assert not [text for text in spared if history_in(text)]


def test_no_tracked_text_file_carries_history():
    problems = []
    for name in tracked_text_files():
        try:
            text = (REPO / name).read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        problems += [f"{name}:{line}: {found}" for line, found in history_in(text)]
    assert not problems, ("history in the product (move it to CHANGELOG.md by date and commit, or to the decision "
                          "log):\n  " + "\n  ".join(problems))


def test_the_changelog_exists_and_dates_its_entries():
    text = (REPO / "CHANGELOG.md").read_text()
    dates = re.findall(r"^## (\d{4}-\d{2}-\d{2})$", text, re.MULTILINE)
    assert dates and dates == sorted(dates, reverse=True), "sections by date, newest first"
    assert re.search(r"\b[0-9a-f]{7}\b", text), "entries name their commits"
