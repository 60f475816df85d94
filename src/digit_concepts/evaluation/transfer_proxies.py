"""The transfer proxies (``metrics/transfer.json``, written by the relate stage): validation and
test samples drawn or heard differently, named as the learner names new samples, each concept
meaning the digit it means for the clean split. Images: ``transfer.TRANSFER_VIEW_NAMES`` (the
families the image autoencoder trains on) and ``shifts.HELD_OUT_IMAGE_VIEWS`` (never seen in
training). Recordings: ``shifts.AUDIO_SHIFTS``, named through images as relate names the clean
ones, each alone and adapted to their batch (the shifted split).
"""

from collections.abc import Iterator

import numpy as np

from digit_concepts.concepts import clustering
from digit_concepts.crossmodal import relations
from digit_concepts.evaluation import scoring
from digit_concepts.senses import domain_shifts, drawing_variations
from digit_concepts.concepts.adaptation import batch_neighbours_for
from digit_concepts.core.evidence import Bootstrap
from digit_concepts.core.sense import AUDIO, view_key

SPLITS = (("test", ""), ("validation", "validation_"))  # (split, metric prefix)


def drawn_image_views(images: dict, seed: int) -> Iterator[tuple[str, np.ndarray]]:
    """(``view_key(split, view)``, the split's digits drawn as that view), for the validation and
    test digits and every view (the trained families, then the held-out ones), seeded. Drawn a
    family at a time, the next while the last is used (a thread: most of the drawing, PIL's and
    SciPy's, runs without the GIL), so that at most two families of one split are held at once
    rather than all 160,000 pictures; each family has its own seeded draws, so the pictures are the
    same whichever order they are used in."""
    from concurrent.futures import ThreadPoolExecutor

    families = [(split, draw) for split, _ in SPLITS
                for draw in (drawing_variations.transfer_views, domain_shifts.held_out_views)]
    with ThreadPoolExecutor(1) as drawer:
        upcoming = drawer.submit(families[0][1], images[families[0][0]], seed)
        for index, (split, _) in enumerate(families):
            drawn = upcoming.result()
            if index + 1 < len(families):
                upcoming = drawer.submit(families[index + 1][1], images[families[index + 1][0]], seed)
            for view in list(drawn):
                yield view_key(split, view), drawn.pop(view)


def image_scores(image_concepts: dict, view_concepts: dict, bootstrap: Bootstrap | None = None) -> dict:
    """``<prefix>image_<view>_acc``: the share of the split's digits drawn as ``view`` named right,
    a concept meaning what it means for the clean split (``image_concepts[split]``).
    ``view_concepts[view_key(split, view)]``: the concepts the learner named them (the cluster stage)."""
    scores = {}
    for split, prefix in SPLITS:
        digits = scoring.load_digits("image", split)
        for view in (*drawing_variations.TRANSFER_VIEW_NAMES, *domain_shifts.HELD_OUT_IMAGE_VIEWS):
            scores.update(scoring.with_share(f"{prefix}image_{view}_acc", scoring.right_under_mapping_of(
                image_concepts[split], digits, view_concepts[view_key(split, view)], digits), bootstrap))
    return scores


def audio_scores(audio_model: clustering.SenseModel, counts: np.ndarray, clean_named: dict, transfer_codes: dict,
                 features_of, train_features: np.ndarray, neighbours: int, bootstrap: Bootstrap | None = None,
                 taught: dict | None = None) -> dict:
    """``<prefix>audio_<shift>_acc`` (each recording alone) and ``..._acc_adapted`` (with up to
    ``neighbours`` batch neighbours, as ``adaptation.batch_neighbours_for`` allows; the shifted
    split is the batch): the share of the split's
    recordings heard through ``shift`` named right, an image concept meaning what it means for
    the clean recordings named alone (``clean_named[split]``). ``transfer_codes[AUDIO.key(view_key(split, shift))]``:
    their audio codes; ``features_of(codes)``: where recordings are near each other; ``taught``
    (same keys): their image-concept log posteriors from the self-labelled audio classifier, where
    it names recordings."""
    scores = {}
    for split, prefix in SPLITS:
        digits = scoring.load_digits("audio", split)
        for shift in domain_shifts.AUDIO_SHIFTS:
            key = AUDIO.key(view_key(split, shift))
            codes = transfer_codes[key]
            log_posteriors = audio_model.log_posteriors(codes)
            for suffix, count in (("", 0), ("_adapted", batch_neighbours_for(len(codes), counts.shape[0], neighbours))):
                named = relations.name_recordings_through_images(
                    log_posteriors, counts, features_of(codes), count, train_features,
                    None if taught is None else taught[key])
                scores.update(scoring.with_share(f"{prefix}audio_{shift}_acc{suffix}", scoring.right_under_mapping_of(
                    clean_named[split], digits, named, digits), bootstrap))
    return scores
