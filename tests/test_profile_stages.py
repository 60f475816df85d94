"""scripts/profile_stages.py: the parts read from a cProfile file, the tables, the ratio comparison.

No pipeline stage runs here: the cProfile file is made from a tiny stage-like script."""

import json
import os
import subprocess
import sys
import textwrap

import pytest
from ruamel.yaml import YAML

import profile_stages
from conftest import REPO

TINY_STAGE = '''
import time

from digit_concepts import work


def main():
    work.slow(0.06)
    work.slow(0.02)
    work.fast()
    sorted([3, 1, 2])  # not the package: main, outside the package
    from digit_concepts import lazy  # an import inside main: imports


if __name__ == "__main__":
    main()
'''
WORK = '''
import time


def slow(seconds):
    time.sleep(seconds)


def fast():
    return sum(range(100))
'''


@pytest.fixture(scope="module")
def tiny_stats(tmp_path_factory):
    """A cProfile file of a stage-like script, made as the profile makes one (relative script path,
    its package beside it as stages/digit_concepts is)."""
    root = tmp_path_factory.mktemp("tiny_stage")
    package = root / "stages" / "digit_concepts"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "work.py").write_text(WORK)
    (package / "lazy.py").write_text("import time\n\ntime.sleep(0.05)  # a slow import\n")
    (root / "stages" / "tiny.py").write_text(TINY_STAGE)
    stats_file = root / "tiny.prof"
    command = profile_stages.child_command(["python", "stages/tiny.py"], stats_file)
    subprocess.run(command, cwd=root, check=True, capture_output=True)
    return stats_file


def by_name(parts):
    return {part["name"]: part for part in parts}


# ------------------------------------------------------------------ parts from cProfile


def test_parts_are_main_direct_package_callees_imports_and_the_rest(tiny_stats):
    parts = profile_stages.read_parts(tiny_stats, "stages/tiny.py", wall_seconds=1.0)
    named = by_name(parts)
    assert set(named) == {"work.slow", "work.fast", profile_stages.IMPORTS, profile_stages.MAIN_OUTSIDE,
                          profile_stages.START_AND_EXIT}
    assert named["work.slow"]["calls"] == 2 and named["work.slow"]["seconds"] >= 0.08  # both calls summed
    assert named["work.fast"]["calls"] == 1
    assert named[profile_stages.IMPORTS]["seconds"] >= 0.05  # the slow import inside main
    assert named[profile_stages.MAIN_OUTSIDE]["seconds"] < 0.05  # sorted() alone
    assert [part["seconds"] for part in parts] == sorted((part["seconds"] for part in parts), reverse=True)
    assert sum(part["seconds"] for part in parts) == pytest.approx(1.0)  # the parts add up to the wall clock


def test_a_profile_without_the_stages_main_is_refused(tiny_stats):
    with pytest.raises(ValueError, match="stages/other.py, not one"):
        profile_stages.read_parts(tiny_stats, "stages/other.py", wall_seconds=1.0)


def test_package_functions_are_named_by_layer_and_module():
    name = profile_stages.package_function
    assert name(("/repo/stages/digit_concepts/pipeline/encode.py", 12, "encoded")) == "pipeline.encode.encoded"
    assert name(("/repo/src/digit_concepts/core/__init__.py", 1, "helper")) == "core.helper"
    assert name(("/usr/lib/python3.11/json/__init__.py", 1, "dumps")) is None
    assert name(("~", 0, "<built-in method builtins.sorted>")) is None
    assert profile_stages.is_import(("<frozen importlib._bootstrap>", 1165, "_find_and_load"))
    assert not profile_stages.is_import(("/repo/stages/digit_concepts/core/storage.py", 3, "read_npz"))


# ------------------------------------------------------------------ the stages and their commands


def test_every_stage_command_of_dvc_yaml_in_its_order():
    commands = profile_stages.stage_commands(YAML(typ="safe").load(REPO / "dvc.yaml"))
    assert list(commands)[:3] == ["download", "preprocess", "train_image_ae"] and list(commands)[-1] == "plot"
    assert commands["train_audio_ae"] == ["python", "stages/train_autoencoder.py", "--modality", "audio"]


