"""Benchmark: the classics against twenty lines of NumPy (issue: performance, part 1).

Times the backprop snippet's NumPy loop (60,000 full-batch steps of the 3-4-1
sigmoid net on XOR) and `backprop_mlp()` doing the same 60,000 steps through
the documented `model.fit` usage on each Keras backend, each in a fresh
process, side by side in one run; then the whole `keras-history tour`
(training and checking milestones 1-5) on each backend.

    python scripts/benchmark_classics.py [--repeats 3] [--backends tensorflow jax torch]

Prints a table of seconds and ratios to the NumPy loop; record results in
docs/benchmarks.md with the machine they ran on.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

import numpy as np

# Runs in a child process per backend: the documented usage, timed around `fit`.
CHILD = r"""
import json, sys, time
import numpy as np
import keras_history
from keras_history import datasets, models, tour

x, y = datasets.logic_gate("xor")
times = []
for _ in range(int(sys.argv[1])):
    model = models.backprop_mlp(weights="snippet", steps_per_batch=60_000)
    start = time.perf_counter()
    model.fit(x, y, epochs=1, verbose=0)
    times.append(time.perf_counter() - start)
outputs = model.predict(x, verbose=0).ravel().tolist()
refits = []  # the same model again: compiled already, so this is the steps alone
for _ in range(int(sys.argv[1])):
    start = time.perf_counter()
    model.fit(x, y, epochs=1, verbose=0)
    refits.append(time.perf_counter() - start)
# The target covers training milestones 1-5 (the convnet's row is timed elsewhere).
classics = [m.name for m in keras_history.TIMELINE if m.number <= 5]
start = time.perf_counter()
rows = tour.run_tour(classics)
tour_seconds = time.perf_counter() - start
print(json.dumps({"fit": times, "refit": refits, "outputs": outputs, "tour": tour_seconds,
                  "tour_ok": all(r[3] for r in rows)}))
"""


def numpy_backprop() -> tuple[float, np.ndarray]:
    """The seed snippet, verbatim in spirit: 60,000 full-batch steps in NumPy."""
    x = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]])
    y = np.array([[0], [1], [1], [0]])
    np.random.seed(1)
    syn_0 = 2 * np.random.random((3, 4)) - 1
    syn_1 = 2 * np.random.random((4, 1)) - 1
    start = time.perf_counter()
    for _ in range(60000):
        layer_1 = 1 / (1 + np.exp(-np.dot(x, syn_0)))
        layer_2 = 1 / (1 + np.exp(-np.dot(layer_1, syn_1)))
        layer_2_delta = (layer_2 - y) * layer_2 * (1 - layer_2)
        layer_1_delta = layer_2_delta.dot(syn_1.T) * layer_1 * (1 - layer_1)
        syn_1 -= layer_1.T.dot(layer_2_delta)
        syn_0 -= x.T.dot(layer_1_delta)
    return time.perf_counter() - start, layer_2.ravel()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=4)
    parser.add_argument("--backends", nargs="+", default=["tensorflow", "jax", "torch"])
    args = parser.parse_args()

    reference = min(numpy_backprop()[0] for _ in range(args.repeats))
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}")
    print(f"NumPy loop, 60,000 steps: {reference:.3f} s (best of {args.repeats})\n")
    header = (f"{'backend':<11} {'first fit s':>11} {'ratio':>6} {'new model s':>11} "
              f"{'ratio':>6} {'warm s':>7} {'ratio':>6} {'tour s':>7}  outputs")
    print(header)
    print("-" * len(header))
    for backend in args.backends:
        env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
        done = subprocess.run([sys.executable, "-c", CHILD, str(args.repeats)], env=env,
                              capture_output=True, text=True)
        if done.returncode != 0:
            print(f"{backend:<11} failed:\n{done.stderr[-2000:]}")
            continue
        result = json.loads(done.stdout.strip().splitlines()[-1])
        first, new, warm = result["fit"][0], min(result["fit"][1:]), min(result["refit"])
        outputs = " ".join(f"{v:.4f}" for v in result["outputs"])
        print(f"{backend:<11} {first:>11.3f} {first / reference:>6.2f} {new:>11.3f} "
              f"{new / reference:>6.2f} {warm:>7.3f} {warm / reference:>6.2f} "
              f"{result['tour']:>7.2f}  {outputs}"
              f"{'' if result['tour_ok'] else '  TOUR FAILED'}")
    print("\nfirst fit: the process's first model (runtime start-up, tracing, compilation); "
          "new model: best\nof the next fresh models (tracing and compilation of the new model "
          "included); warm: the\nsame model fitted again (compiled: the 60,000 steps alone). "
          "tour: training and checking\nmilestones 1-5, imports excluded.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
