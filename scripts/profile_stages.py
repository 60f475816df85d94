"""Seconds and peak memory of every pipeline stage, and of the named parts of each, on the real data.

    python scripts/profile_stages.py                                  # every stage, in dvc.yaml's order
    python scripts/profile_stages.py --stages encode,relate           # some stages (still in dvc.yaml's order)
    python scripts/profile_stages.py --json docs/performance.json     # also write the numbers as JSON
    python scripts/profile_stages.py --compare docs/performance.json  # the benchmark: committed, new, new/committed

Run from the repository root with the pipeline's outputs in place (``dvc checkout``): each stage's
command from dvc.yaml is run again, in a child process under cProfile
(``python -m cProfile -o FILE stages/encode.py``, the stage's own argv and working folder), and
rewrites that stage's outputs. The pipeline is deterministic, so they get the same bytes:
``dvc status`` (printed at the end) stays clean; where it does not, ``dvc checkout`` restores them.

Per stage:

- **seconds**: the wall clock of the child, from its start to its exit, read in this process;
- **peak RSS**: ``ru_maxrss`` of that child alone (``os.wait4``), not the running maximum over every
  child that ``RUSAGE_CHILDREN`` gives; on Linux it includes the stage's own children, if any, and
  starts at this process's own peak (a child counts the pages it shared with its parent before
  ``exec``): a stage that stays below it is flagged (this process holds under 50 MiB, every stage more);
- **parts**: from the cProfile statistics, the cumulative seconds of every package function the
  stage's ``main`` calls directly (summed over its calls), largest first, plus ``imports`` (the
  import machinery called from the stage script, at its top or in ``main``), ``main, outside the
  package`` (main's own code and its calls to other libraries) and ``start-up and exit`` (the wall
  clock left: the interpreter starting, the statistics written, the libraries shutting down).
  The parts add up to the stage's seconds.

``--compare FILE`` reruns the profile of the stages FILE holds (or ``--stages``) and prints, side
by side, the committed numbers, the new ones and the ratio new/committed, per stage and per part.
Nothing is asserted: a ratio is read against the noise of a rerun on the same machine
(docs/performance.md). ``--without-profiler`` runs the stages without cProfile (no parts), to
measure cProfile's own overhead.
"""

import argparse
import datetime
import json
import os
import platform
import pstats
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from ruamel.yaml import YAML

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "digit_concepts"
IMPORTS = "imports"
MAIN_OUTSIDE = "main, outside the package"
START_AND_EXIT = "start-up and exit"
SHOWN_SECONDS = 0.05  # a part that would print as 0.0 s is left out of the tables (the JSON keeps it)
HEARTBEAT_SECONDS = 60  # a progress line this often while a long stage runs
LOG_TAIL_LINES = 30

FunctionKey = tuple[str, int, str]  # (file, first line, name): how cProfile names a function


# ------------------------------------------------------------------ the stages


def stage_commands(dvc_yaml: Mapping) -> dict[str, list[str]]:
    """Each stage's command from dvc.yaml's contents, as argv, in dvc.yaml's order.

    Every command must be ``python stages/<name>.py [args]``: the profile runs that script under
    cProfile instead, with the same arguments."""
    commands = {}
    for name, stage in (dvc_yaml.get("stages") or {}).items():
        command = stage.get("cmd") if isinstance(stage, Mapping) else None
        if not isinstance(command, str):
            raise ValueError(f"dvc.yaml: stage {name!r} has no single command (cmd) to profile")
        argv = shlex.split(command)
        if len(argv) < 2 or argv[0] != "python" or not argv[1].endswith(".py"):
            raise ValueError(f"dvc.yaml: stage {name!r} runs {command!r}, not `python <script>.py [args]`")
        commands[name] = argv
    if not commands:
        raise ValueError("dvc.yaml: no stages")
    return commands


def chosen_stages(known: Sequence[str], wanted: str | None) -> list[str]:
    """The stages of ``--stages a,b`` (all without it), in ``known``'s order (dvc.yaml's)."""
    if wanted is None:
        return list(known)
    names = [name.strip() for name in wanted.split(",") if name.strip()]
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        raise ValueError(f"--stages {wanted!r}: unknown stage(s) {', '.join(unknown) or '(none given)'}; "
                         f"dvc.yaml has {', '.join(known)}")
    return [name for name in known if name in names]


