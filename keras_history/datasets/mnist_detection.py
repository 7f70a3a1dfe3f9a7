"""MNIST detection: canvases with several MNIST digits of varied sizes, and their boxes.

R-CNN (Girshick et al. 2014) was trained and measured on PASCAL VOC, which is
not here; this is its miniature. Each canvas is a black `size` × `size` grey
image (128 × 128 by default) on which 2 to 5 MNIST digits, each resized to
`min_size`..`max_size` pixels square, are pasted where their ink boxes do not
overlap. A digit's ground-truth box is the tight box of its ink (pixels above
0.1 after resizing), VOC-style, and its class is its label 0-9.

Training canvases are made from MNIST's training digits, test canvases from its
test digits, so no test digit is ever seen in training. `load_sample()` draws
on the small MNIST subset shipped in the package (works offline, for tests);
`load_data(path)` on full MNIST from a folder (see `keras_history.datasets.mnist`,
whose loader and errors it uses). Everything is seeded: the same arguments give
the same canvases.

Returned as `((x_train, boxes_train, classes_train), (x_test, boxes_test,
classes_test))`: `x` float32 (N, size, size, 1) in [0, 1] (the house rule for
float images; resizing makes grey levels that are not whole numbers), `boxes` a
list of N float32 arrays (K_i, 4) of pixel edges (x1, y1, x2, y2), `x2`
exclusive, and `classes` a list of N int32 arrays (K_i,).
"""

from __future__ import annotations

import os

import numpy as np

from keras_history.datasets import mnist

SIZE = 128  # canvas height and width
DIGITS = (2, 5)  # digits per canvas, both ends included
DIGIT_SIZES = (24, 64)  # side of the resized 28 × 28 digit image, both ends included
INK = 0.1  # a pixel above this is ink: what the tight box encloses
ATTEMPTS = 50  # placements tried for a digit before it is left out

Canvases = tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]


def resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear resize of one (h, w) image (sample centres aligned, edges clamped)."""
    h, w = image.shape
    ys = np.clip((np.arange(height) + 0.5) * h / height - 0.5, 0, h - 1)
    xs = np.clip((np.arange(width) + 0.5) * w / width - 0.5, 0, w - 1)
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    y1, x1 = np.minimum(y0 + 1, h - 1), np.minimum(x0 + 1, w - 1)
    fy, fx = (ys - y0)[:, None], (xs - x0)[None, :]
    top = image[y0][:, x0] * (1 - fx) + image[y0][:, x1] * fx
    bottom = image[y1][:, x0] * (1 - fx) + image[y1][:, x1] * fx
    return (top * (1 - fy) + bottom * fy).astype("float32")


def _overlaps(box: np.ndarray, taken: list[np.ndarray]) -> bool:
    return any(box[0] < t[2] and t[0] < box[2] and box[1] < t[3] and t[1] < box[3]
               for t in taken)


def make_canvases(digits: np.ndarray, labels: np.ndarray, count: int, size: int = SIZE,
                  digits_per_canvas: tuple[int, int] = DIGITS,
                  digit_sizes: tuple[int, int] = DIGIT_SIZES, seed: int = 0) -> Canvases:
    """`count` canvases of `digits` (uint8 (N, 28, 28) or float in [0, 1]) with `labels`.

    Digits are drawn in a seeded random order, without replacement until all
    are used. Returns (x, boxes, classes) as the module's docstring says.
    """
    images = np.asarray(digits)
    images = (images / np.float32(255) if np.issubdtype(images.dtype, np.integer)
              else images.astype("float32"))
    labels = np.asarray(labels).reshape(-1)
    if images.ndim != 3 or len(images) != len(labels) or not len(images):
        raise ValueError(f"`digits` must be grey images (N, h, w) with N labels, got shapes "
                         f"{images.shape} and {labels.shape}.")
    low, high = digit_sizes
    if not 8 <= low <= high <= size:
        raise ValueError(f"`digit_sizes` must satisfy 8 <= low <= high <= size ({size}), "
                         f"got {digit_sizes}.")
    if not 1 <= digits_per_canvas[0] <= digits_per_canvas[1]:
        raise ValueError(f"`digits_per_canvas` must be (low, high) with 1 <= low <= high, got "
                         f"{digits_per_canvas}.")
    rng = np.random.default_rng(seed)
    order, used = rng.permutation(len(images)), 0
    x = np.zeros((count, size, size, 1), "float32")
    all_boxes, all_classes = [], []
    for n in range(count):
        boxes, classes = [], []
        for _ in range(rng.integers(digits_per_canvas[0], digits_per_canvas[1] + 1)):
            if used == len(order):
                order, used = rng.permutation(len(images)), 0
            index = order[used]
            used += 1
            side = int(rng.integers(low, high + 1))
            digit = resize(images[index], side, side)
            rows, cols = np.nonzero(digit > INK)
            if not len(rows):
                continue
            tight = np.array([cols.min(), rows.min(), cols.max() + 1, rows.max() + 1])
            for _ in range(ATTEMPTS):
                top, left = rng.integers(0, size - side + 1, size=2)
                box = tight + np.array([left, top, left, top])
                if not _overlaps(box, boxes):
                    patch = x[n, top:top + side, left:left + side, 0]
                    np.maximum(patch, digit, out=patch)
                    boxes.append(box)
                    classes.append(int(labels[index]))
                    break
        all_boxes.append(np.array(boxes, "float32").reshape(-1, 4))
        all_classes.append(np.array(classes, "int32"))
    return np.clip(x, 0.0, 1.0), all_boxes, all_classes


def _canvases(arrays, train: int, test: int, size: int, seed: int, **options):
    (x, y), (x_test, y_test) = arrays
    for option, value in (("train", train), ("test", test)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"`{option}` must be a number of canvases >= 0, got {value!r}.")
    return (make_canvases(x, y, train, size, seed=seed, **options),
            make_canvases(x_test, y_test, test, size, seed=seed + 1, **options))


def load_data(path: str | os.PathLike | None = None, train: int = 5000, test: int = 1000,
              size: int = SIZE, seed: int = 0, **options) -> tuple[Canvases, Canvases]:
    """Canvases from full MNIST (`keras_history.datasets.mnist.load_data(path)`'s sources).

    Args:
        path: a folder of MNIST's IDX files or an `mnist.npz` (see `datasets.mnist`).
        train, test: canvases of each split (from MNIST's train and test digits).
        size: canvas side in pixels.
        seed: the canvases' seed (the test split uses seed + 1).
        **options: `digits_per_canvas`, `digit_sizes` of `make_canvases`.
    """
    return _canvases(mnist.load_data(path), train, test, size, seed, **options)


def load_sample(train: int = 200, test: int = 50, size: int = SIZE, seed: int = 0,
                **options) -> tuple[Canvases, Canvases]:
    """Canvases from the MNIST sample shipped in the package (4,000 train, 1,000 test digits)."""
    return _canvases(mnist.load_sample(), train, test, size, seed, **options)
