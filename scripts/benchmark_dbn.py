"""Benchmark: `deep_belief_net()` on full MNIST: greedy RBM pretraining, then fine-tuning.

    python scripts/benchmark_dbn.py --data ../shared/data/mnist --pretrain-epochs 1 --epochs 2
    python scripts/benchmark_dbn.py --epochs 4        # resumes fine-tuning at epoch 3

Pretrains the 784-500-500-2000 stack (`--pretrain-epochs` CD-1 epochs per
RBM, rbm.m's batch 100), then fine-tunes the 784-500-500-2000-10 classifier
at batch 100 (`--top-layer-epochs` epochs of the top layer alone first).
Appends JSON rows to docs/results/dbn_mnist.jsonl: one per pretrained layer
(reconstruction error per case, seconds) and one per fine-tuning epoch (test
error, train loss, seconds), with backend and seed. The net is saved to
`--checkpoints/dbn.keras` after pretraining and after every epoch; a later
run with the same settings goes on from the last epoch recorded. The papers'
~1.2% took 50 epochs per RBM and 200 of fine-tuning.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import time

import keras

import keras_history
from keras_history import models
from keras_history.datasets import mnist

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs" / "results" / "dbn_mnist.jsonl"
BATCH_SIZE = 100


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="IDX folder or mnist.npz "
                        f"(default: ${mnist.ENV_VAR}, then ../shared/data/mnist)")
    parser.add_argument("--pretrain-epochs", type=int, default=1, help="CD-1 epochs per RBM")
    parser.add_argument("--epochs", type=int, default=2, help="fine-tune up to this epoch")
    parser.add_argument("--top-layer-epochs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--results", default=str(RESULTS))
    parser.add_argument("--checkpoints", default="/tmp/keras_history_dbn")
    args = parser.parse_args(argv)
    if args.epochs < 0 or args.pretrain_epochs < 0:
        parser.error("--epochs and --pretrain-epochs must be at least 0")
    return args


def recorded(results: pathlib.Path, run: dict) -> list[dict]:
    """The rows of this run (same settings, seed and backend) already in `results`."""
    if not results.exists():
        return []
    rows = [json.loads(line) for line in results.read_text().splitlines() if line.strip()]
    return [r for r in rows if all(r.get(k) == v for k, v in run.items())]


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    keras.utils.set_random_seed(args.seed)
    (x, y), (x_test, y_test) = mnist.load_data(args.data)
    results = pathlib.Path(args.results)
    results.parent.mkdir(parents=True, exist_ok=True)
    checkpoint = pathlib.Path(args.checkpoints) / "dbn.keras"
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    run = dict(backend=keras.backend.backend(), seed=args.seed,
               pretrain_epochs=args.pretrain_epochs, top_layer_epochs=args.top_layer_epochs)
    rows = recorded(results, run)

    def record(row: dict) -> None:
        row = {**row, **run, "keras_history": keras_history.__version__}
        print(json.dumps(row), flush=True)
        with results.open("a") as file:
            file.write(json.dumps(row) + "\n")

    done = max((r["epoch"] for r in rows if r["stage"] == "finetune"), default=0)
    pretrained = any(r["stage"] == "pretrain" for r in rows)
    if pretrained and checkpoint.exists():
        model = keras.saving.load_model(checkpoint)
    else:
        done = 0
        model = models.deep_belief_net(seed=args.seed, top_layer_epochs=args.top_layer_epochs)
        if args.pretrain_epochs:
            start = time.time()
            histories = model.pretrain(x, epochs=args.pretrain_epochs, batch_size=BATCH_SIZE,
                                       verbose=2)
            seconds = time.time() - start
            for layer, history in enumerate(histories, start=1):
                record(dict(stage="pretrain", layer=layer,
                            reconstruction_error=history.history["reconstruction_error"][-1],
                            seconds_all_layers=round(seconds, 1)))
        model.save(checkpoint)
    for epoch in range(done + 1, args.epochs + 1):
        start = time.time()
        history = model.fit(x, y, batch_size=BATCH_SIZE, epochs=epoch, initial_epoch=epoch - 1,
                            verbose=2)
        seconds = time.time() - start
        accuracy = model.evaluate(x_test, y_test, batch_size=1000, verbose=0)[1]
        record(dict(stage="finetune", epoch=epoch, test_error=round(1 - accuracy, 4),
                    train_loss=history.history["loss"][-1], seconds=round(seconds, 1)))
        model.save(checkpoint)


if __name__ == "__main__":
    main()
