"""Stage relate: co-occurrence of concepts over train episodes, relationship tables, brain module."""

from digit_concepts.core import paths, storage
from digit_concepts.core.evidence import Bootstrap
from digit_concepts.core.params import load
from digit_concepts.crossmodal import brain
from digit_concepts.pipeline import relate


def main() -> None:
    params = load()
    read = relate.read_inputs()
    most = params["adaptation"]["batch_neighbours"]  # what test-time adaptation borrows at most
    bootstrap = Bootstrap.from_params(params)  # 95% intervals over the scored samples
    train_episodes = relate.episode_concepts(read.assignments, read.streams, "train")
    test_episodes = relate.episode_concepts(read.assignments, read.streams, "test")
    counts = relate.cooccurrence(train_episodes, read.assignments)
    naming = relate.naming(assignments=read.assignments, codes=read.codes, counts=counts, test_episodes=test_episodes,
                           labels=read.labels, most=most, bootstrap=bootstrap)
    transfer = relate.transfer_metrics(inputs=read, counts=counts, naming=naming, most=most, bootstrap=bootstrap)
    for direction, (source_codes, target_codes) in relate.brain_pairs(read.codes, read.streams).items():
        loss = brain.train_map(source_codes, target_codes, params["relate"]["brain"], params["seed"],
                               paths.brain_model(direction))
        print(f"brain {direction}: final standardised MSE {loss:.4f}", flush=True)
    tables = relate.tables(counts, params["relate"]["min_share"])
    storage.write_csv(paths.COOCCURRENCE, tables.cooccurrence)
    storage.write_csv(paths.ONE_TO_ONE, tables.one_to_one)
    storage.write_csv(paths.ONE_TO_MANY, tables.one_to_many)
    storage.write_csv(paths.TEST_EPISODE_CONCEPTS, test_episodes.table())
    storage.write_json(paths.RELATE_METRICS, naming.scores)
    storage.write_json(paths.TRANSFER_METRICS, transfer)
    storage.write_json(paths.ADAPTATION_SETTINGS, {"batch_neighbours": most})  # the tool's --adapt
    print(relate.summary(naming.scores))


if __name__ == "__main__":
    from digit_concepts.core.stage_runner import run

    run(main, __file__)
