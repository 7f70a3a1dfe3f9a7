"""The Heaviside step: the all-or-none unit of McCulloch & Pitts (1943) and Rosenblatt (1958)."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_history")
class Heaviside(keras.layers.Layer):
    """Outputs exactly 1 where the input is at or above `threshold`, else 0.

    As in the perceptron snippet (`0 if x < 0 else 1`), a sum of exactly
    zero fires. The step has no useful gradient, which is why the perceptron
    rule, not backpropagation, trains it.

    Args:
        threshold: the value at which the unit starts to fire.
    """

    def __init__(self, threshold: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.threshold = float(threshold)

    def call(self, inputs):
        return ops.cast(ops.greater_equal(inputs, self.threshold), self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "threshold": self.threshold}
