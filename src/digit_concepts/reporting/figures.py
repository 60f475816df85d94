"""Every figure of the plot stage, built from arrays and tables (no file reading here).

Each function returns a matplotlib Figure; ``save`` writes and closes it. Digits reach this
module only as an argument used to colour points, never to decide anything.
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: the stage runs without a display

import matplotlib.pyplot as plt  # noqa: E402 - the backend must be chosen first
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.colors import PowerNorm  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

DPI = 100
ZONE_COLOURS = {"convergence": "tab:green", "divergence": "tab:orange", "both": "tab:purple", "none": "tab:gray"}
KINDS = ("image", "spectrogram")


def save(figure, target: Path) -> None:
    # No metadata: the PNG bytes then depend only on the pixels, so DVC sees real changes only.
    figure.savefig(target, dpi=DPI, metadata={"Software": None})
    plt.close(figure)


def category_colours(count: int) -> np.ndarray:
    """``count`` distinguishable RGBA colours; over-clustered senses need more than tab20 has."""
    if count <= 10:
        return plt.get_cmap("tab10")(np.arange(count))
    if count <= 20:
        return plt.get_cmap("tab20")(np.arange(count))
    return plt.get_cmap("hsv")(np.linspace(0.0, 1.0, count, endpoint=False))


def _show(axis, sample: np.ndarray, kind: str, limits: tuple[float, float]) -> None:
    if kind == "image":
        axis.imshow(sample, cmap="gray", vmin=0.0, vmax=1.0)
    else:  # log-mel: low frequencies at the bottom, as spectrograms are read
        axis.imshow(sample, cmap="magma", origin="lower", aspect="auto", vmin=limits[0], vmax=limits[1])
    axis.set_xticks([])
    axis.set_yticks([])


def sample_rows(rows: list[tuple[str, np.ndarray, str]], title: str, column_labels: list[str] | None = None):
    """A grid, one row per (label, samples (n, h, w), kind), kind "image" or "spectrogram"."""
    if not rows:
        raise ValueError(f"{title}: no rows to draw")
    for label, samples, kind in rows:
        if kind not in KINDS or np.ndim(samples) != 3 or len(samples) == 0:
            raise ValueError(f"{title}, row {label!r}: need kind in {KINDS} and samples (n, h, w), "
                             f"got {kind!r} and shape {np.shape(samples)}")
    columns = max(len(samples) for _, samples, _ in rows)
    spectrograms = [samples for _, samples, kind in rows if kind == "spectrogram"]
    # One colour range for every spectrogram of the figure, so rows compare by eye.
    limits = tuple(np.percentile(np.concatenate([s.ravel() for s in spectrograms]), [1, 99])) if spectrograms else (0, 1)
    heights = [1.4 if kind == "spectrogram" else 1.0 for _, _, kind in rows]
    figure, axes = plt.subplots(len(rows), columns, figsize=(1.0 + 0.9 * columns, 0.6 + 0.9 * sum(heights)),
                                gridspec_kw={"height_ratios": heights}, squeeze=False)
    for row, (label, samples, kind) in enumerate(rows):
        for column in range(columns):
            axis = axes[row, column]
            if column < len(samples):
                _show(axis, samples[column], kind, limits)
            else:
                axis.axis("off")
        axes[row, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
    for column, text in enumerate(column_labels or []):
        axes[0, column].set_title(text, fontsize=8)
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    return figure


def spectrogram_limits(*spectrograms: np.ndarray) -> tuple[float, float]:
    """One colour range (1st and 99th percentiles) for spectrograms that should compare by eye."""
    values = np.concatenate([np.ravel(s) for s in spectrograms])
    low, high = np.percentile(values, [1, 99])
    return float(low), float(high if high > low else low + 1.0)


PICTURE_SCALE = {"image": (2, 2), "spectrogram": (1, 3)}  # (rows, columns) per sample pixel
PICTURE_GAP = 2  # white pixels between samples of a strip


def picture(samples: np.ndarray, kind: str, limits: tuple[float, float] = (0.0, 1.0)) -> np.ndarray:
    """Samples (n, h, w) side by side as RGB pixels (uint8), for the report's small pictures.

    Images are grey (0 black, 1 white); spectrograms use the figures' colour map over
    ``limits``, low frequencies at the bottom. Pixels are enlarged without smoothing.
    """
    samples = np.asarray(samples, dtype=np.float64)
    if kind not in KINDS or samples.ndim != 3 or len(samples) == 0:
        raise ValueError(f"picture: need kind in {KINDS} and samples (n, h, w), got {kind!r} and shape {samples.shape}")
    if kind == "image":
        grey = np.clip(samples, 0.0, 1.0)
        colours = np.repeat(grey[..., None], 3, axis=-1)
    else:
        scaled = np.clip((samples[:, ::-1, :] - limits[0]) / (limits[1] - limits[0]), 0.0, 1.0)
        colours = plt.get_cmap("magma")(scaled)[..., :3]
    rows, columns = PICTURE_SCALE[kind]
    colours = np.repeat(np.repeat(colours, rows, axis=1), columns, axis=2)
    gap = np.ones((colours.shape[1], PICTURE_GAP, 3))
    pieces = [piece for sample in colours for piece in (sample, gap)][:-1]
    return np.round(np.concatenate(pieces, axis=1) * 255).astype(np.uint8)


def save_picture(pixels: np.ndarray, target: Path) -> None:
    """A small PNG of RGB pixels; PIL writes no time stamp, so equal pixels give equal bytes."""
    from PIL import Image

    Image.fromarray(np.asarray(pixels, dtype=np.uint8)).save(target, format="PNG")


def training_curves(losses: dict[str, dict[str, pd.DataFrame]]):
    """Loss per epoch of each sense's autoencoder; ``losses[sense][split]`` has columns step, loss."""
    if not losses:
        raise ValueError("training_curves: no loss logs given")
    figure, axes = plt.subplots(1, len(losses), figsize=(5.0 * len(losses), 3.5), squeeze=False)
    for axis, (sense, splits) in zip(axes[0], losses.items()):
        for split, table in splits.items():
            if not {"step", "loss"} <= set(table.columns):
                raise ValueError(f"{sense} {split} loss log: need columns step and loss, got {list(table.columns)}")
            axis.plot(table["step"], table["loss"], marker=".", label="validation (eval)" if split == "eval" else split)
        axis.set(title=f"{sense} autoencoder", xlabel="epoch", ylabel="loss", yscale="log")
        axis.legend()
    figure.tight_layout()
    return figure


