"""Every milestone survives `.keras`, weights files and a TensorFlow SavedModel."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
from cases import CASES, make

import keras_history
from keras_history import models
from keras_history.timeline import TIMELINE


def weights(model) -> list[np.ndarray]:
    return [keras.ops.convert_to_numpy(v) for v in model.weights]


def test_every_milestone_has_a_case():
    assert {m.name for m in TIMELINE} == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_keras_file_round_trip_and_training_goes_on(name, tmp_path):
    model, x, y, fit_options = make(name)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")  # safe_mode, no custom_objects
    assert type(loaded) is type(model)
    assert loaded.get_config() == model.get_config()
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-6, atol=1e-6)
    # One more epoch from the file must equal one more epoch in memory: weights,
    # optimizer state and rule state (least-squares statistics...) all came back.
    for m in (model, loaded):
        m.fit(x, y, epochs=1, shuffle=False, verbose=0, **fit_options)
    for ours, theirs in zip(weights(model), weights(loaded)):
        np.testing.assert_allclose(theirs, ours, rtol=1e-5, atol=1e-6)
    assert int(keras.ops.convert_to_numpy(loaded.optimizer.iterations)) == int(
        keras.ops.convert_to_numpy(model.optimizer.iterations))


@pytest.mark.parametrize("name", sorted(CASES))
def test_weights_file_round_trip(name, tmp_path):
    model, x, _, _ = make(name)
    model.save_weights(tmp_path / "m.weights.h5")
    fresh, _, _, _ = make(name, fit=False)
    fresh.predict(x[:1], verbose=0)  # build the lazily built ones
    fresh.load_weights(tmp_path / "m.weights.h5")
    np.testing.assert_allclose(fresh.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-6, atol=1e-6)


def test_bad_files_give_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such model file"):
        keras_history.load_model(tmp_path / "missing.keras")
    (tmp_path / "notes.keras").write_text("not a model")
    with pytest.raises(ValueError, match="not a .keras model file"):
        keras_history.load_model(tmp_path / "notes.keras")
    model, _, _, _ = make("perceptron")
    model.save(tmp_path / "m.keras")
    data = (tmp_path / "m.keras").read_bytes()
    (tmp_path / "cut.keras").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="cut.keras.*(truncated|corrupted)"):
        keras_history.load_model(tmp_path / "cut.keras")
    assert type(keras_history.load_model(tmp_path / "m.keras")).__name__ == "Perceptron"


def test_weights_of_another_architecture_are_refused(tmp_path):
    small, _, _, _ = make("backprop_mlp")
    small.save_weights(tmp_path / "small.weights.h5")
    wide = models.backprop_mlp(hidden_units=8)
    with pytest.raises(ValueError, match="(?i)shape"):
        wide.load_weights(tmp_path / "small.weights.h5")


# The SavedModel check runs in a process that has TensorFlow and NumPy only.
PLAIN_TENSORFLOW = r"""
import json, sys
import numpy as np
import tensorflow as tf

report = {}
for folder in json.loads(sys.argv[1]):
    loaded = tf.saved_model.load(folder + "/saved")
    sample = np.load(folder + "/sample.npy")
    expected = np.load(folder + "/expected.npy")
    signature = loaded.signatures["serving_default"]
    spec = list(signature.structured_input_signature[1].values())[0]
    errors = [float(np.max(np.abs(loaded.serve(tf.constant(sample[:n])).numpy() - expected[:n])))
              for n in (1, 3, len(sample))]
    outputs = signature(tf.constant(sample))
    errors.append(float(np.max(np.abs(list(outputs.values())[0].numpy() - expected))))
    report[folder] = {"errors": errors, "dtype": spec.dtype.name, "shape": spec.shape.as_list()}
print(json.dumps(report))
assert "keras_history" not in sys.modules
"""


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    folders = {}
    for name in sorted(CASES):
        model, x, _, _ = make(name, fit=name != "mnist_convnet")
        folder = tmp_path_factory.mktemp(name)
        sample = np.asarray(x[:7], dtype="float32")
        keras_history.export(model, folder / "saved", sample=sample)
        np.save(folder / "sample.npy", sample)
        np.save(folder / "expected.npy", model.predict(sample, verbose=0))
        folders[name] = str(folder)
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    done = subprocess.run([sys.executable, "-c", PLAIN_TENSORFLOW,
                           json.dumps(list(folders.values()))],
                          env={**env, "TF_CPP_MIN_LOG_LEVEL": "3"}, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return {name: report[folder] for name, folder in folders.items()}


@pytest.mark.parametrize("name", sorted(CASES))
def test_savedmodel_serves_the_same_predictions(exported, name):
    result = exported[name]
    assert max(result["errors"]) <= 1e-5
    assert result["dtype"] == "float32" and result["shape"][0] is None


def test_export_refuses_an_unbuilt_model(tmp_path):
    with pytest.raises(ValueError, match="not built"):
        keras_history.export(models.least_squares(), tmp_path / "s")
