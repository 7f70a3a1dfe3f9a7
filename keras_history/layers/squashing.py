"""LeCun's squashing function (1998, Appendix A): a scaled hyperbolic tangent."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_history")
class Squashing(keras.layers.Layer):
    """f(a) = A·tanh(S·a), with A = 1.7159 and S = 2/3 by default.

    With these constants f(1) = 1 and f(−1) = −1, the gain is close to 1 over
    the normal operating range, and the second derivative is largest at ±1:
    targets of ±1 sit where the unit is most non-linear, not in saturation.

    Args:
        amplitude: A, the asymptotes are ±A.
        slope: S, the slope of tanh's argument.
    """

    def __init__(self, amplitude: float = 1.7159, slope: float = 2.0 / 3.0, **kwargs):
        super().__init__(**kwargs)
        self.amplitude = float(amplitude)
        self.slope = float(slope)

    def call(self, inputs):
        return self.amplitude * ops.tanh(self.slope * inputs)

    def derivative(self, inputs):
        """f'(a) = A·S·(1 − tanh²(S·a))."""
        return self.amplitude * self.slope * (1.0 - ops.square(ops.tanh(self.slope * inputs)))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "amplitude": self.amplitude, "slope": self.slope}
