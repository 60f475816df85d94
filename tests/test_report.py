"""The plot stage on a tiny fake project, and the report's promises: offline, complete, playable."""

import importlib.util
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from digit_concepts import autoencoders, figures, paths, report, storage

REPO = Path(__file__).resolve().parents[1]
K_IMAGE, K_AUDIO, SAMPLES_PER_CONCEPT, EXAMPLES = 3, 5, 3, 4
SIZES = {"image": {"train": 200, "test": 100}, "audio": {"train": 90, "test": 30}}
SHAPES = {"image": (28, 28), "audio": (64, 32)}


def load_plot_stage():
    spec = importlib.util.spec_from_file_location("plot_stage", REPO / "stages" / "plot.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class FakeDecoder:
    """Stands in for a Keras decoder (no TensorFlow in these tests): codes -> grey samples."""

    def __init__(self, shape):
        self.shape = shape

    def __call__(self, codes, training=False):
        return np.clip(0.5 + 0.1 * codes[:, :1, None], 0, 1) * np.ones((len(codes), *self.shape), np.float32)


def write_metadata(rng) -> None:
    for sense, target in (("image", paths.IMAGE_METADATA), ("audio", paths.AUDIO_METADATA)):
        rows = [(split, index, int(rng.integers(10))) for split, count in SIZES[sense].items() for index in range(count)]
        storage.write_csv(target, pd.DataFrame(rows, columns=["split", "index", "digit"]))


def write_relations(rng) -> None:
    counts = rng.integers(0, 30, size=(K_IMAGE, K_AUDIO))
    table = pd.DataFrame(counts, columns=[str(a) for a in range(K_AUDIO)])
    table.insert(0, "image_concept", range(K_IMAGE))
    storage.write_csv(paths.COOCCURRENCE, table)
    storage.write_csv(paths.ONE_TO_ONE, pd.DataFrame({"image_concept": [0, 1], "audio_concept": [2, 4], "count": [20, 25],
                                                      "p_audio_given_image": [0.6, 0.7], "p_image_given_audio": [0.8, 0.5]}))
    storage.write_csv(paths.ONE_TO_MANY, pd.DataFrame({"sense": ["image", "image", "image", "audio"], "concept": [0, 0, 1, 2],
                                                       "partner": [2, 3, 4, 0], "count": [20, 8, 25, 20],
                                                       "share": [0.6, 0.25, 0.7, 0.8]}))
    concepts = [(c, sense, 10, 0, 0.6, 0.5, float(rng.random() * 2), 2, zone)
                for sense, k in (("image", K_IMAGE), ("audio", K_AUDIO)) for c, zone in
                zip(range(k), ["convergence", "divergence", "both", "none", "none"])]
    storage.write_csv(paths.CONCEPT_TABLE, pd.DataFrame(concepts, columns=[
        "concept", "sense", "size", "best_partner", "p_partner_given_concept", "p_concept_given_partner",
        "entropy_bits", "n_partners", "zone"]))
    storage.write_csv(paths.TEST_EPISODE_CONCEPTS, pd.DataFrame({"image_concept": [0, 1], "audio_concept": [2, 4]}))


def write_fake_project(root: Path) -> None:
    """Every input of the plot stage, in its real format and shape, at a tiny size."""
    rng = np.random.default_rng(0)
    shutil.copy(REPO / "params.yaml", root / "params.yaml")
    samples = {sense: {split: rng.random((count, *SHAPES[sense]), dtype=np.float32) for split, count in splits.items()}
               for sense, splits in SIZES.items()}
    storage.write_npz(paths.IMAGES, **samples["image"])
    storage.write_npz(paths.SPECTROGRAMS, **{split: 2 * s - 1 for split, s in samples["audio"].items()})
    storage.write_json(paths.AUDIO_SETTINGS, {
        "sample_rate": 8000, "n_fft": 256, "hop_length": 64, "n_mels": 64, "fmax": 4000.0, "frames": 32,
        "trim_top_db": 30.0, "per_recording_normalisation": True, "griffin_lim_iterations": 2,
        "mean": -40.0, "std": 15.0, "reference_db": 0.0, "sound_frames": 20})
    write_metadata(rng)
    storage.write_npz(paths.ENCODINGS, **{f"{sense}_{split}": rng.normal(size=(count, 4)).astype(np.float32)
                                          for sense, splits in SIZES.items() for split, count in splits.items()})
    clusters = {f"{sense}_{split}": rng.integers(0, K_IMAGE if sense == "image" else K_AUDIO, size=count)
                for sense, splits in SIZES.items() for split, count in splits.items()}
    clusters.update(joint_train=rng.integers(0, K_IMAGE, 90), joint_test=rng.integers(0, K_IMAGE, 30))
    for split, count in SIZES["audio"].items():
        clusters[f"audio_alone_{split}"] = rng.integers(0, K_IMAGE, count)
        clusters[f"audio_voice_{split}"] = rng.integers(0, 2, count)
    storage.write_npz(paths.CLUSTER_ASSIGNMENTS, **clusters)
    for sense in ("image", "audio"):
        for split in ("train", "eval"):
            log = paths.training_loss_log(sense, split)
            log.parent.mkdir(parents=True, exist_ok=True)
            log.write_text("step\tloss\n" + "".join(f"{step}\t{1.0 / (step + 1)}\n" for step in range(5)))
    write_relations(rng)
    storage.write_npz(paths.GENERATED, concept_images=rng.random((K_IMAGE, SAMPLES_PER_CONCEPT, 28, 28)),
                      concept_spectrograms=rng.normal(size=(K_IMAGE, SAMPLES_PER_CONCEPT, 64, 32)),
                      image_to_audio_sources=samples["image"]["test"][:EXAMPLES],
                      image_to_audio_spectrograms=rng.normal(size=(EXAMPLES, 64, 32)),
                      audio_to_image_sources=samples["audio"]["test"][:EXAMPLES],
                      audio_to_image_images=rng.random((EXAMPLES, 28, 28)),
                      image_to_audio_source_index=np.arange(EXAMPLES), audio_to_image_source_index=np.arange(EXAMPLES))
    storage.write_npz(paths.ATTENTION, image_weight=rng.random(30), audio_weight=rng.random(30),
                      fused_concept=rng.integers(0, K_IMAGE, 30), episode_image_index=np.arange(30),
                      episode_audio_index=np.arange(30))
    for target in (paths.RECONSTRUCTION_METRICS, paths.CLUSTER_METRICS, paths.RELATE_METRICS, paths.CONVERGENCE_METRICS):
        storage.write_json(target, {"image": {"acc": 0.9, "n_clusters": 10}, "agreement": 0.75})


@pytest.fixture(scope="module")
def plotted(tmp_path_factory) -> Path:
    """A fake project on which the plot stage has run; returns its root."""
    root = tmp_path_factory.mktemp("project")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        patch.setattr(autoencoders, "load_halves", lambda path, seed: (None, FakeDecoder(SHAPES[path.parent.name.split("_")[0]])))
        write_fake_project(root)
        load_plot_stage().main()
    return root


def test_stage_writes_every_figure_and_sound(plotted):
    names = ["image_reconstructions", "audio_reconstructions", "training_curves", "latent_image", "latent_audio",
             "latent_audio_alone",             "cooccurrence", "one_to_many", "zones", "attention", "cross_modal_image_to_audio",
             "cross_modal_audio_to_image", "concept_images", "concept_spectrograms"]
    for name in names:
        assert (plotted / paths.figure_file(name)).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    wavs = sorted(path.name for path in (plotted / paths.SOUNDS_DIR).glob("*.wav"))
    assert len(wavs) == EXAMPLES + K_IMAGE * 2
    assert "image_to_audio_0.wav" in wavs and "concept_2_1.wav" in wavs
    assert sum(path.stat().st_size for path in (plotted / paths.PLOTS_DIR).rglob("*")) < 15_000_000


def test_report_references_only_existing_files(plotted):
    page = plotted / paths.REPORT_PAGE
    assert report.missing_files(page) == []
    links = report.local_links(page.read_text())
    assert len([link for link in links if link.endswith(".png")]) == len(list((plotted / paths.PLOTS_DIR).glob("*.png")))


def test_report_loads_nothing_from_the_network(plotted):
    text = (plotted / paths.REPORT_PAGE).read_text()
    assert not re.search(r"https?://", text)
    assert "<script" not in text.lower()


def test_report_has_one_player_per_wav(plotted):
    text = (plotted / paths.REPORT_PAGE).read_text()
    wavs = {path.name for path in (plotted / paths.SOUNDS_DIR).glob("*.wav")}
    players = re.findall(r'<audio controls[^>]*src="([^"]+)"', text)
    assert len(players) == len(wavs)
    assert {Path(link).name for link in players} == wavs


def test_report_tabulates_every_metrics_file(plotted):
    text = (plotted / paths.REPORT_PAGE).read_text()
    for name in ("reconstruction", "cluster", "relate", "convergence"):
        assert f"<h3>{name}</h3>" in text
    assert "image.acc" in text and "0.75" in text


def test_render_refuses_links_that_need_the_network_or_an_absolute_path():
    for link in ("https://example.org/a.png", "/tmp/a.png", "data:image/png;base64,AAAA"):
        with pytest.raises(ValueError, match="relative"):
            report.render("t", [("figure", link)], [], {})


def test_flatten_metrics_names_nested_values_and_rejects_text():
    assert report.flatten_metrics({"image": {"acc": 0.5}, "k": 3}) == {"image.acc": 0.5, "k": 3}
    with pytest.raises(ValueError, match="image.acc"):
        report.flatten_metrics({"image": {"acc": "high"}})


def test_relative_link_is_relative_to_the_page():
    assert report.relative_link(paths.figure_file("zones"), paths.REPORT_PAGE) == "../zones.png"
    assert report.relative_link(paths.concept_sound(1, 0), paths.REPORT_PAGE) == "../sounds/concept_1_0.wav"


def test_audio_order_groups_audio_concepts_by_best_image_partner():
    counts = pd.DataFrame([[1, 9, 0, 5], [8, 0, 7, 1]], columns=["a", "b", "c", "d"])
    assert figures.audio_order(counts) == ["b", "d", "a", "c"]


def test_sample_rows_names_the_bad_row():
    with pytest.raises(ValueError, match="row 'oops'"):
        figures.sample_rows([("oops", np.zeros((2, 4)), "image")], "title")


def test_subsample_is_seeded_sorted_and_bounded():
    first = figures.subsample(100, 10, seed=3)
    assert np.array_equal(first, figures.subsample(100, 10, seed=3))
    assert np.all(np.diff(first) > 0) and len(figures.subsample(5, 10, seed=3)) == 5
