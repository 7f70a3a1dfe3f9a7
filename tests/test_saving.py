"""Every milestone survives `.keras`, weights files and a TensorFlow SavedModel.

The milestones come from TIMELINE (through tests/cases.py), so a new one is
covered as soon as it has a case. The SavedModel checks run in ONE subprocess
that has TensorFlow and NumPy only: `keras_history` cannot even be imported there.
"""

from __future__ import annotations

import inspect
import io
import json
import os
import re
import subprocess
import sys
import zipfile

import h5py
import keras
import numpy as np
import pytest
from cases import CASES, in_turn, make, prediction_inputs, runs_here, state, turn_of

import keras_history
from keras_history import cli, models
from keras_history.building import build_for
from keras_history.saving import (
    ExportMismatchError,
    check_litert,
    check_onnx,
    check_savedmodel,
    export_many,
    serving_contract,
)
from keras_history.timeline import TIMELINE

BACKEND = keras.backend.backend()
NAMES = sorted(CASES)
DEFAULT_DROPOUT = inspect.signature(models.mnist_convnet).parameters["dropout_rate"].default


def built(model, x):
    """Build a lazily built model for `x`, as its first `fit` would."""
    return model if model.built else build_for(model, np.shape(x)[1:])


# The convnet with its default dropout, so the `.keras` test shows the masks' random
# state is saved too. On PyTorch, Keras draws unseeded dropout masks from torch's
# global generator, which no model file holds (docs/saving.md): no dropout there.
OPTIONS = {"mnist_convnet": {"dropout_rate": DEFAULT_DROPOUT if BACKEND != "torch" else 0.0}}


@pytest.fixture(scope="module")
def trained():
    """`trained(name)`: one trained case per milestone, shared by the tests of this file.

    Training (on JAX: compiling it) costs the most here. Tests save, predict and
    export these models; only the `.keras` test, last in this file, trains them on.
    """
    cache = {}

    def get(name: str):
        if name not in cache:
            cache[name] = make(name, **OPTIONS.get(name, {}))
        return cache[name]

    return get


def test_every_milestone_has_a_case():
    assert {m.name for m in TIMELINE} == set(CASES)


# A fresh model's optimizer is built by its first `fit`: Keras notes that it skips
# the saved optimizer's variables, which `save_weights` writes too.
@pytest.mark.filterwarnings("ignore:Skipping variable loading for optimizer")
@pytest.mark.parametrize("name", in_turn(NAMES))
def test_weights_file_round_trip(trained, name, tmp_path):
    model, x, _, _ = trained(name)
    model.save_weights(tmp_path / "m.weights.h5")
    x = prediction_inputs(name, x)
    expected = model.predict(x, verbose=0)
    # Keras's own way, into a built model made by the same factory options...
    fresh, _, _, _ = make(name, fit=False)
    built(fresh, x).load_weights(tmp_path / "m.weights.h5")
    np.testing.assert_allclose(fresh.predict(x, verbose=0), expected, rtol=1e-6, atol=1e-6)
    # ...and keras_history's, which also builds a lazily built one from the file.
    fresh, _, _, _ = make(name, fit=False)
    keras_history.load_weights(fresh, tmp_path / "m.weights.h5")
    np.testing.assert_allclose(fresh.predict(x, verbose=0), expected, rtol=1e-6, atol=1e-6)


def rewrite_weights(source, target, weights_from):
    """A copy of the .keras file `source` holding the weights of `weights_from`."""
    with zipfile.ZipFile(weights_from) as other:
        foreign = other.read("model.weights.h5")
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for item in old.infolist():
            new.writestr(item, foreign if item.filename == "model.weights.h5"
                         else old.read(item.filename))


def assert_each_refused(load, folder, expectations: dict) -> None:
    """`load(file)` raises the expected error for each file, naming the file."""
    for filename, (error, message) in expectations.items():
        path = folder / filename
        with pytest.raises(error, match=f"(?s){message}") as info:
            load(path)
        assert str(path) in str(info.value), filename


