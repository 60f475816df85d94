"""The whole DVC pipeline, end to end, on a tiny fake mirror in the real formats, served over HTTP.

Covers every stage in dvc.yaml (later stages included automatically): `dvc repro` must run
them all, write every output, and a second `dvc repro` must have nothing to do.
"""

import gzip
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile
from ruamel.yaml import YAML

from digit_concepts.core import evidence
from digit_concepts.evaluation import sweeps
from fakes import write_checksums
from tiny_project import (DVC, N_TEST_AUDIO, N_TEST_IMAGES, N_TRAIN_AUDIO, N_TRAIN_IMAGES, N_VALIDATION_AUDIO,
                          N_VALIDATION_IMAGES, NOT_DATA, REPO, STAGE_SITE, copy_project, environment,
                          make_project, reads_log_name, run_tool)
from tiny_project import run as _run
from tiny_project import under as _under

pytestmark = pytest.mark.pipeline

def test_every_stage_ran_and_every_output_exists(pipeline):
    project, _, output = pipeline
    stages = YAML(typ="safe").load(project / "dvc.yaml")["stages"]
    lock = YAML(typ="safe").load(project / "dvc.lock")["stages"]
    for name in stages:  # foreach/matrix stages run and lock as name@item
        ran = [locked for locked in lock if locked == name or locked.startswith(name + "@")]
        assert ran, f"stage {name} missing from dvc.lock"
        assert all(f"Running stage '{locked}'" in output for locked in ran), output[-4000:]
    for name, stage in lock.items():
        for out in stage.get("outs", []):
            assert (project / out["path"]).exists(), f"{name}: output {out['path']} missing"


def _split_sizes(project: Path) -> dict[str, dict[str, int]]:
    """Samples per split of each sense in a built tiny project (its metadata tables)."""
    return {sense: pd.read_csv(project / "data" / "preprocessed" / f"{sense}_metadata.csv")["split"]
            .value_counts().to_dict() for sense in ("image", "audio")}


def _is_share_of(value: float, count: int) -> bool:
    """``value`` is k / ``count`` for a whole k in 0..count (a score over ``count`` samples)."""
    return 0 <= round(value * count) <= count and abs(value * count - round(value * count)) < 1e-6


def test_metrics(pipeline):
    project, _, _ = pipeline
    reconstruction = json.loads((project / "metrics" / "reconstruction.json").read_text())
    assert set(reconstruction) >= {"image", "audio"}
    assert set(reconstruction["image"]) >= {"mse", "bce"} and set(reconstruction["audio"]) >= {"mse"}
    for sense in reconstruction.values():
        assert all(math.isfinite(value) for value in evidence.flatten(sense).values())
    # Every declared metrics file is JSON with numeric leaves (dvc metrics diff can read it).
    for entry in YAML(typ="safe").load(project / "dvc.yaml").get("metrics", []):
        tree = json.loads((project / entry).read_text())
        leaves = evidence.flatten(tree).values()  # ValueError on a leaf that is no number
        assert all(isinstance(value, (int, float)) for value in leaves), entry
    alone = json.loads((project / "metrics" / "cluster.json").read_text())["audio_reference"]
    sizes = _split_sizes(project)
    # raw codes: no voices (count_selection none); a share of the test recordings, one by one
    assert alone["n_clusters"] == 4 and _is_share_of(alone["acc"], sizes["audio"]["test"])
    transfer = json.loads((project / "metrics" / "transfer.json").read_text())
    assert set(transfer) == ({f"{prefix}image_{view}_acc{suffix}" for prefix in ("", "validation_")
                              for view in ("affine", "thick", "thin", "elastic", "blur", "low_resolution",
                                           "large_picture") for suffix in ("", "_interval")}
                             | {f"{prefix}audio_{shift}_acc{adapted}{suffix}" for prefix in ("", "validation_")
                                for shift in ("telephone", "noise", "reverb", "speed", "pitch")
                                for adapted in ("", "_adapted") for suffix in ("", "_interval")})
    # Each proxy names every sample of its split once: its score is a whole count of them.
    for key, value in transfer.items():
        if not key.endswith("_interval"):
            split = "validation" if key.startswith("validation_") else "test"
            sense = "image" if key.removeprefix("validation_").startswith("image_") else "audio"
            assert _is_share_of(value, sizes[sense][split]), (key, value, sizes[sense][split])
    relate = json.loads((project / "metrics" / "relate.json").read_text())
    assert {"audio_acc_through_images_each_alone", "validation_audio_acc_through_images"} <= set(relate)
    # Every headline metric has its 95% bootstrap interval beside it; around it where the naming is
    # fixed (shares, means). A clustering ACC rematches every resample, which on 20 recordings
    # biases its interval upwards (tests/test_evidence.py checks the real metrics contain theirs).
    files = {name: json.loads((project / "metrics" / f"{name}.json").read_text())
             for name in ("cluster", "relate", "convergence", "transfer", "reconstruction")}
    flat = {f"{name}.{key}": value for name, tree in files.items() for key, value in evidence.flatten(tree).items()}
    intervals = evidence.intervals_of(flat)
    for file, key, _ in sweeps.HEADLINE:
        if not key.startswith("n_"):  # counts of zones and concepts: spread over seeds only
            interval = intervals[f"{file}.{key}"]
            assert interval["low"] <= interval["high"], (file, key, interval)
            if "acc" not in key or file == "transfer":
                assert interval["low"] <= flat[f"{file}.{key}"] <= interval["high"], (file, key, interval)


