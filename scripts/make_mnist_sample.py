"""Make keras_history/datasets/mnist_sample.npz: the small real MNIST subset in the package.

From the original IDX files, with a fixed seed: 400 training images of each
digit (4,000) and 100 test images of each digit (1,000), in their original
order within each split, uint8, compressed. Deterministic: rerunning it
rewrites the same arrays.

    python scripts/make_mnist_sample.py [--data ../shared/data/mnist]
"""

from __future__ import annotations

import argparse

import numpy as np

from keras_history.datasets import mnist


def balanced(labels: np.ndarray, per_class: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of `per_class` random examples of each digit, in original order."""
    picks = [rng.choice(np.flatnonzero(labels == d), per_class, replace=False)
             for d in range(10)]
    return np.sort(np.concatenate(picks))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/mnist")
    args = parser.parse_args()
    (x_train, y_train), (x_test, y_test) = mnist.load_data(args.data)
    rng = np.random.default_rng(1998)
    train, test = balanced(y_train, 400, rng), balanced(y_test, 100, rng)
    np.savez_compressed(mnist.SAMPLE_PATH, x_train=x_train[train], y_train=y_train[train],
                        x_test=x_test[test], y_test=y_test[test])
    print(f"wrote {mnist.SAMPLE_PATH} ({mnist.SAMPLE_PATH.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
