"""The TFLearn MNIST convnet, its train step, and its input rules."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from cases import numpy

from keras_history import models
from keras_history.datasets import mnist
from keras_history.models.convolutional.convnet import MNISTConvNet, default_learning_rate


@pytest.fixture(scope="module")
def sample():
    return mnist.load_sample()


def test_architecture_is_tflearns():
    model = models.mnist_convnet()
    layers = model.feature_layers + model.top_layers
    assert [(type(layer).__name__, layer.name) for layer in layers] == [
        ("Conv2D", "conv_1"), ("MaxPooling2D", "pool_1"), ("LocalResponseNormalization", "lrn_1"),
        ("Conv2D", "conv_2"), ("MaxPooling2D", "pool_2"), ("LocalResponseNormalization", "lrn_2"),
        ("Flatten", "flatten"), ("Dense", "fc_1"), ("Dropout", "dropout_1"), ("Dense", "fc_2"),
        ("Dropout", "dropout_2"), ("Dense", "predictions")]
    shape, shapes = (None, 28, 28, 1), []
    for layer in layers:
        shape = layer.compute_output_shape(shape)
        shapes.append(tuple(shape))
    assert shapes == [(None, 28, 28, 32), (None, 14, 14, 32), (None, 14, 14, 32),
                      (None, 14, 14, 64), (None, 7, 7, 64), (None, 7, 7, 64), (None, 3136),
                      (None, 128), (None, 128), (None, 256), (None, 256), (None, 10)]
    # conv 3·3·1·32+32, 3·3·32·64+64; dense 3136·128+128, 128·256+256, 256·10+10
    assert model.count_params() == 320 + 18_496 + 401_536 + 33_024 + 2_570 == 455_946
    conv_1, pool_1, lrn_1, conv_2 = layers[:4]
    dense = [layer for layer in layers if isinstance(layer, keras.layers.Dense)]
    for conv in (conv_1, conv_2):
        assert (conv.kernel_size, conv.padding, conv.activation.__name__) == ((3, 3), "same",
                                                                              "relu")
        assert isinstance(conv.kernel_initializer, keras.initializers.LecunUniform)
        assert conv.kernel_regularizer.l2 == pytest.approx(0.0005)  # TFLearn: 0.001·Σw²/2
    for layer in dense:
        assert isinstance(layer.kernel_initializer, keras.initializers.TruncatedNormal)
        assert layer.kernel_initializer.stddev == 0.02 and layer.kernel_regularizer is None
    assert [d.activation.__name__ for d in dense] == ["tanh", "tanh", "softmax"]
    assert all(not np.any(numpy(layer.bias)) for layer in dense + [conv_1, conv_2])
    assert (pool_1.pool_size, pool_1.strides, pool_1.padding) == ((2, 2), (2, 2), "same")
    assert (lrn_1.depth_radius, lrn_1.bias, lrn_1.alpha, lrn_1.beta) == (5, 1.0, 1e-4, 0.75)
    assert [layers[i].rate for i in (8, 10)] == [pytest.approx(0.2)] * 2  # TFLearn keep 0.8
    assert len(model.losses) == 2  # the two conv kernels' weight decay
    out = model.predict(np.zeros((2, 28, 28, 1), "float32"), verbose=0)
    assert out.shape == (2, 10)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)


def test_optimizer_is_adam_with_the_measured_default_or_the_original_rate():
    model = models.mnist_convnet()
    assert isinstance(model.optimizer, keras.optimizers.Adam)
    schedule = model.optimizer._learning_rate
    assert schedule.get_config() == default_learning_rate().get_config()
    assert float(numpy(schedule(0))) == pytest.approx(3e-3)
    assert float(numpy(schedule(938))) == pytest.approx(3e-3 * 0.75)
    original = models.mnist_convnet(learning_rate=0.01)
    assert float(numpy(original.optimizer.learning_rate)) == pytest.approx(0.01)
    assert models.mnist_convnet(compile=False).compiled is False


def twin(model: keras.Model, learning_rate: float) -> keras.Model:
    """The same net from stock layers, trained by Keras's own train_step."""
    inputs = keras.Input((28, 28, 1))
    x = inputs
    for layer in model.feature_layers + model.top_layers:
        x = type(layer).from_config(layer.get_config())(x)
    reference = keras.Model(inputs, x)
    reference.set_weights(model.get_weights())
    reference.compile(optimizer=keras.optimizers.Adam(learning_rate),
                      loss="sparse_categorical_crossentropy")
    return reference


