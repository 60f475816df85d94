"""TensorFlow/Keras set-up shared by every model: quiet import, seeds, deterministic ops."""

import contextlib
import os


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
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    with silenced_stderr():
        import keras
        import tensorflow
    keras.utils.set_random_seed(seed)
    tensorflow.config.experimental.enable_op_determinism()
    return keras
