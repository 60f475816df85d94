"""Text that names a param or a Python module must name one that exists.

Where it looks: README.md, docs/*.md, the comments of params.yaml, and the comments and docstrings
(not the code) of the Python files in src/digit_concepts/, stages/, scripts/ and experiments/.

**Params.** A param name is ``section.key`` or ``section.sub.key`` (any depth), ``section`` being
a top-level key of params.yaml, written bare, in backticks, as ``-S section.key=value`` or as
``section.key: value``. It must be a path of params.yaml: a whole section or sub-section, a leaf,
or a list-valued param (itself, or one element as ``.0`` or ``[0]``). What is *not* a param,
although it looks like one:

- the text around it makes it part of something longer: after a letter, digit, ``_``, ``.``, ``/``,
  ``-`` or ``$`` (``digit_concepts.audio``, ``metrics/relate.json``, ``${pkg}``), or before ``(``
  or ``/`` (a call, a path);
- a file name: the last part is an extension (``adaptation.py``, ``cluster.json``);
- a reference to code: the section is also the name of a module (``src/digit_concepts/senses/audio.py``,
  ``adaptation.py``; ``stages/cluster.py``, ``relate.py``, ``convergence.py``) and the next part
  is a top-level function, class or constant of that module (``audio.features_of``,
  ``adaptation.batch_neighbourhoods``) and not a key of the section (a key is checked in full);
- a metric: the name is a key path of a committed metrics/*.json (``audio.acc`` in
  metrics/cluster.json, ``audio.mse`` in metrics/reconstruction.json).

Everything else must exist, bare or backticked, so that a stale name in a plain comment (the
kind this test was written for: ``relate.batch_neighbours`` where the param is
``adaptation.batch_neighbours``) is caught too. Python code itself is never read (``audio`` is
also a local variable and a module there); the code-reference rule above is what makes bare
names in Python prose safe.

**Modules.** A ``name.py`` must exist: with a folder (``scripts/sweep.py``, ``src/...``,
``tests/...``) at that path from the repository root (``digit_concepts/x.py`` under src/); bare
(``voices.py``), in src/digit_concepts/, stages/, scripts/, experiments/ or tests/. A path that
starts anywhere else (a third-party package's file) is not checked.
"""

import ast
import io
import json
import re
import tokenize
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from conftest import REPO

PYTHON_FOLDERS = ("src/digit_concepts", "stages", "scripts", "experiments")
MODULE_FOLDERS = (*PYTHON_FOLDERS, "tests")
QUALIFIED_ROOTS = ("src", "stages", "scripts", "experiments", "tests", "digit_concepts")
FILE_EXTENSIONS = {"py", "json", "yaml", "yml", "md", "npz", "npy", "csv", "png", "jpg", "wav", "flac", "ogg",
                   "keras", "html", "txt", "lock", "dvc", "gz", "zip", "toml", "ini", "cfg", "sh"}
MODULE = re.compile(r"(?<![\w./\-])(?P<path>(?:[\w.\-]+/)*\w+\.py)\b")


# ------------------------------------------------------------------ what is read


def python_prose(source: str) -> list[tuple[int, str]]:
    """(first line, text) of every comment and docstring of a Python file; the code is left out."""
    prose = [(token.start[0], token.string) for token in tokenize.generate_tokens(io.StringIO(source).readline)
             if token.type == tokenize.COMMENT]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            docstring = ast.get_docstring(node, clean=False)
            if docstring is not None:
                prose.append((node.body[0].lineno, docstring))
    return sorted(prose)


def yaml_comments(source: str) -> list[tuple[int, str]]:
    """(line, comment) of a YAML file whose values hold no '#' (params.yaml: checked by the caller)."""
    comments = []
    for number, line in enumerate(source.splitlines(), 1):
        match = re.search(r"(?:^|\s)#(.*)$", line)
        if match:
            comments.append((number, match.group(1)))
    return comments


def texts(repo: Path) -> list[tuple[str, int, str]]:
    """(file, first line, text) of everything checked, paths relative to ``repo``."""
    found = []
    for path in [repo / "README.md", *sorted((repo / "docs").glob("*.md"))]:
        if path.is_file():
            found.append((path.relative_to(repo).as_posix(), 1, path.read_text()))
    found += [("params.yaml", line, text) for line, text in yaml_comments((repo / "params.yaml").read_text())]
    for folder in PYTHON_FOLDERS:
        for path in sorted((repo / folder).rglob("*.py") if folder.startswith("src") else (repo / folder).glob("*.py")):
            found += [(path.relative_to(repo).as_posix(), line, text) for line, text in python_prose(path.read_text())]
    return found


# ------------------------------------------------------------------ what exists


def load_params(repo: Path) -> dict:
    return YAML(typ="safe").load(repo / "params.yaml")


