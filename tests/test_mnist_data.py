"""The MNIST loader: every local source, and a clear error for every bad file."""

from __future__ import annotations

import gzip
import shutil
import struct

import numpy as np
import pytest
from conftest import MNIST_DIR

from keras_history.datasets import mnist

needs_mnist = pytest.mark.skipif(not MNIST_DIR.is_dir(),
                                 reason=f"real MNIST not found at {MNIST_DIR}")


def idx_bytes(array: np.ndarray) -> bytes:
    magic = 2051 if array.ndim == 3 else 2049
    return struct.pack(">II", magic, len(array)) + struct.pack(
        f">{array.ndim - 1}I", *array.shape[1:]) + array.astype(np.uint8).tobytes()


@pytest.fixture(scope="module")
def sample():
    return mnist.load_sample()


def write_folder(folder, sample, compress: bool, train: int = 300, test: int = 100):
    (x, y), (xt, yt) = sample
    arrays = {"x_train": x[:train], "y_train": y[:train], "x_test": xt[:test], "y_test": yt[:test]}
    folder.mkdir(parents=True, exist_ok=True)
    for key, stem in mnist.FILES.items():
        data = idx_bytes(arrays[key])
        if compress:
            (folder / f"{stem}.gz").write_bytes(gzip.compress(data))
        else:
            (folder / stem).write_bytes(data)
    return arrays


def test_sample_is_small_real_and_balanced(sample):
    (x, y), (xt, yt) = sample
    assert x.shape == (4000, 28, 28) and x.dtype == np.uint8 and y.shape == (4000,)
    assert xt.shape == (1000, 28, 28) and yt.shape == (1000,)
    assert np.bincount(y).tolist() == [400] * 10
    assert mnist.SAMPLE_PATH.stat().st_size < 3_000_000
    assert 0.1 < (x > 0).mean() < 0.3  # real digits: mostly background, some ink


@pytest.mark.parametrize("compress", [True, False])
def test_idx_folder_gzipped_or_not(tmp_path, sample, compress):
    arrays = write_folder(tmp_path, sample, compress)
    (x, y), (xt, yt) = mnist.load_data(tmp_path)
    np.testing.assert_array_equal(x, arrays["x_train"])
    np.testing.assert_array_equal(yt, arrays["y_test"])
    assert x.dtype == np.uint8 and y.dtype == np.uint8


def test_npz_and_environment_variable(tmp_path, sample, monkeypatch):
    (x, y), (xt, yt) = sample
    path = tmp_path / "mnist.npz"
    np.savez(path, x_train=x, y_train=y, x_test=xt, y_test=yt)
    monkeypatch.setenv(mnist.ENV_VAR, str(path))
    (x2, _), (_, yt2) = mnist.load_data()
    np.testing.assert_array_equal(x2, x)
    np.testing.assert_array_equal(yt2, yt)


@needs_mnist
def test_real_mnist_checksums_and_shapes():
    (x, y), (xt, yt) = mnist.load_data(MNIST_DIR)
    assert x.shape == (60000, 28, 28) and xt.shape == (10000, 28, 28)
    assert np.bincount(y).sum() == 60000 and yt.max() == 9


@needs_mnist
def test_wrong_checksum_names_the_file(tmp_path):
    shutil.copytree(MNIST_DIR, tmp_path / "m")
    folder = tmp_path / "m"
    labels = gzip.decompress((folder / "t10k-labels-idx1-ubyte.gz").read_bytes())
    (folder / "t10k-labels-idx1-ubyte.gz").chmod(0o644)
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    # One label changed, still a valid IDX file of the original size: only the MD5 can tell.
    (folder / "t10k-labels-idx1-ubyte").write_bytes(labels[:-1] + bytes([(labels[-1] + 1) % 10]))
    with pytest.raises(mnist.MNISTFormatError, match="t10k-labels-idx1-ubyte.*MD5.*corrupted"):
        mnist.load_data(folder)


