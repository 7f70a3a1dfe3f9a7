"""MNIST, the handwritten digits of Yann LeCun, Corinna Cortes and Christopher J.C. Burges.

60,000 training and 10,000 test images of 28×28 grey pixels, each a digit
0-9, made from NIST's special databases in 1998 and used for every benchmark
from LeNet-5 on. Licensed CC BY-SA 3.0.

`load_data(path)` returns the arrays exactly like `keras.datasets.mnist`:
`((x_train, y_train), (x_test, y_test))`, uint8 images (N, 28, 28) and uint8
labels (N,). It never downloads anything; the data comes from, in order:

1. `path`: a folder with the four original IDX files (gzipped or not), or a
   Keras-style `mnist.npz` (keys x_train, y_train, x_test, y_test);
2. the environment variable `KERAS_HISTORY_MNIST`, naming either of those;
3. TensorFlow Datasets' `mnist`, if it has been prepared (`tfds.load` with
   `download=False`, in `$TFDS_DATA_DIR` or `~/tensorflow_datasets`).

Everything read is verified (`keras_history.datasets.idx`): IDX magic numbers
and sizes, counts that match between images and labels, and the MD5 of the
original files' contents, which also tells MNIST from Fashion-MNIST (same
file names). `load_sample()` returns a small real subset shipped inside this
package.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from keras_history.datasets import idx

ENV_VAR = "KERAS_HISTORY_MNIST"
SAMPLE_PATH = Path(__file__).with_name("mnist_sample.npz")
FILES = idx.FILES

Arrays = idx.Arrays


class MNISTNotFoundError(idx.DataNotFoundError):
    """No MNIST could be found locally; the message lists every way to provide it."""


class MNISTFormatError(idx.DataFormatError):
    """An MNIST file is truncated, corrupted or not in the expected format."""


# The original files: item count and MD5 of the uncompressed IDX bytes (the
# published .gz files decompress to these), so a full-size file is verified
# whether it is gzipped or not, and however it was recompressed.
MNIST = idx.DataSet(
    name="MNIST",
    module="mnist",
    env_var=ENV_VAR,
    tfds_name="mnist",
    originals={
        "train-images-idx3-ubyte": (60000, "6bbc9ace898e44ae57da46a324031adb"),
        "train-labels-idx1-ubyte": (60000, "a25bea736e30d166cdddb491f175f624"),
        "t10k-images-idx3-ubyte": (10000, "2646ac647ad5339dbf082846283269ea"),
        "t10k-labels-idx1-ubyte": (10000, "27ae3e4e09519cfbb04c329615203637"),
    },
    hint="For a quick offline start, load_sample() returns a small real subset.",
    not_found_error=MNISTNotFoundError,
    format_error=MNISTFormatError,
)
ORIGINALS = MNIST.originals


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one MNIST IDX file (images: magic 2051, labels: magic 2049), checking it."""
    return idx.read_idx(path, MNIST)


def load_data(path: str | os.PathLike | None = None) -> Arrays:
    """Load MNIST from a local source, like `keras.datasets.mnist.load_data()`.

    Args:
        path: a folder with the four IDX files (`.gz` or not) or an `mnist.npz`;
            defaults to `$KERAS_HISTORY_MNIST`, then a prepared tfds `mnist`.

    Returns:
        `((x_train, y_train), (x_test, y_test))`: uint8 images (N, 28, 28), uint8
        labels (N,).

    Raises:
        MNISTNotFoundError: nothing found; the message lists the ways to provide it.
        MNISTFormatError: a file is truncated, corrupted or of the wrong format.
        keras_history.datasets.idx.OtherDataSetError: intact files of another IDX
            data set (Fashion-MNIST); the message names its loader.
    """
    return idx.load(MNIST, path)


def load_sample() -> Arrays:
    """A small real MNIST subset shipped in the package (see scripts/make_mnist_sample.py).

    4,000 training images (400 of each digit) and 1,000 test images, in the
    same format as `load_data()`.
    """
    return idx.load_npz(SAMPLE_PATH, MNIST)
