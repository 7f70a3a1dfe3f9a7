"""Benchmark: Ioffe & Szegedy's Figure 1 (Section 4.1), with and without batch norm.

    python scripts/benchmark_batch_norm.py --data ../shared/data/mnist --steps 10000
    python scripts/benchmark_batch_norm.py --steps 50000     # resumes both nets

Trains `batch_norm_mlp(batch_norm=True)` and `batch_norm_mlp(batch_norm=False)`
on full MNIST with SGD (`--learning-rate`, the model's default) in mini-batches
of 60, and every `--every` steps appends a JSON row to
docs/results/batch_norm_mnist.jsonl: the test accuracy (Figure 1a) and the
15th, 50th and 85th percentiles over the test set of the input to one
last-hidden-layer sigmoid (unit `--unit`; Figure 1b, c). Inference uses
Keras's moving averages; at the end, the row marked "population" gives the
test accuracy with the paper's population statistics (Algorithm 2). Each net
is saved to `--checkpoints` after every block of steps; a later run goes on
from the last step recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import time

import keras
import numpy as np

import keras_history
from keras_history import models
from keras_history.datasets import mnist
from keras_history.models.deep.batch_norm import BATCH_SIZE, LEARNING_RATE

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs" / "results" / "batch_norm_mnist.jsonl"
STEPS_PER_EPOCH = 1000  # 60,000 digits in batches of 60


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="IDX folder or mnist.npz "
                        f"(default: ${mnist.ENV_VAR}, then ../shared/data/mnist)")
    parser.add_argument("--steps", type=int, default=10_000, help="train each net up to here")
    parser.add_argument("--every", type=int, default=500, help="measure every this many steps")
    parser.add_argument("--learning-rate", type=float, default=LEARNING_RATE)
    parser.add_argument("--unit", type=int, default=0, help="the last-layer sigmoid to follow")
    parser.add_argument("--nets", nargs="+", choices=("batch_norm", "baseline"),
                        default=["batch_norm", "baseline"], help="which nets to train")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--results", default=str(RESULTS))
    parser.add_argument("--checkpoints", default="/tmp/keras_history_batch_norm")
    args = parser.parse_args(argv)
    if args.steps < 1 or args.every < 1 or STEPS_PER_EPOCH % args.every:
        parser.error(f"--steps >= 1 and --every must divide {STEPS_PER_EPOCH}")
    return args


def rows_for(results: pathlib.Path, net: str, args) -> list[dict]:
    if not results.exists():
        return []
    rows = [json.loads(line) for line in results.read_text().splitlines() if line.strip()]
    return [r for r in rows if r["net"] == net and r["seed"] == args.seed
            and r["learning_rate"] == args.learning_rate
            and r["backend"] == keras.backend.backend() and "step" in r]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    data = args.data or os.environ.get(mnist.ENV_VAR) or "../shared/data/mnist"
    (x_train, y_train), (x_test, y_test) = mnist.load_data(data)
    results, checkpoints = pathlib.Path(args.results), pathlib.Path(args.checkpoints)
    checkpoints.mkdir(parents=True, exist_ok=True)
    print(f"keras_history from {os.path.dirname(keras_history.__file__)}; "
          f"backend {keras.backend.backend()}, {os.cpu_count()} cores", flush=True)

    def record(row: dict) -> None:
        with results.open("a") as file:
            file.write(json.dumps(row) + "\n")
        print(json.dumps(row), flush=True)

    for net in args.nets:
        batch_norm = net == "batch_norm"
        path = checkpoints / (f"{net}-seed{args.seed}-lr{args.learning_rate:g}-"
                              f"{keras.backend.backend()}.keras")
        done = max((r["step"] for r in rows_for(results, net, args)), default=0)
        if done and path.exists():
            model = keras_history.load_model(path)
            print(f"{net}: resuming {path} after step {done}", flush=True)
        else:
            done = 0
            keras.utils.set_random_seed(args.seed)
            model = models.batch_norm_mlp(batch_norm=batch_norm,
                                          learning_rate=args.learning_rate)
        # The same order of batches on resumption: one permutation per epoch, seeded.
        seconds = 0.0
        while done < args.steps:
            epoch, offset = divmod(done, STEPS_PER_EPOCH)
            order = np.random.default_rng([args.seed, epoch]).permutation(len(x_train))
            rows = order[offset * BATCH_SIZE:(offset + args.every) * BATCH_SIZE]
            start = time.perf_counter()
            model.fit(x_train[rows], y_train[rows], batch_size=BATCH_SIZE, epochs=1,
                      shuffle=False, verbose=0)
            seconds += time.perf_counter() - start
            done += args.every
            accuracy = model.evaluate(x_test, y_test, batch_size=1000, verbose=0)[1]
            inputs = model.sigmoid_inputs(x_test)[:, args.unit]
            p15, p50, p85 = (float(v) for v in np.percentile(inputs, [15, 50, 85]))
            model.save(path)
            record(dict(net=net, step=done, test_accuracy=round(float(accuracy), 4),
                        p15=round(p15, 4), p50=round(p50, 4), p85=round(p85, 4),
                        seconds=round(seconds, 1), learning_rate=args.learning_rate,
                        backend=keras.backend.backend(), seed=args.seed))
        if batch_norm:
            model.use_population_statistics(x_train)
            accuracy = model.evaluate(x_test, y_test, batch_size=1000, verbose=0)[1]
            record(dict(net=net, population_statistics_at=done,
                        test_accuracy=round(float(accuracy), 4), learning_rate=args.learning_rate,
                        backend=keras.backend.backend(), seed=args.seed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
