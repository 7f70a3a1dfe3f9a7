"""Points in the plane, two classes: the "flower" of deeplearning.ai's course and the four
classification sets of the TensorFlow Playground.

Both return float32 features `x` of shape (samples, 2) and labels `y` of shape
(samples, 1) holding 0 or 1, as `datasets.logic_gate` does, ready for a
sigmoid output and the cross-entropy loss.

- `flower()`: the data of Andrew Ng's "Planar data classification with one
  hidden layer" (Neural Networks and Deep Learning, week 3). With `seed=1` it
  is the course's own data point for point: the course's generator, the same
  NumPy legacy `RandomState` draws in the same order.
- `playground(name)`: circle, xor, gauss and spiral, generated as the
  Playground's `src/dataset.ts` generates them (its noise, its 500 samples,
  its shuffle and its train/test split), in NumPy with a seed of its own.
  The Playground labels its points +1 (blue) and -1 (orange); here they are
  1 and 0.
"""

from __future__ import annotations

import math

import numpy as np

PLAYGROUND_SETS = ("circle", "xor", "gauss", "spiral")


def _check_int(name: str, value, low: int) -> None:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
        raise ValueError(f"`{name}` must be an integer >= {low}, got {value!r}.")


def _check_number(name: str, value, low: float, high: float) -> None:
    if (not isinstance(value, (int, float, np.integer, np.floating)) or isinstance(value, bool)
            or not math.isfinite(value) or not low <= value <= high):
        raise ValueError(f"`{name}` must be a number in [{low:g}, {high:g}], got {value!r}.")


def flower(samples: int = 400, radius: float = 4.0,
           seed: int | None = 1) -> tuple[np.ndarray, np.ndarray]:
    """The course's two-class "flower": `x` of shape (samples, 2), `y` (samples, 1).

    Each class is half of the points, drawn along a rose curve r = a·sin(4t)
    with noise: for class j (0 for the first half, 1 for the second), t runs
    evenly over [3.12·j, 3.12·(j + 1)] plus N(0, 0.2²) noise, r = a·sin(4t)
    plus N(0, 0.2²) noise, and the point is (r·sin t, r·cos t). The four
    petals of each class interleave with the other's, so no line separates
    them (logistic regression: about 47% in the course).

    Args:
        samples: number of points, an even number (the course's 400).
        radius: a, the longest a petal can reach (the course's 4).
        seed: seed of a NumPy legacy `RandomState`; 1, the course's
            `np.random.seed(1)`, gives the course's exact points. None: fresh.
    """
    _check_int("samples", samples, 2)
    if samples % 2:
        raise ValueError(f"`samples` must be even (two equal classes), got {samples}.")
    _check_number("radius", radius, 1e-6, 1e6)
    if seed is not None:
        _check_int("seed", seed, 0)
    rng = np.random.RandomState(seed)  # legacy draws: the course's stream
    half = samples // 2
    x = np.zeros((samples, 2))
    y = np.zeros((samples, 1), "float32")
    for label in (0, 1):
        rows = slice(half * label, half * (label + 1))
        # The draw order matters for `seed=1`: all angles' noise, then all radii's.
        t = np.linspace(3.12 * label, 3.12 * (label + 1), half) + 0.2 * rng.randn(half)
        r = radius * np.sin(4 * t) + 0.2 * rng.randn(half)
        x[rows, 0], x[rows, 1] = r * np.sin(t), r * np.cos(t)
        y[rows] = label
    return x.astype("float32"), y


def _circle(rng: np.random.Generator, samples: int, noise: float):
    # Inside radius 2.5 and outside 3.5 of a radius-5 disc; labelled by where the point
    # lands once the noise moves it, though drawn where it was.
    radius, half = 5.0, math.ceil(samples / 2)
    points, labels = [], []
    for low, high in ((0.0, 0.5 * radius), (0.7 * radius, radius)):
        draws = rng.uniform(0.0, 1.0, (half, 4))  # r, angle, noise x, noise y: per point
        r = low + (high - low) * draws[:, 0]
        angle = 2 * np.pi * draws[:, 1]
        x, y = r * np.sin(angle), r * np.cos(angle)
        shift = (2 * draws[:, 2:] - 1) * radius * noise
        inside = np.hypot(x + shift[:, 0], y + shift[:, 1]) < 0.5 * radius
        points.append(np.stack([x, y], axis=1))
        labels.append(inside)
    return np.concatenate(points), np.concatenate(labels)


