"""Recipes: how each milestone is trained on its own data, and what it must reproduce.

`keras-history train NAME` runs one recipe with Keras progress output (and
lets the user change its epochs, batch size, seed and, for image models, the
data); `keras-history tour` runs them all quietly, each from the same seed,
and checks each result against the number its seed snippet printed.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import keras
import numpy as np

from keras_history import backend, datasets, models


@dataclass(frozen=True)
class Run:
    """How to train a recipe this time: its own settings unless the user changed them."""

    epochs: int
    batch_size: int | None  # None: Keras's default of 32
    seed: int = 0
    data: str | None = None  # image models: a folder of MNIST or Fashion-MNIST IDX files
    verbose: int = 0


@dataclass(frozen=True)
class Recipe:
    """A milestone's training run and its reference check."""

    name: str
    train: Callable[[Run], keras.Model]
    check: Callable[[keras.Model, Run], tuple[str, str, bool]]  # -> measured, reference, ok
    epochs: int = 1
    batch_size: int | None = None
    images: bool = False  # takes `data=`: trains on MNIST-style images

    def run(self, seed: int = 0, verbose: int = 0, epochs: int | None = None,
            batch_size: int | None = None, data: str | None = None) -> Run:
        """This recipe's settings, with any the user gave."""
        if data is not None and not self.images:
            raise ValueError(f"{self.name} trains on its own small data set; --data is for "
                             "the image models.")
        return Run(epochs=self.epochs if epochs is None else epochs,
                   batch_size=self.batch_size if batch_size is None else batch_size,
                   seed=seed, data=data, verbose=verbose)

    def is_default(self, run: Run) -> bool:
        """True when `run` is the recipe itself, so that its reference applies."""
        return (run.epochs, run.batch_size, run.data) == (self.epochs, self.batch_size, None)

    def train_and_check(self, run: Run) -> tuple[keras.Model, tuple[str, str, bool]]:
        """Train from `run.seed` (weights, batch order, dropout), then check the result."""
        backend.set_random_seed(run.seed)
        model = self.train(run)
        return model, self.check(model, run)


def _scalar(variable) -> float:
    return float(keras.ops.convert_to_numpy(variable))


def _fit(model: keras.Model, x, y, run: Run) -> keras.Model:
    model.fit(x, y, epochs=run.epochs, batch_size=run.batch_size, verbose=run.verbose)
    return model


def _train_least_squares(run: Run) -> keras.Model:
    return _fit(models.least_squares(), *datasets.wheat_and_bread(), run)


def _check_least_squares(model, run: Run) -> tuple[str, str, bool]:
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


def _train_gradient_descent(run: Run) -> keras.Model:
    # 60 batches of one (ignored) sample: the snippet's 60 steps.
    return _fit(models.gradient_descent(), np.zeros((60, 1), "float32"), None, run)


def _check_gradient_descent(model, run: Run) -> tuple[str, str, bool]:
    x = _scalar(model.position)
    return f"x={x:.7f}", "x=1.0928374 (±1e-5)", abs(x - 1.0928374327) < 1e-5


def _train_linear_regression(run: Run) -> keras.Model:
    # One epoch of 100 full-batch steps: the snippet's 100 iterations in one compiled call.
    return _fit(models.linear_regression(steps_per_batch=100), *datasets.wheat_and_bread(), run)


def _check_linear_regression(model, run: Run) -> tuple[str, str, bool]:
    b, m = _scalar(model.bias[0]), _scalar(model.kernel[0, 0])
    ok = abs(b - 3.30446237) < 1e-5 and abs(m - 2.96606269) < 1e-5
    return f"b={b:.8f} m={m:.8f}", "b=3.30446237 m=2.96606269 (±1e-5)", ok


PERCEPTRON_EPOCHS = 12  # OR is learned within a few; XOR never is


def _train_perceptron_on(gate: str, run: Run) -> keras.Model:
    return _fit(models.perceptron(seed=run.seed), *datasets.logic_gate(gate), run)


def _train_perceptron(run: Run) -> keras.Model:
    return _train_perceptron_on("or", run)


def _check_perceptron(model, run: Run) -> tuple[str, str, bool]:
    x, y = datasets.logic_gate("or")
    or_ok = bool(np.array_equal(model.predict(x, verbose=0), y))
    xor_errors = _train_perceptron_on("xor", replace(run, verbose=0)).history.history["errors"]
    ok = or_ok and min(xor_errors) > 0
    return (f"OR {'learned' if or_ok else 'NOT learned'}; XOR min errors/epoch "
            f"{min(xor_errors):g}", "OR learned; XOR never 0 errors", ok)


