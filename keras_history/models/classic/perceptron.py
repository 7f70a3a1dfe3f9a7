"""The perceptron (Frank Rosenblatt, 1958).

Rosenblatt's Mark I Perceptron was a machine: photocells wired to a unit
that sums its weighted inputs and fires (1) or stays quiet (0) by a
Heaviside step. Its learning rule is almost embarrassingly simple. Show it
one example; if it answered wrongly, nudge each weight by the input that
should (or should not) have made it fire:

    w += learning_rate · (target − output) · x

The seed snippet learns OR this way, one randomly chosen example at a time.
Rosenblatt proved the rule finds a separating line whenever one exists: OR,
AND and NAND reach zero errors. XOR has no such line, and in 1969 Minsky and
Papert made that the emblem of the perceptron's limits; the `errors` count
in the training logs never reaches zero on it.

The rule is online: within a batch the samples are taken one after
another, each update seen by the next, so the result does not depend on the
batch size. Shuffle (the default in `fit`) to draw examples in random order.
"""

from __future__ import annotations

import keras
from keras import ops

from keras_history import validation
from keras_history.building import build_for
from keras_history.layers import Heaviside
from keras_history.models.base import LearningRuleModel, compiled_for_rule
from keras_history.timeline import milestone
from keras_history.weights.loading import with_weights

__all__ = ["Perceptron", "perceptron"]


@keras.saving.register_keras_serializable(package="keras_history")
class Perceptron(LearningRuleModel):
    """A layer of Heaviside units trained by the perceptron rule. See `perceptron()`."""

    default_learning_rate = 0.2  # the snippet's eta

    def __init__(self, units: int = 1, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        validation.check_option("units", units, isinstance(units, int) and units >= 1,
                                "an integer >= 1")
        validation.check_seed(seed)
        self.units = units
        self.seed = seed
        self.step_function = Heaviside()
        self.errors_tracker = keras.metrics.Sum(name="errors")

    def build(self, input_shape):
        features = input_shape[-1]
        # The snippet starts from random.rand: uniform on [0, 1).
        init = keras.initializers.RandomUniform(0.0, 1.0, seed=self.seed)
        self.kernel = self.add_weight(shape=(features, self.units), name="kernel",
                                      initializer=init)
        self.bias = self.add_weight(shape=(self.units,), name="bias", initializer=init)

    def call(self, inputs):
        return self.step_function(ops.matmul(inputs, self.kernel) + self.bias)

    def cost(self, y, y_pred):
        """The error rate: the fraction of wrong answers."""
        return ops.mean(ops.abs(y - y_pred))

    def rule(self, x, y):
        def learn_one(i, state):
            kernel, bias, errors = state
            xi, target = x[i], y[i]
            output = self.step_function(ops.matmul(xi, kernel) + bias)
            error = target - output
            return (kernel + self.learning_rate * ops.outer(xi, error),
                    bias + self.learning_rate * error,
                    errors + ops.sum(ops.abs(error)))

        y_pred = self(x)
        kernel, bias, errors = ops.fori_loop(
            0, ops.shape(x)[0], learn_one,
            (self.kernel.value, self.bias.value, ops.zeros((), self.compute_dtype)),
        )
        self.kernel.assign(kernel)
        self.bias.assign(bias)
        self.errors_tracker.update_state(errors)
        return y_pred, errors / ops.cast(ops.size(y), errors.dtype)

    def check_data(self, x, y):
        x, y = super().check_data(x, y)
        if y is not None:
            validation.check_values_in(y, (0, 1), "y (perceptron targets)")
        return x, y

    def get_config(self) -> dict:
        return {**super().get_config(), "units": self.units, "seed": self.seed}


@milestone("perceptron")
def perceptron(learning_rate: float = Perceptron.default_learning_rate, units: int = 1,
               input_dim: int | None = None, seed: int | None = None, steps_per_batch: int = 1,
               weights: str | None = None,
               compile: bool = True, name: str = "perceptron") -> Perceptron:
    """Rosenblatt's perceptron: weighted sum, Heaviside step, perceptron rule.

    Targets must be 0 or 1. The logs report `errors`, the number of wrong
    answers the rule met during the epoch, and `loss`, their rate.

    Example:

    ```python
    x, y = keras_history.datasets.logic_gate("or")
    model = keras_history.models.perceptron(seed=0)
    model.fit(x, y, epochs=25, batch_size=1)   # errors falls to 0
    model.predict(x)                            # [[0], [1], [1], [1]]
    ```

    Args:
        learning_rate: how far one mistake moves the weights.
        units: number of independent step units (columns of `y`).
        input_dim: number of inputs; None to take it from the first data.
        seed: seed of the uniform [0, 1) initial weights.
        steps_per_batch: passes of the rule over each batch.
        weights: None (untrained), the name of a weight set shipped for it
            (`keras_history.weights.names("perceptron")`), or the path of a
            `.weights.h5`/`.keras` file.
        compile: compile the model, ready for `fit`.
        name: the model's name.

    Returns:
        A `Perceptron` model.
    """
    model = Perceptron(units=units, seed=seed, steps_per_batch=steps_per_batch, name=name)
    build_for(model, None if input_dim is None else (input_dim,))
    model = compiled_for_rule(model, learning_rate, compile)
    return with_weights(model, "perceptron", weights)
