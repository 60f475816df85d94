"""params: the committed params.yaml loads as the typed model; every mistake is a ValueError naming key and rule."""

import copy
from pathlib import Path

import pandas as pd
import pytest
from conftest import REPO
from pydantic import ValidationError
from ruamel.yaml import YAML
from stage_projects import run_stage, stage_copy

from digit_concepts.core import params


@pytest.fixture(scope="module")
def committed_tree() -> dict:
    """params.yaml as plain dicts and lists, as ``params.load`` reads it."""
    return YAML(typ="safe", pure=True).load(REPO / "params.yaml")


@pytest.fixture
def tree(committed_tree) -> dict:
    return copy.deepcopy(committed_tree)


def _leaves(tree: dict, prefix: str = "") -> list[str]:
    return [leaf for key, value in tree.items()
            for leaf in (_leaves(value, f"{prefix}{key}.") if isinstance(value, dict) else [f"{prefix}{key}"])]


def _as_yaml(node):
    """A dump of the model as YAML holds it: pairs (tuples) are lists."""
    if isinstance(node, dict):
        return {key: _as_yaml(value) for key, value in node.items()}
    return list(node) if isinstance(node, tuple) else node


def test_committed_params_load_as_the_typed_model(committed_tree):
    committed = params.load(REPO / "params.yaml")
    assert isinstance(committed, params.Params)
    assert params.leaf_keys(params.Params) == _leaves(committed_tree)  # every key, in the file's order
    assert _as_yaml(committed.model_dump()) == committed_tree
    assert isinstance(committed.image_ae.learning_rate, float) and committed.image_ae.learning_rate == 1.0e-3
    assert isinstance(committed.cluster.audio, params.ClusteringSettings)
    assert committed.audio_ae.augmentation.noise_snr_db == (0.0, 20.0)
    assert committed.convergence.imagine_images_from in params.IMAGINATION_ROUTES


def test_an_integer_where_a_number_goes_is_a_float_and_a_bool_is_neither(tree):
    loaded = params.parse(_set(tree, "audio.fmax", 4000))
    assert isinstance(loaded.audio.fmax, float) and loaded.audio.fmax == 4000.0
    with pytest.raises(ValueError, match=r"pairs\.noise: got False, must be a number"):
        params.parse(_set(tree, "pairs.noise", False))


def test_params_are_read_only(committed_tree):
    loaded = params.parse(committed_tree)
    with pytest.raises(ValidationError, match="frozen"):
        loaded.cluster.image.k = 12


def _set(tree: dict, dotted: str, value) -> dict:
    *parents, last = dotted.split(".")
    node = tree
    for key in parents:
        node = node[key]
    node[last] = value
    return tree


def _delete(tree: dict, dotted: str) -> dict:
    *parents, last = dotted.split(".")
    node = tree
    for key in parents:
        node = node[key]
    del node[last]
    return tree


def test_unknown_key(tree):
    with pytest.raises(ValueError) as caught:
        params.parse(_set(tree, "image_ae.dropout", 0.1))
    message = str(caught.value)
    assert "image_ae.dropout: unknown parameter" in message
    assert "image_ae.latent_dim" in message and "image_ae.learning_rate" in message  # the known keys


def test_bad_choice(tree):
    with pytest.raises(ValueError, match=r"cluster\.image\.algorithm: got 'foo', must be one of "
                                         r"kmeans, gmm, agglomerative"):
        params.parse(_set(tree, "cluster.image.algorithm", "foo"))


@pytest.mark.parametrize("key", ["image_ae.learning_rate", "pairs.noise", "audio.fmax"])
def test_string_number(tree, key):
    """PyYAML (YAML 1.1) reads 1e-3 as a string; a quoted value reaches validation the same way."""
    with pytest.raises(ValueError, match=rf"{key.replace('.', r'[.]')}: got '1e-3', must be a number .*"
                                         r"floats need a dot"):
        params.parse(_set(tree, key, "1e-3"))


@pytest.mark.parametrize("key, rule", [
    ("audio.n_mels", "an integer >= 8 and <= 512"),
    ("image_ae.learning_rate", "a number > 0.0 and <= 1.0"),
    ("split.audio", "one of official, leave_speakers_out"),
    ("audio.per_recording_normalisation", "true or false"),
])
def test_missing_key(tree, key, rule):
    with pytest.raises(ValueError) as caught:
        params.parse(_delete(tree, key))
    assert f"{key}: missing; must be {rule}" in str(caught.value)


