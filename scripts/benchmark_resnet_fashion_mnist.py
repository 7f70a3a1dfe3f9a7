"""Benchmark: `resnet(depth=20)` on Fashion-MNIST at 28×28; test accuracy and seconds per epoch.

    python scripts/benchmark_resnet_fashion_mnist.py [--data ../shared/data/fashion_mnist]
        [--epochs 10] [--batch-size 128] [--augment pad_crop_flip] [--steps N] [--samples N]
        [--out results.jsonl]

The paper's CIFAR recipe scaled to the run: SGD, momentum 0.9, weight decay
1e-4, batch 128, ε = 0.1 divided by 10 at half and at three quarters of the
steps (`cifar_learning_rate(total_steps)`). The target is d2l's ResNet-18
result beaten: ≥ 92.0% test accuracy after 10 epochs (d2l: 91.5% at 96×96
on a GPU). Prints one row per epoch (train loss and accuracy, test accuracy,
seconds of training). `--steps N` times N training steps only (no accuracy);
`--samples N` trains on the first N images (a shortened run, same schedule shape).
Record results in docs/milestones/resnet.md with the machine and the
backend (KERAS_BACKEND picks it).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import keras
import numpy as np

from keras_history import models
from keras_history.datasets import fashion_mnist
from keras_history.models.convolutional.resnet import AUGMENTATIONS, cifar_learning_rate

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "fashion_mnist"
TARGET = 0.92


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--depth", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--augment", default=None, choices=[a for a in AUGMENTATIONS if a])
    parser.add_argument("--steps", type=int, default=None,
                        help="only time this many training steps (after one to compile)")
    parser.add_argument("--samples", type=int, default=None,
                        help="train on the first N training images only (a shortened run)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="append one JSON row per epoch to this file")
    parser.add_argument("--save", metavar="PATH",
                        help="write the final model's weights here (.weights.h5)")
    return parser.parse_args(argv)


class EpochReport(keras.callbacks.Callback):
    def __init__(self, x_test, y_test, out: str | None = None):
        super().__init__()
        self.x_test, self.y_test, self.out, self.rows = x_test, y_test, out, []

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self.start
        _, accuracy = self.model.evaluate(self.x_test, self.y_test, batch_size=500, verbose=0)
        self.rows.append((epoch + 1, seconds, accuracy))
        if self.out:
            row = {"epoch": epoch + 1, "loss": logs["loss"], "train_accuracy": logs["accuracy"],
                   "test_accuracy": accuracy, "seconds": seconds}
            with open(self.out, "a") as file:
                file.write(json.dumps(row) + "\n")
        print(f"epoch {epoch + 1:2d}  loss {logs['loss']:.4f}  train acc {logs['accuracy']:.4f}"
              f"  test acc {accuracy:.4f}  {seconds:.0f} s", flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(f"backend {keras.backend.backend()}, {platform.machine()} with {os.cpu_count()} CPUs, "
          f"python {platform.python_version()}, keras {keras.__version__}", flush=True)
    (x, y), (x_test, y_test) = fashion_mnist.load_data(args.data)
    x, y = x[: args.samples], y[: args.samples]
    keras.utils.set_random_seed(args.seed)
    steps_per_epoch = -(-len(x) // args.batch_size)
    model = models.resnet(args.depth, input_shape=(28, 28, 1), augment=args.augment,
                          learning_rate=cifar_learning_rate(args.epochs * steps_per_epoch))
    if args.steps:
        count = args.batch_size * (args.steps + 1)
        model.fit(x[: args.batch_size], y[: args.batch_size], batch_size=args.batch_size,
                  epochs=1, verbose=0)  # compile
        start = time.perf_counter()
        model.fit(x[:count - args.batch_size], y[:count - args.batch_size],
                  batch_size=args.batch_size, epochs=1, verbose=0)
        seconds = time.perf_counter() - start
        print(f"{args.steps} steps of batch {args.batch_size}: {seconds:.1f} s, "
              f"{seconds / args.steps:.2f} s/step, {seconds / args.steps * steps_per_epoch:.0f}"
              " s per epoch (estimated)")
        return 0
    report = EpochReport(x_test, y_test, args.out)
    model.fit(x, y, batch_size=args.batch_size, epochs=args.epochs, verbose=0,
              callbacks=[report])
    epoch, _, accuracy = report.rows[-1]
    seconds = np.mean([row[1] for row in report.rows])
    print(f"resnet{args.depth}: test accuracy {accuracy:.4f} after {epoch} epochs "
          f"({'meets' if accuracy >= TARGET else 'below'} the {TARGET:.1%} target), "
          f"{seconds:.0f} s per epoch")
    if args.save:
        model.save_weights(args.save)
    return 0


if __name__ == "__main__":
    sys.exit(main())
