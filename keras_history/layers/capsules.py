"""Capsules: Sabour, Frosst and Hinton (2017), "Dynamic routing between capsules".

A capsule is a group of units whose activity vector v stands for one entity:
its length, kept below 1 by the squash non-linearity (eq. 1),

    v = ‖s‖² / (1 + ‖s‖²) · s / ‖s‖,

is the probability that the entity is present, and its direction holds the
entity's instantiation parameters (pose, thickness, skew...).

`PrimaryCapsules` is a convolution whose output channels are cut into
capsules: on a 28×28 digit after a 9×9 convolution, 32 channels of 8-D
capsules on a 6×6 grid, 1,152 capsules. `DigitCapsules` gives each pair
(child capsule i, parent capsule j) its own transformation matrix W_ij,
makes the predictions û_j|i = W_ij u_i and combines them by routing-by-agreement
(`routing`, the paper's Procedure 1): the coupling coefficients c_ij =
softmax_j(b_ij) start uniform (b_ij = 0 on every forward pass) and each
iteration raises b_ij by the agreement û_j|i · v_j between a prediction and
the parent's output.

Gradients flow through every routing iteration, as in the paper (which stops
none) and the authors' code (Sarasra's `models/research/capsules`, whose
`_update_routing` runs Procedure 1 in a `tf.while_loop` without
`stop_gradient`). Some re-implementations (early versions of Guo's
CapsNet-Keras) stopped the gradient through û in all but the last iteration,
treating the coupling coefficients as constants; that is a different rule
from the paper's.

Everything is `keras.ops`, so the layers run on TensorFlow, JAX and PyTorch;
PrimaryCaps' strided convolution goes through `backend.strided_conv`, which on
JAX takes the form whose gradient XLA computes fast on CPU.
"""

from __future__ import annotations

import keras
from keras import ops

from keras_history import backend

# Keeps ‖s‖ differentiable at s = 0 (a capsule whose inputs all cancel).
EPSILON = 1e-12
# The authors' code: weights N(0, 0.1²) truncated, biases 0.1 (variables.py).
INIT_STDDEV, INIT_BIAS = 0.1, 0.1


def squash(s, axis: int = -1):
    """Eq. 1: shrinks each vector along `axis` to a length ‖s‖²/(1 + ‖s‖²) < 1, same direction."""
    squared = ops.sum(ops.square(s), axis=axis, keepdims=True)
    return s * (squared / (1.0 + squared)) / ops.sqrt(squared + EPSILON)


def capsule_lengths(capsules):
    """‖v‖ of each capsule (last axis): the probabilities that their entities are present."""
    return ops.sqrt(ops.sum(ops.square(capsules), axis=-1) + EPSILON)


def routing(predictions, routings: int):
    """Procedure 1, routing-by-agreement, on predictions û_j|i laid out (N, parents j,
    children i, dim).

    b_ij ← 0; `routings` times: c_i ← softmax(b_i) over the parents j,
    s_j ← Σ_i c_ij û_j|i, v_j ← squash(s_j), b_ij ← b_ij + û_j|i · v_j.
    Returns the parents' v, (N, parents, dim). The last iteration's update of
    b, which nothing reads, is skipped. (Parents first, so that both sums are
    batched matrix products: the fastest form on TensorFlow and JAX.)
    """
    logits = ops.zeros_like(predictions[..., 0])  # b, (N, parents, children): afresh per input
    for iteration in range(routings):
        coupling = ops.softmax(logits, axis=1)
        outputs = squash(ops.matmul(ops.expand_dims(coupling, 2), predictions)[:, :, 0])
        if iteration < routings - 1:
            logits = logits + ops.matmul(predictions, ops.expand_dims(outputs, -1))[..., 0]
    return outputs


def _initializer(initializer, default):
    return keras.initializers.get(default if initializer is None else initializer)


