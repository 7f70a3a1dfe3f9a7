"""Fashion-MNIST: MNIST's contract, its own checksums, and no mix-up between the two."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
from conftest import MNIST_DIR
from test_mnist_data import idx_bytes

from keras_history.datasets import fashion_mnist, idx, mnist

FASHION_DIR = MNIST_DIR.parent / "fashion_mnist"
needs_fashion = pytest.mark.skipif(not FASHION_DIR.is_dir(),
                                   reason=f"real Fashion-MNIST not found at {FASHION_DIR}")
needs_both = pytest.mark.skipif(not (FASHION_DIR.is_dir() and MNIST_DIR.is_dir()),
                                reason="real MNIST and Fashion-MNIST not both found")


def small_arrays(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"x_train": rng.integers(0, 256, (50, 28, 28), dtype=np.uint8),
            "y_train": rng.integers(0, 10, 50, dtype=np.uint8),
            "x_test": rng.integers(0, 256, (20, 28, 28), dtype=np.uint8),
            "y_test": rng.integers(0, 10, 20, dtype=np.uint8)}


def test_small_idx_folder_npz_and_environment_variable(tmp_path, monkeypatch):
    arrays = small_arrays()
    for key, stem in idx.FILES.items():
        (tmp_path / f"{stem}.gz").write_bytes(gzip.compress(idx_bytes(arrays[key])))
    (x, y), (xt, yt) = fashion_mnist.load_data(tmp_path)
    for got, key in ((x, "x_train"), (y, "y_train"), (xt, "x_test"), (yt, "y_test")):
        np.testing.assert_array_equal(got, arrays[key])
        assert got.dtype == np.uint8
    np.savez(tmp_path / "fashion.npz", **arrays)
    monkeypatch.setenv(fashion_mnist.ENV_VAR, str(tmp_path / "fashion.npz"))
    (x2, _), _ = fashion_mnist.load_data()
    np.testing.assert_array_equal(x2, arrays["x_train"])


def test_nothing_anywhere_lists_every_way(tmp_path, monkeypatch):
    monkeypatch.delenv(fashion_mnist.ENV_VAR, raising=False)
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "empty"))
    with pytest.raises(fashion_mnist.FashionMNISTNotFoundError) as error:
        fashion_mnist.load_data()
    for way in ("Fashion-MNIST was not found", "load_data(path)", fashion_mnist.ENV_VAR,
                "tfds.load('fashion_mnist')"):
        assert way in str(error.value)


def test_bad_file_is_a_fashion_mnist_error(tmp_path):
    for stem in idx.FILES.values():
        (tmp_path / stem).write_bytes(b"\x00\x00\x08\x03")
    with pytest.raises(fashion_mnist.FashionMNISTFormatError, match="too short"):
        fashion_mnist.load_data(tmp_path)


@needs_fashion
def test_real_fashion_mnist_checksums_and_shapes():
    (x, y), (xt, yt) = fashion_mnist.load_data(FASHION_DIR)
    assert x.shape == (60000, 28, 28) and xt.shape == (10000, 28, 28)
    assert np.bincount(y).tolist() == [6000] * 10 and np.bincount(yt).tolist() == [1000] * 10
    assert len(fashion_mnist.CLASS_NAMES) == 10


@needs_fashion
def test_mnist_loader_recognises_fashion_mnist():
    with pytest.raises(idx.OtherDataSetError,
                       match=r"Fashion-MNIST's original .*fashion_mnist\.load_data") as error:
        mnist.load_data(FASHION_DIR)
    assert "corrupted" not in str(error.value) and error.value.data_set == "fashion_mnist"


@needs_both
def test_fashion_loader_recognises_mnist(tmp_path):
    with pytest.raises(idx.OtherDataSetError,
                       match=r"this is MNIST's original .*datasets\.mnist\.load_data"):
        fashion_mnist.load_data(MNIST_DIR)


@needs_fashion
def test_changed_file_is_corrupted_not_another_data_set(tmp_path):
    for stem in ("train-images-idx3-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (tmp_path / f"{stem}.gz").symlink_to(FASHION_DIR / f"{stem}.gz")
    labels = gzip.decompress((FASHION_DIR / "train-labels-idx1-ubyte.gz").read_bytes())
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(labels[:-1] + bytes([(labels[-1] + 1) % 10]))
    with pytest.raises(fashion_mnist.FashionMNISTFormatError,
                       match="train-labels-idx1-ubyte.*MD5.*corrupted"):
        fashion_mnist.load_data(tmp_path)
