"""Stage encode: latent codes of every sample of both senses, and reconstruction errors (validation, test)."""

from digit_concepts.core import paths, storage
from digit_concepts.core.evidence import Bootstrap
from digit_concepts.core.params import load
from digit_concepts.core.sense import AUDIO, IMAGE
from digit_concepts.pipeline import encode
from digit_concepts.senses import autoencoders


def main() -> None:
    params = load()
    bootstrap = Bootstrap.from_params(params)  # 95% intervals over the scored samples
    images = storage.read_npz(IMAGE.inputs)
    image_encoder, image_decoder = autoencoders.load_halves(paths.autoencoder_model(IMAGE.name), params["seed"])
    image = encode.encoded(IMAGE, image_encoder, image_decoder, samples=images, targets=images, bootstrap=bootstrap)
    audio_inputs, spectrograms = storage.read_npz(AUDIO.inputs), storage.read_npz(AUDIO.shown)
    audio_encoder, audio_decoder = autoencoders.load_halves(paths.autoencoder_model(AUDIO.name), params["seed"])
    audio = encode.encoded(AUDIO, audio_encoder, audio_decoder, samples=audio_inputs, targets=spectrograms,
                           bootstrap=bootstrap)
    # The same recordings heard differently (domain_shifts.AUDIO_SHIFTS); the images drawn differently: cluster.
    heard = encode.shifted_codes(AUDIO, audio_encoder, storage.read_npz(paths.AUDIO_SHIFTS))
    metrics = encode.metrics_by_sense(image, audio)
    storage.write_npz(paths.ENCODINGS, **image.codes, **audio.codes)
    storage.write_npz(paths.TRANSFER_ENCODINGS, **heard)
    storage.write_json(paths.RECONSTRUCTION_METRICS, metrics)
    print(metrics)


if __name__ == "__main__":
    from digit_concepts.core.stage_runner import run

    run(main, __file__)
