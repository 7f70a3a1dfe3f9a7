"""The data of the seed snippets, MNIST, Fashion-MNIST, and the sequence tasks of 1990s
recurrent nets.

Everything here is returned as NumPy arrays `(x, y)` with float32 features
and targets of shape (samples, 1), ready for `model.fit(x, y)`; the sequence
tasks (`reber`, `adding`) give (samples, steps, features) sequences padded with
all-zero steps at their end; `mnist_detection` gives canvases of digits with their
boxes and classes (R-CNN's data).
"""

from __future__ import annotations

import numpy as np

from keras_history.datasets import adding, fashion_mnist, idx, mnist, mnist_detection, reber
from keras_history.datasets.planar import flower, playground

# Price of wheat per kg and the average price of bread, from the linear-regression snippet.
_WHEAT_AND_BREAD = [[0.5, 5.0], [0.6, 5.5], [0.8, 6.0], [1.1, 6.8], [1.4, 7.0]]

_TRUTH_TABLES = {
    "or": [0, 1, 1, 1],
    "and": [0, 0, 0, 1],
    "nand": [1, 1, 1, 0],
    "xor": [0, 1, 1, 0],
}


def wheat_and_bread() -> tuple[np.ndarray, np.ndarray]:
    """Five (wheat price, bread price) pairs: `x` of shape (5, 1), `y` of shape (5, 1)."""
    data = np.array(_WHEAT_AND_BREAD, dtype="float32")
    return data[:, :1], data[:, 1:]


def logic_gate(name: str) -> tuple[np.ndarray, np.ndarray]:
    """A two-input truth table: `x` of shape (4, 2) in the order 00, 01, 10, 11; `y` (4, 1).

    Args:
        name: one of "or", "and", "nand", "xor" (any case).
    """
    key = str(name).lower()
    if key not in _TRUTH_TABLES:
        raise ValueError(
            f"Unknown logic gate {name!r}; expected one of: {', '.join(_TRUTH_TABLES)}."
        )
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype="float32")
    y = np.array(_TRUTH_TABLES[key], dtype="float32")[:, None]
    return x, y


__all__ = ["adding", "fashion_mnist", "flower", "idx", "logic_gate", "mnist", "mnist_detection",
           "playground", "reber", "wheat_and_bread"]