def test_train_step_is_adam_on_the_autodiff_gradient_of_cross_entropy_plus_l2(sample):
    (x, y), _ = sample
    x, y = x[:32, :, :, None] / np.float32(255), y[:32]
    model = models.mnist_convnet(dropout_rate=0.0, learning_rate=0.003)
    reference = twin(model, 0.003)  # stock fit adds the kernels' L2 losses, as TFLearn did
    start = model.get_weights()
    for _ in range(2):  # two steps: Adam's moments carry over
        ours = model.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)
        theirs = reference.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)
        assert ours.history["loss"][0] == pytest.approx(theirs.history["loss"][0], rel=1e-5)
    for before, ours, theirs in zip(start, model.get_weights(), reference.get_weights()):
        assert not np.allclose(ours, before)
        np.testing.assert_allclose(ours, theirs, rtol=1e-3, atol=2e-5)


def test_learns_on_the_sample(sample):
    (x, y), (x_test, y_test) = sample
    model = models.mnist_convnet()
    history = model.fit(x[:1536], y[:1536], batch_size=32, epochs=2, verbose=0)
    result = model.evaluate(x_test[:500], y_test[:500], verbose=0, return_dict=True)
    assert set(history.history) == {"loss", "accuracy"}
    assert history.history["loss"][1] < history.history["loss"][0]
    assert result["accuracy"] > 0.85 and result["loss"] < 0.5  # 92.8-94.2% measured


def test_input_rules_give_the_same_images(sample):
    (x, y), _ = sample
    model = models.mnist_convnet()
    expected = model.predict(x[:8, :, :, None] / np.float32(255), verbose=0)
    for images in (x[:8], x[:8].reshape(8, 784), x[:8, :, :, None], x[:8].tolist(),
                   x[:8].astype("int64"), keras.ops.convert_to_tensor(x[:8])):
        np.testing.assert_allclose(model.predict(images, verbose=0), expected, atol=1e-6)
    # Integer tensors that skip the up-front checks are scaled inside the model.
    np.testing.assert_allclose(numpy(model(x[:8, :, :, None])), expected, atol=1e-6)


def test_float_pixels_outside_0_1_are_refused_everywhere(sample):
    # Floats 0..255 would train silently to a poor model and predict wrong classes.
    (x, y), _ = sample
    model = models.mnist_convnet()
    before = [numpy(v) for v in model.weights]
    raw = x[:8].astype("float32")
    for images in (raw, raw - 128 / 255, raw.reshape(8, 784)):
        for run in (lambda bad: model.fit(bad, y[:8], verbose=0),
                    lambda bad: model.evaluate(bad, y[:8], verbose=0),
                    lambda bad: model.predict(bad, verbose=0),
                    lambda bad: model.fit(x[:8], y[:8], validation_data=(bad, y[:8]),
                                          verbose=0)):
            with pytest.raises(ValueError, match=r"float pixels ranging over .*must lie in "
                                                 r"\[0, 1\]: divide them by 255.*uint8"):
                run(images)
    for ours, now in zip(before, model.weights, strict=True):
        np.testing.assert_array_equal(numpy(now), ours)
    # The edges are fine: 0 and 1 exactly.
    model.predict(np.clip(raw, 0, 1), verbose=0)


