"""The framework examples: the Keras guide's VGG-like convnet and PyTorch's tutorial net.

Their sources are a few lines of code each; these tests hold us to them: the
guide's parameter count and optimizer (with Keras 2's `decay`), the
tutorial's 62,006 parameters and its `state_dict` layout, and that both learn.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
from cases import home_only

from keras_history import datasets, models
from keras_history.models.convolutional.vgg_like import keras2_decay

BACKEND = keras.backend.backend()


def guide_sequential(input_shape=(100, 100, 3)) -> keras.Sequential:
    """The guide's model, as it writes it (Keras 2's `Sequential`, valid in Keras 3)."""
    from keras.layers import Conv2D, Dense, Dropout, Flatten, MaxPooling2D

    model = keras.Sequential()
    model.add(keras.Input(input_shape))
    model.add(Conv2D(32, (3, 3), activation="relu"))
    model.add(Conv2D(32, (3, 3), activation="relu"))
    model.add(MaxPooling2D(pool_size=(2, 2)))
    model.add(Dropout(0.25))
    model.add(Conv2D(64, (3, 3), activation="relu"))
    model.add(Conv2D(64, (3, 3), activation="relu"))
    model.add(MaxPooling2D(pool_size=(2, 2)))
    model.add(Dropout(0.25))
    model.add(Flatten())
    model.add(Dense(256, activation="relu"))
    model.add(Dropout(0.5))
    model.add(Dense(10, activation="softmax"))
    return model


def test_vgg_like_has_the_guides_parameters():
    ours = models.vgg_like(compile=False)
    assert ours.count_params() == guide_sequential().count_params() == 7_998_250
    assert [w.shape for w in ours.weights] == [w.shape for w in guide_sequential().weights]
    small = models.vgg_like(input_shape=(28, 28, 1), compile=False)
    assert small.count_params() == guide_sequential((28, 28, 1)).count_params()


def test_vgg_like_compiles_the_guides_sgd_with_keras2_decay():
    for model in (models.vgg_like(), models.vgg_like(compile=False)):
        if not model.compiled:
            model.compile()  # without arguments: the guide's optimizer again
        optimizer = model.optimizer
        assert isinstance(optimizer, keras.optimizers.SGD)
        assert optimizer.nesterov and optimizer.momentum == pytest.approx(0.9)
        schedule = optimizer._learning_rate
        assert isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule)
        for t in (0, 1, 1000, 31_250, 10**6):
            rate = float(keras.ops.convert_to_numpy(schedule(t)))
            assert rate == pytest.approx(0.01 / (1 + 1e-6 * t), rel=1e-6), t
    # A number without decay stays a number; a schedule is used as given.
    assert isinstance(models.vgg_like(learning_rate=0.1, decay=0).optimizer._learning_rate,
                      (float, keras.Variable))
    steps = keras2_decay(0.1, 1e-3)
    assert models.vgg_like(learning_rate=steps, decay=0).optimizer._learning_rate is steps


def test_tutorial_net_has_62006_parameters_and_returns_logits():
    model = models.tutorial_net()
    assert model.count_params() == 62_006
    assert model.from_logits and model.serving_contract().output_name == "logits"
    assert isinstance(model.optimizer, keras.optimizers.SGD)
    assert float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)) == pytest.approx(1e-3)
    assert model.optimizer.momentum == pytest.approx(0.9) and not model.optimizer.nesterov
    features = models.tutorial_net(include_top=False)
    assert features.predict(np.zeros((1, 32, 32, 3), "float32"), verbose=0).shape == (1, 5, 5, 16)


def tutorial_module(in_channels: int = 3):
    """The tutorial's `Net`, as "Training a classifier" defines it."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(in_channels, 6, 5)
            self.pool = nn.MaxPool2d(2, 2)
            self.conv2 = nn.Conv2d(6, 16, 5)
            self.fc1 = nn.Linear(16 * 5 * 5, 120)
            self.fc2 = nn.Linear(120, 84)
            self.fc3 = nn.Linear(84, 10)

        def forward(self, x):
            x = self.pool(F.relu(self.conv1(x)))
            x = self.pool(F.relu(self.conv2(x)))
            x = torch.flatten(x, 1)  # flatten all dimensions except batch
            x = F.relu(self.fc1(x))
            x = F.relu(self.fc2(x))
            x = self.fc3(x)
            return x

    return Net()


