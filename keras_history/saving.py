"""Shipping a model: checked exports (SavedModel, ONNX, LiteRT), and loading with clear errors.

`export(model, path, format=...)` writes an artifact for serving and then proves
it in the format's own runtime: it loads what it wrote (TensorFlow for a
SavedModel, `onnxruntime` for ONNX, the LiteRT interpreter of `ai-edge-litert`
for LiteRT), runs a sample and compares with `model.predict`. Every model's
own `model.export(path, format=...)` takes the same route (models/base.py).

Where each artifact is written:

- SavedModel: in this process on TensorFlow and JAX (Keras converts JAX
  through jax2tf); on PyTorch, where Keras cannot write one (Keras issue
  20847, docs/saving.md), from a `.keras` copy reloaded under the TensorFlow
  backend in a subprocess.
- ONNX (through `tf2onnx`) and LiteRT (through the TensorFlow Lite converter):
  in this process on TensorFlow; from JAX and PyTorch by the same subprocess.

The serving contract: what an exported model takes and returns, the same in
every format. A model declares it with a `serving_contract()` method returning
a `ServingContract`; `CheckedInputsMixin` (models/base.py) gives every milestone
the default, `features` in and `outputs` out, float32. An image model opts in
to pixels by returning, for instance,
`ServingContract("images", "probabilities", pixels=True)` (see `MNISTConvNet`):
its input is then also accepted as uint8 levels 0..255, divided by 255 inside
the artifact, with a trailing single channel axis optional (grey levels
`(N, 28, 28)` as `mnist.load_data` gives them). Concretely:

- SavedModel: `serve` (Keras's endpoint: float32 in, a tensor out);
  `serving_default` (float32 `features`/`images` in, a dict with
  `outputs`/`probabilities` out); for pixel models also `serving_uint8`
  (uint8 `images` in, `probabilities` out). `saved_model_cli show --all` lists them.
- ONNX and LiteRT: one input and one output (LiteRT: one signature,
  `serving_default`): uint8 `images` for pixel models, float32 `features`
  otherwise; `probabilities` (`outputs`) out.

The runtimes are imported only when needed; `pip install "keras-history[export]"`
installs them.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import warnings
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import h5py
import keras
import numpy as np

from keras_history import backend
from keras_history.building import build_for

# Run by `_write_under_tensorflow` in a fresh process whose Keras backend is TensorFlow.
_WRITE_UNDER_TENSORFLOW = r"""
import json, sys
import keras
from keras_history import saving  # also registers the model classes

for source, target, format in json.loads(sys.argv[1]):
    saving._write_here(keras.models.load_model(source, compile=False), target, format)
"""

# Format names: ours, and Keras's `model.export` spelling of the SavedModel.
FORMATS = {"savedmodel": "savedmodel", "tf_saved_model": "savedmodel", "onnx": "onnx",
           "litert": "litert"}
INSTALL_EXPORT = 'pip install "keras-history[export]"'


class ExportMismatchError(RuntimeError):
    """The exported artifact does not reproduce the model's predictions."""


@dataclass(frozen=True)
class ServingContract:
    """What an exported model takes and returns (see this module's docstring).

    Attributes:
        input_name: the name of the input in every format.
        output_name: the name of the output in every format.
        pixels: the input is an image whose pixels may also come as uint8
            levels 0..255: the artifacts divide them by 255 themselves.
        atol: the largest absolute difference from `predict` that the export
            checks allow (float32 arithmetic in another order: 1e-5 unless the
            model's outputs magnify rounding, as LeNet-5's do).
    """

    input_name: str = "features"
    output_name: str = "outputs"
    pixels: bool = False
    atol: float = 1e-5


def serving_contract(model: keras.Model) -> ServingContract:
    """The model's declared contract, or the default for a model that declares none."""
    declare = getattr(model, "serving_contract", None)
    return declare() if callable(declare) else ServingContract()


def _format(format: str) -> str:
    if format not in FORMATS:
        raise ValueError(f"`format` must be one of {sorted(FORMATS)}, got {format!r}.")
    return FORMATS[format]