def test_one_hot_labels_equal_class_ids(sample):
    (x, y), _ = sample
    x, y = x[:64], y[:64]
    one_hot = np.eye(10, dtype="float32")[y]
    model = models.mnist_convnet()
    y_pred = model(x[..., None])
    for labels in (one_hot, y[:, None]):
        assert float(numpy(model.cost(labels, y_pred))) == pytest.approx(
            float(numpy(model.cost(y, y_pred))), rel=1e-6)

    class Batches(keras.utils.PyDataset):  # uint8 images and one-hot labels, unchecked
        def __len__(self):
            return 2

        def __getitem__(self, index):
            part = slice(32 * index, 32 * index + 32)
            return x[part, :, :, None], one_hot[part]

    trained, rate = [], 1e-3
    for data in (dict(x=Batches()), dict(x=x, y=one_hot, batch_size=32)):
        keras.utils.set_random_seed(0)
        model = models.mnist_convnet(dropout_rate=0.0, learning_rate=rate)
        history = model.fit(**data, epochs=1, shuffle=False, verbose=0)
        trained.append((history.history, model.get_weights()))
    (logs, weights), (array_logs, array_weights) = trained
    assert logs["loss"][0] == pytest.approx(array_logs["loss"][0], rel=1e-4)
    assert logs["accuracy"][0] == pytest.approx(array_logs["accuracy"][0], abs=1 / 32)
    # Adam moves each weight by about `rate` a step; where a gradient is near zero,
    # rounding in the two loss paths shifts that step a little.
    for ours, theirs in zip(weights, array_weights):
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=rate / 100)


def bad_one_hot():
    y = np.eye(10)[np.zeros(4, int)]
    y[0, 1] = 1
    return y


@pytest.mark.parametrize("images,labels,error,pattern", [
    (np.zeros((4, 32, 32)), np.zeros(4), ValueError, r"\(N, 28, 28, 1\).*got shape \(4, 32, 32\)"),
    (np.zeros((4, 28, 28, 3)), np.zeros(4), ValueError, r"\(N, 28, 28, 1\)"),
    (np.zeros((4, 783)), np.zeros(4), ValueError, r"flat \(N, 784\), got shape \(4, 783\)"),
    (np.zeros((4, 28, 28)), np.array([0, 1, 2, 10]), ValueError, r"class ids in 0\.\.9"),
    (np.zeros((4, 28, 28)), np.array([0, 1, 2, -1]), ValueError, r"class ids in 0\.\.9"),
    (np.zeros((4, 28, 28)), np.array([0, 1, 2.5, 3]), ValueError, "whole-number class ids"),
    (np.zeros((4, 28, 28)), np.zeros((4, 3)), ValueError, r"one-hot of shape \(N, 10\)"),
    (np.zeros((4, 28, 28)), bad_one_hot(), ValueError, "looks one-hot"),
    (np.zeros((4, 28, 28)), np.array(["a", "b", "c", "d"]), TypeError, "numbers"),
    (np.full((4, 28, 28), np.nan), np.zeros(4), ValueError, "NaN"),
    (np.zeros((4, 28, 28)), np.array([0, 1, np.nan, 3]), ValueError, "NaN"),
    (np.full((4, 28, 28), 256, "int32"), np.zeros(4), ValueError, r"grey levels 0\.\.255"),
    (np.zeros((4, 28, 28)), np.zeros(3), ValueError, "same number of samples"),
    (np.array([["a"] * 784] * 4), np.zeros(4), TypeError, "numbers"),
    ([[0.0] * 784, [0.0] * 783], np.zeros(2), ValueError, "rectangular array"),
])
def test_bad_input_fails_before_training(images, labels, error, pattern):
    model = models.mnist_convnet()
    before = model.get_weights()
    with pytest.raises(error, match=pattern):
        model.fit(images, labels, verbose=0)
    assert int(numpy(model.optimizer.iterations)) == 0
    for ours, theirs in zip(model.get_weights(), before):
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("options,pattern", [
    (dict(learning_rate=-1.0), "`learning_rate` must be a positive"),
    (dict(learning_rate=float("inf")), "`learning_rate` must be a positive"),
    (dict(learning_rate="fast"), "`learning_rate` must be a positive"),
    (dict(dropout_rate=1.0), r"`dropout_rate` must be in \[0, 1\)"),
    (dict(dropout_rate="x"), r"`dropout_rate` must be in \[0, 1\)"),
    (dict(classes=1), "`classes` must be an integer >= 2"),
    (dict(input_shape=(28, 28)), r"`input_shape` must be \(height, width, channels\)"),
    (dict(input_shape=(28, "28", 1)), r"`input_shape` must be \(height, width, channels\)"),
    (dict(include_top="no"), "`include_top` must be True or False"),
])
def test_bad_options_name_the_valid_range(options, pattern):
    with pytest.raises(ValueError, match=pattern):
        models.mnist_convnet(**options)


