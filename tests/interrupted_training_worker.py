"""Helper for test_interrupted_training: every model trains with BackupAndRestore, then dies.

    python interrupted_training_worker.py WORKDIR

Every case's training starts at once, nested: when model k reaches the first
batch of epoch KILL_EPOCH, a callback starts model k+1's `fit` from inside
model k's; the last one SIGKILLs the process. One real, unannounced death thus
cuts every run off mid-training (after the backup of epoch KILL_EPOCH - 1, with
the current epoch's work unsaved), at the cost of one TensorFlow/JAX start-up.
The test process then plays the restarted program.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import keras
import numpy as np
from cases import CASES, make, variables

from keras_history.building import build_for

EPOCHS = 4
KILL_EPOCH = 2  # 0-based: the third epoch dies; the backup holds epochs 0 and 1


class Epochs(keras.callbacks.Callback):
    """Records the epochs that ran; calls `then` at the first batch end of `kill_epoch`."""

    def __init__(self, then=None, kill_epoch: int = KILL_EPOCH):
        super().__init__()
        self.ran, self.then, self.kill_epoch = [], then, kill_epoch

    def on_epoch_begin(self, epoch, logs=None):
        self.ran.append(epoch)

    def on_train_batch_end(self, batch, logs=None):
        if self.then is not None and self.ran[-1] == self.kill_epoch and batch == 0:
            then, self.then = self.then, None
            then()


# Fewer samples than the shared case, two batches an epoch still: the kill test's speed.
SAMPLES = {"mnist_convnet": 16}


def fresh(name: str):
    """The case's model, as the killed run and the restart build it: seed 0, built."""
    keras.utils.set_random_seed(0)
    model, x, y, fit_options = make(name, fit=False)
    if name in SAMPLES:
        x, y = x[:SAMPLES[name]], y[:SAMPLES[name]]
        fit_options = {**fit_options, "batch_size": SAMPLES[name] // 2}
    if not model.built:
        build_for(model, np.shape(x)[1:])
    model.optimizer.build(model.trainable_variables)
    return model, x, y, fit_options


def scramble(model) -> None:
    """Garbage in every weight and optimizer variable: only a real restore can fix it."""
    for variable in variables(model):
        dtype = keras.backend.standardize_dtype(variable.dtype)
        variable.assign(np.full(variable.shape, 7 if "int" in dtype else 0.123, dtype))


def first(workdir: Path) -> None:
    names = sorted(CASES)
    in_flight = []

    def start(index: int) -> None:
        if index == len(names):
            (workdir / "killed.json").write_text(json.dumps(in_flight))
            os.kill(os.getpid(), signal.SIGKILL)
        name = names[index]
        model, x, y, fit_options = fresh(name)
        in_flight.append(name)
        backup = keras.callbacks.BackupAndRestore(str(workdir / f"{name}-backup"))
        model.fit(x, y, epochs=EPOCHS, shuffle=False, verbose=0, **fit_options,
                  callbacks=[backup, Epochs(then=lambda: start(index + 1))])
        raise AssertionError(f"{name} finished training: the kill never came")

    start(0)


if __name__ == "__main__":
    import keras_history

    root = Path(__file__).resolve().parents[1]
    assert Path(keras_history.__file__).resolve().is_relative_to(root), keras_history.__file__
    first(Path(sys.argv[1]))
