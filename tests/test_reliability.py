"""Bad input, divergence, determinism, interrupted training and tampered files."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest
from cases import CASES, make
from interrupted_training import EPOCHS

import keras_history
from keras_history import models
from keras_history.callbacks import DivergenceError
from keras_history.timeline import TIMELINE

FACTORIES = {m.name: m.factory for m in TIMELINE}
LABELLED = [name for name in sorted(CASES) if name != "gradient_descent"]  # GD has no y


def data(name):
    _, load, _ = CASES[name]
    x, y = load()
    return np.asarray(x), (None if y is None else np.asarray(y))


def with_nan(a):
    a = np.array(a, dtype="float32")
    a.flat[0] = np.nan
    return a


def with_inf(a):
    a = np.array(a, dtype="float32")
    a.flat[-1] = np.inf
    return a


# case -> (make x, y from valid ones, expected error, message pattern)
BAD_INPUT = {
    "strings": (lambda x, y: (x.astype(str), y), TypeError, "must hold numbers"),
    "objects": (lambda x, y: (np.array([{"a": 1}] * len(x), dtype=object), y), TypeError,
                "must hold numbers"),
    "empty": (lambda x, y: (x[:0], None if y is None else y[:0]), ValueError, "empty"),
    "nan in x": (lambda x, y: (with_nan(x), y), ValueError, "NaN or infinity"),
    "extra axes": (lambda x, y: (x[..., None, None], y), ValueError, r"shape \(.*\), got shape"),
}
LABEL_CASES = {
    "inf in y": (lambda x, y: (x, with_inf(y)), ValueError, "NaN or infinity"),
    "mismatched lengths": (lambda x, y: (x, y[:-1]), ValueError, "same number of samples"),
}
OUT_OF_RANGE = {
    "perceptron": (np.full((4, 1), 2.0), "only 0 or 1"),
    "mnist_convnet": (np.full(64, 10), r"class ids in 0\.\.9"),
}


def assert_refused_before_training(model, x, y, error, pattern):
    with pytest.raises(error, match=pattern):
        model.fit(x, y, verbose=0)
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 0


@pytest.mark.parametrize("case", sorted(BAD_INPUT))
@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input(name, case):
    if name == "gradient_descent" and case == "extra axes":
        pytest.skip("gradient descent's data only counts steps: any shape is fine")
    transform, error, pattern = BAD_INPUT[case]
    x, y = transform(*data(name))
    model, _, _, _ = make(name, fit=False)
    assert_refused_before_training(model, x, y, error, pattern)


@pytest.mark.parametrize("case", sorted(LABEL_CASES))
@pytest.mark.parametrize("name", LABELLED)
def test_bad_targets(name, case):
    transform, error, pattern = LABEL_CASES[case]
    x, y = transform(*data(name))
    model, _, _, _ = make(name, fit=False)
    assert_refused_before_training(model, x, y, error, pattern)


@pytest.mark.parametrize("name", sorted(OUT_OF_RANGE))
def test_labels_out_of_range(name):
    x, _ = data(name)
    y, pattern = OUT_OF_RANGE[name]
    model, _, _, _ = make(name, fit=False)
    assert_refused_before_training(model, x, y, ValueError, pattern)


@pytest.mark.parametrize("name", sorted(CASES))
def test_unknown_and_invalid_options(name):
    with pytest.raises(TypeError, match="unknown option.*colour.*expected any of"):
        FACTORIES[name](colour="blue")
    option = "units" if name == "least_squares" else "learning_rate"
    if name == "mnist_convnet":
        option = "learning_rate"
    with pytest.raises(ValueError, match=f"`{option}` must be"):
        FACTORIES[name](**{option: -1})


@pytest.mark.parametrize("make_model,x,y,epochs", [
    (lambda: models.gradient_descent(learning_rate=1.0), np.zeros((1, 1)), None, 20),
    (lambda: models.linear_regression(learning_rate=10.0),
     *keras_history.datasets.wheat_and_bread(), 300),
])
def test_divergence_stops_with_finite_weights(make_model, x, y, epochs):
    model = make_model()
    with pytest.raises(DivergenceError, match="diverged in epoch .* learning rate"):
        model.fit(x, y, epochs=epochs, verbose=0)
    assert all(np.all(np.isfinite(w)) for w in model.get_weights())


def trained_weights(name, seed):
    keras.utils.set_random_seed(seed)
    overrides = {"dropout_rate": 0.2} if name == "mnist_convnet" else {}  # exercise the RNG
    model, x, y, fit_options = make(name, fit=False, **overrides)
    model.fit(x, y, epochs=2, verbose=0, **fit_options)  # shuffled: the RNG matters
    return [keras.ops.convert_to_numpy(w) for w in model.weights]


@pytest.mark.parametrize("name", sorted(CASES))
def test_same_seed_same_weights(name):
    first, second = trained_weights(name, 7), trained_weights(name, 7)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)  # bitwise, on every backend (CPU)


def test_killed_training_resumes_to_the_same_weights(tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    tests = Path(__file__).parent
    kills = 0
    for _ in range(len(CASES) + 2):
        done = subprocess.run([sys.executable, str(tests / "interrupted_training.py"),
                               str(tmp_path)], cwd=tests, env=env, capture_output=True,
                              text=True, timeout=600)
        if done.returncode == 0:
            break
        assert done.returncode == -9, done.stderr[-3000:]  # killed by SIGKILL, nothing else
        kills += 1
    assert kills == len(CASES) and done.returncode == 0
    for name in sorted(CASES):
        keras.utils.set_random_seed(0)
        model, x, y, fit_options = make(name, fit=False)
        model.fit(x, y, epochs=EPOCHS, shuffle=False, verbose=0, **fit_options)
        resumed = np.load(tmp_path / f"{name}.npz")
        for i, variable in enumerate(model.weights):
            np.testing.assert_allclose(resumed[f"arr_{i}"], keras.ops.convert_to_numpy(variable),
                                       rtol=1e-6, atol=1e-7, err_msg=f"{name}: {variable.path}")
        assert int(resumed["iterations"]) == int(
            keras.ops.convert_to_numpy(model.optimizer.iterations))


def test_tampered_or_truncated_keras_file_fails_and_changes_nothing(tmp_path):
    model, _, _, _ = make("perceptron")
    model.save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as source, \
            zipfile.ZipFile(tmp_path / "tampered.keras", "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "config.json":  # edited by hand, and badly
                data = data[: len(data) // 2]
            target.writestr(item, data)
    data = (tmp_path / "m.keras").read_bytes()
    (tmp_path / "cut.keras").write_bytes(data[:-200])
    for name in ("tampered.keras", "cut.keras"):
        path = tmp_path / name
        before = (path.read_bytes(), path.stat().st_mtime_ns)
        with pytest.raises(ValueError, match=name):
            keras_history.load_model(path)
        with pytest.raises(Exception):  # noqa: B017 - Keras's own error types vary
            keras.models.load_model(path)
        assert (path.read_bytes(), path.stat().st_mtime_ns) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.keras", "m.keras", "tampered.keras"]
