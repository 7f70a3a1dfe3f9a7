"""Benchmark: the classics the way users call them, against twenty lines of NumPy (issue 11).

Every row times code exactly as README.md shows it (or, for the plain Keras
habit, as issue 11 writes it), with a fresh model each time: the factory,
`compile`, tracing and compilation are all inside the time. Each backend runs
in its own process: one warm-up of each form (the process's first model pays
the runtime's start-up), then the best of `--repeats` fresh runs. The reference
is the backprop snippet's NumPy loop: 60,000 full-batch steps of the 3-4-1
sigmoid net on XOR.

Also measured, each in a fresh process: `keras-history tour`'s training of
milestones 1-5 (imports excluded), the per-epoch overhead of a learning-rule
model's `fit`, and the peak resident memory of `keras-history tour` (the command)
and of one epoch of `mnist_convnet()` on full MNIST (`--mnist PATH`).

    python scripts/benchmark_classics.py [--repeats 3] [--backends tensorflow jax torch]
                                         [--mnist ../shared/data/mnist]

Prints one table; docs/benchmarks.md records it with the machine it ran on.
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

# name -> (setup, the timed code): README.md's forms, as written there.
FORMS = {
    "quick start: perceptron learns OR": (
        'x, y = keras_history.datasets.logic_gate("or")',
        "model = keras_history.models.perceptron()     # Rosenblatt, 1958\n"
        "model.fit(x, y, epochs=20, batch_size=1)       # the perceptron rule, not backprop",
    ),
    "1. least squares": (
        "x, y = datasets.wheat_and_bread()",
        "model = models.least_squares()\n"
        "model.fit(x, y, epochs=1)                 # exact after one pass, any batch size",
    ),
    "2. gradient descent": (
        "",
        "model = models.gradient_descent(start=0.5, learning_rate=0.01)\n"
        "model.fit(np.zeros((60, 1)), batch_size=1)   # 60 batches = 60 steps",
    ),
    "3. linear regression": (
        "x, y = datasets.wheat_and_bread()",
        "model = models.linear_regression(learning_rate=0.01)\n"
        "model.fit(x, y, epochs=100)               # b = 3.30446237, m = 2.96606269",
    ),
    "4. perceptron on XOR": (
        'x, y = datasets.logic_gate("xor")',
        "models.perceptron().fit(x, y, epochs=50, batch_size=1)   # errors never reach 0",
    ),
    "5. backpropagation, 60,000 steps": (
        'x, y = datasets.logic_gate("xor")',
        'model = models.backprop_mlp(weights="snippet", steps_per_batch=1000)\n'
        "model.fit(x, y, epochs=60)                # 60 x 1,000 = 60,000 full-batch steps",
    ),
}
# Issue 11's plain Keras habit: the same 60,000 steps as 1,000 batches of 4 a epoch.
HABIT = (
    'x, y = datasets.logic_gate("xor")',
    'model = models.backprop_mlp(weights="snippet")\n'
    "model.fit(np.tile(x, (1000, 1)), np.tile(y, (1000, 1)), batch_size=4, epochs=60)",
)


def numpy_backprop() -> float:
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
    return time.perf_counter() - start


# --- in a child process, on one backend ---------------------------------------------


def _quietly(code: str, namespace: dict) -> float:
    """Seconds to run `code`, its progress bars written to /dev/null (as to a log file)."""
    stdout = sys.stdout
    with open(os.devnull, "w") as sink:
        sys.stdout = sink
        try:
            start = time.perf_counter()
            exec(code, namespace)
            return time.perf_counter() - start
        finally:
            sys.stdout = stdout


def child_forms(repeats: int) -> dict:
    import keras_history
    from keras_history import datasets, models

    results = {}
    for name, (setup, code) in [*FORMS.items(), ("plain Keras habit", HABIT)]:
        namespace = dict(np=np, keras_history=keras_history, datasets=datasets, models=models)
        exec(setup, namespace)
        _quietly(code, namespace)  # warm-up
        results[name] = min(_quietly(code, namespace) for _ in range(repeats))
    # Keras's per-epoch work around a one-step rule: 201 epochs against 1, same model.
    x, y = datasets.wheat_and_bread()
    model = models.linear_regression()
    model.fit(x, y, epochs=1, verbose=0)
    times = {}
    for epochs in (1, 201):
        start = time.perf_counter()
        model.fit(x, y, epochs=epochs, verbose=0)
        times[epochs] = time.perf_counter() - start
    results["per-epoch overhead"] = (times[201] - times[1]) / 200
    return results


def child_tour() -> dict:
    import keras_history
    from keras_history import tour

    classics = [m.name for m in keras_history.TIMELINE if m.number <= 5]
    start = time.perf_counter()
    rows = tour.run_tour(classics)
    return {"tour": time.perf_counter() - start, "tour_ok": all(r[3] for r in rows)}


def child_convnet(path: str) -> dict:
    from keras_history import datasets, models

    (x, y), _ = datasets.mnist.load_data(path)
    start = time.perf_counter()
    models.mnist_convnet().fit(x, y, batch_size=64, epochs=1, verbose=0)
    return {"convnet epoch": time.perf_counter() - start}


# --- the parent: one process per backend and measurement -----------------------------


def run_child(backend: str, args: list[str]) -> dict:
    """Run this script as a child on `backend`; return the JSON it printed."""
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run(args, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{backend}: {' '.join(args[-2:])} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def peak_memory(backend: str, args: list[str]) -> tuple[float, float]:
    """Wall seconds and peak resident memory (MB) of the command `args`."""
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    start = time.perf_counter()
    process = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    if status != 0:
        raise RuntimeError(f"{backend}: {' '.join(args)} failed: "
                           f"{process.stderr.read().decode()[-2000:]}")
    return seconds, usage.ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--backends", nargs="+", default=["tensorflow", "jax", "torch"])
    parser.add_argument("--mnist", help="folder of full MNIST, for the convnet's memory row")
    parser.add_argument("--child", choices=["forms", "tour", "convnet"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        result = {"forms": lambda: child_forms(args.repeats), "tour": child_tour,
                  "convnet": lambda: child_convnet(args.mnist)}[args.child]()
        print(json.dumps(result))
        return 0

    reference = min(numpy_backprop() for _ in range(args.repeats))
    me = [sys.executable, os.path.abspath(__file__), "--repeats", str(args.repeats)]
    results = {}
    for backend in args.backends:
        result = run_child(backend, me + ["--child", "forms"])
        result.update(run_child(backend, me + ["--child", "tour"]))
        seconds, result["tour MB"] = peak_memory(
            backend, [sys.executable, "-m", "keras_history", "tour"])
        result["tour command s"] = seconds
        if args.mnist:
            seconds, result["convnet MB"] = peak_memory(
                backend, me + ["--child", "convnet", "--mnist", args.mnist])
        results[backend] = result

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}; best of {args.repeats} fresh runs after a warm-up")
    print(f"reference: the NumPy loop, 60,000 steps: {reference:.3f} s\n")
    width = max(len(name) for name in [*FORMS, "plain Keras habit"]) + 2
    print(f"{'':<{width}}" + "".join(f"{b:>22}" for b in args.backends))

    def row(label: str, cell) -> None:
        print(f"{label:<{width}}" + "".join(f"{cell(results[b]):>22}" for b in args.backends))

    for name in [*FORMS, "plain Keras habit"]:
        row(name, lambda r, n=name: f"{r[n]:.3f} s ({r[n] / reference:.2f}x)")
    row("tour, milestones 1-5", lambda r: f"{r['tour']:.2f} s"
        + ("" if r["tour_ok"] else " FAILED"))
    row("per-epoch overhead", lambda r: f"{r['per-epoch overhead'] * 1000:.1f} ms")
    row("keras-history tour, peak", lambda r: f"{r['tour MB']:.0f} MB")
    if args.mnist:
        row("convnet epoch, peak", lambda r: f"{r['convnet MB']:.0f} MB")
    print("\n(x): the time over the NumPy loop's. Forms: README.md's code as written "
          "(progress bars to /dev/null),\nfresh model each time, compile included. tour: "
          "training and checking milestones 1-5 in a\nfresh process, imports excluded. peak: "
          "the process's maximum resident set size.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
