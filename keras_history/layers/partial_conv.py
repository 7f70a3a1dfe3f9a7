"""A convolution whose output maps each read only some input maps (LeNet-5's C3, Table I)."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops


@keras.saving.register_keras_serializable(package="keras_history")
class PartialConv2D(keras.layers.Layer):
    """'Valid' convolution where output map m reads only the input maps `connections[m]`.

    Only the connected kernels exist as weights: the kernel variable has shape
    (kernel_size, kernel_size, number of connections), one 2-D kernel per
    (input map, output map) pair of the table, plus one bias per output map.
    For LeNet-5's C3 that is 60 connections × 25 + 16 = 1,516 parameters, as
    the paper counts them, not a masked 2,416. The call scatters them into a
    full kernel (zeros where the table has no connection, with no gradient)
    and runs one ordinary convolution.

    Args:
        connections: for each output map, the indices of the input maps it reads.
        kernel_size: the side of the square kernels.
        kernel_initializer, bias_initializer: initializers of the packed kernel and
            the biases (`lenet5()` replaces them by the paper's ±2.4/fan-in).
    """

    def __init__(self, connections, kernel_size: int = 5, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.connections = [sorted(int(i) for i in maps) for maps in connections]
        if not self.connections or any(not maps for maps in self.connections):
            raise ValueError("`connections` must list, for each output map, at least one "
                             f"input map; got {connections!r}.")
        self.kernel_size = int(kernel_size)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.filters = len(self.connections)
        # The kernel's last axis: one (input map, output map) pair per connection.
        self.pairs = [(i, m) for m, maps in enumerate(self.connections) for i in maps]

    def build(self, input_shape):
        in_maps = input_shape[-1]
        if max(i for i, _ in self.pairs) >= in_maps:
            raise ValueError(f"`connections` refers to input map {max(i for i, _ in self.pairs)}"
                             f" but the input has {in_maps} maps.")
        self.kernel = self.add_weight(
            shape=(self.kernel_size, self.kernel_size, len(self.pairs)), name="kernel",
            initializer=self.kernel_initializer)
        self.bias = self.add_weight(shape=(self.filters,), name="bias",
                                    initializer=self.bias_initializer)
        # Where each (input map, output map) kernel of the full kernel comes from;
        # index len(pairs) points at an appended zero kernel.
        index = np.full((in_maps, self.filters), len(self.pairs), "int32")
        for position, (i, m) in enumerate(self.pairs):
            index[i, m] = position
        self.index = index.ravel()
        self.in_maps = in_maps

    def full_kernel(self):
        """The (k, k, input maps, output maps) kernel, zero where the table has no connection."""
        k = self.kernel_size
        padded = ops.concatenate([self.kernel, ops.zeros((k, k, 1), self.kernel.dtype)], axis=-1)
        gathered = ops.take(padded, ops.convert_to_tensor(self.index), axis=2)
        return ops.reshape(gathered, (k, k, self.in_maps, self.filters))

    def call(self, inputs):
        kernel = ops.cast(self.full_kernel(), inputs.dtype)
        return ops.conv(inputs, kernel, padding="valid") + ops.cast(self.bias, inputs.dtype)

    def compute_output_shape(self, input_shape):
        n, height, width, _ = input_shape
        shrink = self.kernel_size - 1
        return (n, None if height is None else height - shrink,
                None if width is None else width - shrink, self.filters)

    def get_config(self) -> dict:
        return {**super().get_config(), "connections": self.connections,
                "kernel_size": self.kernel_size,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer)}