@pytest.mark.parametrize("stage", [{"cmd": "bash run.sh"}, {"cmd": ["python a.py", "python b.py"]}, {"deps": []}])
def test_a_command_that_is_not_one_python_script_is_refused(stage):
    with pytest.raises(ValueError, match="stage 'odd'"):
        profile_stages.stage_commands({"stages": {"odd": stage}})


def test_chosen_stages_keep_dvc_yaml_order_and_name_the_unknown():
    known = ["download", "preprocess", "encode", "plot"]
    assert profile_stages.chosen_stages(known, None) == known
    assert profile_stages.chosen_stages(known, "plot, encode") == ["encode", "plot"]
    with pytest.raises(ValueError, match="unknown stage.*ploy.*dvc.yaml has download, preprocess"):
        profile_stages.chosen_stages(known, "encode,ploy")


def test_the_child_runs_the_stage_script_with_its_own_arguments():
    argv = ["python", "stages/train_autoencoder.py", "--modality", "image"]
    assert profile_stages.child_command(argv, None, python="py") == ["py", "stages/train_autoencoder.py",
                                                                     "--modality", "image"]
    assert profile_stages.child_command(argv, "x.prof", python="py") == [
        "py", "-m", "cProfile", "-o", "x.prof", "stages/train_autoencoder.py", "--modality", "image"]


def test_peak_rss_is_the_childs_own_not_the_largest_child_so_far(tmp_path):
    """A small child measured after a large one reports its own peak (RUSAGE_CHILDREN would not).
    Linux starts a child's peak at its parent's RSS, so the two children are started from a small
    parent of their own, not from this test's worker (which may hold TensorFlow)."""
    measure = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "import profile_stages\n"
        "large = [sys.executable, '-c', \"block = bytearray(300 * 2**20); block[::4096] = b'x' * len(block[::4096])\"]\n"
        "small = [sys.executable, '-c', 'pass']\n"
        "folder = Path(sys.argv[1])\n"
        "runs = [profile_stages.run_child(command, folder / f'{name}.log', name)\n"
        "        for name, command in (('large', large), ('small', small))]\n"
        "print(json.dumps([[peak, code] for _, peak, _, code in runs]))\n")
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "scripts"), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run([sys.executable, "-c", measure, str(tmp_path)], capture_output=True, text=True,
                            env=environment, check=True)
    (large_peak, large_code), (small_peak, small_code) = json.loads(result.stdout.strip().splitlines()[-1])
    assert large_code == small_code == 0
    assert large_peak > 300 and small_peak < large_peak - 150


def test_the_tree_peak_adds_a_stages_own_child_processes(tmp_path):
    """A stage that holds 200 MiB while its child holds 300 MiB: the process tree's sampled sum sees
    both at once. (Its own peak, from wait4, is not compared: Linux starts it at the RSS of the
    process that forked it, this test's worker, which may hold TensorFlow.)"""
    child = "block = bytearray(300 * 2**20); block[::4096] = b'x' * len(block[::4096]); import time; time.sleep(4)"
    parent = ("import subprocess, sys\n"
              "block = bytearray(200 * 2**20); block[::4096] = b'x' * len(block[::4096])\n"
              f"subprocess.run([sys.executable, '-c', {child!r}], check=True)\n")
    wall, own, together, code = profile_stages.run_child([sys.executable, "-c", parent], tmp_path / "log", "tree")
    assert code == 0
    assert together is not None and together > 480, (own, together)


# ------------------------------------------------------------------ tables and the comparison

PROFILE = {"stages": [
    {"stage": "encode", "wall_seconds": 9.34, "peak_rss_mib": 1710.4, "peak_tree_rss_mib": 1712.0, "parts": [
        {"name": "senses.autoencoders.load_halves", "calls": 2, "seconds": 4.01},
        {"name": "imports", "calls": None, "seconds": 2.5},
        {"name": "core.params.load", "calls": 1, "seconds": 0.04}]},
    {"stage": "plot", "wall_seconds": 20.0, "peak_rss_mib": 900.0, "parts": [
        {"name": "reporting.report_figures.draw", "calls": 1, "seconds": 15.0}]}]}


