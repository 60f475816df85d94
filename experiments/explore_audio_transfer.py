"""Exploration (not a stage): which label-free audio model's digit concepts transfer to an unheard speaker?

Leave-one-speaker-out on FSDD. The teacher is label-free: each train recording's partner images (episodes,
built with digit labels as the pipeline builds them) carry image concepts (clusters of image codes); their
histogram (or, with teacher "reg", the mean of their image codes) is a target for an auxiliary head on the
audio code. Digit labels otherwise only score.

Produced, in docs/experiments.md, the sections of the audio params named below
(metric ``ti``, audio through images, each recording alone, unless said):

- the table under "audio_ae.architecture" (teacher form, frames
  encoder; it chose `audio_ae.architecture: frames` and `audio_ae.noise_stddev: 0.6`), rows in order:

      VARIANTS=cep_w1_aug_reg,cep_w1_aug,cep_w1_aug_p10,cep_w1_aug_p30,cep_w3_aug_reg,cep_w1_aug_reg_n0.6
      VARIANTS=$VARIANTS,cep_w1_aug_reg_e40,cep_w1_aug_reg_conv,cep_w1_aug_reg_conv_n0.6
      VARIANTS=$VARIANTS,cep_w1_aug_reg_conv_f128,cep_w1_aug_reg_conv_k9,cep_w1_aug_reg_conv3
      OMP_NUM_THREADS=1 .venv/bin/python experiments/explore_audio_transfer.py --split inner --variants $VARIANTS

- the table under "The image sense as teacher" (the default split, each fold's test speaker scored;
  it chose `audio.features: cepstral` and `audio_ae.teacher_weight: 1.0` with 3 views and 20 epochs),
  rows lm, cep, cep_w1, cep_w1_aug, cep_w1_aug again with metric ``ti_ctr`` ("codes centred per
  true speaker"), and lm_w1_spk (the row "log-mel + teacher, inputs centred per true speaker"; the
  variant behind that row was not recorded, lm_w1_spk is the one its description fits), and the
  official-split numbers in the paragraph after it (0.983, log-mel 0.970, ``--split official``):

      OMP_NUM_THREADS=1 .venv/bin/python experiments/explore_audio_transfer.py --variants lm,cep,cep_w1,cep_w1_aug,lm_w1_spk
      OMP_NUM_THREADS=1 .venv/bin/python experiments/explore_audio_transfer.py --variants lm,cep_w1_aug --split official

- the table under "How much a small batch may borrow" (the batch-size rule of test-time
  adaptation, `adaptation.batch_neighbours_for`; metrics ``ta_<batch size>_<rule>``, 30 pairs):

      OMP_NUM_THREADS=1 .venv/bin/python experiments/explore_audio_transfer.py --split inner --all-validation \
          --variants cep_w1_aug_reg_conv_n0.6 --batch-sizes

- the table under "Views in background noise" (``ti``, ``ti_noise``, ``ti_room``: the scored speaker's
  recordings in white noise at 10 dB and in a room, as domain_shifts.py makes them; seeds 42 and 1):

      OMP_NUM_THREADS=1 .venv/bin/python experiments/explore_audio_transfer.py --split inner \
          --variants cep_w1_aug_reg_conv_n0.6,cep_w1_aug_reg_conv_n0.6_bg [--seed 1]

  and its last two rows (seed 42), milder noise views:

      OMP_NUM_THREADS=1 .venv/bin/python experiments/explore_audio_transfer.py --split inner \
          --variants cep_w1_aug_reg_conv_n0.6_bg_faint,cep_w1_aug_reg_conv_n0.6_bg_few

- the table under "Self-labelling for sound" (``sl``, ``sl_noise``, ``sl_room``: the scored speaker's
  recordings named by a classifier taught their partners' image concepts; ``both``: its posterior
  averaged with the clusters' concept shares; seeds 42 and 1):

      OMP_NUM_THREADS=1 .venv/bin/python experiments/explore_audio_transfer.py --split inner \
          --variants cep_w1_aug_reg_conv_n0.6_bg_sl,cep_w1_aug_reg_conv_n0.6_bg_sl_all,cep_w1_aug_reg_conv_n0.6_bg_sl30 [--seed 1]

  and the table after "How much a small batch may borrow" with the classifier's evidence (30 pairs):

      OMP_NUM_THREADS=1 .venv/bin/python experiments/explore_audio_transfer.py --split inner --all-validation \
          --variants cep_w1_aug_reg_conv_n0.6_bg_sl --batch-sizes

Usage: OMP_NUM_THREADS=1 .venv/bin/python experiments/explore_audio_transfer.py --variants lm,cep,cep_w1 [--split loso|official|inner]

--split inner makes choices without any fold's test speaker: the fold's test speaker stays out, the
next speaker (cyclically) is scored, the other four train (docs/experiments.md, audio_ae.architecture).

Needs data/raw/fsdd and the image side of a full `dvc repro` (data/encodings, data/clusters): the
teacher comes from the pipeline's image codes and concepts, so numbers move with the image
autoencoder they were taken from. Results: .tmp/audio_transfer_results.md (table) and
.tmp/audio_transfer_results.jsonl (one line per fold, appended; the table shows each variant's latest
run of each fold).
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
os.chdir(REPO)

from digit_concepts.senses import audio, episodes  # noqa: E402
from digit_concepts.core import paths
from digit_concepts.core.params import load  # noqa: E402

TMP = REPO / ".tmp"
CACHE = TMP / "audio_transfer_cache.npz"
RESULTS_MD = TMP / "audio_transfer_results.md"
RESULTS_JSONL = TMP / "audio_transfer_results.jsonl"
SPEAKERS = ["george", "jackson", "lucas", "nicolas", "theo", "yweweler"]
SEED = 42
VIEWS = 3

# name: input features, head weight, augmentation views, extra input noise, epochs, speaker-centred inputs, arch
VARIANTS = {
    "lm": dict(features="lm", w=0.0),
    "cep": dict(features="cep", w=0.0),
    "lm_w0.1": dict(features="lm", w=0.1),
    "lm_w1": dict(features="lm", w=1.0),
    "cep_w0.1": dict(features="cep", w=0.1),
    "cep_w1": dict(features="cep", w=1.0),
    "cep_w3": dict(features="cep", w=3.0),
    "lm_w1_aug": dict(features="lm", w=1.0, views=VIEWS, epochs=20),
    "cep_w1_aug": dict(features="cep", w=1.0, views=VIEWS, epochs=20),
    "cep_aug": dict(features="cep", w=0.0, views=VIEWS, epochs=20),
    "cep_w1_n0.6": dict(features="cep", w=1.0, noise=0.6),
    "lm_w1_spk": dict(features="lm", w=1.0, speaker_centred=True),
    "cep_w1_spk": dict(features="cep", w=1.0, speaker_centred=True),
    "lm_spk": dict(features="lm", w=0.0, speaker_centred=True),
    "cep_w1_conv": dict(features="cep", w=1.0, arch="conv1d"),
    "lm_w1_conv": dict(features="lm", w=1.0, arch="conv1d"),
    "cep_w1_aug_spk": dict(features="cep", w=1.0, views=VIEWS, epochs=20, speaker_centred=True),
    "lm_w1_aug_spk": dict(features="lm", w=1.0, views=VIEWS, epochs=20, speaker_centred=True),
    # Teacher forms, all with the pipeline's recipe (cepstral, 3 views, 20 epochs): regression to the
    # partners' mean standardised image code (the pipeline's partner head), and
    # histograms of the partners' image prototypes (k-means of the image codes, label-free, so the
    # audio branch needs no image concepts from the cluster stage).
    "cep_w1_aug_reg": dict(features="cep", w=1.0, views=VIEWS, epochs=20, teacher="reg"),
    "cep_w1_aug_p10": dict(features="cep", w=1.0, views=VIEWS, epochs=20, protos=10),
    "cep_w1_aug_p30": dict(features="cep", w=1.0, views=VIEWS, epochs=20, protos=30),
    "cep_w1_aug_p100": dict(features="cep", w=1.0, views=VIEWS, epochs=20, protos=100),
    "cep_w3_aug_p30": dict(features="cep", w=3.0, views=VIEWS, epochs=20, protos=30),
    "cep_w3_aug_reg": dict(features="cep", w=3.0, views=VIEWS, epochs=20, teacher="reg"),
    "cep_w1_aug_reg_conv": dict(features="cep", w=1.0, views=VIEWS, epochs=20, teacher="reg", arch="conv1d"),
    "cep_w1_aug_reg_n0.6": dict(features="cep", w=1.0, views=VIEWS, epochs=20, teacher="reg", noise=0.6),
    "cep_w1_aug_reg_e40": dict(features="cep", w=1.0, views=VIEWS, epochs=40, teacher="reg"),
    "cep_w1_aug_reg_conv_n0.6": dict(features="cep", w=1.0, views=VIEWS, epochs=20, teacher="reg", arch="conv1d",
                                     noise=0.6),
    "cep_w1_aug_reg_conv3": dict(features="cep", w=1.0, views=VIEWS, epochs=20, teacher="reg", arch="conv1d_3"),
    "cep_w1_aug_reg_conv_k9": dict(features="cep", w=1.0, views=VIEWS, epochs=20, teacher="reg", arch="conv1d",
                                   kernel=9),
    "cep_w1_aug_reg_conv_f128": dict(features="cep", w=1.0, views=VIEWS, epochs=20, teacher="reg", arch="conv1d",
                                     filters=128),
    "lm_w1_aug_reg": dict(features="lm", w=1.0, views=VIEWS, epochs=20, teacher="reg"),
    # The pipeline's recipe with its views also in background noise (audio.NoiseViews, NOISE_VIEW_SETS).
    "cep_w1_aug_reg_conv_n0.6_bg": dict(features="cep", w=1.0, views=VIEWS, epochs=20, teacher="reg", arch="conv1d",
                                        noise=0.6, noise_views=True),
    "cep_w1_aug_reg_conv_n0.6_bg_faint": dict(features="cep", w=1.0, views=VIEWS, epochs=20, teacher="reg",
                                              arch="conv1d", noise=0.6, noise_views="faint"),
    "cep_w1_aug_reg_conv_n0.6_bg_few": dict(features="cep", w=1.0, views=VIEWS, epochs=20, teacher="reg",
                                            arch="conv1d", noise=0.6, noise_views="few"),
    # The pipeline's recipe, then self-labelling for sound: a frames classifier learns each train
    # recording's partner image concepts (their histogram) from its clean and augmented views.
    "cep_w1_aug_reg_conv_n0.6_bg_sl": dict(features="cep", w=1.0, views=VIEWS, epochs=20, teacher="reg",
                                           arch="conv1d", noise=0.6, noise_views=True, self_labelling=15),
    # ... learning from the plain views as well as the noisy ones, and for 30 epochs.
    "cep_w1_aug_reg_conv_n0.6_bg_sl_all": dict(features="cep", w=1.0, views=VIEWS, epochs=20, teacher="reg",
                                               arch="conv1d", noise=0.6, noise_views=True, self_labelling=15,
                                               self_labelling_views="all"),
    "cep_w1_aug_reg_conv_n0.6_bg_sl30": dict(features="cep", w=1.0, views=VIEWS, epochs=20, teacher="reg",
                                             arch="conv1d", noise=0.6, noise_views=True, self_labelling=30),
}
DEFAULTS = dict(self_labelling=0, self_labelling_views="same", noise_views=False, w=0.0, views=0, noise=0.3, epochs=60, batch=64, speaker_centred=False, arch="dense", teacher="hist",
                protos=0, kernel=5, filters=64)


def log(*args):
    print(time.strftime("%H:%M:%S"), *args, flush=True)


def build_cache() -> dict:
    """Every recording's log-mel (peak-relative dB, pipeline steps) and cepstral features, plus VIEWS views."""
    if CACHE.exists():
        return dict(np.load(CACHE))
    settings = audio.AudioSettings(**load().audio.model_dump())
    table = audio.recording_table(paths.FSDD_RECORDINGS_DIR)
    start = time.time()
    powers, _ = audio.read_recordings(paths.FSDD_RECORDINGS_DIR, list(table["file"]), settings)
    decibels, _ = audio.spectrograms(powers, settings)
    decibels, _ = audio.remove_loudness(decibels)
    cepstral = dataclasses.replace(settings, features="cepstral")
    cep = audio.features_of(powers, cepstral)
    log(f"read {len(powers)} recordings in {time.time() - start:.0f}s")
    rng = np.random.default_rng([SEED, 1])
    lm_views = audio.augmented_views(powers, settings, VIEWS, 0.15, 0.08, 0.2, rng)
    cep_views = audio.augmented_views(powers, cepstral, VIEWS, 0.15, 0.08, 0.2, rng)
    log(f"views in {time.time() - start:.0f}s")
    cache = dict(lm=decibels.astype(np.float32), cep=cep.astype(np.float32), lm_views=lm_views.astype(np.float32),
                 cep_views=cep_views.astype(np.float32), digit=table["digit"].to_numpy(),
                 speaker=table["speaker"].to_numpy().astype(str), index=table["recording_index"].to_numpy())
    TMP.mkdir(exist_ok=True)
    np.savez(CACHE, **cache)
    return cache


