"""The numbers of README.md and docs/*.md come from metrics/, by a command, and nowhere else.

Two rules, and the generated pages:

1. **Every block is what ``scripts/render_docs.py`` writes.** A block lies between
   ``<!-- metrics: NAME -->`` and ``<!-- /metrics -->``; its text must equal what the renderer's
   pure functions make of the committed metrics/*.json (``python scripts/render_docs.py`` fixes it).
2. **No score-like number stands outside a block without a source.** Score-like, outside the blocks,
   outside code (fenced blocks and ``inline code``) and outside HTML comments:

   - a decimal with two places or more: ``0.983``, ``21.27``, ``1.000``;
   - a percentage: ``89%``, ``0.5%``;
   - a ``+-`` figure: ``+- 0.012``, ``+-1.5``, ``+-10%``;
   - a number of points: ``4.1 points``, ``+2 points``.

   Allowed anyway: a decimal written exactly as a value of params.yaml is written (a setting,
   such as ``0.25`` or a range's ``0.85``, not a measurement; ``1.000`` is not ``1.0``), and a
   figure cited in docs/cited_figures.yaml for that file (the figure, the files it appears in,
   and where it comes from). Every cited entry must still appear in each file it names, so the
   list cannot go stale.

   Pages exempt from rule 2: docs/experiments.md, the decision log (every number there is a
   measurement of the commit its decision names), docs/benchmark.md (a dated record of an earlier
   learner), and the pages scripts/sweep.py writes whole.

The generated pages (docs/variability.md, docs/noise.md, docs/loso.md) are written by
``scripts/sweep.py`` from the same summaries as metrics/variability.json, noise.json and
generalisation.json: their tables must agree with those files (exactly where the summary
functions can rebuild the table from the JSON, to the printed precision for LOSO, whose per-seed
values the JSON does not keep).
"""

import re
from pathlib import Path

import pytest
from ruamel.yaml import YAML

import render_docs
from conftest import REPO
from digit_concepts.evaluation import sweeps

GENERATED = {"docs/variability.md", "docs/loso.md", "docs/noise.md"}
RECORDS = {"docs/experiments.md", "docs/benchmark.md"}
CITED = REPO / "docs" / "cited_figures.yaml"

