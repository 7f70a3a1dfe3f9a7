"""The documented fast settings for big hardware still train correctly (checked on CPU)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from cases import home_only

from keras_history import models
from keras_history.datasets import mnist


@pytest.fixture
def mixed_bfloat16():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    yield
    keras.mixed_precision.set_global_policy("float32")


# Keras's one mixed-precision policy on every backend; the GPU setting runs through JAX.
@home_only("jax")
def test_convnet_trains_in_mixed_bfloat16_at_a_large_batch(mixed_bfloat16):
    (x, y), (x_test, y_test) = mnist.load_sample()
    model = models.mnist_convnet()
    assert model.feature_layers[0].compute_dtype == "bfloat16"
    assert all(v.dtype == "float32" for v in model.trainable_variables)  # master weights
    history = model.fit(x[:2048], y[:2048], batch_size=512, epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    assert history.history["loss"][-1] < history.history["loss"][0]
    probabilities = model.predict(x_test[:16], verbose=0)
    assert probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-3)