SHIFTED = ("noise", "room")  # the pipeline's audio proxies scored here (domain_shifts.py): white noise 10 dB, RT60 0.4 s
# Views in background noise, by cache key: the lever (audio.NoiseViews), then milder ones (fainter, or fewer views).
NOISE_VIEW_SETS = {"cep_noise_views": audio.NoiseViews(probability=0.5, snr_db=(0.0, 20.0), tilt=(-2.0, 1.0)),
                   "cep_noise_faint_views": audio.NoiseViews(probability=0.5, snr_db=(10.0, 30.0), tilt=(-2.0, 1.0)),
                   "cep_noise_few_views": audio.NoiseViews(probability=0.2, snr_db=(0.0, 20.0), tilt=(-2.0, 1.0))}


def extend_cache(cache: dict) -> dict:
    """Adds what later variants need, where missing: cepstral views in background noise
    (NOISE_VIEW_SETS), and every recording's cepstral features heard through the SHIFTED proxies
    (cep_<shift>)."""
    missing = [key for key in [*NOISE_VIEW_SETS, *(f"cep_{shift}" for shift in SHIFTED)] if key not in cache]
    if not missing:
        return cache
    from digit_concepts.senses import domain_shifts

    settings = audio.AudioSettings(**{**load().audio.model_dump(), "features": "cepstral"})
    table = audio.recording_table(paths.FSDD_RECORDINGS_DIR)
    signals = [audio.load_recording(paths.FSDD_RECORDINGS_DIR / name, settings.sample_rate) for name in table["file"]]
    powers = [audio.trimmed_power(signal, settings) for signal in signals]
    for key in (key for key in missing if key in NOISE_VIEW_SETS):
        cache[key] = audio.augmented_views(powers, settings, VIEWS, 0.15, 0.08, 0.2, np.random.default_rng([42, 2]),
                                           NOISE_VIEW_SETS[key]).astype(np.float32)
    if any(key.removeprefix("cep_") in SHIFTED for key in missing):
        rng = np.random.default_rng([42, 3])
        heard = {"noise": [domain_shifts.with_noise(signal, 10.0, rng) for signal in signals],
                 "room": [domain_shifts.reverberant(signal, settings.sample_rate, 0.4, rng) for signal in signals]}
        for shift in SHIFTED:
            cache[f"cep_{shift}"] = audio.features_of([audio.trimmed_power(s, settings) for s in heard[shift]],
                                                      settings).astype(np.float32)
    np.savez(CACHE, **cache)
    log(f"cache extended: {', '.join(missing)}")
    return cache