@pytest.mark.parametrize("key, value, rule", [
    ("image_ae.epochs", True, "an integer >= 1"),
    ("image_ae.epochs", 2.0, "an integer >= 1"),
    ("audio_ae.latent_dim", 1, "an integer >= 2 and <= 256"),
    ("pairs.noise", 1.5, "a number >= 0.0 and <= 1.0"),
    ("pairs.noise", float("nan"), "a number >= 0.0 and <= 1.0"),
    ("image_ae.learning_rate", 0.0, "a number > 0.0 and <= 1.0"),
    ("image_ae.hidden_units", [512, 0], "a list of at least 1 positive integers"),
    ("split.test_speakers", ["alice"], "a non-empty list drawn from george"),
    ("cluster.joint.k_range", [16, 6], "must be [low, high] with low < high"),
    ("audio.features", "mfcc", "one of log_mel, cepstral"),
    ("audio.cepstral_fmin", 4000.0, "must be below audio.fmax"),
    ("audio_ae.augmentation.views", -1, "an integer >= 0 and <= 32"),
    ("cluster.audio_reference.k_selection", "cooccurrence", "cooccurrence is for cluster.image only"),
    ("image_ae.architecture", "frames", "one of dense, conv"),  # convolution over time is for sounds
    ("audio_ae.frame_filters", [], "a list of at least 1 positive integers"),
    ("convergence.imagine_images_from", "translation", "one of brain, concept"),
    ("image_ae.augmentation.scale_range", [1.2, 0.8], "two numbers with 0.1 <= lowest <= highest <= 10.0"),
    ("audio_ae.augmentation.noise_tilt", [-2.0], "two numbers with -4.0 <= lowest <= highest <= 4.0"),
    ("split.validation_recordings", [9, 5], "[first, last]: two recording indices, 0 <= first <= last"),
    ("image_ae.augmentation.thin_probability", 0.9, "thicken_probability + thin_probability is 1.15, must be at most 1"),
    ("pairs", 0.5, "got 0.5, must be a section"),
])
def test_bad_values(tree, key, value, rule):
    with pytest.raises(ValueError) as caught:
        params.parse(_set(tree, key, value))
    assert key in str(caught.value) and rule in str(caught.value)


def test_every_problem_reported_at_once(tree):
    _set(tree, "seed", -1)
    _set(tree, "audio.n_fft", "256")
    with pytest.raises(ValueError) as caught:
        params.parse(tree)
    assert "seed: got -1" in str(caught.value) and "audio.n_fft: got '256'" in str(caught.value)


