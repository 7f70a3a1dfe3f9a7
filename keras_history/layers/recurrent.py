"""What the recurrent layers share: a step function scanned over padded sequences."""

from __future__ import annotations

import keras
from keras import ops

from keras_history import backend


def padding_mask(inputs):
    """(batch, steps) booleans: False at the all-zero steps that pad a sequence's end."""
    return ops.any(ops.not_equal(inputs, 0), axis=-1)


class Recurrent(keras.layers.Layer):
    """A layer that runs `step` over time, holding its state through padding steps.

    Subclasses give `state_size`, `trace_size` and `output_size` and write
    `step(state, x_t) -> (new_state, outputs)`: (batch, state_size) and
    (batch, trace_size) tensors, the first `output_size` columns of `outputs` being the
    layer's output at that step (the rest is kept for `sequences`, e.g. gate
    values). The state starts at `initial_state` in every sequence (zero, as in
    the 1990s papers, unless a subclass says otherwise); steps where the mask is
    False leave it unchanged and output zeros.

    Args:
        truncate: cut the gradient as the layer's historical rule did (see
            the subclass); False gives full backpropagation through time.
    """

    def __init__(self, truncate: bool = True, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.truncate = bool(truncate)
        self.seed = seed
        self.supports_masking = True

    def add_uniform_weights(self, shapes: dict, limit: float) -> None:
        """Add the weights `name: shape` as attributes, each uniform on [-limit, limit].

        Each weight draws from its own seed (seed + its position), so that no two
        start from the same numbers.
        """
        for number, (name, shape) in enumerate(shapes.items()):
            seed = None if self.seed is None else self.seed + number
            initializer = keras.initializers.RandomUniform(-limit, limit, seed=seed)
            setattr(self, name, self.add_weight(shape=shape, name=name, initializer=initializer))

    def sequences(self, inputs, mask=None):
        """Every output of `step` over time, (batch, steps, n)."""
        inputs = ops.convert_to_tensor(inputs, self.compute_dtype)
        if mask is None:
            mask = padding_mask(inputs)
        # One time-major tensor, the mask as its last feature: `backend.scan` takes
        # a single `xs` and a step's outputs shaped like its carry, so the carry is
        # [state | outputs], of which only the state part is read.
        mask = ops.expand_dims(ops.cast(mask, inputs.dtype), -1)
        time_major = ops.transpose(ops.concatenate([inputs, mask], axis=-1), (1, 0, 2))
        size = self.state_size

        def scan_step(carry, slices):
            x_t, m_t = slices[:, :-1], ops.greater(slices[:, -1:], 0.5)
            state = carry[:, :size]
            new_state, outputs = self.step(state, x_t)
            new_state = ops.where(m_t, new_state, state)
            return (ops.concatenate([new_state, ops.zeros_like(outputs)], axis=-1),
                    ops.concatenate([new_state, ops.where(m_t, outputs, 0.0)], axis=-1))

        batch = ops.shape(inputs)[0]
        init = ops.concatenate([self.initial_state(batch),
                                ops.zeros((batch, self.trace_size), self.compute_dtype)], axis=-1)
        carries = backend.scan(scan_step, init, time_major)
        return ops.transpose(carries[..., size:], (1, 0, 2))

    def initial_state(self, batch):
        """The state at the start of every sequence, (batch, state_size): zeros here."""
        return ops.zeros((batch, self.state_size), self.compute_dtype)

    def call(self, inputs, mask=None):
        return self.sequences(inputs, mask)[..., :self.output_size]

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.output_size)

    def compute_mask(self, inputs, mask=None):
        return mask

    def cut(self, fed_back):
        """The copy of this step's activations that the next step sees."""
        return ops.stop_gradient(fed_back) if self.truncate else fed_back

    def get_config(self) -> dict:
        return {**super().get_config(), "truncate": self.truncate, "seed": self.seed}