def image_teacher():
    import pandas as pd

    meta = pd.read_csv(paths.IMAGE_METADATA)
    digits = meta.loc[meta["split"] == "train", "digit"].to_numpy()
    concepts = np.load("data/clusters/assignments.npz")["image_train"]
    codes = np.load(paths.ENCODINGS)["image_train"]
    return digits, concepts, (codes - codes.mean(0)) / (codes.std(0) + 1e-6)


def hungarian(assignments, digits) -> float:
    from scipy.optimize import linear_sum_assignment

    table = np.zeros((assignments.max() + 1, 10))
    np.add.at(table, (assignments, digits), 1)
    rows, cols = linear_sum_assignment(-table)
    return float(table[rows, cols].sum() / len(digits))


def centre_by_speaker(values, speakers, scale=False):
    out = values.copy()
    for s in np.unique(speakers):
        m = speakers == s
        out[m] = values[m] - values[m].mean(axis=0)
        if scale:
            out[m] /= values[m].std(axis=0) + 1e-6
    return out


def through_images(train_codes, test_codes, cooc_audio, cooc_concepts, n_concepts, test_digits, shifted=()):
    """Pipeline's audio path: standardise, PCA 32, k-means 300, clusters named by co-occurring image concept.
    With ``shifted`` codes of the same test recordings (heard differently), a list of their accuracies too."""
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA

    mean, std = train_codes.mean(0), train_codes.std(0) + 1e-6
    a = (train_codes - mean) / std
    pca = PCA(min(32, a.shape[1]), random_state=SEED).fit(a)
    a = pca.transform(a)
    km = KMeans(300, n_init=4, random_state=SEED).fit(a)
    labels = km.labels_
    centres = np.stack([a[labels == c].mean(0) for c in range(300)])
    cooc = np.zeros((300, n_concepts))
    np.add.at(cooc, (labels[cooc_audio], cooc_concepts), 1)
    names = cooc.argmax(1)
    def accuracy(codes):
        reduced = pca.transform((codes - mean) / std)
        return hungarian(names[((reduced[:, None, :] - centres[None]) ** 2).sum(-1).argmin(1)], test_digits)

    return accuracy(test_codes) if not shifted else [accuracy(test_codes), *map(accuracy, shifted)]


