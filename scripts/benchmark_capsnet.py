"""Benchmark: `capsnet()` on full MNIST, the paper's rule; test error after each epoch.

    python scripts/benchmark_capsnet.py --data ../shared/data/mnist --minutes 40
    python scripts/benchmark_capsnet.py --minutes 40     # the next session: goes on from there
    python scripts/benchmark_capsnet.py --epochs 30      # no time limit: up to epoch 30

Trains the paper's net as its docs show a user would: `models.capsnet(seed=S)`
(margin loss + 0.0005 × the reconstruction's squared error, Adam on the
authors' schedule, 0.001 × 0.96 per 2,000 steps, training images shifted by up
to 2 pixels: all in the model) and `model.fit(..., batch_size=128)`. After
each epoch the 10,000 test digits are classified by their longest capsule and
one JSON row is appended to `--results` (default
docs/results/capsnet_mnist.jsonl): the test error in %, beside Table 1's
0.25% and CapsNet-Keras's 0.34% after 30 epochs, with the training loss and
accuracy, the optimizer's step and learning rate, the seconds spent, the
backend, versions, machine and date.

Resumable at any step, across sessions. The epoch is trained in chunks of
`--chunk-steps` batches; after each chunk the model (weights, Adam's moments,
its step count, the shifts' seed state) is saved to
`--checkpoints/capsnet-seedS-BACKEND[-nN].keras`, beside a small JSON file
with the epoch's running statistics. The optimizer's step count says where
training stands: a rerun loads the checkpoint and goes on with the next batch.
Each epoch's batches are a permutation seeded by (seed, epoch) and taken in
order, so a run cut into sessions draws the batches an uninterrupted one would.
`--minutes M` is a budget for this session: the script sizes its chunks to
what is left (by the seconds per step measured so far), stops after the last
one that fits, and leaves everything saved. An epoch whose last step is done
but whose test error is not yet recorded is evaluated first on the next run.

`--samples`, `--test-samples`, `--conv-filters` and `--primary-channels` make
small runs for checking the script (write those to another `--results`: the
rows record the options, and the docs' table reads only full runs of the
paper's net).
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import math
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import keras
import numpy as np

import keras_history
from keras_history import models
from keras_history.datasets import mnist
from keras_history.models.convolutional.capsnet import BATCH_SIZE, margin_loss

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs" / "results" / "capsnet_mnist.jsonl"
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "mnist"
CHECKPOINTS = Path(tempfile.gettempdir()) / "keras_history_capsnet"
PAPER_PERCENT = 0.25  # Table 1: 3 routing iterations, with the reconstruction loss
MARKER_PERCENT, MARKER_EPOCHS = 0.34, 30  # CapsNet-Keras (Guo) after 30 epochs
EVAL_BATCH = 500


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="IDX folder or mnist.npz (default: "
                        f"${mnist.ENV_VAR}, then {DEFAULT_DATA})")
    parser.add_argument("--epochs", type=int, default=MARKER_EPOCHS,
                        help=f"train up to this epoch (default {MARKER_EPOCHS}, the marker's)")
    parser.add_argument("--minutes", type=float, default=None,
                        help="this session's budget of wall-clock minutes (default: none)")
    parser.add_argument("--chunk-steps", type=int, default=50,
                        help="batches between checkpoints (default 50)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--results", default=str(RESULTS))
    parser.add_argument("--checkpoints", default=str(CHECKPOINTS),
                        help="folder of the checkpoint (keep it where later sessions see it)")
    parser.add_argument("--samples", type=int, default=None,
                        help="train on the first N images only (a check of the script)")
    parser.add_argument("--test-samples", type=int, default=None,
                        help="test on the first N test images only (a check of the script)")
    parser.add_argument("--conv-filters", type=int, default=256, help="Conv1's (paper: 256)")
    parser.add_argument("--primary-channels", type=int, default=32,
                        help="PrimaryCaps' channels (paper: 32)")
    args = parser.parse_args(argv)
    for option in ("epochs", "chunk_steps", "samples", "test_samples", "conv_filters",
                   "primary_channels"):
        value = getattr(args, option)
        if value is not None and value < 1:
            parser.error(f"--{option.replace('_', '-')} must be at least 1")
    if args.minutes is not None and args.minutes <= 0:
        parser.error("--minutes must be positive")
    return args


def versions(backend: str) -> str:
    packages = ["keras", {"torch": "torch", "jax": "jax"}.get(backend, "tensorflow")]
    return ", ".join(f"{p} {importlib.metadata.version(p)}" for p in packages)


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} CPUs"


def _number(value) -> float:
    return float(keras.ops.convert_to_numpy(value))


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


class Run:
    """One training run's files: the checkpoint, its running statistics, the result rows."""

    def __init__(self, args: argparse.Namespace, backend: str):
        self.args, self.backend = args, backend
        self.options = dict(conv_filters=args.conv_filters,
                            primary_channels=args.primary_channels)
        suffix = "" if args.samples is None else f"-n{args.samples}"
        if self.options != dict(conv_filters=256, primary_channels=32):
            suffix += f"-c{args.conv_filters}-p{args.primary_channels}"
        folder = Path(args.checkpoints)
        folder.mkdir(parents=True, exist_ok=True)
        self.checkpoint = folder / f"capsnet-seed{args.seed}-{backend}{suffix}.keras"
        self.statistics = self.checkpoint.with_suffix(".json")
        self.results = Path(args.results)

    def rows(self) -> list[dict]:
        """The rows already recorded for this run (same seed, backend, data and net)."""
        if not self.results.exists():
            return []
        rows = [json.loads(line) for line in self.results.read_text().splitlines()
                if line.strip()]
        return [r for r in rows if r.get("model") == "capsnet" and r.get("seed") == self.args.seed
                and r.get("backend") == self.backend and r.get("samples") == self.args.samples
                and r.get("test_samples") == self.args.test_samples
                and r.get("options") == self.options]

    def load_or_start(self) -> tuple[keras.Model, dict]:
        """The checkpointed model and statistics, or a fresh model at step 0."""
        if self.checkpoint.exists():
            model = keras_history.load_model(self.checkpoint)
            step = int(_number(model.optimizer.iterations))
            stats = (json.loads(self.statistics.read_text())
                     if self.statistics.exists() else {})
            if stats.get("steps") != step:  # the model was saved, its statistics were not
                stats = dict(steps=step, partial=True)
            print(f"resuming {self.checkpoint} at step {step:,}", flush=True)
            return model, stats
        if self.rows():
            raise SystemExit(f"{self.results} has rows of this run but {self.checkpoint} is "
                             "missing: pass the --checkpoints folder that holds it, or another "
                             "--results (or --seed) to start again")
        keras.utils.set_random_seed(self.args.seed)
        model = models.capsnet(seed=self.args.seed, **self.options)
        print(f"a new capsnet (seed {self.args.seed}), {model.count_params():,} parameters",
              flush=True)
        return model, dict(steps=0)

    def save(self, model: keras.Model, stats: dict) -> None:
        """The model first, then its statistics (a crash between them loses statistics only)."""
        temporary = self.checkpoint.with_name(self.checkpoint.stem + ".tmp.keras")
        model.save(temporary)
        os.replace(temporary, self.checkpoint)
        _write_atomically(self.statistics, json.dumps(stats) + "\n")

    def record(self, row: dict) -> None:
        self.results.parent.mkdir(parents=True, exist_ok=True)
        with self.results.open("a") as file:
            file.write(json.dumps(row) + "\n")


