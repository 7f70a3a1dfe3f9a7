"""Benchmark: train `mnist_convnet()` on full MNIST; test accuracy and seconds per epoch.

    python scripts/benchmark_mnist_convnet.py --data ../shared/data/mnist [--epochs 15]
    python scripts/benchmark_mnist_convnet.py --original      # Adam 0.01, 20 epochs

Prints one row per epoch (train loss, test accuracy, seconds) and the first
epoch at which test accuracy reached the target (99.3%). Record results in
docs/milestones/6-mnist-convnet.md with the machine and backend.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import keras

from keras_history import models
from keras_history.datasets import mnist
from keras_history.models.convnet import ORIGINAL_LEARNING_RATE, STEPS_PER_EPOCH


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="IDX folder or mnist.npz "
                        "(default: $KERAS_HISTORY_MNIST, then ../shared/data/mnist)")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=None,
                        help="a constant Adam step size (default: the model's decaying schedule)")
    parser.add_argument("--decay-rate", type=float, default=None,
                        help="with --learning-rate: decay it by this factor per epoch of batch 64")
    parser.add_argument("--original", action="store_true",
                        help=f"the TFLearn example: Adam {ORIGINAL_LEARNING_RATE}, 20 epochs")
    parser.add_argument("--target", type=float, default=0.993)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.original:
        args.learning_rate, args.epochs = ORIGINAL_LEARNING_RATE, 20
    data = args.data or os.environ.get(mnist.ENV_VAR) or "../shared/data/mnist"

    keras.utils.set_random_seed(args.seed)
    (x_train, y_train), (x_test, y_test) = mnist.load_data(data)
    rate = args.learning_rate
    if rate is not None and args.decay_rate is not None:
        rate = keras.optimizers.schedules.ExponentialDecay(
            rate, decay_steps=STEPS_PER_EPOCH, decay_rate=args.decay_rate)
    model = models.mnist_convnet(learning_rate=rate)
    print(f"backend {keras.backend.backend()}, {platform.machine()} {os.cpu_count()} cores; "
          f"Adam {args.learning_rate or 'default schedule'} decay {args.decay_rate}, "
          f"batch {args.batch_size}, "
          f"{args.epochs} epochs", flush=True)
    print(f"{'epoch':>5} {'train loss':>10} {'test acc':>9} {'seconds':>8}", flush=True)
    reached = None
    for epoch in range(1, args.epochs + 1):
        start = time.perf_counter()
        history = model.fit(x_train, y_train, batch_size=args.batch_size, epochs=1, verbose=0)
        seconds = time.perf_counter() - start
        accuracy = model.evaluate(x_test, y_test, batch_size=1000, verbose=0,
                                  return_dict=True)["accuracy"]
        if reached is None and accuracy >= args.target:
            reached = epoch
        print(f"{epoch:>5} {history.history['loss'][0]:>10.4f} {accuracy:>9.4f} "
              f"{seconds:>8.1f}", flush=True)
    print(f"first epoch at >= {args.target:.1%}: {reached or 'not reached'}; "
          f"final test accuracy {accuracy:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