def build_model(keras, shape, n_concepts, cfg, regression_dim=0):
    layers = keras.layers
    inputs = keras.Input(shape=shape)
    x = layers.GaussianNoise(cfg["noise"])(inputs) if cfg["noise"] > 0 else inputs
    enc_in = keras.Input(shape=shape)
    if cfg["arch"].startswith("conv1d"):
        h = layers.Permute((2, 1))(enc_in)  # frames x rows
        filters, kernel = cfg["filters"], cfg["kernel"]
        h = layers.Conv1D(filters, kernel, padding="same", activation="relu")(h)
        h = layers.Conv1D(filters, kernel, strides=2, padding="same", activation="relu")(h)
        if cfg["arch"] == "conv1d_3":
            h = layers.Conv1D(filters, kernel, strides=2, padding="same", activation="relu")(h)
        h = layers.Flatten()(h)
        h = layers.Dense(256, activation="relu")(h)
    else:
        h = layers.Flatten()(enc_in)
        h = layers.Dense(512, activation="relu")(h)
        h = layers.Dense(256, activation="relu")(h)
    code = layers.Dense(32, name="code")(h)
    encoder = keras.Model(enc_in, code)
    code_in = keras.Input(shape=(32,))
    y = layers.Dense(256, activation="relu")(code_in)
    y = layers.Dense(512, activation="relu")(y)
    y = layers.Dense(int(np.prod(shape)))(y)
    decoder = keras.Model(code_in, layers.Reshape(shape)(y))
    head = keras.Model(code_in, layers.Dense(regression_dim, name="partner")(code_in) if regression_dim
                       else layers.Dense(n_concepts, activation="softmax")(code_in))
    c = encoder(x)
    model = keras.Model(inputs, {"recon": decoder(c), "head": head(c)})
    return model, encoder, head


