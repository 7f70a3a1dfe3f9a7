"""Building a model for a checked input shape.

The factories call `build_for` with their `input_shape=`/`input_dim=` option,
and `keras_history.load_weights` with the width a weights file records, so it
sits below both `models` and `saving`.
"""

from __future__ import annotations

import keras

from keras_history import validation


def build_for(model: keras.Model, input_shape: tuple | None) -> keras.Model:
    """Build `model` for inputs of `input_shape` (no batch axis) and trace it once.

    The symbolic call records the input signature `model.export` needs. With
    `input_shape=None` the model is built by its first `fit` or `predict`.
    """
    if input_shape is not None:
        dims = tuple(input_shape)
        validation.check_option(
            "input_dim" if len(dims) == 1 else "input_shape", dims[0] if len(dims) == 1 else dims,
            all(validation.is_integer(d) and d >= 1 for d in dims),
            "a positive integer" if len(dims) == 1 else "a tuple of positive integers",
        )
        shape = (None, *(int(d) for d in dims))
        model.build(shape)
        model(keras.KerasTensor(shape))
    return model
