"""One small, quick training case per milestone, shared by the persistence and
reliability tests. A new milestone fails `test_every_milestone_has_a_case` until
it is added here. Also the suite's one rule for slow rows: `at_home`."""

from __future__ import annotations

import os

import keras
import numpy as np
import pytest

from keras_history import datasets
from keras_history.timeline import NAMES, TIMELINE


def _digits():
    (x, y), _ = datasets.mnist.load_sample()
    return x[:64, :, :, None] / np.float32(255), y[:64]


def _padded_digits(size: int, samples: int = 16):
    """The first digits (uint8), zero-padded to size × size: the ImageNet nets want more."""
    (x, y), _ = datasets.mnist.load_sample()
    margin = (size - 28) // 2
    x = np.pad(x[:samples], [(0, 0), (margin, size - 28 - margin), (margin, size - 28 - margin)])
    return x[..., None], y[:samples]


BACKEND = keras.backend.backend()
# The suite's time budget (under 40 minutes, three backends side by side on two cores) runs
# each slow row on one "home" backend; KERAS_HISTORY_EVERY_BACKEND=1 runs them everywhere.
EVERY_BACKEND = os.environ.get("KERAS_HISTORY_EVERY_BACKEND") == "1"


def runs_here(*homes: str) -> bool:
    """Whether a row whose home is `homes` runs on this backend."""
    return BACKEND in homes or EVERY_BACKEND


def home_only(*homes: str) -> pytest.MarkDecorator:
    """Skip a slow test (a mark: a skipped row costs no fixture set-up) but on `homes`."""
    return pytest.mark.skipif(
        not runs_here(*homes),
        reason=f"runs on {' and '.join(homes)} only (time budget; "
               "KERAS_HISTORY_EVERY_BACKEND=1 runs it on every backend)")


def at_home(value, *homes: str, marks: tuple = ()):
    """A parametrize row that runs on `homes` only, or everywhere when `homes` is empty."""
    return pytest.param(value, marks=(*marks, *([home_only(*homes)] if homes else [])))


def turn_of(name: str) -> str:
    """The backend of a milestone's per-milestone rows that every backend would repeat: the
    three in turn along the timeline, so each backend meets every kind of model."""
    return ("tensorflow", "jax", "torch")[NAMES.index(name) % 3]


def in_turn(names) -> list:
    """Per-milestone parametrize rows, each run on its milestone's `turn_of` backend."""
    return [at_home(name, turn_of(name)) for name in names]


# The ImageNet-era nets at a sixteenth of their width, without dropout, on small inputs.
SMALL = dict(width=1 / 16, classes=10)


def _images():
    """Images without labels, for the GAN."""
    (x, _), _ = datasets.mnist.load_sample()
    return x[:32] / np.float32(255), None


def _reber_strings():
    """Four short embedded Reber strings, one-hot and padded: (4, steps, 7)."""
    return datasets.reber.load_data(train=4, test=1, seed=3)[0]


# name -> (factory options, training data, fit options): small, quick cases.
CASES = {
    "least_squares": (dict(), datasets.wheat_and_bread, dict(batch_size=2)),
    "gradient_descent": (dict(), lambda: (np.zeros((5, 1), "float32"), None), dict(batch_size=1)),
    "linear_regression": (dict(), datasets.wheat_and_bread, dict()),
    "perceptron": (dict(seed=1), lambda: datasets.logic_gate("or"), dict(batch_size=1)),
    "backprop_mlp": (dict(seed=1, steps_per_batch=20), lambda: datasets.logic_gate("xor"),
                     dict()),
    "logistic_neuron": (dict(steps_per_batch=5), lambda: datasets.flower(samples=40),
                        dict(batch_size=16)),
    "shallow_net": (dict(seed=1, steps_per_batch=5), lambda: datasets.flower(samples=40),
                    dict(batch_size=16)),
    # Small nets on four strings: every fit is four online updates.
    "elman_rnn": (dict(seed=1, hidden_units=3), _reber_strings, dict(batch_size=2)),
    "lstm_1997": (dict(seed=1, blocks=2, cells_per_block=1), _reber_strings,
                  dict(batch_size=2)),
    # Without dropout, whose masks a reloaded model draws afresh (docs/saving.md).
    "mnist_convnet": (dict(dropout_rate=0.0), _digits, dict(batch_size=32)),
    "lenet5": (dict(seed=1), _digits, dict(batch_size=16)),
    "deep_mlp": (dict(seed=1, depth=3, width=32), _digits, dict(batch_size=16)),
    "alexnet": (dict(input_shape=(67, 67, 1), dropout_rate=0.0, **SMALL),
                lambda: _padded_digits(67), dict(batch_size=8)),
    "vgg16": (dict(input_shape=(32, 32, 1), dropout_rate=0.0, **SMALL),
              lambda: _padded_digits(32), dict(batch_size=8)),
    "resnet50": (dict(input_shape=(32, 32, 1), **SMALL), lambda: _padded_digits(32),
                 dict(batch_size=8)),
    "resnet": (dict(depth=8, input_shape=(28, 28, 1)), lambda: _padded_digits(28),
               dict(batch_size=8)),
    "vgg_like": (dict(input_shape=(28, 28, 1), dropout_rate=0.0, conv_dropout_rate=0.0),
                 lambda: _padded_digits(28), dict(batch_size=8)),
    "tutorial_net": (dict(input_shape=(32, 32, 1)), lambda: _padded_digits(32),
                     dict(batch_size=4)),
    # Narrow nets; without dropout, whose masks a reloaded model draws afresh (docs/saving.md).
    "dropout_mlp": (dict(hidden_units=16, dropout=False, seed=1), _digits, dict(batch_size=32)),
    "batch_norm_mlp": (dict(hidden_units=16, seed=1), _digits, dict(batch_size=32)),
    # The paper's stack, narrowed; `fit` fine-tunes (pretraining: tests/test_dbn.py).
    "deep_belief_net": (dict(hidden_units=(16, 16, 32), seed=1), _digits, dict(batch_size=32)),
    # The paper's layers, narrowed: the rule and its schedules are the same.
    "gan": (dict(seed=1, generator_units=(32,), discriminator_units=(16,), pieces=2),
            _images, dict(batch_size=16)),
    # The paper's layers, narrowed; without the shifts, which a data-parallel run draws per
    # replica (tests/test_determinism.py shifts).
    "capsnet": (dict(conv_filters=16, primary_channels=4, shift=0, seed=1),
                lambda: _padded_digits(28), dict(batch_size=8)),
    # R-CNN's window classifier (the detector's other stages: tests/test_rcnn.py).
    "rcnn": (dict(seed=1), _digits, dict(batch_size=16)),
}


def prediction_inputs(name: str, x):
    """What `predict` takes: the training data, except the GAN's noise (its `predict` draws)."""
    if name == "gan":
        return np.random.default_rng(0).uniform(-1.7, 1.7, (len(x), 100)).astype("float32")
    return x


def numpy(value) -> np.ndarray:
    """A tensor's or variable's value as a NumPy array of its own (a copy)."""
    return np.array(keras.ops.convert_to_numpy(value))


def variables(model) -> list:
    """Weights (rule state included), the optimizer's variables (step count, moments) and
    the random-number states (dropout masks, a GAN's noise), which a `.keras` file keeps too."""
    seeds = model._seed_states() if hasattr(model, "_seed_states") else []
    return list(model.weights) + list(model.optimizer.variables) + seeds


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