def test_codes(pipeline):
    project, _, _ = pipeline
    with np.load(project / "data" / "encodings" / "codes.npz", allow_pickle=False) as codes:
        rows = {name: codes[name].shape for name in codes.files}
    assert rows["image_train"] == (N_TRAIN_IMAGES, 4) and rows["image_test"] == (N_TEST_IMAGES, 4)
    assert rows["audio_train"] == (N_TRAIN_AUDIO, 4) and rows["audio_test"] == (N_TEST_AUDIO, 4)
    assert rows["image_validation"] == (N_VALIDATION_IMAGES, 4) and rows["audio_validation"] == (N_VALIDATION_AUDIO, 4)


def test_episodes_pair_same_digit_within_split(pipeline):
    project, _, _ = pipeline
    preprocessed = project / "data" / "preprocessed"
    images = pd.read_csv(preprocessed / "image_metadata.csv")
    recordings = pd.read_csv(preprocessed / "audio_metadata.csv")
    with np.load(preprocessed / "episodes.npz", allow_pickle=False) as stored:
        streams = {name: stored[name] for name in stored.files}
    sizes = {"train": (N_TRAIN_IMAGES, N_TRAIN_AUDIO), "validation": (N_VALIDATION_IMAGES, N_VALIDATION_AUDIO),
             "test": (N_TEST_IMAGES, N_TEST_AUDIO)}
    for split, (n_images, n_recordings) in sizes.items():
        image_part = images[images["split"] == split].sort_values("index")
        audio_part = recordings[recordings["split"] == split].sort_values("index")
        assert len(image_part) == n_images and len(audio_part) == n_recordings
        image_index, audio_index = streams[f"{split}_image_index"], streams[f"{split}_audio_index"]
        np.testing.assert_array_equal(np.sort(image_index), np.arange(n_images))  # every image once
        assert audio_index.min() >= 0 and audio_index.max() < n_recordings       # this split only
        np.testing.assert_array_equal(image_part["digit"].to_numpy()[image_index],
                                      audio_part["digit"].to_numpy()[audio_index])  # noise 0
    assert (recordings.loc[recordings["split"] == "test", "recording_index"] < 5).all()
    assert (recordings.loc[recordings["split"] == "validation", "recording_index"] == 5).all()
    assert (recordings.loc[recordings["split"] == "train", "recording_index"] >= 6).all()


def test_models_and_training_logs(pipeline):
    project, _, _ = pipeline
    for sense in ("image", "audio"):
        folder = project / "models" / f"{sense}_autoencoder"
        assert (folder / "model.keras").stat().st_size > 0
        loss = folder / "training" / "plots" / "metrics" / "train" / "loss.tsv"
        assert loss.is_file() and len(loss.read_text().splitlines()) >= 2  # header + 1 epoch


def test_second_repro_does_nothing(pipeline, tmp_path):
    project, env, _ = pipeline
    project = copy_project(project, tmp_path / "again")  # a copy: DVC locks the repository it runs in
    lock = (project / "dvc.lock").read_bytes()
    status = _run([DVC, "status"], project, env)
    assert status.returncode == 0 and "Data and pipelines are up to date" in status.stdout, status.stdout
    again = _run([DVC, "repro"], project, env)
    output = again.stdout + again.stderr
    assert again.returncode == 0, output
    assert "Running stage" not in output, output
    assert "didn't change, skipping" in output and "Data and pipelines are up to date" in output, output
    assert (project / "dvc.lock").read_bytes() == lock


# The learner as a tool (digit-concepts), on the tiny pipeline's outputs: run in this process
# (cli.main, what the console script calls), so TensorFlow is imported once, not once a call; the
# first test runs it as `python -m digit_concepts` in a process of its own.
def _tool(arguments: list[str], cwd: Path, env: dict) -> subprocess.CompletedProcess:
    return run_tool(arguments, cwd)


def _test_files(project: Path, folder: Path) -> tuple[list[Path], list[Path]]:
    """The test split as a user has it: MNIST test images written to PNG, FSDD test recordings."""
    from digit_concepts.senses.user_files import write_image

    folder.mkdir(parents=True, exist_ok=True)
    with np.load(project / "data" / "preprocessed" / "images.npz", allow_pickle=False) as images:
        test_images = images["test"]
    pictures = []
    for index, image in enumerate(test_images):
        pictures.append(folder / f"mnist_test_{index}.png")
        write_image(pictures[-1], image)
    table = pd.read_csv(project / "data" / "preprocessed" / "audio_metadata.csv")
    recordings = [project / "data" / "raw" / "fsdd" / "recordings" / name
                  for name in table.loc[table["split"] == "test"].sort_values("index")["file"]]
    return pictures, recordings