def child_command(argv: Sequence[str], stats_file: Path | None, python: str = sys.executable) -> list[str]:
    """The stage's argv run by this interpreter, under cProfile when ``stats_file`` is given.
    ``python -m cProfile script args`` keeps the script's argv and puts its folder first on sys.path,
    as ``python script args`` does (so stages/digit_concepts, the checkout's own package, is found)."""
    script_and_arguments = list(argv[1:])
    if stats_file is None:
        return [python, *script_and_arguments]
    return [python, "-m", "cProfile", "-o", str(stats_file), *script_and_arguments]


# ------------------------------------------------------------------ parts, from cProfile statistics


def package_function(key: FunctionKey) -> str | None:
    """``layer.module.function`` for a function of the package (found through src/ or through the
    stages/digit_concepts link), None for anything else."""
    file, _, function = key
    parts = Path(file).with_suffix("").parts
    if PACKAGE not in parts:
        return None
    inside = [part for part in parts[len(parts) - parts[::-1].index(PACKAGE):] if part != "__init__"]
    return ".".join([*inside, function])


def is_import(key: FunctionKey) -> bool:
    """The import machinery, as a statement ``import x`` (or ``__import__``) calls it."""
    file, _, function = key
    return file.startswith("<frozen importlib") or function == "<built-in method builtins.__import__>"


def is_script(key: FunctionKey, script: str, function: str) -> bool:
    """``function`` of the stage script (cProfile names the file as it was given on the command line)."""
    file, _, name = key
    return name == function and (file == script or Path(file).as_posix().endswith("/" + script.lstrip("./")))


def callees(stats: Mapping, caller: FunctionKey) -> dict[FunctionKey, tuple[int, float]]:
    """What ``caller`` called directly: (calls, cumulative seconds of those calls) per function.
    cProfile keeps each function's callers with the time spent under each: (calls, primitive calls,
    own seconds, cumulative seconds)."""
    found = {}
    for function, (_, _, _, _, callers) in stats.items():
        if caller in callers:
            calls, _, _, cumulative = callers[caller]
            found[function] = (calls, cumulative)
    return found


def script_function(stats: Mapping, script: str, function: str) -> FunctionKey:
    found = [key for key in stats if is_script(key, script, function)]
    if len(found) != 1:
        raise ValueError(f"the profile holds {len(found)} {function} of {script}, not one: is it a stage script "
                         f"run as `python -m cProfile -o FILE {script}`?")
    return found[0]


def parts_of(stats: Mapping, script: str, wall_seconds: float) -> list[dict]:
    """The named parts of one stage, largest first, from its cProfile statistics (``pstats.Stats(f).stats``).

    Package functions that ``main`` of ``script`` calls directly, each summed over its calls;
    ``imports``; ``main, outside the package``; ``start-up and exit``, the rest of ``wall_seconds``."""
    module, main = script_function(stats, script, "<module>"), script_function(stats, script, "main")
    main_seconds = stats[main][3]
    package: dict[str, tuple[int, float]] = {}
    imports_in_main = 0.0
    for function, (calls, seconds) in callees(stats, main).items():
        if is_import(function):
            imports_in_main += seconds
        elif (name := package_function(function)) is not None:
            # two methods of one name in one module (cProfile names neither's class) are one part
            previous_calls, previous_seconds = package.get(name, (0, 0.0))
            package[name] = (previous_calls + calls, previous_seconds + seconds)
    imports_at_top = sum(seconds for function, (_, seconds) in callees(stats, module).items() if is_import(function))
    outside = main_seconds - imports_in_main - sum(seconds for _, seconds in package.values())
    rest = wall_seconds - imports_at_top - main_seconds
    parts = [{"name": name, "calls": calls, "seconds": seconds} for name, (calls, seconds) in package.items()]
    # clamped at zero: the profiler's clock and this process's differ by microseconds
    parts += [{"name": IMPORTS, "calls": None, "seconds": imports_at_top + imports_in_main},
              {"name": MAIN_OUTSIDE, "calls": None, "seconds": max(outside, 0.0)},
              {"name": START_AND_EXIT, "calls": None, "seconds": max(rest, 0.0)}]
    return sorted(parts, key=lambda part: (-part["seconds"], part["name"]))


def read_parts(stats_file: Path, script: str, wall_seconds: float) -> list[dict]:
    """parts_of a cProfile output file (marshal, written by cProfile itself)."""
    return parts_of(pstats.Stats(str(stats_file)).stats, script, wall_seconds)


# ------------------------------------------------------------------ running one stage


