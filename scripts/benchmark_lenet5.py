"""Benchmark: LeNet-5 on full MNIST with the paper's recipe; error per pass.

    python scripts/benchmark_lenet5.py --data ../shared/data/mnist [--passes 20] [--seeds 0 1 2]
    python scripts/benchmark_lenet5.py --data ../shared/data/fashion_mnist --passes 10
    python scripts/benchmark_lenet5.py ... --batch-size 1 --eta-scale 1 --warmup-scale 1  # paper

The recipe: stochastic diagonal Levenberg-Marquardt, h_kk re-estimated on 500
patterns before each pass, η on the paper's schedule (times `--warmup-scale` for
passes 1–2 and `--eta-scale` after), `--batch-size` patterns per update (1 in
the paper). Prints one row per pass:
test error, training error measured during the pass, seconds of training;
then the final training error on the whole training set. With `--out` each
row is also written as JSON (for scripts/figures_lenet5.py). Record results
in docs/milestones/lenet5.md with the machine and backend (KERAS_BACKEND).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import keras

from keras_history import models
from keras_history.datasets import fashion_mnist, mnist
from keras_history.models.convolutional.lenet5 import (
    ETA_SCALE,
    PAPER_PASSES,
    WARMUP_SCALE,
    SDLMPass,
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/mnist",
                        help="folder of the four IDX files (MNIST or Fashion-MNIST)")
    parser.add_argument("--passes", type=int, default=PAPER_PASSES)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--eta-scale", type=float, default=ETA_SCALE)
    parser.add_argument("--warmup-scale", type=float, default=WARMUP_SCALE)
    parser.add_argument("--loss", choices=("eq8", "eq9"), default="eq9")
    parser.add_argument("--steps-per-execution", type=int, default=100)
    parser.add_argument("--out", default=None, help="append JSON rows to this file")
    parser.add_argument("--save", default=None,
                        help="save each seed's trained weights as SAVE_seed<N>.weights.h5")
    return parser.parse_args(argv)


class PassReport(keras.callbacks.Callback):
    """Test error after each pass, printed and (optionally) recorded."""

    def __init__(self, test, seed: int, out: str | None):
        super().__init__()
        self.test, self.seed, self.out = test, seed, out

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self.start
        result = self.model.evaluate(*self.test, batch_size=1000, verbose=0, return_dict=True)
        row = {"seed": self.seed, "pass": epoch + 1, "test_error": 1 - result["accuracy"],
               "train_error_during_pass": 1 - logs["accuracy"], "seconds": seconds,
               "eta": float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))}
        print(f"seed {self.seed} pass {epoch + 1:2d}: test error {row['test_error']:.2%}, "
              f"training error during the pass {row['train_error_during_pass']:.2%}, "
              f"eta {row['eta']:.2g}, {seconds:.0f} s", flush=True)
        self.record(row)

    def record(self, row: dict) -> None:
        if self.out:
            with open(self.out, "a") as file:
                file.write(json.dumps(row) + "\n")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    fashion = "fashion" in Path(args.data).name
    (x, y), (x_test, y_test) = (fashion_mnist if fashion else mnist).load_data(args.data)
    print(f"LeNet-5 on {args.data}: {len(x)} training, {len(x_test)} test images; "
          f"backend {keras.backend.backend()}, {platform.machine()}, batch {args.batch_size}, "
          f"eta x{args.warmup_scale} for passes 1-2, x{args.eta_scale} after, loss {args.loss}",
          flush=True)
    for seed in args.seeds:
        model = models.lenet5(seed=seed, loss=args.loss, eta_scale=args.eta_scale,
                              warmup_scale=args.warmup_scale, compile=False)
        model.compile(optimizer=keras.optimizers.SGD(1e-4), metrics=["accuracy"],
                      jit_compile=keras.backend.backend() == "tensorflow" or "auto",
                      steps_per_execution=args.steps_per_execution)
        report = PassReport((x_test, y_test), seed, args.out)
        model.fit(x, y, batch_size=args.batch_size, epochs=args.passes, verbose=0,
                  callbacks=[SDLMPass(x), report])
        train = model.evaluate(x, y, batch_size=1000, verbose=0, return_dict=True)
        print(f"seed {seed}: final training error {1 - train['accuracy']:.2%} "
              f"(whole training set, after pass {args.passes})", flush=True)
        report.record({"seed": seed, "pass": args.passes, "final_train_error":
                       1 - train["accuracy"]})
        if args.save:
            model.save_weights(f"{args.save}_seed{seed}.weights.h5")


if __name__ == "__main__":
    main()