# What each optional module is for, and the package that installs it.
_OPTIONAL = {"tf2onnx": ("tf2onnx", "Writing ONNX"),
             "onnxruntime": ("onnxruntime", "Checking an ONNX file"),
             "ai_edge_litert": ("ai-edge-litert", "Checking a LiteRT file")}
_NEEDED_BY = {"savedmodel": (), "onnx": ("tf2onnx", "onnxruntime"), "litert": ("ai_edge_litert",)}


def _missing(module: str) -> ImportError:
    package, purpose = _OPTIONAL[module.split(".")[0]]
    return ImportError(f"{purpose} needs the `{package}` package, which is not installed: "
                       f"{INSTALL_EXPORT} (or `pip install {package}`).")


def _runtime(module: str):
    """Import an optional `module` lazily, or say which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise _missing(module) from error


def _require_runtimes(format: str) -> None:
    """Fail before any work when the writer or the checker of `format` is missing."""
    for module in _NEEDED_BY[format]:
        if importlib.util.find_spec(module) is None:
            raise _missing(module)


def _require_built(model: keras.Model) -> None:
    if not model.built:
        raise ValueError(f"{model.name} is not built, so its input shape is unknown: fit it "
                         "first, or create it with `input_dim=` / `input_shape=`.")


def _uint8_shape(shape: tuple) -> tuple:
    """A pixel input's uint8 form: a single trailing channel axis is left out."""
    return shape[:-1] if len(shape) == 4 and shape[-1] == 1 else shape


def _serving_archive(model: keras.Model, one_signature: bool = False):
    """An ExportArchive with the contract's endpoints, and its signatures by name.

    With `one_signature` (ONNX, LiteRT) `serving_default` is the model's main
    input: uint8 levels for a pixel model, float32 otherwise.
    """
    import tensorflow as tf

    contract = serving_contract(model)
    shape = backend.input_shape(model)
    float_spec = tf.TensorSpec(shape, tf.float32, name=contract.input_name)
    archive = keras.export.ExportArchive()
    # `serve` as Keras writes it (converted by jax2tf on JAX); the signatures call it.
    serve = archive.track_and_add_endpoint("serve", model, [float_spec])
    output = contract.output_name
    signatures = {"serving_default": tf.function(lambda x: {output: serve(x)},
                                                 input_signature=[float_spec])}
    if contract.pixels:
        uint8_spec = tf.TensorSpec(_uint8_shape(shape), tf.uint8, name=contract.input_name)

        def from_levels(levels):
            images = tf.cast(levels, tf.float32) / 255.0  # as check_data: float32 x / 255
            return {output: serve(tf.reshape(images, tf.concat([tf.shape(images)[:1],
                                                                shape[1:]], 0)))}

        uint8 = tf.function(from_levels, input_signature=[uint8_spec])
        signatures = {"serving_default": uint8} if one_signature else {**signatures,
                                                                        "serving_uint8": uint8}
    for name, function in signatures.items():
        function.get_concrete_function()  # traced, as `add_endpoint` wants
        archive.add_endpoint(name, function)
    return archive, signatures


def _write_onnx(function, path: Path) -> None:
    tf2onnx = _runtime("tf2onnx")
    from keras.src.export.tf2onnx_lib import patch_tf2onnx

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # tf2onnx reads np.object & co.
        patch_tf2onnx()  # Keras's fix of tf2onnx for NumPy 2
        tf2onnx.convert.from_function(function, function.input_signature,
                                      output_path=str(path))


