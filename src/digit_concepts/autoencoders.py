"""One autoencoder per sense (Keras functional API): build, train with dvclive, encode, score."""

from pathlib import Path

import numpy as np

from .runtime import keras_with_seed
from .storage import atomic_path


def _dense_halves(keras, input_shape, hidden_units, latent_dim, output_activation):
    size = int(np.prod(input_shape))
    inputs = keras.Input(shape=input_shape, name="input")
    x = keras.layers.Flatten()(inputs)
    for width in hidden_units:
        x = keras.layers.Dense(width, activation="relu")(x)
    code = keras.layers.Dense(latent_dim, name="code")(x)
    encoder = keras.Model(inputs, code, name="encoder")

    code_input = keras.Input(shape=(latent_dim,), name="code_input")
    y = code_input
    for width in reversed(hidden_units):
        y = keras.layers.Dense(width, activation="relu")(y)
    y = keras.layers.Dense(size, activation=output_activation)(y)
    decoder = keras.Model(code_input, keras.layers.Reshape(input_shape)(y), name="decoder")
    return encoder, decoder


def _conv_halves(keras, input_shape, hidden_units, latent_dim, output_activation):
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
    decoder = keras.Model(code_input, keras.layers.Reshape(input_shape)(y), name="decoder")
    return encoder, decoder


def build_autoencoder(keras, input_shape: tuple[int, int], config: dict, output_activation: str):
    """Encoder and decoder as named sub-models, so both can be pulled out of the saved file."""
    halves = _conv_halves if config["architecture"] == "conv" else _dense_halves
    encoder, decoder = halves(keras, input_shape, config["hidden_units"], config["latent_dim"], output_activation)
    inputs = keras.Input(shape=input_shape, name="sample")
    x = inputs
    if config["noise_stddev"] > 0:
        # Denoising: codes must survive corrupted input, which favours shape over detail.
        x = keras.layers.GaussianNoise(config["noise_stddev"])(x)
    autoencoder = keras.Model(inputs, decoder(encoder(x)), name="autoencoder")
    return autoencoder


LOSSES = {"image": "binary_crossentropy", "audio": "mean_squared_error"}
OUTPUT_ACTIVATIONS = {"image": "sigmoid", "audio": "linear"}


def train(modality: str, train_samples: np.ndarray, test_samples: np.ndarray, config: dict,
          seed: int, model_path: Path, log_dir: Path) -> dict:
    """Train one sense's autoencoder (test split as validation), log with dvclive, save .keras."""
    keras = keras_with_seed(seed)
    from dvclive import Live
    from dvclive.keras import DVCLiveCallback

    autoencoder = build_autoencoder(keras, train_samples.shape[1:], config, OUTPUT_ACTIVATIONS[modality])
    autoencoder.compile(optimizer=keras.optimizers.Adam(config["learning_rate"]), loss=LOSSES[modality])
    with Live(str(log_dir), dvcyaml=False, save_dvc_exp=False, report=None) as live:
        history = autoencoder.fit(
            train_samples, train_samples, validation_data=(test_samples, test_samples),
            epochs=config["epochs"], batch_size=config["batch_size"], shuffle=True, verbose=2,
            callbacks=[DVCLiveCallback(live=live)])
    with atomic_path(model_path) as temporary:
        autoencoder.save(temporary)
    return {name: float(values[-1]) for name, values in history.history.items()}


def load_halves(model_path: Path, seed: int):
    """(encoder, decoder) of a saved autoencoder."""
    keras = keras_with_seed(seed)
    autoencoder = keras.models.load_model(model_path)
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
