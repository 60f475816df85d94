"""The figures and sounds of plots/: which the report shows, drawn from the pipeline's outputs
(``figures`` draws, ``audio`` makes the sounds). Each figure section yields (name, caption, figure).
"""

import time
from pathlib import Path

import numpy as np
import pandas as pd

from digit_concepts.senses import audio, autoencoders
from digit_concepts.reporting import figures, html_report
from digit_concepts.core import paths, storage
from digit_concepts.core.sense import AUDIO, IMAGE, SENSES, SplitArrays
from digit_concepts.evaluation import scoring
from digit_concepts.concepts import voices

EXAMPLES = 10  # columns of reconstruction and cross-modal figures, and cross-modal WAVs
SOUNDS_PER_CONCEPT = 2
IMAGE_LATENT_POINTS = 2000  # test images; t-SNE of more would take over ~30 s on one core
AUDIO_LATENT_TRAIN_POINTS = 700  # beside all test recordings, so speakers' clusters show
KIND = {"image": "image", "audio": "spectrogram"}  # sense name -> the kind of picture its samples are


def read_assignments() -> dict[str, np.ndarray]:
    """The cluster stage's concepts and those of the audio-alone reference, in one mapping."""
    return {**storage.read_npz(paths.CLUSTER_ASSIGNMENTS), **storage.read_npz(paths.AUDIO_ALONE)}


def read_test_samples() -> dict[str, np.ndarray]:
    """What each sense shows (images, log-mels) of its test split, by sense name."""
    return {sense.name: storage.read_npz(sense.shown)["test"] for sense in SENSES}


def inside(folder: Path, target: Path) -> Path:
    """Where a file of plots/ goes while the stage writes into a temporary copy of plots/."""
    return folder / Path(target).relative_to(paths.PLOTS_DIR)


def reconstruction_figures(codes: dict, test_samples: dict, seed: int, clock: "Clock"):
    for sense in SENSES:
        test, name = test_samples[sense.name], sense.name
        chosen = figures.subsample(len(test), EXAMPLES, seed)
        _, decoder = autoencoders.load_halves(paths.autoencoder_model(name), seed)
        # A direct call, not predict(): ten samples need no tf.data pipeline (and its log noise).
        rebuilt = np.asarray(decoder(SplitArrays(codes).of(sense, "test")[chosen], training=False))
        rows = [("test", test[chosen], KIND[name]), ("reconstructed", rebuilt, KIND[name])]
        labels = [f"#{index}" for index in chosen]
        yield (f"{name}_reconstructions", f"{name} autoencoder: test samples and their reconstructions",
               figures.sample_rows(rows, f"{name} reconstructions (test split)", labels))
        clock(f"{name} reconstructions drawn")


def training_figure():
    losses = {sense.name: {split: pd.read_csv(paths.training_loss_log(sense.name, split), sep="\t")
                           for split in ("train", "eval")} for sense in SENSES}
    yield "training_curves", "autoencoder training loss per epoch (eval = validation split)", figures.training_curves(losses)


def latent_points(codes: dict, assignments: dict, seed: int) -> dict:
    """Per sense: (codes, clusters, digits, description) of the points each t-SNE map shows."""
    codes, assignments = SplitArrays(codes), SplitArrays(assignments)
    chosen = figures.subsample(len(codes.of(IMAGE, "test")), IMAGE_LATENT_POINTS, seed)
    points = {IMAGE.name: (codes.of(IMAGE, "test")[chosen], assignments.of(IMAGE, "test")[chosen],
                           scoring.load_digits(IMAGE.name, "test")[chosen], f"{len(chosen)} test images")}
    train = figures.subsample(len(codes.of(AUDIO, "train")), AUDIO_LATENT_TRAIN_POINTS, seed)

    def test_and_train(test: np.ndarray, whole_train: np.ndarray) -> np.ndarray:
        return np.concatenate([test, whole_train[train]])

    points[AUDIO.name] = (test_and_train(codes.of(AUDIO, "test"), codes.of(AUDIO, "train")),
                          test_and_train(assignments.of(AUDIO, "test"), assignments.of(AUDIO, "train")),
                          test_and_train(scoring.load_digits(AUDIO.name, "test"),
                                         scoring.load_digits(AUDIO.name, "train")),
                          f"all {len(codes.of(AUDIO, 'test'))} test and {len(train)} train recordings")
    return points


