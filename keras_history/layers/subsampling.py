"""LeNet's trainable sub-sampling: the ancestor of pooling, with two weights per map."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_history")
class Subsampling2D(keras.layers.Layer):
    """Each unit sums a non-overlapping `pool_size`×`pool_size` block of its map,
    multiplies by the map's trainable coefficient and adds the map's trainable bias.

    LeNet-5's S2 and S4 (LeCun et al. 1998, Section II-B): 2 parameters per
    feature map (S2: 6 maps, 12 parameters; S4: 16 maps, 32). Channels last.
    The squashing that follows in the paper is a separate `Squashing` layer.

    Args:
        pool_size: the side of each block, also the stride.
        coefficient_initializer, bias_initializer: initializers of the two weights.
    """

    def __init__(self, pool_size: int = 2, coefficient_initializer="ones",
                 bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.pool_size = int(pool_size)
        self.coefficient_initializer = keras.initializers.get(coefficient_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def build(self, input_shape):
        maps = input_shape[-1]
        self.coefficient = self.add_weight(shape=(maps,), name="coefficient",
                                           initializer=self.coefficient_initializer)
        self.bias = self.add_weight(shape=(maps,), name="bias", initializer=self.bias_initializer)

    def call(self, inputs):
        # The block's sum is its mean times its area.
        sums = ops.average_pool(inputs, self.pool_size, self.pool_size, padding="valid")
        return sums * (self.pool_size ** 2) * self.coefficient + self.bias

    def compute_output_shape(self, input_shape):
        n, height, width, maps = input_shape
        side = self.pool_size
        return (n, None if height is None else height // side,
                None if width is None else width // side, maps)

    def get_config(self) -> dict:
        return {**super().get_config(), "pool_size": self.pool_size,
                "coefficient_initializer": keras.initializers.serialize(
                    self.coefficient_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer)}
