"""LocalResponseNormalization equals tf.nn.local_response_normalization on every backend."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_history.layers import LocalResponseNormalization


@pytest.mark.parametrize("shape,radius,bias,alpha,beta", [
    ((2, 5, 5, 3), 5, 1.0, 1e-4, 0.75),      # fewer channels than the window
    ((4, 7, 7, 64), 5, 1.0, 1e-4, 0.75),     # the convnet's second LRN
    ((3, 14, 14, 32), 5, 1.0, 1e-4, 0.75),   # the first
    ((2, 6, 6, 10), 2, 2.0, 1e-3, 0.5),
    ((2, 4, 4, 9), 0, 1.0, 1e-2, 0.75),
    ((5, 16), 3, 1.0, 1e-3, 1.0),            # rank 2
])
def test_matches_tensorflow(shape, radius, bias, alpha, beta):
    x = np.random.default_rng(len(shape) + radius).normal(scale=5.0, size=shape).astype("float32")
    as_4d = x.reshape((-1, 1, 1, shape[-1]))  # tf.nn's LRN takes rank 4 only
    expected = tf.nn.local_response_normalization(
        as_4d, depth_radius=radius, bias=bias, alpha=alpha, beta=beta).numpy().reshape(shape)
    layer = LocalResponseNormalization(depth_radius=radius, bias=bias, alpha=alpha, beta=beta)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x)), expected, atol=1e-5)
    clone = LocalResponseNormalization.from_config(layer.get_config())
    np.testing.assert_allclose(keras.ops.convert_to_numpy(clone(x)), expected, atol=1e-5)


def test_keeps_a_mixed_precision_dtype():
    layer = LocalResponseNormalization(dtype="mixed_bfloat16")
    out = layer(keras.ops.ones((1, 2, 2, 8), dtype="bfloat16"))
    assert keras.backend.standardize_dtype(out.dtype) == "bfloat16"


@pytest.mark.parametrize("option,value", [("depth_radius", -1), ("depth_radius", 2.5),
                                          ("bias", 0.0), ("alpha", -1.0)])
def test_rejects_bad_options(option, value):
    with pytest.raises(ValueError, match=option):
        LocalResponseNormalization(**{option: value})
