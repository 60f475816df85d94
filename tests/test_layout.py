"""The package's layers are its folders: every module sits in one sub-package, imports run one way
(down the layers or within one), and there is no import cycle."""

from code_deps import PACKAGE_DIR, imported_modules

# Bottom first: a module imports from its own layer or a lower one (docs/layout.md says what each holds).
LAYERS = ("core", "senses", "concepts", "crossmodal", "evaluation", "pipeline", "reporting", "tool")
ROOT_FILES = {"__init__", "__main__"}


def package_modules() -> set[str]:
    """Every module as a path inside the package without .py (core/paths), sub-package __init__ files aside."""
    return {str(path.relative_to(PACKAGE_DIR).with_suffix("")) for path in PACKAGE_DIR.rglob("*.py")
            if path.name != "__init__.py" and "__pycache__" not in path.parts}


def layer_of(module: str) -> int:
    return LAYERS.index(module.split("/")[0]) if "/" in module else len(LAYERS)  # __main__ is on top


def import_graph() -> dict[str, set[str]]:
    return {module: {name for name in imported_modules(PACKAGE_DIR / f"{module}.py") if not name.endswith("__init__")}
            - {module} for module in package_modules()}


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


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    return [f"{module} imports {imported}, a higher layer" for module, imports in sorted(graph.items())
            for imported in sorted(imports) if layer_of(imported) > layer_of(module)]


def test_the_package_root_holds_only_sub_packages():
    root_modules = {path.stem for path in PACKAGE_DIR.glob("*.py")}
    assert root_modules == ROOT_FILES, f"modules outside a layer folder: {sorted(root_modules - ROOT_FILES)}"
    folders = {path.name for path in PACKAGE_DIR.iterdir() if path.is_dir() and path.name != "__pycache__"}
    assert folders == set(LAYERS), f"folders that are not a layer: {sorted(folders - set(LAYERS))}"
    assert all((PACKAGE_DIR / layer / "__init__.py").is_file() for layer in LAYERS)


def test_imports_run_down_the_layers_without_cycles():
    graph = import_graph()
    assert cycles(graph) == []
    assert upward_imports(graph) == []


def test_a_cycle_and_an_upward_import_are_found():
    graph = {"core/a": {"senses/b"}, "senses/b": {"core/a"}}
    assert cycles(graph) == [["core/a", "senses/b", "core/a"]]
    assert upward_imports(graph) == ["core/a imports senses/b, a higher layer"]


def test_docs_layout_names_every_layer_and_module():
    text = (PACKAGE_DIR.parents[1] / "docs" / "layout.md").read_text()
    missing = [name for name in (*(f"{layer}/" for layer in LAYERS), *package_modules()) if f"`{name.split('/')[-1] or name}`" not in text]
    assert not missing, f"docs/layout.md does not name: {missing}"
