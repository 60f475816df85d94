"""dvc.yaml's code deps cannot drift: each stage lists exactly its script and the package
modules the script imports, transitively (derived from the source with ast)."""

import pytest
from ruamel.yaml import YAML

import code_deps
from conftest import REPO

STAGES = YAML(typ="safe").load(REPO / "dvc.yaml")["stages"]


def test_imports_are_found_in_every_form(tmp_path):
    package = tmp_path / "src" / "digit_concepts"
    for name in ("core/paths", "core/storage", "core/runtime", "core/params", "core/unused", "tool/cli"):
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / f"{name}.py").write_text("")
    for folder in ("core", "tool"):
        (package / folder / "__init__.py").write_text("")
    (package / "core" / "runtime.py").write_text("from digit_concepts.core.storage import atomic_path\n")
    script = tmp_path / "stage.py"
    script.write_text("from digit_concepts.core import paths\nimport digit_concepts.core.runtime\nimport numpy\n"
                      "def f():\n    from digit_concepts.core.params import load\n")
    assert code_deps.imported_modules(script, package) == {"core/paths", "core/runtime", "core/params",
                                                           "core/__init__"}
    assert code_deps.imported_modules(package / "core" / "runtime.py", package) == {"core/storage", "core/__init__"}
    assert code_deps.module_closure(script, package) == {"core/paths", "core/runtime", "core/params",
                                                         "core/storage", "core/__init__"}


def test_a_relative_import_is_refused(tmp_path):
    package = tmp_path / "src" / "digit_concepts"
    package.mkdir(parents=True)
    script = tmp_path / "stage.py"
    script.write_text("from .paths import X\n")
    with pytest.raises(ValueError, match="relative import"):
        code_deps.imported_modules(script, package)


def test_a_missing_or_needless_dep_is_reported_both_ways():
    stage = {"cmd": "python stages/download.py", "deps": ["stages/download.py", "${pkg}/reporting/figures.py", "data/x"]}
    expected = code_deps.expected_code_deps("stages/download.py")
    missing, needless = code_deps.differences({"download": stage})["download"]
    assert needless == ["src/digit_concepts/reporting/figures.py"] and set(missing) == expected - {"stages/download.py"}


@pytest.mark.parametrize("name", sorted(STAGES))
def test_stage_code_deps_match_its_imports(name):
    found = code_deps.differences({name: STAGES[name]})
    assert not found, (f"stage {name} in dvc.yaml: add {found[name][0]}, remove {found[name][1]} "
                       f"(run: python scripts/code_deps.py --write)")


def test_the_committed_loso_summary_is_a_plot_dep():
    """The plot stage shows metrics/generalisation.json, which `scripts/sweep.py loso` writes and git
    keeps; DVC cannot depend on a missing file, so the summary is committed before it is a dep."""
    summary = "metrics/generalisation.json"
    assert (REPO / summary).is_file(), f"{summary} is committed (python scripts/sweep.py loso writes it)"
    assert summary in STAGES["plot"]["deps"], f"add {summary} to the plot stage's deps in dvc.yaml"
