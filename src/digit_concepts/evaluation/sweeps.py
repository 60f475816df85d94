"""Sweeps: many runs of the committed pipeline, each one `dvc exp run` (DESIGN.md, "Evidence").

A sweep is a list of jobs; a job is a name and the params it sets (``-S key=value``) on top of the
committed ``params.yaml``: a seed (``seeds``), a held-out speaker under a seed (``loso``), a
pairing-noise level under a seed (``noise``). A job needs only a clone, the data (mirror or DVC
remote) and its params, so the same jobs run

- on one machine, through DVC's queue (``dvc exp run --queue``, ``dvc queue start``), or
- one per machine, under any batch scheduler (a Slurm array, a Kubernetes Job, a CI matrix):
  each runs its job and ``dvc exp push``es it; one ``dvc exp pull`` collects them all.

Either way the summaries are built from the finished experiments, found by name
(``refs/exps/<commit[:2]>/<commit[2:]>/<job name>``) under the current commit or an earlier one
with the same pipeline files (code, dvc.yaml, params). A job already finished is not run again: a
sweep can be resumed, across commits of docs or summaries, and extended with more seeds.

Every job stops at ``convergence``, the last stage a summarised metric comes from (the report is
drawn only for a run one applies: ``dvc exp apply <name>``, then ``dvc repro plot``).

A sweep starts from this clone's workspace: the committed code and params, and the dvc.lock of its
own ``dvc repro`` where that differs from the committed one only in content (another CPU's float
bits; ``Repository.require_clean``). Before any job, dvc.lock is made to name only outputs this
clone's cache holds (``forget_hashes`` says why).
"""

import json
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from digit_concepts.core import evidence
from digit_concepts.core.paths import METRICS_FILES

LAST_STAGE = "convergence"  # every summarised metric is written by then


def process_table() -> list[tuple[int, list[str]]]:
    """(process id, command-line arguments) of every process this user can read (psutil, which
    DVC itself depends on: the same on Linux, macOS and Windows)."""
    import psutil

    table = []
    for process in psutil.process_iter(["pid", "cmdline"]):
        arguments = process.info.get("cmdline")
        if arguments:  # None or empty: not ours to read, or a kernel thread
            table.append((process.info["pid"], list(arguments)))
    return table


def worker_of(arguments: Sequence[str], node_prefix: str) -> bool:
    """Whether a command line is a DVC queue worker whose node name starts with the prefix."""
    return "queue-worker" in arguments and any(argument.startswith(node_prefix) for argument in arguments)


def dvc_executable() -> str:
    """The dvc beside this Python (its venv), else the one on PATH: scripts run as
    ``.venv/bin/python scripts/...`` without the venv on PATH still find it."""
    beside = Path(sys.executable).with_name("dvc")
    return str(beside) if beside.is_file() else (shutil.which("dvc") or "dvc")

# The official split's headline metrics (metrics file name, flat key inside it, what it measures):
# the rows of the README's Results, in that order. variability.json keeps every metric; these are
# the ones the docs' table shows.
HEADLINE = (
    ("cluster", "image.acc", "images sorted into concepts, ACC"),
    ("cluster", "image.validation_acc", "the same, validation images"),
    ("transfer", "image_affine_acc", "image concepts of digits drawn differently: affine"),
    ("transfer", "image_thick_acc", "... thicker strokes"),
    ("transfer", "image_thin_acc", "... thinner strokes"),
    ("transfer", "image_elastic_acc", "... held out of training: elastic"),
    ("transfer", "image_blur_acc", "... blurred"),
    ("transfer", "image_low_resolution_acc", "... 8x8 and back"),
    ("transfer", "image_large_picture_acc", "... a large dark-on-light picture"),
    ("transfer", "audio_telephone_acc", "recordings heard differently, each alone: a telephone line"),
    ("transfer", "audio_noise_acc", "... 10 dB noise"),
    ("transfer", "audio_reverb_acc", "... a room"),
    ("transfer", "audio_speed_acc", "... +-10% speed"),
    ("transfer", "audio_pitch_acc", "... +-2 semitones"),
    ("relate", "audio_acc_through_images", "recordings named through images, adapted to their batch"),
    ("relate", "validation_audio_acc_through_images", "the same, validation recordings"),
    ("relate", "audio_acc_through_images_each_alone", "recordings named through images, each alone"),
    ("relate", "image_acc_through_audio", "images named through audio"),
    ("cluster", "audio_reference.acc", "audio alone: 10 clusters of the audio codes, ACC"),
    ("convergence", "fused_acc", "both senses fused, calibrated"),
    ("convergence", "fused_acc_uncalibrated", "both senses fused, uncalibrated"),
    ("convergence", "coherence_image_to_audio", "coherence: image -> imagined sound"),
    ("convergence", "coherence_audio_to_image", "coherence: recording -> imagined image (shown route)"),
    ("convergence", "validation_coherence_audio_to_image_concept", "the same by the concept route, validation"),
    ("convergence", "validation_coherence_audio_to_image_brain", "the same by the brain route, validation"),
    ("reconstruction", "image.bce", "reconstruction: image BCE per pixel"),
    ("reconstruction", "audio.mse", "reconstruction: audio log-mel MSE"),
    ("convergence", "n_convergence_zones", "convergence zones"),
    ("convergence", "n_divergence_zones", "divergence zones (share / entropy reading)"),
    ("convergence", "n_divergence_zones_beyond_chance", "divergence zones (partners beyond chance)"),
    ("convergence", "n_audio_concepts_merged", "audio concepts after merging"),
)


