"""Milestones 9, 10, 12 and 13: AlexNet, VGG16 and the ResNets, as their papers give them.

Full-size nets are built once each, for their parameter counts, with
deferred initialization (the shapes are all a count needs). The
keras.applications equivalences build VGG16 and ResNet-50 for 32×32 inputs
and run on TensorFlow only: the architecture is backend-independent and a
second backend would only double the time of the heaviest test here.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
from cases import numpy

from keras_history import models
from keras_history.layers import PadCropFlip, TowerConv2D
from keras_history.models.convolutional.resnet import cifar_learning_rate

BACKEND = keras.backend.backend()


def count(factory, **options) -> int:
    """Parameters of the full-size net, counted from its variables' shapes."""
    with keras.StatelessScope(initialize_variables=False):
        return factory(compile=False, **options).count_params()


def trainable(model) -> int:
    return sum(int(np.prod(v.shape)) for v in model.trainable_variables)


def test_full_size_parameter_counts_are_the_papers():
    assert count(models.alexnet) == 60_965_224  # "60 million", two towers
    assert count(models.alexnet, groups=1) == 62_378_344
    assert count(models.vgg16) == 138_357_544
    assert count(models.vgg16, include_top=False) == 14_714_688
    assert count(models.resnet50) == 25_636_712
    assert count(models.resnet) == 271_098  # 269,722 trainable + batch norm's statistics


# He et al. 2015, Table 6: depth → parameters (in millions, as printed).
CIFAR_TABLE = {20: 0.27, 32: 0.46, 44: 0.66, 56: 0.85, 110: 1.7}


def test_cifar_resnets_have_the_papers_depths_and_sizes():
    for depth, millions in CIFAR_TABLE.items():
        with keras.StatelessScope(initialize_variables=False):
            model = models.resnet(depth, compile=False)
        weighted = [v for v in model.trainable_variables if len(v.shape) > 1]
        assert len(weighted) == depth  # 6n + 1 convolutions and the classifier
        assert round(trainable(model) / 1e6, 2 if depth < 100 else 1) == millions, depth
    assert trainable(model) == 1_727_962


def output_shapes(model) -> list[tuple]:
    shape, shapes = (None, *model.image_shape), []
    for layer in model.feature_layers + model.top_layers:
        shape = layer.compute_output_shape(shape)
        shapes.append((layer.name, tuple(shape)))
    return shapes


