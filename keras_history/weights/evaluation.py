"""How a weight set's number is measured, the same way when it is made and when it is checked.

`scripts/make_weights.py` records `measure(...)` on the full test set beside
the file; `keras-history verify` measures it again, on the full test set with
`--data`, else on data the package embeds (the MNIST sample's 1,000 test
digits; the Reber strings are generated, so they are always the full set).
"""

from __future__ import annotations

import os

import keras
import numpy as np

from keras_history import datasets
from keras_history.timeline import get as milestone
from keras_history.weights import WeightSet, get

# A weight set's `task`: what it was trained on, and so what it is tested on.
TASKS = ("mnist", "fashion_mnist", "reber")


def _padded(images: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """28×28 images centred in the model's (larger) input, as its recipe trained it."""
    rows, cols = size[0] - images.shape[1], size[1] - images.shape[2]
    if rows < 0 or cols < 0 or rows % 2 or cols % 2:
        raise ValueError(f"Images of {images.shape[1:]} do not fit the model's input {size}.")
    return np.pad(images, [(0, 0), (rows // 2, rows // 2), (cols // 2, cols // 2)])


def _test_images(task: str, data: str | os.PathLike | None) -> tuple[np.ndarray, np.ndarray, str]:
    if data is None:
        if task != "mnist":
            raise ValueError(f"The package embeds no {task} sample: pass the data set's folder "
                             "of IDX files (--data PATH) to measure on its test set.")
        _, (x, y) = datasets.mnist.load_sample()
        return x, y, f"the embedded MNIST sample ({len(y):,} test digits, not the full test set)"
    _, (x, y) = getattr(datasets, task).load_data(data)  # the loader checks the files' md5
    return x, y, f"the {len(y):,} test images of {task}"


def accuracy(model: keras.Model, images: np.ndarray, labels: np.ndarray) -> float:
    """The share of images whose most probable class is the label."""
    # Image classifiers declare their input size; the others take (N, 28, 28) as it is.
    shape = getattr(model, "image_shape", None)
    if shape is not None and images.shape[1:3] != tuple(shape[:2]):
        images = _padded(images, tuple(shape[:2]))
    predictions = model.predict(images, batch_size=500, verbose=0)
    return float(np.mean(np.argmax(predictions, axis=-1) == labels))


def reber_strings_predicted(model: keras.Model, seed: int) -> tuple[float, str]:
    """The paper's criterion on the trial's 256 test strings: every step predicted."""
    _, (x_test, _) = datasets.reber.load_data(seed=seed)
    share = float(datasets.reber.predicted(model.predict(x_test, verbose=0), x_test).mean())
    return share, f"the 256 test strings of reber.load_data(seed={seed})"


def measure(model: keras.Model, weight_set: WeightSet,
            data: str | os.PathLike | None = None) -> tuple[float, str]:
    """`weight_set`'s metric for `model`: (value, what it was measured on)."""
    if weight_set.task == "reber":
        if data is not None:
            raise ValueError("The Reber grammar's strings are generated, not read: "
                             f"{weight_set} takes no --data.")
        return reber_strings_predicted(model, weight_set.seed)
    x, y, source = _test_images(weight_set.task, data)
    return accuracy(model, x, y), source


def verify(factory: str, name: str, data: str | os.PathLike | None = None
           ) -> tuple[float, str, WeightSet]:
    """Load the shipped set `name` of `factory` (hash checked) and measure it again."""
    weight_set = get(factory, name)
    model = milestone(factory).factory(weights=name)
    value, source = measure(model, weight_set, data)
    return value, source, weight_set