def latent_figures(codes: dict, assignments: dict, seed: int, clock: "Clock"):
    for sense, (sense_codes, clusters, digits, what) in latent_points(codes, assignments, seed).items():
        embedding = figures.embed_2d(sense_codes, seed)
        clock(f"t-SNE map of {sense} codes ({what})")
        yield (f"latent_{sense}", f"t-SNE of {sense} latent codes ({what})",
               figures.latent_scatter(embedding, clusters, digits, f"{sense} latent space, t-SNE of {what}"))
    # Audio alone: the same recordings, each voice found centred (none found: the codes as they are).
    voice_count = int(assignments["audio_voice_train"].max()) + 1
    centred = dict(zip((AUDIO.key("train"), AUDIO.key("test")), voices.centred_codes(
        SplitArrays(codes).of(AUDIO, "train"), SplitArrays(codes).of(AUDIO, "test"), assignments["audio_voice_train"],
        assignments["audio_voice_test"], voice_count)))
    alone = {AUDIO.key("train"): assignments["audio_alone_train"], AUDIO.key("test"): assignments["audio_alone_test"]}
    centred_codes, concepts, digits, what = latent_points({**codes, **centred}, {**assignments, **alone}, seed)["audio"]
    embedding = figures.embed_2d(centred_codes, seed)
    clock(f"t-SNE map of audio codes for audio alone ({what})")
    codes_shown = f"codes centred per voice ({voice_count} voices)" if voice_count > 1 else "codes"
    yield ("latent_audio_alone", f"t-SNE of audio {codes_shown}, coloured by the audio-alone concepts (k=10) and "
                                 f"by digit ({what})",
           figures.latent_scatter(embedding, concepts, digits, f"audio alone: {codes_shown}, t-SNE of {what}"))


def relation_figures(params: dict):
    counts = pd.read_csv(paths.COOCCURRENCE, index_col="image_concept")
    counts.columns = counts.columns.astype(str)
    yield ("cooccurrence", "train co-occurrence of image and audio concepts",
           figures.cooccurrence_heatmap(counts, pd.read_csv(paths.ONE_TO_ONE)))
    yield ("one_to_many", "one-to-many: audio partners of each image concept",
           figures.partner_shares(counts, pd.read_csv(paths.ONE_TO_MANY)))
    thresholds = params["convergence"]
    concepts = pd.read_csv(paths.CONCEPT_TABLE)
    yield ("zones", "convergence and divergence zones",
           figures.zone_chart(concepts, thresholds["max_entropy_bits"], thresholds["min_strength"]))
    attention = storage.read_npz(paths.ATTENTION)
    yield ("attention", "modality attention: mean weight of each sense per fused concept",
           figures.attention_chart(attention["image_weight"], attention["audio_weight"], attention["fused_concept"]))


CROSS_MODAL = (  # (source, target, generated array of the target, caption)
    ("image", "audio", "image_to_audio_spectrograms", "test images and the sounds imagined from them"),
    ("audio", "image", "audio_to_image_images", "test recordings and the images imagined from them"),
)
CONCEPT_GRIDS = (  # (generated array and figure name, kind, caption)
    ("concept_images", "image", "new images sampled from each image concept"),
    ("concept_spectrograms", "spectrogram", "sounds of each image concept's audio partners"),
)


