"""Shipping a model: a checked SavedModel export, and loading with clear errors.

`model.export(path)` (Keras) writes a TensorFlow SavedModel with a `serve`
endpoint and a `serving_default` signature, for TF Serving or any TensorFlow
program. `export` here does the same and then proves it: it reloads the
SavedModel with plain TensorFlow and compares its outputs with
`model.predict`. On the PyTorch backend, where Keras cannot write a SavedModel
(docs/saving.md says why), it takes the supported path: save `.keras`, reload
under the TensorFlow backend in a subprocess, export there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable
from pathlib import Path

import h5py
import keras
import numpy as np

from keras_history import backend

# Run by `_export_via_tensorflow` in a fresh process whose Keras backend is TensorFlow.
_EXPORT_UNDER_TENSORFLOW = r"""
import json, sys
import keras
import keras_history  # registers the model classes

for source, target in json.loads(sys.argv[1]):
    keras.models.load_model(source, compile=False).export(target, verbose=False)
"""


class ExportMismatchError(RuntimeError):
    """The exported SavedModel does not reproduce the model's predictions."""


def _require_built(model: keras.Model) -> None:
    if not model.built:
        raise ValueError(f"{model.name} is not built, so its input shape is unknown: fit it "
                         "first, or create it with `input_dim=` / `input_shape=`.")


