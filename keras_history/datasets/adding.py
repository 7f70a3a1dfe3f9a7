"""The adding problem: Experiment 4 of "Long Short-Term Memory" (1997).

Each step of a sequence is a pair (value, marker). The values are drawn
uniformly from [-1, 1]; exactly two pairs carry the marker 1: one of the first
ten (its value is X1) and one of the first T/2 - 1 others (X2). The first and
the last pair carry the marker -1 (unless the first is marked), all others 0.
At the end of the sequence, and only there, the net must output
0.5 + (X1 + X2) / 4; an answer counts as correct when it is within 0.04.
Sequences are T to T + T/10 steps long, so the two values must be held for at
least T/2 steps while noise streams past.
"""

from __future__ import annotations

import numpy as np

TOLERANCE = 0.04  # the paper's "correct" threshold on the absolute error


def load_data(count: int, length: int = 100, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """`count` sequences of the adding problem with minimal length T = `length`.

    Returns `x` of shape (count, T + T//10, 2), each sequence padded with zero
    steps at its end, and `y` of shape (count, 1), the targets in [0, 1].

    Args:
        count: number of sequences.
        length: the minimal sequence length T (at least 20, so that X2 has a choice).
        seed: seed of the generator; the same seed gives the same sequences.
    """
    for name, value, low in (("count", count, 1), ("length", length, 20)):
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise ValueError(f"`{name}` must be an integer >= {low}, got {value!r}.")
    rng = np.random.default_rng(seed)
    longest = length + length // 10
    x = np.zeros((count, longest, 2), "float32")
    y = np.zeros((count, 1), "float32")
    for row in range(count):
        steps = int(rng.integers(length, longest + 1))
        values = rng.uniform(-1.0, 1.0, steps)
        markers = np.zeros(steps)
        markers[[0, -1]] = -1.0
        first = int(rng.integers(10))
        second = int(rng.choice([i for i in range(length // 2 - 1) if i != first]))
        markers[[first, second]] = 1.0
        if first == 0 or second == 0:
            values[0] = 0.0  # the paper's rule when the first pair is marked
        x[row, :steps, 0], x[row, :steps, 1] = values, markers
        y[row, 0] = 0.5 + (values[first] + values[second]) / 4.0
    return x, y


def correct(y_pred: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per sequence: True when the answer is within the paper's 0.04 of the target."""
    return np.abs(np.asarray(y_pred) - np.asarray(y)).reshape(len(y), -1).max(axis=1) < TOLERANCE


__all__ = ["TOLERANCE", "correct", "load_data"]