def test_bad_model_files_give_clear_errors(trained, tmp_path):
    model, _, _, _ = trained("perceptron")
    model.save(tmp_path / "m.keras")
    model.save_weights(tmp_path / "m.weights.h5")
    make("perceptron", input_dim=3, fit=False)[0].save(tmp_path / "three.keras")
    rewrite_weights(tmp_path / "m.keras", tmp_path / "other-architecture.keras",
                    tmp_path / "three.keras")
    data = (tmp_path / "m.keras").read_bytes()
    (tmp_path / "cut.keras").write_bytes(data[: len(data) // 2])
    (tmp_path / "notes.keras").write_text("not a model")
    with zipfile.ZipFile(tmp_path / "archive.keras", "w") as archive:
        archive.writestr("readme.txt", "a zip, but no model")
    (tmp_path / "exported").mkdir()
    (tmp_path / "exported" / "saved_model.pb").write_bytes(b"")
    expectations = {
        "missing.keras": (FileNotFoundError, "no such model file"),
        "notes.keras": (ValueError, "not a .keras model file"),
        "cut.keras": (ValueError, "truncated|corrupted"),
        "archive.keras": (ValueError, "not a .keras model.*no config.json"),
        "m.weights.h5": (ValueError, "HDF5.*keras_history.load_weights"),
        "exported": (ValueError, "SavedModel.*tf.saved_model.load"),
        "other-architecture.keras": (ValueError, "Could not load the model.*(?i:shape)"),
    }
    assert_each_refused(keras_history.load_model, tmp_path, expectations)
    assert type(keras_history.load_model(tmp_path / "m.keras")) is models.Perceptron


def test_bad_weights_files_give_clear_errors(trained, tmp_path, capsys):
    small, _, _, _ = trained("backprop_mlp")
    small.save_weights(tmp_path / "small.weights.h5")
    data = (tmp_path / "small.weights.h5").read_bytes()
    (tmp_path / "cut.weights.h5").write_bytes(data[: len(data) // 2])
    (tmp_path / "notes.weights.h5").write_text("not weights")
    wide = models.backprop_mlp(hidden_units=8)
    expectations = {
        "missing.weights.h5": (FileNotFoundError, "no such weights file"),
        "notes.weights.h5": (ValueError, "not a Keras weights file"),
        "cut.weights.h5": (ValueError, "corrupted or truncated"),
        "small.weights.h5": (ValueError, "different architecture.*BackpropMLP.*hidden_kernel"),
    }
    assert_each_refused(lambda path: keras_history.load_weights(wide, path), tmp_path,
                        expectations)
    # An unbuilt linear model cannot take its width from another model's file.
    path = tmp_path / "gd.weights.h5"
    trained("gradient_descent")[0].save_weights(path)
    with pytest.raises(ValueError, match=f"least_squares is not built and {re.escape(str(path))}"):
        keras_history.load_weights(models.least_squares(), path)
    # Keras's own error, without the file name, is still a ValueError about shapes.
    with pytest.raises(ValueError, match="(?i)shape"):
        wide.load_weights(tmp_path / "small.weights.h5")
    # The CLI reports the same message, not a traceback.
    code = cli.main(["export", "backprop_mlp", str(tmp_path / "never"),
                     "--weights", str(tmp_path / "notes.weights.h5")])
    assert code == 1 and "not a Keras weights file" in capsys.readouterr().err
    assert not (tmp_path / "never").exists()


def test_export_refuses_an_unbuilt_model(tmp_path):
    with pytest.raises(ValueError, match="not built"):
        keras_history.export(models.least_squares(), tmp_path / "s")


# The SavedModel check runs in a process that has TensorFlow and NumPy only: it
# reads each export as TF Serving and `saved_model_cli` do, and calls it.
PLAIN_TENSORFLOW = r"""
import json, sys
sys.modules["keras_history"] = None  # importing it would fail: the SavedModel must not need it
import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

def tensor_info(name, info):
    return {"name": name, "dtype": tf.dtypes.as_dtype(info.dtype).name,
            "shape": [d.size for d in info.tensor_shape.dim]}

def fed(sample, info):
    # The uint8 signatures get the grey levels of the sample (here: exactly levels / 255).
    if info["dtype"] == "uint8":
        sample = np.round(sample * 255).astype("uint8")
    dims = info["shape"][1:]
    # Axes of any length (a sequence's steps) are kept as the sample has them.
    return sample if min(dims, default=1) < 0 else sample.reshape((-1, *dims))

report = {}
for folder in json.loads(sys.argv[1]):
    proto = saved_model_pb2.SavedModel()
    with open(folder + "/saved/saved_model.pb", "rb") as file:
        proto.ParseFromString(file.read())
    graph = next(g for g in proto.meta_graphs if "serve" in g.meta_info_def.tags)
    loaded = tf.saved_model.load(folder + "/saved")
    sample = np.load(folder + "/sample.npy")
    expected = np.load(folder + "/expected.npy")
    errors = [float(np.max(np.abs(loaded.serve(tf.constant(sample[:n])).numpy() - expected[:n])))
              for n in (1, 3, len(sample))]
    signatures = {}
    for name, signature_def in graph.signature_def.items():
        if name.startswith("__"):
            continue  # the init op
        inputs = [tensor_info(k, i) for k, i in signature_def.inputs.items()]
        outputs = [tensor_info(k, o) for k, o in signature_def.outputs.items()]
        for n in (1, len(sample)):
            got = loaded.signatures[name](**{inputs[0]["name"]: tf.constant(
                fed(sample[:n], inputs[0]))})
            errors.append(float(np.max(np.abs(got[outputs[0]["name"]].numpy() - expected[:n]))))
        signatures[name] = {"inputs": inputs, "outputs": outputs,
                            "method": signature_def.method_name}
    report[folder] = {"errors": errors, "signatures": signatures}
print(json.dumps(report))
"""


def as_served(model, x) -> np.ndarray:
    """A case's inputs as float32; for image models, exactly grey levels / 255, so the
    uint8 signatures can be fed the very same images."""
    x = np.asarray(x, dtype="float32")
    if serving_contract(model).pixels:
        x = np.round(np.clip(x, 0, 1) * 255).astype("float32") / np.float32(255)
    return x


# Exported untrained as well: the rule models, whose factories may leave them unbuilt
# or build them from options, and the convnet (the serving contract's example). The
# others are built whole by their factories: untrained, the same graph, other numbers.
UNTRAINED = ["least_squares", "gradient_descent", "linear_regression", "perceptron",
             "backprop_mlp", "mnist_convnet"]
# Each milestone exported on one backend, in turn (`cases.turn_of`: the time budget), but
# the ones the tests below read, everywhere.
EVERYWHERE = ("least_squares", "perceptron", "mnist_convnet")
EXPORTED = [(name, fit) for name in NAMES for fit in (True, False)
            if (fit or name in UNTRAINED)
            and (name in EVERYWHERE or runs_here(turn_of(name)))]


@pytest.fixture(scope="module")
def exported(trained, tmp_path_factory):
    """Every milestone exported trained (some untrained too), plus one by the CLI; checked."""
    jobs, folders, contracts = [], {}, {}
    for name, fit in EXPORTED:
        model, x, _, _ = trained(name) if fit else make(name, fit=False)
        label = f"{name}-{'trained' if fit else 'untrained'}"
        folder = tmp_path_factory.mktemp(label)
        jobs.append((built(model, x), folder / "saved"))
        sample = as_served(model, prediction_inputs(name, x)[:7])
        np.save(folder / "sample.npy", sample)
        np.save(folder / "expected.npy", model.predict(sample, verbose=0))
        folders[label] = str(folder)
        contracts[label] = serving_contract(model)
    export_many(jobs)  # each checked in this process too
    # The CLI from a weights file, into a factory model that builds itself from it.
    model, x, _, _ = trained("perceptron")
    folder = tmp_path_factory.mktemp("cli")
    model.save_weights(folder / "p.weights.h5")
    assert cli.main(["export", "perceptron", str(folder / "saved"),
                     "--weights", str(folder / "p.weights.h5")]) == 0
    np.save(folder / "sample.npy", np.asarray(x, dtype="float32"))
    np.save(folder / "expected.npy", model.predict(x, verbose=0))
    folders["cli-perceptron"] = str(folder)
    contracts["cli-perceptron"] = serving_contract(model)

    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    done = subprocess.run([sys.executable, "-c", PLAIN_TENSORFLOW,
                           json.dumps(list(folders.values()))],
                          env={**env, "TF_CPP_MIN_LOG_LEVEL": "3"}, capture_output=True,
                          text=True, timeout=1200, cwd=tmp_path_factory.getbasetemp())
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return {label: {**report[folder], "folder": folder, "contract": contracts[label]}
            for label, folder in folders.items()}


def test_every_savedmodel_serves_the_same_predictions(exported, subtests):
    # One test with a subtest per export: a test each would pay a Keras reset each.
    assert sorted(exported) == sorted(
        [f"{n}-{'trained' if fit else 'untrained'}" for n, fit in EXPORTED] + ["cli-perceptron"])
    for label, result in exported.items():
        with subtests.test(export=label):
            contract = result["contract"]
            assert max(result["errors"]) <= contract.atol
            signatures = result["signatures"]
            expected = {"serve", "serving_default"} | ({"serving_uint8"} if contract.pixels
                                                       else set())
            assert set(signatures) == expected
            for name, signature in signatures.items():
                # Typed input and output with a free batch axis: what TF Serving sees.
                assert signature["method"] == "tensorflow/serving/predict"
                assert len(signature["inputs"]) == 1 and len(signature["outputs"]) == 1
                for tensor in signature["inputs"] + signature["outputs"]:
                    assert tensor["shape"][0] == -1, tensor
                assert signature["inputs"][0]["name"] == contract.input_name
                assert signature["inputs"][0]["dtype"] == ("uint8" if name == "serving_uint8"
                                                           else "float32")
                if name != "serve":  # Keras's endpoint returns an unnamed tensor
                    assert signature["outputs"][0]["name"] == contract.output_name


def test_the_convnet_serves_uint8_grey_levels_by_name(exported):
    signatures = exported["mnist_convnet-trained"]["signatures"]
    uint8 = signatures["serving_uint8"]
    assert uint8["inputs"] == [{"name": "images", "dtype": "uint8", "shape": [-1, 28, 28]}]
    assert uint8["outputs"] == [{"name": "probabilities", "dtype": "float32", "shape": [-1, 10]}]
    assert signatures["serving_default"]["inputs"] == [
        {"name": "images", "dtype": "float32", "shape": [-1, 28, 28, 1]}]
    assert exported["perceptron-trained"]["signatures"]["serving_default"]["outputs"] == [
        {"name": "outputs", "dtype": "float32", "shape": [-1, 1]}]


def test_the_export_check_catches_a_different_model(exported):
    # The fixture's trained least-squares export against an untrained model.
    folder = os.path.join(exported["least_squares-trained"]["folder"], "saved")
    model, x, _, _ = make("least_squares", fit=False)
    with pytest.raises(ExportMismatchError, match=f"{re.escape(folder)}.*differs from"):
        check_savedmodel(built(model, x), folder)


# ONNX and LiteRT (on JAX and PyTorch written through a TensorFlow subprocess): each
# milestone on its turn's backend, and the convnet, the model with uint8 inputs, on all.
RUNTIME_NAMES = [name for name in NAMES if name == "mnist_convnet" or runs_here(turn_of(name))]
SUFFIXES = {"onnx": "onnx", "litert": "tflite"}


@pytest.fixture(scope="module")
def in_runtimes(trained, tmp_path_factory):
    """`{(name, format): path}`: the trained cases as ONNX and LiteRT files, each checked."""
    folder = tmp_path_factory.mktemp("runtimes")
    keys = [(name, format) for name in RUNTIME_NAMES for format in SUFFIXES]
    jobs = [(trained(name)[0], folder / f"{name}.{SUFFIXES[format]}", format)
            for name, format in keys]
    return dict(zip(keys, export_many(jobs)))  # on JAX and PyTorch: one TensorFlow process


def fed(x: np.ndarray, dtype: str, shape) -> np.ndarray:
    """`as_served` inputs as an artifact takes them: uint8 inputs their grey levels, without
    the channel axis (other inputs as they are: a sequence's axis of steps is free)."""
    if dtype != "uint8":
        return x
    return np.round(x * 255).astype("uint8").reshape(-1, *shape[1:])


def test_onnx_and_litert_files_run_in_their_own_runtimes(trained, in_runtimes, subtests):
    import onnxruntime
    from ai_edge_litert.interpreter import Interpreter

    assert sorted(in_runtimes) == sorted((n, f) for n in RUNTIME_NAMES for f in SUFFIXES)
    for (name, format), path in in_runtimes.items():
        with subtests.test(name=name, format=format):
            model, x, _, _ = trained(name)
            x = as_served(model, prediction_inputs(name, x)[:16])
            expected = model.predict(x, verbose=0)
            contract = serving_contract(model)
            names = [contract.input_name], [contract.output_name]
            if format == "onnx":
                session = onnxruntime.InferenceSession(str(path),
                                                       providers=["CPUExecutionProvider"])
                given = session.get_inputs()[0]
                assert ([i.name for i in session.get_inputs()],
                        [o.name for o in session.get_outputs()]) == names
                assert given.type == ("tensor(uint8)" if contract.pixels else "tensor(float)")
                got = session.run(None, {given.name: fed(x, given.type[7:-1], given.shape)})[0]
                np.testing.assert_allclose(got, expected, rtol=0, atol=contract.atol)
                continue
            interpreter = Interpreter(model_path=str(path))
            signatures = interpreter.get_signature_list()
            assert list(signatures) == ["serving_default"]
            assert (signatures["serving_default"]["inputs"],
                    signatures["serving_default"]["outputs"]) == names
            runner = interpreter.get_signature_runner("serving_default")
            details = runner.get_input_details()[contract.input_name]
            dtype = np.dtype(details["dtype"]).name
            assert dtype == ("uint8" if contract.pixels else "float32")
            for rows in (len(x), 1):  # the batch axis is free
                got = runner(**{contract.input_name: fed(x[:rows], dtype,
                                                         details["shape_signature"])})
                np.testing.assert_allclose(got[contract.output_name], expected[:rows], rtol=0,
                                           atol=contract.atol)


def test_the_runtime_checks_catch_a_different_model(in_runtimes):
    fresh, _, _, _ = make("mnist_convnet", fit=False)
    for format, check in (("onnx", check_onnx), ("litert", check_litert)):
        path = in_runtimes["mnist_convnet", format]
        with pytest.raises(ExportMismatchError,
                           match=f"{re.escape(str(path))} differs from mnist_convnet.predict"):
            check(fresh, path)


@pytest.mark.parametrize("format, module, package", [
    ("onnx", "onnxruntime", "onnxruntime"), ("onnx", "tf2onnx", "tf2onnx"),
    ("litert", "ai_edge_litert", "ai-edge-litert")])
def test_a_missing_runtime_names_the_extra_to_install(format, module, package, monkeypatch,
                                                      tmp_path):
    monkeypatch.setitem(sys.modules, module, None)  # as if not installed
    model = models.backprop_mlp(input_dim=2)
    with pytest.raises(ImportError, match=rf'`{package}` package.*pip install '
                                          r'"keras-history\[export\]"'):
        keras_history.export(model, tmp_path / "m", format=format)
    assert not (tmp_path / "m").exists()


def test_model_export_takes_the_checked_route_on_every_backend(trained, tmp_path, capsys):
    # Keras's own export fails on PyTorch (Keras issue 20847); the models' `export` does not.
    import tensorflow as tf

    model, x, _, _ = trained("backprop_mlp")
    model.export(tmp_path / "saved")
    assert "Saved artifact at" in capsys.readouterr().out
    loaded = tf.saved_model.load(str(tmp_path / "saved"))
    outputs = loaded.signatures["serving_default"](features=tf.constant(x, dtype="float32"))
    np.testing.assert_allclose(outputs["outputs"].numpy(), model.predict(x, verbose=0),
                               rtol=0, atol=1e-5)
    with pytest.raises(ValueError, match="Unrecognized format"):  # Keras's own formats
        model.export(tmp_path / "other", format="pickle")


def test_cli_export_refuses_to_overwrite_and_shows_training_progress(tmp_path, capsys):
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("mine")
    (tmp_path / "old.onnx").write_bytes(b"old")
    for path, format in ((taken, "savedmodel"), (tmp_path / "old.onnx", "onnx")):
        assert cli.main(["export", "perceptron", str(path), "--format", format]) == 1
        captured = capsys.readouterr()
        assert f"{path} exists; pass --overwrite" in captured.err
        assert "Training" not in captured.out  # refused before any work
    assert os.listdir(taken) == ["notes.txt"]
    assert (tmp_path / "old.onnx").read_bytes() == b"old"
    assert cli.main(["export", "perceptron", str(taken), "--overwrite"]) == 0
    out = capsys.readouterr().out
    assert "Epoch 1/" in out and "the reloaded SavedModel matches model.predict" in out
    assert (taken / "saved_model.pb").is_file()


def test_a_weights_file_holds_the_dropout_state(tmp_path):
    # The seed states are the model's own entries, beside its (here: no) variables.
    model, _, _, _ = make("mnist_convnet", dropout_rate=DEFAULT_DROPOUT, fit=False)
    model.save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as archive:
        weights = h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r")
        assert sorted(weights["vars"].keys()) == ["seed_0", "seed_1"]


@pytest.mark.parametrize("name", in_turn(NAMES))
def test_keras_file_round_trip_and_training_goes_on(trained, name, tmp_path):
    model, x, y, fit_options = trained(name)  # the uninterrupted run: trained on below
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")  # safe_mode, no custom_objects
    assert type(loaded) is type(model)
    assert loaded.get_config() == model.get_config()
    assert loaded.get_compile_config() == model.get_compile_config()
    for ours, theirs in zip(state(model), state(loaded), strict=True):
        np.testing.assert_array_equal(theirs, ours)
    inputs = prediction_inputs(name, x)
    np.testing.assert_allclose(loaded.predict(inputs, verbose=0),
                               model.predict(inputs, verbose=0), rtol=1e-6, atol=1e-6)
    # More epochs from the file must equal more epochs in memory: weights,
    # optimizer state and rule state (least-squares statistics...) all came back.
    for m in (model, loaded):
        m.fit(x, y, epochs=2, shuffle=False, verbose=0, **fit_options)
    for ours, theirs in zip(state(model), state(loaded), strict=True):
        np.testing.assert_allclose(theirs, ours, rtol=1e-5, atol=1e-6)
