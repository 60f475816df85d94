"""Stage relate: co-occurrence of concepts over train episodes, relationship tables, brain module."""

import pandas as pd

from digit_concepts.crossmodal import brain, relations
from digit_concepts.concepts import clustering
from digit_concepts.core import paths, storage
from digit_concepts.evaluation import scoring, transfer_proxies
from digit_concepts.concepts.adaptation import batch_neighbours_for, recording_features, recording_space
from digit_concepts.core.evidence import Bootstrap
from digit_concepts.core.params import load


def main() -> None:
    params = load()
    assignments = storage.read_npz(paths.CLUSTER_ASSIGNMENTS)
    streams = storage.read_npz(paths.EPISODES)
    codes = storage.read_npz(paths.ENCODINGS)
    n_image = assignments["image_test_log_posteriors"].shape[1]
    n_audio = assignments["audio_test_log_posteriors"].shape[1]

    episode_concepts = {
        split: (assignments[f"image_{split}"][streams[f"{split}_image_index"]],
                assignments[f"audio_{split}"][streams[f"{split}_audio_index"]])
        for split in ("train", "test")}
    counts = relations.cooccurrence(*episode_concepts["train"], n_image, n_audio)
    forward, backward = relations.audio_given_image(counts), relations.image_given_audio(counts)

    test_image, test_audio = episode_concepts["test"]
    metrics = {
        "agreement_image_to_audio": relations.agreement(test_image, test_audio, forward),
        "agreement_audio_to_image": relations.agreement(test_audio, test_image, backward.T),
    }
    neighbours = params.adaptation.batch_neighbours
    bootstrap = Bootstrap.from_params(params)  # 95% intervals over the scored samples
    features = recording_features(codes, ("train", "test", "validation"))
    named_alone = {}  # each recording named alone: what the recordings heard differently are scored against
    for split, prefix in (("test", ""), ("validation", "validation_")):  # choices are made on validation
        audio_digits = scoring.load_digits("audio", split)
        # Each recording of the split named with its batch neighbours (test-time adaptation), and alone.
        for suffix, count in (("", batch_neighbours_for(len(features[split]), n_image, neighbours)),
                              ("_each_alone", 0)):
            named = relations.name_recordings_through_images(assignments[f"audio_{split}_log_posteriors"], counts,
                                                             features[split], count, features["train"],
                                                             assignments.get(f"audio_{split}_taught_log_posteriors"))
            if not count:
                named_alone[split] = named
            metrics.update(scoring.with_accuracy(f"{prefix}audio_acc_through_images{suffix}", named, audio_digits,
                                                 bootstrap))
        image_named = relations.name_through(assignments[f"image_{split}"], forward)
        metrics.update(scoring.with_accuracy(f"{prefix}image_acc_through_audio", image_named,
                                             scoring.load_digits("image", split), bootstrap))

    # The transfer proxies: samples drawn or heard differently, placed as the tool places new ones.
    learner_arrays, learner_settings = storage.read_npz(paths.LEARNER_ARRAYS), storage.read_json(paths.LEARNER_SETTINGS)
    audio_model = clustering.SenseModel.from_arrays(learner_arrays, "audio", learner_settings["audio"]["reduction"])
    transfer_codes = storage.read_npz(paths.TRANSFER_ENCODINGS)
    transfer_metrics = {
        **transfer_proxies.image_scores({split: assignments[f"image_{split}"] for split in ("test", "validation")},
                                        storage.read_npz(paths.IMAGE_VIEW_CONCEPTS), bootstrap),
        **transfer_proxies.audio_scores(audio_model, counts, named_alone, transfer_codes,
                                        recording_space(codes).apply,
                                        features["train"], neighbours, bootstrap,
                                        storage.read_npz(paths.AUDIO_VIEW_CONCEPTS)
                                        if learner_settings["audio"].get("classifier") else None)}

    for direction in brain.DIRECTIONS:
        source, target = direction.split("_to_")
        loss = brain.train_map(codes[f"{source}_train"][streams[f"train_{source}_index"]],
                               codes[f"{target}_train"][streams[f"train_{target}_index"]],
                               params.relate.brain, params.seed, paths.brain_model(direction))
        print(f"brain {direction}: final standardised MSE {loss:.4f}", flush=True)

    storage.write_csv(paths.COOCCURRENCE, relations.cooccurrence_table(counts))
    storage.write_csv(paths.ONE_TO_ONE, relations.one_to_one(counts))
    storage.write_csv(paths.ONE_TO_MANY, relations.one_to_many(counts, params.relate.min_share))
    storage.write_csv(paths.TEST_EPISODE_CONCEPTS, pd.DataFrame({"image_concept": test_image, "audio_concept": test_audio}))
    storage.write_json(paths.RELATE_METRICS, metrics)
    storage.write_json(paths.TRANSFER_METRICS, transfer_metrics)
    storage.write_json(paths.ADAPTATION_SETTINGS, {"batch_neighbours": neighbours})  # the tool's --adapt
    print(", ".join(f"{name} {value:.3f}" for name, value in metrics.items() if isinstance(value, float)))


if __name__ == "__main__":
    from digit_concepts.core.stage_runner import run

    run(main, __file__)