@keras.saving.register_keras_serializable(package="keras_history")
class PrimaryCapsules(keras.layers.Layer):
    """A convolution cut into capsules: `channels` channels of `dim`-D capsules, squashed.

    Input (N, h, w, c); output (N, h'·w'·channels, dim), the capsules in the
    order (row, column, channel) of the convolution's (h', w') grid. With the
    paper's 9×9 kernel, stride 2 and no padding on Conv1's 20×20×256 output:
    6·6·32 = 1,152 capsules of 8 units.

    Args:
        channels: capsule channels (the paper's 32).
        dim: units per capsule (the paper's 8).
        kernel_size, strides: the convolution's (no padding).
        kernel_initializer, bias_initializer: None for the authors' code's
            (truncated N(0, 0.1²), 0.1).
    """

    def __init__(self, channels: int = 32, dim: int = 8, kernel_size: int = 9, strides: int = 2,
                 kernel_initializer=None, bias_initializer=None, **kwargs):
        super().__init__(**kwargs)
        for option, value in (("channels", channels), ("dim", dim),
                              ("kernel_size", kernel_size), ("strides", strides)):
            if not (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
                raise ValueError(f"`{option}` must be an integer >= 1, got {value!r}.")
        self.channels, self.dim = channels, dim
        self.kernel_size, self.strides = kernel_size, strides
        self.kernel_initializer = _initializer(
            kernel_initializer, keras.initializers.TruncatedNormal(stddev=INIT_STDDEV))
        self.bias_initializer = _initializer(bias_initializer,
                                             keras.initializers.Constant(INIT_BIAS))

    def build(self, input_shape):
        size = self.kernel_size
        self.kernel = self.add_weight(
            shape=(size, size, input_shape[-1], self.channels * self.dim), name="kernel",
            initializer=self.kernel_initializer)
        self.bias = self.add_weight(shape=(self.channels * self.dim,), name="bias",
                                    initializer=self.bias_initializer)

    def _grid(self, size: int) -> int:
        return (size - self.kernel_size) // self.strides + 1

    def call(self, inputs):
        units = backend.strided_conv(inputs, self.kernel, self.strides) + self.bias
        return squash(ops.reshape(units, (-1, units.shape[1] * units.shape[2] * self.channels,
                                          self.dim)))

    def compute_output_shape(self, input_shape):
        count = self._grid(input_shape[1]) * self._grid(input_shape[2]) * self.channels
        return (input_shape[0], count, self.dim)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "channels": self.channels, "dim": self.dim,
            "kernel_size": self.kernel_size, "strides": self.strides,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
        }


@keras.saving.register_keras_serializable(package="keras_history")
class DigitCapsules(keras.layers.Layer):
    """`capsules` capsules of `dim` units, each routed to from every input capsule.

    Input u (N, children, child_dim); output v (N, capsules, dim). The weights
    are one matrix W_ij (child_dim × dim) per pair of child i and parent j:
    1,152 · 10 · 8 · 16 = 1,474,560 in the paper's net, and no bias (eq. 2:
    s_j = Σ_i c_ij W_ij u_i; the authors' code adds one, 160 more weights).
    The predictions û_j|i = W_ij u_i are routed by `routing` (Procedure 1).

    Args:
        capsules: parent capsules (the paper's 10, one per digit class).
        dim: units per parent capsule (the paper's 16).
        routings: routing iterations (the paper's 3; 1 is a plain weighted sum
            with uniform coupling coefficients).
        kernel_initializer: None for the authors' code's (truncated N(0, 0.1²)).
    """

    def __init__(self, capsules: int = 10, dim: int = 16, routings: int = 3,
                 kernel_initializer=None, **kwargs):
        super().__init__(**kwargs)
        for option, value in (("capsules", capsules), ("dim", dim), ("routings", routings)):
            if not (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
                raise ValueError(f"`{option}` must be an integer >= 1, got {value!r}.")
        self.capsules, self.dim, self.routings = capsules, dim, routings
        self.kernel_initializer = _initializer(
            kernel_initializer, keras.initializers.TruncatedNormal(stddev=INIT_STDDEV))

    def build(self, input_shape):
        children, child_dim = input_shape[1], input_shape[2]
        self.kernel = self.add_weight(shape=(children, self.capsules, child_dim, self.dim),
                                      name="kernel", initializer=self.kernel_initializer)

    def predictions(self, inputs):
        """û_j|i = W_ij u_i for every parent j and child i: (N, capsules, children, dim)."""
        return ops.einsum("nic,ijcd->njid", inputs, self.kernel)

    def call(self, inputs):
        return routing(self.predictions(inputs), self.routings)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.capsules, self.dim)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "capsules": self.capsules, "dim": self.dim, "routings": self.routings,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }
