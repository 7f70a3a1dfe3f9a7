"""Local response normalization (Krizhevsky, Sutskever & Hinton, 2012).

AlexNet divided each activation by the energy of its neighbours across
channels, a "lateral inhibition" borrowed from neuroscience:

    sqr_sum[..., c] = Σ_{c' = c−r}^{c+r} x[..., c']²      (window clipped at the edges)
    out[..., c]     = x[..., c] / (bias + alpha · sqr_sum[..., c]) ** beta

with `tf.nn.local_response_normalization`'s semantics: alpha is *not*
divided by the window size. TFLearn's MNIST convnet uses it after each
pooling layer with depth_radius 5, bias 1, alpha 1e-4, beta 0.75. Keras 3 has
no such layer; this one is written in `keras.ops` so it runs on every backend.

The windowed sum over channels is one matmul of x² with a constant band
matrix (1 where |c − c'| ≤ r), which every backend runs as a single fast
kernel; for beta = 0.75 the power is `rsqrt(z) · sqrt(rsqrt(z))`.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops


@keras.saving.register_keras_serializable(package="keras_history")
class LocalResponseNormalization(keras.layers.Layer):
    """Normalizes each activation by the squares of its neighbours across channels.

    Input: channels-last tensors of any rank ≥ 2. Computed in float32 even
    under a mixed-precision policy (the sum of squares overflows float16).

    Args:
        depth_radius: half-width r of the channel window (2r + 1 channels).
        bias: the additive constant (k in the AlexNet paper).
        alpha: the scale of the sum of squares.
        beta: the exponent.
    """

    def __init__(self, depth_radius: int = 5, bias: float = 1.0, alpha: float = 1e-4,
                 beta: float = 0.75, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(depth_radius, (int, np.integer)) or depth_radius < 0:
            raise ValueError(f"`depth_radius` must be an integer >= 0, got {depth_radius!r}.")
        if not bias > 0:
            raise ValueError(f"`bias` must be > 0 (it keeps the division finite), got {bias!r}.")
        if not alpha >= 0:
            raise ValueError(f"`alpha` must be >= 0, got {alpha!r}.")
        self.depth_radius = int(depth_radius)
        self.bias = float(bias)
        self.alpha = float(alpha)
        self.beta = float(beta)
        self.band = None

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None:
            raise ValueError("LocalResponseNormalization needs a known channel count "
                             f"(last axis), got input shape {input_shape}.")
        index = np.arange(channels)
        self.band = (np.abs(index[:, None] - index[None, :]) <= self.depth_radius
                     ).astype("float32")

    def call(self, inputs):
        x = ops.cast(inputs, "float32")
        # As rows of channels: a 2-D matmul, which every converter keeps intact.
        rows = ops.reshape(ops.square(x), (-1, self.band.shape[0]))
        sqr_sum = ops.reshape(ops.matmul(rows, ops.convert_to_tensor(self.band)), ops.shape(x))
        scale = self.bias + self.alpha * sqr_sum
        if self.beta == 0.75:
            inverse_root = ops.rsqrt(scale)
            factor = inverse_root * ops.sqrt(inverse_root)
        else:
            factor = ops.power(scale, -self.beta)
        return ops.cast(x * factor, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "depth_radius": self.depth_radius, "bias": self.bias,
                "alpha": self.alpha, "beta": self.beta}