def run_fold(cache, cfg, train, test, image_digits, image_concepts, n_concepts, image_codes):
    import tensorflow as tf

    from digit_concepts.core.runtime import keras_with_seed

    keras = keras_with_seed(SEED)
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    start = time.time()
    views_key = cfg["features"] + ({True: "_noise_views", False: "_views"}.get(cfg["noise_views"])
                                   or f"_noise_{cfg['noise_views']}_views")
    feats, views = cache[cfg["features"]].astype(np.float32), cache[views_key][: cfg["views"]]
    speakers, digits = cache["speaker"], cache["digit"]
    if cfg["speaker_centred"]:  # transductive: each speaker's (incl. the held-out one's) own mean input removed
        feats = centre_by_speaker(feats, speakers)
        if len(views):
            views = np.stack([centre_by_speaker(v, speakers) for v in views])
    if cfg["features"] == "lm" and not cfg["speaker_centred"]:
        m, s = feats[train].mean(), feats[train].std()
    else:
        m, s = feats[train].mean(0), feats[train].std(0) + 1e-6
    X = ((feats - m) / s).astype(np.float32)
    V = ((views - m) / s).astype(np.float32) if len(views) else views
    # Episodes: every train image paired with a train recording of its digit (labels build episodes only).
    rng = np.random.default_rng(SEED)
    image_index, audio_index, _ = episodes.episode_stream(image_digits, digits[train], 0.0, rng)
    partner_concepts = image_concepts[image_index]
    # What the head learns from: the partners' image concepts, or k-means prototypes of their codes
    # (protos), or the mean of their codes (teacher reg).
    partner_units, n_units = partner_concepts, n_concepts
    if cfg["protos"]:
        from sklearn.cluster import KMeans
        prototypes = KMeans(cfg["protos"], n_init=1, random_state=SEED).fit_predict(image_codes)
        partner_units, n_units = prototypes[image_index], cfg["protos"]
    if cfg["teacher"] == "reg":
        sums = np.zeros((train.sum(), image_codes.shape[1]))
        np.add.at(sums, audio_index, image_codes[image_index])
        teacher = (sums / np.maximum(np.bincount(audio_index, minlength=train.sum()), 1)[:, None]).astype(np.float32)
    else:
        hist = np.zeros((train.sum(), n_units))
        np.add.at(hist, (audio_index, partner_units), 1)
        teacher = (hist / hist.sum(1, keepdims=True)).astype(np.float32)

    model, encoder, head = build_model(keras, X.shape[1:], n_units, cfg,
                                       image_codes.shape[1] if cfg["teacher"] == "reg" else 0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss={"recon": "mean_squared_error",
                        "head": "mean_squared_error" if cfg["teacher"] == "reg" else "categorical_crossentropy"},
                  loss_weights={"recon": 1.0, "head": cfg["w"]})
    Xtr = X[train]
    inputs, recon, soft = Xtr, Xtr, teacher
    if len(V):
        inputs = np.concatenate([Xtr, *V[:, train]])
        recon = np.concatenate([Xtr] * (len(V) + 1))
        soft = np.concatenate([teacher] * (len(V) + 1))
    model.fit(inputs, {"recon": recon, "head": soft}, epochs=cfg["epochs"], batch_size=cfg["batch"], shuffle=True,
              verbose=0)
    train_seconds = time.time() - start
    codes = encoder.predict(X, batch_size=1024, verbose=0)
    result = {"train_s": train_seconds}
    test_digits = digits[test]
    # Test-time adaptation on codes: each speaker's codes centred on its own mean (held-out speaker: its own).
    centred = centre_by_speaker(codes, speakers)
    # official split: test recordings of a speaker centred together with... their own (transductive) mean
    if not (test & train).any() and len(np.unique(speakers[test])) > 1:
        centred = codes.copy()
        for sp in np.unique(speakers):
            for part in (train, test):
                mask = part & (speakers == sp)
                centred[mask] = codes[mask] - codes[mask].mean(0)
    for tag, c in (("", codes), ("_ctr", centred)):
        if not tag and cfg["features"] == "cep":  # the proxies, each recording alone
            shifted = [encoder.predict(((cache[f"cep_{shift}"][test] - m) / s).astype(np.float32), batch_size=1024,
                                       verbose=0) for shift in SHIFTED]
            scores = through_images(c[train], c[test], audio_index, partner_concepts, n_concepts, test_digits, shifted)
            result["ti"] = scores[0]
            result.update({f"ti_{shift}": score for shift, score in zip(SHIFTED, scores[1:])})
            continue
        result["ti" + tag] = through_images(c[train], c[test], audio_index, partner_concepts, n_concepts, test_digits)
        if cfg["w"] > 0 and cfg["teacher"] != "reg" and not cfg["protos"]:
            shift = codes[train].mean(0) if tag else 0.0
            probs = head.predict(c[test] + shift, batch_size=1024, verbose=0)
            result["head" + tag] = hungarian(probs.argmax(1), test_digits)
    if cfg["self_labelling"]:
        if cfg["self_labelling_views"] == "all":
            V = np.concatenate([V, ((cache["cep_views"] - m) / s).astype(np.float32)])
        shifted_inputs = [((cache[f"cep_{shift}"][test] - m) / s).astype(np.float32) for shift in SHIFTED]
        cluster_votes = concept_votes(codes[train], [codes[test], *(encoder.predict(x, batch_size=1024, verbose=0)
                                                                   for x in shifted_inputs)],
                                      audio_index, partner_concepts, n_concepts)
        taught_scores, taught_evidence = self_labelled(keras, X, V, train, test, audio_index, partner_concepts,
                                                       n_concepts, test_digits, shifted_inputs, cluster_votes, cfg)
        result.update(taught_scores)
    if BATCH_SIZES_FLAG in sys.argv[1:]:
        result.update(batch_adaptation(codes, train, test, audio_index, partner_concepts, n_concepts, test_digits,
                                       taught_evidence if cfg["self_labelling"] else None))
    result["fold_s"] = time.time() - start
    return result


