"""Fashion-MNIST: Zalando's 28×28 grey images of clothing, MNIST's drop-in replacement.

Han Xiao, Kashif Rasul and Roland Vollgraf (Zalando Research, 2017) made it
because MNIST had become too easy: 60,000 training and 10,000 test images in
10 classes, with the same file names and IDX format as MNIST. MIT license.

`load_data(path)` has the contract of `keras_history.datasets.mnist.load_data`
and of `keras.datasets.fashion_mnist`: `((x_train, y_train), (x_test,
y_test))`, uint8 images (N, 28, 28) and uint8 labels (N,), from `path` (a
folder of the four IDX files, gzipped or not, or a Keras-style .npz), else
`$KERAS_HISTORY_FASHION_MNIST`, else a prepared TensorFlow Datasets copy. It
never downloads; the original files are verified by their MD5.
"""

from __future__ import annotations

import os

from keras_history.datasets import idx

ENV_VAR = "KERAS_HISTORY_FASHION_MNIST"
CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot")


class FashionMNISTNotFoundError(idx.DataNotFoundError):
    """No Fashion-MNIST could be found locally; the message lists every way to provide it."""


class FashionMNISTFormatError(idx.DataFormatError):
    """A Fashion-MNIST file is truncated, corrupted or not in the expected format."""


# Item count and MD5 of the uncompressed IDX bytes of the original files.
FASHION_MNIST = idx.DataSet(
    name="Fashion-MNIST",
    module="fashion_mnist",
    env_var=ENV_VAR,
    tfds_name="fashion_mnist",
    originals={
        "train-images-idx3-ubyte": (60000, "f4a8712d7a061bf5bd6d2ca38dc4d50a"),
        "train-labels-idx1-ubyte": (60000, "9018921c3c673c538a1fc5bad174d6f9"),
        "t10k-images-idx3-ubyte": (10000, "8181f5470baa50b63fa0f6fddb340f0a"),
        "t10k-labels-idx1-ubyte": (10000, "15d484375f8d13e6eb1aabb0c3f46965"),
    },
    not_found_error=FashionMNISTNotFoundError,
    format_error=FashionMNISTFormatError,
)


def load_data(path: str | os.PathLike | None = None) -> idx.Arrays:
    """Load Fashion-MNIST from a local source, like `keras.datasets.fashion_mnist.load_data()`.

    Args:
        path: a folder with the four IDX files (`.gz` or not) or a Keras-style .npz;
            defaults to `$KERAS_HISTORY_FASHION_MNIST`, then a prepared tfds
            `fashion_mnist`.

    Returns:
        `((x_train, y_train), (x_test, y_test))`: uint8 images (N, 28, 28), uint8
        labels (N,) indexing `CLASS_NAMES`.

    Raises:
        FashionMNISTNotFoundError: nothing found; the message lists the ways to provide it.
        FashionMNISTFormatError: a file is truncated, corrupted or of the wrong format.
        keras_history.datasets.idx.OtherDataSetError: intact files of MNIST.
    """
    return idx.load(FASHION_MNIST, path)