def test_corrupted_gzip_names_the_file(tmp_path, sample):
    write_folder(tmp_path, sample, compress=True)
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    data = bytearray(path.read_bytes())
    data[-6] ^= 0xFF  # inside the CRC32 trailer
    path.write_bytes(bytes(data))
    with pytest.raises(mnist.MNISTFormatError, match="train-labels-idx1-ubyte.gz.*gzip"):
        mnist.load_data(tmp_path)


def test_truncated_file_names_the_file(tmp_path, sample):
    write_folder(tmp_path, sample, compress=False)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(mnist.MNISTFormatError, match="train-images-idx3-ubyte.*truncated"):
        mnist.load_data(tmp_path)


def test_bad_magic_number(tmp_path, sample):
    write_folder(tmp_path, sample, compress=False)
    path = tmp_path / "t10k-labels-idx1-ubyte"
    path.write_bytes(struct.pack(">I", 1234) + path.read_bytes()[4:])
    with pytest.raises(mnist.MNISTFormatError, match="t10k-labels.*magic number 1234"):
        mnist.load_data(tmp_path)


def test_mismatched_counts(tmp_path, sample):
    write_folder(tmp_path, sample, compress=False)
    (_, y), _ = sample
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(y[:299]))
    with pytest.raises(mnist.MNISTFormatError, match="300 train images but 299 train labels"):
        mnist.load_data(tmp_path)


def test_not_a_data_file(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    for stem in mnist.FILES.values():
        (folder / f"{stem}.gz").write_text("hello, I am not gzip")
    with pytest.raises(mnist.MNISTFormatError, match="train-images-idx3-ubyte.gz.*gzip"):
        mnist.load_data(folder)
    text = tmp_path / "notes.npz"
    text.write_text("not an archive")
    with pytest.raises(mnist.MNISTFormatError, match="notes.npz"):
        mnist.load_data(text)


def test_nothing_anywhere_lists_every_way(tmp_path, monkeypatch):
    monkeypatch.delenv(mnist.ENV_VAR, raising=False)
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "empty"))
    with pytest.raises(mnist.MNISTNotFoundError) as error:
        mnist.load_data()
    message = str(error.value)
    for way in ("load_data(path)", mnist.ENV_VAR, "TensorFlow Datasets", "load_sample()"):
        assert way in message


def test_missing_folder(tmp_path):
    with pytest.raises(mnist.MNISTNotFoundError, match="no such file or folder"):
        mnist.load_data(tmp_path / "nowhere")


def test_tfds_path_offline(tmp_path, sample, monkeypatch):
    """Prepare tfds's own `mnist` from local IDX files, then load through `tfds.load`."""
    import tensorflow_datasets as tfds
    from tensorflow_datasets.image_classification import mnist as tfds_mnist

    arrays = write_folder(tmp_path / "idx", sample, compress=False, train=200, test=50)
    local = {"train_data": "train-images-idx3-ubyte", "train_labels": "train-labels-idx1-ubyte",
             "test_data": "t10k-images-idx3-ubyte", "test_labels": "t10k-labels-idx1-ubyte"}
    # The builder's only network access is this call; serve the local files instead.
    monkeypatch.setattr(tfds.download.DownloadManager, "download_and_extract",
                        lambda self, urls: {k: str(tmp_path / "idx" / local[k]) for k in urls})
    monkeypatch.setattr(tfds_mnist, "_TRAIN_EXAMPLES", 200)
    monkeypatch.setattr(tfds_mnist, "_TEST_EXAMPLES", 50)
    data_dir = tmp_path / "tfds"
    tfds.builder("mnist", data_dir=str(data_dir)).download_and_prepare()

    monkeypatch.delenv(mnist.ENV_VAR, raising=False)
    monkeypatch.setenv("TFDS_DATA_DIR", str(data_dir))
    (x, y), (xt, yt) = mnist.load_data()
    # tfds stores examples in its own order: compare as sets of (image, label) pairs.
    def pairs(images, labels):
        return sorted(img.tobytes() + bytes([lab]) for img, lab in zip(images, labels))
    assert pairs(x, y) == pairs(arrays["x_train"], arrays["y_train"])
    assert pairs(xt, yt) == pairs(arrays["x_test"], arrays["y_test"])
