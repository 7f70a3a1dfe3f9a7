"""Milestone 6: the TFLearn MNIST convnet, its train step, and its input rules."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from keras_history import models
from keras_history.datasets import mnist
from keras_history.layers import LocalResponseNormalization


@pytest.fixture(scope="module")
def sample():
    return mnist.load_sample()


def test_architecture_is_tflearns():
    model = models.mnist_convnet()
    kinds = [type(layer).__name__ for layer in model.feature_layers + model.top_layers]
    assert kinds == ["Conv2D", "MaxPooling2D", "LocalResponseNormalization", "Conv2D",
                     "MaxPooling2D", "LocalResponseNormalization", "Flatten", "Dense", "Dropout",
                     "Dense", "Dropout", "Dense"]
    assert model.count_params() == 455_946
    conv = model.feature_layers[0]
    assert conv.kernel_regularizer.l2 == pytest.approx(0.0005)
    assert isinstance(conv.kernel_initializer, keras.initializers.LecunUniform)
    assert model.top_layers[2].rate == pytest.approx(0.2)
    lrn = model.feature_layers[2]
    assert (lrn.depth_radius, lrn.bias, lrn.alpha, lrn.beta) == (5, 1.0, 1e-4, 0.75)
    out = model.predict(np.zeros((2, 28, 28, 1), "float32"), verbose=0)
    assert out.shape == (2, 10)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)


def twin(model: keras.Model) -> keras.Model:
    """The same net from stock layers, trained by Keras's own train_step."""
    inputs = keras.Input((28, 28, 1))
    x = inputs
    for layer in model.feature_layers + model.top_layers:
        config = layer.get_config()
        x = (LocalResponseNormalization if isinstance(layer, LocalResponseNormalization)
             else type(layer)).from_config(config)(x)
    reference = keras.Model(inputs, x)
    reference.set_weights(model.get_weights())
    reference.compile(optimizer=keras.optimizers.Adam(0.003),
                      loss="sparse_categorical_crossentropy")
    return reference


def test_train_step_is_adam_on_the_autodiff_gradient(sample):
    (x, y), _ = sample
    x, y = x[:32, :, :, None] / np.float32(255), y[:32]
    model = models.mnist_convnet(dropout_rate=0.0, learning_rate=0.003)
    reference = twin(model)
    for _ in range(2):  # two steps: Adam's moments carry over
        model.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)
        reference.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)
    for ours, theirs in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(ours, theirs, rtol=1e-3, atol=2e-5)


def test_learns_on_the_sample(sample):
    (x, y), (x_test, y_test) = sample
    model = models.mnist_convnet()
    history = model.fit(x[:2000], y[:2000], batch_size=64, epochs=2, verbose=0)
    result = model.evaluate(x_test[:500], y_test[:500], verbose=0, return_dict=True)
    assert set(history.history) == {"loss", "accuracy"}
    assert history.history["loss"][1] < history.history["loss"][0]
    assert result["accuracy"] > 0.8 and result["loss"] < 1.0


def test_input_rules(sample):
    (x, y), _ = sample
    model = models.mnist_convnet()
    flat, square = x[:8].reshape(8, 784), x[:8]
    expected = model.predict(x[:8, :, :, None] / np.float32(255), verbose=0)
    np.testing.assert_allclose(model.predict(flat, verbose=0), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.predict(square, verbose=0), expected, rtol=1e-5, atol=1e-6)
    one_hot = np.eye(10, dtype="float32")[y[:8]]
    assert model.evaluate(square, one_hot, verbose=0, return_dict=True)["loss"] == pytest.approx(
        model.evaluate(square, y[:8], verbose=0, return_dict=True)["loss"], rel=1e-5)


@pytest.mark.parametrize("images,labels,error,pattern", [
    (np.zeros((4, 32, 32)), np.zeros(4), ValueError, r"\(N, 28, 28, 1\)"),
    (np.zeros((4, 28, 28, 3)), np.zeros(4), ValueError, r"\(N, 28, 28, 1\)"),
    (np.zeros((4, 28, 28)), np.array([0, 1, 2, 10]), ValueError, r"0\.\.9"),
    (np.zeros((4, 28, 28)), np.array([0, 1, 2, -1]), ValueError, r"0\.\.9"),
    (np.zeros((4, 28, 28)), np.array([0, 1, 2.5, 3]), ValueError, "whole-number"),
    (np.full((4, 28, 28), np.nan), np.zeros(4), ValueError, "NaN"),
    (np.zeros((4, 28, 28)), np.zeros(3), ValueError, "same number of samples"),
    (np.array([["a"] * 784] * 4), np.zeros(4), TypeError, "numbers"),
])
def test_bad_input_fails_before_training(images, labels, error, pattern):
    model = models.mnist_convnet()
    with pytest.raises(error, match=pattern):
        model.fit(images, labels, verbose=0)
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 0


def test_config_round_trip_and_options():
    model = models.mnist_convnet(classes=5, dropout_rate=0.3, name="small")
    clone = models.MNISTConvNet.from_config(model.get_config())
    clone.build((None, 28, 28, 1))
    assert clone.count_params() == model.count_params()
    assert clone.get_config() == model.get_config()
    with pytest.raises(TypeError, match="expected any of: input_shape"):
        models.mnist_convnet(weights="imagenet")
    with pytest.raises(ValueError, match="dropout_rate"):
        models.mnist_convnet(dropout_rate=1.5)


def test_include_top_false_is_a_feature_extractor():
    model = models.mnist_convnet(include_top=False)
    assert model.predict(np.zeros((2, 28, 28, 1), "float32"), verbose=0).shape == (2, 7, 7, 64)
    with pytest.raises(ValueError, match="include_top=False"):
        model.fit(np.zeros((2, 28, 28, 1)), np.zeros(2), verbose=0)