def top_level_names(path: Path) -> set[str]:
    """Functions, classes and module constants defined at the top of a Python file."""
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {target.id for target in node.targets if isinstance(target, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def code_names(repo: Path, sections) -> dict[str, set[str]]:
    """For each params section that is also a module (package or stage), the names it defines."""
    names = {}
    for section in sections:
        for path in (*(repo / "src" / "digit_concepts").rglob(f"{section}.py"), repo / "stages" / f"{section}.py"):
            if path.is_file():
                names.setdefault(section, set()).update(top_level_names(path))
    return names


def metric_names(repo: Path) -> set[str]:
    """Every key path (dotted) of the committed metrics/*.json."""
    def paths(node, prefix=""):
        if isinstance(node, dict):
            for key, value in node.items():
                yield prefix + str(key)
                yield from paths(value, f"{prefix}{key}.")

    return {name for path in (repo / "metrics").glob("*.json") for name in paths(json.loads(path.read_text()))}


def is_param(params: dict, parts: list[str]) -> bool:
    node = params
    for part in parts:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False
    return True


# ------------------------------------------------------------------ the matchers


def param_pattern(sections) -> re.Pattern:
    alternatives = "|".join(re.escape(section) for section in sorted(sections, key=len, reverse=True))
    return re.compile(rf"(?<![\w./\-$])(?P<name>(?:{alternatives})(?:\.(?:[A-Za-z_]\w*|\d+))+)"
                      rf"(?:\[(?P<index>\d+)\])?(?!\.?[\w(/])")


def unknown_params(text: str, params: dict, code: dict[str, set[str]], metrics: set[str]) -> list[tuple[int, str]]:
    """(offset, name) of every param name in ``text`` that params.yaml does not have."""
    unknown = []
    for match in param_pattern(params).finditer(text):
        name = match.group("name")
        parts = name.split(".") + ([match.group("index")] if match.group("index") else [])
        section = params[parts[0]]
        is_key = isinstance(section, dict) and parts[1] in section  # a key wins over a function of that name
        if parts[-1] in FILE_EXTENSIONS or (parts[1] in code.get(parts[0], ()) and not is_key) or name in metrics:
            continue
        if not is_param(params, parts):
            unknown.append((match.start("name"), match.group(0)))
    return unknown


def unknown_modules(text: str, repo: Path) -> list[tuple[int, str]]:
    """(offset, name) of every ``x.py`` in ``text`` that is not where the text says (or anywhere, bare)."""
    unknown = []
    for match in MODULE.finditer(text):
        path = match.group("path")
        if "/" in path:
            if path.split("/")[0] not in QUALIFIED_ROOTS:
                continue
            found = (repo / path).is_file() or (repo / "src" / path).is_file()
        else:
            found = (any((repo / folder / path).is_file() for folder in MODULE_FOLDERS)
                     or any((repo / "src" / "digit_concepts").rglob(path)))  # a module of a sub-package
        if not found:
            unknown.append((match.start("path"), path))
    return unknown


def report(finder) -> list[str]:
    """'file:line: name' for each name ``finder(text)`` finds in what this test reads."""
    problems = []
    for file, first_line, text in texts(REPO):
        for offset, name in finder(text):
            problems.append(f"{file}:{first_line + text.count(chr(10), 0, offset)}: {name}")
    return problems


# ------------------------------------------------------------------ the tree as it is


def test_params_yaml_values_hold_no_hash():
    """yaml_comments takes everything after a '#' for a comment: no value may hold one."""
    def strings(node):
        if isinstance(node, dict):
            for value in node.values():
                yield from strings(value)
        elif isinstance(node, list):
            for value in node:
                yield from strings(value)
        elif isinstance(node, str):
            yield node

    assert not [value for value in strings(load_params(REPO)) if "#" in value]


def test_every_param_named_in_text_exists():
    params = load_params(REPO)
    code, metrics = code_names(REPO, params), metric_names(REPO)
    problems = report(lambda text: unknown_params(text, params, code, metrics))
    assert not problems, "params named in text but not in params.yaml:\n  " + "\n  ".join(problems)


def test_every_python_module_named_in_text_exists():
    problems = report(lambda text: unknown_modules(text, REPO))
    assert not problems, "Python files named in text that do not exist there:\n  " + "\n  ".join(problems)


def test_every_exploration_says_what_it_produced_and_how():
    """Each experiments/*.py opens with the table it produced (a doc file that exists, and quoted
    headings or row names found in it) and the command that produced it."""
    explorations = sorted((REPO / "experiments").glob("*.py"))
    assert explorations
    problems = []
    for path in explorations:
        docstring = ast.get_docstring(ast.parse(path.read_text())) or ""
        flat = " ".join(docstring.split())
        docs = sorted(set(re.findall(r"(?<![\w/])(?:docs/[\w/]+\.md|README\.md)", flat)))
        if "Produced" not in flat or not docs:
            problems.append(f"{path.name}: no 'Produced: <doc file>, section ...' in its docstring")
        if f"experiments/{path.name}" not in flat:
            problems.append(f"{path.name}: its docstring gives no command running experiments/{path.name}")
        texts_of_docs = [" ".join((REPO / doc).read_text().split()) for doc in docs if (REPO / doc).is_file()]
        problems += [f"{path.name}: {doc} does not exist" for doc in docs if not (REPO / doc).is_file()]
        problems += [f'{path.name}: "{quoted}" is in none of {", ".join(docs)}'
                     for quoted in re.findall(r'"([^"]+)"', flat) if not any(quoted in text for text in texts_of_docs)]
    assert not problems, "\n".join(problems)


# ------------------------------------------------------------------ the matchers themselves

PARAMS = {"seed": 42, "audio": {"features": "cepstral"}, "adaptation": {"batch_neighbours": 20},
          "image_ae": {"hidden_units": [512, 256], "augmentation": {"views": 3}},
          "cluster": {"audio": {"k": 300}, "audio_reference": {"voices": {"rounds": 3}}}}
CODE = {"audio": {"features_of", "AudioSettings"}, "adaptation": {"batch_neighbourhoods"}, "cluster": {"audio"}}
METRICS = {"audio", "audio.acc"}


def _names(text: str) -> list[str]:
    return [name for _, name in unknown_params(text, PARAMS, CODE, METRICS)]


def test_a_made_up_or_stale_param_is_reported():
    assert _names("set `cluster.audio.kk: 3` here") == ["cluster.audio.kk"]  # though CODE says cluster.audio is code
    assert _names("# the same recordings alone (relate.batch_neighbours)") == []  # relate: no section here
    assert _names("-S image_ae.augmentation.warp=0.1 and adaptation.neighbours.") == [
        "image_ae.augmentation.warp", "adaptation.neighbours"]
    assert _names("`cluster.audio_reference.voices.rounds=1` `cluster.audio_reference.voice`") == [
        "cluster.audio_reference.voice"]
    assert _names("``audio.features_off``") == ["audio.features_off"]  # neither a param nor a function


def test_names_that_exist_or_are_not_params_pass():
    text = """`audio.features: cepstral`, -S cluster.audio.k=200, adaptation.batch_neighbours (20),
    `cluster` and `cluster.audio_reference.voices`, image_ae.hidden_units, `image_ae.hidden_units.1`,
    image_ae.hidden_units[0]; files adaptation.py and metrics/cluster.json; code ``audio.features_of``,
    audio.AudioSettings, adaptation.batch_neighbourhoods, audio.features_of(powers), audio.x.y(z);
    metric `audio.acc`; not a section: paths.IMAGES, digit_concepts.audio.view, data.read_idx, seed."""
    assert _names(text) == []


def test_list_valued_params_are_indexed_in_range():
    assert _names("image_ae.hidden_units.2 and image_ae.hidden_units[5]") == [
        "image_ae.hidden_units.2", "image_ae.hidden_units[5]"]
    assert _names("image_ae.hidden_units.0.x") == ["image_ae.hidden_units.0.x"]


def test_only_comments_and_docstrings_of_python_are_read():
    source = '''"""Module: see relate.batch_neighbours."""
audio = load()
value = audio.features_of(x) + audio.made_up  # audio.stale_name here


def f():
    """Uses `cluster.audio.kk`."""
    return "audio.in_a_string"
'''
    prose = python_prose(source)
    assert [line for line, _ in prose] == [1, 3, 7]
    assert [name for _, text in prose for _, name in unknown_params(text, {**PARAMS, "relate": {}}, CODE, METRICS)] \
        == ["relate.batch_neighbours", "audio.stale_name", "cluster.audio.kk"]


def test_yaml_comments_are_read_without_values():
    assert yaml_comments("a:\n  b: 1   # see a.c\n# whole line a.d\n") == [(2, " see a.c"), (3, " whole line a.d")]


@pytest.fixture
def tree(tmp_path):
    for path in ("src/digit_concepts/senses/audio.py", "stages/cluster.py", "experiments/round_trip.py", "tests/fakes.py"):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("")
    return tmp_path


def test_a_missing_or_moved_module_is_reported(tree):
    text = ("`scripts/round_trip.py` moved; experiments/round_trip.py, src/digit_concepts/senses/audio.py, "
            "digit_concepts/senses/audio.py, audio.py, cluster.py, fakes.py and round_trip.py exist; nowhere.py does not, "
            "nor stages/audio.py; site-packages/dvc/repo.py is not ours; a.pyc is not a module")
    assert [name for _, name in unknown_modules(text, tree)] == ["scripts/round_trip.py", "nowhere.py",
                                                                 "stages/audio.py"]
