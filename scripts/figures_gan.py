"""Figures of the GAN: GAN samples beside their nearest training images, and a noise line.

    python scripts/figures_gan.py MODEL.keras [--data ../shared/data/mnist] [--out docs/figures]

MODEL.keras is a trained `gan()` (e.g. `scripts/benchmark_gan.py --save`).
`make_figures(model, train_images, folder)` is what scripts/make_figures.py calls.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import keras_history  # noqa: E402
from keras_history.datasets import mnist  # noqa: E402

SEED = 11  # the noise the figures draw


def nearest(images: np.ndarray, train: np.ndarray, batch_size: int = 5000) -> np.ndarray:
    """Index of the training image closest (Euclidean) to each of `images`."""
    flat = images.reshape(len(images), -1).astype("float64")
    best, index = np.full(len(flat), np.inf), np.zeros(len(flat), int)
    for start in range(0, len(train), batch_size):
        rows = train[start:start + batch_size].reshape(-1, flat.shape[1]).astype("float64")
        d = (flat**2).sum(1)[:, None] + (rows**2).sum(1)[None] - 2 * flat @ rows.T
        closer = d.min(axis=1) < best
        best = np.where(closer, d.min(axis=1), best)
        index = np.where(closer, start + d.argmin(axis=1), index)
    return index


def _grid(rows: list[np.ndarray], labels: list[str], title: str, path: Path) -> None:
    columns = len(rows[0])
    figure, axes = plt.subplots(len(rows), columns, figsize=(columns * 0.9, len(rows) * 1.0 + 0.4),
                                squeeze=False)
    for r, (row, label) in enumerate(zip(rows, labels)):
        for c in range(columns):
            axes[r, c].imshow(row[c], cmap="gray", vmin=0, vmax=1)
            axes[r, c].set_xticks([])
            axes[r, c].set_yticks([])
        axes[r, 0].set_ylabel(label, fontsize=8)
    figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=80)
    plt.close(figure)


def samples_beside_nearest(model, train: np.ndarray, path: Path, count: int = 10) -> None:
    """Samples (top) over the nearest training image to each (bottom): the paper's Fig. 2."""
    samples = model.generate(count, seed=SEED)
    train = train / np.float32(255) if train.dtype == np.uint8 else train
    _grid([samples, train[nearest(samples, train)]], ["sample", "nearest\ntraining"],
          "GAN samples and their nearest training images", path)


def noise_line(model, path: Path, steps: int = 10) -> None:
    """Samples from noise on the straight line between two noise vectors."""
    ends = model.noise_for(2, seed=SEED)
    weights = np.linspace(0, 1, steps, dtype="float32")[:, None]
    images = model.predict((1 - weights) * ends[0] + weights * ends[1], verbose=0)
    _grid([images], ["z₀ → z₁"], "Samples along a line in noise space", path)


def make_figures(model, train: np.ndarray, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / "gan-samples-nearest.png", folder / "gan-noise-line.png"]
    samples_beside_nearest(model, train, paths[0])
    noise_line(model, paths[1])
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--data", default=None)
    parser.add_argument("--out", default="docs/figures")
    args = parser.parse_args(argv)
    path = args.data or os.environ.get(mnist.ENV_VAR) or "../shared/data/mnist"
    (x_train, _), _ = mnist.load_data(path)
    model = keras_history.load_model(args.model)
    for figure in make_figures(model, x_train[:50_000], Path(args.out)):
        print(figure)
    return 0


if __name__ == "__main__":
    sys.exit(main())