def subsample(count: int, size: int, seed: int) -> np.ndarray:
    """Sorted indices of a seeded subsample of at most ``size`` of ``count`` items."""
    if count <= 0 or size <= 0:
        raise ValueError(f"subsample: need positive count and size, got {count} and {size}")
    return np.sort(np.random.default_rng(seed).choice(count, size=min(size, count), replace=False))


def embed_2d(codes: np.ndarray, seed: int) -> np.ndarray:
    """t-SNE of latent codes to 2-D (PCA start and a fixed seed, so reruns give the same picture)."""
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    codes = np.asarray(codes, dtype=np.float64)
    if codes.ndim != 2 or len(codes) < 5:
        raise ValueError(f"embed_2d: need at least 5 codes of shape (n, dim), got {codes.shape}")
    perplexity = min(30.0, (len(codes) - 1) / 3.0)  # t-SNE requires perplexity < n
    model = TSNE(n_components=2, init="pca", perplexity=perplexity, random_state=seed, n_jobs=1)
    # One OpenMP thread: on a busy machine more threads spin-wait and run ~30x slower, not faster.
    with threadpool_limits(limits=1):
        return model.fit_transform(codes)


def latent_scatter(embedding: np.ndarray, clusters: np.ndarray, digits: np.ndarray, title: str):
    """The same 2-D map twice: coloured by discovered concept, and by true digit (for judging)."""
    if not (len(embedding) == len(clusters) == len(digits)):
        raise ValueError(f"latent_scatter: {len(embedding)} points, {len(clusters)} clusters, {len(digits)} digits")
    figure, axes = plt.subplots(1, 2, figsize=(11.0, 5.0))
    for axis, labels, name in ((axes[0], clusters, "concept (cluster)"), (axes[1], digits, "true digit")):
        values = np.unique(labels)
        colours = category_colours(len(values))
        for colour, value in zip(colours, values):
            chosen = labels == value
            axis.scatter(embedding[chosen, 0], embedding[chosen, 1], s=4, color=colour, label=str(value))
            if len(values) <= 40:  # names at the centres; more would be unreadable
                centre = np.median(embedding[chosen], axis=0)
                axis.annotate(str(value), centre, fontsize=8, weight="bold", ha="center")
        axis.set(title=f"coloured by {name}", xticks=[], yticks=[])
        if len(values) <= 20:
            axis.legend(markerscale=3, fontsize=7, loc="best", ncol=2)
    figure.suptitle(title)
    figure.tight_layout()
    return figure