def test_alexnet_is_the_two_gpu_net_of_section_3():
    model = models.alexnet(input_shape=(67, 67, 3), classes=10, width=0.125, compile=False)
    shapes = dict(output_shapes(model))
    assert shapes["pool5"] == (None, 1, 1, 32)  # 67 is the smallest size with a map left
    full = dict(output_shapes(_unbuilt_alexnet()))
    assert [full[n][1:3] for n in ("conv1", "pool1", "pool2", "pool5")] == [
        (55, 55), (27, 27), (13, 13), (6, 6)]  # the paper's Figure 2
    layers = {layer.name: layer for layer in model.feature_layers + model.top_layers}
    assert [layers[n].groups for n in ("conv1", "conv2", "conv3", "conv4", "conv5")] == [
        1, 2, 1, 2, 2]
    lrn = layers["lrn1"]
    assert (lrn.depth_radius, lrn.bias, lrn.alpha, lrn.beta) == (2, 2.0, 1e-4, 0.75)
    for name in ("conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "predictions"):
        bias = numpy(layers[name].bias)
        assert np.all(bias == (1.0 if name in ("conv2", "conv4", "conv5", "fc6", "fc7")
                               else 0.0)), name
        assert abs(float(np.std(numpy(layers[name].kernel))) - 0.01) < 0.002, name
    assert [layers[n].rate for n in ("dropout6", "dropout7")] == [0.5, 0.5]


@pytest.mark.parametrize("strides", [1, 2])
def test_two_towers_are_keras_grouped_convolution(strides):
    """AlexNet's towers, one convolution each, give Keras's Conv2D(groups=2) outputs."""
    x = np.random.default_rng(0).normal(size=(2, 9, 9, 6)).astype("float32")
    towers = TowerConv2D(4, 3, strides=strides, groups=2)
    grouped = keras.layers.Conv2D(4, 3, strides=strides, groups=2)
    towers.build(x.shape), grouped.build(x.shape)
    assert towers.kernel.shape == grouped.kernel.shape == (3, 3, 3, 4)
    grouped.set_weights([numpy(w) for w in towers.weights])
    np.testing.assert_allclose(numpy(towers(x)), numpy(grouped(x)), atol=1e-5)
    # Tower 2 reads only input maps 3-5: changing map 0 leaves its outputs alone.
    moved = x.copy()
    moved[..., 0] += 1.0
    np.testing.assert_array_equal(numpy(towers(moved))[..., 2:], numpy(towers(x))[..., 2:])


def _unbuilt_alexnet():
    with keras.StatelessScope(initialize_variables=False):
        return models.alexnet(compile=False)


def copy_weights(source: keras.Model, target: keras.Model) -> int:
    """Copy every weighted layer of `source` into `target`'s layer of the same name."""
    ours = {layer.name: layer for layer in target._flatten_layers(include_self=False)
            if layer.weights and not list(layer._flatten_layers(include_self=False))}
    copied = 0
    for layer in source.layers:
        if layer.weights:
            ours[layer.name].set_weights(layer.get_weights())
            copied += 1
    assert copied == len(ours)
    return copied


@pytest.mark.skipif(BACKEND != "tensorflow", reason="architecture check: TensorFlow only")
@pytest.mark.parametrize("name", ["vgg16", "resnet50"])
def test_same_outputs_as_keras_applications_after_copying_weights(name):
    reference = {"vgg16": keras.applications.VGG16,
                 "resnet50": keras.applications.ResNet50}[name](
        weights=None, input_shape=(32, 32, 3), classes=10)
    ours = getattr(models, name)(input_shape=(32, 32, 3), classes=10, compile=False)
    assert ours.count_params() == reference.count_params()
    copy_weights(reference, ours)
    x = np.random.default_rng(0).random((4, 32, 32, 3), dtype=np.float32)
    np.testing.assert_allclose(ours.predict(x, verbose=0), reference.predict(x, verbose=0),
                               atol=1e-5)


def hand_step(w, v, g, learning_rate, weight_decay, momentum=0.9):
    """Krizhevsky et al. 2012, Section 5, in NumPy."""
    v = momentum * v - weight_decay * learning_rate * w - learning_rate * g
    return w + v, v


@pytest.mark.parametrize("name", ["alexnet", "vgg16", "resnet"])
def test_one_step_of_the_rule_matches_the_hand_computation(name):
    options = {"alexnet": dict(input_shape=(67, 67, 1), width=1 / 32, dropout_rate=0.0),
               "vgg16": dict(input_shape=(32, 32, 1), width=1 / 32, dropout_rate=0.0),
               "resnet": dict(input_shape=(8, 8, 1), depth=8)}[name]
    learning_rate, weight_decay = 0.05, 0.01
    model = getattr(models, name)(classes=3, learning_rate=learning_rate,
                                  weight_decay=weight_decay, **options)
    rng = np.random.default_rng(1)
    x = rng.random((4, *options["input_shape"]), dtype=np.float32)
    y = np.array([0, 1, 2, 1])
    # The gradient by stock Keras, for a hand-made update from it.
    twin = getattr(models, name)(classes=3, compile=False, **options)
    twin.set_weights(model.get_weights())
    grads = gradient(twin, x, y)
    weights = [numpy(v) for v in model.trainable_variables]
    velocity = [np.zeros_like(w) for w in weights]
    for _ in range(2):  # the second step has a velocity to carry
        expected = [hand_step(w, v, g, learning_rate, weight_decay)
                    for w, v, g in zip(weights, velocity, grads)]
        model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
        for variable, (w, _) in zip(model.trainable_variables, expected):
            np.testing.assert_allclose(numpy(variable), w, rtol=1e-4, atol=1e-6,
                                       err_msg=variable.path)
        weights, velocity = [w for w, _ in expected], [v for _, v in expected]
        twin.set_weights(model.get_weights())
        grads = gradient(twin, x, y)


def gradient(model, x, y) -> list[np.ndarray]:
    """∂(cross-entropy)/∂w, with Keras's own loss, on the model's training-mode forward pass."""
    from keras_history import backend

    def loss_fn():
        y_pred = model(x, training=True)
        return ops_mean_ce(y, y_pred), y_pred

    state = [numpy(v) for v in model.non_trainable_variables]
    _, _, grads = backend.value_and_grad(loss_fn, model.trainable_variables)
    for variable, value in zip(model.non_trainable_variables, state):
        variable.assign(value)  # batch norm's statistics: only the model's own step moves them
    return [numpy(g) for g in grads]


def ops_mean_ce(y, y_pred):
    return keras.ops.mean(keras.losses.sparse_categorical_crossentropy(y, y_pred))


def test_batch_norm_statistics_move_in_training():
    model = models.resnet(8, input_shape=(8, 8, 1), classes=3)
    before = [numpy(v) for v in model.non_trainable_variables]
    x = np.random.default_rng(0).random((8, 8, 8, 1), dtype=np.float32)
    model.fit(x, np.arange(8) % 3, batch_size=8, epochs=1, verbose=0)
    means = [v for v in model.non_trainable_variables if "moving_mean" in v.path]
    assert len(means) == 7  # conv1 and two in each of the three blocks
    moved = [not np.array_equal(numpy(v), b) for v, b in zip(model.non_trainable_variables,
                                                              before)]
    assert sum(moved) == 2 * 7  # every moving mean and variance


def test_cifar_schedule_and_plateau_callback():
    schedule = cifar_learning_rate()
    rates = [float(numpy(schedule(step))) for step in (0, 31_999, 32_001, 48_001, 63_999)]
    np.testing.assert_allclose(rates, [0.1, 0.1, 0.01, 0.001, 0.001], rtol=1e-6)
    from keras_history.models.convolutional.resnet import divide_by_10_on_plateau

    callback = divide_by_10_on_plateau()
    assert (callback.factor, callback.monitor) == (0.1, "val_accuracy")


def test_pad_crop_flip_is_a_shifted_window_of_the_padded_image():
    x = np.arange(2 * 6 * 6 * 1, dtype="float32").reshape(2, 6, 6, 1) + 1
    layer = PadCropFlip(padding=2, seed=3)
    np.testing.assert_array_equal(numpy(layer(x)), x)  # inference: unchanged
    out = numpy(layer(x, training=True))
    padded = np.pad(x, [(0, 0), (2, 2), (2, 2), (0, 0)])
    for image, crop in zip(padded, out):
        windows = [image[i:i + 6, j:j + 6] for i in range(5) for j in range(5)]
        assert any(np.array_equal(crop, w) or np.array_equal(crop, w[:, ::-1])
                   for w in windows)


def test_small_inputs_and_their_limits():
    model = models.resnet(20, input_shape=(28, 28, 1), compile=True)
    images = np.random.default_rng(0).integers(0, 256, (4, 28, 28), dtype=np.uint8)
    probabilities = model.predict(images, verbose=0)
    np.testing.assert_allclose(probabilities, model.predict(images / np.float32(255), verbose=0),
                               rtol=1e-5, atol=1e-6)
    for factory, smallest in ((models.alexnet, 67), (models.vgg16, 32), (models.resnet50, 32),
                              (models.resnet, 4)):
        with pytest.raises(ValueError, match=rf"`input_shape` must be at least {smallest}×"):
            factory(input_shape=(smallest - 1, smallest, 1))
    with pytest.raises(ValueError, match=r"`depth` must be 6n \+ 2"):
        models.resnet(21)
    with pytest.raises(ValueError, match="`pooling` must be"):
        models.vgg16(pooling="mean")
    features = models.vgg16(input_shape=(32, 32, 3), include_top=False, pooling="avg",
                            width=1 / 16)
    assert features.predict(np.zeros((2, 32, 32, 3)), verbose=0).shape == (2, 32)
    with pytest.raises(ValueError, match="include_top=False"):
        features.fit(np.zeros((2, 32, 32, 3)), np.zeros(2), verbose=0)