def kibibytes_to_mebibytes(kibibytes: int) -> float:
    return kibibytes / 1024  # Linux reports ru_maxrss in KiB


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (Linux's /proc/PID/task/TID/children), those alive now."""
    found, waiting = [], [pid]
    while waiting:
        current = waiting.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                waiting.extend(int(child) for child in task.read_text().split())
            except OSError:
                pass
    return found


def resident_mebibytes(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def run_child(command: Sequence[str], log_file: Path, label: str) -> tuple[float, float, float | None, int]:
    """Run ``command`` from the repository root, its output to ``log_file``: (wall seconds, peak RSS
    in MiB, peak RSS of it and its own child processes together in MiB, exit code). The child is
    reaped with os.wait4, whose rusage is that child's alone (or its largest waited-for descendant);
    the sum over the process tree is sampled every TREE_SAMPLE_SECONDS (None where /proc is not)."""
    done = threading.Event()
    started = time.perf_counter()
    tree_peak = [0.0]

    def heartbeat() -> None:
        while not done.wait(HEARTBEAT_SECONDS):
            print(f"      {label}: still running, {time.perf_counter() - started:.0f} s", flush=True)

    def sample_tree(pid: int) -> None:
        while not done.wait(TREE_SAMPLE_SECONDS):
            tree_peak[0] = max(tree_peak[0], sum(resident_mebibytes(each) for each in descendants(pid)))

    with open(log_file, "wb") as log:
        process = subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
        watchers = [threading.Thread(target=heartbeat, daemon=True),
                    threading.Thread(target=sample_tree, args=(process.pid,), daemon=True)]
        for watcher in watchers:
            watcher.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            done.set()
        wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait for it again
    together = tree_peak[0] if Path("/proc/self/status").exists() else None
    return wall, kibibytes_to_mebibytes(usage.ru_maxrss), together, process.returncode


TREE_SAMPLE_SECONDS = 0.1


def log_tail(log_file: Path, lines: int = LOG_TAIL_LINES) -> str:
    return "\n".join(log_file.read_text(errors="replace").splitlines()[-lines:])


def profile_stage(name: str, argv: Sequence[str], folder: Path, profiled: bool, label: str) -> dict:
    """One stage run as its child process: its numbers, and its parts when ``profiled``."""
    stats_file = folder / f"{name}.prof" if profiled else None
    log_file = folder / f"{name}.log"
    load = os.getloadavg()[0]
    own_peak = kibibytes_to_mebibytes(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    wall, peak, together, code = run_child(child_command(argv, stats_file), log_file, label)
    if code != 0:
        raise RuntimeError(f"stage {name} failed (exit {code}) after {wall:.1f} s; the last lines of its output:\n"
                           f"{log_tail(log_file)}")
    if peak <= own_peak:
        print(f"      {label}: its peak RSS is no more than this process's own ({own_peak:.0f} MiB), "
              f"where Linux starts a child's: the stage's own may be lower", flush=True)
    return {"stage": name, "command": shlex.join(argv), "wall_seconds": round(wall, 3),
            "peak_rss_mib": round(peak, 1),
            "peak_tree_rss_mib": None if together is None else round(max(together, peak), 1),
            "load_average_before": round(load, 2),
            "parts": [{**part, "seconds": round(part["seconds"], 3)} for part in read_parts(stats_file, argv[1], wall)]
            if profiled else []}


# ------------------------------------------------------------------ where and when


def git_output(*arguments: str) -> str:
    return subprocess.run(["git", *arguments], cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()


def machine() -> dict:
    """What the numbers were measured on, and with which code."""
    memory_kib = next((int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                       if line.startswith("MemTotal:")), 0) if Path("/proc/meminfo").is_file() else 0
    changed = git_output("status", "--porcelain", "--", "src", "stages", "dvc.yaml", "params.yaml")
    return {"date": datetime.date.today().isoformat(), "commit": git_output("rev-parse", "--short", "HEAD"),
            "code_as_committed": not changed, "cpus": os.cpu_count(), "memory_gib": round(memory_kib / 2**20, 1),
            "python": platform.python_version(), "system": platform.platform(terse=True)}


# ------------------------------------------------------------------ tables


def seconds_text(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.1f}"


def mebibytes_text(mebibytes: float | None) -> str:
    return "-" if mebibytes is None else f"{mebibytes:.0f}"


def ratio(new: float | None, committed: float | None) -> float | None:
    """new / committed, None where either is missing or the committed one is zero."""
    if new is None or committed is None or committed == 0:
        return None
    return new / committed


def ratio_text(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def markdown(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def shown_parts(parts: Sequence[Mapping]) -> list[Mapping]:
    return [part for part in parts if part["seconds"] >= SHOWN_SECONDS]


def part_label(part: Mapping) -> str:
    calls = part.get("calls")
    return f"`{part['name']}` (x{calls})" if calls and calls > 1 else f"`{part['name']}`"


def summary_table(profile: Mapping) -> str:
    """One row per stage: seconds, peak RSS, its three largest parts; then the total."""
    rows = []
    for stage in profile["stages"]:
        largest = ", ".join(f"{part_label(part)} {seconds_text(part['seconds'])}"
                            for part in shown_parts(stage["parts"])[:3])
        rows.append([stage["stage"], seconds_text(stage["wall_seconds"]), mebibytes_text(stage["peak_rss_mib"]),
                     mebibytes_text(stage.get("peak_tree_rss_mib")), largest or "-"])
    stages = profile["stages"]
    trees = [stage["peak_tree_rss_mib"] for stage in stages if stage.get("peak_tree_rss_mib") is not None]
    rows.append(["**total**", seconds_text(sum(stage["wall_seconds"] for stage in stages)),
                 mebibytes_text(max((stage["peak_rss_mib"] for stage in stages), default=None)) + " (largest)",
                 mebibytes_text(max(trees, default=None)) + (" (largest)" if trees else ""), ""])
    return markdown(["stage", "seconds", "peak RSS (MiB)", "with its child processes (MiB)",
                     "largest parts (seconds)"], rows)


def parts_table(profile: Mapping) -> str:
    """Every part of every stage that rounds to 0.1 s or more, largest first within a stage."""
    rows = [[stage["stage"], part_label(part), seconds_text(part["seconds"])]
            for stage in profile["stages"] for part in shown_parts(stage["parts"])]
    return markdown(["stage", "part (calls)", "seconds"], rows)


def comparison_rows(committed: Mapping, new: Mapping) -> list[dict]:
    """Side by side, per stage of ``new`` and then per part shown in either: committed, new and
    new/committed for seconds (and peak RSS, per stage); a total over the stages both hold."""
    old_stages = {stage["stage"]: stage for stage in committed["stages"]}
    rows, old_total, new_total = [], 0.0, 0.0
    for stage in new["stages"]:
        old = old_stages.get(stage["stage"])
        old_seconds = old["wall_seconds"] if old else None
        old_peak = old["peak_rss_mib"] if old else None
        rows.append({"stage": stage["stage"], "part": None, "committed_seconds": old_seconds,
                     "new_seconds": stage["wall_seconds"], "seconds_ratio": ratio(stage["wall_seconds"], old_seconds),
                     "committed_peak_rss_mib": old_peak, "new_peak_rss_mib": stage["peak_rss_mib"],
                     "peak_rss_ratio": ratio(stage["peak_rss_mib"], old_peak)})
        if old:
            old_total, new_total = old_total + old["wall_seconds"], new_total + stage["wall_seconds"]
        old_parts = {part["name"]: part["seconds"] for part in (old["parts"] if old else [])}
        new_parts = {part["name"]: part["seconds"] for part in stage["parts"]}
        shown = [name for name in {**new_parts, **old_parts}
                 if max(old_parts.get(name, 0.0), new_parts.get(name, 0.0)) >= SHOWN_SECONDS]
        names = sorted(shown, key=lambda name: (-new_parts.get(name, 0.0), -old_parts.get(name, 0.0), name))
        rows += [{"stage": stage["stage"], "part": name, "committed_seconds": old_parts.get(name),
                  "new_seconds": new_parts.get(name), "seconds_ratio": ratio(new_parts.get(name), old_parts.get(name)),
                  "committed_peak_rss_mib": None, "new_peak_rss_mib": None, "peak_rss_ratio": None}
                 for name in names]
    rows.append({"stage": "total", "part": None, "committed_seconds": old_total, "new_seconds": new_total,
                 "seconds_ratio": ratio(new_total, old_total), "committed_peak_rss_mib": None,
                 "new_peak_rss_mib": None, "peak_rss_ratio": None})
    return rows


def comparison_table(rows: Sequence[Mapping]) -> str:
    """The rows of comparison_rows as Markdown; peak RSS only on a stage's own row."""
    body = []
    for row in rows:
        whole = row["part"] is None
        memory = ([mebibytes_text(row["committed_peak_rss_mib"]), mebibytes_text(row["new_peak_rss_mib"]),
                   ratio_text(row["peak_rss_ratio"])] if whole and row["stage"] != "total" else ["", "", ""])
        whole_label = "(all stages)" if row["stage"] == "total" else "(whole stage)"
        body.append([row["stage"], whole_label if whole else f"`{row['part']}`",
                     seconds_text(row["committed_seconds"]), seconds_text(row["new_seconds"]),
                     ratio_text(row["seconds_ratio"]), *memory])
    return markdown(["stage", "part", "committed s", "new s", "new/committed", "committed MiB", "new MiB",
                     "new/committed"], body)


# ------------------------------------------------------------------ files


def read_profile(path: Path) -> dict:
    """A profile written by --json; ValueError naming what is missing."""
    try:
        profile = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: not a readable profile ({error})") from error
    if not isinstance(profile, dict) or not isinstance(profile.get("stages"), list):
        raise ValueError(f"{path}: not a profile of scripts/profile_stages.py (no list of stages)")
    for stage in profile["stages"]:
        missing = {"stage", "wall_seconds", "peak_rss_mib", "parts"} - set(stage)
        if missing:
            raise ValueError(f"{path}: stage {stage.get('stage', '?')} lacks {', '.join(sorted(missing))}")
    return profile


def write_profile(path: Path, profile: Mapping) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(profile, indent=1) + "\n")


def dvc_status() -> str:
    """What `dvc status` says after the reruns (clean: their outputs have the committed bytes)."""
    if shutil.which("dvc") is None:
        return "dvc not on PATH: run `dvc status` to check the outputs are as committed"
    result = subprocess.run(["dvc", "status"], cwd=REPO, capture_output=True, text=True)
    return (result.stdout + result.stderr).strip()


# ------------------------------------------------------------------ the command


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stages", metavar="A,B", help="only these stages (default: all, in dvc.yaml's order)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the numbers here as JSON")
    parser.add_argument("--compare", type=Path, metavar="FILE",
                        help="compare with a committed profile (docs/performance.json): committed, new, ratio")
    parser.add_argument("--without-profiler", action="store_true",
                        help="run the stages without cProfile: seconds and peak RSS only (cProfile's overhead)")
    parser.add_argument("--keep-stats", type=Path, metavar="DIR",
                        help="keep each stage's cProfile file and output here (python -m pstats DIR/x.prof)")
    arguments = parser.parse_args(argv)
    try:
        commands = stage_commands(YAML(typ="safe").load(REPO / "dvc.yaml"))
        committed = read_profile(arguments.compare) if arguments.compare else None
        wanted = arguments.stages
        if committed is not None and wanted is None:
            wanted = ",".join(stage["stage"] for stage in committed["stages"])
        names = chosen_stages(list(commands), wanted)
        profiled = not arguments.without_profiler
        if committed is not None and committed.get("profiler", "cProfile") != ("cProfile" if profiled else "none"):
            raise ValueError(f"{arguments.compare} was measured with profiler {committed.get('profiler')!r}: "
                             f"compare like with like ({'add' if profiled else 'drop'} --without-profiler)")
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    measured = machine()
    print(f"profiling {len(names)} stage(s) on {measured['cpus']} CPUs at {measured['commit']}"
          f"{'' if measured['code_as_committed'] else ' (code changed since)'}, "
          f"{'under cProfile' if profiled else 'without a profiler'}; each stage rewrites its outputs", flush=True)
    stages = []
    with tempfile.TemporaryDirectory(prefix="profile_stages_") as scratch:
        folder = arguments.keep_stats or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        for number, name in enumerate(names, 1):
            label = f"[{number}/{len(names)}] {name}"
            print(f"{label}: {shlex.join(commands[name])} (load average {os.getloadavg()[0]:.2f})", flush=True)
            try:
                stage = profile_stage(name, commands[name], folder, profiled, label)
            except (RuntimeError, ValueError) as error:
                print(f"error: {error}", file=sys.stderr)
                return 1
            largest = shown_parts(stage["parts"])[:1]
            print(f"{label}: {stage['wall_seconds']:.1f} s, peak RSS {stage['peak_rss_mib']:.0f} MiB"
                  + (f"; largest part {part_label(largest[0])} {largest[0]['seconds']:.1f} s" if largest else ""),
                  flush=True)
            stages.append(stage)
    profile = {"measured": measured, "profiler": "cProfile" if profiled else "none", "stages": stages}
    print()
    print(summary_table(profile))
    if profiled:
        print()
        print(parts_table(profile))
    if committed is not None:
        print()
        print(f"against {arguments.compare} (measured {committed.get('measured', {}).get('date', '?')} at "
              f"{committed.get('measured', {}).get('commit', '?')}):")
        print(comparison_table(comparison_rows(committed, profile)))
    if arguments.json:
        write_profile(arguments.json, profile)
        print(f"\nwritten: {arguments.json}")
    print(f"\ndvc status after the reruns:\n{dvc_status()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
