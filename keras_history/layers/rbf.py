"""Euclidean radial basis function units with fixed prototypes: LeNet-5's output layer."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops


@keras.saving.register_keras_serializable(package="keras_history")
class RBFOutput(keras.layers.Layer):
    """y_i = Σ_j (x_j − w_ij)²: the squared distance of the input to each prototype w_i.

    LeCun et al. (1998, Section II-B) fix the prototypes by hand (±1 codes
    drawn as 7×12 bitmaps of the characters) and do not train them, so this
    layer has no weights: the prototypes are constants kept in its config.
    The smallest output is the predicted class.

    Args:
        prototypes: array (classes, units), one prototype per row.
    """

    def __init__(self, prototypes, **kwargs):
        super().__init__(**kwargs)
        array = np.asarray(prototypes, "float32")
        if array.ndim != 2 or not np.all(np.isfinite(array)):
            raise ValueError("`prototypes` must be a finite (classes, units) array, got "
                             f"shape {array.shape}.")
        self.prototypes = array

    def call(self, inputs):
        prototypes = ops.cast(ops.convert_to_tensor(self.prototypes), inputs.dtype)
        # Σ (x − w)² from the differences themselves: |x|² − 2 x·w + |w|² would cancel
        # away float32 digits (|x|² reaches hundreds), and runtimes would disagree.
        return ops.sum(ops.square(ops.expand_dims(inputs, -2) - prototypes), axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.prototypes.shape[0])

    def get_config(self) -> dict:
        return {**super().get_config(), "prototypes": self.prototypes.tolist()}
