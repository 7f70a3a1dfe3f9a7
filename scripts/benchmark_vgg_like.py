"""Benchmark: the Keras guide's VGG-like convnet (or the PyTorch tutorial's net) on Fashion-MNIST.

    python scripts/benchmark_vgg_like.py [--epochs 3] [--seed 0]          # vgg_like, 28×28×1
    python scripts/benchmark_vgg_like.py --model tutorial_net [--epochs 2]  # padded to 32×32×1
    python scripts/benchmark_vgg_like.py --model tutorial_module  # the tutorial's torch code
        [--data ../shared/data/fashion_mnist] [--out docs/results/NAME.jsonl]
        [--checkpoint /tmp/NAME_seed0.keras] [--samples N] [--steps-per-execution K]

Each model is trained as its source trains it: `vgg_like` with the guide's
Nesterov SGD (ε = 0.01, Keras 2's decay 1e-6) at batch 32, `tutorial_net`
with SGD(0.001, momentum 0.9) at batch 4. One row per epoch (train loss and
accuracy during the epoch, test accuracy, seconds of training, backend,
machine) is appended to `--out`.

Resumable: after each epoch the model (weights and optimizer state) is saved
to `--checkpoint`; a rerun with the same options finds the rows already in
`--out` and goes on from the next epoch. The shuffle of epoch e is seeded by
(seed, e), so a resumed run draws the batches an uninterrupted one would.
`--steps-per-execution` runs K steps per call (the same arithmetic, less
Python per step).
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

import keras_history
from keras_history import models
from keras_history.datasets import fashion_mnist

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT / ".." / "shared" / "data" / "fashion_mnist"
SETUPS = {  # model -> (input shape, batch size, epochs of the source)
    "vgg_like": ((28, 28, 1), 32, 10),
    "tutorial_net": ((32, 32, 1), 4, 2),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=[*sorted(SETUPS), "tutorial_module"],
                        default="vgg_like",
                        help="tutorial_module: the tutorial's PyTorch Net and loop, no Keras")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--epochs", type=int, default=None,
                        help="total epochs (default: the source's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--samples", type=int, default=None,
                        help="train on the first N images only (a shortened run)")
    parser.add_argument("--steps-per-execution", type=int, default=1)
    parser.add_argument("--out", default=None, help="default: docs/results/MODEL.jsonl")
    parser.add_argument("--checkpoint", default=None,
                        help="default: /tmp/keras_history_MODEL_seedS_BACKEND.keras")
    return parser.parse_args(argv)


def load(args) -> tuple:
    (x, y), (x_test, y_test) = fashion_mnist.load_data(args.data)
    x, y = x[: args.samples], y[: args.samples]
    if args.model != "vgg_like":  # 28×28 → 32×32, zeros around, as LeNet-5 reads MNIST
        pad = [(0, 0), (2, 2), (2, 2)]
        x, x_test = np.pad(x, pad), np.pad(x_test, pad)
    return (x, y), (x_test, y_test)


def done_rows(out: Path, args, backend: str) -> list[dict]:
    if not out.exists():
        return []
    rows = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    return [r for r in rows if r.get("seed") == args.seed and r.get("backend") == backend
            and r.get("samples") == args.samples and "epoch" in r]


def torch_reference(args, out: Path) -> int:
    """The tutorial's own PyTorch `Net` and loop (SGD 0.001, momentum 0.9, batch 4) on the
    same padded images, normalized to [-1, 1] as the tutorial does: the like-for-like check."""
    import torch
    from torch import nn

    sys.path.insert(0, str(ROOT / "tests"))
    from test_seed_article_nets import tutorial_module

    torch.manual_seed(args.seed)
    (x, y), (x_test, y_test) = load(args)

    def tensors(images, labels):
        images = torch.from_numpy(images[:, None].astype("float32") / 255 * 2 - 1)
        return images, torch.from_numpy(labels.astype("int64"))

    (x, y), (x_test, y_test) = tensors(x, y), tensors(x_test, y_test)
    net, criterion = tutorial_module(1), nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.001, momentum=0.9)
    for epoch in range(args.epochs or SETUPS["tutorial_net"][2]):
        began, order = time.perf_counter(), torch.randperm(len(x))
        for start in range(0, len(x), 4):
            batch = order[start:start + 4]
            optimizer.zero_grad()
            loss = criterion(net(x[batch]), y[batch])
            loss.backward()
            optimizer.step()
        seconds = time.perf_counter() - began
        with torch.no_grad():
            accuracy = float((net(x_test).argmax(1) == y_test).float().mean())
        row = {"model": "tutorial_module", "seed": args.seed, "epoch": epoch + 1,
               "test_accuracy": accuracy, "seconds": seconds, "batch_size": 4,
               "samples": args.samples, "backend": f"torch {torch.__version__} (no Keras)",
               "machine": f"{platform.machine()}, {os.cpu_count()} CPUs"}
        with open(out, "a") as file:
            file.write(json.dumps(row) + "\n")
        print(f"tutorial's module, epoch {epoch + 1}: test acc {accuracy:.4f}  {seconds:.0f} s",
              flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.model == "tutorial_module":
        return torch_reference(args, Path(args.out or ROOT / "docs" / "results" /
                                          "tutorial_net.jsonl"))
    backend = keras.backend.backend()
    shape, batch_size, source_epochs = SETUPS[args.model]
    epochs = args.epochs or source_epochs
    out = Path(args.out or ROOT / "docs" / "results" / f"{args.model}.jsonl")
    checkpoint = Path(args.checkpoint or f"/tmp/keras_history_{args.model}_seed{args.seed}_"
                      f"{backend}.keras")
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs"
    print(f"{args.model} on Fashion-MNIST {shape}: backend {backend}, {machine}, "
          f"keras {keras.__version__}, batch {batch_size}", flush=True)
    (x, y), (x_test, y_test) = load(args)

    done = done_rows(out, args, backend)
    start_epoch = max((r["epoch"] for r in done), default=0)
    if start_epoch and checkpoint.exists():
        model = keras_history.load_model(checkpoint)
        print(f"resuming after epoch {start_epoch} from {checkpoint}", flush=True)
    else:
        start_epoch = 0
        keras.utils.set_random_seed(args.seed)
        model = getattr(models, args.model)(input_shape=shape)
    model.compile(optimizer=model.optimizer, steps_per_execution=args.steps_per_execution)

    for epoch in range(start_epoch, epochs):
        keras.utils.set_random_seed(args.seed * 1000 + epoch)  # this epoch's shuffle, dropout
        began = time.perf_counter()
        history = model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0)
        seconds = time.perf_counter() - began
        result = model.evaluate(x_test, y_test, batch_size=500, verbose=0, return_dict=True)
        row = {"model": args.model, "seed": args.seed, "epoch": epoch + 1,
               "loss": history.history["loss"][-1],
               "train_accuracy": history.history["accuracy"][-1],
               "test_accuracy": result["accuracy"], "seconds": seconds,
               "steps": int(keras.ops.convert_to_numpy(model.optimizer.iterations)),
               "batch_size": batch_size, "samples": args.samples, "backend": backend,
               "machine": machine}
        model.save(checkpoint)
        with open(out, "a") as file:
            file.write(json.dumps(row) + "\n")
        print(f"epoch {epoch + 1:2d}  loss {row['loss']:.4f}  train acc "
              f"{row['train_accuracy']:.4f}  test acc {row['test_accuracy']:.4f}  "
              f"{seconds:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