SNIPPET_OUTPUTS = np.array([0.0026, 0.9967, 0.9970, 0.0039])


def _train_backprop(run: Run) -> keras.Model:
    # The snippet's 60,000 full-batch steps in one compiled call.
    model = models.backprop_mlp(weights="snippet", steps_per_batch=60_000)
    return _fit(model, *datasets.logic_gate("xor"), run)


def _check_backprop(model, run: Run) -> tuple[str, str, bool]:
    x, _ = datasets.logic_gate("xor")
    out = model.predict(x, verbose=0).ravel()
    return (" ".join(f"{v:.4f}" for v in out), " ".join(f"{v:.4f}" for v in SNIPPET_OUTPUTS),
            bool(np.allclose(out, SNIPPET_OUTPUTS, atol=1e-3)))


@functools.lru_cache(maxsize=2)
def load_images(path: str | None) -> tuple[str, datasets.idx.Arrays]:
    """(description, arrays): the embedded MNIST sample, or the IDX data set in `path`.

    The files' checksums say which data set a folder holds (MNIST and
    Fashion-MNIST share their file names); a subset is read as MNIST.
    """
    if path is None:
        # The embedded sample (4,000 real digits) keeps the tour offline and short.
        return "the embedded MNIST sample", datasets.mnist.load_sample()
    try:
        return f"MNIST from {path}", datasets.mnist.load_data(path)
    except datasets.idx.OtherDataSetError as other:
        data_set = datasets.idx.KNOWN[other.data_set]
        return (f"{data_set.name} from {path}",
                getattr(datasets, data_set.module).load_data(path))


def _train_on_images(factory: Callable[[], keras.Model]) -> Callable[[Run], keras.Model]:
    """A recipe's training: a fresh model from `factory`, fitted on the run's images."""
    def train(run: Run) -> keras.Model:
        _, ((x, y), _) = load_images(run.data)
        return _fit(factory(), x, y, run)

    return train


def _check_test_accuracy(at_least: float, reference: str) -> Callable:
    """A recipe's check: test accuracy on the run's images, at least `at_least`."""
    def check(model, run: Run) -> tuple[str, str, bool]:
        source, (_, (x_test, y_test)) = load_images(run.data)
        accuracy = model.evaluate(x_test, y_test, verbose=0, return_dict=True)["accuracy"]
        return f"test accuracy {accuracy:.4f} on {source}", reference, accuracy >= at_least

    return check


RECIPES: dict[str, Recipe] = {
    r.name: r
    for r in [
        Recipe("least_squares", _train_least_squares, _check_least_squares),
        Recipe("gradient_descent", _train_gradient_descent, _check_gradient_descent,
               batch_size=1),
        Recipe("linear_regression", _train_linear_regression, _check_linear_regression),
        Recipe("perceptron", _train_perceptron, _check_perceptron, epochs=PERCEPTRON_EPOCHS,
               batch_size=1),
        Recipe("backprop_mlp", _train_backprop, _check_backprop),
        # Eight patterns per update on the sample: the paper's rule in seconds.
        Recipe("lenet5", _train_on_images(models.lenet5),
               _check_test_accuracy(0.90, ">= 0.90 on the sample (paper, full MNIST: 0.9905)"),
               epochs=2, batch_size=8, images=True),
        Recipe("mnist_convnet", _train_on_images(models.mnist_convnet),
               _check_test_accuracy(
                   0.95, ">= 0.95 on the sample (full MNIST: >= 0.993 within 15 epochs)"),
               epochs=3, batch_size=64, images=True),
    ]
}


def run_tour(names: list[str] | None = None,
             seed: int = 0) -> list[tuple[str, str, str, bool, float]]:
    """Train and check each recipe quietly, each from `seed`.

    Returns rows of (name, measured, reference, ok, seconds): the same rows,
    seconds apart, every time, and the same whichever milestones are asked for.
    """
    rows = []
    for name in names or list(RECIPES):
        recipe = RECIPES[name]
        start = time.perf_counter()
        _, (measured, reference, ok) = recipe.train_and_check(recipe.run(seed=seed))
        rows.append((name, measured, reference, ok, time.perf_counter() - start))
    return rows
