"""Figures of LeNet-5, for docs/milestones/lenet5.md.

    python scripts/figures_lenet5.py [--runs results.jsonl ...] [--weights w.weights.h5]
    python scripts/figures_lenet5.py --error-curve-only --runs docs/results/lenet5_mnist.jsonl

`prototypes_figure`, `c1_filters_figure` and `error_curve_figure` each write one
small PNG; `make_all` makes the three (scripts/make_figures.py can call it).
The C1 filters come from `--weights` (a model saved by
scripts/benchmark_lenet5.py --save) or, without it, from two passes of the
embedded sample, as the tour trains it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import keras
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from keras_history import datasets, models  # noqa: E402
from keras_history.models.convolutional.lenet5 import (  # noqa: E402
    PAPER_TEST_ERROR,
    digit_prototypes,
)

FIGURES = Path(__file__).resolve().parent.parent / "docs" / "figures"
PAPER_TRAIN_ERROR = 0.0035  # after 19 passes


def prototypes_figure(path: Path) -> Path:
    """The ten fixed RBF prototypes as 7×12 bitmaps (black = +1)."""
    fig, axes = plt.subplots(1, 10, figsize=(7, 1.5))
    for digit, (ax, prototype) in enumerate(zip(axes, digit_prototypes())):
        ax.imshow(prototype.reshape(12, 7), cmap="gray_r", vmin=-1, vmax=1)
        ax.set_title(str(digit), fontsize=9)
        ax.axis("off")
    fig.suptitle("LeNet-5 output prototypes (7×12, ±1)", fontsize=9)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path


def c1_filters_figure(path: Path, weights: str | None = None) -> Path:
    """The six learned 5×5 C1 kernels."""
    model = models.lenet5(seed=0, weights=weights)
    source = weights and Path(weights).name
    if weights is None:
        (x, y), _ = datasets.mnist.load_sample()
        model.fit(x, y, batch_size=8, epochs=2, verbose=0)
        source = "2 passes of the 4,000-digit sample"
    kernel = keras.ops.convert_to_numpy(model.stages[1].kernel)
    fig, axes = plt.subplots(1, 6, figsize=(6, 1.4))
    limit = np.abs(kernel).max()
    for index, ax in enumerate(axes):
        ax.imshow(kernel[:, :, 0, index], cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.axis("off")
    fig.suptitle(f"C1 kernels after training ({source}); red +, blue −", fontsize=8)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path


def is_default(recipe: str) -> bool:
    """True for the default recipe's rows (labelled "... (default)", or not labelled)."""
    return recipe == "default" or "(default)" in recipe


def error_curve_figure(path: Path, runs: list[str]) -> Path:
    """Test error per pass of the default recipe (mean and range over its seeds), beside the paper.

    Rows carry "recipe" (a label; rows without one are the default recipe's),
    "seed", "pass" and "test_error", or "final_train_error" after the last pass.
    Only the default recipe is drawn; the other recipes' rows are tabulated on
    docs/milestones/lenet5.md (and stay in the results file).
    """
    rows = [json.loads(line) for run in runs for line in Path(run).read_text().splitlines()
            if line]
    ours = [r for r in rows if is_default(r.get("recipe", "default"))]
    seeds = sorted({r["seed"] for r in ours})
    passes = sorted({r["pass"] for r in ours if "test_error" in r})
    errors = [[100 * r["test_error"] for r in ours if r["pass"] == n and "test_error" in r]
              for n in passes]
    if len(seeds) > 2 and seeds == list(range(seeds[0], seeds[-1] + 1)):
        named = f"seeds {seeds[0]}–{seeds[-1]}"
    else:
        named = "seed" + "s" * (len(seeds) > 1) + " " + ", ".join(map(str, seeds))
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    if len(seeds) > 1:
        ax.fill_between(passes, [min(e) for e in errors], [max(e) for e in errors],
                        color="C0", alpha=0.2, lw=0, label=f"ours: range over {named}")
    ax.plot(passes, [np.mean(e) for e in errors], marker=".", lw=2, color="C0",
            label=f"ours, default recipe: test error, mean of {named}")
    finals = [r for r in ours if "final_train_error" in r]
    if finals:
        ax.plot([finals[0]["pass"]], [100 * np.mean([r["final_train_error"] for r in finals])],
                "o", color="C0", label=f"ours: whole training set after pass {finals[0]['pass']}")
    ax.axhline(100 * PAPER_TEST_ERROR, color="k", ls="--", lw=1,
               label=f"paper: {100 * PAPER_TEST_ERROR:.2f}% test after 20 passes")
    ax.plot([19], [100 * PAPER_TRAIN_ERROR], "kx",
            label=f"paper: {100 * PAPER_TRAIN_ERROR:.2f}% training error after 19")
    ax.set_xlabel("pass through the 60,000 training digits")
    ax.set_ylabel("error (%)")
    ax.set_ylim(0, 3.5)
    ax.set_xticks(range(0, 21, 2))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper right")
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path


def make_all(runs: list[str], weights: str | None = None, folder: Path = FIGURES) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    made = [prototypes_figure(folder / "lenet5_prototypes.png"),
            c1_filters_figure(folder / "lenet5_c1_filters.png", weights)]
    if runs:
        made.append(error_curve_figure(folder / "lenet5_error_per_pass.png", runs))
    return made


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="*", default=[])
    parser.add_argument("--weights", default=None)
    parser.add_argument("--error-curve-only", action="store_true",
                        help="only the error-per-pass figure, from --runs (no training)")
    args = parser.parse_args()
    if args.error_curve_only:
        print(error_curve_figure(FIGURES / "lenet5_error_per_pass.png", args.runs))
    else:
        for made in make_all(args.runs, args.weights):
            print(made)