def order(seed: int, epoch: int, count: int) -> np.ndarray:
    """Epoch `epoch`'s permutation of the training images (the same in every session)."""
    return np.random.default_rng([seed, epoch]).permutation(count)


def evaluate(model: keras.Model, x_test: np.ndarray, y_test: np.ndarray) -> dict:
    """Test error (by the longest capsule) and the margin loss (eq. 4) on unshifted images."""
    lengths = model.predict(x_test, batch_size=EVAL_BATCH, verbose=0)
    wrong = int(np.sum(lengths.argmax(axis=1) != y_test))
    targets = np.eye(lengths.shape[1], dtype="float32")[y_test]
    losses = margin_loss(keras.ops.convert_to_tensor(targets),
                         keras.ops.convert_to_tensor(lengths))
    loss = float(np.mean(keras.ops.convert_to_numpy(losses)))
    return dict(test_error_percent=round(100 * wrong / len(y_test), 4), test_errors=wrong,
                test_images=len(y_test), test_margin_loss=round(loss, 6))


def main(argv: list[str] | None = None) -> int:
    began = time.perf_counter()
    args = parse_args(argv)
    backend = keras.backend.backend()
    budget = None if args.minutes is None else 60 * args.minutes

    def left() -> float:
        return math.inf if budget is None else budget - (time.perf_counter() - began)

    data = args.data or os.environ.get(mnist.ENV_VAR) or str(DEFAULT_DATA)
    (x, y), (x_test, y_test) = mnist.load_data(data)
    x, y = x[:args.samples], y[:args.samples]
    x_test, y_test = x_test[:args.test_samples], y_test[:args.test_samples]
    per_epoch = math.ceil(len(x) / BATCH_SIZE)
    run = Run(args, backend)
    print(f"capsnet on MNIST ({len(x):,} training, {len(x_test):,} test images): backend "
          f"{backend} ({versions(backend)}), {machine()}; batch {BATCH_SIZE}, {per_epoch} "
          f"steps an epoch; budget {'none' if budget is None else f'{args.minutes:g} min'}",
          flush=True)
    model, stats = run.load_or_start()
    recorded = max((r["epoch"] for r in run.rows()), default=0)
    if stats["steps"] < recorded * per_epoch:
        raise SystemExit(f"{run.results} records epoch {recorded} but {run.checkpoint} is at "
                         f"step {stats['steps']:,}, before its end: an older checkpoint?")
    stats.setdefault("seconds_per_step", None)
    session_steps, counted_for = 0, None

    while True:
        step = stats["steps"]
        epoch, done = divmod(step, per_epoch)  # `epoch` epochs complete, `done` steps of the next
        if epoch > recorded:  # an epoch finished and not yet evaluated
            if epoch > recorded + 1:
                raise SystemExit(f"{run.checkpoint} is at epoch {epoch} but {run.results} "
                                 f"records only up to epoch {recorded}")
            if left() < stats.get("eval_seconds", 0):
                print("stopping: the budget left is too short to evaluate", flush=True)
                break
            start = time.perf_counter()
            row = dict(model="capsnet", epoch=epoch, **evaluate(model, x_test, y_test),
                       paper_percent=PAPER_PERCENT, marker_percent=MARKER_PERCENT,
                       marker_epochs=MARKER_EPOCHS)
            evaluated = time.perf_counter() - start
            seen = stats.get("samples_seen", 0)
            row.update(
                gap_to_paper_points=round(row["test_error_percent"] - PAPER_PERCENT, 4),
                train_loss=round(stats["loss_sum"] / seen, 6) if seen else None,
                train_accuracy=round(stats["accuracy_sum"] / seen, 6) if seen else None,
                train_statistics_partial=bool(stats.get("partial")),
                steps=step, learning_rate=_number(model.optimizer.learning_rate),
                train_seconds=round(stats.get("train_seconds", 0.0), 1),
                seconds_per_step=stats["seconds_per_step"],
                eval_seconds=round(evaluated, 1), sessions=stats.get("sessions", 1),
                batch_size=BATCH_SIZE, samples=args.samples, test_samples=args.test_samples,
                options=run.options, seed=args.seed, backend=backend,
                versions=versions(backend), machine=machine(),
                finished=datetime.datetime.now(datetime.timezone.utc).isoformat(
                    timespec="seconds"))
            run.record(row)
            recorded = epoch
            print(f"epoch {epoch}: test error {row['test_error_percent']:.2f}% "
                  f"({row['test_errors']} of {row['test_images']:,}; paper {PAPER_PERCENT}%, "
                  f"CapsNet-Keras {MARKER_PERCENT}% after {MARKER_EPOCHS} epochs), train loss "
                  f"{row['train_loss']}, {row['train_seconds']:.0f} s of training, "
                  f"{evaluated:.0f} s to test", flush=True)
            stats = dict(steps=step, seconds_per_step=stats["seconds_per_step"],
                         save_seconds=stats.get("save_seconds", 0),
                         eval_seconds=round(evaluated, 1))
            _write_atomically(run.statistics, json.dumps(stats) + "\n")
            continue
        if epoch >= args.epochs:
            print(f"done: {epoch} epochs recorded in {run.results}", flush=True)
            break
        # Size the chunk to the budget left, by the seconds per step measured so far
        # (and keep the time to evaluate if the chunk ends the epoch).
        count = min(args.chunk_steps, per_epoch - done)
        rate = stats["seconds_per_step"]
        if rate is None and budget is not None:
            count = min(count, 5)  # a first measure of the rate to size the next chunks by
        if rate and budget is not None:  # each chunk ends with a save
            count = min(count, int((left() - stats.get("save_seconds", 0)) / rate))
            if done + count == per_epoch and left() < count * rate + stats.get("eval_seconds",
                                                                                0):
                count -= 1
        if count < 1 or left() <= 0:
            print(f"stopping at step {step:,} (epoch {epoch + 1}, {done} of {per_epoch} "
                  "steps): the session's budget is spent; rerun to go on", flush=True)
            break
        batch = order(args.seed, epoch + 1, len(x))[done * BATCH_SIZE:
                                                    (done + count) * BATCH_SIZE]
        start = time.perf_counter()
        history = model.fit(x[batch], y[batch], batch_size=BATCH_SIZE, epochs=1, shuffle=False,
                            verbose=0).history
        seconds = time.perf_counter() - start
        if int(_number(model.optimizer.iterations)) != step + count:
            raise SystemExit("the optimizer's step count does not match the batches trained")
        # The first chunk of a session includes tracing/compiling: not a rate to plan by,
        # unless it is all there is.
        if session_steps or rate is None:
            stats["seconds_per_step"] = round(seconds / count, 3)
        session_steps += count
        if counted_for != epoch:  # the sessions that trained part of this epoch
            stats["sessions"] = stats.get("sessions", 0) + 1
            counted_for = epoch
        stats.update(steps=step + count,
                     loss_sum=stats.get("loss_sum", 0.0) + history["loss"][0] * len(batch),
                     accuracy_sum=stats.get("accuracy_sum", 0.0)
                     + history["accuracy"][0] * len(batch),
                     samples_seen=stats.get("samples_seen", 0) + len(batch),
                     train_seconds=stats.get("train_seconds", 0.0) + seconds)
        saving = time.perf_counter()
        run.save(model, stats)
        stats["save_seconds"] = round(time.perf_counter() - saving, 1)  # kept by the next save
        print(f"epoch {epoch + 1}, step {done + count} of {per_epoch}: loss "
              f"{history['loss'][0]:.4f}, accuracy {history['accuracy'][0]:.4f}, "
              f"{seconds / count:.2f} s a step; saved", flush=True)
    print(f"this session: {session_steps} steps, {time.perf_counter() - began:.0f} s",
          flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
