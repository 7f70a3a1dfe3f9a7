"""Up-front checks of user data, so bad input fails with a message, not a backend traceback.

The checks run on array-like data (NumPy arrays, lists, backend tensors)
before `fit`, `evaluate` or `predict` start. Datasets and generators are passed
through: their contents cannot be inspected without consuming them.
"""

from __future__ import annotations

import math
import numbers

import numpy as np


def is_array_like(data) -> bool:
    """True for data we can inspect up front (not a tf.data.Dataset or generator)."""
    if data is None or isinstance(data, (np.ndarray, list, tuple)):
        return data is not None
    return hasattr(data, "shape") and hasattr(data, "dtype") and hasattr(data, "__array__")


def as_numeric(data, name: str, dtype: str = "float32") -> np.ndarray:
    """`data` as a NumPy array of `dtype`, or a TypeError/ValueError saying what is wrong."""
    try:
        array = np.asarray(data)
    except ValueError as error:  # ragged nested lists
        raise ValueError(f"`{name}` must be a rectangular array of numbers: {error}") from None
    if (array.dtype == bool or not np.issubdtype(array.dtype, np.number)
            or np.issubdtype(array.dtype, np.complexfloating)):
        raise TypeError(
            f"`{name}` must hold numbers (int or float), got dtype {array.dtype}"
            + (f" (first item: {array.flat[0]!r})" if array.size else "")
            + "."
        )
    if array.size == 0:
        raise ValueError(f"`{name}` is empty (shape {array.shape}); give at least one sample.")
    array = array.astype(dtype, copy=False)
    if not np.all(np.isfinite(array)):
        bad = np.argwhere(~np.isfinite(array))[0]
        raise ValueError(
            f"`{name}` contains NaN or infinity (first at index {tuple(int(i) for i in bad)}); "
            "clean or impute the data first."
        )
    return array


def as_matrix(data, name: str, features: int | None = None) -> np.ndarray:
    """A (samples, features) float32 matrix; 1-D data counts as one feature per sample."""
    array = as_numeric(data, name)
    if array.ndim == 1:
        array = array[:, None]
    expected = f"(samples, {features if features is not None else 'features'})"
    if array.ndim != 2:
        raise ValueError(f"`{name}` must have shape {expected}, got shape {array.shape}.")
    if features is not None and array.shape[1] != features:
        raise ValueError(f"`{name}` must have shape {expected}, got shape {array.shape}.")
    return array


def check_same_length(x: np.ndarray, y: np.ndarray) -> None:
    if len(x) != len(y):
        raise ValueError(
            f"`x` and `y` must hold the same number of samples, got {len(x)} and {len(y)}."
        )


def check_values_in(y: np.ndarray, allowed: tuple, name: str = "y") -> None:
    """Every entry of `y` is one of `allowed` (the perceptron's 0/1 targets)."""
    bad = ~np.isin(y, allowed)
    if np.any(bad):
        first = y[bad].flat[0]
        raise ValueError(
            f"`{name}` must contain only {' or '.join(str(a) for a in allowed)}, "
            f"found {first!r} ({int(bad.sum())} value(s) outside)."
        )


def check_in_range(y: np.ndarray, low: float, high: float, name: str = "y") -> None:
    """Every entry of `y` lies in [low, high] (targets of a sigmoid output)."""
    bad = (y < low) | (y > high)
    if np.any(bad):
        raise ValueError(
            f"`{name}` must lie in [{low:g}, {high:g}], found {y[bad].flat[0]!r} "
            f"({int(bad.sum())} value(s) outside)."
        )


def check_unit_pixels(images: np.ndarray, name: str = "x") -> None:
    """Float pixels lie in [0, 1]; 0..255 floats are the classic silent wrong answer."""
    low, high = float(images.min()), float(images.max())
    if low < 0 or high > 1:
        raise ValueError(
            f"`{name}` holds float pixels ranging over {low:g}..{high:g}, but float images must "
            f"lie in [0, 1]: divide them by 255 (`{name} / 255.0`), or pass the grey levels "
            "as uint8 (0..255), which the model divides by 255 itself."
        )


def is_integer(value) -> bool:
    """A Python or NumPy integer, but not a bool (True is an int to Python, not to a user)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_finite_number(value) -> bool:
    """A real Python or NumPy number, not a bool, neither NaN nor infinite."""
    return (isinstance(value, numbers.Real) and not isinstance(value, bool)
            and math.isfinite(value))


def check_option(name: str, value, condition: bool, expected: str) -> None:
    """A factory argument outside its valid range fails with what was expected."""
    if not condition:
        raise ValueError(f"`{name}` must be {expected}, got {value!r}.")


def check_image_shape(input_shape) -> tuple:
    """An image factory's `input_shape`: (height, width, channels) of positive integers."""
    dims = tuple(input_shape) if isinstance(input_shape, (tuple, list)) else ()
    check_option("input_shape", input_shape,
                 len(dims) == 3 and all(is_integer(d) and d >= 1 for d in dims),
                 "(height, width, channels) of positive integers")
    return dims