def test_the_summary_table():
    assert profile_stages.summary_table(PROFILE) == textwrap.dedent("""\
        | stage | seconds | peak RSS (MiB) | with its child processes (MiB) | largest parts (seconds) |
        |---|---|---|---|---|
        | encode | 9.3 | 1710 | 1712 | `senses.autoencoders.load_halves` (x2) 4.0, `imports` 2.5 |
        | plot | 20.0 | 900 | - | `reporting.report_figures.draw` 15.0 |
        | **total** | 29.3 | 1710 (largest) | 1712 (largest) |  |""")


def test_the_parts_table_leaves_out_what_rounds_to_nothing():
    assert profile_stages.parts_table(PROFILE) == textwrap.dedent("""\
        | stage | part (calls) | seconds |
        |---|---|---|
        | encode | `senses.autoencoders.load_halves` (x2) | 4.0 |
        | encode | `imports` | 2.5 |
        | plot | `reporting.report_figures.draw` | 15.0 |""")


def test_the_comparison_gives_new_over_committed_per_stage_and_part():
    new = {"stages": [
        {"stage": "encode", "wall_seconds": 4.67, "peak_rss_mib": 855.2, "parts": [
            {"name": "senses.autoencoders.load_halves", "calls": 2, "seconds": 1.0},
            {"name": "pipeline.encode.encoded", "calls": 2, "seconds": 1.5}]}]}  # imports gone, a new part
    rows = profile_stages.comparison_rows(PROFILE, new)
    assert [(row["stage"], row["part"]) for row in rows] == [
        ("encode", None), ("encode", "pipeline.encode.encoded"), ("encode", "senses.autoencoders.load_halves"),
        ("encode", "imports"), ("total", None)]  # plot was not rerun: left out, and out of the total
    assert rows[0]["seconds_ratio"] == pytest.approx(0.5) and rows[0]["peak_rss_ratio"] == pytest.approx(0.5)
    assert rows[1]["committed_seconds"] is None and rows[1]["seconds_ratio"] is None
    assert rows[2]["seconds_ratio"] == pytest.approx(1.0 / 4.01)
    assert rows[3]["new_seconds"] is None
    assert rows[4]["committed_seconds"] == 9.34 and rows[4]["seconds_ratio"] == pytest.approx(0.5)
    assert profile_stages.comparison_table(rows) == textwrap.dedent("""\
        | stage | part | committed s | new s | new/committed | committed MiB | new MiB | new/committed |
        |---|---|---|---|---|---|---|---|
        | encode | (whole stage) | 9.3 | 4.7 | 0.50 | 1710 | 855 | 0.50 |
        | encode | `pipeline.encode.encoded` | - | 1.5 | - |  |  |  |
        | encode | `senses.autoencoders.load_halves` | 4.0 | 1.0 | 0.25 |  |  |  |
        | encode | `imports` | 2.5 | - | - |  |  |  |
        | total | (all stages) | 9.3 | 4.7 | 0.50 |  |  |  |""")


def test_a_ratio_needs_both_numbers_and_a_committed_one_above_zero():
    assert profile_stages.ratio(3.0, 2.0) == 1.5
    assert profile_stages.ratio(None, 2.0) is None and profile_stages.ratio(3.0, None) is None
    assert profile_stages.ratio(3.0, 0.0) is None


# ------------------------------------------------------------------ files


def test_a_profile_is_written_and_read_back_and_a_wrong_one_is_named(tmp_path):
    path = tmp_path / "profile.json"
    profile_stages.write_profile(path, PROFILE)
    assert profile_stages.read_profile(path) == PROFILE
    path.write_text(json.dumps({"stages": [{"stage": "encode", "wall_seconds": 1.0}]}))
    with pytest.raises(ValueError, match="encode lacks parts, peak_rss_mib"):
        profile_stages.read_profile(path)
    path.write_text("{")
    with pytest.raises(ValueError, match="not a readable profile"):
        profile_stages.read_profile(path)


def test_docs_performance_shows_the_tables_of_its_json():
    """docs/performance.md's tables are what the command prints for docs/performance.json."""
    profile = profile_stages.read_profile(REPO / "docs" / "performance.json")
    page = (REPO / "docs" / "performance.md").read_text()
    assert [stage["stage"] for stage in profile["stages"]] == list(
        profile_stages.stage_commands(YAML(typ="safe").load(REPO / "dvc.yaml")))  # every stage
    assert profile_stages.summary_table(profile) in page
    assert profile_stages.parts_table(profile) in page
