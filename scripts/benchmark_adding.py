"""The adding problem (Hochreiter & Schmidhuber 1997, Experiment 4, Table 7) for the 1997 LSTM.

The paper's net: 2 blocks of 2 cells, 2 inputs, 1 output, 93 weights,
learning rate 0.5, input gate biases -3 and -6 (to keep the cells shut
until they have learnt what to store). Training is online, one update per
sequence, on fresh random sequences. Stopping rule, as close to the paper's
as a chunked loop allows: after every `--chunk` sequences (2,000, the
paper's window) the chunk just trained on is run again; training stops when
all of it is within 0.04 of its targets and its mean squared error is below
0.01. (The paper judged each of the 2,000 most recent sequences as it was
processed; we judge them with the weights at the chunk's end.)

    KERAS_BACKEND=jax python scripts/benchmark_adding.py --trials 5 --length 100

One JSON line per trial goes to `--out`; with `--save-weights DIR` the first
trial's net is saved there after every chunk (weights and a JSON note of the
sequences it has seen), for the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import keras
import numpy as np

from keras_history import models
from keras_history.datasets import adding

NET = dict(blocks=2, cells_per_block=2, input_features=2, units=1, return_sequences=False,
           cell_bias=True, output_bias=True, input_gate_bias=[-3.0, -6.0],
           output_gate_bias=None, learning_rate=0.5)


def trial(seed: int, length: int, budget: int, chunk: int, save: str | None) -> dict:
    model = models.lstm_1997(seed=seed, **NET)
    seen, training_time, success = 0, 0.0, None
    while seen < budget:
        x, y = adding.load_data(chunk, length, seed=1_000_000 * (seed + 1) + seen)
        start = time.perf_counter()
        model.train_on_batch(x, y)
        training_time += time.perf_counter() - start
        seen += chunk
        y_pred = model.predict_on_batch(x)
        if save and seed == 0:  # the first trial's net, as far as it got, for the figures
            os.makedirs(save, exist_ok=True)
            model.save_weights(os.path.join(save, f"adding_T{length}.weights.h5"))
            with open(os.path.join(save, f"adding_T{length}.json"), "w") as file:
                json.dump(dict(sequences=seen, net=NET, seed=seed), file)
        if adding.correct(y_pred, y).all() and np.mean((y_pred - y) ** 2) < 0.01:
            success = seen
            break
    return dict(task=f"adding T={length}", seed=seed, backend=keras.backend.backend(),
                budget=budget, chunk=chunk, sequences_to_success=success, sequences=seen,
                seconds_per_1000=1000 * training_time / seen)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--length", type=int, default=100)
    parser.add_argument("--budget", type=int, default=300_000)
    parser.add_argument("--chunk", type=int, default=2000)
    parser.add_argument("--out", default="docs/results/adding.jsonl")
    parser.add_argument("--save-weights", default=None)
    args = parser.parse_args()
    with open(args.out, "a") as out:
        for seed in range(args.trials):
            result = trial(seed, args.length, args.budget, args.chunk, args.save_weights)
            print(json.dumps(result), flush=True)
            out.write(json.dumps(result) + "\n")
            out.flush()


if __name__ == "__main__":
    main()
