"""The plot stage on a tiny fake project, and the report's promises: offline, complete, playable."""

import contextlib
import importlib.util
import io
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from digit_concepts.senses import autoencoders
from digit_concepts.reporting import figures, html_report, report_content
from digit_concepts.core import paths, storage

# One worker runs this module (pytest.ini: --dist loadgroup): the plot stage behind `plotted` runs once.
pytestmark = pytest.mark.xdist_group("report")
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
    # Audio clusters merged into the audio concept of their best image partner (cluster % K_IMAGE here).
    concepts = [(c, sense, 10, 0, 0.6, 0.5, float(rng.random() * 2), 2, zone, c % K_IMAGE)
                for sense, k in (("image", K_IMAGE), ("audio", K_AUDIO)) for c, zone in
                zip(range(k), ["convergence", "divergence", "both", "none", "none"])]
    storage.write_csv(paths.CONCEPT_TABLE, pd.DataFrame(concepts, columns=[
        "concept", "sense", "size", "best_partner", "p_partner_given_concept", "p_concept_given_partner",
        "entropy_bits", "n_partners", "zone", "merged_concept"]))
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
    alone = {}
    for split, count in SIZES["audio"].items():
        alone[f"audio_alone_{split}"] = rng.integers(0, K_IMAGE, count)
        alone[f"audio_voice_{split}"] = rng.integers(0, 2, count)
    storage.write_npz(paths.CLUSTER_ASSIGNMENTS, **clusters)
    storage.write_npz(paths.AUDIO_ALONE, **alone)
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
    for target in (paths.RECONSTRUCTION_METRICS, paths.CLUSTER_METRICS, paths.RELATE_METRICS):
        storage.write_json(target, {"image": {"acc": 0.9, "n_clusters": 10}, "agreement": 0.75})
    storage.write_json(paths.CONVERGENCE_METRICS, {"image": {"acc": 0.9, "n_clusters": 10}, "agreement": 0.75,
                                                   "fused_acc": 0.987, "coherence_image_to_audio": 0.91})
    storage.write_json(paths.TRANSFER_METRICS, {"image_affine_acc": 0.94, "image_thick_acc": 0.96,
                                                "image_thin_acc": 0.95})


@pytest.fixture(scope="module")
def plotted(tmp_path_factory) -> Path:
    """A fake project on which the plot stage has run; returns its root."""
    root = tmp_path_factory.mktemp("project")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        patch.setattr(autoencoders, "load_halves", lambda path, seed: (None, FakeDecoder(SHAPES[path.parent.name.split("_")[0]])))
        write_fake_project(root)
        with contextlib.redirect_stdout(io.StringIO()) as printed:
            load_plot_stage().main()
    (root / "stage_output.txt").write_text(printed.getvalue())
    return root


def test_stage_writes_every_figure_and_sound(plotted):
    names = ["image_reconstructions", "audio_reconstructions", "training_curves", "latent_image", "latent_audio",
             "latent_audio_alone",             "cooccurrence", "one_to_many", "zones", "attention", "cross_modal_image_to_audio",
             "cross_modal_audio_to_image", "concept_images", "concept_spectrograms"]
    for name in names:
        assert (plotted / paths.figure_file(name)).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    wavs = sorted(path.name for path in (plotted / paths.SOUNDS_DIR).glob("*.wav"))
    assert len(wavs) == 2 * EXAMPLES + K_IMAGE * 2
    assert {"image_to_audio_0.wav", "audio_to_image_source_3.wav", "concept_2_1.wav"} <= set(wavs)
    assert sum(path.stat().st_size for path in (plotted / paths.PLOTS_DIR).rglob("*")) < 15_000_000


def test_report_references_only_existing_files(plotted):
    page = plotted / paths.REPORT_PAGE
    assert html_report.missing_files(page) == []
    links = html_report.local_links(page.read_text())
    # Every PNG the stage wrote (figures and the report's small pictures) is shown, and nothing else.
    assert ({(page.parent / link).resolve() for link in links if link.endswith(".png")}
            == {path.resolve() for path in (plotted / paths.PLOTS_DIR).rglob("*.png")})


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
            html_report.render(html_report.Page("t", figures=[("figure", link)]))


def test_flatten_metrics_names_nested_values_and_rejects_text():
    assert html_report.flatten_metrics({"image": {"acc": 0.5}, "k": 3}) == {"image.acc": 0.5, "k": 3}
    with pytest.raises(ValueError, match="image.acc"):
        html_report.flatten_metrics({"image": {"acc": "high"}})


def test_relative_link_is_relative_to_the_page():
    assert html_report.relative_link(paths.figure_file("zones"), paths.REPORT_PAGE) == "../zones.png"
    assert html_report.relative_link(paths.concept_sound(1, 0), paths.REPORT_PAGE) == "../sounds/concept_1_0.wav"


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