def _xor(rng: np.random.Generator, samples: int, noise: float):
    draws = rng.uniform(-5.0, 5.0, (samples, 4))  # x, y, noise x, noise y: per point
    xy = draws[:, :2] + np.where(draws[:, :2] > 0, 0.3, -0.3)  # a gap along both axes
    moved = xy + draws[:, 2:] * noise
    return xy, moved[:, 0] * moved[:, 1] >= 0


def _gauss(rng: np.random.Generator, samples: int, noise: float):
    variance = 0.5 + 3.5 * noise / 0.5  # noise 0 .. 0.5 spreads the variance 0.5 .. 4
    half = math.ceil(samples / 2)
    points = [rng.normal(centre, math.sqrt(variance), (half, 2)) for centre in (2.0, -2.0)]
    return np.concatenate(points), np.repeat([True, False], half)


def _spiral(rng: np.random.Generator, samples: int, noise: float):
    n = samples / 2
    i = np.arange(math.ceil(n))
    r = i / n * 5
    points = []
    for turn in (0.0, np.pi):  # two arms, half a turn apart
        t = 1.75 * i / n * 2 * np.pi + turn
        shift = rng.uniform(-1.0, 1.0, (len(i), 2)) * noise
        points.append(np.stack([r * np.sin(t), r * np.cos(t)], axis=1) + shift)
    return np.concatenate(points), np.repeat([True, False], len(i))


_GENERATORS = {"circle": _circle, "xor": _xor, "gauss": _gauss, "spiral": _spiral}


def playground(name: str, samples: int = 500, noise: float = 0, train_percent: float = 50,
               seed: int | None = 0) -> tuple[tuple[np.ndarray, np.ndarray],
                                              tuple[np.ndarray, np.ndarray]]:
    """A TensorFlow Playground classification set, shuffled and split as the Playground does.

    Returns `(x_train, y_train), (x_test, y_test)`: `x` float32 (n, 2) with
    coordinates in about [-6, 6], `y` float32 (n, 1) with 1 for the
    Playground's blue points (label +1: inside the circle, the quadrants
    where x₁·x₂ ≥ 0, the Gaussian around (2, 2), the spiral arm starting
    upwards) and 0 for its orange ones (label -1).

    Args:
        name: "circle", "xor", "gauss" or "spiral" (any case).
        samples: points before the split (the Playground's 500).
        noise: the Playground's "Noise" slider, in percent (0 to 50): how far
            (circle, xor) the label is taken from the point, how wide the
            Gaussians are (variance 0.5 to 4), or how far the spiral's points
            stray (uniform, up to noise/100 in each coordinate).
        train_percent: the "Ratio of training to test data" slider, in
            percent (10 to 90): the first `floor(samples · train_percent / 100)`
            shuffled points train, the rest test.
        seed: seed of the NumPy generator (the Playground seeds its own
            `Math.random`); the same seed gives the same points. None: fresh.
    """
    key = str(name).lower()
    if key not in _GENERATORS:
        raise ValueError(f"Unknown Playground data set {name!r}; expected one of: "
                         f"{', '.join(PLAYGROUND_SETS)}.")
    _check_int("samples", samples, 2)
    _check_number("noise", noise, 0, 50)
    _check_number("train_percent", train_percent, 10, 90)
    if seed is not None:
        _check_int("seed", seed, 0)
    rng = np.random.default_rng(seed)
    x, labels = _GENERATORS[key](rng, samples, noise / 100)
    order = rng.permutation(len(x))  # the Playground shuffles once, then splits
    x = x[order].astype("float32")
    y = labels[order].astype("float32")[:, None]
    split = math.floor(len(x) * train_percent / 100)
    return (x[:split], y[:split]), (x[split:], y[split:])
