"""The simple recurrent network of Jeffrey Elman's "Finding Structure in Time" (1990)."""

from __future__ import annotations

import keras
from keras import ops

from keras_history import validation
from keras_history.layers.recurrent import Recurrent


@keras.saving.register_keras_serializable(package="keras_history")
class ElmanRNN(Recurrent):
    """A sigmoid hidden layer that also sees a copy of its previous activations.

        h(t) = σ(x(t)·W + c(t)·U + b),    c(t+1) = h(t)

    Elman's context units hold the copy; to the learning rule they are just
    more inputs, so with `truncate=True` (Elman's 1990 training) the error is
    backpropagated one step only and never through the copy. `truncate=False`
    backpropagates through time.

    Args:
        units: number of hidden (and context) units.
        use_bias: give the hidden units a bias.
        truncate: stop the gradient at the context units (True) or not.
        seed: seed of the initial weights, uniform in [-0.5, 0.5].
    """

    def __init__(self, units: int = 15, use_bias: bool = True, truncate: bool = True,
                 seed: int | None = None, **kwargs):
        super().__init__(truncate=truncate, seed=seed, **kwargs)
        validation.check_option("units", units,
                                validation.is_integer(units) and units >= 1, "an integer >= 1")
        self.units = int(units)
        self.use_bias = bool(use_bias)

    def build(self, input_shape):
        shapes = {"kernel": (input_shape[-1], self.units),
                  "context_kernel": (self.units, self.units), "bias": (self.units,)}
        if not self.use_bias:
            del shapes["bias"]
        self.add_uniform_weights(shapes, 0.5)

    @property
    def output_size(self) -> int:
        return self.units

    state_size = trace_size = output_size

    def step(self, state, x_t):
        net = ops.matmul(x_t, self.kernel) + ops.matmul(state, self.context_kernel)
        hidden = ops.sigmoid(net + self.bias if self.use_bias else net)
        return self.cut(hidden), hidden

    def get_config(self) -> dict:
        return {**super().get_config(), "units": self.units, "use_bias": self.use_bias}
