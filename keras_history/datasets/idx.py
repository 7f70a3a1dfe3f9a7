"""The IDX format of MNIST and its drop-in replacements, read and verified once for all.

Yann LeCun's IDX files are a big-endian header (magic number, item count, and
for images the rows and columns) followed by raw uint8 bytes. MNIST and
Fashion-MNIST use the same four file names, so the name of a file says
nothing about which data set it holds: its MD5 does. Each data set module
declares a `DataSet` (its original files' counts and MD5s, its environment
variable, its TensorFlow Datasets name); `load(data_set, path)` finds, reads
and verifies it, and names the other data set when files belong to one.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
IMAGES_MAGIC, LABELS_MAGIC = 2051, 2049
CLASSES = 10

Arrays = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


class DataNotFoundError(FileNotFoundError):
    """No copy of the data set could be found locally."""


class DataFormatError(ValueError):
    """A file is truncated, corrupted or not in the expected format."""


class OtherDataSetError(DataFormatError):
    """The files are intact originals, but of another data set (named in `data_set`)."""

    def __init__(self, message: str, data_set: str):
        super().__init__(message)
        self.data_set = data_set


@dataclass(frozen=True)
class DataSet:
    """An IDX data set: what its loader needs to find it and to recognise its files."""

    name: str  # as people write it: "Fashion-MNIST"
    module: str  # its loader: keras_history.datasets.<module>.load_data
    env_var: str
    tfds_name: str
    originals: dict[str, tuple[int, str]]  # file stem -> (items, MD5 of the IDX bytes)
    hint: str = ""  # the last line of the not-found message
    not_found_error: type[DataNotFoundError] = DataNotFoundError
    format_error: type[DataFormatError] = DataFormatError

    def __post_init__(self):
        KNOWN[self.module] = self


KNOWN: dict[str, DataSet] = {}  # every DataSet declared, by module name


def _read_bytes(path: Path, data_set: DataSet) -> bytes:
    raw = path.read_bytes()
    if path.suffix != ".gz":
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError) as error:  # also gzip's own CRC check failing
        raise data_set.format_error(f"{path}: not a readable gzip file ({error}).") from error


def _verify_original(path: Path, count: int, data: bytes, data_set: DataSet) -> None:
    """A file named and sized like an original must hold the original bytes."""
    stem = path.name.removesuffix(".gz")
    expected_count, expected_md5 = data_set.originals.get(stem, (None, None))
    if count != expected_count:
        return  # a subset or another data set in IDX format: nothing to compare with
    actual = hashlib.md5(data).hexdigest()
    if actual == expected_md5:
        return
    for other in KNOWN.values():
        if other.originals.get(stem, (None, None))[1] == actual:
            raise OtherDataSetError(
                f"{path}: this is {other.name}'s original {stem}, not {data_set.name}'s (the "
                f"two use the same file names). Load it with keras_history.datasets."
                f"{other.module}.load_data(path), or give the {data_set.name} files.",
                other.module,
            )
    raise data_set.format_error(
        f"{path}: MD5 of its contents is {actual}, not the original {stem}'s "
        f"{expected_md5}, nor any other known IDX data set's; the file is corrupted. "
        "Download it again."
    )


def read_idx(path: str | os.PathLike, data_set: DataSet) -> np.ndarray:
    """Read one IDX file (images: magic 2051, 28x28; labels: magic 2049), checking it."""
    path = Path(path)
    error = data_set.format_error
    data = _read_bytes(path, data_set)
    if len(data) < 8:
        raise error(f"{path}: {len(data)} bytes is too short for an IDX header.")
    magic, count = struct.unpack(">II", data[:8])
    if magic == IMAGES_MAGIC:
        if len(data) < 16:
            raise error(f"{path}: truncated IDX image header.")
        rows, cols = struct.unpack(">II", data[8:16])
        if (rows, cols) != (28, 28):
            raise error(f"{path}: images are {rows}x{cols}, expected 28x28.")
        shape, offset = (count, rows, cols), 16
    elif magic == LABELS_MAGIC:
        shape, offset = (count,), 8
    else:
        raise error(f"{path}: magic number {magic} is not an IDX image file (2051) or label "
                    "file (2049).")
    expected = int(np.prod(shape))
    if len(data) - offset != expected:
        raise error(
            f"{path}: header promises {count} items ({expected} bytes) but the file holds "
            f"{len(data) - offset} bytes; it is truncated or corrupted."
        )
    _verify_original(path, count, data, data_set)
    array = np.frombuffer(data, dtype=np.uint8, offset=offset).reshape(shape)
    if magic == LABELS_MAGIC and array.size and array.max() >= CLASSES:
        raise error(f"{path}: label {int(array.max())} is outside 0-{CLASSES - 1}.")
    return array


def _find(folder: Path, stem: str, data_set: DataSet) -> Path:
    for name in (stem + ".gz", stem):
        if (folder / name).is_file():
            return folder / name
    raise data_set.not_found_error(f"{folder}: neither {stem}.gz nor {stem} is there.")


def checked_pairs(arrays: dict[str, np.ndarray], source: str, data_set: DataSet) -> Arrays:
    """`((x_train, y_train), (x_test, y_test))`, with shapes and counts checked."""
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.ndim != 3 or x.shape[1:] != (28, 28):
            raise data_set.format_error(f"{source}: x_{split} has shape {x.shape}, "
                                        "expected (N, 28, 28).")
        if len(x) != len(y):
            raise data_set.format_error(
                f"{source}: {len(x)} {split} images but {len(y)} {split} labels."
            )
    return ((arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"]))


def load_npz(path: Path, data_set: DataSet) -> Arrays:
    """A Keras-style .npz with the arrays x_train, y_train, x_test, y_test."""
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in FILES if k not in data.files]
            if missing:
                raise data_set.format_error(
                    f"{path}: missing arrays {', '.join(missing)}; expected x_train, "
                    "y_train, x_test, y_test."
                )
            arrays = {k: np.asarray(data[k], dtype=np.uint8) for k in FILES}
    except (OSError, ValueError, EOFError) as error:
        if isinstance(error, DataFormatError):
            raise
        raise data_set.format_error(f"{path}: not a readable .npz file ({error}).") from error
    return checked_pairs(arrays, str(path), data_set)


def _load_path(path: Path, data_set: DataSet) -> Arrays:
    if path.is_dir():
        arrays = {key: read_idx(_find(path, stem, data_set), data_set)
                  for key, stem in FILES.items()}
        return checked_pairs(arrays, str(path), data_set)
    if path.is_file():
        return load_npz(path, data_set)
    raise data_set.not_found_error(f"{path}: no such file or folder.")


def _load_tfds(data_set: DataSet) -> Arrays | None:
    """The data set from a prepared TensorFlow Datasets copy, or None if there is none."""
    data_dir = os.environ.get("TFDS_DATA_DIR")
    # No TFDS folder, no copy: asking tfds itself would import it (seconds) and have it
    # warn about the missing folder before our own message says what to do.
    if not Path(data_dir or "~/tensorflow_datasets").expanduser().is_dir():
        return None
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        return None
    builder = tfds.builder(data_set.tfds_name, data_dir=data_dir)
    if not builder.is_prepared():  # checked first: never let tfds reach for the network
        return None
    splits = tfds.as_numpy(tfds.load(data_set.tfds_name, data_dir=data_dir, download=False,
                                     batch_size=-1, as_supervised=True))
    (x_train, y_train), (x_test, y_test) = splits["train"], splits["test"]
    arrays = {"x_train": x_train[..., 0], "y_train": y_train, "x_test": x_test[..., 0],
              "y_test": y_test}
    return checked_pairs({k: v.astype(np.uint8) for k, v in arrays.items()},
                         f"tensorflow_datasets {data_set.tfds_name}", data_set)


def load(data_set: DataSet, path: str | os.PathLike | None = None) -> Arrays:
    """Find `data_set` locally (path, environment variable, prepared tfds) and read it."""
    path = path if path is not None else os.environ.get(data_set.env_var)
    if path:
        return _load_path(Path(path).expanduser(), data_set)
    found = _load_tfds(data_set)
    if found is not None:
        return found
    names = ",\n     ".join(f"{stem}.gz" for stem in FILES.values())
    raise data_set.not_found_error(
        f"{data_set.name} was not found locally, and keras_history never downloads. "
        "Provide it by:\n"
        f"  1. load_data(path) with a folder holding {names}\n"
        f"     (gzipped or not), or a Keras-style .npz;\n"
        f"  2. the environment variable {data_set.env_var} naming such a folder or file;\n"
        "  3. a prepared TensorFlow Datasets copy (`pip install tensorflow-datasets`): run\n"
        f"     `python -c \"import tensorflow_datasets as tfds; "
        f"tfds.load('{data_set.tfds_name}')\"`\n"
        "     once on a machine with internet (uses $TFDS_DATA_DIR or\n"
        "     ~/tensorflow_datasets)." + (f"\n{data_set.hint}" if data_set.hint else "")
    )
