"""One autoencoder per sense (Keras functional API): build, train with dvclive, encode, score."""

import time
from pathlib import Path

import numpy as np

from digit_concepts.core import storage
from digit_concepts.core.params import AudioAutoencoderSettings, AutoencoderSettings, ImageAutoencoderSettings
from digit_concepts.core.runtime import keras_with_seed, load_model, save_model
from digit_concepts.core.sense import AUDIO, IMAGE, Sense, SplitArrays


def _dense_decoder(keras, latent_dim, hidden_units, output_shape, output_activation, name="decoder"):
    code_input = keras.Input(shape=(latent_dim,), name="code_input")
    y = code_input
    for width in reversed(hidden_units):
        y = keras.layers.Dense(width, activation="relu")(y)
    y = keras.layers.Dense(int(np.prod(output_shape)), activation=output_activation)(y)
    return keras.Model(code_input, keras.layers.Reshape(output_shape)(y), name=name)


def _dense_halves(keras, input_shape, hidden_units, latent_dim, output_activation, decoder_name):
    inputs = keras.Input(shape=input_shape, name="input")
    x = keras.layers.Flatten()(inputs)
    for width in hidden_units:
        x = keras.layers.Dense(width, activation="relu")(x)
    code = keras.layers.Dense(latent_dim, name="code")(x)
    encoder = keras.Model(inputs, code, name="encoder")
    return encoder, _dense_decoder(keras, latent_dim, hidden_units, input_shape, output_activation, decoder_name)


def _frame_halves(keras, input_shape, settings: AudioAutoencoderSettings, output_activation, decoder_name):
    """Convolution over time, each frame's features as channels (a time-delay network): a digit
    said a little earlier or slower still meets the same filters, where a dense layer would need a
    weight for every frame. Every layer after the first halves the frames; one dense layer of the
    last ``hidden_units`` width then makes the code. The decoder is the dense one."""
    inputs = keras.Input(shape=input_shape, name="input")
    x = keras.layers.Permute((2, 1))(inputs)  # (features, frames) -> (frames, features)
    for layer, filters in enumerate(settings.frame_filters):
        x = keras.layers.Conv1D(filters, settings.frame_kernel, strides=1 if layer == 0 else 2, padding="same",
                                activation="relu")(x)
    x = keras.layers.Dense(settings.hidden_units[-1], activation="relu")(keras.layers.Flatten()(x))
    code = keras.layers.Dense(settings.latent_dim, name="code")(x)
    encoder = keras.Model(inputs, code, name="encoder")
    return encoder, _dense_decoder(keras, settings.latent_dim, settings.hidden_units, input_shape, output_activation,
                                   decoder_name)


