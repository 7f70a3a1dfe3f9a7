"""Figure of batch normalization, for docs/milestones/batch-norm-mlp.md: Ioffe & Szegedy's Figure 1.

    python scripts/figures_batch_norm.py [--runs RESULTS.jsonl ...] [--out docs/figures]

--runs defaults to docs/results/batch_norm_mnist.jsonl.

Reads the rows scripts/benchmark_batch_norm.py appends (no training): per net
("batch_norm" or "baseline") and "step", the "test_accuracy" and the 15th, 50th
and 85th percentiles ("p15", "p50", "p85") of the input to one last-hidden-layer
sigmoid over the test digits; rows with "population_statistics_at" give the BN
net's accuracy with population statistics (Algorithm 2). `figure1(path, runs)`
writes one PNG of three panels, as the paper: (a) test accuracy against steps,
with and without BN; (b) without BN and (c) with BN, the percentiles against steps.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FIGURES = ROOT / "docs" / "figures"
RESULTS = ROOT / "docs" / "results" / "batch_norm_mnist.jsonl"
NETS = {"baseline": ("without BN", "C0"), "batch_norm": ("with BN", "C3")}
PERCENTILES = [("p85", "85th", "--"), ("p50", "50th", "-"), ("p15", "15th", ":")]


def read_rows(runs: list[str]) -> tuple[dict[str, list[dict]], list[dict]]:
    """Each net's rows sorted by step (the last row of a step wins), and the population rows."""
    rows = [json.loads(line) for run in runs for line in Path(run).read_text().splitlines()
            if line.strip()]
    curves: dict[str, dict[int, dict]] = {}
    for row in rows:
        if "step" in row:
            curves.setdefault(row["net"], {})[row["step"]] = row
    population = [row for row in rows if "population_statistics_at" in row]
    ordered = {net: [by_step[s] for s in sorted(by_step)] for net, by_step in curves.items()}
    return ordered, population


def _accuracy_panel(ax, curves: dict[str, list[dict]], population: list[dict]) -> None:
    inset = ax.inset_axes([0.3, 0.07, 0.66, 0.4])
    for net, (label, color) in NETS.items():
        rows = curves.get(net, [])
        steps = [r["step"] for r in rows]
        accuracy = [r["test_accuracy"] for r in rows]
        final = f" ({100 * accuracy[-1]:.2f}% at {steps[-1]:,})" if rows else ""
        for axis in (ax, inset):
            axis.plot(steps, accuracy, color=color, lw=1.5, label=label + final)
    if population:
        steps = [r["population_statistics_at"] for r in population]
        accuracy = [r["test_accuracy"] for r in population]
        for axis in (ax, inset):
            axis.plot(steps, accuracy, "*", color="C3", ms=9, mec="k", mew=0.5,
                      label="with BN, population statistics (Alg. 2)")
    ax.set_ylim(0.7, 1.0)
    ax.set_title("(a) test accuracy", fontsize=10)
    ax.set_ylabel("test accuracy (10,000 digits)")
    ax.legend(fontsize=7.5, loc="center right", bbox_to_anchor=(0.98, 0.66))
    inset.set_xlim(9_000, 51_000)
    inset.set_ylim(0.970, 0.986)
    inset.set_xticks([10_000, 30_000, 50_000], ["10k", "30k", "50k"])
    inset.set_yticks([0.970, 0.975, 0.980, 0.985])
    inset.tick_params(labelsize=7)
    inset.grid(alpha=0.3)
    inset.set_title("zoom: steps 10,000–50,000", fontsize=7, pad=2)
    box = ax.indicate_inset_zoom(inset, edgecolor="0.4")
    for line in getattr(box, "connectors", None) or box[1]:
        line.set_visible(False)


def _percentile_panel(ax, rows: list[dict], title: str, color: str) -> None:
    steps = [r["step"] for r in rows]
    ax.fill_between(steps, [r["p15"] for r in rows], [r["p85"] for r in rows],
                    color=color, alpha=0.12, lw=0)
    for key, name, style in PERCENTILES:
        ax.plot(steps, [r[key] for r in rows], style, color=color, lw=1.5, label=name)
    ax.axhline(0, color="k", lw=0.6)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7.5, loc="upper left", ncol=3, title="percentile", title_fontsize=7.5)


def figure1(path: Path, runs: list[str]) -> Path:
    """Figure 1 of the paper from the benchmark's rows: one PNG, three panels side by side."""
    curves, population = read_rows(runs)
    fig, axes = plt.subplots(1, 3, figsize=(13.5, 4.0))
    _accuracy_panel(axes[0], curves, population)
    _percentile_panel(axes[1], curves.get("baseline", []), "(b) without BN: sigmoid input", "C0")
    _percentile_panel(axes[2], curves.get("batch_norm", []), "(c) with BN: sigmoid input", "C3")
    low = min(ax.get_ylim()[0] for ax in axes[1:])
    high = max(ax.get_ylim()[1] for ax in axes[1:]) + 0.6  # room for the legend
    for ax in axes[1:]:
        ax.set_ylim(low, high)
    axes[1].set_ylabel("input to unit 0 of the last hidden sigmoid")
    steps = max((r["step"] for rows in curves.values() for r in rows), default=0)
    for ax in axes:
        ax.set_xlim(0, steps)
        ax.set_xlabel("training steps (mini-batches of 60)")
        ax.grid(alpha=0.3)
    fig.suptitle("Batch normalization on MNIST, 3 × 100 sigmoid units (Ioffe & Szegedy 2015, "
                 "Figure 1): ours, JAX, seed 0, SGD 0.5", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="*", default=[str(RESULTS)])
    parser.add_argument("--out", default=str(FIGURES))
    args = parser.parse_args()
    folder = Path(args.out)
    folder.mkdir(parents=True, exist_ok=True)
    print(figure1(folder / "batch_norm_figure1.png", args.runs))