def test_config_round_trip_and_keras_file(tmp_path, sample):
    (x, y), _ = sample
    model = models.mnist_convnet(classes=10, dropout_rate=0.3, name="digits")
    config = model.get_config()
    assert {"input_shape", "classes", "include_top", "dropout_rate", "name"} <= set(config)
    clone = MNISTConvNet.from_config(config)
    clone.build((None, 28, 28, 1))
    assert clone.count_params() == model.count_params()
    assert clone.get_config() == config
    model.fit(x[:64], y[:64], batch_size=32, epochs=1, verbose=0)
    model.save(tmp_path / "digits.keras")
    loaded = keras.models.load_model(tmp_path / "digits.keras", safe_mode=True)
    assert type(loaded) is MNISTConvNet and loaded.get_config() == config
    np.testing.assert_allclose(loaded.predict(x[:16], verbose=0),
                               model.predict(x[:16], verbose=0), atol=1e-6)
    assert loaded.optimizer._learning_rate.get_config() == default_learning_rate().get_config()
    assert int(numpy(loaded.optimizer.iterations)) == 2
    with pytest.raises(ValueError, match="mnist_convnet\\(\\) has no weight set 'imagenet'"):
        models.mnist_convnet(weights="imagenet")


def test_include_top_false_is_a_feature_extractor(sample):
    (x, y), _ = sample
    features = models.mnist_convnet(include_top=False)
    assert features.top_layers == [] and features.count_params() == 320 + 18_496
    assert features.predict(x[:2], verbose=0).shape == (2, 7, 7, 64)
    with pytest.raises(ValueError, match="include_top=False"):
        features.fit(x[:2], y[:2], verbose=0)
    # A head of one's own, trained by stock Keras, moves the extractor's kernels too.
    inputs = keras.Input((28, 28, 1))
    outputs = keras.layers.Dense(10, activation="softmax")(
        keras.layers.Flatten()(features(inputs)))
    classifier = keras.Model(inputs, outputs)
    classifier.compile("adam", "sparse_categorical_crossentropy")
    kernel = numpy(features.feature_layers[0].kernel).copy()
    classifier.fit(x[:32, :, :, None] / np.float32(255), y[:32], verbose=0)
    assert not np.allclose(numpy(features.feature_layers[0].kernel), kernel)


def test_takes_a_dataset_of_uint8_images_and_direct_calls_like_predict(sample):
    import tensorflow as tf

    (x, y), _ = sample
    x, y = x[:64], y[:64]  # uint8 (N, 28, 28), as load_data returns them
    model = models.mnist_convnet(dropout_rate=0.0)
    expected = model.predict(x, verbose=0)
    np.testing.assert_allclose(numpy(model(x)), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(numpy(model(x.reshape(64, 784))), expected, rtol=1e-5, atol=1e-6)
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(32)
    np.testing.assert_allclose(model.predict(dataset.map(lambda i, _: i), verbose=0), expected,
                               rtol=1e-5, atol=1e-6)
    assert model.evaluate(dataset, verbose=0, return_dict=True)["loss"] == pytest.approx(
        model.evaluate(x, y, verbose=0, return_dict=True)["loss"], rel=1e-5)
    history = model.fit(dataset, epochs=2, shuffle=False, verbose=0)
    assert history.history["loss"][1] < history.history["loss"][0]

    class Batches(keras.utils.PyDataset):
        def __len__(self):
            return 2

        def __getitem__(self, index):
            return x[32 * index:32 * (index + 1)], y[32 * index:32 * (index + 1)]

    model.fit(Batches(), epochs=1, shuffle=False, verbose=0)
    with pytest.raises(ValueError, match=r"images of shape \(N, 28, 28, 1\).*got shape \(2, 27"):
        model(np.zeros((2, 27, 28), "uint8"))


def test_compile_without_arguments_is_the_factorys_compile():
    model = models.mnist_convnet(compile=False)
    model.compile()
    assert isinstance(model.optimizer, keras.optimizers.Adam)
    assert model.optimizer._learning_rate.get_config() == default_learning_rate().get_config()
    assert [m.name for m in model.metrics] == ["loss", "compile_metrics"]
    assert model.loss == model.cost  # cross-entropy plus the conv kernels' weight decay
    with pytest.raises(ValueError, match="without `loss`"):
        model.compile(loss="mse")
