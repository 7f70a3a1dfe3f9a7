"""Recipes: how each milestone is trained on its own data, and what it must reproduce.

`keras-history train NAME` runs one recipe with Keras progress output;
`keras-history tour` runs them all quietly and checks each result against
the number its seed snippet printed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import keras
import numpy as np

from keras_history import datasets, models


@dataclass(frozen=True)
class Recipe:
    """A milestone's training run and its reference check."""

    name: str
    train: Callable[[int], keras.Model]  # verbose -> trained model
    check: Callable[[keras.Model], tuple[str, str, bool]]  # -> measured, reference, ok


def _scalar(variable) -> float:
    return float(keras.ops.convert_to_numpy(variable))


def _train_least_squares(verbose: int) -> keras.Model:
    model = models.least_squares()
    model.fit(*datasets.wheat_and_bread(), epochs=1, verbose=verbose)
    return model


def _check_least_squares(model) -> tuple[str, str, bool]:
    x, y = datasets.wheat_and_bread()
    solution = np.linalg.lstsq(np.hstack([x, np.ones_like(x)]), y, rcond=None)[0].ravel()
    fitted = np.array([_scalar(model.kernel[0, 0]), _scalar(model.bias[0])])
    # The seed snippet's number: the cost of the line m=2, b=1 on three points.
    line = models.least_squares()
    line.build((None, 1))
    line.kernel.assign([[2.0]])
    line.bias.assign([1.0])
    cost = line.evaluate(np.array([[3.0], [6.0], [12.0]]), np.array([[6.0], [9.0], [18.0]]),
                         verbose=0)
    ok = bool(np.allclose(fitted, solution, rtol=1e-4) and abs(cost - 22.0) < 1e-6)
    return (f"m={fitted[0]:.6f} b={fitted[1]:.6f}; cost(2,1)={cost:g}",
            f"lstsq m={solution[0]:.6f} b={solution[1]:.6f}; cost 22", ok)


def _train_gradient_descent(verbose: int) -> keras.Model:
    model = models.gradient_descent()
    model.fit(np.zeros((60, 1), "float32"), batch_size=1, verbose=verbose)
    return model


def _check_gradient_descent(model) -> tuple[str, str, bool]:
    x = _scalar(model.position)
    return f"x={x:.7f}", "x=1.0928374 (±1e-5)", abs(x - 1.0928374327) < 1e-5


def _train_linear_regression(verbose: int) -> keras.Model:
    # One epoch of 100 full-batch steps: the snippet's 100 iterations in one compiled call.
    model = models.linear_regression(steps_per_batch=100)
    model.fit(*datasets.wheat_and_bread(), epochs=1, verbose=verbose)
    return model


def _check_linear_regression(model) -> tuple[str, str, bool]:
    b, m = _scalar(model.bias[0]), _scalar(model.kernel[0, 0])
    ok = abs(b - 3.30446237) < 1e-5 and abs(m - 2.96606269) < 1e-5
    return f"b={b:.8f} m={m:.8f}", "b=3.30446237 m=2.96606269 (±1e-5)", ok


PERCEPTRON_EPOCHS = 12  # OR is learned within a few; XOR never is


def _perceptron_errors(gate: str, verbose: int = 0) -> list[float]:
    model = models.perceptron(seed=0)
    history = model.fit(*datasets.logic_gate(gate), epochs=PERCEPTRON_EPOCHS, batch_size=1,
                        verbose=verbose)
    return history.history["errors"]


def _train_perceptron(verbose: int) -> keras.Model:
    model = models.perceptron(seed=0)
    model.fit(*datasets.logic_gate("or"), epochs=PERCEPTRON_EPOCHS, batch_size=1,
              verbose=verbose)
    return model


def _check_perceptron(model) -> tuple[str, str, bool]:
    x, y = datasets.logic_gate("or")
    or_ok = bool(np.array_equal(model.predict(x, verbose=0), y))
    xor_errors = _perceptron_errors("xor")
    ok = or_ok and min(xor_errors) > 0
    return (f"OR {'learned' if or_ok else 'NOT learned'}; XOR min errors/epoch "
            f"{min(xor_errors):g}", "OR learned; XOR never 0 errors", ok)


SNIPPET_OUTPUTS = np.array([0.0026, 0.9967, 0.9970, 0.0039])


def _train_backprop(verbose: int) -> keras.Model:
    # The snippet's 60,000 full-batch steps in one compiled call.
    model = models.backprop_mlp(weights="snippet", steps_per_batch=60_000)
    model.fit(*datasets.logic_gate("xor"), epochs=1, verbose=verbose)
    return model


def _check_backprop(model) -> tuple[str, str, bool]:
    x, _ = datasets.logic_gate("xor")
    out = model.predict(x, verbose=0).ravel()
    return (" ".join(f"{v:.4f}" for v in out), " ".join(f"{v:.4f}" for v in SNIPPET_OUTPUTS),
            bool(np.allclose(out, SNIPPET_OUTPUTS, atol=1e-3)))


def _train_mnist_convnet(verbose: int) -> keras.Model:
    # The embedded sample (4,000 real digits) keeps the tour offline and short.
    (x, y), _ = datasets.mnist.load_sample()
    model = models.mnist_convnet()
    model.fit(x, y, batch_size=64, epochs=3, verbose=verbose)
    return model


def _check_mnist_convnet(model) -> tuple[str, str, bool]:
    _, (x_test, y_test) = datasets.mnist.load_sample()
    accuracy = model.evaluate(x_test, y_test, verbose=0, return_dict=True)["accuracy"]
    return (f"sample test accuracy {accuracy:.3f}",
            ">= 0.95 on the sample (full MNIST: >= 0.993)", accuracy >= 0.95)


def _train_lenet5(verbose: int) -> keras.Model:
    # Two passes of the sample, 8 patterns per update: the paper's rule in seconds.
    (x, y), _ = datasets.mnist.load_sample()
    model = models.lenet5(seed=0)
    model.fit(x, y, batch_size=8, epochs=2, verbose=verbose)
    return model


def _check_lenet5(model) -> tuple[str, str, bool]:
    _, (x_test, y_test) = datasets.mnist.load_sample()
    accuracy = model.evaluate(x_test, y_test, verbose=0, return_dict=True)["accuracy"]
    return (f"sample test accuracy {accuracy:.3f}",
            ">= 0.90 on the sample (paper, full MNIST: 0.9905)", accuracy >= 0.90)


RECIPES: dict[str, Recipe] = {
    r.name: r
    for r in [
        Recipe("least_squares", _train_least_squares, _check_least_squares),
        Recipe("gradient_descent", _train_gradient_descent, _check_gradient_descent),
        Recipe("linear_regression", _train_linear_regression, _check_linear_regression),
        Recipe("perceptron", _train_perceptron, _check_perceptron),
        Recipe("backprop_mlp", _train_backprop, _check_backprop),
        Recipe("lenet5", _train_lenet5, _check_lenet5),
        Recipe("mnist_convnet", _train_mnist_convnet, _check_mnist_convnet),
    ]
}


def run_tour(names: list[str] | None = None) -> list[tuple[str, str, str, bool, float]]:
    """Train and check each recipe quietly; rows of (name, measured, reference, ok, seconds)."""
    rows = []
    for name in names or list(RECIPES):
        recipe = RECIPES[name]
        start = time.perf_counter()
        measured, reference, ok = recipe.check(recipe.train(0))
        rows.append((name, measured, reference, ok, time.perf_counter() - start))
    return rows
