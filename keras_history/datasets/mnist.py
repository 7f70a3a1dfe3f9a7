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

Everything read is verified: IDX magic numbers and sizes, counts that match
between images and labels, and the MD5 of the original files' contents.
`load_sample()` returns a small real subset shipped inside this package.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
from pathlib import Path

import numpy as np

ENV_VAR = "KERAS_HISTORY_MNIST"
SAMPLE_PATH = Path(__file__).with_name("mnist_sample.npz")

FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
# The original files: item count and MD5 of the uncompressed IDX bytes (the
# published .gz files decompress to these), so a full-size file is verified
# whether it is gzipped or not, and however it was recompressed.
ORIGINALS = {
    "train-images-idx3-ubyte": (60000, "6bbc9ace898e44ae57da46a324031adb"),
    "train-labels-idx1-ubyte": (60000, "a25bea736e30d166cdddb491f175f624"),
    "t10k-images-idx3-ubyte": (10000, "2646ac647ad5339dbf082846283269ea"),
    "t10k-labels-idx1-ubyte": (10000, "27ae3e4e09519cfbb04c329615203637"),
}
_IMAGES_MAGIC, _LABELS_MAGIC = 2051, 2049

Arrays = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


class MNISTNotFoundError(FileNotFoundError):
    """No MNIST could be found locally; the message lists every way to provide it."""


class MNISTFormatError(ValueError):
    """An MNIST file is truncated, corrupted or not in the expected format."""


def _read_bytes(path: Path) -> bytes:
    raw = path.read_bytes()
    if path.suffix != ".gz":
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError) as error:  # also gzip's own CRC check failing
        raise MNISTFormatError(f"{path}: not a readable gzip file ({error}).") from error


def _verify_original(path: Path, count: int, data: bytes) -> None:
    """A file named and sized like an original must hold the original bytes."""
    stem = path.name.removesuffix(".gz")
    expected_count, expected_md5 = ORIGINALS.get(stem, (None, None))
    if count != expected_count:
        return  # a subset or another data set in IDX format: nothing to compare with
    actual = hashlib.md5(data).hexdigest()
    if actual != expected_md5:
        raise MNISTFormatError(
            f"{path}: MD5 of its contents is {actual}, not the original {stem}'s "
            f"{expected_md5}; the file is corrupted. Download it again."
        )


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file (images: magic 2051, labels: magic 2049), checking its header."""
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 8:
        raise MNISTFormatError(f"{path}: {len(data)} bytes is too short for an IDX header.")
    magic, count = struct.unpack(">II", data[:8])
    if magic == _IMAGES_MAGIC:
        if len(data) < 16:
            raise MNISTFormatError(f"{path}: truncated IDX image header.")
        rows, cols = struct.unpack(">II", data[8:16])
        if (rows, cols) != (28, 28):
            raise MNISTFormatError(f"{path}: images are {rows}x{cols}, expected 28x28.")
        shape, offset = (count, rows, cols), 16
    elif magic == _LABELS_MAGIC:
        shape, offset = (count,), 8
    else:
        raise MNISTFormatError(
            f"{path}: magic number {magic} is not an IDX image file (2051) or label "
            "file (2049)."
        )
    expected = int(np.prod(shape))
    if len(data) - offset != expected:
        raise MNISTFormatError(
            f"{path}: header promises {count} items ({expected} bytes) but the file holds "
            f"{len(data) - offset} bytes; it is truncated or corrupted."
        )
    _verify_original(path, count, data)
    array = np.frombuffer(data, dtype=np.uint8, offset=offset).reshape(shape)
    if magic == _LABELS_MAGIC and array.size and array.max() > 9:
        raise MNISTFormatError(f"{path}: label {int(array.max())} is outside 0-9.")
    return array


def _find(folder: Path, stem: str) -> Path:
    for name in (stem + ".gz", stem):
        if (folder / name).is_file():
            return folder / name
    raise MNISTNotFoundError(f"{folder}: neither {stem}.gz nor {stem} is there.")


def _checked_pairs(arrays: dict[str, np.ndarray], source: str) -> Arrays:
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.ndim != 3 or x.shape[1:] != (28, 28):
            raise MNISTFormatError(f"{source}: x_{split} has shape {x.shape}, "
                                   "expected (N, 28, 28).")
        if len(x) != len(y):
            raise MNISTFormatError(
                f"{source}: {len(x)} {split} images but {len(y)} {split} labels."
            )
    return ((arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"]))


def _load_folder(folder: Path) -> Arrays:
    arrays = {key: read_idx(_find(folder, stem)) for key, stem in FILES.items()}
    return _checked_pairs(arrays, str(folder))


def _load_npz(path: Path) -> Arrays:
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in FILES if k not in data.files]
            if missing:
                raise MNISTFormatError(
                    f"{path}: missing arrays {', '.join(missing)}; expected x_train, "
                    "y_train, x_test, y_test."
                )
            arrays = {k: np.asarray(data[k], dtype=np.uint8) for k in FILES}
    except (OSError, ValueError, EOFError) as error:
        if isinstance(error, MNISTFormatError):
            raise
        raise MNISTFormatError(f"{path}: not a readable .npz file ({error}).") from error
    return _checked_pairs(arrays, str(path))


def _load_path(path: Path) -> Arrays:
    if path.is_dir():
        return _load_folder(path)
    if path.is_file():
        return _load_npz(path)
    raise MNISTNotFoundError(f"{path}: no such file or folder.")


def _load_tfds() -> Arrays | None:
    """MNIST from a prepared TensorFlow Datasets copy, or None if there is none."""
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        return None
    data_dir = os.environ.get("TFDS_DATA_DIR")
    builder = tfds.builder("mnist", data_dir=data_dir)
    if not builder.is_prepared():  # checked first: never let tfds reach for the network
        return None
    splits = tfds.as_numpy(tfds.load("mnist", data_dir=data_dir, download=False,
                                     batch_size=-1, as_supervised=True))
    (x_train, y_train), (x_test, y_test) = splits["train"], splits["test"]
    arrays = {"x_train": x_train[..., 0], "y_train": y_train, "x_test": x_test[..., 0],
              "y_test": y_test}
    return _checked_pairs({k: v.astype(np.uint8) for k, v in arrays.items()},
                          "tensorflow_datasets mnist")


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
    """
    path = path if path is not None else os.environ.get(ENV_VAR)
    if path:
        return _load_path(Path(path).expanduser())
    found = _load_tfds()
    if found is not None:
        return found
    raise MNISTNotFoundError(
        "MNIST was not found locally, and keras_history never downloads. Provide it by:\n"
        "  1. load_data(path) with a folder holding train-images-idx3-ubyte.gz,\n"
        "     train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and\n"
        "     t10k-labels-idx1-ubyte.gz (gzipped or not), or a Keras mnist.npz;\n"
        f"  2. the environment variable {ENV_VAR} naming such a folder or file;\n"
        "  3. a prepared TensorFlow Datasets copy: run\n"
        "     `python -c \"import tensorflow_datasets as tfds; tfds.load('mnist')\"`\n"
        "     once on a machine with internet (uses $TFDS_DATA_DIR or\n"
        "     ~/tensorflow_datasets).\n"
        "For a quick offline start, load_sample() returns a small real subset."
    )


def load_sample() -> Arrays:
    """A small real MNIST subset shipped in the package (see scripts/make_mnist_sample.py).

    4,000 training images (400 of each digit) and 1,000 test images, in the
    same format as `load_data()`.
    """
    return _load_npz(SAMPLE_PATH)