def _write_litert(archive, path: Path) -> None:
    import tensorflow as tf

    # One signature: the converter drops the others of a SavedModel (TF 2.21).
    with tempfile.TemporaryDirectory() as folder:
        archive.write_out(folder, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(
            folder, signature_keys=["serving_default"])
        path.write_bytes(converter.convert())


def _write_here(model: keras.Model, path: str | os.PathLike, format: str) -> None:
    """Write one artifact in this process (TensorFlow backend; JAX for a SavedModel)."""
    path = Path(path)
    archive, signatures = _serving_archive(model, one_signature=format != "savedmodel")
    if format == "savedmodel":
        archive.write_out(str(path), verbose=False)
    elif format == "onnx":
        _write_onnx(signatures["serving_default"], path)
    else:
        _write_litert(archive, path)


def _writes_here(format: str) -> bool:
    return backend.BACKEND == "tensorflow" or (backend.BACKEND == "jax"
                                               and format == "savedmodel")


def _write_under_tensorflow(jobs: list[tuple[keras.Model, Path, str]]) -> None:
    """Write each artifact from a TensorFlow-backend process: one process for all jobs."""
    with tempfile.TemporaryDirectory() as folder:
        triples = []
        for number, (model, path, format) in enumerate(jobs):
            saved = Path(folder) / f"{number}.keras"
            model.save(saved)
            triples.append((str(saved), str(path), format))
        # The child must import this very keras_history, installed or not.
        package_root = str(Path(__file__).resolve().parents[1])
        python_path = os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH"))
                                      if p)
        env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3",
               "PYTHONPATH": python_path}
        done = subprocess.run([sys.executable, "-c", _WRITE_UNDER_TENSORFLOW,
                               json.dumps(triples)], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        names = ", ".join(model.name for model, _, _ in jobs)
        raise RuntimeError(f"Exporting {names} under the TensorFlow backend failed:\n"
                           f"{done.stderr[-3000:]}")


def _write(jobs: list[tuple[keras.Model, Path, str]]) -> None:
    for model, _, format in jobs:
        _require_built(model)
        _require_runtimes(format)
    elsewhere = [job for job in jobs if not _writes_here(job[2])]
    if elsewhere:
        _write_under_tensorflow(elsewhere)
    for model, path, format in jobs:
        if _writes_here(format):
            _write_here(model, path, format)


def _samples(model: keras.Model, sample: np.ndarray | None):
    """`(floats, levels, expected, expected_levels)`: what every signature is compared on.

    For a pixel model `levels` are uint8 images (else None); given uint8, the
    float sample is `levels / 255`, so one `predict` serves both.
    """
    # An axis of any length (a sequence's steps) is given 5 in the default sample.
    dims = [5 if d is None else d for d in backend.input_shape(model)[1:]]
    pixels = serving_contract(model).pixels
    rng = np.random.default_rng(0)
    if sample is None:
        sample = (rng.integers(0, 256, (7, *dims)).astype("uint8") if pixels
                  else rng.random((7, *dims), dtype=np.float32))
    sample = np.asarray(sample)
    levels = sample.astype("uint8") if pixels and np.issubdtype(sample.dtype, np.integer) \
        else None
    floats = (sample.astype("float32") / np.float32(255) if levels is not None
              else sample.astype("float32"))
    floats = _shaped(floats, backend.input_shape(model))
    expected = np.asarray(model.predict(floats, verbose=0))
    if not pixels or levels is not None:
        return floats, levels, expected, expected
    levels = np.round(np.clip(floats, 0, 1) * 255).astype("uint8")
    scaled = levels.astype("float32") / np.float32(255)
    return floats, levels, expected, np.asarray(model.predict(scaled, verbose=0))


def _compare(model: keras.Model, path, what: str, runs: Iterable[tuple[str, Callable, tuple]],
             atol: float | None) -> float:
    """Run each `(label, run, (inputs, expected))` and return the largest difference.

    Each run is made on the whole sample and on its first row (the batch axis
    must be free). `atol` None: the model's contract's.
    """
    if atol is None:
        atol = serving_contract(model).atol
    difference = 0.0
    for label, run, (inputs, expected) in runs:
        for rows in (len(inputs), 1):
            got = np.asarray(run(inputs[:rows]))
            if got.shape != expected[:rows].shape:
                raise ExportMismatchError(
                    f"The {what} at {path} returns shape {got.shape} from {label}, but "
                    f"{model.name}.predict returns {expected[:rows].shape}.")
            largest = float(np.max(np.abs(got - expected[:rows])))
            if not largest <= atol:  # `not <=` also catches NaN
                raise ExportMismatchError(
                    f"The {what} at {path} differs from {model.name}.predict by up to "
                    f"{largest:g} (allowed {atol:g}) in {label}.")
            difference = max(difference, largest)
    return difference


def _shaped(array: np.ndarray, shape) -> np.ndarray:
    """`array` with the rows of an input of `shape`; axes of any length (None) are kept."""
    dims = shape[1:]
    if all(isinstance(d, (int, np.integer)) and d > 0 for d in dims):
        return array.reshape(-1, *dims)
    return array


def _feeds(model: keras.Model, sample: np.ndarray | None) -> Callable:
    """`feed(dtype, shape)`: the sample and expected outputs for an input of that kind."""
    floats, levels, expected, expected_levels = _samples(model, sample)

    def feed(dtype: str, shape) -> tuple[np.ndarray, np.ndarray]:
        if dtype == "uint8":
            if levels is None:
                raise ExportMismatchError(f"An export of {model.name} takes uint8 input, but "
                                          f"{model.name} does not declare pixels.")
            return _shaped(levels, shape), expected_levels
        return _shaped(floats, shape), expected

    return feed


def _one(outputs: dict, name: str, where: str) -> np.ndarray:
    if list(outputs) != [name]:
        raise ExportMismatchError(f"{where} returns {sorted(outputs)}, expected one output "
                                  f"named {name!r}.")
    return outputs[name]


def check_savedmodel(model: keras.Model, path: str | os.PathLike,
                     sample: np.ndarray | None = None, atol: float | None = None) -> float:
    """Reload the SavedModel at `path` with plain TensorFlow and compare it with `model`.

    The `serve` endpoint and every signature (`serving_default`, what TF Serving
    calls, and `serving_uint8` for pixel models) must match `model.predict` on
    `sample`, fed whole and one row at a time (the batch axis is dynamic).

    Args:
        model: the model the SavedModel was exported from.
        path: the SavedModel folder.
        sample: inputs to compare on; default: 7 random inputs in [0, 1) (for a
            pixel model: 7 random uint8 images, and the same divided by 255).
        atol: the largest absolute difference allowed; default: the model's
            `serving_contract().atol` (1e-5 for most).

    Returns:
        The largest absolute difference found.

    Raises:
        ExportMismatchError: a difference above `atol`, or no `serving_default`.
    """
    import tensorflow as tf

    reloaded = tf.saved_model.load(str(path))  # kept alive while its functions run
    if "serving_default" not in reloaded.signatures:
        raise ExportMismatchError(f"The SavedModel at {path} has no `serving_default` "
                                  "signature, so TF Serving cannot call it.")
    feed = _feeds(model, sample)
    runs = []
    if hasattr(reloaded, "serve"):
        spec = reloaded.serve.concrete_functions[0].structured_input_signature[0][0]
        runs.append(("`serve`", lambda x: reloaded.serve(tf.constant(x)).numpy(),
                     feed(spec.dtype.name, spec.shape)))
    for name, signature in reloaded.signatures.items():
        (key, spec), = signature.structured_input_signature[1].items()
        runs.append((f"signature {name!r}",
                     lambda x, f=signature, k=key: next(iter(f(**{k: tf.constant(x)})
                                                             .values())).numpy(),
                     feed(spec.dtype.name, spec.shape)))
    return _compare(model, path, "SavedModel", runs, atol)


def check_onnx(model: keras.Model, path: str | os.PathLike,
               sample: np.ndarray | None = None, atol: float | None = None) -> float:
    """Load the ONNX file at `path` in `onnxruntime` and compare it with `model.predict`.

    The same contract as `check_savedmodel`: the one input by its name and dtype,
    the whole sample and one row; returns the largest difference.
    """
    ort = _runtime("onnxruntime")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    contract = serving_contract(model)
    names = ([i.name for i in session.get_inputs()], [o.name for o in session.get_outputs()])
    if names != ([contract.input_name], [contract.output_name]):
        raise ExportMismatchError(f"The ONNX file at {path} has inputs and outputs {names}, "
                                  f"expected {contract.input_name!r} and "
                                  f"{contract.output_name!r}.")
    given = session.get_inputs()[0]
    dtype = "uint8" if given.type == "tensor(uint8)" else "float32"
    inputs = _feeds(model, sample)(dtype, given.shape)
    return _compare(model, path, "ONNX file",
                    [("the graph", lambda x: session.run(None, {given.name: x})[0], inputs)],
                    atol)


def check_litert(model: keras.Model, path: str | os.PathLike,
                 sample: np.ndarray | None = None, atol: float | None = None) -> float:
    """Load the LiteRT file at `path` in the `ai-edge-litert` interpreter and compare.

    Every signature, by its input's name and dtype, on the whole sample and one
    row; returns the largest difference.
    """
    litert = _runtime("ai_edge_litert.interpreter")
    interpreter = litert.Interpreter(model_path=str(path))
    contract = serving_contract(model)
    feed = _feeds(model, sample)
    runs = []
    for name, io in interpreter.get_signature_list().items():
        if io != {"inputs": [contract.input_name], "outputs": [contract.output_name]}:
            raise ExportMismatchError(f"The LiteRT file at {path} has signature {name!r} with "
                                      f"{io}, expected input {contract.input_name!r} and "
                                      f"output {contract.output_name!r}.")
        runner = interpreter.get_signature_runner(name)
        details = runner.get_input_details()[contract.input_name]
        runs.append((f"signature {name!r}",
                     lambda x, r=runner: _one(r(**{contract.input_name: x}),
                                              contract.output_name, f"LiteRT {path}"),
                     feed(np.dtype(details["dtype"]).name, details["shape_signature"])))
    if not runs:
        raise ExportMismatchError(f"The LiteRT file at {path} has no signature to call.")
    return _compare(model, path, "LiteRT file", runs, atol)


CHECKS = {"savedmodel": check_savedmodel, "onnx": check_onnx, "litert": check_litert}


def export(model: keras.Model, path: str | os.PathLike, format: str = "savedmodel",
           sample: np.ndarray | None = None, atol: float | None = None) -> Path:
    """Export `model` for serving at `path` and check it in the format's own runtime.

    Args:
        model: a built keras_history model (factories build those that know
            their input; others are built by their first `fit`), or any
            built Keras model (it gets the default contract).
        path: the SavedModel folder, or the `.onnx` / `.tflite` file, to write.
        format: `"savedmodel"` (also spelled `"tf_saved_model"`, as Keras
            does), `"onnx"` or `"litert"`.
        sample: inputs to compare on; default: 7 random inputs in [0, 1) (7
            random uint8 images for pixel models).
        atol: the largest absolute difference allowed; default: the model's
            `serving_contract().atol` (1e-5 for most).

    Returns:
        The artifact's path.

    Raises:
        ValueError: an unknown format, or a model with no known input shape yet.
        ImportError: the format's converter or runtime is not installed (the
            message says: `pip install "keras-history[export]"`).
        ExportMismatchError: the runtime's outputs disagree with the model.
    """
    return export_many([(model, path)], format=format, sample=sample, atol=atol)[0]


def export_many(jobs: Iterable[tuple],
                format: str = "savedmodel", sample: np.ndarray | None = None,
                atol: float | None = None) -> list[Path]:
    """`export` for several `(model, path)` pairs, each checked on `sample`.

    A job may name its own format as a third item: `(model, path, "onnx")`.
    Where the artifacts are written under the TensorFlow backend in a
    subprocess (PyTorch; JAX for ONNX and LiteRT), one process writes all of
    them instead of one each (a TensorFlow start costs seconds).
    """
    jobs = [(model, Path(path), _format(own[0] if own else format))
            for model, path, *own in jobs]
    _write(jobs)
    for model, path, own in jobs:
        CHECKS[own](model, path, sample, atol)
    return [path for _, path, _ in jobs]


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