def _conv_halves(keras, input_shape, hidden_units, latent_dim, output_activation, decoder_name):
    # Strided 3x3 convolutions halve each side per layer; the decoder mirrors them.
    height, width = input_shape
    factor = 2 ** len(hidden_units)
    if height % factor or width % factor:
        raise ValueError(f"conv autoencoder: input {input_shape} must be divisible by {factor} "
                         f"(2 ** len(hidden_units)); use fewer layers or the dense architecture")
    inputs = keras.Input(shape=input_shape, name="input")
    x = keras.layers.Reshape((height, width, 1))(inputs)
    for filters in hidden_units:
        x = keras.layers.Conv2D(filters, 3, strides=2, padding="same", activation="relu")(x)
    x = keras.layers.Flatten()(x)
    code = keras.layers.Dense(latent_dim, name="code")(x)
    encoder = keras.Model(inputs, code, name="encoder")

    small = (height // factor, width // factor, hidden_units[-1])
    code_input = keras.Input(shape=(latent_dim,), name="code_input")
    y = keras.layers.Dense(int(np.prod(small)), activation="relu")(code_input)
    y = keras.layers.Reshape(small)(y)
    for filters in reversed(hidden_units[:-1]):
        y = keras.layers.Conv2DTranspose(filters, 3, strides=2, padding="same", activation="relu")(y)
    y = keras.layers.Conv2DTranspose(1, 3, strides=2, padding="same", activation=output_activation)(y)
    decoder = keras.Model(code_input, keras.layers.Reshape(input_shape)(y), name=decoder_name)
    return encoder, decoder


def build_autoencoder(*, keras, input_shape: tuple[int, int], settings: AutoencoderSettings, output_activation: str,
                      decoder_name: str = "decoder", partner_dim: int = 0):
    """Encoder and decoder as named sub-models, so both can be pulled out of the saved file.

    ``partner_dim`` > 0: a second output, a linear ``partner`` head on the code that predicts
    what the other sense shows in the same episodes (see ``partner_targets``).
    """
    if settings.architecture == "frames":
        encoder, decoder = _frame_halves(keras, input_shape, settings, output_activation, decoder_name)
    else:
        halves = _conv_halves if settings.architecture == "conv" else _dense_halves
        encoder, decoder = halves(keras, input_shape, settings.hidden_units, settings.latent_dim, output_activation,
                                  decoder_name)
    inputs = keras.Input(shape=input_shape, name="sample")
    x = inputs
    if settings.noise_stddev > 0:
        # Denoising: codes must survive corrupted input, which favours shape over detail.
        x = keras.layers.GaussianNoise(settings.noise_stddev)(x)
    code = encoder(x)
    if partner_dim:
        partner = keras.layers.Dense(partner_dim, name="partner")(code)
        return keras.Model(inputs, {"reconstruction": decoder(code), "partner": partner}, name="autoencoder")
    return keras.Model(inputs, decoder(code), name="autoencoder")


def partner_targets(partner_codes: np.ndarray, episode_partner_index: np.ndarray, episode_own_index: np.ndarray,
                    n_own: int) -> np.ndarray:
    """For each sample of one sense, the mean code of the other sense's samples it was shown with.

    The other sense as teacher, without labels: a recording heard with ~20 images of its digit
    gets their mean image code, which says which digit the images show and little of how each
    was drawn. Predicting it from the audio code pulls recordings of one digit together,
    whoever speaks. ``partner_codes`` should be standardised; a sample never shown gets zeros.
    """
    episode_own_index = np.asarray(episode_own_index)
    if len(episode_own_index) != len(episode_partner_index):
        raise ValueError(f"episodes: {len(episode_own_index)} own samples but {len(episode_partner_index)} partners")
    sums = np.zeros((n_own, partner_codes.shape[1]))
    np.add.at(sums, episode_own_index, partner_codes[np.asarray(episode_partner_index)])
    counts = np.bincount(episode_own_index, minlength=n_own)[:, None]
    return (sums / np.maximum(counts, 1)).astype(np.float32)


def image_teacher_targets(image_encoder, images: dict, streams: dict, recordings: dict[str, int]) -> tuple:
    """Each split's recordings' targets from the image sense (``recordings``: split -> how many):
    the mean image code, standardised with the train images' statistics, of the images each
    recording was shown with over its split's episodes (``partner_targets``)."""
    from digit_concepts.core.standardisation import Standardiser

    codes = {split: image_encoder.predict(images[split], batch_size=1024, verbose=0) for split in recordings}
    standardiser = Standardiser.fit(codes["train"])
    episodes = SplitArrays(streams)
    return tuple(partner_targets(standardiser.apply(codes[split]), episodes.episode_index(IMAGE, split),
                                 episodes.episode_index(AUDIO, split), count) for split, count in recordings.items())


LOSSES = {"image": "binary_crossentropy", "audio": "mean_squared_error"}
OUTPUT_ACTIVATIONS = {"image": "sigmoid", "audio": "linear"}


def train(*, sense: Sense, train_samples: np.ndarray, validation_samples: np.ndarray,
          settings: ImageAutoencoderSettings | AudioAutoencoderSettings, seed: int, model_path: Path, log_dir: Path,
          train_views: np.ndarray | None = None, sounds: tuple[np.ndarray, np.ndarray] | None = None,
          teachers: tuple[np.ndarray, np.ndarray] | None = None, augment=None) -> dict:
    """Train one sense's autoencoder, log with dvclive (validation loss: the validation split,
    never the test split), save .keras.

    ``train_views`` (views, n, ...): augmented renderings of the train samples, each trained to
    reconstruct its clean sample, so the codes learn to ignore what the views vary. ``sounds``
    (train, validation log-mels), when the inputs are not log-mels: after the autoencoder, a second
    decoder learns to turn its frozen codes into log-mels, so sounds can still be generated; it
    is frozen-code on purpose, as letting it train the encoder would put the voice back into
    the codes. Either way the saved model's ``decoder`` makes what generation plays or shows.
    ``teachers`` (train, validation ``partner_targets``) with the audio ``settings``' ``teacher_weight`` > 0:
    the codes must also predict them (mean squared error, that weight beside the reconstruction).
    ``augment(samples, rng)``: a fresh random rendering of every train sample each epoch, each
    trained to reconstruct its clean sample (``drawing_variations.augmented_images`` for images); then
    the image ``settings``' ``decoder_finetune_epochs`` on the clean samples' frozen codes sharpen the decoder.
    """
    keras = keras_with_seed(seed)
    weight = settings.teacher_weight if teachers is not None and isinstance(settings, AudioAutoencoderSettings) else 0.0
    autoencoder = build_autoencoder(keras=keras, input_shape=train_samples.shape[1:], settings=settings,
                                    output_activation=OUTPUT_ACTIVATIONS[sense.name],
                                    decoder_name="feature_decoder" if sounds is not None else "decoder",
                                    partner_dim=teachers[0].shape[1] if weight > 0 else 0)
    inputs, targets, validation_targets = _training_targets(train_samples, validation_samples, train_views,
                                                            teachers if weight > 0 else None)
    _compile(keras, autoencoder, settings.learning_rate, LOSSES[sense.name], weight)
    history = _fit(autoencoder, inputs, targets, (validation_samples, validation_targets), settings, seed, log_dir,
                   augment)
    final = {name: float(values[-1]) for name, values in history.items()}
    if isinstance(settings, ImageAutoencoderSettings) and settings.decoder_finetune_epochs:
        sharpen_history = _sharpen_decoder(keras=keras, autoencoder=autoencoder, train_samples=train_samples,
                                           validation_samples=validation_samples, settings=settings,
                                           loss=LOSSES[sense.name])
        final.update({f"sharpened_{name}": float(values[-1]) for name, values in sharpen_history.history.items()})
    if sounds is not None:
        autoencoder, sound_history = _add_sound_decoder(keras=keras, autoencoder=autoencoder,
                                                        train_samples=train_samples,
                                                        validation_samples=validation_samples, sounds=sounds,
                                                        settings=settings)
        final.update({f"sound_{name}": float(values[-1]) for name, values in sound_history.history.items()})
    save_model(autoencoder, model_path)
    return final


def _training_targets(train_samples: np.ndarray, validation_samples: np.ndarray, train_views: np.ndarray | None,
                      teachers: tuple[np.ndarray, np.ndarray] | None) -> tuple:
    """(inputs, targets, validation targets): the train samples and their views, each view's target
    its clean sample; with ``teachers``, each target beside its ``partner`` output's."""
    views = len(train_views) if train_views is not None else 0
    inputs = np.concatenate([train_samples, *train_views]) if views else train_samples
    targets = np.concatenate([train_samples] * (views + 1)) if views else train_samples
    if teachers is None:
        return inputs, targets, validation_samples
    return (inputs, {"reconstruction": targets, "partner": np.concatenate([teachers[0]] * (views + 1))},
            {"reconstruction": validation_samples, "partner": teachers[1]})


def _compile(keras, autoencoder, learning_rate: float, loss: str, partner_weight: float) -> None:
    """Adam on the reconstruction loss, and on the partner head's MSE at ``partner_weight`` when above 0."""
    optimizer = keras.optimizers.Adam(learning_rate)
    if partner_weight > 0:
        autoencoder.compile(optimizer=optimizer, loss={"reconstruction": loss, "partner": "mean_squared_error"},
                            loss_weights={"reconstruction": 1.0, "partner": partner_weight})
    else:
        autoencoder.compile(optimizer=optimizer, loss=loss)


def _fit(autoencoder, inputs, targets, validation_data: tuple, settings: AutoencoderSettings, seed: int,
         log_dir: Path, augment) -> dict:
    """The fit's history, logged with dvclive: on ``inputs`` as they are, or, given ``augment``,
    on a fresh rendering of them every epoch."""
    from dvclive import Live
    from dvclive.keras import DVCLiveCallback

    with Live(str(log_dir), dvcyaml=False, save_dvc_exp=False, report=None) as live:
        if augment is None:
            return autoencoder.fit(inputs, targets, batch_size=settings.batch_size, shuffle=True,
                                   validation_data=validation_data, epochs=settings.epochs, verbose=2,
                                   callbacks=[DVCLiveCallback(live=live)]).history
        renderings = fresh_renderings(inputs, augment, np.random.default_rng([seed, 4]))
        return fit_on_fresh_renderings(model=autoencoder, renderings=renderings, targets=targets,
                                       epochs=settings.epochs, batch_size=settings.batch_size,
                                       validation_data=validation_data, epoch_log=_epoch_log(live))


def fresh_renderings(samples: np.ndarray, augment, rng: np.random.Generator):
    """Endless epochs of (a fresh rendering of every sample, the order to train them in), from one
    seeded generator used as views then order, epoch after epoch: a run is repeatable and no two
    epochs see the same views. The views keep the samples' order (row i renders sample i), so
    neither they nor the targets are copied into the training order: the batches gather their rows."""
    while True:
        yield augment(samples, rng), rng.permutation(len(samples))


def fit_on_fresh_renderings(*, model, renderings, targets: np.ndarray, epochs: int, batch_size: int,
                            validation_data=None, epoch_log=None) -> dict:
    """``epochs`` epochs, each one fit on the next item of ``renderings`` (views, order), each view
    trained towards its row of ``targets``. Within an epoch the batches are runs of ``order`` taken
    in a random order of whole batches (Python's ``random``, seeded by ``keras_with_seed``), as a
    Python batch feeder (keras PyDataset) served them at first: the models are the same to the byte
    as then. The next views are drawn after an epoch, not beside it: drawing (0.6 s for 50,000
    digits) would only share the two cores with the fit, and two epochs' views held at once made
    the image autoencoder's stage the largest in memory."""
    import random

    import tensorflow

    history: dict[str, list[float]] = {}
    target_tensor = tensorflow.nest.map_structure(tensor_of, targets)
    next(renderings)  # the first rendering is drawn and dropped, as that feeder drew one on creation
    for epoch in range(epochs):
        views, order = next(renderings)
        batch_order = list(range(-(-len(views) // batch_size)))
        random.shuffle(batch_order)
        started = time.perf_counter()
        batches = _batches(tensor_of(views), target_tensor, order, batch_size, batch_order)
        del views  # the tensor holds them (shared, not copied)
        # Validation in batches of the training's size, as a fit on arrays does: Keras's default
        # for a dataset's fit (32) took 1.0 s per epoch on 10,000 digits instead of 0.35 s.
        logs = model.fit(batches, shuffle=False, validation_data=validation_data, validation_batch_size=batch_size,
                         initial_epoch=epoch, epochs=epoch + 1, verbose=0,
                         callbacks=[epoch_log] if epoch_log is not None else []).history
        del batches
        for name, values in logs.items():
            history.setdefault(name, []).extend(values)
        print(f"epoch {epoch + 1}/{epochs}, {time.perf_counter() - started:.1f} s: "
              + ", ".join(f"{name} {values[-1]:.4f}" for name, values in logs.items()), flush=True)
    return history


def tensor_of(array: np.ndarray):
    """``array`` as a TensorFlow tensor that shares its memory (DLPack), with no copy where the
    array is C-ordered on a 64-byte boundary and writable (the renderings are drawn so), one
    aligned copy otherwise; ``tensorflow.constant`` copied a 157 MB epoch of renderings once or
    twice. The array must not change while the tensor is used: nothing here writes to one after
    it is drawn. The values, and so the models, are the same either way."""
    import tensorflow

    shared = storage.aligned(array)
    if not shared.flags.writeable:  # DLPack cannot say read-only: a copy TensorFlow may own
        shared = storage.aligned_empty(shared.shape, shared.dtype)
        shared[...] = array
    return tensorflow.experimental.dlpack.from_dlpack(shared.__dlpack__())


def _batches(samples, targets, order: np.ndarray, batch_size: int, batch_order: list[int]):
    """A tf.data pipeline of the batches ``batch_order`` names (batch b: the rows ``order`` lists
    from b * batch_size onward, of ``samples`` and ``targets`` alike), gathered in the graph
    rather than by a Python generator."""
    import tensorflow

    starts = np.asarray(batch_order, dtype=np.int64) * batch_size
    ends = np.minimum(starts + batch_size, len(order))
    whole = tensorflow.data.Dataset.from_tensors((samples, targets, np.asarray(order, dtype=np.int64))).repeat()
    bounds = tensorflow.data.Dataset.from_tensor_slices((starts, ends))

    def batch(arrays, bound):
        rows = arrays[2][bound[0]:bound[1]]
        return (tensorflow.gather(arrays[0], rows),
                tensorflow.nest.map_structure(lambda target: tensorflow.gather(target, rows), arrays[1]))

    # No autotuning: ending an epoch's iterator then waited for tf.data's autotuning thread, about
    # 10 s in every other epoch (measured in the self-labelling classifier: epochs of 10 s or 20 s).
    # One sequential gather per batch and a fixed prefetch give the same batches, and no wait.
    options = tensorflow.data.Options()
    options.autotune.enabled = False
    options.experimental_optimization.map_parallelization = False
    return tensorflow.data.Dataset.zip(whole, bounds).map(batch).prefetch(2).with_options(options)


def _epoch_log(live):
    """dvclive's Keras callback for one fit per epoch: it logs each epoch, and the ``Live`` context
    ends the log once (the callback's own ``on_train_end`` would end it after the first epoch)."""
    from dvclive.keras import DVCLiveCallback

    class EpochLog(DVCLiveCallback):
        def on_train_end(self, logs=None):
            pass

    return EpochLog(live=live)


def _sharpen_decoder(*, keras, autoencoder, train_samples, validation_samples, settings: ImageAutoencoderSettings,
                     loss):
    """Fine-tune the decoder on clean samples' codes, the encoder frozen. Trained on renderings,
    the decoder learnt to draw the average of every way a code was drawn (blurry); a few epochs on
    clean digits alone make it draw the digit itself, and no code changes."""
    encoder, decoder = autoencoder.get_layer("encoder"), autoencoder.get_layer("decoder")
    train_codes = encoder.predict(train_samples, batch_size=1024, verbose=0)
    validation_codes = encoder.predict(validation_samples, batch_size=1024, verbose=0)
    decoder.compile(optimizer=keras.optimizers.Adam(settings.learning_rate), loss=loss)
    print("decoder fine-tuned on clean samples, encoder frozen:", flush=True)
    return decoder.fit(train_codes, train_samples, validation_data=(validation_codes, validation_samples),
                       epochs=settings.decoder_finetune_epochs, batch_size=settings.batch_size, shuffle=True,
                       verbose=2)


def _add_sound_decoder(*, keras, autoencoder, train_samples, validation_samples, sounds, settings: AutoencoderSettings):
    """Train a log-mel decoder on the frozen encoder's codes; return a model holding both decoders."""
    encoder = autoencoder.get_layer("encoder")
    train_codes = encoder.predict(train_samples, batch_size=1024, verbose=0)
    validation_codes = encoder.predict(validation_samples, batch_size=1024, verbose=0)
    decoder = _dense_decoder(keras, settings.latent_dim, settings.hidden_units, sounds[0].shape[1:], "linear")
    decoder.compile(optimizer=keras.optimizers.Adam(settings.learning_rate), loss="mean_squared_error")
    print("log-mel decoder on the frozen codes:", flush=True)
    history = decoder.fit(train_codes, sounds[0], validation_data=(validation_codes, sounds[1]), epochs=settings.epochs,
                          batch_size=settings.batch_size, shuffle=True, verbose=2)
    inputs = keras.Input(shape=train_samples.shape[1:], name="sample")
    code = encoder(inputs)
    combined = keras.Model(inputs, {"features": autoencoder.get_layer("feature_decoder")(code), "sound": decoder(code)},
                           name="autoencoder")
    return combined, history


def load_halves(model_path: Path, seed: int):
    """(encoder, decoder) of a saved autoencoder."""
    autoencoder = load_model(model_path, seed)
    return autoencoder.get_layer("encoder"), autoencoder.get_layer("decoder")


def sample_errors(originals: np.ndarray, reconstructions: np.ndarray, binary: bool) -> dict[str, np.ndarray]:
    """Each sample's per-element MSE, and BCE for [0, 1] data (clipped as Keras clips it)."""
    originals = originals.astype(np.float64).reshape(len(originals), -1)
    reconstructions = reconstructions.astype(np.float64).reshape(len(reconstructions), -1)
    errors = {"mse": np.mean((originals - reconstructions) ** 2, axis=1)}
    if binary:
        clipped = np.clip(reconstructions, 1e-7, 1 - 1e-7)
        errors["bce"] = -np.mean(originals * np.log(clipped) + (1 - originals) * np.log(1 - clipped), axis=1)
    return errors


def reconstruction_errors(originals: np.ndarray, reconstructions: np.ndarray, binary: bool) -> dict:
    """Per-element MSE, and BCE for [0, 1] data (clipped as Keras clips it), over all samples
    (summed in one go, as before ``sample_errors`` existed: the same bits in metrics/)."""
    originals = originals.astype(np.float64)
    reconstructions = reconstructions.astype(np.float64)
    errors = {"mse": float(np.mean((originals - reconstructions) ** 2))}
    if binary:
        clipped = np.clip(reconstructions, 1e-7, 1 - 1e-7)
        errors["bce"] = float(-np.mean(originals * np.log(clipped) + (1 - originals) * np.log(1 - clipped)))
    return errors
