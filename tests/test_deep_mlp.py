"""The deep MLP: the papers' initialisers, units and Glorot & Bengio's look inside."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from keras_history import datasets, models
from keras_history.models.deep.init import initializer_for


def _kernel(name: str, n_in: int, n_out: int, seed: int = 0) -> np.ndarray:
    return keras.ops.convert_to_numpy(initializer_for(name, seed)((n_in, n_out)))


@pytest.mark.parametrize("n_in, n_out", [(784, 1000), (1000, 1000), (1000, 10)])
def test_glorot_uniform_ranges_and_variances(n_in, n_out):
    # Glorot & Bengio 2010 eq. 1: U[±1/√n_in]; eq. 16: U[±√6/√(n_in+n_out)].
    for name, limit in (("standard", 1 / np.sqrt(n_in)),
                        ("normalized", np.sqrt(6 / (n_in + n_out)))):
        w = _kernel(name, n_in, n_out)
        assert np.abs(w).max() <= limit * (1 + 1e-6)
        assert np.abs(w).max() > 0.99 * limit  # the whole range is used
        assert abs(w.mean()) < 0.05 * limit
        np.testing.assert_allclose(w.var(), limit ** 2 / 3, rtol=0.05, err_msg=name)


def test_he_normal_is_untruncated_with_variance_two_over_fan_in():
    # He et al. 2015 eq. 10: N(0, 2/n_in), a plain Gaussian.
    w = _kernel("he", 1000, 1000)
    std = np.sqrt(2 / 1000)
    np.testing.assert_allclose(w.std(), std, rtol=0.01)
    assert abs(w.mean()) < 0.01 * std
    assert np.abs(w).max() > 3.5 * std  # a truncated normal stops at 2σ
    # Its fourth moment is a Gaussian's, 3σ⁴.
    np.testing.assert_allclose(np.mean(w ** 4) / w.var() ** 2, 3.0, rtol=0.05)


def test_the_factory_draws_every_layer_from_its_initializer():
    model = models.deep_mlp(depth=2, width=300, initializer="standard", seed=0, compile=False)
    kernels = [w for w in model.weights if w.name == "kernel"]
    assert [tuple(k.shape) for k in kernels] == [(784, 300), (300, 300), (300, 10)]
    for kernel in kernels:
        value = keras.ops.convert_to_numpy(kernel)
        assert np.abs(value).max() <= 1 / np.sqrt(kernel.shape[0]) * (1 + 1e-6)
    biases = [keras.ops.convert_to_numpy(w) for w in model.weights if w.name == "bias"]
    assert all(not b.any() for b in biases)  # biases start at zero


def test_normalized_keeps_the_gradients_where_standard_lets_them_shrink():
    # Glorot & Bengio's Fig. 7 on a depth-5 tanh net at initialisation: with "standard"
    # the back-propagated gradients shrink toward the input; "normalized" keeps them.
    (x, y), _ = datasets.mnist.load_sample()
    ratios = {}
    for init in ("standard", "normalized"):
        stats = models.deep_mlp(depth=5, width=500, initializer=init, seed=0,
                                compile=False).layer_statistics(x[:200], y[:200])
        assert len(stats.activations) == len(stats.gradients) == 5
        assert stats.activations[0].shape == stats.gradients[0].shape == (200, 500)
        grads = stats.gradient_std()
        ratios[init] = grads[-1] / grads[0]  # last hidden layer over the first
        if init == "standard":  # the activations shrink layer by layer too (Fig. 6)
            assert all(a > b for a, b in zip(stats.activation_std(), stats.activation_std()[1:]))
    assert ratios["standard"] > 4
    assert 0.5 < ratios["normalized"] < 2


def test_the_statistics_are_the_real_gradients():
    # The probes' gradients are ∂C/∂s: the last layer's, times W and f'(s), is the one below.
    (x, y), _ = datasets.mnist.load_sample()
    model = models.deep_mlp(depth=2, width=16, seed=0, compile=False)
    stats = model.layer_statistics(x[:8], y[:8])
    w2 = keras.ops.convert_to_numpy(model.hidden[1][0].kernel)
    below = (stats.gradients[1] @ w2.T) * (1 - stats.activations[0] ** 2)  # tanh' = 1 − a²
    np.testing.assert_allclose(stats.gradients[0], below, rtol=1e-4, atol=1e-7)


def test_prelu_by_argument():
    model = models.deep_mlp(depth=2, width=8, activation="prelu", initializer="he", seed=0)
    slopes = [w for w in model.trainable_weights if w.name == "alpha"]
    assert [tuple(s.shape) for s in slopes] == [(8,), (8,)]  # one per unit, per layer
    assert np.allclose(keras.ops.convert_to_numpy(slopes[0]), 0.25)  # He et al.'s start
    (x, y), _ = datasets.mnist.load_sample()
    model.fit(x[:64], y[:64], batch_size=16, epochs=1, verbose=0)
    assert not np.allclose(keras.ops.convert_to_numpy(slopes[0]), 0.25)  # learned


@pytest.mark.parametrize("activation", ["sigmoid", "softsign", "relu", "softplus"])
def test_every_activation_trains(activation):
    (x, y), _ = datasets.mnist.load_sample()
    model = models.deep_mlp(depth=2, width=16, activation=activation, seed=0)
    history = model.fit(x[:64], y[:64], batch_size=16, epochs=1, verbose=0).history
    assert np.isfinite(history["loss"][-1])


@pytest.mark.parametrize("option, value", [("initializer", "xavier"), ("initializer", "glorot"),
                                           ("activation", "elu"), ("activation", "ReLU")])
def test_unknown_names_are_refused_by_name(option, value):
    with pytest.raises(ValueError, match=rf"{option}.*{value}|{value}.*{option}") as error:
        models.deep_mlp(**{option: value})
    for known in ("standard", "normalized", "he") if option == "initializer" else (
            "tanh", "relu", "prelu"):
        assert known in str(error.value)


def test_flat_inputs_and_uint8_pixels():
    (x, y), _ = datasets.mnist.load_sample()
    model = models.deep_mlp(depth=1, width=8, seed=0)
    images = model.predict(x[:4], verbose=0)
    np.testing.assert_allclose(model.predict(x[:4].reshape(4, 784), verbose=0), images,
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.predict(x[:4] / np.float32(255), verbose=0), images,
                               rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=r"\[0, 1\]|0\.\.255"):
        model.fit(x[:4].astype("float32"), y[:4], verbose=0)  # floats 0..255 refused
