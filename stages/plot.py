"""Stage plot: every figure as PNG, generated sounds as 8 kHz WAV, and an offline HTML report.

The whole plots/ folder is written into a temporary folder and swapped in at the end, so a
failed run never leaves a mix of old and new figures.
"""

import time
from pathlib import Path

import numpy as np
import pandas as pd

from digit_concepts import audio, autoencoders, figures, paths, report, scoring, storage, voices, zones
from digit_concepts.params import load

EXAMPLES = 10  # columns of reconstruction and cross-modal figures, and cross-modal WAVs
SOUNDS_PER_CONCEPT = 2
IMAGE_LATENT_POINTS = 2000  # test images; t-SNE of more would take over ~30 s on one core
AUDIO_LATENT_TRAIN_POINTS = 700  # beside all test recordings, so speakers' clusters show
SENSES = ("image", "audio")
KIND = {"image": "image", "audio": "spectrogram"}
SAMPLES = {"image": paths.IMAGES, "audio": paths.SPECTROGRAMS}
METRICS = {"reconstruction": paths.RECONSTRUCTION_METRICS, "cluster": paths.CLUSTER_METRICS,
           "relate": paths.RELATE_METRICS, "convergence": paths.CONVERGENCE_METRICS,
           "transfer": paths.TRANSFER_METRICS}


def inside(folder: Path, target: Path) -> Path:
    """Where a file of plots/ goes while the stage writes into a temporary copy of plots/."""
    return folder / Path(target).relative_to(paths.PLOTS_DIR)


def reconstruction_figures(codes: dict, test_samples: dict, seed: int, clock: "Clock"):
    for sense in SENSES:
        test = test_samples[sense]
        chosen = figures.subsample(len(test), EXAMPLES, seed)
        _, decoder = autoencoders.load_halves(paths.autoencoder_model(sense), seed)
        # A direct call, not predict(): ten samples need no tf.data pipeline (and its log noise).
        rebuilt = np.asarray(decoder(codes[f"{sense}_test"][chosen], training=False))
        rows = [("test", test[chosen], KIND[sense]), ("reconstructed", rebuilt, KIND[sense])]
        labels = [f"#{index}" for index in chosen]
        yield (f"{sense}_reconstructions", f"{sense} autoencoder: test samples and their reconstructions",
               figures.sample_rows(rows, f"{sense} reconstructions (test split)", labels))
        clock(f"{sense} reconstructions drawn")


def training_figure():
    losses = {sense: {split: pd.read_csv(paths.training_loss_log(sense, split), sep="\t") for split in ("train", "eval")}
              for sense in SENSES}
    yield "training_curves", "autoencoder training loss per epoch (eval = validation split)", figures.training_curves(losses)


def latent_points(codes: dict, assignments: dict, seed: int) -> dict:
    """Per sense: (codes, clusters, digits, description) of the points each t-SNE map shows."""
    chosen = figures.subsample(len(codes["image_test"]), IMAGE_LATENT_POINTS, seed)
    points = {"image": (codes["image_test"][chosen], assignments["image_test"][chosen],
                        scoring.load_digits("image", "test")[chosen], f"{len(chosen)} test images")}
    train = figures.subsample(len(codes["audio_train"]), AUDIO_LATENT_TRAIN_POINTS, seed)

    def test_and_train(test: np.ndarray, whole_train: np.ndarray) -> np.ndarray:
        return np.concatenate([test, whole_train[train]])

    points["audio"] = (test_and_train(codes["audio_test"], codes["audio_train"]),
                       test_and_train(assignments["audio_test"], assignments["audio_train"]),
                       test_and_train(scoring.load_digits("audio", "test"), scoring.load_digits("audio", "train")),
                       f"all {len(codes['audio_test'])} test and {len(train)} train recordings")
    return points


def latent_figures(codes: dict, assignments: dict, seed: int, clock: "Clock"):
    for sense, (sense_codes, clusters, digits, what) in latent_points(codes, assignments, seed).items():
        embedding = figures.embed_2d(sense_codes, seed)
        clock(f"t-SNE map of {sense} codes ({what})")
        yield (f"latent_{sense}", f"t-SNE of {sense} latent codes ({what})",
               figures.latent_scatter(embedding, clusters, digits, f"{sense} latent space, t-SNE of {what}"))
    # Audio alone: the same recordings, each voice found centred (none found: the codes as they are).
    voice_count = int(assignments["audio_voice_train"].max()) + 1
    centred = dict(zip(("audio_train", "audio_test"), voices.centred_codes(
        codes["audio_train"], codes["audio_test"], assignments["audio_voice_train"], assignments["audio_voice_test"],
        voice_count)))
    alone = {f"audio_{split}": assignments[f"audio_alone_{split}"] for split in ("train", "test")}
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

    def __init__(self):
        self.start = time.monotonic()

    def __call__(self, message: str) -> None:
        print(f"plot: {message} ({time.monotonic() - self.start:.1f} s)", flush=True)


# --- the report page: headline, concepts, cross-modal examples, merged zones ----------------

HEADLINE = (  # (metrics file, key, label, what it means)
    ("cluster", "image.acc", "images sorted into concepts",
     "Test images placed in the right one of the image concepts the learner found by itself (each concept "
     "matched to one digit only to score)."),
    ("relate", "audio_acc_through_images", "recordings named through images",
     "Test recordings whose audio cluster's best image partner, learnt only from which concepts occur together, "
     "is their digit (each borrowing evidence from fellow test recordings nearer than any train one)."),
    ("transfer", "image_affine_acc", "digits tilted, scaled, shifted",
     "Test images under a random rotation (up to 20 degrees), scale (0.85-1.15) and shift (2 px), named as the "
     "clean ones are."),
    ("convergence", "fused_acc", "both senses together",
     "Test episodes (an image and a recording of one digit) for which the two senses, each weighted by its "
     "confidence, name the right concept."),
    ("convergence", "coherence_image_to_audio", "image → imagined sound",
     "Sounds imagined from test images that an independent classifier (trained with labels, for scoring only) "
     "hears as the image's digit."),
    ("convergence", "coherence_audio_to_image", "recording → imagined image",
     "Images imagined from test recordings that an independent classifier reads as the recording's digit."),
    ("cluster", "audio_reference.acc", "audio alone",
     "Test recordings placed in the right one of 10 concepts found from sound alone, without images "
     "(voice-aware clustering): what hearing achieves without seeing."),
)
MEMBERS_SHOWN = 8  # test images per concept row


def headline(metrics: dict) -> list[report.Headline]:
    flat = {name: report.flatten_metrics(tree) for name, tree in metrics.items()}
    return [report.Headline(label, flat[source][key], meaning) for source, key, label, meaning in HEADLINE
            if key in flat.get(source, {})]


def summary(metrics: dict, concepts: pd.DataFrame) -> str:
    images = int((concepts["sense"] == "image").sum())
    clusters = int((concepts["sense"] == "audio").sum())
    text = f"The learner found {images} image concepts and {clusters} audio clusters"
    if "merged_concept" in concepts:
        merged = concepts.loc[concepts["sense"] == "audio", "merged_concept"].nunique()
        text += f", which it merged into {merged} audio concepts through their image partners"
    zones = metrics.get("convergence", {})
    if "n_convergence_zones" in zones:
        text += f"; {zones['n_convergence_zones']} image concepts converge with an audio concept"
    return text + "."


def merged_zones(params: dict, concepts: pd.DataFrame, counts: pd.DataFrame) -> report.MergedZones | None:
    """Image concepts against merged audio concepts, by the pipeline's own zone rules (None when
    the concept table has no merged concepts)."""
    if "merged_concept" not in concepts:
        return None
    audio_rows = concepts[concepts["sense"] == "audio"]
    merged_of = dict(zip(audio_rows["concept"].astype(str), audio_rows["merged_concept"].astype(int)))
    merged_ids = sorted(set(merged_of.values()))
    column = {merged: position for position, merged in enumerate(merged_ids)}
    table = np.zeros((len(counts), len(merged_ids)))
    for cluster in counts.columns:
        if cluster in merged_of:
            table[:, column[merged_of[cluster]]] += counts[cluster].to_numpy()
    settings = params["convergence"]
    rows = zones.concept_table(table, np.arange(len(merged_ids)), settings["min_strength"], settings["min_share"],
                               settings["max_entropy_bits"])
    image_rows = rows[rows["sense"] == "image"].set_index("concept")
    zone_of = [image_rows["zone"].get(position, "none") for position in range(len(counts))]
    with np.errstate(invalid="ignore", divide="ignore"):
        audio_given_image = np.nan_to_num(table / table.sum(axis=1, keepdims=True))
        image_given_audio = np.nan_to_num(table / table.sum(axis=0, keepdims=True))
    clusters = [sum(1 for merged in merged_of.values() if merged == m) for m in merged_ids]
    return report.MergedZones(audio_given_image, image_given_audio, merged_ids, clusters, zone_of,
                              settings["min_strength"], settings["min_share"], settings["max_entropy_bits"])


def concept_rows(folder: Path, generated: dict, test_images: np.ndarray, image_test_concepts: np.ndarray,
                 concepts: pd.DataFrame, zones_merged: report.MergedZones | None, seed: int) -> list[report.ConceptRow]:
    """One row per image concept; writes its two picture strips."""
    link = lambda target: report.relative_link(target, paths.REPORT_PAGE)  # noqa: E731
    inside(folder, paths.REPORT_MEDIA_DIR).mkdir(parents=True, exist_ok=True)
    rows = []
    for entry in concepts[concepts["sense"] == "image"].sort_values("concept").itertuples():
        concept = int(entry.concept)
        strips = {}
        members = np.flatnonzero(image_test_concepts == concept)
        if len(members):
            chosen = members[figures.subsample(len(members), MEMBERS_SHOWN, seed + concept)]
            strips["members"] = test_images[chosen]
        if concept < len(generated["concept_images"]):
            strips["imagined"] = generated["concept_images"][concept][:MEMBERS_SHOWN]
        for what, samples in strips.items():
            figures.save_picture(figures.picture(samples, "image"), inside(folder, paths.concept_strip(concept, what)))
        sounds = tuple(link(paths.concept_sound(concept, sample)) for sample in range(SOUNDS_PER_CONCEPT)
                       if concept < len(generated["concept_spectrograms"])
                       and sample < generated["concept_spectrograms"].shape[1])
        merged = {}
        if zones_merged is not None and concept < len(zones_merged.audio_given_image):
            best = int(np.argmax(zones_merged.audio_given_image[concept]))
            merged = dict(merged_partner=zones_merged.merged_ids[best], merged_clusters=zones_merged.clusters[best],
                          p_merged_given_concept=float(zones_merged.audio_given_image[concept, best]),
                          p_concept_given_merged=float(zones_merged.image_given_audio[concept, best]))
        rows.append(report.ConceptRow(
            concept, int(entry.size), link(paths.concept_strip(concept, "members")) if "members" in strips else None,
            link(paths.concept_strip(concept, "imagined")) if "imagined" in strips else None, sounds,
            int(entry.best_partner), float(entry.p_partner_given_concept), float(entry.p_concept_given_partner),
            str(entry.zone), **merged))
    return rows


def cross_modal_examples(folder: Path, generated: dict) -> dict[str, list[report.Example]]:
    """Each example's source beside what was imagined from it; writes their small pictures."""
    link = lambda target: report.relative_link(target, paths.REPORT_PAGE)  # noqa: E731
    limits = figures.spectrogram_limits(generated["image_to_audio_spectrograms"][:EXAMPLES],
                                        generated["audio_to_image_sources"][:EXAMPLES])
    inside(folder, paths.REPORT_MEDIA_DIR).mkdir(parents=True, exist_ok=True)

    def draw(direction: str, example: int, role: str, sample: np.ndarray, kind: str) -> str:
        target = paths.cross_modal_picture(direction, example, role)
        figures.save_picture(figures.picture(sample[None], kind, limits), inside(folder, target))
        return link(target)

    examples = {}
    digits = scoring.load_digits("image", "test")  # shown beside each example, to judge by eye
    examples["image → sound: a test image and the sound imagined from it"] = [
        report.Example(f"test image #{index} (digit {digits[index]})",
                       draw("image_to_audio", example, "source", source, "image"), None,
                       "imagined sound", draw("image_to_audio", example, "imagined", imagined, "spectrogram"),
                       link(paths.image_to_audio_sound(example)))
        for example, (index, source, imagined) in enumerate(zip(
            generated["image_to_audio_source_index"][:EXAMPLES], generated["image_to_audio_sources"][:EXAMPLES],
            generated["image_to_audio_spectrograms"][:EXAMPLES]))]
    digits = scoring.load_digits("audio", "test")
    examples["sound → image: a test recording and the image imagined from it"] = [
        report.Example(f"test recording #{index} (digit {digits[index]})",
                       draw("audio_to_image", example, "source", source, "spectrogram"), link(paths.source_sound(example)),
                       "imagined image", draw("audio_to_image", example, "imagined", imagined, "image"), None)
        for example, (index, source, imagined) in enumerate(zip(
            generated["audio_to_image_source_index"][:EXAMPLES], generated["audio_to_image_sources"][:EXAMPLES],
            generated["audio_to_image_images"][:EXAMPLES]))]
    return examples


def read_generalisation() -> dict | None:
    """The leave-one-speaker-out summary, once scripts/loso.py has written it (the report leaves its
    section out until then; tests/test_dvc_deps.py then insists on it being a dep of this stage)."""
    return storage.read_json(paths.GENERALISATION_METRICS) if paths.GENERALISATION_METRICS.is_file() else None


def main() -> None:
    clock = Clock()
    params = load()
    seed = params["seed"]
    codes = storage.read_npz(paths.ENCODINGS)
    assignments = {**storage.read_npz(paths.CLUSTER_ASSIGNMENTS), **storage.read_npz(paths.AUDIO_ALONE)}
    generated = storage.read_npz(paths.GENERATED)
    settings = audio.AudioSettings(**storage.read_json(paths.AUDIO_SETTINGS))
    metrics = {name: storage.read_json(source) for name, source in METRICS.items()}
    generalisation = read_generalisation()
    test_samples = {sense: storage.read_npz(SAMPLES[sense])["test"] for sense in SENSES}
    clock("inputs read")
    with storage.atomic_directory(paths.PLOTS_DIR) as folder:
        drawn = []
        for section in (reconstruction_figures(codes, test_samples, seed, clock), training_figure(),
                        latent_figures(codes, assignments, seed, clock), relation_figures(params),
                        generation_figures(generated)):
            for name, caption, figure in section:
                figures.save(figure, inside(folder, paths.figure_file(name)))
                drawn.append((caption, report.relative_link(paths.figure_file(name), paths.REPORT_PAGE)))
        clock(f"{len(drawn)} figures drawn")
        sounds = write_sounds(folder, generated, settings, clock)
        concepts = pd.read_csv(paths.CONCEPT_TABLE)
        counts = pd.read_csv(paths.COOCCURRENCE, index_col="image_concept")
        counts.columns = counts.columns.astype(str)
        zones_merged = merged_zones(params, concepts, counts)
        page = report.Page(
            "Digit concepts from two senses", headline=headline(metrics), summary=summary(metrics, concepts),
            concepts=concept_rows(folder, generated, test_samples["image"], assignments["image_test"], concepts,
                                  zones_merged, seed),
            examples=cross_modal_examples(folder, generated), merged_zones=zones_merged,
            generalisation=generalisation, metrics=metrics, figures=drawn)
        target = inside(folder, paths.REPORT_PAGE)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(report.render(page))
        problems = report.missing_files(target)
        if problems:
            raise ValueError(f"{paths.REPORT_PAGE}: broken links: {', '.join(problems)}")
        clock(f"report written ({len(page.links())} linked files)")
    print(f"{len(drawn)} figures, {len(sounds)} sounds, report at {paths.REPORT_PAGE}")


if __name__ == "__main__":
    from digit_concepts.stage_runner import run

    run(main, __file__)
