"""The package's layers, as docs/layout.md lists them: every module in exactly one layer, imports
running one way (down the layers or within one), and no import cycle."""

import re
from pathlib import Path

import pytest

from code_deps import PACKAGE_DIR, imported_modules

LAYOUT = Path(__file__).resolve().parents[1] / "docs" / "layout.md"
LAYER_HEADING = re.compile(r"^\*\*(?P<name>[^*]+)\*\*")  # may be followed by a note
MODULE_ENTRY = re.compile(r"^- `(?P<module>\w+)`")


def documented_layers(text: str) -> dict[str, tuple[int, str]]:
    """module -> (layer index, layer name) from the "package, by layer" section: a bold line
    names a layer (bottom first), and each `- `module`: ...` line under it is one of its modules."""
    section = text.split("## The package, by layer", 1)
    if len(section) != 2:
        raise ValueError(f"{LAYOUT}: no '## The package, by layer' section")
    layers, current, headings = {}, None, 0
    for line in section[1].split("\n## ", 1)[0].splitlines():
        heading = LAYER_HEADING.match(line)
        if heading:
            current, headings = (headings, heading["name"].strip()), headings + 1
            continue
        entry = MODULE_ENTRY.match(line)
        if entry and current is not None:
            if entry["module"] in layers:
                raise ValueError(f"{LAYOUT}: module {entry['module']} is listed twice")
            layers[entry["module"]] = current
    return layers


def package_modules() -> set[str]:
    return {path.stem for path in PACKAGE_DIR.glob("*.py") if path.stem not in ("__init__", "__main__")}


def import_graph() -> dict[str, set[str]]:
    return {module: imported_modules(PACKAGE_DIR / f"{module}.py") - {module} for module in package_modules()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every import cycle found by a depth-first search (each reported once, from where it closes)."""
    found, state = [], {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for imported in sorted(graph.get(module, ())):
            if state.get(imported) == "open":
                found.append(path[path.index(imported):] + [imported])
            elif imported not in state:
                visit(imported, path + [imported])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    return found


def upward_imports(graph: dict[str, set[str]], layers: dict[str, tuple[int, str]]) -> list[str]:
    return [f"{module} ({layers[module][1]}) imports {imported} ({layers[imported][1]})"
            for module, imports in sorted(graph.items()) for imported in sorted(imports)
            if module in layers and imported in layers and layers[imported][0] > layers[module][0]]


def test_every_module_is_in_one_documented_layer():
    layers = documented_layers(LAYOUT.read_text())
    assert set(layers) == package_modules(), (
        f"in the package but not in docs/layout.md: {sorted(package_modules() - set(layers))}; "
        f"in docs/layout.md but not in the package: {sorted(set(layers) - package_modules())}")
    assert len({layer for layer, _ in layers.values()}) >= 5


def test_imports_run_down_the_layers_without_cycles():
    graph = import_graph()
    assert cycles(graph) == []
    assert upward_imports(graph, documented_layers(LAYOUT.read_text())) == []


def test_the_checks_catch_a_cycle_and_an_upward_import():
    graph = {"storage": {"report"}, "report": {"storage"}}
    assert cycles(graph) == [["storage", "report", "storage"]] or cycles(graph) == [["report", "storage", "report"]]
    layers = documented_layers("## The package, by layer\n**Low**\n- `storage`: x\n**High**\n- `report`: y\n")
    assert layers == {"storage": (0, "Low"), "report": (1, "High")}
    assert upward_imports({"storage": {"report"}}, layers) == ["storage (Low) imports report (High)"]
    with pytest.raises(ValueError, match="listed twice"):
        documented_layers("## The package, by layer\n**Low**\n- `storage`: x\n- `storage`: y\n")
