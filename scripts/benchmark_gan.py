"""Benchmark: train `gan()` with the paper's recipe on MNIST; Parzen log-likelihood per epoch.

    python scripts/benchmark_gan.py --data ../shared/data/mnist --epochs 300
    python scripts/benchmark_gan.py --until 20:15 --save /tmp/gan.keras   # stop in time (UTC)
    python scripts/benchmark_gan.py --score /tmp/gan.keras                 # score a saved model
    python scripts/benchmark_gan.py --resume /tmp/gan.keras --save /tmp/gan.keras  # go on

The recipe of the authors' mnist.yaml: MNIST train[0:50000] in batches of 100,
SGD lr 0.1 ÷ 1.000004 per step, momentum 0.5 → 0.7 over epochs 1..250. After
every `--parzen-every` epochs it scores 10,000 samples with the paper's
protocol (σ from logspace(−1, 0, 10) on the first 1,000 validation images,
train[50000:51000]; mean ± standard error on the 10,000 test images; Table 1:
225 ± 2) and prints one row: epoch, seconds of training, both objectives, D's
accuracies, Parzen LL. First, as a sanity line, the same estimate with 10,000
real training images in place of samples. `--log` appends JSON rows;
`--save` keeps the latest model (`.keras`) for the figures. Record results in
docs/milestones/gan.md with the machine and backend (KERAS_BACKEND).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time

import keras

import keras_history
from keras_history import metrics, models
from keras_history.datasets import mnist
from keras_history.models.generative.gan import BATCH_SIZE

SAMPLES = 10_000
SAMPLE_SEED = 2014  # the same noise every time, so the curve compares like with like


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="IDX folder or mnist.npz "
                        f"(default: ${mnist.ENV_VAR}, then ../shared/data/mnist)")
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--parzen-every", type=int, default=1)
    parser.add_argument("--until", default=None,
                        help="HH:MM UTC: start no epoch that would end after this time")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--noise", default="uniform", choices=("uniform", "gaussian"),
                        help="the generator's noise (a fresh model only): the final mnist.yaml's "
                        "uniform, or the Gaussian of the authors' earlier configurations")
    parser.add_argument("--log", default=None, help="append one JSON row per result here")
    parser.add_argument("--save", default=None, help="save the model here after every epoch")
    parser.add_argument("--resume", default=None,
                        help="go on training the model saved at this path (its optimizer "
                        "state and epoch count included) instead of a fresh one")
    parser.add_argument("--schedule-epoch", type=int, default=None,
                        help="with --resume: move the step count on to this epoch's, so the "
                        "training goes on at that epoch's learning rate and momentum (a "
                        "diagnostic of what the long anneal would give; epochs are then "
                        "counted from there)")
    parser.add_argument("--score", default=None,
                        help="only score the saved model at this path (no sanity line)")
    args = parser.parse_args(argv)
    if args.epochs < 1 or args.parzen_every < 1:
        parser.error("--epochs and --parzen-every must be at least 1")
    if args.schedule_epoch is not None and not args.resume:
        parser.error("--schedule-epoch needs --resume")
    return args


def deadline(until: str | None) -> float | None:
    """The Unix time of HH:MM UTC today, or None."""
    if until is None:
        return None
    hour, minute = (int(part) for part in until.split(":"))
    now = datetime.datetime.now(datetime.timezone.utc)
    return now.replace(hour=hour, minute=minute, second=0, microsecond=0).timestamp()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    path = args.data or os.environ.get(mnist.ENV_VAR) or "../shared/data/mnist"
    (x_train, _), (x_test, _) = mnist.load_data(path)
    train, valid = x_train[:50_000], x_train[50_000:51_000]
    stop_at = deadline(args.until)
    print(f"keras-history {keras_history.__version__}, Keras {keras.__version__} on "
          f"{keras.backend.backend()}, {platform.machine()}, {os.cpu_count()} CPUs")

    def record(row: dict) -> None:
        print("  ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                        for k, v in row.items()), flush=True)
        if args.log:
            with open(args.log, "a") as log:
                log.write(json.dumps(row) + "\n")

    if args.score:
        model = keras_history.load_model(args.score)
        steps = int(keras.ops.convert_to_numpy(model.optimizer.iterations))
        began = time.perf_counter()
        result = metrics.parzen_log_likelihood(model.generate(SAMPLES, seed=SAMPLE_SEED),
                                               x_test, valid)
        record({"model": args.score, "steps": steps, "parzen": result.mean,
                "se": result.standard_error, "sigma": result.sigma,
                "parzen_seconds": time.perf_counter() - began})
        return 0

    if args.resume:
        model = keras_history.load_model(args.resume)
        # Every schedule of the recipe is a function of the step count, so this is the epoch.
        first = int(keras.ops.convert_to_numpy(model.optimizer.iterations))
        first //= model.optimizer.steps_per_epoch
        print(f"resuming {args.resume} after epoch {first}")
        if args.schedule_epoch is not None:
            first = args.schedule_epoch
            model.optimizer.iterations.assign(first * model.optimizer.steps_per_epoch)
            print(f"schedule moved on to epoch {first}: learning rate "
                  f"{float(model.optimizer.learning_rate):.4g}, momentum "
                  f"{float(model.optimizer.current_momentum()):.3g}")
    else:
        began = time.perf_counter()
        real = metrics.parzen_log_likelihood(x_train[:SAMPLES], x_test, valid)
        record({"what": "training images as samples", "parzen": real.mean,
                "se": real.standard_error, "sigma": real.sigma,
                "parzen_seconds": time.perf_counter() - began})
        model = models.gan(noise=args.noise, output_bias_from=train, seed=args.seed)
        first = 0
    epoch_seconds = parzen_seconds = 0.0
    for epoch in range(first, args.epochs):
        if stop_at is not None and time.time() + 1.1 * (epoch_seconds + parzen_seconds) > stop_at:
            print(f"stopping before epoch {epoch + 1}: it would end after {args.until} UTC")
            break
        began = time.perf_counter()
        history = model.fit(train, batch_size=BATCH_SIZE, epochs=epoch + 1, initial_epoch=epoch,
                            shuffle=True, verbose=0)
        epoch_seconds = time.perf_counter() - began
        row = {"epoch": epoch + 1, "seconds": epoch_seconds,
               **{k: float(v[-1]) for k, v in history.history.items()}}
        if args.save:
            model.save(args.save)
        if (epoch + 1) % args.parzen_every == 0 or epoch + 1 == args.epochs:
            began = time.perf_counter()
            result = metrics.parzen_log_likelihood(model.generate(SAMPLES, seed=SAMPLE_SEED),
                                                   x_test, valid)
            parzen_seconds = time.perf_counter() - began
            row.update(parzen=result.mean, se=result.standard_error, sigma=result.sigma,
                       parzen_seconds=parzen_seconds)
        record(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
