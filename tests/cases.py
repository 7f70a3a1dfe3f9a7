"""One small, quick training case per milestone, shared by the persistence and
reliability tests. A new milestone fails `test_every_milestone_has_a_case` until
it is added here."""

from __future__ import annotations

import keras
import numpy as np

from keras_history import datasets
from keras_history.timeline import TIMELINE


def _digits():
    (x, y), _ = datasets.mnist.load_sample()
    return x[:64, :, :, None] / np.float32(255), y[:64]


# name -> (factory options, training data, fit options): small, quick cases.
CASES = {
    "least_squares": (dict(), datasets.wheat_and_bread, dict(batch_size=2)),
    "gradient_descent": (dict(), lambda: (np.zeros((5, 1), "float32"), None), dict(batch_size=1)),
    "linear_regression": (dict(), datasets.wheat_and_bread, dict()),
    "perceptron": (dict(seed=1), lambda: datasets.logic_gate("or"), dict(batch_size=1)),
    "backprop_mlp": (dict(seed=1, steps_per_batch=20), lambda: datasets.logic_gate("xor"),
                     dict()),
    # Without dropout, whose masks a reloaded model draws afresh (docs/saving.md).
    "mnist_convnet": (dict(dropout_rate=0.0), _digits, dict(batch_size=32)),
    "lenet5": (dict(seed=1), _digits, dict(batch_size=16)),
}


def numpy(value) -> np.ndarray:
    """A tensor's or variable's value as a NumPy array of its own (a copy)."""
    return np.array(keras.ops.convert_to_numpy(value))


def variables(model) -> list:
    """Weights (rule state included) and the optimizer's variables (step count, moments)."""
    return list(model.weights) + list(model.optimizer.variables)


def state(model) -> list[np.ndarray]:
    """The values of `variables(model)`: everything training changes."""
    return [numpy(v.value) for v in variables(model)]


def make(name: str, fit: bool = True, **overrides):
    options, data, fit_options = CASES[name]
    model = {m.name: m.factory for m in TIMELINE}[name](**{**options, **overrides})
    x, y = data()
    if fit:
        model.fit(x, y, epochs=1, shuffle=False, verbose=0, **fit_options)
    return model, x, y, fit_options