def section(text: str, anchor: str) -> str:
    """The HTML of one section of the page: from its heading to the next h2."""
    start = text.index(f'<h2 id="{anchor}">')
    end = text.find("<h2", start + 1)
    return text[start:end if end >= 0 else len(text)]


def sources(html_text: str, tag: str) -> list[str]:
    return re.findall(rf'<{tag}[^>]*src="([^"]+)"', html_text)


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", path
    return int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")


def test_headline_shows_the_measured_numbers_with_their_meaning(plotted):
    headline = section((plotted / paths.REPORT_PAGE).read_text(), "headline")
    # Fake metrics: cluster image.acc 0.9, fused 0.987, coherence image -> audio 0.91; the rest absent.
    for value, label in (("90.0%", "images sorted into concepts"), ("98.7%", "both senses together"),
                         ("91.0%", "image → imagined sound")):
        assert re.search(rf'<div class="value">{re.escape(value)}</div><div class="label">{re.escape(label)}</div>'
                         r'<div class="meaning">\w', headline), label
    assert "audio alone" not in headline and "n/a" not in headline  # not measured: left out, not shown as n/a
    assert f"found {K_IMAGE} image concepts and {K_AUDIO} audio clusters" in headline


def test_every_concept_row_has_its_images_players_partner_and_zone(plotted):
    page = plotted / paths.REPORT_PAGE
    rows = re.findall(r'<tr class="concept" id="concept-(\d+)">(.*?)</tr>', page.read_text(), flags=re.S)
    assert [int(concept) for concept, _ in rows] == list(range(K_IMAGE))
    for concept, row in rows:
        images, players = sources(row, "img"), sources(row, "audio")
        assert [Path(link).name for link in images] == [f"concept_{concept}_members.png", f"concept_{concept}_imagined.png"]
        assert [Path(link).name for link in players] == [f"concept_{concept}_{sample}.wav" for sample in range(2)]
        for link in images + players:
            assert (page.parent / link).is_file(), link
        for link in images:  # a strip of up to 8 samples, 28 x 28 shown at twice the size
            width, height = png_size(page.parent / link)
            assert height == 56 and width >= 56
        assert re.search(r"audio concept \d+</b> \(\d+ clusters merged\): P\(audio \| image\) [\d.]+, "
                         r"P\(image \| audio\) [\d.]+", row)
        assert re.search(r"best single audio cluster \d+: P\(cluster \| concept\) 0.60", row)
        assert re.search(r'<span class="zone (convergence|divergence|both|none)"', row)


def test_cross_modal_examples_show_source_and_imagined_side_by_side(plotted):
    page = plotted / paths.REPORT_PAGE
    text = section(page.read_text(), "cross-modal")
    pairs = re.findall(r'<table class="example"><tr class="pair"><td class="source">(.*?)</td><td class="arrow">&rarr;</td>'
                       r'<td class="imagined">(.*?)</td></tr>', text, flags=re.S)
    assert len(pairs) == 2 * EXAMPLES
    image_to_audio, audio_to_image = pairs[:EXAMPLES], pairs[EXAMPLES:]
    for example, (source, imagined) in enumerate(image_to_audio):
        assert "test image #" in source and sources(source, "audio") == []
        assert [Path(link).name for link in sources(source, "img")] == [f"image_to_audio_{example}_source.png"]
        assert [Path(link).name for link in sources(imagined, "audio")] == [f"image_to_audio_{example}.wav"]
        assert png_size(page.parent / sources(imagined, "img")[0]) == (3 * 32, 64)  # its spectrogram
    for example, (source, imagined) in enumerate(audio_to_image):
        assert "test recording #" in source
        assert png_size(page.parent / sources(source, "img")[0]) == (3 * 32, 64)
        assert [Path(link).name for link in sources(source, "audio")] == [f"audio_to_image_source_{example}.wav"]
        assert png_size(page.parent / sources(imagined, "img")[0]) == (56, 56) and sources(imagined, "audio") == []
    for link in html_report.local_links(text):
        assert (page.parent / link).is_file(), link


def test_zones_are_read_at_the_level_of_merged_concepts(plotted):
    text = section((plotted / paths.REPORT_PAGE).read_text(), "zones")
    table = re.search(r'<table class="merged">(.*?)</table>', text, flags=re.S).group(1)
    rows = re.findall(r"<tr><th>image (\d+)</th>(.*?)</tr>", table, flags=re.S)
    assert [int(i) for i, _ in rows] == list(range(K_IMAGE))
    for _, row in rows:  # one share per merged audio concept, and a zone
        shares = [float(v) for v in re.findall(r"<td[^>]*>([\d.]+)</td>", row)]
        assert len(shares) == K_IMAGE and abs(sum(shares) - 1.0) < 0.02
        assert re.search(r'class="zone (convergence|divergence|both|none)"', row)
    # The counts of the fake project, merged by hand, give the same shares.
    counts = pd.read_csv(plotted / paths.COOCCURRENCE, index_col="image_concept").to_numpy(dtype=float)
    merged = np.stack([counts[:, [a for a in range(K_AUDIO) if a % K_IMAGE == m]].sum(axis=1) for m in range(K_IMAGE)], 1)
    expected = merged / merged.sum(axis=1, keepdims=True)
    shown = np.array([[float(v) for v in re.findall(r"<td[^>]*>([\d.]+)</td>", row)] for _, row in rows])
    assert np.allclose(shown, expected, atol=0.006)


