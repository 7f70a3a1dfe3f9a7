"""Callbacks every keras_history model trains with."""

from __future__ import annotations

import math
import warnings

import keras


class DivergenceError(FloatingPointError):
    """Training blew up: the loss or a weight stopped being a finite number."""


class StuckAtChanceWarning(UserWarning):
    """A classifier's training accuracy stayed at chance while its loss did not fall."""


# A classifier is "at chance" within this of 1/classes (10 classes: below 15%); the
# margin covers a net that has learned only the commonest class.
CHANCE_MARGIN = 0.05
# ... and "not learning" if its loss fell by less than 1% in the epoch.
STALLED_LOSS = 0.99
ACCURACY_LOGS = ("accuracy", "sparse_categorical_accuracy", "categorical_accuracy",
                 "binary_accuracy")


class DivergenceGuard(keras.callbacks.Callback):
    """Stops training when the loss or a weight stops being finite; restores the last finite state.
    Warns when a classifier is stuck at chance.

    A rule with too large a step runs off to infinity and then NaN; a model
    trained that way must not come back looking trained. At the end of each
    epoch the logged loss and every weight are checked (the weights too,
    because a rule's loss is measured before its last update). If any is NaN
    or infinite, the model's weights, rule state and optimizer state (step
    count, Adam's moments) are put back as they were at the end of the last
    finite epoch (or the start of training), and a `DivergenceError` names the
    epoch, what went wrong and the learning rate. Checking per epoch, not per
    batch, keeps the compiled steps free of host round trips.

    A net can also die without a NaN: its training accuracy stays at chance
    (within 5 points of 1/classes) while its loss no longer falls. The first epoch (from the
    second on) whose accuracy is at chance and whose loss fell by less than 1%
    raises a `StuckAtChanceWarning` naming the epoch, the accuracy and what to try.
    """

    def _variables(self) -> list:
        optimizer = self.model.optimizer
        return list(self.model.weights) + (list(optimizer.variables) if optimizer else [])

    def on_train_begin(self, logs=None):
        optimizer = self.model.optimizer
        if optimizer is not None and not optimizer.built:  # so Adam's moments are restored too
            optimizer.build(self.model.trainable_variables)
        self._all = variables = self._variables()
        self._checked = [w for w in self.model.weights
                         if keras.backend.is_float_dtype(w.dtype)]

        def snapshot():
            # Copies stay on the device, and one small array of flags comes to the host.
            # Eager, not compiled: TensorFlow counts each new model's first trace of a
            # compiled snapshot as a "retracing" and warns after five models.
            finite = [keras.ops.all(keras.ops.isfinite(w)) for w in self._checked]
            return ([keras.ops.copy(v) for v in variables],
                    keras.ops.stack(finite) if finite else keras.ops.ones((0,), "bool"))

        self._snapshot = snapshot
        self._last_finite = list(zip(variables, self._snapshot()[0]))
        self._last_loss, self._warned = None, False

    def on_epoch_end(self, epoch, logs=None):
        loss = (logs or {}).get("loss")
        values, finite = self._snapshot()
        problem = None
        if loss is not None and not math.isfinite(float(loss)):
            problem = f"the loss became {loss}"
        else:
            bad = [w.path for w, ok in zip(self._checked, keras.ops.convert_to_numpy(finite))
                   if not ok]
            if bad:
                problem = f"its weights became NaN or infinite ({', '.join(bad)})"
        if problem is None:
            self._last_finite = list(zip(self._all, values))
            self._check_learning(epoch, logs or {})
            return
        rate = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        for variable, value in self._last_finite:
            variable.assign(value)
        self.model.stop_training = True
        raise DivergenceError(
            f"{self.model.name} diverged in epoch {epoch + 1}: {problem}. Its weights and "
            f"optimizer state were put back as they were before epoch {epoch + 1}, the last "
            f"finite ones. Either the learning rate {rate:g} is too large for this data (try "
            "a smaller one, or scale the inputs) or the data holds NaN or infinity (arrays "
            "are checked before training; datasets and generators cannot be)."
        )


    def _check_learning(self, epoch: int, logs: dict) -> None:
        accuracy = next((logs[k] for k in ACCURACY_LOGS if k in logs), None)
        loss = logs.get("loss")
        if accuracy is None or loss is None:
            return
        loss, last = float(loss), self._last_loss
        self._last_loss = loss
        if last is None:
            return
        classes = getattr(self.model, "classes", None)
        if not isinstance(classes, int):
            classes = 2 if "binary_accuracy" in logs else None
        chance = None if classes is None else 1 / classes
        if (self._warned or chance is None or float(accuracy) >= chance + CHANCE_MARGIN
                or loss < STALLED_LOSS * last):
            return
        self._warned = True
        batch_size = (self.params or {}).get("batch_size")
        warnings.warn(
            f"{self.model.name} is not learning: after epoch {epoch + 1} its training "
            f"accuracy is {float(accuracy):.1%}, chance for {classes} classes is {chance:.1%}, "
            f"and its loss ({loss:.4g}) has stopped falling (epoch {epoch}: {last:.4g}). "
            "Check the learning rate"
            + (f" and batch size ({batch_size})" if batch_size else "")
            + ", that the inputs are scaled as the model expects, and that the labels match "
            "the inputs.", StuckAtChanceWarning, stacklevel=2)


class RuleProgbar(keras.callbacks.ProgbarLogger):
    """Keras's progress bar, counting rule steps instead of batches.

    A learning-rule model applies its rule `steps_per_batch` times to each
    batch; the bar's target is the epoch's rule steps. `fit` may hand Keras
    `batches_per_call` batches at once, and `advance` moves the bar between
    the compiled chunks of a long batch (`LearningRuleModel.fit`).
    """

    def __init__(self, steps_per_batch: int):
        super().__init__()
        self.steps_per_batch = steps_per_batch
        self.batches_per_call = 1
        self.epoch_steps = None  # the epoch's rule steps, once known

    def set_params(self, params):
        super().set_params(params)
        if self.epoch_steps is not None:  # known for arrays (the last call may be short)
            self.target = self.epoch_steps
        elif self.target is not None:
            self.target *= self.steps_per_batch

    def advance(self, steps: int, logs=None) -> None:
        """Move the bar `steps` rule steps on (within a batch), showing `logs`."""
        self._maybe_init_progbar()
        self.seen += steps
        if self.verbose == 1:
            values = [(k, float(keras.ops.convert_to_numpy(v))) for k, v in (logs or {}).items()]
            self.progbar.update(self.seen, values, finalize=False)

    def _update_progbar(self, batch, logs=None):
        # Call `batch` ends after (batch + 1) · batches_per_call · steps_per_batch rule steps.
        seen = (batch + 1) * self.batches_per_call * self.steps_per_batch
        super()._update_progbar(min(seen, self.target or seen) - 1, logs)
