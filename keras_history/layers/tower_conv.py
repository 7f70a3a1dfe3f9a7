"""A grouped convolution computed as AlexNet computed it: one convolution per GPU."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_history")
class TowerConv2D(keras.layers.Conv2D):
    """`keras.layers.Conv2D` with `groups` towers, each run as its own convolution.

    The same layer as `Conv2D(groups=...)`: the same kernel (height, width,
    input channels / groups, filters), the same outputs. Tower g convolves the
    g-th slice of the input channels with the g-th slice of the kernels, and the
    towers' maps are concatenated, which is what AlexNet's two GPUs did (each
    held half the kernels and saw half the maps). Computing it so, instead of by
    one grouped convolution, keeps the graph to plain convolutions: TensorFlow
    runs a grouped convolution on CPU only through an XLA-compiled function,
    which `tf2onnx` cannot convert.
    """

    def convolution_op(self, inputs, kernel):
        convolve = super().convolution_op
        if self.groups == 1:
            return convolve(inputs, kernel)
        axis = -1 if self.data_format == "channels_last" else 1
        towers = zip(ops.split(inputs, self.groups, axis=axis),
                     ops.split(kernel, self.groups, axis=-1))
        return ops.concatenate([convolve(x, k) for x, k in towers], axis=axis)