def test_tool_reproduces_the_pipelines_test_assignments(pipeline, tmp_path):
    """Agreement 1.0: the tool, run on the test files, places each exactly as the pipeline did
    (images and recordings named by the self-labelled classifiers, which the tiny params keep on)."""
    project, env, _ = pipeline
    settings = json.loads((project / "data" / "clusters" / "learner.json").read_text())
    assert settings["image"]["classifier"] and settings["audio"]["classifier"]
    pictures, recordings = _test_files(project, tmp_path / "files")
    result = _run([sys.executable, "-m", "digit_concepts", "recognise", "--json", "--model", str(project),
                   *map(str, pictures + recordings)], tmp_path, env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    found = [json.loads(line) for line in result.stdout.splitlines()]
    assert [entry["file"] for entry in found] == [str(path) for path in pictures + recordings]
    with np.load(project / "data" / "clusters" / "assignments.npz", allow_pickle=False) as assignments:
        image_test, audio_test = assignments["image_test"], assignments["audio_test"]
        audio_named = assignments["audio_test_taught_log_posteriors"].argmax(axis=1)
    assert [entry["cluster"] for entry in found[:len(pictures)]] == image_test.tolist()
    assert [entry["cluster"] for entry in found[len(pictures):]] == audio_test.tolist()
    # A recording's concept: the image concept the audio classifier names it, as relate names it alone.
    assert [entry["concept"] for entry in found[len(pictures):]] == audio_named.tolist()
    for entry in found:
        assert entry["sense"] == ("image" if entry["file"].endswith(".png") else "audio")
        assert 0.0 <= entry["confidence"] <= 1.0 and 0.0 <= entry["p_partner_given_concept"] <= 1.0
        assert 0.0 < entry["familiarity"] <= 1.0 and entry["confidence"] <= entry["posterior"]
    # The unfamiliar flag, as the pipeline measured it on the same test samples.
    metrics = json.loads((project / "metrics" / "convergence.json").read_text())
    for sense, entries in (("image", found[:len(pictures)]), ("audio", found[len(pictures):])):
        assert np.mean([entry["unfamiliar"] for entry in entries]) == metrics[f"unfamiliar_share_test_{sense}"]


def test_tool_adapts_recordings_given_together_as_the_pipeline_names_its_test_split(pipeline, tmp_path):
    """recognise --adapt N on the test recordings gives the names relate's test-time adaptation gives."""
    from digit_concepts.concepts import adaptation
    from digit_concepts.crossmodal import relations
    from digit_concepts.core.standardisation import Standardiser

    project, env, _ = pipeline
    _, recordings = _test_files(project, tmp_path / "files")
    neighbours = 3
    result = _tool(["recognise", "--json", "--adapt", neighbours, "--model", project, *recordings], tmp_path, env)
    assert result.returncode == 0, result.stderr[-3000:]
    found = [json.loads(line)["concept"] for line in result.stdout.splitlines()]
    with np.load(project / "data" / "clusters" / "assignments.npz", allow_pickle=False) as assignments:
        evidence = assignments["audio_test_taught_log_posteriors"]  # the audio classifier's
    with np.load(project / "data" / "encodings" / "codes.npz", allow_pickle=False) as codes:
        train, test = codes["audio_train"], codes["audio_test"]
    counts = pd.read_csv(project / "metrics" / "tables" / "cooccurrence.csv").drop(columns="image_concept").to_numpy()
    standardiser = Standardiser.fit(train)
    expected = relations.name_with_batch_neighbours(evidence, standardiser.apply(test), neighbours,
                                                    standardiser.apply(train))
    assert found == expected.tolist()
    # --adapt alone, before the files: the learner's own most (adaptation.batch_neighbours), held to
    # what the batch holds of one concept; a batch of one recording per concept borrows nothing.
    most = json.loads((project / "models" / "adaptation.json").read_text())["batch_neighbours"]
    as_trained = _tool(["recognise", "--json", "--model", project, "--adapt", *recordings], tmp_path, env)
    assert as_trained.returncode == 0, as_trained.stderr[-3000:]
    expected = relations.name_with_batch_neighbours(
        evidence, standardiser.apply(test), adaptation.batch_neighbours_for(len(test), counts.shape[0], most),
        standardiser.apply(train))
    assert [json.loads(line)["concept"] for line in as_trained.stdout.splitlines()] == expected.tolist()
    few = recordings[:counts.shape[0]]
    alone = _tool(["recognise", "--json", "--model", project, *few], tmp_path, env)
    adapted = _tool(["recognise", "--json", "--model", project, *few, "--adapt", "50"], tmp_path, env)
    assert adapted.returncode == 0 and adapted.stdout == alone.stdout
    refused = _tool(["recognise", "--adapt", "-1", "--model", project, *recordings[:1]], tmp_path, env)
    assert refused.returncode == 2 and "must be a whole number >= 0" in refused.stderr


def test_tool_takes_every_kind_of_file(pipeline, tmp_path):
    from user_samples import good_files

    project, env, _ = pipeline
    files = good_files(tmp_path / "files")
    result = _tool(["recognise", "--json", "--model", project, *files.values()], tmp_path, env)
    assert result.returncode == 0, result.stderr[-3000:]
    found = {entry["file"]: entry for entry in map(json.loads, result.stdout.splitlines())}
    n_image = json.loads((project / "data" / "clusters" / "learner.json").read_text())["image"]["n_clusters"]
    for name, path in files.items():
        entry = found[str(path)]
        assert entry["sense"] == ("audio" if name.startswith(("wav", "flac", "ogg")) else "image"), name
        assert 0 <= entry["concept"] < n_image and entry["partner_sense"] != entry["sense"], name
    text = _tool(["recognise", "--model", project, files["wav_8000"], files["png_light_on_dark_28"]], tmp_path, env)
    lines = text.stdout.splitlines()
    assert text.returncode == 0 and len(lines) == 2, text.stdout + text.stderr[-2000:]
    assert lines[0].startswith(f"{files['wav_8000']}: audio concept ") and "partner: image concept" in lines[0]
    assert lines[1].startswith(f"{files['png_light_on_dark_28']}: image concept ") and "P(partner | concept)" in lines[1]


def test_tool_names_every_bad_file_and_goes_on(pipeline, tmp_path):
    from user_samples import bad_files, good_files

    project, env, _ = pipeline
    good = good_files(tmp_path / "good")["wav_8000"]
    bad = bad_files(tmp_path / "bad")
    result = _tool(["recognise", "--model", project, *(path for path, _ in bad.values()), good], tmp_path, env)
    assert result.returncode == 1, result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("digit-concepts: ")]
    assert len(errors) == len(bad), result.stderr
    for (path, why), line in zip(bad.values(), errors):
        assert line.startswith(f"digit-concepts: {path}: ") and why in line, line
    assert result.stdout.startswith(f"{good}: audio concept ")  # the good file still recognised
    missing = _tool(["recognise", "--model", tmp_path / "no_learner_here", good], tmp_path, env)
    assert missing.returncode == 3 and "dvc repro" in missing.stderr and "dvc pull" in missing.stderr, missing.stderr
    imagine_bad = _tool(["imagine", "--model", project, bad["silent"][0], "--out", tmp_path / "x"], tmp_path, env)
    assert imagine_bad.returncode == 1 and "silent" in imagine_bad.stderr