FENCE = re.compile(r"^[ \t]*(```|~~~).*?^[ \t]*\1[ \t]*$", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]*`")
COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
SCORE_LIKE = re.compile(
    r"\+-\s?\d+(?:\.\d+)?%?"                        # +- 0.012, +-10%
    r"|(?<![\w.])[+-]?\d+(?:\.\d+)?\s?points?\b"    # 4.1 points, +2 points
    r"|(?<![\w.])\d+(?:\.\d+)?%"                    # 89%, 0.5%
    r"|(?<![\w.])\d+\.\d{2,}(?![\w.]*\d)"            # 0.983, 21.27 (not a version such as 1.0.10)
)


# ------------------------------------------------------------------ helpers


def documents() -> list[Path]:
    return render_docs.documents(REPO)


def relative(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


def prose(text: str) -> str:
    """The text a reader takes for prose: blocks, code and comments blanked, lines kept."""
    def blank(match: re.Match) -> str:
        return re.sub(r"[^\n]", " ", match.group(0))

    for pattern in (render_docs.BLOCK, FENCE, COMMENT, INLINE_CODE):
        text = pattern.sub(blank, text)
    return text


def score_like(text: str) -> list[tuple[int, str]]:
    """(line, figure) of every score-like figure in the prose of a document."""
    found = []
    for number, line in enumerate(prose(text).splitlines(), 1):
        found += [(number, match.group(0).strip()) for match in SCORE_LIKE.finditer(line)]
    return found


def params_literals() -> set[str]:
    """Every decimal written as a value in params.yaml (comments left out), as it is written."""
    values = "\n".join(re.sub(r"(^|\s)#.*$", "", line) for line in (REPO / "params.yaml").read_text().splitlines())
    return set(re.findall(r"(?<![\w.])\d+\.\d+(?![\w.]*\d)", values))


def cited() -> list[dict]:
    return YAML(typ="safe").load(CITED) or []


def unsourced(path: str, text: str, settings: set[str], citations: list[dict]) -> list[str]:
    allowed = {entry["figure"] for entry in citations if path in entry["files"]}
    problems = []
    for line, figure in score_like(text):
        if figure in allowed:
            continue
        if figure in settings:  # written as params.yaml writes it: a setting, not a measurement
            continue
        problems.append(f"{path}:{line}: {figure}")
    return problems


# ------------------------------------------------------------------ rule 1: the blocks


def test_every_block_is_what_render_docs_writes():
    metrics = render_docs.load_metrics(REPO)
    stale = []
    for path in documents():
        text = path.read_text()
        refreshed, changed = render_docs.refresh(text, metrics)
        stale += [f"{relative(path)}: {name}" for name in changed]
        assert (refreshed == text) == (not changed)
    assert not stale, ("blocks that differ from metrics/ (run `python scripts/render_docs.py`):\n  "
                       + "\n  ".join(stale))


def test_every_block_names_a_renderer_and_is_closed():
    """Markers quoted in code (docs/workflow.md shows them) are not blocks."""
    for path in documents():
        text = INLINE_CODE.sub("", FENCE.sub("", path.read_text()))
        opened = re.findall(r"<!-- metrics: ([\w-]+) -->", text)
        assert len(opened) == text.count("<!-- /metrics -->"), f"{relative(path)}: unclosed block"
        assert [name for name, _ in render_docs.blocks_of(text)] == opened, f"{relative(path)}: nested blocks"
        assert not set(opened) - set(render_docs.BLOCKS), f"{relative(path)}: unknown blocks"


def test_the_readme_results_are_rendered():
    names = {name for name, _ in render_docs.blocks_of((REPO / "README.md").read_text())}
    assert {"official-split", "transfer", "transfer-floor", "loso", "loso-spread"} <= names


def test_check_mode_names_a_stale_block_and_fails(tmp_path, monkeypatch):
    (tmp_path / "metrics").mkdir()
    for path in (REPO / "metrics").glob("*.json"):
        (tmp_path / "metrics" / path.name).write_text(path.read_text())
    stale = "Sound: <!-- metrics: audio-reconstruction -->log-mel MSE 9.999<!-- /metrics -->.\n"
    (tmp_path / "README.md").write_text(stale)
    monkeypatch.setattr(render_docs, "REPO", tmp_path)
    assert render_docs.main(["--check"]) == 1
    assert "9.999" in (tmp_path / "README.md").read_text()
    assert render_docs.main([]) == 0
    assert render_docs.main(["--check"]) == 0
    assert "9.999" not in (tmp_path / "README.md").read_text()


def test_formatting():
    assert render_docs.share(0.8885) == "0.889"  # half up from the value as stored
    assert render_docs.share(0.98) == "0.980"
    assert render_docs.sd(0.0125) == "0.013"
    assert render_docs.sd(0.0004) == "0.0004"  # not zero, so not 0.000
    assert render_docs.sd(0.0) == "0.000"
    assert render_docs.count(10.0) == "10" and render_docs.count(10.8) == "10.8"
    assert render_docs.points(0.027) == "+2.7 points" and render_docs.points(-0.01) == "-1.0 points"
    assert render_docs.mean_sd({"mean": 10.8, "sd": 0.447}, render_docs.count) == "10.8 +- 0.4"
    assert render_docs.span({"min": 0.98, "max": 0.99333}) == "0.980-0.993"


# ------------------------------------------------------------------ rule 2: nothing typed


def test_score_like_figures_are_found_and_code_is_not_read():
    text = ("Named 0.983 of the time (+- 0.012), 89% alone, +2.7 points; FSDD v1.0.10 and `0.975` and\n"
            "```\n0.977\n```\n<!-- metrics: x -->0.990<!-- /metrics --> 3 seeds, 1.5 s\n")
    assert [figure for _, figure in score_like(text)] == ["0.983", "+- 0.012", "89%", "+2.7 points"]


def test_no_score_like_number_outside_a_block_without_a_source():
    settings, citations = params_literals(), cited()
    problems = []
    for path in documents():
        name = relative(path)
        if name in GENERATED | RECORDS:
            continue
        problems += unsourced(name, path.read_text(), settings, citations)
    assert not problems, ("score-like numbers outside a metrics block, not a params.yaml value and not in "
                          "docs/cited_figures.yaml:\n  " + "\n  ".join(problems))


def test_every_cited_figure_has_its_source_and_is_still_used():
    problems = []
    for entry in cited():
        assert set(entry) == {"figure", "files", "source"}, entry
        assert entry["source"].strip() and entry["files"], entry
        for name in entry["files"]:
            path = REPO / name
            figures = [figure for _, figure in score_like(path.read_text())] if path.is_file() else []
            if entry["figure"] not in figures:
                problems.append(f"{entry['figure']} is cited for {name}, which does not show it")
    assert not problems, "\n".join(problems)


# ------------------------------------------------------------------ the generated pages


def test_variability_md_is_the_table_of_variability_json():
    summary = render_docs.load_metrics(REPO)["variability"]
    assert sweeps.variability_table(summary) in (REPO / "docs" / "variability.md").read_text()


def test_noise_md_is_the_table_of_noise_json():
    summary = render_docs.load_metrics(REPO)["noise"]
    names = list(next(iter(summary.values())))
    assert sweeps.noise_table(summary, names) in (REPO / "docs" / "noise.md").read_text()


def _cells(row: str) -> list[str]:
    return [cell.strip().strip("*") for cell in row.strip().strip("|").split("|")]


def test_loso_md_agrees_with_generalisation_json():
    summary = render_docs.load_metrics(REPO)["generalisation"]
    lines = (REPO / "docs" / "loso.md").read_text().splitlines()
    header = next(line for line in lines if line.startswith("| held out |"))
    measures = [name.replace(" ", "_") for name in _cells(header)[1:]]
    rows = {}
    for line in lines[lines.index(header) + 2:]:
        if not line.startswith("|"):
            break
        cells = _cells(line)
        rows[cells[0]] = cells[1:]
    speakers = [name for name in rows if name not in ("mean", "worst")]
    assert len(speakers) == summary["loso.folds"]
    for column, measure in enumerate(measures):
        checks = [(rows["worst"][column], summary[f"loso.{measure}.min"], None),
                  (rows["mean"][column], summary[f"loso.{measure}.mean"], summary[f"loso.{measure}.sd"])]
        checks += [(rows[speaker][column], summary[f"loso.{measure}.{speaker}"],
                    summary[f"loso.{measure}.{speaker}.sd"]) for speaker in speakers]
        for cell, mean, sd in checks:
            printed = [float(number) for number in re.findall(r"\d+\.\d+", cell)]
            # a printed value rounds the unrounded one; the JSON keeps 4 decimals of it
            assert printed[0] == pytest.approx(mean, abs=0.0006), (measure, cell, mean)
            if sd is not None and len(printed) > 1:
                assert printed[1] == pytest.approx(sd, abs=0.0006), (measure, cell, sd)
