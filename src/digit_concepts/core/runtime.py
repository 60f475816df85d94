"""TensorFlow/Keras set-up shared by every model: quiet import, seeds, deterministic ops and files."""

import contextlib
import io
import json
import os
import zipfile
from pathlib import Path

from digit_concepts.core.storage import atomic_path

# A fixed zip time for every member of a saved model: the bytes then depend only on the model.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


@contextlib.contextmanager
def silenced_stderr():
    # TF 2.21 prints oneDNN/CPU banners from C++ that TF_CPP_MIN_LOG_LEVEL does not hide.
    saved = os.dup(2)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def keras_with_seed(seed: int):
    """Import Keras on the TensorFlow backend, seed every generator and make ops deterministic."""
    # Level 3: TF 2.21's tf.data logs a harmless C++ "E0000 ... use_unbounded_threadpool" line
    # on every fit with validation data; real failures still raise Python exceptions.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    with silenced_stderr():
        import keras
        import tensorflow
    # TF's Python-side warnings (e.g. "triggered tf.function retracing" when several models
    # predict in turn) are about speed hints, not results: keep them out of the stage logs.
    tensorflow.get_logger().setLevel("ERROR")
    keras.utils.set_random_seed(seed)
    tensorflow.config.experimental.enable_op_determinism()
    return keras


def _renumbered_shared_objects(config: object, numbers: dict) -> object:
    """The config with Keras' ``shared_object_id`` values (object ids, new every run) renumbered
    in order of appearance; equal ids stay equal, so shared layers stay shared."""
    if isinstance(config, dict):
        return {key: (numbers.setdefault(value, len(numbers)) if key == "shared_object_id"
                      else _renumbered_shared_objects(value, numbers)) for key, value in config.items()}
    if isinstance(config, list):
        return [_renumbered_shared_objects(value, numbers) for value in config]
    return config


def deterministic_keras_archive(archive: bytes) -> bytes:
    """A ``.keras`` zip whose bytes depend only on the model: Keras stamps ``date_saved``, zip
    times and object ids into it, so identical weights would otherwise hash differently."""
    members = []
    with zipfile.ZipFile(io.BytesIO(archive)) as source:
        for entry in source.infolist():
            content = source.read(entry.filename)
            if entry.filename == "metadata.json":
                metadata = json.loads(content)
                metadata.pop("date_saved", None)
                content = json.dumps(metadata, sort_keys=True).encode()
            elif entry.filename == "config.json":
                content = json.dumps(_renumbered_shared_objects(json.loads(content), {})).encode()
            members.append((entry.filename, entry.compress_type, content))
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w") as target:
        for name, compression, content in members:
            entry = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            entry.compress_type = compression
            entry.external_attr = 0o644 << 16
            target.writestr(entry, content)
    return output.getvalue()


def save_model(model, target: Path) -> None:
    """Save a Keras model whole or not at all, with bytes that depend only on the model."""
    with atomic_path(target) as temporary:
        model.save(temporary)
        temporary.write_bytes(deterministic_keras_archive(temporary.read_bytes()))


def load_model(source: Path, seed: int):
    """Load a saved model for inference: no optimizer state (nothing trains it further), which
    also keeps Keras' "Skipping variable loading for optimizer" warnings away."""
    keras = keras_with_seed(seed)
    return keras.models.load_model(source, compile=False)