def generation_figures(generated: dict):
    for source, target, imagined, caption in CROSS_MODAL:
        key = f"{source}_to_{target}"
        digits = scoring.load_digits(source, "test")  # shown beside each example, to judge by eye
        labels = [f"#{i} ({digits[i]})" for i in generated[f"{key}_source_index"][:EXAMPLES]]
        rows = [(f"test {source}", generated[f"{key}_sources"][:EXAMPLES], KIND[source]),
                (f"imagined {target}", generated[imagined][:EXAMPLES], KIND[target])]
        title = f"{source} -> {target} (true digit in brackets)"
        yield f"cross_modal_{key}", caption, figures.sample_rows(rows, title, labels)
    for name, kind, caption in CONCEPT_GRIDS:
        rows = [(f"concept {concept}", samples, kind) for concept, samples in enumerate(generated[name])]
        yield name, caption, figures.sample_rows(rows, caption)


def write_sounds(folder: Path, generated: dict, settings: audio.AudioSettings, clock: "Clock") -> list[Path]:
    """Griffin-Lim WAVs of the cross-modal examples (imagined sounds and source recordings) and of
    each concept's first samples; returns the files written."""
    groups = {
        "sounds imagined from test images": [(paths.image_to_audio_sound(example), spectrogram) for example, spectrogram
                                             in enumerate(generated["image_to_audio_spectrograms"][:EXAMPLES])],
        "test recordings of the audio -> image examples": [
            (paths.source_sound(example), spectrogram)
            for example, spectrogram in enumerate(generated["audio_to_image_sources"][:EXAMPLES])],
        "sounds of each concept": [(paths.concept_sound(concept, sample), spectrogram)
                                   for concept, samples in enumerate(generated["concept_spectrograms"])
                                   for sample, spectrogram in enumerate(samples[:SOUNDS_PER_CONCEPT])],
    }
    inside(folder, paths.SOUNDS_DIR).mkdir(parents=True, exist_ok=True)
    written = []
    for group, jobs in groups.items():
        for target, spectrogram in jobs:
            audio.write_wav(inside(folder, target), audio.to_sound(spectrogram, settings), settings.sample_rate)
            written.append(target)
        clock(f"Griffin-Lim: {len(jobs)} {group}")
    return written


class Clock:
    """Progress lines with the seconds since the stage started, printed at once (not buffered)."""

    def __init__(self, stage: str = "plot"):
        self.stage, self.start = stage, time.monotonic()

    def __call__(self, message: str) -> None:
        print(f"{self.stage}: {message} ({time.monotonic() - self.start:.1f} s)", flush=True)


def write_page(folder: Path, page: html_report.Page, clock: Clock) -> Path:
    """The report page, written into ``folder`` (a stand-in for plots/), every link checked."""
    target = inside(folder, paths.REPORT_PAGE)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(html_report.render(page))
    problems = html_report.missing_files(target)
    if problems:
        raise ValueError(f"{paths.REPORT_PAGE}: broken links: {', '.join(problems)}")
    clock(f"report written ({len(page.links())} linked files)")
    return target


def summary(drawn: list, sounds: list) -> str:
    return f"{len(drawn)} figures, {len(sounds)} sounds, report at {paths.REPORT_PAGE}"


def draw(folder: Path, params: dict, codes: dict, assignments: dict, generated: dict, test_samples: dict,
         clock: Clock) -> list[tuple[str, str]]:
    """Every figure, saved as PNG into ``folder`` (a stand-in for plots/); returns (caption, link
    from the report page) of each, in the order the report shows them."""
    seed = params["seed"]
    drawn = []
    for section in (reconstruction_figures(codes, test_samples, seed, clock), training_figure(),
                    latent_figures(codes, assignments, seed, clock), relation_figures(params),
                    generation_figures(generated)):
        for name, caption, figure in section:
            figures.save(figure, inside(folder, paths.figure_file(name)))
            drawn.append((caption, html_report.relative_link(paths.figure_file(name), paths.REPORT_PAGE)))
    clock(f"{len(drawn)} figures drawn")
    return drawn
