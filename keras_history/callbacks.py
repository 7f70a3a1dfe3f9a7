"""Callbacks every keras_history model trains with."""

from __future__ import annotations

import math

import keras


class DivergenceError(FloatingPointError):
    """Training blew up: the loss stopped being a finite number."""


class DivergenceGuard(keras.callbacks.Callback):
    """Stops training when the loss is no longer finite, restoring the last finite weights.

    A rule with too large a step runs off to infinity and then NaN; a model
    trained that way must not come back looking trained. At the end of each
    epoch the logged loss is checked; if it is NaN or infinite, the weights
    (and rule state) from the start of that epoch are put back and a
    `DivergenceError` names the epoch and the learning rate. Checking per
    epoch, not per batch, keeps the compiled steps free of host round trips.
    """

    def on_epoch_begin(self, epoch, logs=None):
        self._last_finite = self.model.get_weights()

    def on_epoch_end(self, epoch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None or math.isfinite(float(loss)):
            return
        self.model.set_weights(self._last_finite)
        self.model.stop_training = True
        rate = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        raise DivergenceError(
            f"{self.model.name} diverged in epoch {epoch + 1}: the loss became {loss}. "
            f"Its weights were restored to their last finite values (the start of that "
            f"epoch). The learning rate {rate:g} is too large for this data; try a smaller "
            "one, or scale the inputs."
        )