def concept_votes(train_codes, scored, cooc_audio, cooc_concepts, n_concepts):
    """As through_images, but each scored code set's image-concept distribution: the co-occurrence
    row of its nearest of the 300 clusters."""
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA

    mean, std = train_codes.mean(0), train_codes.std(0) + 1e-6
    pca = PCA(min(32, train_codes.shape[1]), random_state=SEED).fit((train_codes - mean) / std)
    a = pca.transform((train_codes - mean) / std)
    km = KMeans(300, n_init=4, random_state=SEED).fit(a)
    cooc = np.zeros((300, n_concepts))
    np.add.at(cooc, (km.labels_[cooc_audio], cooc_concepts), 1)
    rows = cooc / np.maximum(cooc.sum(1, keepdims=True), 1)
    return [rows[km.predict(pca.transform((codes - mean) / std))] for codes in scored]


def self_labelled(keras, X, V, train, test, cooc_audio, cooc_concepts, n_concepts, test_digits, shifted,
                  cluster_votes, cfg) -> dict:
    """Self-labelling for sound: a frames classifier (the encoder's shape, input noise) fitted to each
    train recording's partner image-concept histogram on its clean and augmented views; scored by
    argmax (``sl``, ``sl_noise``, ``sl_room``), and by argmax of its posterior averaged with the
    clusters' concept distribution (``both``, ...). Also returns the scored recordings' log posteriors."""
    layers = keras.layers
    hist = np.zeros((train.sum(), n_concepts))
    np.add.at(hist, (cooc_audio, cooc_concepts), 1)
    soft = (hist / np.maximum(hist.sum(1, keepdims=True), 1)).astype(np.float32)
    inputs = keras.Input(shape=X.shape[1:])
    h = layers.GaussianNoise(cfg["noise"])(inputs)
    h = layers.Permute((2, 1))(h)
    h = layers.Conv1D(64, 5, padding="same", activation="relu")(h)
    h = layers.Conv1D(64, 5, strides=2, padding="same", activation="relu")(h)
    h = layers.Dense(256, activation="relu")(layers.Flatten()(h))
    h = layers.Dropout(0.3)(h)
    model = keras.Model(inputs, layers.Dense(n_concepts, activation="softmax")(h))
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="categorical_crossentropy")
    xs = np.concatenate([X[train], *V[:, train]]) if len(V) else X[train]
    model.fit(xs, np.concatenate([soft] * (len(xs) // len(soft))), epochs=cfg["self_labelling"], batch_size=64,
              shuffle=True, verbose=0)
    result, clean_log_posteriors = {}, None
    for (tag, inputs_scored), votes in zip((("", X[test]), *((f"_{shift}", x) for shift, x in zip(SHIFTED, shifted))),
                                           cluster_votes):
        posterior = model.predict(inputs_scored, batch_size=1024, verbose=0)
        result["sl" + tag] = hungarian(posterior.argmax(1), test_digits)
        result["both" + tag] = hungarian((posterior + votes).argmax(1), test_digits)
        if not tag:
            clean_log_posteriors = np.log(np.maximum(posterior.astype(np.float64), np.finfo(np.float64).tiny))
    return result, clean_log_posteriors


BATCH_SIZES_FLAG = "--batch-sizes"
BATCH_SIZES = (1, 10, 40, 500)
BATCH_SHARES = (0.25, 0.5, 1.0)
BATCHINGS = 5  # random batchings per size and speaker


def batch_adaptation(codes, train, test, cooc_audio, cooc_concepts, n_concepts, test_digits,
                     taught_evidence=None) -> dict:
    """The pipeline's naming with test-time adaptation (relations.name_with_batch_neighbours on
    k-means-300 posteriors carried through the co-occurrence, or on ``taught_evidence``, the audio
    classifier's log posteriors of the scored recordings), the scored speaker's recordings
    given in random batches of each size: each alone, at most 20 neighbours, and the batch-size
    rule (adaptation.batch_neighbours_for) at each share. Keys ta_<size>_<rule>."""
    from scipy.special import log_softmax
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA

    from digit_concepts.crossmodal import relations
    from digit_concepts.concepts.adaptation import batch_neighbours_for

    mean, std = codes[train].mean(0), codes[train].std(0) + 1e-6
    standardised = (codes - mean) / std
    pca = PCA(min(32, codes.shape[1]), random_state=SEED).fit(standardised[train])
    a, b = pca.transform(standardised[train]), pca.transform(standardised[test])
    km = KMeans(300, n_init=4, random_state=SEED).fit(a)
    spread = max(float(((a - km.cluster_centers_[km.labels_]) ** 2).sum(1).mean() / a.shape[1]), 1e-8)
    squared = ((b[:, None, :] - km.cluster_centers_[None]) ** 2).sum(-1)
    log_posteriors = log_softmax(-squared / (2.0 * spread), axis=1)  # as clustering.Clustering's k-means
    counts = relations.cooccurrence(cooc_concepts, km.labels_[cooc_audio], n_concepts, 300)
    evidence = relations.evidence_through(log_posteriors, relations.image_given_audio(counts).T)
    if taught_evidence is not None:
        evidence = taught_evidence
    rules = {"alone": lambda size: 0, "k20": lambda size: 20,
             **{f"share{share}": (lambda size, share=share: batch_neighbours_for(size, n_concepts, 20, share))
                for share in BATCH_SHARES}}
    result = {}
    for size in BATCH_SIZES:
        # Several random batchings of the speaker's recordings (one for the whole speaker), averaged.
        batchings = [np.random.default_rng([SEED, size, draw]).permutation(len(b))
                     for draw in range(BATCHINGS if size < len(b) else 1)]
        for rule, neighbours_of in rules.items():
            accuracies = []
            for order in batchings:
                batches = [order[start:start + size] for start in range(0, len(order) - size + 1, size)]
                kept = np.concatenate(batches)
                named = np.full(len(b), -1)
                for batch in batches:
                    named[batch] = relations.name_with_batch_neighbours(evidence[batch], standardised[test][batch],
                                                                        neighbours_of(size), standardised[train])
                accuracies.append(hungarian(named[kept], test_digits[kept]))
            result[f"ta_{size}_{rule}"] = float(np.mean(accuracies))
    return result


def write_table():
    rows = [json.loads(line) for line in RESULTS_JSONL.read_text().splitlines() if line.strip()]
    grouped = {}
    for r in rows:
        grouped.setdefault((r["split"], r["variant"]), {})[r["fold"]] = r
    lines = ["# Audio transfer exploration (experiments/explore_audio_transfer.py)", "",
             "ti = audio through images (k-means 300 on PCA-32 codes, clusters named by co-occurring image concept); "
             "_ctr = codes centred per speaker (test speaker on its own unlabelled mean) before clustering / head; "
             "head = argmax of the teacher head. Seed 42, one thread.", "",
             "| split | variant | metric | " + " | ".join(SPEAKERS) + " | mean | min | s/fold (train) |",
             "|---|---|---|" + "---|" * (len(SPEAKERS) + 3)]
    for (split, variant), folds in grouped.items():
        metrics = [k for k in next(iter(folds.values())) if k.startswith(("ti", "head", "sl", "both"))]
        for metric in metrics:
            values = [folds[s].get(metric) if s in folds else None for s in (SPEAKERS if split != "official" else ["official"])]
            got = [v for v in values if v is not None]
            cells = " | ".join("" if v is None else f"{v:.3f}" for v in values)
            if split == "official":
                cells += " |" * (len(SPEAKERS) - 1)
            secs = np.mean([f["train_s"] for f in folds.values()])
            lines.append(f"| {split} | {variant} | {metric} | {cells} | {np.mean(got):.3f} | {np.min(got):.3f} | "
                         f"{secs:.0f} ({len(got)} folds) |")
    RESULTS_MD.write_text("\n".join(lines) + "\n")


def main():
    global SEED
    parser = argparse.ArgumentParser()
    parser.add_argument("--variants", default="lm,cep,cep_w1,lm_w1")
    # inner: each fold's test speaker stays out and the next speaker (cyclically) is scored, trained on the
    # other four: choices made this way never see the fold's test speaker.
    parser.add_argument("--split", default="loso", choices=["loso", "official", "inner"])
    parser.add_argument("--speakers", default=",".join(SPEAKERS))
    parser.add_argument("--all-validation", action="store_true",
                        help="with --split inner: score every other speaker in turn, not only the next one")
    parser.add_argument(BATCH_SIZES_FLAG, action="store_true",
                        help="also score test-time adaptation with batches of 1/10/40/500 (keys ta_<size>_<rule>)")
    parser.add_argument("--seed", type=int, default=SEED, help="the models' seed (the cached views keep 42)")
    args = parser.parse_args()
    SEED = args.seed
    cache = extend_cache(build_cache())
    image_digits, image_concepts, image_codes = image_teacher()
    n_concepts = int(image_concepts.max()) + 1
    folds = args.speakers.split(",") if args.split != "official" else ["official"]
    for name in args.variants.split(","):
        cfg = {**DEFAULTS, **VARIANTS[name]}
        for fold in folds:
            test = cache["speaker"] == fold if fold != "official" else cache["index"] < 5
            train = ~test
            pairs = [(train, test, fold)]
            if args.split == "inner":
                # The next speaker (cyclically) is scored; with --all-validation, every other one in turn.
                scored_speakers = ([speaker for speaker in SPEAKERS if speaker != fold] if args.all_validation
                                   else [SPEAKERS[(SPEAKERS.index(fold) + 1) % len(SPEAKERS)]])
                pairs = [((cache["speaker"] != fold) & (cache["speaker"] != scored), cache["speaker"] == scored,
                          fold if not args.all_validation else f"{fold}/{scored}") for scored in scored_speakers]
            for train, test, label in pairs:
                result = run_fold(cache, cfg, train, test, image_digits, image_concepts, n_concepts, image_codes)
                variant = name if SEED == 42 else f"{name}@seed{SEED}"
                record = {"split": args.split, "variant": variant, "fold": label, **result, "cfg": cfg}
                with RESULTS_JSONL.open("a") as handle:
                    handle.write(json.dumps(record) + "\n")
                write_table()
                log(variant, label, {k: round(v, 3) for k, v in result.items()})


if __name__ == "__main__":
    main()
