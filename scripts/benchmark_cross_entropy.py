"""The course's numbers (deeplearning.ai, week 3) and the TensorFlow Playground's default
net on its four sets, measured with fresh models through the calls the pages show.

    KERAS_BACKEND=jax python scripts/benchmark_cross_entropy.py

- flower, logistic regression: course 47% (sklearn's LogisticRegressionCV);
- flower, 4 tanh units, the course's starting weights, η = 1.2, 10,000
  full-batch steps: course "Cost after iteration 9000: 0.218607", 90%
  (printed with %d: 90.75% prints as 90%); the cost every 1,000 steps;
- the same from random starts (seeds 0 to 4);
- hidden layers of 1, 2, 3, 4, 5, 20, 50 units, 5,000 steps each: the course's
  table 67.5, 67.25, 90.75, 90.5, 91.25, 90.0, 90.25 %;
- the Playground's default (hidden 4 and 2 tanh, tanh output, ½(out − t)²,
  learning rate 0.03, batch 10, inputs x₁ x₂, 50% training data, noise 0) on
  circle, xor, gauss and spiral for `--epochs` of the Playground's epochs.

One JSON line per measurement goes to `--out` (appended).
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_history import datasets, models  # noqa: E402

COURSE_TABLE = {1: 67.5, 2: 67.25, 3: 90.75, 4: 90.5, 5: 91.25, 20: 90.0, 50: 90.25}
COURSE_COSTS = [0.693048, 0.288083, 0.254385, 0.233864, 0.226792, 0.222644, 0.219731,
                0.217504, 0.219454, 0.218607]


def accuracy(model, x, y) -> float:
    return float(np.mean((model.predict(x, verbose=0) > 0.5) == y))


class CostEvery(keras.callbacks.Callback):
    """The cost over all the data after each epoch, as the course prints it."""

    def __init__(self, x, y):
        super().__init__()
        self.x, self.y, self.costs = x, y, []

    def on_epoch_end(self, epoch, logs=None):
        self.costs.append(self.model.evaluate(self.x, self.y, verbose=0, return_dict=True)["loss"])


def timed(model, x, y, **fit_options) -> float:
    """Seconds of `model.fit(x, y, verbose=0, **fit_options)`."""
    start = time.perf_counter()
    model.fit(x, y, verbose=0, **fit_options)
    return time.perf_counter() - start


def flower_rows() -> list[dict]:
    x, y = datasets.flower()
    rows = []
    model = models.logistic_neuron(steps_per_batch=10_000)
    seconds = timed(model, x, y, batch_size=400, epochs=1)
    rows.append(dict(config="flower logistic_neuron", steps=10_000,
                     accuracy=accuracy(model, x, y), course=0.47, seconds=seconds))
    # The page's call, then the cost every 1,000 steps along the same 10,000.
    model = models.shallow_net(4, init="course", steps_per_batch=10_000)
    seconds = timed(model, x, y, batch_size=400, epochs=1)
    traced = models.shallow_net(4, init="course", steps_per_batch=1000)
    costs = CostEvery(x, y)
    start = traced.evaluate(x, y, verbose=0, return_dict=True)["loss"]
    traced.fit(x, y, batch_size=400, epochs=10, verbose=0, callbacks=[costs])
    rows.append(dict(config="flower shallow_net(4, init='course')", steps=10_000,
                     accuracy=accuracy(model, x, y), course=0.90,
                     cost_every_1000=[start, *costs.costs[:9]], course_costs=COURSE_COSTS,
                     seconds=seconds))
    for seed in range(5):
        model = models.shallow_net(4, seed=seed, steps_per_batch=10_000)
        seconds = timed(model, x, y, batch_size=400, epochs=1)
        rows.append(dict(config="flower shallow_net(4)", seed=seed, steps=10_000,
                         accuracy=accuracy(model, x, y), course=0.90, seconds=seconds))
    for units, course in COURSE_TABLE.items():
        model = models.shallow_net(units, init="course", steps_per_batch=5000)
        seconds = timed(model, x, y, batch_size=400, epochs=1)
        rows.append(dict(config=f"flower shallow_net({units}, init='course')", steps=5000,
                         accuracy=accuracy(model, x, y), course=course / 100, seconds=seconds))
    return rows


def playground_rows(epochs: int, seeds: int) -> list[dict]:
    rows = []
    for name in datasets.planar.PLAYGROUND_SETS:
        for seed in range(seeds):
            (x, y), (x_test, y_test) = datasets.playground(name, seed=seed)
            model = models.shallow_net((4, 2), output="tanh", seed=seed)
            seconds = timed(model, x, y, batch_size=10, epochs=epochs, shuffle=False)
            losses = [model.evaluate(a, b, verbose=0, return_dict=True)["loss"]
                      for a, b in ((x, y), (x_test, y_test))]
            rows.append(dict(config=f"playground {name} shallow_net((4, 2), output='tanh')",
                             seed=seed, epochs=epochs, train_loss=losses[0], test_loss=losses[1],
                             train_accuracy=accuracy(model, x, y),
                             test_accuracy=accuracy(model, x_test, y_test), seconds=seconds))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=500, help="Playground epochs")
    parser.add_argument("--seeds", type=int, default=3, help="Playground seeds per set")
    parser.add_argument("--out", default="docs/results/cross_entropy.jsonl")
    args = parser.parse_args()
    with open(args.out, "a") as out:
        for row in flower_rows() + playground_rows(args.epochs, args.seeds):
            row = dict(row, backend=keras.backend.backend(), machine="2-core CPU VM")
            print(json.dumps(row), flush=True)
            out.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
