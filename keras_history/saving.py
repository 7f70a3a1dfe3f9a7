"""Shipping a model: a checked SavedModel export, and loading with clear errors.

`model.export(path)` (Keras) writes a TensorFlow SavedModel with a `serve`
endpoint and a `serving_default` signature, for TF Serving or any TensorFlow
program. `export` here does the same and then proves it: it reloads the
SavedModel with plain TensorFlow and compares its outputs with
`model.predict`. On the PyTorch backend, where Keras cannot write a SavedModel,
it takes the supported path: save `.keras`, reload under the TensorFlow
backend in a subprocess, export there.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import keras
import numpy as np

from keras_history import backend

_EXPORT_UNDER_TENSORFLOW = (
    "import sys, keras, keras_history\n"
    "keras.models.load_model(sys.argv[1]).export(sys.argv[2], verbose=False)\n"
)


class ExportMismatchError(RuntimeError):
    """The exported SavedModel does not reproduce the model's predictions."""


def _export_via_tensorflow(model: keras.Model, path: Path) -> None:
    with tempfile.TemporaryDirectory() as folder:
        saved = Path(folder) / "model.keras"
        model.save(saved)
        env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3"}
        done = subprocess.run([sys.executable, "-c", _EXPORT_UNDER_TENSORFLOW, str(saved),
                               str(path)], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"Exporting {model.name} under the TensorFlow backend failed:\n"
                           f"{done.stderr[-3000:]}")


def export(model: keras.Model, path: str | os.PathLike, sample: np.ndarray | None = None,
           atol: float = 1e-5) -> Path:
    """Export `model` as a SavedModel at `path` and check it against `model.predict`.

    Args:
        model: a built keras_history model (factories build those that know
            their input; others are built by their first `fit`).
        path: the SavedModel folder to write.
        sample: inputs to compare on; default: 7 random inputs in [0, 1).
        atol: the largest absolute difference allowed.

    Returns:
        The SavedModel's path.

    Raises:
        ValueError: the model has no known input shape yet.
        ExportMismatchError: the reloaded SavedModel disagrees with the model.
    """
    import tensorflow as tf

    if not model.built:
        raise ValueError(f"{model.name} is not built, so its input shape is unknown: fit it "
                         "first, or create it with `input_dim=` / `input_shape=`.")
    path = Path(path)
    if sample is None:
        shape = backend.input_shape(model)
        sample = np.random.default_rng(0).random((7, *shape[1:]), dtype=np.float32)
    sample = np.asarray(sample, dtype="float32")
    if backend.BACKEND == "torch":
        _export_via_tensorflow(model, path)
    else:
        model.export(str(path), verbose=False)
    reloaded = tf.saved_model.load(str(path))  # kept alive while `serve` runs
    served = reloaded.serve(tf.constant(sample)).numpy()
    expected = model.predict(sample, verbose=0)
    difference = float(np.max(np.abs(served - expected)))
    if not difference <= atol:
        raise ExportMismatchError(f"The SavedModel at {path} differs from {model.name}.predict "
                                  f"by up to {difference:g} (allowed {atol:g}).")
    return path


def load_model(path: str | os.PathLike) -> keras.Model:
    """`keras.models.load_model` (safe mode) with an error that says what is wrong with the file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such model file.")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path} is not a .keras model file (a zip archive holding "
                         "config.json and model.weights.h5); it may be truncated.")
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if "config.json" not in names:
                raise ValueError(f"{path} is a zip archive but not a .keras model "
                                 "(no config.json).")
            if archive.testzip() is not None:
                raise zipfile.BadZipFile("a member fails its CRC check")
    except zipfile.BadZipFile as error:
        raise ValueError(f"{path} is corrupted or truncated ({error}).") from error
    try:
        return keras.models.load_model(path, safe_mode=True)
    except Exception as error:
        raise ValueError(f"Could not load the model in {path}: {error}") from error