def test_merged_zones_are_left_out_when_the_table_has_no_merged_concepts():
    text = html_report.render(html_report.Page("t"))
    assert '<table class="merged">' not in text and '<h2 id="zones">' in text


def test_generalisation_section_appears_only_when_its_file_exists(plotted, tmp_path, monkeypatch):
    assert 'id="generalisation"' not in (plotted / paths.REPORT_PAGE).read_text()  # no file in the fake project
    monkeypatch.chdir(tmp_path)
    assert report_content.read_generalisation() is None
    storage.write_json(paths.GENERALISATION_METRICS, {
        "loso.audio_acc_through_images.mean": 0.91, "loso.audio_acc_through_images.min": 0.82,
        "loso.audio_acc_through_images.jackson": 0.95, "loso.fused_acc.mean": 0.97})
    text = html_report.render(html_report.Page("t", generalisation=report_content.read_generalisation()))
    table = section(text, "generalisation")
    assert "<h3>loso</h3>" in table
    assert "<tr><th>metric</th><th>mean</th><th>min</th><th>jackson</th></tr>" in table
    assert re.search(r"<td>audio_acc_through_images</td><td[^>]*>0.91</td><td[^>]*>0.82</td><td[^>]*>0.95</td>", table)
    assert re.search(r"<td>fused_acc</td><td[^>]*>0.97</td><td[^>]*></td><td[^>]*></td>", table)
    assert text.index('id="headline"') < text.index('id="generalisation"') < text.index('id="concepts"')


def test_full_metric_tables_and_figures_come_after_the_readable_sections(plotted):
    text = (plotted / paths.REPORT_PAGE).read_text()
    order = [text.index(f'<h2 id="{anchor}">') for anchor in ("headline", "concepts", "cross-modal", "zones", "metrics",
                                                              "figures")]
    assert order == sorted(order)


def test_stage_prints_progress_of_its_slow_steps(plotted):
    printed = (plotted / "stage_output.txt").read_text()
    for step in ("t-SNE map of image codes", "t-SNE map of audio codes (", "t-SNE map of audio codes for audio alone",
                 "Griffin-Lim: 4 sounds imagined", "Griffin-Lim: 4 test recordings", "Griffin-Lim: 6 sounds of each",
                 "report written"):
        assert re.search(rf"^plot: {re.escape(step)}.* \(\d+\.\d s\)$", printed, flags=re.M), step


def test_picture_enlarges_samples_side_by_side_with_low_frequencies_at_the_bottom():
    images = np.zeros((2, 28, 28))
    images[1] = 1.0
    pixels = figures.picture(images, "image")
    assert pixels.shape == (56, 2 * 56 + figures.PICTURE_GAP, 3) and pixels.dtype == np.uint8
    assert pixels[:, :56].max() == 0 and pixels[:, -56:].min() == 255
    spectrogram = np.zeros((1, 64, 32))
    spectrogram[0, 0] = 1.0  # the lowest mel band, loud
    pixels = figures.picture(spectrogram, "spectrogram", (0.0, 1.0))
    assert pixels.shape == (64, 96, 3)
    assert pixels[-1].mean() > pixels[0].mean() + 100  # bright at the bottom row
    with pytest.raises(ValueError, match="picture"):
        figures.picture(np.zeros((28, 28)), "image")


def test_links_to_the_page_own_sections_are_not_files():
    assert html_report.local_links('<a href="#zones">z</a><img src="a%20b.png">') == ["a b.png"]


def test_report_renders_in_headless_chromium(plotted, tmp_path):
    """The page opens offline from disk in a real browser, and the screenshot shows content."""
    spec = importlib.util.spec_from_file_location("check_report", REPO / "scripts" / "check_report.py")
    check_report = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(check_report)
    try:
        check_report.find_browser()
    except ValueError as error:
        if os.environ.get("REQUIRE_CHROMIUM"):  # .ci/run installs it and sets this
            raise
        pytest.skip(str(error))
    shot = tmp_path / "report.png"
    check_report.screenshot(plotted / paths.REPORT_PAGE, shot)
    assert check_report.blank_reason(shot) is None