@dataclass(frozen=True)
class Job:
    """One run: an experiment name (unique within a commit) and the params it sets."""

    name: str
    settings: tuple[str, ...]  # "key=value", as `dvc exp run -S` takes them

    def run_command(self, queue: bool) -> list[str]:
        command = [dvc_executable(), "exp", "run", LAST_STAGE, "--name", self.name]
        for setting in self.settings:
            command += ["-S", setting]
        return command + (["--queue"] if queue else [])


def seed_list(count: int, committed_seed: int) -> list[int]:
    """The committed seed first (its run is the committed one, served from the run cache), then 1, 2, ..."""
    if count < 1:
        raise ValueError(f"--seeds: at least 1 seed, got {count}")
    others = (seed for seed in range(1, count + 1) if seed != committed_seed)
    return [committed_seed, *list(others)[: count - 1]]


def seed_jobs(seeds: Sequence[int]) -> list[Job]:
    return [Job(f"seed-{seed}", (f"seed={seed}",)) for seed in seeds]


def loso_jobs(speakers: Sequence[str], seeds: Sequence[int]) -> list[Job]:
    return [Job(f"loso-{speaker}-seed-{seed}", ("split.audio=leave_speakers_out", f"split.test_speakers=[{speaker}]",
                                                f"seed={seed}"))
            for seed in seeds for speaker in speakers]


def noise_jobs(levels: Sequence[float], seeds: Sequence[int]) -> list[Job]:
    for level in levels:
        if not 0.0 <= level <= 1.0:
            raise ValueError(f"--levels: pairing-noise levels are shares from 0 to 1, got {level}")
    return [Job(f"noise-{level:g}-seed-{seed}", (f"pairs.noise={float(level)}", f"seed={seed}"))
            for seed in seeds for level in levels]


# --- summaries (pure) ---

def flat_metrics(files: Mapping[str, Mapping]) -> dict[str, float]:
    """Metrics files by name -> one flat mapping of ``<file name>.<key>`` names, interval bounds left out."""
    flat = {}
    for name, tree in files.items():
        flat.update({f"{name}.{key}": value for key, value in evidence.flatten(tree).items()
                     if f"{evidence.INTERVAL_SUFFIX}." not in key})
    return flat


def variability(runs: Mapping[int, Mapping[str, Mapping]]) -> dict:
    """metrics/variability.json: ``seeds`` run, then every metric (``<file>.<key>``) with its mean,
    sd, min, max and n over them. ``runs``: seed -> that run's metrics files by name."""
    flat_runs = [flat_metrics(files) for _, files in sorted(runs.items())]
    names = sorted(set().union(*flat_runs))
    return {"seeds": sorted(runs), **evidence.summarise_runs(flat_runs, names)}