def check_classes(classes) -> None:
    """A classifier's number of classes: an integer >= 2."""
    check_option("classes", classes, is_integer(classes) and classes >= 2, "an integer >= 2")


def check_momentum_ramp(initial_momentum, final_momentum, steps_per_epoch,
                        momentum_epochs=None, initial_may_be_zero: bool = False) -> None:
    """The options of a momentum that moves from `initial_momentum` to `final_momentum`
    over `momentum_epochs` epochs of `steps_per_epoch` steps (the GAN's, dropout's, the RBM's)."""
    check_option("initial_momentum", initial_momentum, is_finite_number(initial_momentum) and (
        0 <= initial_momentum < 1 if initial_may_be_zero else 0 < initial_momentum < 1),
                 "in [0, 1)" if initial_may_be_zero else "in (0, 1)")
    check_option("final_momentum", final_momentum,
                 is_finite_number(final_momentum) and 0 <= final_momentum < 1, "in [0, 1)")
    if momentum_epochs is not None:
        check_option("momentum_epochs", momentum_epochs,
                     is_integer(momentum_epochs) and momentum_epochs >= 0, "an integer >= 0")
    check_option("steps_per_epoch", steps_per_epoch,
                 is_integer(steps_per_epoch) and steps_per_epoch >= 1, "an integer >= 1")


def check_seed(seed) -> None:
    """A random seed is an int or None (Keras would only object when the weights are built)."""
    check_option("seed", seed, seed is None or (isinstance(seed, int)
                                                and not isinstance(seed, bool)),
                 "an integer or None")


def as_class_ids(y, classes: int, name: str = "y") -> np.ndarray:
    """Integer class ids in [0, classes) from ids (N,) / (N, 1) or one-hot rows (N, classes)."""
    array = as_numeric(y, name, dtype="float64")
    if array.ndim == 2 and array.shape[1] == classes and classes > 1:
        if not np.all(np.isin(array, (0, 1))) or not np.all(array.sum(axis=1) == 1):
            raise ValueError(
                f"`{name}` of shape {array.shape} looks one-hot, but its rows are not "
                "one 1 and zeros elsewhere; give class ids (N,) or one-hot rows."
            )
        return array.argmax(axis=1).astype("int32")
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise ValueError(
            f"`{name}` must be class ids of shape (N,) or one-hot of shape (N, {classes}), "
            f"got shape {array.shape}."
        )
    if np.any(array != np.round(array)):
        fraction = array[array != np.round(array)][0]
        raise ValueError(f"`{name}` must hold whole-number class ids, found {fraction!r}.")
    bad = (array < 0) | (array >= classes)
    if np.any(bad):
        raise ValueError(
            f"`{name}` must hold class ids in 0..{classes - 1}, found {int(array[bad][0])} "
            f"({int(bad.sum())} label(s) outside)."
        )
    return array.astype("int32")


def as_unit_images(data, name: str = "x", shape: tuple[int, int] = (28, 28)) -> np.ndarray:
    """Grey images as float32 (N, height, width) in [0, 1].

    Accepts (N, h, w), (N, h, w, 1) and flat rows (N, h·w) (reshaped
    row-major, as MNIST stores them). Integer pixels are grey levels 0..255
    and are divided by 255; floats must already lie in [0, 1], so 0..255
    floats (the classic silent mistake) are refused.
    """
    images = as_numeric(data, name)  # refuses non-numbers, NaN and empty data first
    integer = np.issubdtype(np.asarray(data).dtype, np.integer)
    height, width = shape
    given = images.shape
    if images.ndim == 2 and images.shape[1] == height * width:
        images = images.reshape(-1, height, width)
    elif images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim != 3 or images.shape[1:] != (height, width):
        raise ValueError(f"`{name}` must be grey images of shape (N, {height}, {width}), "
                         f"(N, {height}, {width}, 1) or flat (N, {height * width}), "
                         f"got shape {given}.")
    if integer:
        check_in_range(images, 0, 255, name)
        return images / np.float32(255)
    low, high = float(images.min()), float(images.max())
    if low < 0 or high > 1:
        hint = (" They look like grey levels 0..255: divide by 255 (or pass uint8)."
                if high > 1 and high <= 255 and low >= 0 else "")
        raise ValueError(f"`{name}` must hold pixel values in [0, 1], found values in "
                         f"{low:g}..{high:g}.{hint}")
    return images