def _export_via_tensorflow(jobs: list[tuple[keras.Model, Path]]) -> None:
    """Write each SavedModel from a TensorFlow-backend process: one process for all jobs."""
    with tempfile.TemporaryDirectory() as folder:
        pairs = []
        for number, (model, path) in enumerate(jobs):
            saved = Path(folder) / f"{number}.keras"
            model.save(saved)
            pairs.append((str(saved), str(path)))
        # The child must import this very keras_history, installed or not.
        package_root = str(Path(__file__).resolve().parents[1])
        python_path = os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH"))
                                      if p)
        env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3",
               "PYTHONPATH": python_path}
        done = subprocess.run([sys.executable, "-c", _EXPORT_UNDER_TENSORFLOW,
                               json.dumps(pairs)], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        names = ", ".join(model.name for model, _ in jobs)
        raise RuntimeError(f"Exporting {names} under the TensorFlow backend failed:\n"
                           f"{done.stderr[-3000:]}")


def _write_savedmodels(jobs: list[tuple[keras.Model, Path]]) -> None:
    for model, _ in jobs:
        _require_built(model)
    if backend.BACKEND == "torch":
        _export_via_tensorflow(jobs)
    else:  # TensorFlow natively, JAX through jax2tf
        for model, path in jobs:
            model.export(str(path), verbose=False)


def check_savedmodel(model: keras.Model, path: str | os.PathLike,
                     sample: np.ndarray | None = None, atol: float = 1e-5) -> float:
    """Reload the SavedModel at `path` with plain TensorFlow and compare it with `model`.

    Both the `serve` endpoint and the `serving_default` signature (what TF
    Serving calls) must match `model.predict` on `sample`, fed whole and one
    row at a time (the batch axis is dynamic).

    Args:
        model: the model the SavedModel was exported from.
        path: the SavedModel folder.
        sample: inputs to compare on; default: 7 random inputs in [0, 1)
            (5 steps long where the model takes sequences of any length).
        atol: the largest absolute difference allowed.

    Returns:
        The largest absolute difference found.

    Raises:
        ExportMismatchError: a difference above `atol`, or no `serving_default`.
    """
    import tensorflow as tf

    if sample is None:
        shape = backend.input_shape(model)
        # An axis of any length (a sequence's steps) gets 5.
        dims = [5 if d is None else d for d in shape[1:]]
        sample = np.random.default_rng(0).random((7, *dims), dtype=np.float32)
    sample = np.asarray(sample, dtype="float32")
    reloaded = tf.saved_model.load(str(path))  # kept alive while its functions run
    if "serving_default" not in reloaded.signatures:
        raise ExportMismatchError(f"The SavedModel at {path} has no `serving_default` "
                                  "signature, so TF Serving cannot call it.")
    signature = reloaded.signatures["serving_default"]
    expected = model.predict(sample, verbose=0)
    outputs = [
        reloaded.serve(tf.constant(sample)).numpy(),
        reloaded.serve(tf.constant(sample[:1])).numpy(),
        next(iter(signature(tf.constant(sample)).values())).numpy(),
    ]
    references = [expected, expected[:1], expected]
    if any(got.shape != want.shape for got, want in zip(outputs, references)):
        raise ExportMismatchError(
            f"The SavedModel at {path} returns shapes {[o.shape for o in outputs]}, "
            f"but {model.name}.predict returns {expected.shape}.")
    difference = max(float(np.max(np.abs(got - want)))
                     for got, want in zip(outputs, references))
    if not difference <= atol:  # `not <=` also catches NaN
        raise ExportMismatchError(f"The SavedModel at {path} differs from {model.name}.predict "
                                  f"by up to {difference:g} (allowed {atol:g}).")
    return difference


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
    path = Path(path)
    _write_savedmodels([(model, path)])
    check_savedmodel(model, path, sample, atol)
    return path


def export_many(jobs: Iterable[tuple[keras.Model, str | os.PathLike]],
                atol: float = 1e-5) -> list[Path]:
    """`export` for several `(model, path)` pairs, each checked on random inputs.

    On PyTorch this starts one TensorFlow process for all of them instead of
    one each (a TensorFlow start costs seconds).
    """
    jobs = [(model, Path(path)) for model, path in jobs]
    _write_savedmodels(jobs)
    for model, path in jobs:
        check_savedmodel(model, path, atol=atol)
    return [path for _, path in jobs]


def load_model(path: str | os.PathLike) -> keras.Model:
    """`keras.models.load_model` (safe mode) with an error that says what is wrong with the file."""
    path = Path(path)
    if path.is_dir():
        if (path / "saved_model.pb").is_file():
            raise ValueError(f"{path} is a TensorFlow SavedModel (an export for serving), not a "
                             ".keras model file: load it with `tf.saved_model.load` or "
                             "`keras.layers.TFSMLayer`; it cannot be trained further.")
        raise ValueError(f"{path} is a folder, not a .keras model file.")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such model file.")
    if h5py.is_hdf5(path):
        raise ValueError(f"{path} is not a .keras model file but an HDF5 file (weights from "
                         "`save_weights`, or a legacy .h5 model): load weights into a model "
                         "made by the same factory with `keras_history.load_weights`.")
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


def _build_from_weights_file(model: keras.Model, path: Path) -> None:
    # Only the linear factories are left unbuilt (`input_dim=None`); their first
    # own variable is the kernel, (features, units), so the file knows the width.
    with h5py.File(path, "r") as weights:
        kernel = weights.get("vars/0")
        features = kernel.shape[0] if isinstance(kernel, h5py.Dataset) and kernel.ndim == 2 \
            else None
    if features is None:
        raise ValueError(f"{model.name} is not built and {path} does not record an input "
                         "width for it: create it with `input_dim=` / `input_shape=`.")
    from keras_history.models.base import build_for

    build_for(model, (features,))


def _describe(model: keras.Model) -> str:
    shapes = [f"{v.path} {tuple(v.shape)}" for v in model.weights]
    more = f", ... ({len(shapes)} in all)" if len(shapes) > 4 else ""
    return f"{type(model).__name__} {model.name!r} with weights " + ", ".join(shapes[:4]) + more


def load_weights(model: keras.Model, path: str | os.PathLike) -> keras.Model:
    """`model.load_weights(path)` with an error that says what is wrong with the file.

    A model that is not built yet (a linear factory without `input_dim`) is
    built for the input width the file records. Returns `model`.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a weights file, truncated, or saved from a different
            architecture (the message names the file and what the model expects).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such weights file.")
    if path.suffix == ".keras" and zipfile.is_zipfile(path):
        hdf5 = False  # Keras reads the weights out of a whole-model file too
    elif h5py.is_hdf5(path):
        hdf5 = True
    else:
        raise ValueError(f"{path} is not a Keras weights file (HDF5, written by "
                         "`model.save_weights`); it may be truncated.")
    try:
        if hdf5 and not model.built:
            _build_from_weights_file(model, path)
        model.load_weights(path)
    except OSError as error:  # h5py: the file is cut short or damaged
        raise ValueError(f"{path} is corrupted or truncated ({error}).") from error
    except ValueError as error:
        if not model.built:
            raise
        raise ValueError(f"The weights in {path} do not fit {_describe(model)}: they were "
                         f"saved from a different architecture or different options.\n"
                         f"Keras says: {error}") from error
    return model
