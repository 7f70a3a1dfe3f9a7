"""Benchmark (GPU): d2l's Fashion-MNIST protocol for AlexNet, VGG16 and ResNet-50.

    python scripts/benchmark_d2l_gpu.py [--models alexnet vgg16 resnet50] [--epochs 10]
        [--data ../shared/data/fashion_mnist] [--samples N] [--size-scale 1.0]

Dive into Deep Learning (d2l.ai, chapters 8.1, 8.2, 8.6) trains simplified
nets on Fashion-MNIST for 10 epochs, images resized to 224×224 (AlexNet, VGG)
or 96×96 (ResNet), batch 128, on one GPU: AlexNet 88.0%, VGG-11 at a quarter
of the channels 91.6%, ResNet-18 91.5% test accuracy. Here our full-width
nets, each trained by its paper's rule (SGD, momentum 0.9, weight decay in
the update; ε as the factories default: 0.01, 0.01, 0.1), and, for the
throughput, the same architecture built from stock Keras
(`keras.applications.VGG16` / `ResNet50`, AlexNet as a `keras.Sequential` of
the same layers) trained by stock `fit` with `SGD(momentum=0.9)` in the same
run. Prints test accuracy and images per second for each.

`--samples` and `--size-scale` shrink the run for a smoke test on a CPU; the
numbers worth recording need a GPU and the full protocol. Record results in
the milestone pages (docs/milestones/alexnet.md, vgg16.md, resnet50.md).
"""

from __future__ import annotations

import argparse
import sys
import time

import keras
import numpy as np
from benchmark_resnet_fashion_mnist import DEFAULT_DATA

from keras_history import models
from keras_history.datasets import fashion_mnist

SIZES = {"alexnet": 224, "vgg16": 224, "resnet50": 96}  # d2l's resize per net
D2L = {"alexnet": 0.880, "vgg16": 0.916, "resnet50": 0.915}  # d2l's 10-epoch test accuracy
BATCH_SIZE = 128


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--data", default=DEFAULT_DATA)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--samples", type=int, default=None, help="train/test samples (smoke)")
    parser.add_argument("--size-scale", type=float, default=1.0, help="scale the image size")
    return parser.parse_args(argv)


def dataset(x, y, size: int, shuffle: bool):
    """Batches of float images in [0, 1], resized to size × size (d2l resizes too)."""
    import tensorflow as tf

    data = tf.data.Dataset.from_tensor_slices((x[..., None], y.astype("int32")))
    if shuffle:
        data = data.shuffle(len(x), seed=0)
    return data.batch(BATCH_SIZE).map(
        lambda images, labels: (tf.image.resize(tf.cast(images, "float32") / 255.0,
                                                (size, size)), labels),
        num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def stock_twin(ours: keras.Model) -> keras.Model:
    """The same architecture from stock Keras layers, trained by Keras's own train_step."""
    inputs = keras.Input(ours.image_shape)
    x = inputs
    for layer in ours.feature_layers + ours.top_layers:
        x = layer.__class__.from_config(layer.get_config())(x)
    twin = keras.Model(inputs, x)
    twin.compile(keras.optimizers.SGD(0.01, momentum=0.9), "sparse_categorical_crossentropy",
                 metrics=["accuracy"])
    return twin


def stock(name: str, size: int, ours: keras.Model) -> keras.Model:
    if name == "alexnet":  # no keras.applications AlexNet: the same layers, stock-built
        return stock_twin(ours)
    application = {"vgg16": keras.applications.VGG16, "resnet50": keras.applications.ResNet50}
    model = application[name](weights=None, input_shape=(size, size, 1), classes=10)
    model.compile(keras.optimizers.SGD(0.01, momentum=0.9), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def timed_fit(model, train, epochs: int, images: int) -> float:
    """Images per second over the epochs after the first (which compiles)."""
    model.fit(train, epochs=1, verbose=0)
    if epochs == 1:
        return float("nan")
    start = time.perf_counter()
    model.fit(train, epochs=epochs - 1, verbose=0)
    return images * (epochs - 1) / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(f"backend {keras.backend.backend()}, devices: "
          f"{keras.distribution.list_devices()}", flush=True)
    (x, y), (x_test, y_test) = fashion_mnist.load_data(args.data)
    if args.samples:
        x, y, x_test, y_test = x[:args.samples], y[:args.samples], x_test[:args.samples], \
            y_test[:args.samples]
    for name in args.models:
        size = max(32, int(SIZES[name] * args.size_scale))
        keras.utils.set_random_seed(0)
        train, test = dataset(x, y, size, True), dataset(x_test, y_test, size, False)
        ours = getattr(models, name)(input_shape=(size, size, 1), classes=10)
        ours_speed = timed_fit(ours, train, args.epochs, len(x))
        accuracy = ours.evaluate(test, verbose=0)[-1]
        stock_speed = timed_fit(stock(name, size, ours), train, min(args.epochs, 2), len(x))
        print(f"{name} at {size}×{size}: test accuracy {accuracy:.4f} after {args.epochs} epochs "
              f"(d2l: {D2L[name]:.3f}); {ours_speed:.0f} images/s (stock Keras: "
              f"{stock_speed:.0f} images/s)", flush=True)
        del ours
        keras.backend.clear_session()
    return 0


if __name__ == "__main__":
    np.set_printoptions(precision=4)
    sys.exit(main())