def test_tool_imagines_the_other_sense_and_lists_concepts(pipeline, tmp_path):
    from user_samples import good_files

    project, env, _ = pipeline
    files = good_files(tmp_path / "files")
    sound = _tool(["imagine", "--model", project, files["png_dark_on_light_64"], "--out", tmp_path / "out" / "sound",
                   "--samples", "2"], tmp_path, env)
    assert sound.returncode == 0, sound.stderr[-3000:]
    for number in (1, 2):
        info = soundfile.info(str(tmp_path / "out" / f"sound_{number}.wav"))
        assert info.samplerate == 8000 and info.channels == 1 and info.frames > 0
    picture = _tool(["imagine", "--model", project, files["wav_44100"], "--out", tmp_path / "out" / "picture.png"],
                    tmp_path, env)
    assert picture.returncode == 0, picture.stderr[-3000:]
    from PIL import Image

    with Image.open(tmp_path / "out" / "picture.png") as image:
        assert image.size == (28, 28) and image.mode == "L"
    translated = _tool(["imagine", "--model", project, files["wav_44100"], "--out", tmp_path / "out" / "translated.png",
                        "--image-from", "brain", "--samples", "2"], tmp_path, env)
    assert translated.returncode == 0, translated.stderr[-3000:]
    for number in (1, 2):
        with Image.open(tmp_path / "out" / f"translated_{number}.png") as image:
            assert image.size == (28, 28)
    table = _tool(["concepts", "--json", "--model", project], tmp_path, env)
    rows = [json.loads(line) for line in table.stdout.splitlines()]
    assert table.returncode == 0 and {row["sense"] for row in rows} == {"image", "audio"}
    assert all(row["zone"] in ("convergence", "divergence", "both", "none") for row in rows)



@pytest.mark.slow
def test_a_second_build_gives_the_same_bytes_and_reads_only_declared_deps(pipeline, audited_pipeline):
    """Two tiny pipelines built apart (other folders, the mirror over HTTP or as a folder), checked
    two ways:
    - same params, same bytes: dvc.lock, every metrics file and every output (models included) are
      identical, so rerunning changes nothing git tracks (in-place reruns of the fitting stages
      are checked byte for byte by the two tests after this one);
    - dvc.yaml lists every data file each stage reads: each read inside the project (logged by a
      Python audit hook in every stage of the second build) lies in a declared dep or the stage's
      own outputs. Code deps are checked from the imports in test_dvc_deps.py."""
    import shlex

    project, _, _ = pipeline
    second, _, logs = audited_pipeline
    assert (second / "dvc.lock").read_text() == (project / "dvc.lock").read_text()
    first_files = _files(project)
    # two autoencoders, two brain maps, the image and audio classifiers
    assert sum(1 for name in first_files if name.endswith(".keras")) == 6, first_files
    assert _files(second) == first_files

    stages = YAML(typ="safe").load(second / "dvc.yaml")["stages"]
    variables = {key: value for entry in YAML(typ="safe").load(second / "dvc.yaml").get("vars", [])
                 for key, value in entry.items()}
    root, problems = str(second.resolve()), []
    for name, stage in stages.items():
        command = shlex.split(stage["cmd"][stage["cmd"].index("python "):])[1:]
        log = logs / reads_log_name(command)
        assert log.is_file(), f"{name}: no reads logged (did `dvc repro` run it?)"
        deps = [dep.replace("${pkg}", variables.get("pkg", "")) for dep in stage.get("deps", [])]
        outs = [next(iter(out)) if isinstance(out, dict) else out for out in stage.get("outs", [])]
        reads = {Path(line).resolve().as_posix() for line in log.read_text().splitlines()}
        relative = sorted({path[len(root) + 1:] for path in reads if path.startswith(root + "/")})
        undeclared = [path for path in relative if "__pycache__" not in path and not _under(path, NOT_DATA)
                      and not _under(path, deps) and not _under(path, outs)]
        if undeclared:
            problems.append(f"{name} reads {undeclared} but lists no dep for them")
    assert not problems, "\n".join(problems)