def test_load_reads_yaml_1_2(tmp_path):
    text = (REPO / "params.yaml").read_text()
    assert "learning_rate: 1.0e-3" in text
    (tmp_path / "unquoted.yaml").write_text(text.replace("learning_rate: 1.0e-3", "learning_rate: 1e-3"))
    assert params.load(tmp_path / "unquoted.yaml").image_ae.learning_rate == pytest.approx(1e-3)
    (tmp_path / "quoted.yaml").write_text(text.replace("learning_rate: 1.0e-3", "learning_rate: '1e-3'"))
    with pytest.raises(ValueError, match=r"image_ae\.learning_rate: got '1e-3'"):
        params.load(tmp_path / "quoted.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(ValueError, match="expected a mapping"):
        params.load(tmp_path / "list.yaml")


def test_cooccurrence_k_selection_is_for_images_only(tmp_path):
    from ruamel.yaml import YAML

    yaml = YAML()
    tree = yaml.load((REPO / "params.yaml").read_text())
    tree["cluster"]["audio"]["k_selection"] = "cooccurrence"
    target = tmp_path / "params.yaml"
    with open(target, "w") as stream:
        yaml.dump(tree, stream)
    with pytest.raises(ValueError, match="cluster.audio.k_selection: cooccurrence is for cluster.image only"):
        params.load(target)


def test_voice_aware_reference_needs_k_fixed(tree):
    with pytest.raises(ValueError, match=r"cluster\.audio_reference\.k_selection: got 'bic', must be fixed while "
                                         r"voices\.count_selection is not none"):
        params.parse(_set(_set(tree, "cluster.audio_reference.voices.count_selection", "bic"),
                             "cluster.audio_reference.k_selection", "bic"))
    params.parse(_set(_set(tree, "cluster.audio_reference.voices.count_selection", "none"),
                         "cluster.audio_reference.k_selection", "bic"))


@pytest.mark.parametrize("key, value, message", [
    ("cluster.audio_reference.voices.count_selection", "aic", r"must be one of none, fixed, bic"),
    ("cluster.audio_reference.voices.count_range", [6, 3], r"must be \[low, high\] with low < high"),
    ("cluster.audio_reference.voices.count", 0, r"must be an integer >= 1"),
])
def test_bad_voice_params_are_named(tree, key, value, message):
    with pytest.raises(ValueError, match=key.replace(".", r"\.") + r": got .*" + message):
        params.parse(_set(tree, key, value))



REAL_COUNTS = {"image": 60000, "audio": 2700, "joint": 60000}


def test_committed_params_fit_the_real_data():
    params.check_cluster_sizes(params.load(REPO / "params.yaml"), REAL_COUNTS)


def test_k_larger_than_the_samples_names_key_and_space():
    with pytest.raises(ValueError) as caught:
        params.check_cluster_sizes(params.load(REPO / "params.yaml"), {"image": 40, "audio": 40, "joint": 40})
    message = str(caught.value)
    assert "cluster.audio.k: 300 clusters need at least 300 train recordings, the data has 40" in message
    assert "cluster.image.k_range" not in message  # 16 <= 40


def test_k_range_and_voice_counts_are_checked(committed_tree):
    cluster = committed_tree["cluster"]
    cluster["image"]["k_range"] = [6, 50]
    cluster["joint"]["k"] = 45
    cluster["audio_reference"]["voices"].update(count_selection="bic", count_range=[2, 9])
    with pytest.raises(ValueError) as caught:
        params.check_cluster_sizes(params.parse(committed_tree), {"image": 40, "audio": 8, "joint": 40})
    message = str(caught.value)
    assert "cluster.image.k_range: 50 clusters need at least 50 train images, the data has 40" in message
    assert "cluster.joint.k: 45 clusters need at least 45 train episodes, the data has 40" in message
    assert "cluster.audio_reference.voices.count_range: 9 voices need at least 9 train recordings" in message
    cluster["audio_reference"]["voices"].update(count_selection="fixed", count=10)
    with pytest.raises(ValueError, match=r"cluster\.audio_reference\.voices\.count: 10 voices"):
        params.check_cluster_sizes(params.parse(committed_tree), {"image": 400, "audio": 9, "joint": 400})


def test_train_sample_counts_from_the_metadata(tmp_path):
    pd.DataFrame({"split": ["train"] * 3 + ["test"] * 2, "index": range(5)}).to_csv(tmp_path / "i.csv", index=False)
    pd.DataFrame({"split": ["test", "train"], "index": range(2)}).to_csv(tmp_path / "a.csv", index=False)
    assert params.train_sample_counts(tmp_path / "i.csv", tmp_path / "a.csv") == {"image": 3, "audio": 1, "joint": 3}


@pytest.mark.parametrize("extra, message", [
    ({"pair": {"noise": 0.5}}, r"pair\.noise: unknown parameter \(did you mean pairs\? known sections: seed, "),
    ({"pair": {}}, r"pair: unknown parameter \(did you mean pairs\?"),
    ({"pair": None}, r"pair: unknown parameter"),
    ({"verbose": True}, r"verbose: unknown parameter \(known sections: seed, audio, split, pairs"),
])
def test_unknown_top_level_key_or_section_is_named(committed_tree, extra, message):
    with pytest.raises(ValueError, match=message):
        params.parse({**committed_tree, **extra})


def test_misspelt_section_instead_of_the_right_one(committed_tree):
    committed_tree["pair"] = committed_tree.pop("pairs")
    with pytest.raises(ValueError) as caught:
        params.parse(committed_tree)
    assert "pair.noise: unknown parameter (did you mean pairs?" in str(caught.value)
    assert "pairs.noise: missing" in str(caught.value)



@pytest.fixture
def stage_project(tmp_path) -> Path:
    return stage_copy(tmp_path)


def test_a_bad_params_file_is_named_in_one_error_from_any_folder(stage_project, tmp_path):
    (stage_project / "params.yaml").write_text((REPO / "params.yaml").read_text() + "pair:\n  noise: 0.5\n")
    result = run_stage(stage_project, "plot", tmp_path / "elsewhere", DVC_STAGE="plot")
    assert result.returncode == 1, result.stdout
    assert result.stderr.startswith("error: invalid params.yaml:\n  pair.noise: unknown parameter (did you mean pairs?")
    assert result.stderr.endswith("`dvc checkout plot` restores them from the cache, `git checkout metrics/` the metrics)\n")
    assert "Traceback" not in result.stderr


def test_a_section_no_stage_uses_still_reruns_the_plot_stage_which_names_it():
    """DVC reruns a stage only for the params it lists; plot lists the whole file, so an unknown
    section (which changes no other stage) still reaches a params check."""
    from ruamel.yaml import YAML

    plot = YAML(typ="safe").load(REPO / "dvc.yaml")["stages"]["plot"]
    assert {"params.yaml": None} in plot["params"], plot["params"]