def module_outputs(net, images: np.ndarray) -> np.ndarray:
    """The tutorial's forward pass on NHWC images in [0, 1], normalized as it does."""
    import torch

    with torch.no_grad():
        x = torch.from_numpy(2 * images - 1).permute(0, 3, 1, 2)  # Normalize(0.5, 0.5), NCHW
        return net(x).numpy()


@pytest.mark.skipif(BACKEND != "torch", reason="the tutorial's module runs on the torch backend")
@pytest.mark.parametrize("channels", [3, 1])
def test_tutorial_net_moves_weights_to_and_from_the_tutorials_module(channels):
    import torch

    torch.manual_seed(0)
    images = np.random.default_rng(1).uniform(size=(6, 32, 32, channels)).astype("float32")
    # The module's weights into ours...
    net = tutorial_module(channels)
    ours = models.tutorial_net_from_state_dict(net.state_dict())
    assert ours.image_shape == (32, 32, channels)
    np.testing.assert_allclose(ours.predict(images, verbose=0), module_outputs(net, images),
                               atol=1e-5)
    # ...and ours into a fresh module: the same outputs, the same tensors back.
    keras.utils.set_random_seed(2)
    ours = models.tutorial_net(input_shape=(32, 32, channels))
    net = tutorial_module(channels)
    net.load_state_dict(ours.to_state_dict())
    np.testing.assert_allclose(module_outputs(net, images), ours.predict(images, verbose=0),
                               atol=1e-5)
    again = models.tutorial_net_from_state_dict(net.state_dict())
    for a, b in zip(again.weights, ours.weights, strict=True):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a),
                                      keras.ops.convert_to_numpy(b))


@pytest.mark.skipif(BACKEND != "torch", reason="the tutorial's module runs on the torch backend")
def test_a_state_dict_that_does_not_fit_is_refused_untouched():
    model = models.tutorial_net()
    before = [keras.ops.convert_to_numpy(w).copy() for w in model.weights]
    state = tutorial_module(3).state_dict()
    wrong = dict(state, **{"fc3.weight": state["fc3.weight"][:5]})
    with pytest.raises(ValueError, match=r"'fc3.weight' has shape \(5, 84\).*needs \(10, 84\)"):
        model.set_state_dict(wrong)
    with pytest.raises(ValueError, match=r"missing keys \['fc3.bias'\]"):
        model.set_state_dict({k: v for k, v in state.items() if k != "fc3.bias"})
    for a, b in zip(model.weights, before, strict=True):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), b)


def digits(samples: int, size: int = 28):
    (x, y), (x_test, y_test) = datasets.mnist.load_sample()
    pad = (size - 28) // 2
    widths = [(0, 0), (pad, pad), (pad, pad)]
    return (np.pad(x[:samples], widths), y[:samples]), (np.pad(x_test, widths), y_test)


def test_vgg_like_learns_with_kerass_default_fit():
    keras.utils.set_random_seed(0)
    (x, y), (x_test, y_test) = digits(1024)
    model = models.vgg_like(input_shape=(28, 28, 1))
    model.fit(x, y, epochs=2, verbose=0)  # batch 32: the guide's, and `fit`'s default
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    assert accuracy > 0.5  # chance: 0.1


# 1,000 steps of batch 4: PyTorch's eager steps took ~160 s on 2 shared cores (the budget).
@home_only("jax")
def test_tutorial_net_learns_as_the_tutorial_trains_it():
    keras.utils.set_random_seed(0)
    (x, y), (x_test, y_test) = digits(2000, size=32)  # 2 epochs of 500 steps
    model = models.tutorial_net(input_shape=(32, 32, 1))
    model.fit(x, y, batch_size=4, epochs=2, verbose=0)
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    assert accuracy > 0.5