def variability_table(summary: Mapping) -> str:
    """The headline metrics of ``variability``: mean +- sd, min - max, n."""
    lines = ["| measure | metric | mean +- sd | min - max | n |", "|---|---|---|---|---|"]
    for file, key, label in HEADLINE:
        stats = summary.get(f"{file}.{key}")
        if stats is None:
            continue
        lines.append(f"| {label} | `{file}.{key}` | {stats['mean']:.4f} +- {stats['sd']:.4f} | "
                     f"{stats['min']:.4f} - {stats['max']:.4f} | {stats['n']} |")
    return "\n".join(lines)


def noise_summary(runs: Mapping[tuple[float, int], Mapping[str, Mapping]], names: Sequence[str]) -> dict:
    """Per pairing-noise level (as text, e.g. "0.3"), each named metric over its seeds (mean, sd, min,
    max, n). ``runs``: (level, seed) -> that run's metrics files by name."""
    summary = {}
    for level in sorted({level for level, _ in runs}):
        flat_runs = [flat_metrics(files) for (run_level, _), files in sorted(runs.items()) if run_level == level]
        summary[f"{level:g}"] = evidence.summarise_runs(flat_runs, names)
    return summary


def noise_table(summary: Mapping[str, Mapping], names: Sequence[str]) -> str:
    """One row per level of ``noise_summary``: each metric's mean +- sd over seeds."""
    lines = ["| pairs.noise | seeds | " + " | ".join(f"`{name}`" for name in names) + " |",
             "|---|---|" + "---|" * len(names)]
    for level, metrics in sorted(summary.items(), key=lambda item: float(item[0])):
        cells = [f"{metrics[name]['mean']:.3f} +- {metrics[name]['sd']:.3f}" for name in names]
        lines.append(f"| {level} | {metrics[names[0]]['n']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# --- dvc.lock: what a job may start from (pure) ---

LOCK_FILE = "dvc.lock"
HASH_FIELDS = ("hash", "md5", "size", "nfiles")  # how dvc.lock records a file's or folder's content


def stage_outputs(pipeline: Mapping) -> dict[str, bool]:
    """Every output path of dvc.yaml -> whether DVC caches it (``cache: false`` ones live in git)."""
    outputs = {}
    for stage in pipeline.get("stages", {}).values():
        for out in stage.get("outs", []):
            if isinstance(out, Mapping):
                (path, options), = out.items()
                outputs[str(path)] = bool((options or {}).get("cache", True))
            else:
                outputs[str(out)] = True
    return outputs


def missing_outputs(lock: Mapping, cached_paths: set[str], has_object) -> list[tuple[str, str]]:
    """(stage, path) of each cached output dvc.lock names whose content ``has_object(out entry)``
    says this clone's cache lacks."""
    return [(name, out["path"]) for name, stage in lock.get("stages", {}).items() for out in stage.get("outs", [])
            if out["path"] in cached_paths and out.get("md5") and not has_object(out)]


def forget_hashes(lock: dict, outputs: Sequence[tuple[str, str]]) -> None:
    """Drop the recorded content of these (stage, path) outputs from ``lock`` (in place).

    Why: when a stage's deps, params and command match its dvc.lock entry, DVC restores the
    output hash dvc.lock names (dvc/stage/cache.py, ``StageCache.restore``) and, that object not
    being in the cache, runs the stage again; it consults the run cache only when dvc.lock has no
    hash for an output. Without the hash, the run cache (keyed on deps, params and command)
    restores what this clone computed, and only what it never computed is run."""
    wanted = set(outputs)
    for name, stage in lock.get("stages", {}).items():
        for out in stage.get("outs", []):
            if (name, out["path"]) in wanted:
                for field in HASH_FIELDS:
                    out.pop(field, None)


def pipeline_of_lock(lock: Mapping) -> dict:
    """dvc.lock without any recorded content: each stage's command, params and dep and output
    paths. Two locks that agree here describe runs of the same pipeline (on another CPU, say)."""
    return {name: {"cmd": stage.get("cmd"), "params": stage.get("params", {}),
                   "deps": sorted(dep["path"] for dep in stage.get("deps", [])),
                   "outs": sorted(out["path"] for out in stage.get("outs", []))}
            for name, stage in lock.get("stages", {}).items()}


# --- the repository: git and DVC (I/O) ---

REQUIREMENTS = "requirements.txt"


def requirements_kept(old: str, new: str) -> bool:
    """Whether every requirement line of ``old`` is still in ``new``: a package added for the tool
    (a web page, a test driver) leaves the stages' results alone; a changed or dropped pin does not."""

    def lines(text: str) -> set[str]:
        return {line.split("#")[0].strip() for line in text.splitlines()} - {""}

    return lines(old) <= lines(new)


class Repository:
    """The git + DVC project the sweep runs in: queue, run, push, pull, and read finished jobs."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def run(self, command: list[str], check: bool = True) -> str:
        result = subprocess.run(command, cwd=self.root, capture_output=True, text=True)
        if check and result.returncode != 0:
            raise RuntimeError(f"{shlex.join(command)} failed:\n{result.stdout}{result.stderr}")
        return result.stdout

    def commit(self) -> str:
        return self.run(["git", "rev-parse", "HEAD"]).strip()

    def pipeline(self) -> dict:
        from ruamel.yaml import YAML

        return YAML(typ="safe").load((self.root / "dvc.yaml").read_text())

    def changed_files(self) -> list[str]:
        """Tracked files that differ from HEAD (staged or not)."""
        lines = self.run(["git", "status", "--porcelain", "--untracked-files=no", "--no-renames"]).splitlines()
        return sorted(line[3:].strip() for line in lines if line.strip())

    def require_clean(self) -> None:
        """Experiments run the committed code and params: refuse any change to them. A changed
        dvc.lock or metrics file is fine when it is this clone's own `dvc repro` of the committed
        pipeline (another CPU gives other float bits): the same stages, commands, params and
        paths as HEAD's dvc.lock, only the recorded content differs. The jobs then start from
        this clone's dvc.lock (DVC copies the workspace's changes into every experiment), so
        what this clone computed is restored, not retrained."""
        from ruamel.yaml import YAML

        outputs = stage_outputs(self.pipeline())
        changed = self.changed_files()
        others = [path for path in changed if path != LOCK_FILE and outputs.get(path) is not False]
        if others:
            raise ValueError(f"commit first: experiments run the committed code and params; changed: "
                             f"{', '.join(others)}")
        if LOCK_FILE in changed:
            committed = YAML(typ="safe").load(self.text_at("HEAD", LOCK_FILE) or "{}") or {}
            here = YAML(typ="safe").load((self.root / LOCK_FILE).read_text()) or {}
            if pipeline_of_lock(committed) != pipeline_of_lock(here):
                raise ValueError(f"{LOCK_FILE} describes another pipeline than the committed one (a stage, "
                                 f"command, param or path differs): run `dvc repro`, or `git checkout {LOCK_FILE}`")

    def cache_dir(self) -> Path:
        return Path(self.run([dvc_executable(), "cache", "dir"]).strip())

    def has_object(self, out: Mapping, cache: Path) -> bool:
        """Whether the cache holds an output dvc.lock names: its file, or its folder's listing
        (``.dir``) and every file in it."""
        md5 = str(out["md5"])
        # DVC 3 outputs (``hash: md5``) live under files/md5/; DVC 2's at the cache's root.
        root = cache / "files" / "md5" if out.get("hash") == "md5" else cache

        def stored(digest: str) -> Path:
            return root / digest[:2] / digest[2:]

        if not stored(md5).is_file():
            return False
        if not md5.endswith(".dir"):
            return True
        try:
            entries = json.loads(stored(md5).read_text())
        except ValueError:
            return False
        return all(stored(str(entry["md5"])).is_file() for entry in entries)

    def forget_missing_outputs(self) -> list[str]:
        """Drop from dvc.lock the content of every cached output this clone lacks (``forget_hashes``
        says why); returns their paths. Run before a job: it also keeps DVC from loading, when it
        commits the experiment, a folder (``plots``) that the job does not build and the cache
        does not hold."""
        from ruamel.yaml import YAML

        lock_path = self.root / LOCK_FILE
        if not lock_path.is_file():
            return []
        yaml = YAML()  # round trip: dvc.lock keeps its layout
        lock = yaml.load(lock_path.read_text())
        cache = self.cache_dir()
        cached_paths = {path for path, cached in stage_outputs(self.pipeline()).items() if cached}
        missing = missing_outputs(lock, cached_paths, lambda out: self.has_object(out, cache))
        if missing:
            forget_hashes(lock, missing)
            with open(lock_path, "w") as stream:
                yaml.dump(lock, stream)
        return [path for _, path in missing]

    def pipeline_files(self) -> list[str]:
        """What a job's results depend on besides its params: dvc.yaml, params.yaml, the
        requirements and every file a stage lists as a dep outside data/ and models/."""
        from ruamel.yaml import YAML

        stages = YAML(typ="safe").load((self.root / "dvc.yaml").read_text())
        package = next((entry["pkg"] for entry in stages.get("vars", []) if "pkg" in entry), "")
        files = {"dvc.yaml", "params.yaml", REQUIREMENTS}
        for stage in stages["stages"].values():
            for dep in stage.get("deps", []):
                path = str(dep).replace("${pkg}", package)
                if not path.startswith(("data/", "models/", "metrics/")):
                    files.add(path)
        return sorted(files)

    def finished(self) -> dict[str, str]:
        """Finished experiments: name -> git ref. Those of the current commit, and those of any
        earlier commit whose pipeline files (``pipeline_files``) are the same as now, so that a
        commit of docs or summaries does not orphan a sweep's jobs; the current commit's win."""
        commit = self.commit()
        refs = self.run(["git", "for-each-ref", "--format=%(refname)", "refs/exps/"]).split()
        by_baseline: dict[str, dict[str, str]] = {}
        for ref in refs:
            parts = ref.split("/")  # refs/exps/<sha[:2]>/<sha[2:]>/<name>
            if len(parts) == 5 and len(parts[2]) == 2:
                by_baseline.setdefault(parts[2] + parts[3], {})[parts[4]] = ref
        found = {}
        files = [file for file in self.pipeline_files() if file != REQUIREMENTS]
        for baseline, jobs in by_baseline.items():
            if baseline == commit:
                continue
            same = subprocess.run(["git", "diff", "--quiet", baseline, commit, "--", *files], cwd=self.root,
                                  capture_output=True).returncode == 0
            if same and requirements_kept(self.text_at(baseline, REQUIREMENTS), self.text_at(commit, REQUIREMENTS)):
                found.update(jobs)
        found.update(by_baseline.get(commit, {}))
        return found

    def text_at(self, commit: str, path: str) -> str:
        """A file's text at a commit; empty where the commit has no such file."""
        result = subprocess.run(["git", "show", f"{commit}:{path}"], cwd=self.root, capture_output=True, text=True)
        return result.stdout if result.returncode == 0 else ""

    def metrics_of(self, ref: str) -> dict[str, dict]:
        """The metrics files an experiment committed (git-tracked: cache false), by name."""
        files = {}
        for name, path in METRICS_FILES.items():
            files[name] = json.loads(self.run(["git", "show", f"{ref}:{path.as_posix()}"]))
        return files

    def queue(self, jobs: Sequence[Job]) -> None:
        for job in jobs:
            self.run(job.run_command(queue=True))
            print(f"queued {job.name}", flush=True)

    def node_prefix(self) -> str:
        """The start of this repository's queue workers' node names, ``dvc-exp-<hash>-`` (the hash
        DVC derives from the queue's folder; the worker's number and ``@localhost`` follow)."""
        import hashlib
        queue_folder = str(self.root.resolve() / ".dvc" / "tmp" / "exps" / "celery")
        return f"dvc-exp-{hashlib.sha256(queue_folder.encode('utf-8')).hexdigest()[:6]}-"

    def living_workers(self) -> dict[int, int]:
        """Worker number -> process id of this repository's queue workers, from the process table."""
        prefix, living = self.node_prefix(), {}
        for process_id, arguments in process_table():
            if worker_of(arguments, prefix):
                node = next(argument for argument in arguments if argument.startswith(prefix))
                number = node[len(prefix):].split("@")[0]
                if number.isdigit():
                    living[int(number)] = process_id
        return living

    def start_missing_workers(self, workers: int) -> list[int]:
        """Start the workers numbered 1..``workers`` that are not running, as ``dvc queue start``
        would (``dvc exp queue-worker <node>``, the first with ``--clean``), but judged by the process
        table: DVC judges by a ping, which a worker busy on 2 cores may not answer in time, and then
        starts it a twin. Returns the numbers started."""
        import os

        living = self.living_workers()
        missing = [number for number in range(1, workers + 1) if number not in living]
        # The worker starts each job as `dvc ...`: the dvc beside this Python must come first on PATH.
        environment = {**os.environ, "PATH": f"{Path(dvc_executable()).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
        for number in missing:
            subprocess.Popen([dvc_executable(), "exp", "queue-worker", f"{self.node_prefix()}{number}@localhost",
                              *(["--clean"] if number == 1 else [])], cwd=self.root, env=environment,
                             # The worker outlives this command: a captured pipe would stay open until every
                             # job is done (`dvc queue logs` has its output).
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        return missing

    def queue_states(self) -> dict[str, str]:
        """The state of each queue entry by name (Queued, Running, Success, Failed...). A name can
        have several entries (a job rerun, or run under an earlier commit); the liveliest wins:
        Running, then Queued, then Failed, then any other."""
        status = self.run([dvc_executable(), "queue", "status"], check=False)
        rank = {"running": 0, "queued": 1, "failed": 2}
        states: dict[str, str] = {}
        for line in status.splitlines():
            if len(line.split()) < 3 or line.startswith(("Task ", "Worker ")):
                continue
            name, state = line.split()[1], line.split()[-1]
            if rank.get(state.lower(), 3) < rank.get(states.get(name, "").lower(), 4):
                states[name] = state
        return states

    def forget(self, names: Sequence[str]) -> None:
        """Remove these entries from the queue (failed ones, before they are queued again)."""
        if names:
            self.run([dvc_executable(), "queue", "remove", *names])

    def wait_for(self, names: Sequence[str], started: float, workers: int, poll_seconds: float,
                 restart_after_seconds: float = 30.0) -> dict[str, str]:
        """Poll the queue until every named job has finished; RuntimeError naming the ones that
        failed. Workers that exit while jobs are still queued (seen with 2 workers) are restarted."""
        short_since = None  # since when fewer jobs run than there are workers, with jobs queued
        while True:
            every_row = self.queue_states()
            rows = {name: state for name, state in every_row.items() if name in names}
            done = {name: ref for name, ref in self.finished().items() if name in names}
            # A finished experiment wins over a failed entry of the same name (a killed duplicate).
            failed = [name for name, state in rows.items() if state.lower() == "failed" and name not in done]
            if failed:
                raise RuntimeError(f"jobs failed: {', '.join(failed)} (see `dvc queue logs <name>`)")
            print(f"[{time.monotonic() - started:6.0f} s] {len(done)}/{len(names)} jobs done"
                  + "".join(f"; {name} {state}" for name, state in rows.items() if state.lower() == "running"),
                  flush=True)
            if len(done) == len(names):
                return done
            # Running jobs of other sweeps sharing the queue count too: they hold the workers.
            running = [state.lower() for state in every_row.values()].count("running")
            short = "queued" in [state.lower() for state in rows.values()] and running < workers
            short_since = (short_since or time.monotonic()) if short else None
            if short_since is not None and time.monotonic() - short_since >= restart_after_seconds:
                started_again = self.start_missing_workers(workers)
                if started_again:
                    print(f"started queue worker(s) {', '.join(map(str, started_again))} again", flush=True)
                short_since = None
            time.sleep(poll_seconds)

    def run_here(self, job: Job) -> None:
        """Run one job in this clone's workspace (what one batch task does)."""
        subprocess.run(job.run_command(queue=False), cwd=self.root, check=True)

    def push(self, remote: str, names: Sequence[str]) -> None:
        """The experiments' git refs to the git remote, their outputs to the default DVC remote."""
        subprocess.run([dvc_executable(), "exp", "push", remote, *names], cwd=self.root, check=True)

    def pull(self, remote: str) -> None:
        """Every experiment pushed to the git remote, of any commit (refs only: the summaries read
        git-tracked metrics; `dvc exp apply` + `dvc pull` bring any outputs). ``finished`` keeps
        those of this commit and of earlier ones with the same pipeline files, so a sweep
        submitted at one commit is collected after a commit of docs."""
        subprocess.run([dvc_executable(), "exp", "pull", "--no-cache", "--all-commits", remote], cwd=self.root,
                       check=True)