def test_corrupt_mirror_fails_download_and_keeps_nothing(tmp_path, mirror):
    root, checksums = mirror
    broken = tmp_path / "broken-mirror"
    shutil.copytree(root, broken)
    archive = broken / "fsdd" / "v1.0.10.zip"
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])  # truncated download
    expected = json.loads(checksums.read_text())["v1.0.10.zip"]
    project = make_project(tmp_path)

    # A plain folder as DATA_MIRROR: the file:// path of data.fetch, in a real stage run.
    result = _run([DVC, "repro", "download"], project,
                  environment(DATA_MIRROR=str(broken), DATA_CHECKSUMS=str(checksums)), timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    # One line, no traceback: a truncated archive is still a checksum error (bytes arrived).
    assert "error: could not fetch v1.0.10.zip with the expected sha256" in output, output
    assert "Traceback" not in output, output
    assert expected in output, "expected sha256 not reported"
    assert (broken / "fsdd" / "v1.0.10.zip").as_uri() in output, "URL tried not reported"
    assert not (project / "data" / "raw").exists()
    leftovers = [path for folder in ("data", ".tmp") if (project / folder).exists()
                 for path in (project / folder).iterdir()]
    assert leftovers == [], f"staging files left behind: {leftovers}"


def test_switching_to_a_mirror_of_other_files_needs_repro_f_download(tmp_path, mirror):
    """DVC cannot see DATA_MIRROR / DATA_CHECKSUMS: after a switch, `dvc repro -f download` (as the
    README says) fetches and records the new checksums, so data/raw and everything after it change."""
    from fakes import idx_bytes, sha256_of

    root, checksums = mirror
    other = tmp_path / "other-mirror"
    shutil.copytree(root, other)
    labels = other / "mnist" / "t10k-labels-idx1-ubyte.gz"
    labels.write_bytes(gzip.compress(idx_bytes(np.arange(N_TEST_IMAGES)[::-1] % 10, 2049), mtime=0))
    other_checksums = write_checksums(tmp_path / "other-checksums.json",
                                      {**json.loads(checksums.read_text()), labels.name: sha256_of(labels)})
    project = make_project(tmp_path)
    first = _run([DVC, "repro", "download"], project, environment(DATA_MIRROR=str(root), DATA_CHECKSUMS=str(checksums)))
    assert first.returncode == 0, first.stdout + first.stderr
    before = YAML(typ="safe").load(project / "dvc.lock")["stages"]["download"]["outs"]

    switched = environment(DATA_MIRROR=str(other), DATA_CHECKSUMS=str(other_checksums))
    status = _run([DVC, "status", "download"], project, switched)
    assert "up to date" in status.stdout, status.stdout  # the limitation the forced run is for
    forced = _run([DVC, "repro", "-f", "download"], project, switched)
    assert forced.returncode == 0, forced.stdout + forced.stderr
    recorded = json.loads((project / "data" / "raw" / "checksums.json").read_text())
    assert recorded == json.loads(other_checksums.read_text())
    after = YAML(typ="safe").load(project / "dvc.lock")["stages"]["download"]["outs"]
    assert after[0]["md5"] != before[0]["md5"]  # data/raw changed: preprocess and all after it rerun


def _hashes(project: Path, patterns: list[str]) -> dict:
    import hashlib

    return {str(path.relative_to(project)): hashlib.sha256(path.read_bytes()).hexdigest()
            for pattern in patterns for path in sorted(project.glob(pattern))}


@pytest.mark.slow
def test_permuting_scoring_labels_changes_no_decision(pipeline, tmp_path):
    """Label leakage: with the scoring labels shuffled, every clustering, table, zone and
    generated file is byte-identical (only the scores may change)."""
    import numpy as np
    import pandas as pd

    project, env, _ = pipeline
    decisions = ["data/clusters/*.npz", "metrics/tables/*.csv", "data/convergence/*.npz", "plots/sounds/*.wav",
                 "plots/report/media/*.png"]
    before = _hashes(project, decisions)
    assert any(name.startswith("plots/sounds/") for name in before) and any("tables" in name for name in before)
    assert any(name.startswith("plots/report/media/") for name in before)
    assert {"data/clusters/audio_alone.npz", "data/clusters/learner.npz"} <= set(before)  # scored-only, and the tool's
    copy = tmp_path / "permuted"
    shutil.copytree(project, copy, symlinks=True)
    rng = np.random.default_rng(123)
    for table_path in (copy / "data/preprocessed/image_metadata.csv", copy / "data/preprocessed/audio_metadata.csv"):
        table = pd.read_csv(table_path)
        table["digit"] = rng.permutation(table["digit"].to_numpy())
        if "speaker" in table:  # speakers, too, only score (the voices found)
            table["speaker"] = rng.permutation(table["speaker"].to_numpy())
        table_path.unlink()  # DVC may have linked it to the cache: never write through the link
        table.to_csv(table_path, index=False)
    for stage in ("cluster", "relate", "convergence", "plot"):
        result = _run([sys.executable, f"stages/{stage}.py"], copy, dict(env, PYTHONPATH=os.pathsep.join(["src", str(STAGE_SITE)])))
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert _hashes(copy, decisions) == before


def _arrays(path: Path, keys) -> dict:
    with np.load(path, allow_pickle=False) as stored:
        return {key: stored[key].copy() for key in stored.files if any(key.startswith(prefix) for prefix in keys)}


@pytest.mark.slow
def test_nothing_is_fitted_on_the_test_split(pipeline, tmp_path):
    """Test samples replaced (noise) and reordered: every fitted model, train and validation code,
    clustering, table, temperature and validation score is unchanged. Only test outputs move."""
    project, env, _ = pipeline
    fitted = ["models/image_autoencoder/model.keras", "models/audio_autoencoder/model.keras", "models/brain/*.keras",
              "models/*/training/plots/metrics/**/*.tsv", "data/clusters/learner.npz", "data/clusters/learner.json",
              "data/clusters/cluster_models.npz", "data/clusters/k_selection.csv", "metrics/tables/cooccurrence.csv",
              "metrics/tables/one_to_one.csv", "metrics/tables/one_to_many.csv", "metrics/tables/concepts.csv"]
    before = _hashes(project, fitted)
    assert len(before) >= 12, before
    split_keys = ("image_train", "image_validation", "audio_train", "audio_validation")
    codes_before = _arrays(project / "data/encodings/codes.npz", split_keys)
    assignments_before = _arrays(project / "data/clusters/assignments.npz", split_keys)
    validation_metrics = {name: json.loads((project / f"metrics/{name}.json").read_text()) for name in ("relate",
                                                                                                       "convergence")}
    copy = tmp_path / "other-test-split"
    shutil.copytree(project, copy, symlinks=True)
    rng = np.random.default_rng(7)
    for name in ("images.npz", "spectrograms.npz", "audio_features.npz"):
        path = copy / "data/preprocessed" / name
        arrays = _arrays(path, ("",))
        test = arrays["test"][rng.permutation(len(arrays["test"]))]
        test[: len(test) // 2] = rng.uniform(test.min(), test.max(), size=test[: len(test) // 2].shape)
        arrays["test"] = test.astype(arrays["test"].dtype)
        path.unlink()  # DVC may have linked it to the cache: never write through the link
        np.savez(path, **arrays)
    for table_path in (copy / "data/preprocessed/image_metadata.csv", copy / "data/preprocessed/audio_metadata.csv"):
        table = pd.read_csv(table_path)
        test_rows = table["split"] == "test"
        table.loc[test_rows, "digit"] = rng.permutation(table.loc[test_rows, "digit"].to_numpy())
        table_path.unlink()
        table.to_csv(table_path, index=False)
    for command in (["stages/train_autoencoder.py", "--modality", "image"], ["stages/train_autoencoder.py",
                    "--modality", "audio"], ["stages/encode.py"], ["stages/cluster.py"], ["stages/relate.py"],
                    ["stages/convergence.py"]):
        result = _run([sys.executable, *command], copy, dict(env, PYTHONPATH=os.pathsep.join(["src", str(STAGE_SITE)])))
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert _hashes(copy, fitted) == before
    for name, arrays in (("data/encodings/codes.npz", codes_before), ("data/clusters/assignments.npz",
                                                                       assignments_before)):
        after = _arrays(copy / name, split_keys)
        assert set(after) == set(arrays)
        for key in arrays:
            np.testing.assert_array_equal(after[key], arrays[key], err_msg=f"{name}: {key}")
    for name, metrics in validation_metrics.items():
        after = json.loads((copy / f"metrics/{name}.json").read_text())
        chosen_on_validation = [key for key in metrics if key.startswith(("validation_", "calibration_"))]
        assert chosen_on_validation, metrics
        assert {key: after[key] for key in chosen_on_validation} == {key: metrics[key] for key in chosen_on_validation}
    assert json.loads((copy / "metrics/cluster.json").read_text())["image"]["validation_acc"] == json.loads(
        (project / "metrics/cluster.json").read_text())["image"]["validation_acc"]


@pytest.mark.slow
def test_log_mel_features_retrain_only_the_audio_branch(pipeline, tmp_path):
    """The other audio option end to end: the image branch is untouched, the audio autoencoder
    reads log-mels (with augmented views), with no second decoder, and sound is still made."""
    project, env, _ = pipeline
    project = copy_project(project, tmp_path / "log-mel")
    yaml = YAML()
    tree = yaml.load(project / "params.yaml")
    assert tree["audio"]["features"] == "cepstral"  # the default this test moves away from
    tree["audio"]["features"] = "log_mel"
    tree["audio_ae"]["augmentation"]["views"] = 2
    with open(project / "params.yaml", "w") as stream:
        yaml.dump(tree, stream)
    result = _run([DVC, "repro"], project, env)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-8000:]
    assert "Stage 'train_image_ae' didn't change, skipping" in output, output[-4000:]
    assert "Running stage 'train_audio_ae'" in output and "Running stage 'plot'" in output
    settings = YAML(typ="safe").load(project / "params.yaml")["audio"]
    with np.load(project / "data" / "preprocessed" / "audio_features.npz", allow_pickle=False) as features:
        assert features["train"].shape == (N_TRAIN_AUDIO, settings["n_mels"], settings["frames"])
        assert features["train_views"].shape == (2, *features["train"].shape)
    assert not (project / "data" / "preprocessed" / "audio_feature_statistics.npz").exists()
    with np.load(project / "data" / "convergence" / "generated.npz", allow_pickle=False) as generated:
        assert generated["image_to_audio_spectrograms"].shape[1:] == (settings["n_mels"], settings["frames"])
    reconstruction = json.loads((project / "metrics" / "reconstruction.json").read_text())
    assert math.isfinite(reconstruction["audio"]["mse"])


# --- Offline plots review and sharing ---


def _declared_images(project: Path) -> list[str]:
    return [entry for entry in YAML(typ="safe").load(project / "dvc.yaml")["plots"]
            if isinstance(entry, str) and entry.endswith(".png")]


def _declared_charts(project: Path) -> int:
    return sum(1 for entry in YAML(typ="safe").load(project / "dvc.yaml")["plots"] if isinstance(entry, dict))


def _browser_or_skip() -> None:
    import check_plots

    try:
        check_plots.find_browser()
    except ValueError as error:
        if os.environ.get("REQUIRE_CHROMIUM"):  # .ci/run installs it and sets this
            raise
        pytest.skip(str(error))


def _check_plots_page(page: Path, charts: int, images: int) -> None:
    """`page` renders offline in headless Chromium: every vega chart draws its data, every image loads."""
    import check_plots

    assert page.is_file(), page
    text = page.read_text(encoding="utf-8")
    assert "cdn.jsdelivr" not in text and 'data-vendored="vega@' in text, "not the offline template"
    problems = check_plots.problems(page, check_plots.render(page), expected_charts=charts, expected_images=images)
    assert not problems, "\n".join(problems)


def test_every_figure_is_declared_as_a_plot(pipeline):
    """Each PNG the plot stage writes is a top-level plot, so `dvc plots diff` shows it side by side."""
    project, _, _ = pipeline
    written = {path.relative_to(project).as_posix() for path in (project / "plots").glob("*.png")}
    assert written and set(_declared_images(project)) == written


def test_plots_show_renders_offline(pipeline, tmp_path):
    """`dvc plots show` fills .dvc/plots/offline.html (vega inlined): every chart draws in Chromium, offline."""
    _browser_or_skip()
    project, env, _ = pipeline
    project = copy_project(project, tmp_path / "shown-from")  # a copy: DVC locks the repository it runs in
    result = _run([DVC, "plots", "show", "-o", str(tmp_path / "shown")], project, env)
    assert result.returncode == 0, result.stdout + result.stderr
    _check_plots_page(tmp_path / "shown" / "index.html", _declared_charts(project), len(_declared_images(project)))


def _files(project: Path, folders=("data", "models", "plots", "metrics")) -> dict:
    import hashlib

    return {path.relative_to(project).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for folder in folders for path in sorted((project / folder).rglob("*")) if path.is_file()}


@pytest.mark.slow
def test_push_pull_and_experiment_shared_between_clones_without_recomputing(pipeline, tmp_path):
    """Two clones side by side, a bare git remote and the committed default DVC remote
    (../../digit-concepts-dvc-storage from .dvc/, so beside the clones, in tmp_path): `dvc push`,
    `dvc pull`, then `dvc exp push` / `dvc exp pull` of an experiment; the second clone gets every
    output without running a stage, and `dvc plots diff HEAD~1` renders both revisions offline."""
    project, env, _ = pipeline
    storage = tmp_path / "digit-concepts-dvc-storage"
    origin = tmp_path / "origin.git"
    first, second = tmp_path / "first", tmp_path / "second"
    shutil.copytree(project, first, symlinks=True)

    def run(*command, cwd):
        result = _run(list(command), cwd, env)
        output = result.stdout + result.stderr
        assert result.returncode == 0, f"{' '.join(map(str, command))}:\n{output[-6000:]}"
        return output

    # First clone: the results committed and pushed (git to the bare remote, data to the DVC remote).
    run(DVC, "repro", cwd=first)  # up to date whatever earlier tests changed (normally runs nothing)
    run("git", "add", "-A", cwd=first)
    run("git", "commit", "-q", "--allow-empty", "-m", "results", cwd=first)
    branch = run("git", "rev-parse", "--abbrev-ref", "HEAD", cwd=first).strip()
    run("git", "init", "-q", "--bare", f"--initial-branch={branch}", str(origin), cwd=tmp_path)
    run("git", "remote", "add", "origin", str(origin), cwd=first)
    run("git", "push", "-q", "origin", branch, cwd=first)
    assert "pushed" in run(DVC, "push", cwd=first) and any(storage.rglob("*"))  # the default remote, here
    baseline = _files(first)

    # An experiment that reruns only the last two stages, shared through both remotes.
    output = run(DVC, "exp", "run", "-n", "strict-zones", "-S", "convergence.min_strength=0.6", cwd=first)
    ran = {line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage")}
    assert ran == {"convergence", "plot"}, output[-4000:]
    experiment = _files(first)
    assert experiment != baseline
    run(DVC, "exp", "push", "origin", "strict-zones", cwd=first)

    # Second clone: `dvc pull` gives the committed results, `dvc exp pull` + `dvc exp apply` the experiment's.
    run("git", "clone", "-q", "--branch", branch, str(origin), str(second), cwd=tmp_path)
    (second / ".dvc" / "config.local").write_text((first / ".dvc" / "config.local").read_text())
    for key, value in (("user.email", "tests@example.invalid"), ("user.name", "tests"), ("commit.gpgsign", "false")):
        run("git", "config", key, value, cwd=second)
    run(DVC, "pull", cwd=second)
    assert _files(second) == baseline
    assert "Data and pipelines are up to date" in run(DVC, "status", cwd=second)
    run(DVC, "exp", "pull", "origin", "strict-zones", cwd=second)
    assert "strict-zones" in run(DVC, "exp", "list", cwd=second)
    run(DVC, "exp", "apply", "strict-zones", cwd=second)
    assert _files(second) == experiment
    assert "Data and pipelines are up to date" in run(DVC, "status", cwd=second)
    assert "Running stage" not in run(DVC, "repro", cwd=second)

    # Review: the experiment committed, compared with its parent in one offline page.
    run("git", "add", "-A", cwd=second)
    run("git", "commit", "-q", "-m", "strict zones", cwd=second)
    _browser_or_skip()
    run(DVC, "plots", "diff", "HEAD~1", "-o", str(tmp_path / "diff"), cwd=second)
    _check_plots_page(tmp_path / "diff" / "index.html", _declared_charts(second), 2 * len(_declared_images(second)))


@pytest.mark.slow
def test_leave_one_speaker_out_runs_every_fold_as_an_experiment_and_summarises(audited_pipeline, tmp_path):
    """scripts/sweep.py loso on the tiny data (two speakers): one queued `dvc exp run` per speaker,
    then metrics/generalisation.json (flat, numeric, per fold) and docs/loso.md. From a copy of
    the audited pipeline, which its worker builds while the other builds the shared one."""
    project, env, _ = audited_pipeline
    copy = _with_sweep_script(copy_project(project, tmp_path / "loso"), env)
    try:
        # Two queue workers: the folds run side by side, as on a machine with cores to spare.
        result = _run([sys.executable, "scripts/sweep.py", "loso", "--speakers", "george,theo", "--jobs", "2",
                       "--poll-seconds", "2"], copy, env, timeout=900)
    finally:
        _run([DVC, "queue", "stop", "--kill"], copy, env)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    summary = json.loads((copy / "metrics" / "generalisation.json").read_text())
    assert summary["loso.folds"] == 2 and summary["loso.seeds"] == 1
    for measure in ("audio_acc_through_images", "audio_reference_acc", "fused_acc", "coherence_image_to_audio",
                    "coherence_audio_to_image"):
        folds = [summary[f"loso.{measure}.{speaker}"] for speaker in ("george", "theo")]
        assert all(0.0 <= value <= 1.0 for value in folds), (measure, folds)
        assert summary[f"loso.{measure}.min"] == min(folds)
        assert summary[f"loso.{measure}.mean"] == pytest.approx(sum(folds) / 2, abs=1e-4)
    report = (copy / "docs" / "loso.md").read_text()
    assert "python scripts/sweep.py loso --speakers george,theo" in report and "| george |" in report
    # Each fold is a real experiment that held its speaker out of training.
    refs = subprocess.run(["git", "for-each-ref", "--format=%(refname)", "refs/exps/"], cwd=copy, env=env,
                          capture_output=True, text=True, check=True).stdout.split()
    for speaker in ("george", "theo"):
        ref = next(ref for ref in refs if ref.endswith(f"/loso-{speaker}-seed-42"))
        params = YAML(typ="safe").load(subprocess.run(["git", "show", f"{ref}:params.yaml"], cwd=copy, env=env,
                                                      capture_output=True, text=True, check=True).stdout)
        assert params["split"]["audio"] == "leave_speakers_out" and params["split"]["test_speakers"] == [speaker]


def _with_sweep_script(project: Path, env: dict) -> Path:
    """The sweep command committed into a tiny project (experiments run what git tracks)."""
    (project / "scripts").mkdir(exist_ok=True)
    shutil.copy2(REPO / "scripts" / "sweep.py", project / "scripts" / "sweep.py")
    (project / "docs").mkdir(exist_ok=True)
    for command in (["git", "add", "-A"], ["git", "commit", "-q", "-m", "the sweep command"]):
        subprocess.run(command, cwd=project, env=env, check=True, capture_output=True)
    return project


@pytest.mark.slow
def test_a_sweep_spread_over_two_machines_collects_what_one_machine_computes(pipeline, tmp_path):
    """Two seeds as two batch tasks on two "machines" (clones sharing a bare git remote and the
    committed default DVC remote, beside them in tmp_path): each pulls the data, runs its one job
    (`--job`) and `dvc exp push`es it; a third place collects both (`--collect`, `dvc exp pull`).
    metrics/variability.json equals the one from the same sweep run through one machine's queue."""
    project, env, _ = pipeline
    one_machine = _with_sweep_script(copy_project(project, tmp_path / "one-machine"), env)
    origin = tmp_path / "origin.git"

    def run(*command, cwd, timeout=600):
        result = _run([str(part) for part in command], cwd, env, timeout=timeout)
        output = result.stdout + result.stderr
        assert result.returncode == 0, f"{' '.join(map(str, command))}:\n{output[-6000:]}"
        return output

    # The published project: code and params on the git remote, outputs on the DVC remote.
    branch = run("git", "rev-parse", "--abbrev-ref", "HEAD", cwd=one_machine).strip()
    run("git", "init", "-q", "--bare", f"--initial-branch={branch}", origin, cwd=tmp_path)
    run("git", "remote", "add", "origin", origin, cwd=one_machine)
    run("git", "push", "-q", "origin", branch, cwd=one_machine)
    run(DVC, "push", cwd=one_machine)
    jobs = run(sys.executable, "scripts/sweep.py", "seeds", "--seeds", "2", "--list", cwd=one_machine).split()
    assert jobs == ["seed-42", "seed-1"]

    machines = []
    for job in jobs:  # what each task of a batch array runs, on a machine of its own
        machine = tmp_path / f"machine-{job}"
        run("git", "clone", "-q", "--branch", branch, origin, machine, cwd=tmp_path)
        (machine / ".dvc" / "config.local").write_text((project / ".dvc" / "config.local").read_text())
        for key, value in (("user.email", "tests@example.invalid"), ("user.name", "tests")):
            run("git", "config", key, value, cwd=machine)
        run(DVC, "pull", cwd=machine)
        run(sys.executable, "scripts/sweep.py", "seeds", "--seeds", "2", "--job", job, "--push", "origin", cwd=machine)
        machines.append(machine)
    collected = machines[0]
    run("git", "checkout", "-q", "--", ".", cwd=collected)  # the job left its run in the workspace
    run(sys.executable, "scripts/sweep.py", "seeds", "--seeds", "2", "--collect", "origin", cwd=collected)

    try:
        run(sys.executable, "scripts/sweep.py", "seeds", "--seeds", "2", "--poll-seconds", "2", cwd=one_machine,
            timeout=900)
    finally:
        _run([DVC, "queue", "stop", "--kill"], one_machine, env)
    summary = json.loads((one_machine / "metrics" / "variability.json").read_text())
    assert summary["seeds"] == [1, 42]
    assert summary["relate.audio_acc_through_images"]["n"] == 2
    assert json.loads((collected / "metrics" / "variability.json").read_text()) == summary
    assert "| recordings named through images" in (collected / "docs" / "variability.md").read_text()
