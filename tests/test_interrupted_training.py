"""A training run killed by SIGKILL and started again loses nothing (BackupAndRestore).

A worker process (interrupted_training_worker.py) trains every model with
BackupAndRestore and is killed mid-epoch by a real SIGKILL. This process then
plays the restarted program: for each model it builds it afresh, scrambles
every weight and optimizer variable (so only the restore can make it right),
and fits with the same backup folder. The resumed weights, rule state (the
least-squares statistics...) and optimizer state (step count, Adam's moments)
must equal, bitwise, those of the same model reset to its initial state and
trained without interruption.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from cases import state, variables
from interrupted_training_worker import (
    EPOCHS,
    KILL_EPOCH,
    Epochs,
    fresh,
    scramble,
)

from keras_history.timeline import TIMELINE

TESTS = Path(__file__).resolve().parent
NAMES = sorted(m.name for m in TIMELINE)


@pytest.fixture(scope="module")
def killed_run(tmp_path_factory):
    """The worker's folder after its death, and how it died."""
    workdir = tmp_path_factory.mktemp("interrupted")
    env = {**os.environ, "KERAS_BACKEND": keras.backend.backend(), "TF_CPP_MIN_LOG_LEVEL": "3",
           "PYTHONPATH": os.pathsep.join([str(TESTS.parent), str(TESTS)])}
    done = subprocess.run([sys.executable, str(TESTS / "interrupted_training_worker.py"),
                           str(workdir)], cwd=workdir, env=env, capture_output=True, text=True,
                          timeout=1200)
    return workdir, done


def test_the_worker_dies_by_sigkill_with_every_model_mid_training(killed_run):
    workdir, done = killed_run
    assert done.returncode == -signal.SIGKILL, done.stderr[-3000:]
    assert json.loads((workdir / "killed.json").read_text()) == NAMES  # all in flight
    for name in NAMES:
        backup = workdir / f"{name}-backup"
        assert (backup / "latest.weights.h5").is_file(), name
        metadata = json.loads((backup / "training_metadata.json").read_text())
        assert metadata["epoch"] == KILL_EPOCH, name  # epochs 0..KILL_EPOCH-1 are saved


@pytest.mark.parametrize("name", NAMES)
def test_restarted_training_ends_exactly_where_uninterrupted_training_does(killed_run, name):
    workdir, done = killed_run
    assert done.returncode == -signal.SIGKILL, done.stderr[-3000:]
    model, x, y, fit_options = fresh(name)
    initial = state(model)
    scramble(model)
    resumed_epochs, backup = Epochs(), workdir / f"{name}-backup"
    model.fit(x, y, epochs=EPOCHS, shuffle=False, verbose=0, **fit_options,
              callbacks=[keras.callbacks.BackupAndRestore(str(backup)), resumed_epochs])
    assert resumed_epochs.ran == list(range(KILL_EPOCH, EPOCHS))
    assert not backup.exists()  # a finished run removes its backup
    resumed = state(model)

    for variable, value in zip(variables(model), initial):  # the same compiled step, reset
        variable.assign(value)
    reference_epochs = Epochs()
    model.fit(x, y, epochs=EPOCHS, shuffle=False, verbose=0, **fit_options,
              callbacks=[reference_epochs])
    assert reference_epochs.ran == list(range(EPOCHS))
    paths = [v.path for v in variables(model)]
    assert any(p.endswith("iteration") for p in paths)  # the step count is compared too
    for path, ours, theirs in zip(paths, resumed, state(model), strict=True):
        np.testing.assert_array_equal(ours, theirs, err_msg=f"{name}: {path}")


class Crash(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 1:
            raise RuntimeError("crash")


def test_a_later_fit_runs_all_its_epochs_after_a_resumed_one(tmp_path):
    # Keras leaves the resumed epoch on the model; keras_history's fit clears it.
    from keras_history import models

    model = models.gradient_descent()
    x = np.zeros((1, 1))
    backup = keras.callbacks.BackupAndRestore(str(tmp_path / "backup"))
    with pytest.raises(RuntimeError, match="crash"):
        model.fit(x, epochs=4, verbose=0, callbacks=[backup, Crash()])
    history = model.fit(x, epochs=4, verbose=0, callbacks=[backup])  # resumes at epoch 2
    assert len(history.history["loss"]) == 2
    history = model.fit(x, epochs=3, verbose=0)
    assert len(history.history["loss"]) == 3
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 4 + 3
