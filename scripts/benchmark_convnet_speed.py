"""Benchmark: `mnist_convnet()` against the same net built from stock Keras layers.

Each variant trains in a fresh process on one Keras backend, on full MNIST:
one warm-up epoch (every batch shape traced and compiled), then timed epochs.
Throughput is images/s over the timed epochs; peak memory is the process's
maximum resident set size.

Variants:
  keras_history   keras_history.models.mnist_convnet()
  ref_tf_lrn      stock layers + Lambda(tf.nn.local_response_normalization)
                  (TensorFlow backend only: a TF op cannot run on JAX/torch tensors)
  ref_slices      stock layers + Lambda summing shifted slices of x² (any backend)

    python scripts/benchmark_convnet_speed.py --data ../shared/data/mnist \
        [--backends tensorflow jax torch] [--batch-size 64] [--epochs 1] [--images N]

Prints a table of images/s, the ratio to the best reference on the same backend,
and peak memory; record results in docs/benchmarks.md with the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys

CHILD = r"""
import json, resource, sys, time
import keras
import numpy as np
from keras import layers, ops

variant, data, batch_size, epochs, images, policy = sys.argv[1:7]
batch_size, epochs, images = int(batch_size), int(epochs), int(images)
if policy != "float32":
    keras.mixed_precision.set_global_policy(policy)
from keras_history.datasets import mnist

(x, y), _ = mnist.load_data(data)
x = (x[:images, :, :, None] / 255.0).astype("float32")
y = y[:images].astype("int32")


def lrn_slices(t, radius=5, bias=1.0, alpha=1e-4, beta=0.75):
    # The most direct LRN: sum the 2r+1 channel-shifted copies of x².
    sq = ops.square(t)
    channels = t.shape[-1]
    padded = ops.pad(sq, [[0, 0], [0, 0], [0, 0], [radius, radius]])
    total = sum(padded[..., i : i + channels] for i in range(2 * radius + 1))
    return t / ops.power(bias + alpha * total, beta)


def lrn_tf(t):
    import tensorflow as tf

    return tf.nn.local_response_normalization(t, depth_radius=5, bias=1.0, alpha=1e-4, beta=0.75)


def reference(lrn):
    conv = dict(padding="same", activation="relu", kernel_initializer="lecun_uniform",
                kernel_regularizer=keras.regularizers.L2(0.0005))
    dense = dict(kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02))
    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        layers.Conv2D(32, 3, **conv), layers.MaxPooling2D(2, padding="same"), layers.Lambda(lrn),
        layers.Conv2D(64, 3, **conv), layers.MaxPooling2D(2, padding="same"), layers.Lambda(lrn),
        layers.Flatten(),
        layers.Dense(128, activation="tanh", **dense), layers.Dropout(0.2),
        layers.Dense(256, activation="tanh", **dense), layers.Dropout(0.2),
        layers.Dense(10, activation="softmax", **dense),
    ])
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


if variant == "keras_history":
    from keras_history import models

    model = models.mnist_convnet()
elif variant == "ref_tf_lrn":
    model = reference(lrn_tf)
else:
    model = reference(lrn_slices)

model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0)  # warm-up: compile every shape
start = time.perf_counter()
model.fit(x, y, batch_size=batch_size, epochs=epochs, verbose=0)
seconds = time.perf_counter() - start
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"images_per_s": len(x) * epochs / seconds, "peak_mb": peak_mb}))
"""

VARIANTS = {
    "tensorflow": ["keras_history", "ref_tf_lrn", "ref_slices"],
    "jax": ["keras_history", "ref_slices"],
    "torch": ["keras_history", "ref_slices"],
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/mnist")
    parser.add_argument("--backends", nargs="+", default=list(VARIANTS))
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=1, help="timed epochs after warm-up")
    parser.add_argument("--images", type=int, default=60000, help="training images used")
    parser.add_argument("--policy", default="float32", help="Keras dtype policy")
    args = parser.parse_args()

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"batch {args.batch_size}, {args.images} images, policy {args.policy}\n")
    header = f"{'backend':<11} {'variant':<14} {'images/s':>9} {'vs best ref':>11} {'peak MB':>8}"
    print(header)
    print("-" * len(header))
    for backend in args.backends:
        results = {}
        for variant in VARIANTS[backend]:
            env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
            done = subprocess.run(
                [sys.executable, "-c", CHILD, variant, args.data, str(args.batch_size),
                 str(args.epochs), str(args.images), args.policy],
                env=env, capture_output=True, text=True)
            if done.returncode != 0:
                print(f"{backend:<11} {variant:<14} failed:\n{done.stderr[-1500:]}")
                continue
            results[variant] = json.loads(done.stdout.strip().splitlines()[-1])
        best_ref = max((r["images_per_s"] for v, r in results.items() if v != "keras_history"),
                       default=None)
        for variant, r in results.items():
            ratio = f"{r['images_per_s'] / best_ref:.2f}x" if best_ref else "-"
            print(f"{backend:<11} {variant:<14} {r['images_per_s']:>9.0f} {ratio:>11} "
                  f"{r['peak_mb']:>8.0f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
