"""The code deps of every dvc.yaml stage, derived from its script's imports (ast, transitively).

    python scripts/code_deps.py          # print what each stage lacks or lists needlessly
    python scripts/code_deps.py --write  # rewrite the code deps in dvc.yaml (comments kept)

tests/test_dvc_deps.py fails on any difference, so dvc.yaml cannot drift from the code.
"""

import argparse
import ast
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "digit_concepts"
PACKAGE_DIR = REPO / "src" / PACKAGE
DVC_YAML = REPO / "dvc.yaml"
SCRIPT = re.compile(r"python\s+(stages/\w+\.py)")
PACKAGE_VARIABLE = "${pkg}"  # dvc.yaml's vars: pkg is src/digit_concepts


def imported_modules(source: Path, package_dir: Path = PACKAGE_DIR) -> set[str]:
    """Package modules a file imports anywhere (top level or inside functions), as paths inside the
    package without ``.py`` (``core/paths``), with the ``__init__`` of every sub-package on the way."""
    tree = ast.parse(source.read_text(), filename=str(source))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {_module_path(alias.name) for alias in node.names if alias.name.startswith(PACKAGE + ".")}
        elif isinstance(node, ast.ImportFrom) and node.level:
            raise ValueError(f"{source}: relative import (the package imports itself by absolute names)")
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == PACKAGE:
            base = _module_path(node.module)
            for alias in node.names:  # from digit_concepts.core import paths: a module, or a name of core
                child = f"{base}/{alias.name}" if base else alias.name
                is_module = (package_dir / f"{child}.py").exists() or (package_dir / child / "__init__.py").exists()
                found.add(child if is_module else base)
    modules = set()
    for name in found - {""}:
        if (package_dir / name / "__init__.py").exists():
            name = f"{name}/__init__"
        if (package_dir / f"{name}.py").exists():
            modules.add(name)
            parts = name.split("/")
            modules |= {"/".join(parts[:depth]) + "/__init__" for depth in range(1, len(parts))}
    return modules


def _module_path(dotted: str) -> str:
    """digit_concepts.core.paths -> core/paths; digit_concepts -> ''."""
    return "/".join(dotted.split(".")[1:])


def module_closure(script: Path, package_dir: Path = PACKAGE_DIR) -> set[str]:
    """Every package module that running ``script`` can import, transitively."""
    pending, seen = list(imported_modules(script, package_dir)), set()
    while pending:
        name = pending.pop()
        if name not in seen:
            seen.add(name)
            pending += imported_modules(package_dir / f"{name}.py", package_dir)
    return seen


def stage_script(stage: dict) -> str:
    match = SCRIPT.search(stage["cmd"])
    if not match:
        raise ValueError(f"cmd {stage['cmd']!r} runs no stages/*.py script")
    return match.group(1)


def expected_code_deps(script: str) -> set[str]:
    """The script, the package's __init__ (run by any import of it) and every module reached."""
    modules = module_closure(REPO / script) | {"__init__"}
    return {script} | {f"src/{PACKAGE}/{name}.py" for name in modules}


def expand(dep: str) -> str:
    return dep.replace(PACKAGE_VARIABLE, f"src/{PACKAGE}")


def is_code(dep: str) -> bool:
    return expand(dep).startswith(("stages/", "src/"))


def differences(stages: dict) -> dict[str, tuple[list[str], list[str]]]:
    """Per stage with a difference: (missing code deps, needless code deps)."""
    result = {}
    for name, stage in stages.items():
        expected = expected_code_deps(stage_script(stage))
        declared = {expand(dep) for dep in stage.get("deps", []) if is_code(dep)}
        if expected != declared:
            result[name] = (sorted(expected - declared), sorted(declared - expected))
    return result


def rewrite(stages: dict) -> None:
    """Code deps first (script, then modules by name), then the stage's data deps as they were."""
    for stage in stages.values():
        script = stage_script(stage)
        modules = sorted(expected_code_deps(script) - {script})
        code = [script] + [module.replace(f"src/{PACKAGE}", PACKAGE_VARIABLE) for module in modules]
        data = [dep for dep in stage.get("deps", []) if not is_code(dep)]
        stage["deps"][:] = code + data


def main() -> int:
    from ruamel.yaml import YAML

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite dvc.yaml's code deps")
    arguments = parser.parse_args()
    yaml = YAML()  # round trip: comments and layout stay
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 120
    document = yaml.load(DVC_YAML)
    found = differences(document["stages"])
    for name, (missing, needless) in found.items():
        print(f"{name}: missing {missing or 'none'}; needless {needless or 'none'}")
    if arguments.write and found:
        rewrite(document["stages"])
        with open(DVC_YAML, "w") as stream:
            yaml.dump(document, stream)
        print(f"rewrote the code deps of {len(found)} stage(s) in {DVC_YAML.name}")
        return 0
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
