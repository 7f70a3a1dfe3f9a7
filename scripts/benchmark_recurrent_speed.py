"""Seconds per 1,000 training sequences of the 1997 LSTM and the Elman net, on this backend.

    KERAS_BACKEND=jax python scripts/benchmark_recurrent_speed.py [--epochs 4]

The paper's Reber nets on the 256 training strings of `reber.load_data()`
(padded to 29 steps), `fit(batch_size=256)`: 256 online updates per compiled
call. The first epoch (tracing and compiling) is timed apart.
"""

from __future__ import annotations

import argparse
import time

import keras

from keras_history import models
from keras_history.datasets import reber


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args()
    (x, y), _ = reber.load_data()
    for name, model in (("lstm_1997", models.lstm_1997(seed=0)),
                        ("elman_rnn", models.elman_rnn(seed=0))):
        start = time.perf_counter()
        model.fit(x, y, batch_size=len(x), epochs=1, verbose=0)
        first = time.perf_counter() - start
        start = time.perf_counter()
        model.fit(x, y, batch_size=len(x), epochs=args.epochs, verbose=0)
        per_1000 = (time.perf_counter() - start) / (args.epochs * len(x)) * 1000
        print(f"{keras.backend.backend()} {name}: first epoch {first:.1f} s, then "
              f"{per_1000:.2f} s per 1,000 sequences")


if __name__ == "__main__":
    main()
