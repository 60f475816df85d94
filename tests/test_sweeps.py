"""Sweeps: the jobs (names and params) and their summaries over seeds."""

import pytest

from digit_concepts.evaluation import sweeps


def run_metrics(through: float, zones: int) -> dict:
    return {"relate": {"audio_acc_through_images": through,
                       "audio_acc_through_images_interval": {"low": through - 0.01, "high": through + 0.01}},
            "convergence": {"n_divergence_zones": zones}, "cluster": {"image": {"acc": 0.97, "n_clusters": 10}}}


def test_seeds_start_with_the_committed_one():
    assert sweeps.seed_list(5, 42) == [42, 1, 2, 3, 4]
    assert sweeps.seed_list(3, 2) == [2, 1, 3]
    with pytest.raises(ValueError, match="--seeds"):
        sweeps.seed_list(0, 42)


def test_jobs_are_named_experiments_with_their_params():
    assert sweeps.seed_jobs([42, 1]) == [sweeps.Job("seed-42", ("seed=42",)), sweeps.Job("seed-1", ("seed=1",))]
    loso = sweeps.loso_jobs(["george", "theo"], [42, 1])
    assert [job.name for job in loso] == ["loso-george-seed-42", "loso-theo-seed-42", "loso-george-seed-1",
                                          "loso-theo-seed-1"]
    assert loso[1].settings == ("split.audio=leave_speakers_out", "split.test_speakers=[theo]", "seed=42")
    noise = sweeps.noise_jobs([0, 0.3], [42])
    assert [job.name for job in noise] == ["noise-0-seed-42", "noise-0.3-seed-42"]
    assert noise[1].run_command(queue=True)[1:] == ["exp", "run", "convergence", "--name", "noise-0.3-seed-42",
                                                "-S", "pairs.noise=0.3", "-S", "seed=42", "--queue"]
    with pytest.raises(ValueError, match="--levels"):
        sweeps.noise_jobs([1.5], [42])


def test_variability_summarises_every_metric_over_seeds_without_interval_bounds():
    summary = sweeps.variability({1: run_metrics(0.96, 10), 42: run_metrics(0.98, 12)})
    assert summary["seeds"] == [1, 42]
    assert summary["relate.audio_acc_through_images"] == {"mean": pytest.approx(0.97), "sd": pytest.approx(0.01414, abs=1e-5),
                                                          "min": 0.96, "max": 0.98, "n": 2}
    assert summary["convergence.n_divergence_zones"]["mean"] == 11.0
    assert not any("interval" in name for name in summary)
    table = sweeps.variability_table(summary)
    assert "| recordings named through images, adapted to their batch | `relate.audio_acc_through_images` | " \
           "0.9700 +- 0.0141 | 0.9600 - 0.9800 | 2 |" in table
    with pytest.raises(ValueError, match="missing from run"):
        sweeps.variability({1: run_metrics(0.96, 10), 2: {"relate": {}, "convergence": {}, "cluster": {}}})


def test_noise_summary_per_level():
    runs = {(0.0, 42): run_metrics(0.98, 10), (0.0, 1): run_metrics(0.96, 10),
            (0.3, 42): run_metrics(0.90, 11), (0.3, 1): run_metrics(0.92, 13)}
    names = ["relate.audio_acc_through_images", "convergence.n_divergence_zones"]
    summary = sweeps.noise_summary(runs, names)
    assert sorted(summary) == ["0", "0.3"]
    assert summary["0.3"]["relate.audio_acc_through_images"]["mean"] == pytest.approx(0.91)
    lines = sweeps.noise_table(summary, names).splitlines()
    assert lines[2] == "| 0 | 2 | 0.970 +- 0.014 | 10.000 +- 0.000 |"
    assert lines[3].startswith("| 0.3 | 2 | 0.910 +- 0.014 | 12.000 +- 1.414")


