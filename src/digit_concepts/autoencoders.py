"""One autoencoder per sense (Keras functional API): build, train with dvclive, encode, score."""

from pathlib import Path

import numpy as np

from .runtime import keras_with_seed, load_model, save_model


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


def build_autoencoder(keras, input_shape: tuple[int, int], config: dict, output_activation: str,
                      decoder_name: str = "decoder"):
    """Encoder and decoder as named sub-models, so both can be pulled out of the saved file."""
    halves = _conv_halves if config["architecture"] == "conv" else _dense_halves
    encoder, decoder = halves(keras, input_shape, config["hidden_units"], config["latent_dim"], output_activation,
                              decoder_name)
    inputs = keras.Input(shape=input_shape, name="sample")
    x = inputs
    if config["noise_stddev"] > 0:
        # Denoising: codes must survive corrupted input, which favours shape over detail.
        x = keras.layers.GaussianNoise(config["noise_stddev"])(x)
    autoencoder = keras.Model(inputs, decoder(encoder(x)), name="autoencoder")
    return autoencoder


LOSSES = {"image": "binary_crossentropy", "audio": "mean_squared_error"}
OUTPUT_ACTIVATIONS = {"image": "sigmoid", "audio": "linear"}


def train(modality: str, train_samples: np.ndarray, validation_samples: np.ndarray, config: dict,
          seed: int, model_path: Path, log_dir: Path, train_views: np.ndarray | None = None,
          sounds: tuple[np.ndarray, np.ndarray] | None = None) -> dict:
    """Train one sense's autoencoder, log with dvclive (validation loss: the validation split,
    never the test split), save .keras.

    ``train_views`` (views, n, ...): augmented renderings of the train samples, each trained to
    reconstruct its clean sample, so the codes learn to ignore what the views vary. ``sounds``
    (train, validation log-mels), when the inputs are not log-mels: after the autoencoder, a second
    decoder learns to turn its frozen codes into log-mels, so sounds can still be generated; it
    is frozen-code on purpose, as letting it train the encoder would put the voice back into
    the codes. Either way the saved model's ``decoder`` makes what generation plays or shows.
    """
    keras = keras_with_seed(seed)
    from dvclive import Live
    from dvclive.keras import DVCLiveCallback

    autoencoder = build_autoencoder(keras, train_samples.shape[1:], config, OUTPUT_ACTIVATIONS[modality],
                                    decoder_name="feature_decoder" if sounds is not None else "decoder")
    autoencoder.compile(optimizer=keras.optimizers.Adam(config["learning_rate"]), loss=LOSSES[modality])
    inputs, targets = train_samples, train_samples
    if train_views is not None and len(train_views):
        inputs = np.concatenate([train_samples, *train_views])
        targets = np.concatenate([train_samples] * (len(train_views) + 1))
    with Live(str(log_dir), dvcyaml=False, save_dvc_exp=False, report=None) as live:
        history = autoencoder.fit(
            inputs, targets, validation_data=(validation_samples, validation_samples),
            epochs=config["epochs"], batch_size=config["batch_size"], shuffle=True, verbose=2,
            callbacks=[DVCLiveCallback(live=live)])
    final = {name: float(values[-1]) for name, values in history.history.items()}
    if sounds is not None:
        autoencoder, sound_history = _add_sound_decoder(keras, autoencoder, train_samples, validation_samples, sounds,
                                                        config)
        final.update({f"sound_{name}": float(values[-1]) for name, values in sound_history.history.items()})
    save_model(autoencoder, model_path)
    return final


def _add_sound_decoder(keras, autoencoder, train_samples, validation_samples, sounds, config):
    """Train a log-mel decoder on the frozen encoder's codes; return a model holding both decoders."""
    encoder = autoencoder.get_layer("encoder")
    train_codes = encoder.predict(train_samples, batch_size=1024, verbose=0)
    validation_codes = encoder.predict(validation_samples, batch_size=1024, verbose=0)
    decoder = _dense_decoder(keras, config["latent_dim"], config["hidden_units"], sounds[0].shape[1:], "linear")
    decoder.compile(optimizer=keras.optimizers.Adam(config["learning_rate"]), loss="mean_squared_error")
    print("log-mel decoder on the frozen codes:", flush=True)
    history = decoder.fit(train_codes, sounds[0], validation_data=(validation_codes, sounds[1]), epochs=config["epochs"],
                          batch_size=config["batch_size"], shuffle=True, verbose=2)
    inputs = keras.Input(shape=train_samples.shape[1:], name="sample")
    code = encoder(inputs)
    combined = keras.Model(inputs, {"features": autoencoder.get_layer("feature_decoder")(code), "sound": decoder(code)},
                           name="autoencoder")
    return combined, history


def load_halves(model_path: Path, seed: int):
    """(encoder, decoder) of a saved autoencoder."""
    autoencoder = load_model(model_path, seed)
    return autoencoder.get_layer("encoder"), autoencoder.get_layer("decoder")


def reconstruction_errors(originals: np.ndarray, reconstructions: np.ndarray, binary: bool) -> dict:
    """Per-element MSE, and BCE for [0, 1] data (clipped as Keras clips it)."""
    originals = originals.astype(np.float64)
    reconstructions = reconstructions.astype(np.float64)
    errors = {"mse": float(np.mean((originals - reconstructions) ** 2))}
    if binary:
        clipped = np.clip(reconstructions, 1e-7, 1 - 1e-7)
        errors["bce"] = float(-np.mean(originals * np.log(clipped) + (1 - originals) * np.log(1 - clipped)))
    return errors
