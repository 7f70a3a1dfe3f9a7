"""Dropout with max-norm (Srivastava et al. 2014) and batch normalization (Ioffe & Szegedy
2015): the rules' parts, checked on small nets."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras import layers

from keras_history import datasets, models
from keras_history.models.deep.dropout import MAX_NORM


def _digits(count: int = 200):
    (x, y), _ = datasets.mnist.load_sample()
    return x[:count], y[:count]


def _numpy(value) -> np.ndarray:
    return np.array(keras.ops.convert_to_numpy(value))


def test_dropout_mlp_is_table_2s_net():
    model = models.dropout_mlp()
    dense = [layer for layer in model.layers if isinstance(layer, layers.Dense)]
    assert [layer.units for layer in dense] == [1024, 1024, 1024, 10]
    assert model.count_params() == 784 * 1024 + 1024 + 2 * (1024 * 1024 + 1024) + 1024 * 10 + 10
    rates = [layer.rate for layer in model.layers if isinstance(layer, layers.Dropout)]
    assert rates == [0.2, 0.5, 0.5, 0.5]  # keep 0.8 of the pixels, 0.5 of the hidden units
    assert model.max_norm == pytest.approx(15 ** 0.5) == MAX_NORM
    twin = models.dropout_mlp(dropout=False, hidden_units=8)
    assert all(layer.rate == 0 for layer in twin.layers if isinstance(layer, layers.Dropout))


def test_max_norm_holds_after_an_update():
    # N(0, 0.01²) columns of 32 to 784 weights start at norms 0.06 to 0.28: above c = 0.05,
    # so every layer's projection acts, and a high learning rate pushes them further.
    model = models.dropout_mlp(hidden_units=32, max_norm=0.05, learning_rate=50.0, seed=1)
    x, y = _digits()
    model.fit(x, y, batch_size=100, epochs=1, verbose=0)
    norms = [np.linalg.norm(_numpy(kernel), axis=0) for kernel in model.kernels]
    assert len(norms) == 4 and max(float(n.max()) for n in norms) <= 0.05 * (1 + 1e-5)
    assert all(np.isclose(n.max(), 0.05, rtol=1e-4) for n in norms)  # the bound was reached
    free = models.dropout_mlp(hidden_units=32, max_norm=None, learning_rate=50.0, seed=1)
    free.fit(x, y, batch_size=100, epochs=1, verbose=0)
    assert max(float(np.linalg.norm(_numpy(k), axis=0).max()) for k in free.kernels) > 0.05


def test_momentum_ramp_and_learning_rate_decay():
    model = models.dropout_mlp(hidden_units=4, steps_per_epoch=10)
    optimizer = model.optimizer
    expected = {0: 0.5, 9: 0.5, 10: 0.5 + 0.49 / 500, 2500: 0.5 + 0.49 * 250 / 500,
                5000: 0.99, 10 ** 6: 0.99}
    for step, momentum in expected.items():
        optimizer.iterations.assign(step)
        assert float(_numpy(optimizer.current_momentum())) == pytest.approx(momentum, rel=1e-6)
        rate = float(_numpy(optimizer.learning_rate))
        assert rate == pytest.approx(1.0 * 0.998 ** (step // 10), rel=1e-4)  # float32


def test_the_first_update_is_damped_momentum():
    # From zero velocity, v = −(1 − p)·ε·g with p = 0.5: plain SGD at ε/2 takes the same step;
    # the second step adds p·v.
    x, y = _digits(200)
    options = dict(hidden_units=4, dropout=False, max_norm=None, seed=0, learning_rate=0.1)
    model, plain = models.dropout_mlp(**options), models.dropout_mlp(**options)
    plain.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.5))
    for net in (model, plain):
        net.fit(x, y, batch_size=100, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(model.trainable_variables, plain.trainable_variables):
        np.testing.assert_allclose(_numpy(a), _numpy(b), rtol=1e-5, atol=1e-7)


def test_dropout_masks_in_training_only():
    model = models.dropout_mlp(hidden_units=2000, hidden_layers=1, seed=3, compile=False)
    dropout = model.get_layer("dropout_1")
    h = keras.ops.ones((50, 2000))
    trained = _numpy(dropout(h, training=True))
    kept = trained != 0
    assert kept.mean() == pytest.approx(0.5, abs=0.01)
    np.testing.assert_allclose(trained[kept], 2.0)  # kept units scaled by 1/keep
    np.testing.assert_array_equal(_numpy(dropout(h, training=False)), 1.0)
    inputs = _numpy(model.get_layer("input_dropout")(keras.ops.ones((50, 784)), training=True))
    assert (inputs != 0).mean() == pytest.approx(0.8, abs=0.01)
    x, _ = _digits(20)
    np.testing.assert_array_equal(model.predict(x, verbose=0), model.predict(x, verbose=0))


def test_batch_norm_mlp_layers_and_parameters():
    with_bn, without = models.batch_norm_mlp(), models.batch_norm_mlp(batch_norm=False)
    kinds = [type(layer).__name__ for layer in with_bn.layers]
    assert kinds.count("BatchNormalization") == 3 and kinds.count("Activation") == 3
    assert not any(isinstance(layer, layers.BatchNormalization) for layer in without.layers)
    dense = 784 * 100 + 100 * 100 * 2 + 100 * 10 + 10
    assert without.count_params() == dense + 3 * 100  # weights and biases
    # With BN the dense layers have no bias (β replaces it): γ, β and two moving statistics.
    assert with_bn.count_params() == dense + 3 * 100 * 4
    assert len(with_bn.trainable_variables) == 3 + 3 * 2 + 2


def test_batch_norm_normalizes_the_sigmoid_inputs_and_population_statistics():
    x, y = _digits(600)
    model = models.batch_norm_mlp(seed=0)
    model.fit(x, y, batch_size=60, epochs=1, verbose=0)
    inputs = model.sigmoid_inputs(x)
    assert inputs.shape == (600, 100)
    model.use_population_statistics(x)
    bn = model.get_layer("batch_norm_1")
    dense = _numpy(model.get_layer("dense_1")(keras.ops.convert_to_tensor(
        (x / np.float32(255)).reshape(600, -1))))
    batches = dense.reshape(10, 60, 100)
    np.testing.assert_allclose(_numpy(bn.moving_mean), batches.mean(axis=1).mean(axis=0),
                               rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(_numpy(bn.moving_variance),
                               batches.var(axis=1).mean(axis=0) * 60 / 59, rtol=1e-3, atol=1e-6)
    normalized = _numpy(bn(keras.ops.convert_to_tensor(dense), training=False))
    gamma, beta = _numpy(bn.gamma), _numpy(bn.beta)
    np.testing.assert_allclose(((normalized - beta) / gamma).mean(axis=0), 0, atol=1e-3)


def test_refuses_pixels_on_the_wrong_scale():
    x, y = _digits(10)
    for model in (models.dropout_mlp(hidden_units=4), models.batch_norm_mlp(hidden_units=4)):
        with pytest.raises(ValueError, match=r"\[0, 1\]"):
            model.fit(x.astype("float32"), y, verbose=0)
