"""Benchmark: initialisation and rectifiers on MNIST (the deep MLP, `models.deep_mlp`).

    python scripts/benchmark_init.py stats            # (a) Glorot & Bengio 2010, Figs. 6–7
    python scripts/benchmark_init.py depth30          # (b) He et al. 2015, Fig. 3 in miniature
    python scripts/benchmark_init.py rectifiers       # (c) Glorot, Bordes & Bengio 2011
    python scripts/benchmark_init.py depth30 --epochs 8 --train 10000 --seed 1

Each run appends one JSON line to docs/results/init_rectifiers.jsonl (`--out`)
and is skipped when a line with the same key (experiment, options, seed,
backend) is already there, so an interrupted benchmark resumes where it
stopped. Full MNIST is read from `--data`; `--train` takes its first N
training images (the test set is always the full 10,000). Record the
numbers in docs/milestones/deep-mlp.md with the machine and backend.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import keras
import numpy as np

from keras_history import models
from keras_history.datasets import mnist

ROOT = Path(__file__).resolve().parents[1]
BACKEND = keras.backend.backend()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("experiment", choices=("stats", "depth30", "rectifiers"))
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "mnist"))
    parser.add_argument("--train", type=int, default=10000, help="first N training images")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--learning-rate", type=float, default=None)
    parser.add_argument("--width", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(ROOT / "docs" / "results" / "init_rectifiers.jsonl"))
    return parser.parse_args(argv)


# experiment -> runs [(label, factory options)] and its defaults (the papers', scaled down).
EXPERIMENTS = {
    "stats": ([(init, dict(depth=5, width=1000, activation="tanh", initializer=init))
               for init in ("standard", "normalized")], dict(epochs=0, batch_size=10,
                                                             learning_rate=0.01, width=1000)),
    "depth30": ([(init, dict(depth=30, activation="relu", initializer=init))
                 for init in ("normalized", "he")], dict(epochs=6, batch_size=32,
                                                         learning_rate=0.01, width=256)),
    "rectifiers": ([(act, dict(depth=3, activation=act, initializer="normalized"))
                    for act in ("relu", "tanh", "softplus")],
                   dict(epochs=3, batch_size=10, learning_rate=0.02, width=1000)),
}


def done_keys(path: Path) -> set[str]:
    if not path.exists():
        return set()
    return {json.loads(line)["key"] for line in path.read_text().splitlines() if line.strip()}


class EpochLog(keras.callbacks.Callback):
    """Test error after each epoch, printed as it goes."""

    def __init__(self, x_test, y_test, label: str):
        super().__init__()
        self.x_test, self.y_test, self.label, self.rows = x_test, y_test, label, []

    def on_epoch_end(self, epoch, logs=None):
        _, accuracy = self.model.evaluate(self.x_test, self.y_test, verbose=0)
        row = dict(epoch=epoch + 1, loss=float(logs["loss"]), test_error=1.0 - float(accuracy))
        self.rows.append(row)
        print(f"  {self.label} epoch {epoch + 1}: loss {row['loss']:.4f}, "
              f"test error {row['test_error']:.2%}", flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    runs, defaults = EXPERIMENTS[args.experiment]
    options = {k: getattr(args, k) if getattr(args, k) is not None else v
               for k, v in defaults.items()}
    (x, y), (x_test, y_test) = mnist.load_data(args.data)
    x, y = x[:args.train], y[:args.train]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    done = done_keys(out)
    for label, factory_options in runs:
        factory_options = dict(factory_options, width=options["width"],
                               learning_rate=options["learning_rate"])
        key = json.dumps([args.experiment, label, options, args.train, args.seed, BACKEND])
        if key in done:
            print(f"{label}: done already ({out.name})")
            continue
        keras.utils.set_random_seed(args.seed)
        model = models.deep_mlp(seed=args.seed, **factory_options)
        record = dict(key=key, experiment=args.experiment, label=label, options=factory_options,
                      batch_size=options["batch_size"], epochs=options["epochs"],
                      train=args.train, seed=args.seed, backend=BACKEND,
                      cpus=os.cpu_count())
        stats = model.layer_statistics(x_test[:1000], y_test[:1000])
        record.update(activation_std=stats.activation_std(), gradient_std=stats.gradient_std())
        print(f"{label}: at init, activation std {np.round(stats.activation_std(), 4)}, "
              f"gradient std {np.round(stats.gradient_std(), 6)}", flush=True)
        if options["epochs"]:
            log = EpochLog(x_test, y_test, label)
            start = time.perf_counter()
            model.fit(x, y, batch_size=options["batch_size"], epochs=options["epochs"],
                      verbose=0, callbacks=[log])
            record.update(seconds=round(time.perf_counter() - start, 1), curve=log.rows,
                          test_error=log.rows[-1]["test_error"])
        with out.open("a") as file:
            file.write(json.dumps(record) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
