"""Stage encode: latent codes of every sample of both senses, and reconstruction errors (validation, test)."""

from digit_concepts.senses import autoencoders
from digit_concepts.core import paths, storage
from digit_concepts.core.evidence import INTERVAL_SUFFIX, Bootstrap
from digit_concepts.core.params import load

SAMPLES = {"image": paths.IMAGES, "audio": paths.AUDIO_FEATURES}  # what each autoencoder reads
TARGETS = {"image": paths.IMAGES, "audio": paths.SPECTROGRAMS}  # what its decoder makes


def main() -> None:
    params = load()
    codes, metrics = {}, {}
    bootstrap = Bootstrap.from_params(params)  # 95% intervals over the scored samples
    for modality, source in SAMPLES.items():
        samples = storage.read_npz(source)
        encoder, decoder = autoencoders.load_halves(paths.autoencoder_model(modality), params.seed)
        for split in ("train", "validation", "test"):
            codes[f"{modality}_{split}"] = encoder.predict(samples[split], batch_size=1024, verbose=0)
        targets = samples if TARGETS[modality] == source else storage.read_npz(TARGETS[modality])
        metrics[modality] = {}
        for split in ("validation", "test"):
            reconstructions = decoder.predict(codes[f"{modality}_{split}"], batch_size=1024, verbose=0)
            errors = autoencoders.reconstruction_errors(targets[split], reconstructions, binary=modality == "image")
            per_sample = autoencoders.sample_errors(targets[split], reconstructions, binary=modality == "image")
            errors.update({f"{name}{INTERVAL_SUFFIX}": bootstrap.of_mean(values) for name, values in per_sample.items()})
            # Test errors keep their old names (comparable across commits); validation ones are prefixed.
            metrics[modality].update(errors if split == "test" else {f"validation_{name}": value
                                                                     for name, value in errors.items()})
        if modality == "audio":  # the same recordings heard differently (shifts.AUDIO_SHIFTS)
            heard = storage.read_npz(paths.AUDIO_SHIFTS)
            transfer_codes = {f"audio_{name}": encoder.predict(inputs, batch_size=1024, verbose=0)
                              for name, inputs in heard.items()}
    storage.write_npz(paths.ENCODINGS, **codes)
    storage.write_npz(paths.TRANSFER_ENCODINGS, **transfer_codes)  # the images drawn differently: cluster
    storage.write_json(paths.RECONSTRUCTION_METRICS, metrics)
    print(metrics)


if __name__ == "__main__":
    from digit_concepts.core.stage_runner import run

    run(main, __file__)
