"""Figures of Elman 1990 and the LSTM 1997, from real runs.

    KERAS_BACKEND=jax python scripts/figures_recurrent.py [--out docs/figures] [--quick]

Each function returns `{file stem: matplotlib Figure}`, the shape of
`keras_history.figures`' figure functions, so they can be registered there:

- `reber_cell_states`: trains the paper's Reber LSTM (3 blocks of 2 cells,
  truncated gradient, lr 0.5, seed 0) exactly as trial 0 of
  scripts/benchmark_reber.py, which solved the task after 11,500 strings, and
  draws its six cell states over a test string.
- `reber_success`: the share of trials solved against strings seen, for every
  configuration in docs/results/reber*.jsonl (the benchmark's output).
- `adding_carousel`: the cell states of the adding-problem net saved by
  scripts/benchmark_adding.py (docs/figures/data/) over one sequence.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
from matplotlib import pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from keras_history import models  # noqa: E402
from keras_history.datasets import adding, reber  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DPI = 80


def reber_cell_states(quick: bool = False, seed: int = 0) -> dict[str, Figure]:
    (x, y), (x_test, _) = reber.load_data(seed=seed)
    # The benchmark's "lstm-3x2-lr0.5" net (input gate biases drawn from [-0.2, 0.2]).
    model = models.lstm_1997(seed=seed, input_gate_bias=None)
    rng = np.random.default_rng(seed + 10_000)  # the benchmark's draw of training strings
    chunks = 2 if quick else 23                   # 23 x 500 = 11,500 strings
    for _ in range(chunks):
        picks = rng.integers(len(x), size=500)
        model.train_on_batch(x[picks], y[picks])
    solved = all(reber.predicted(model.predict_on_batch(d), d).all() for d in (x, x_test))
    strings = reber.decode(x_test)
    row = int(np.argmax([len(s) for s in strings]))  # the longest test string
    string = strings[row] + "E"
    states = np.asarray(model.trace(x_test[row:row + 1])["cell_state"])[0, :len(string) - 1]
    fig, ax = plt.subplots(figsize=(8, 3.6))
    for cell in range(states.shape[1]):
        ax.plot(states[:, cell], marker="o", ms=3,
                label=f"block {cell // 2 + 1}, cell {cell % 2 + 1}")
    ax.set_xticks(range(len(string) - 1), list(string[:-1]))
    ax.set_xlabel("input symbol (the net predicts the next one)")
    ax.set_ylabel("cell state s(t)")
    ax.axvline(1, color="grey", lw=0.8, ls=":")
    ax.axvline(len(string) - 3, color="grey", lw=0.8, ls=":")
    ax.set_title(f"LSTM (1997) on the embedded Reber string {string}\n"
                 f"after {chunks * 500:,} training strings "
                 f"({'task solved' if solved else 'not yet solved'}); dotted: the outer "
                 f"{string[1]} and where it must be recalled", fontsize=9)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return {"lstm_reber_cell_states": fig}


def reber_success(results: str | os.PathLike = ROOT / "docs" / "results") -> dict[str, Figure]:
    trials: dict[str, list[dict]] = {}
    for path in sorted(Path(results).glob("reber*.jsonl")):
        for line in path.read_text().splitlines():
            result = json.loads(line)
            if result["budget"] == 200_000:  # the paper's budget (not the shorter probes)
                trials.setdefault(result["config"], []).append(result)
    fig, ax = plt.subplots(figsize=(7, 3.6))
    budget = max(r["budget"] for runs in trials.values() for r in runs)
    seen = np.linspace(0, budget, 241)
    for config, runs in trials.items():
        solved = np.array([r["sequences_to_success"] or np.inf for r in runs])
        ax.step(seen, [(solved <= s).mean() * 100 for s in seen], where="post",
                label=f"{config} ({len(runs)} trials)")
    ax.set_xlabel("training strings seen (one weight update each)")
    ax.set_ylabel("trials solved (%)")
    ax.set_ylim(-3, 103)
    ax.set_title("Embedded Reber grammar: every string of the training and test sets "
                 "predicted", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return {"reber_success": fig}


def adding_carousel(data: str | os.PathLike = ROOT / "docs" / "figures" / "data",
                    length: int = 100) -> dict[str, Figure]:
    note = json.loads((Path(data) / f"adding_T{length}.json").read_text())
    model = models.lstm_1997(seed=note["seed"], **note["net"])
    model.load_weights(Path(data) / f"adding_T{length}.weights.h5")
    x, y = adding.load_data(200, length, seed=12345)
    answers = model.predict_on_batch(x)
    correct = adding.correct(answers, y)
    row = 0
    steps = int(x[row].any(-1).sum())
    trace = {k: np.asarray(v)[0, :steps] for k, v in model.trace(x[row:row + 1]).items()}
    marked = np.flatnonzero(x[row, :steps, 1] == 1)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 4.6), sharex=True,
                                      gridspec_kw=dict(height_ratios=[2, 1]))
    for cell in range(trace["cell_state"].shape[1]):
        top.plot(trace["cell_state"][:, cell], label=f"cell {cell + 1} state")
    for step in marked:
        for ax in (top, bottom):
            ax.axvline(step, color="grey", ls=":", lw=1)
        top.annotate(f"X={x[row, step, 0]:+.2f}", (step, top.get_ylim()[1]), fontsize=7,
                     va="top")
    top.set_ylabel("s(t)")
    top.legend(fontsize=7, ncol=2)
    bottom.plot(trace["input_gate"][:, ::2], lw=1)
    bottom.set_ylabel("input gates")
    bottom.set_xlabel("step")
    top.set_title(f"Adding problem, T={length}: the carousels over one sequence "
                  f"(target {y[row, 0]:.3f}, answer {answers[row, 0]:.3f})\n"
                  f"net after {note['sequences']:,} training sequences; "
                  f"{correct.mean():.0%} of 200 fresh sequences within 0.04", fontsize=9)
    fig.tight_layout()
    return {"lstm_adding_carousel": fig}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "figures"))
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    figures = {**reber_success(), **reber_cell_states(quick=args.quick)}
    if (ROOT / "docs" / "figures" / "data" / "adding_T100.json").exists():
        figures.update(adding_carousel())
    for stem, fig in figures.items():
        fig.savefig(Path(args.out) / f"{stem}.png", dpi=DPI)
        print(Path(args.out) / f"{stem}.png")


if __name__ == "__main__":
    main()
