"""Benchmark: `rcnn()` on MNIST detection canvases; VOC mAP with and without box regression.

    python scripts/benchmark_rcnn.py --data ../shared/data/mnist --rounds 2
    python scripts/benchmark_rcnn.py --rounds 4        # resumes after round 2

The paper's pipeline in miniature (docs/milestones/rcnn.md): the CNN is
pre-trained on MNIST's training digits (`--pretrain-epochs`, SGD 0.01, batch
128), then each round fine-tunes it for `--batches` batches of 128 warped
proposals (32 positive, 96 background) of `--train` canvases of training
digits, trains the SVMs (hard-negative mining) and box regressors on the same
canvases, and measures VOC's mAP at IoU 0.5 (11-point, as VOC 2007; and
all-point; and 11-point at IoU 0.7, where tighter boxes count) on `--test`
canvases of MNIST's test digits, with and without box regression. One JSON
row per round goes to docs/results/rcnn_mnist_detection.jsonl (round,
fine-tuning batches so far, the mAPs, seconds, backend, machine, seed).
The model is saved to `--checkpoints` after pre-training and after every
round, and the canvases' proposals are cached there: a later run goes on from
the last round recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import sys
import time

import keras
import numpy as np

import keras_history
from keras_history import metrics, models
from keras_history.datasets import mnist, mnist_detection
from keras_history.models.convolutional.rcnn import BATCH

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs" / "results" / "rcnn_mnist_detection.jsonl"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="IDX folder or mnist.npz "
                        f"(default: ${mnist.ENV_VAR}, then ../shared/data/mnist; 'sample': "
                        "the embedded sample)")
    parser.add_argument("--train", type=int, default=300, help="training canvases")
    parser.add_argument("--test", type=int, default=100, help="test canvases")
    parser.add_argument("--pretrain-epochs", type=int, default=1)
    parser.add_argument("--batches", type=int, default=100,
                        help="fine-tuning batches of 128 per round")
    parser.add_argument("--rounds", type=int, default=2, help="go on up to this round")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--results", default=str(RESULTS))
    parser.add_argument("--checkpoints", default="/tmp/keras_history_rcnn")
    args = parser.parse_args(argv)
    if min(args.train, args.test, args.batches, args.rounds) < 1 or args.pretrain_epochs < 0:
        parser.error("--train, --test, --batches and --rounds must be at least 1")
    return args


def recorded(results: pathlib.Path, key: dict) -> list[dict]:
    """The rows of this configuration (seed, sizes, backend) recorded so far."""
    if not results.exists():
        return []
    rows = [json.loads(line) for line in results.read_text().splitlines() if line.strip()]
    return [r for r in rows if all(r.get(k) == v for k, v in key.items())]


def cached_proposals(model, images: np.ndarray, path: pathlib.Path) -> list[np.ndarray]:
    if path.exists():
        with np.load(path) as stored:
            return [stored[f"p{i}"] for i in range(len(images))]
    found = model.proposals(images)
    np.savez(path, **{f"p{i}": p for i, p in enumerate(found)})
    return found


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    data = args.data or os.environ.get(mnist.ENV_VAR) or "../shared/data/mnist"
    arrays = mnist.load_sample() if data == "sample" else mnist.load_data(data)
    (x, y), (x_test, y_test) = arrays
    train = mnist_detection.make_canvases(x, y, args.train, seed=args.seed)
    test = mnist_detection.make_canvases(x_test, y_test, args.test, seed=args.seed + 1)
    backend = keras.backend.backend()
    key = dict(data="sample" if data == "sample" else "mnist", train_canvases=args.train,
               test_canvases=args.test, pretrain_epochs=args.pretrain_epochs,
               batches_per_round=args.batches, seed=args.seed, backend=backend)
    results, checkpoints = pathlib.Path(args.results), pathlib.Path(args.checkpoints)
    checkpoints.mkdir(parents=True, exist_ok=True)
    stem = "-".join(f"{v}" for v in key.values())
    path = checkpoints / f"rcnn-{stem}.keras"
    done = recorded(results, key)
    machine = f"{platform.machine()}, {os.cpu_count()} cores"
    print(f"keras_history from {os.path.dirname(keras_history.__file__)}; backend {backend}, "
          f"{machine}", flush=True)
    spent = sum(r["seconds"] for r in done)
    if done and path.exists():
        model = keras_history.load_model(path)
        first = max(r["round"] for r in done)
        print(f"resuming {path} after round {first}", flush=True)
    else:
        first, spent = 0, 0.0
        keras.utils.set_random_seed(args.seed)
        model = models.rcnn(seed=args.seed)
        start = time.perf_counter()
        if args.pretrain_epochs:
            model.pretrain(x, y, epochs=args.pretrain_epochs, batch_size=BATCH, verbose=0)
        spent = time.perf_counter() - start
        print(f"pre-trained {args.pretrain_epochs} epoch(s) in {spent:.0f} s", flush=True)
    start = time.perf_counter()
    train_proposals = cached_proposals(model, train[0], checkpoints / f"train-{stem}.npz")
    test_proposals = cached_proposals(model, test[0], checkpoints / f"test-{stem}.npz")
    proposal_seconds = time.perf_counter() - start
    for number in range(first + 1, args.rounds + 1):
        start = time.perf_counter()
        history = model.fine_tune(*train, proposals=train_proposals, batches=args.batches,
                                  seed=args.seed * 1000 + number)
        mining = model.train_svms(*train, proposals=train_proposals, seed=args.seed)
        model.train_box_regressors(*train, proposals=train_proposals)
        scores = {}
        for regress in (False, True):
            found = model.detect(test[0], proposals=test_proposals, regress=regress)
            kind = "boxes" if regress else "plain"
            for interpolation in metrics.INTERPOLATIONS:
                scores[f"map_{interpolation}_{kind}"] = round(metrics.mean_average_precision(
                    *found, *test[1:], interpolation=interpolation), 4)
            # A stricter overlap, where tighter boxes count (VOC's is 0.5).
            scores[f"map_11point_{kind}_iou70"] = round(metrics.mean_average_precision(
                *found, *test[1:], iou_threshold=0.7), 4)
        seconds = time.perf_counter() - start + (spent if number == 1 else 0.0) + (
            proposal_seconds if number == first + 1 else 0.0)
        row = dict(round=number, fine_tuning_batches=number * args.batches,
                   fine_tuning_loss=round(history.history["loss"][0], 4),
                   mining_rounds=len(mining), **scores, seconds=round(seconds, 1),
                   machine=machine, **key)
        model.save(path)
        with results.open("a") as file:
            file.write(json.dumps(row) + "\n")
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