def test_finished_jobs_carry_over_commits_that_leave_the_pipeline_alone(tmp_path):
    """A job finished under an earlier commit counts when code, dvc.yaml, params and every pin are
    unchanged since (a commit of docs, summaries or an added requirement), and not once params or
    a pin change."""
    import subprocess

    def git(*arguments):
        return subprocess.run(["git", *arguments], cwd=tmp_path, check=True, capture_output=True, text=True).stdout

    git("init", "-q")
    for key, value in (("user.email", "tests@example.invalid"), ("user.name", "tests"), ("commit.gpgsign", "false")):
        git("config", key, value)
    (tmp_path / "dvc.yaml").write_text("vars:\n  - pkg: src/pkg\nstages:\n  a:\n    cmd: python stages/a.py\n"
                                       "    deps:\n      - stages/a.py\n      - ${pkg}/a.py\n      - data/raw\n")
    (tmp_path / "params.yaml").write_text("seed: 42\n")
    (tmp_path / "stages").mkdir()
    (tmp_path / "stages" / "a.py").write_text("print(1)\n")
    (tmp_path / "README.md").write_text("v1\n")
    git("add", "-A")
    git("commit", "-q", "-m", "pipeline")
    first = git("rev-parse", "HEAD").strip()
    git("update-ref", f"refs/exps/{first[:2]}/{first[2:]}/seed-1", first)  # an experiment of that commit
    repository = sweeps.Repository(tmp_path)
    assert repository.pipeline_files() == ["dvc.yaml", "params.yaml", "requirements.txt", "src/pkg/a.py", "stages/a.py"]
    assert list(repository.finished()) == ["seed-1"]

    (tmp_path / "README.md").write_text("v2\n")
    git("commit", "-q", "-am", "docs only")
    assert list(repository.finished()) == ["seed-1"]

    (tmp_path / "requirements.txt").write_text("numpy==2.4.6\n")
    git("add", "-A")
    git("commit", "-q", "-m", "a requirement added")
    assert list(repository.finished()) == ["seed-1"]
    second = git("rev-parse", "HEAD").strip()
    git("update-ref", f"refs/exps/{second[:2]}/{second[2:]}/seed-2", second)
    (tmp_path / "requirements.txt").write_text("numpy==2.4.7\n# the web page\nstarlette==1.10.0\n")
    git("commit", "-q", "-am", "a pin changed")
    assert list(repository.finished()) == ["seed-1"]  # seed-2 ran under numpy 2.4.6

    (tmp_path / "params.yaml").write_text("seed: 7\n")
    git("commit", "-q", "-am", "params changed")
    assert repository.finished() == {}


def test_a_queue_worker_is_found_by_its_repositorys_node_name(tmp_path):
    """The sweep restarts workers only when none of its repository's is alive (a busy worker that
    misses DVC's ping must not get a twin)."""
    import hashlib
    import subprocess
    import sys

    repository = sweeps.Repository(tmp_path)
    queue_folder = str(tmp_path.resolve() / ".dvc" / "tmp" / "exps" / "celery")
    node = f"dvc-exp-{hashlib.sha256(queue_folder.encode('utf-8')).hexdigest()[:6]}-1@localhost"
    assert repository.living_workers() == {}
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "exp", "queue-worker",
                              "dvc-exp-000000-1@localhost"])
    ours = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "exp", "queue-worker", node])
    try:
        import time

        deadline = time.monotonic() + 10  # a loaded machine may show the new command line late
        while repository.living_workers() != {1: ours.pid} and time.monotonic() < deadline:
            time.sleep(0.1)
        assert repository.living_workers() == {1: ours.pid}, sweeps.process_table()
    finally:
        for process in (other, ours):
            process.kill()
            process.wait()
    assert not sweeps.worker_of(["dvc", "exp", "run", node], node[:15])


def test_queue_states_are_read_by_name_and_the_liveliest_entry_wins(tmp_path, monkeypatch):
    status = """Task     Name                   Created       Status
b58bb0a  loso-lucas-seed-42    Dec 01, 2026  Success
e039866  loso-lucas-seed-1      02:58 AM      Failed
119fcb8  loso-jackson-seed-1    02:58 AM      Running
6883a03  loso-lucas-seed-42    01:53 AM      Queued
eb60a77  loso-jackson-seed-1    Dec 01, 2026  Success

Worker status: 1 active, 0 idle
"""
    repository = sweeps.Repository(tmp_path)
    monkeypatch.setattr(repository, "run", lambda command, check=True: status)
    assert repository.queue_states() == {"loso-lucas-seed-42": "Queued", "loso-lucas-seed-1": "Failed",
                                         "loso-jackson-seed-1": "Running"}


LOCK = {"schema": "2.0", "stages": {
    "train": {"cmd": "python stages/train.py", "params": {"params.yaml": {"seed": 42}},
              "deps": [{"path": "data/in", "hash": "md5", "md5": "aa.dir", "size": 3, "nfiles": 1}],
              "outs": [{"path": "models/model", "hash": "md5", "md5": "bb.dir", "size": 5, "nfiles": 2},
                       {"path": "metrics/train.json", "hash": "md5", "md5": "cc", "size": 7}]},
    "plot": {"cmd": "python stages/plot.py", "deps": [{"path": "models/model", "hash": "md5", "md5": "bb.dir"}],
             "outs": [{"path": "plots", "hash": "md5", "md5": "dd.dir", "size": 9, "nfiles": 3}]}}}