def audio_order(counts: pd.DataFrame) -> list[str]:
    """Audio concepts grouped by their best image partner, strongest first within a group."""
    best = counts.to_numpy().argmax(axis=0)
    strength = counts.to_numpy().max(axis=0)
    order = np.lexsort((-strength, best))
    return [counts.columns[i] for i in order]


def cooccurrence_heatmap(counts: pd.DataFrame, one_to_one: pd.DataFrame):
    """Train co-occurrence counts; rows image concepts, columns audio concepts; boxes = mutual best pairs.

    ``counts`` is indexed by image concept, one column per audio concept (column names are ids).
    """
    if counts.empty:
        raise ValueError("cooccurrence_heatmap: empty co-occurrence table")
    columns = audio_order(counts)
    matrix = counts[columns].to_numpy(dtype=float)
    width = min(16.0, 3.0 + 0.35 * len(columns))
    figure, axis = plt.subplots(figsize=(width, 1.5 + 0.4 * len(counts)))
    # A square-root scale keeps the weaker one-to-many links visible beside the strong pairs.
    shown = axis.imshow(matrix, cmap="viridis", aspect="auto", norm=PowerNorm(0.5, vmin=0.0, vmax=max(matrix.max(), 1.0)))
    figure.colorbar(shown, ax=axis, label="train episodes")
    step = max(1, len(columns) // 40)
    axis.set_xticks(range(0, len(columns), step), [columns[i] for i in range(0, len(columns), step)], fontsize=7, rotation=90)
    axis.set_yticks(range(len(counts)), [str(i) for i in counts.index], fontsize=8)
    axis.set(xlabel="audio concept (grouped by best image partner)", ylabel="image concept",
             title="co-occurrence of image and audio concepts (boxes: one-to-one pairs)")
    rows = {str(concept): row for row, concept in enumerate(counts.index)}
    positions = {str(concept): column for column, concept in enumerate(columns)}
    for pair in one_to_one.itertuples():
        row, column = rows.get(str(pair.image_concept)), positions.get(str(pair.audio_concept))
        if row is not None and column is not None:
            axis.add_patch(Rectangle((column - 0.5, row - 0.5), 1, 1, fill=False, edgecolor="red", linewidth=1.5))
    figure.tight_layout()
    return figure


def partner_shares(counts: pd.DataFrame, one_to_many: pd.DataFrame):
    """Per image concept, its audio partners' shares stacked: the one-to-many table's partners
    coloured and named, every weaker partner (from the counts) as a thin grey segment.

    The grey tail matters: an over-clustered sense spreads a concept over many small partners,
    and a concept with none above the threshold would otherwise vanish from the figure.
    """
    if counts.empty or counts.to_numpy().sum() == 0:
        raise ValueError("partner_shares: empty co-occurrence table")
    strong = one_to_many[one_to_many["sense"] == "image"]
    colours = dict(zip(sorted(strong["partner"].unique()), category_colours(strong["partner"].nunique())))
    figure, axis = plt.subplots(figsize=(8.0, 1.0 + 0.4 * len(counts)))
    for row, (concept, partner_counts) in enumerate(counts.iterrows()):
        shares = (partner_counts / max(partner_counts.sum(), 1)).sort_values(ascending=False)
        named = {str(partner) for partner in strong.loc[strong["concept"] == concept, "partner"]}
        left = 0.0
        for partner, share in shares[shares > 0].items():
            if str(partner) in named:
                axis.barh(row, share, left=left, color=colours[int(partner)], edgecolor="white")
                if share >= 0.06:
                    axis.text(left + share / 2, row, str(partner), ha="center", va="center", fontsize=7)
            else:
                axis.barh(row, share, left=left, color="lightgray", edgecolor="white", linewidth=0.3)
            left += share
    axis.set_yticks(range(len(counts)), [str(c) for c in counts.index])
    axis.set(xlim=(0, 1), xlabel="share of the concept's train episodes (named: audio partners above the threshold; "
             "grey: weaker partners)", ylabel="image concept", title="one-to-many: audio partners of each image concept")
    axis.xaxis.label.set_fontsize(8)
    axis.invert_yaxis()
    figure.tight_layout()
    return figure


# How each sense's concepts show in the link-strength chart: (sense, marker, size, names the zones
# in the legend); one sense names them, so that each zone is in the legend once.
LINK_MARKERS = (("image", "s", 24, False), ("audio", "o", 12, True))


def zone_chart(concepts: pd.DataFrame, max_entropy_bits: float, min_strength: float):
    """Entropy of each concept's partners (per sense) and the two link strengths, coloured by zone."""
    required = {"concept", "sense", "entropy_bits", "p_partner_given_concept", "p_concept_given_partner", "zone"}
    if not required <= set(concepts.columns):
        raise ValueError(f"zone_chart: concept table lacks {sorted(required - set(concepts.columns))}")
    figure, axes = plt.subplots(1, 3, figsize=(15.0, 4.0), gridspec_kw={"width_ratios": [1, 2, 1.3]})
    for axis, sense in zip(axes[:2], ("image", "audio")):
        table = concepts[concepts["sense"] == sense].sort_values("entropy_bits")
        colours = [ZONE_COLOURS.get(zone, "black") for zone in table["zone"]]
        axis.bar(range(len(table)), table["entropy_bits"], color=colours)
        if len(table) <= 40:
            axis.set_xticks(range(len(table)), [str(c) for c in table["concept"]], fontsize=7, rotation=90)
        axis.axhline(max_entropy_bits, color="black", linestyle="--", linewidth=1)
        axis.set(title=f"{sense} concepts", xlabel="concept (sorted by entropy)", ylabel="partner entropy (bits)")
    for zone, colour in ZONE_COLOURS.items():
        for sense, marker, size, in_legend in LINK_MARKERS:
            chosen = (concepts["zone"] == zone) & (concepts["sense"] == sense)
            axes[2].scatter(concepts.loc[chosen, "p_partner_given_concept"], concepts.loc[chosen, "p_concept_given_partner"],
                            color=colour, marker=marker, s=size, label=zone if in_legend else None)
    for draw in (axes[2].axhline, axes[2].axvline):
        draw(min_strength, color="black", linestyle="--", linewidth=1)
    axes[2].set(xlim=(0, 1.02), ylim=(0, 1.02), xlabel="P(best partner | concept)", ylabel="P(concept | best partner)",
                title="link strengths (squares: image, dots: audio)")
    axes[2].legend(fontsize=8, title="zone")
    figure.tight_layout()
    return figure


def attention_chart(image_weight: np.ndarray, audio_weight: np.ndarray, fused_concept: np.ndarray):
    """Mean weight the fused decision gave each sense, per fused concept (which sense it trusts)."""
    if not (len(image_weight) == len(audio_weight) == len(fused_concept)) or len(fused_concept) == 0:
        raise ValueError(f"attention_chart: need equally long, non-empty arrays, got {len(image_weight)}, "
                         f"{len(audio_weight)}, {len(fused_concept)}")
    concepts = np.unique(fused_concept)
    means = {name: [np.mean(w[fused_concept == c]) for c in concepts]
             for name, w in (("image", image_weight), ("audio", audio_weight))}
    positions = np.arange(len(concepts))
    figure, axis = plt.subplots(figsize=(max(6.0, 1.0 + 0.45 * len(concepts)), 3.5))
    axis.bar(positions - 0.2, means["image"], width=0.4, label="image weight", color="tab:blue")
    axis.bar(positions + 0.2, means["audio"], width=0.4, label="audio weight", color="tab:red")
    counts = [int(np.sum(fused_concept == c)) for c in concepts]
    axis.set_xticks(positions, [f"{c}\n(n={n})" for c, n in zip(concepts, counts)], fontsize=7)
    # Headroom above the bars (weights are at most 1) keeps the legend off them.
    axis.set(xlabel="fused concept (test episodes)", ylabel="mean weight", ylim=(0, 1.15),
             title="modality attention per fused concept")
    axis.legend(fontsize=8, ncol=2, loc="upper center")
    figure.tight_layout()
    return figure
