"""Maxout: Goodfellow, Warde-Farley, Mirza, Courville and Bengio (2013).

Each unit is the largest of `pieces` affine functions of its input, a
learned convex, piecewise-linear activation. It was made to pair with dropout,
and it is the discriminator's unit in the 2014 GAN.
"""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_history")
class Maxout(keras.layers.Layer):
    """`units` outputs, each the max over `pieces` affine maps of the input's last axis.

    The kernel is (features, units · pieces), its columns grouped unit by unit
    (unit j's pieces are columns j·pieces ... j·pieces + pieces − 1), as in
    Pylearn2's `Maxout`, so weights carry over column for column.

    Args:
        units: output units.
        pieces: affine pieces per unit (≥ 1; 1 is a plain linear layer).
        kernel_initializer, bias_initializer: as in `keras.layers.Dense`.
    """

    def __init__(self, units: int, pieces: int, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        for name, value in (("units", units), ("pieces", pieces)):
            if not (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
                raise ValueError(f"`{name}` must be an integer >= 1, got {value!r}.")
        self.units, self.pieces = units, pieces
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def build(self, input_shape):
        width = self.units * self.pieces
        self.kernel = self.add_weight(shape=(input_shape[-1], width), name="kernel",
                                      initializer=self.kernel_initializer)
        self.bias = self.add_weight(shape=(width,), name="bias",
                                    initializer=self.bias_initializer)

    def call(self, inputs):
        z = ops.matmul(inputs, self.kernel) + self.bias
        z = ops.reshape(z, (*ops.shape(z)[:-1], self.units, self.pieces))
        return ops.max(z, axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "units": self.units,
            "pieces": self.pieces,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
        }
