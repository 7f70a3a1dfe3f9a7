"""Helper for test_reliability: train every case with BackupAndRestore, SIGKILLing itself.

    python interrupted_training.py WORKDIR

Each run trains the cases in order, skipping those with results. A case whose
kill marker is missing writes it and kills the process at the end of epoch 2:
a real, unannounced death. The next run resumes that case from its backup.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import keras
import numpy as np
from cases import CASES, make

EPOCHS = 4


class KillAfterSecondEpoch(keras.callbacks.Callback):
    def __init__(self, marker: Path):
        super().__init__()
        self.marker = marker

    def on_epoch_end(self, epoch, logs=None):
        if epoch == 1 and not self.marker.exists():
            self.marker.touch()
            os.kill(os.getpid(), signal.SIGKILL)


def main(workdir: Path) -> None:
    for name in sorted(CASES):
        result = workdir / f"{name}.npz"
        if result.exists():
            continue
        keras.utils.set_random_seed(0)
        model, x, y, fit_options = make(name, fit=False)
        backup = keras.callbacks.BackupAndRestore(str(workdir / f"{name}-backup"))
        model.fit(x, y, epochs=EPOCHS, shuffle=False, verbose=0, **fit_options,
                  callbacks=[backup, KillAfterSecondEpoch(workdir / f"{name}.killed")])
        np.savez(result, *[keras.ops.convert_to_numpy(v) for v in model.weights],
                 iterations=keras.ops.convert_to_numpy(model.optimizer.iterations))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
