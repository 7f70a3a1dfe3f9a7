"""What the recurrent milestones share: sigmoid outputs on a recurrent layer, and
online gradient descent, one weight update per sequence.

Both nets were trained online: a sequence is presented, the error gradient
of the whole sequence is taken (truncated as each paper did), and the
weights change before the next sequence is seen. `fit` keeps exactly that
rule, however large the batch: a batch of padded sequences is a queue, worked
through one sequence at a time inside one compiled loop (a batch of 64 is 64
updates). Large batches and `steps_per_execution` only cut Keras's per-call
overhead, which would otherwise dominate such tiny nets.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from keras_history import backend, validation
from keras_history.layers.recurrent import padding_mask
from keras_history.models.base import LearningRuleModel, compiled_for_rule

GRADIENTS = ("truncated", "bptt")

PADDING = ("pad them to one length with all-zero steps at the end, e.g. "
           "keras.utils.pad_sequences(sequences, padding='post', dtype='float32')")


class OnlineSequenceModel(LearningRuleModel):
    """A recurrent layer with sigmoid output units, trained one sequence per update.

    Inputs are (samples, steps, features) float sequences; steps whose features
    are all zero pad a sequence's end. With `return_sequences=True` the net
    answers at every step and targets are (samples, steps, units); otherwise it
    answers at each sequence's last real step and targets are (samples, units).
    The cost is the paper's E = ½ Σ (target − output)², summed over a
    sequence's steps; the rule is w ← w − lr · ∂E/∂w after each sequence.

    Subclasses set `self.recurrent` (a `keras_history.layers.recurrent.Recurrent`)
    and `output_limit` (the output weights start uniform in [-limit, limit]).
    """

    output_limit = 0.2
    loops_in_xla = False  # XLA cannot take the gradient of the loop over time (TensorArrays)

    def __init__(self, units: int = 7, return_sequences: bool = True,
                 output_bias: bool = False, gradient: str = "truncated",
                 seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        validation.check_option("units", units, validation.is_integer(units) and units >= 1,
                                "an integer >= 1")
        validation.check_option("gradient", gradient, gradient in GRADIENTS,
                                f"one of {', '.join(map(repr, GRADIENTS))}")
        validation.check_seed(seed)
        self.units, self.return_sequences = int(units), bool(return_sequences)
        self.output_bias, self.gradient, self.seed = bool(output_bias), gradient, seed

    def build(self, input_shape):
        self.recurrent.build(input_shape)
        hidden = self.recurrent.compute_output_shape(input_shape)[-1]
        seed = None if self.seed is None else self.seed + 100  # not the layer's numbers
        init = keras.initializers.RandomUniform(-self.output_limit, self.output_limit, seed)
        self.output_kernel = self.add_weight(shape=(hidden, self.units), initializer=init,
                                             name="output_kernel")
        self.output_bias_weight = (
            self.add_weight(shape=(self.units,), initializer="zeros", name="output_bias")
            if self.output_bias else None)

    def outputs(self, hidden):
        net = ops.matmul(hidden, self.output_kernel)
        if self.output_bias_weight is not None:
            net = net + self.output_bias_weight
        return ops.sigmoid(net)

    def call(self, inputs):
        mask = padding_mask(inputs)
        outputs = self.outputs(self.recurrent(inputs, mask=mask))
        if self.return_sequences:
            return outputs
        # The answer at each sequence's last real step.
        last = ops.one_hot(ops.sum(ops.cast(mask, "int32"), axis=1) - 1, ops.shape(inputs)[1])
        return ops.sum(outputs * ops.expand_dims(ops.cast(last, outputs.dtype), -1), axis=1)

    def cost(self, y, y_pred, x=None):
        """E = ½ Σ (target − output)² per sequence (over its real steps), averaged."""
        errors = ops.square(ops.cast(y, y_pred.dtype) - y_pred)
        if self.return_sequences:
            mask = ops.expand_dims(ops.cast(padding_mask(x), errors.dtype), -1)
            errors = errors * mask
        return 0.5 * ops.mean(ops.sum(ops.reshape(errors, (ops.shape(errors)[0], -1)), axis=1))

    def learning_rule(self, data) -> dict:
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        weights = self.trainable_variables

        def update(index):
            x_i = ops.expand_dims(ops.take(x, index, axis=0), 0)
            y_i = ops.expand_dims(ops.take(y, index, axis=0), 0)

            def loss_fn():
                y_pred = self(x_i)
                return self.cost(y_i, y_pred, x_i), y_pred

            loss, y_pred, grads = backend.value_and_grad(loss_fn, weights)
            for weight, grad in zip(weights, grads):
                weight.assign(weight - self.learning_rate * grad)
            self.loss_tracker.update_state(loss)
            self.optimizer.iterations.assign_add(1)
            self.compute_metrics(x_i, y_i, y_pred)

        backend.loop(update, ops.shape(x)[0], backend.all_state_variables(self))
        return self.get_metrics_result()

    def measure(self, data) -> dict:
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        y_pred = self(x)
        self.loss_tracker.update_state(self.cost(y, y_pred, x), sample_weight=ops.shape(x)[0])
        return self.compute_metrics(x, y, y_pred)

    def check_data(self, x, y):
        """Padded (samples, steps, features) sequences and targets in [0, 1]."""
        features = self.recurrent.kernel.shape[0] if self.built else "features"
        expected = f"(samples, steps, {features})"
        try:
            x = validation.as_numeric(x, "x")
        except ValueError as error:
            raise ValueError(f"{error} Sequences of different lengths: {PADDING}.") from None
        if x.ndim != 3 or (self.built and x.shape[-1] != features):
            raise ValueError(f"`x` must have shape {expected}, sequences padded at the end; "
                             f"got shape {x.shape}.")
        if y is not None:
            y = validation.as_numeric(y, "y")
            shape = (x.shape[1], self.units) if self.return_sequences else (self.units,)
            if y.shape[1:] != shape:
                steps = "steps, " if self.return_sequences else ""
                raise ValueError(
                    f"`y` must have shape (samples, {steps}{self.units})"
                    + (f" with the {x.shape[1]} steps of `x`" if self.return_sequences else "")
                    + f", got shape {y.shape}.")
            validation.check_same_length(x, y)
            validation.check_in_range(y, 0.0, 1.0, "y (targets of sigmoid outputs)")
        real = np.any(x != 0, axis=-1)
        empty = np.flatnonzero(~real.any(axis=1))
        if len(empty):
            raise ValueError(f"`x` sequence {empty[0]} has no step: all its steps are zero, "
                             "which marks padding. Give every sequence at least one step.")
        gaps = np.argwhere(~real[:, :-1] & real[:, 1:])
        if len(gaps):
            row, step = gaps[0]
            raise ValueError(f"`x` sequence {row} has an all-zero step at {step} before "
                             f"real steps: all-zero steps mark padding, so {PADDING}.")
        return x, y

    def get_config(self) -> dict:
        return {**super().get_config(), "units": self.units,
                "return_sequences": self.return_sequences, "output_bias": self.output_bias,
                "gradient": self.gradient, "seed": self.seed}


def built_and_compiled(model: OnlineSequenceModel, input_features: int, learning_rate: float,
                       compile: bool) -> OnlineSequenceModel:
    """Build `model` for sequences of any length and trace it once (for export)."""
    validation.check_option("input_features", input_features,
                            validation.is_integer(input_features) and input_features >= 1,
                            "an integer >= 1")
    shape = (None, None, int(input_features))
    model.build(shape)
    model(keras.KerasTensor(shape))
    return compiled_for_rule(model, learning_rate, compile)
