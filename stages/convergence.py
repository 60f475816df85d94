"""Stage convergence: zones, fused accuracy with attention, generation and its coherence."""

from digit_concepts.core import paths, storage
from digit_concepts.core.evidence import Bootstrap
from digit_concepts.core.params import load
from digit_concepts.pipeline import convergence


def main() -> None:
    params = load()
    settings, seed = params["convergence"], params["seed"]
    read = convergence.read_inputs(seed)
    codes, counts, samples, labels = read.codes, read.counts, read.samples, read.labels
    zones = convergence.zones_of(counts, settings)
    decision = convergence.fused_decision(codes=codes, assignments=read.assignments, gaussians=read.gaussians,
                                          streams=read.streams, counts=counts,
                                          image_by_classifier=read.image_by_classifier)
    batches = convergence.recording_batches(read.assignments, codes, counts, params["adaptation"]["batch_neighbours"])
    imagination = convergence.imagination(decoders=read.decoders, brain_maps=read.brain_maps, gaussians=read.gaussians,
                                          counts=counts, codes=codes, batches=batches, samples=samples, labels=labels,
                                          settings=settings, seed=seed)
    unfamiliarity = convergence.unfamiliarity(decoders=read.decoders, codes=codes, samples=samples,
                                              unfamiliar_share=settings["unfamiliar_share"])
    bootstrap = Bootstrap.from_params(params)  # 95% intervals over the scored samples
    coherence = convergence.coherence(samples=samples, labels=labels, imagined=imagination,
                                      epochs=settings["evaluation_classifier_epochs"], seed=seed, bootstrap=bootstrap)
    metrics = convergence.metrics(decision=decision, coherence=coherence, concept_zones=zones,
                                  unfamiliar=unfamiliarity, labels=labels, streams=read.streams, bootstrap=bootstrap)
    attention = convergence.attention(decision, read.streams)
    storage.write_csv(paths.CONCEPT_TABLE, zones.table)
    storage.write_npz(paths.ATTENTION, **attention)
    storage.write_npz(paths.GENERATED, **imagination.generated)
    storage.write_npz(paths.FAMILIARITY, **unfamiliarity.arrays())
    storage.write_json(paths.CONVERGENCE_METRICS, metrics)
    print(convergence.summary(metrics))


if __name__ == "__main__":
    from digit_concepts.core.stage_runner import run

    run(main, __file__)