PIPELINE = {"stages": {"train": {"outs": ["models/model", {"metrics/train.json": {"cache": False}}]},
                       "plot": {"outs": ["plots"]}}}


def test_outputs_the_cache_lacks_lose_their_recorded_content_and_nothing_else():
    """A job starts from a dvc.lock naming only what this clone's cache holds: DVC then restores
    the rest from the run cache (or builds it) instead of retraining, or failing on a folder
    (``plots``) the job does not build."""
    import copy

    outputs = sweeps.stage_outputs(PIPELINE)
    assert outputs == {"models/model": True, "metrics/train.json": False, "plots": True}
    cached = {path for path, is_cached in outputs.items() if is_cached}
    in_cache = {"bb.dir"}
    missing = sweeps.missing_outputs(LOCK, cached, lambda out: out["md5"] in in_cache)
    assert missing == [("plot", "plots")]  # metrics/train.json is in git, not the cache
    lock = copy.deepcopy(LOCK)
    sweeps.forget_hashes(lock, missing)
    assert lock["stages"]["plot"]["outs"] == [{"path": "plots"}]
    assert lock["stages"]["train"] == LOCK["stages"]["train"]
    assert sweeps.pipeline_of_lock(lock) == sweeps.pipeline_of_lock(LOCK)


def test_a_lock_of_other_float_bits_is_the_same_pipeline_and_one_of_other_params_is_not():
    import copy

    other_bits = copy.deepcopy(LOCK)
    other_bits["stages"]["train"]["outs"][0]["md5"] = "ee.dir"
    other_bits["stages"]["train"]["outs"][1]["size"] = 8
    assert sweeps.pipeline_of_lock(other_bits) == sweeps.pipeline_of_lock(LOCK)
    other_params = copy.deepcopy(LOCK)
    other_params["stages"]["train"]["params"]["params.yaml"]["seed"] = 1
    assert sweeps.pipeline_of_lock(other_params) != sweeps.pipeline_of_lock(LOCK)


def test_a_sweep_accepts_this_clones_own_repro_and_refuses_changed_code_or_params(tmp_path):
    """require_clean: dvc.lock and cache-false metrics changed only in content (another CPU's
    float bits) are fine; a changed param, a stage file, or a dvc.lock of other params are not."""
    import subprocess

    from ruamel.yaml import YAML

    def git(*arguments):
        return subprocess.run(["git", *arguments], cwd=tmp_path, check=True, capture_output=True, text=True).stdout

    yaml = YAML(typ="safe")
    git("init", "-q")
    for key, value in (("user.email", "tests@example.invalid"), ("user.name", "tests"), ("commit.gpgsign", "false")):
        git("config", key, value)
    with open(tmp_path / "dvc.yaml", "w") as stream:
        yaml.dump(PIPELINE, stream)
    with open(tmp_path / "dvc.lock", "w") as stream:
        yaml.dump(LOCK, stream)
    (tmp_path / "metrics").mkdir()
    (tmp_path / "metrics" / "train.json").write_text('{"acc": 0.5}\n')
    (tmp_path / "params.yaml").write_text("seed: 42\n")
    git("add", "-A")
    git("commit", "-q", "-m", "pipeline and its results")
    repository = sweeps.Repository(tmp_path)
    repository.require_clean()

    (tmp_path / "metrics" / "train.json").write_text('{"acc": 0.51}\n')
    lock = yaml.load((tmp_path / "dvc.lock").read_text())
    lock["stages"]["train"]["outs"][0]["md5"] = "ee.dir"
    with open(tmp_path / "dvc.lock", "w") as stream:
        yaml.dump(lock, stream)
    repository.require_clean()  # this clone's own `dvc repro`: other bits, same pipeline

    lock["stages"]["train"]["params"]["params.yaml"]["seed"] = 1
    with open(tmp_path / "dvc.lock", "w") as stream:
        yaml.dump(lock, stream)
    with pytest.raises(ValueError, match="another pipeline than the committed one"):
        repository.require_clean()
    git("checkout", "dvc.lock")
    (tmp_path / "params.yaml").write_text("seed: 1\n")
    with pytest.raises(ValueError, match="commit first.*params.yaml"):
        repository.require_clean()
