"""Capsule networks (Sabour, Frosst & Hinton 2017): squash, Procedure 1, the margin loss and
the decoder, each against a NumPy transcription of the paper, on small nets."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from cases import home_only
from keras import ops

from keras_history import backend, datasets, models
from keras_history.layers import DigitCapsules, PrimaryCapsules, routing, squash
from keras_history.models.convolutional.capsnet import (
    ADAM_EPSILON,
    PERTURBATIONS,
    margin_loss,
)

SMALL = dict(conv_filters=16, primary_channels=4, seed=1)


@pytest.fixture(scope="module")
def small():
    """One small net for the tests that only read it (on JAX each new net's shapes compile)."""
    return models.capsnet(**SMALL)


def _numpy(value) -> np.ndarray:
    return np.array(ops.convert_to_numpy(value))


def _digits(count: int = 16):
    (x, y), _ = datasets.mnist.load_sample()
    return x[:count], y[:count]


def numpy_squash(s: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(s, axis=-1, keepdims=True)
    return norm**2 / (1 + norm**2) * s / norm


def numpy_routing(u_hat: np.ndarray, routings: int) -> np.ndarray:
    """Procedure 1 as printed, û indexed [n, i, j, :] (child i, parent j)."""
    b = np.zeros(u_hat.shape[:3])
    for _ in range(routings):
        c = np.exp(b) / np.exp(b).sum(axis=2, keepdims=True)  # softmax over the parents j
        v = numpy_squash(np.einsum("nij,nijd->njd", c, u_hat))
        b = b + np.einsum("nijd,njd->nij", u_hat, v)
    return v


def test_squash_keeps_the_direction_and_maps_the_length_below_one():
    s = np.random.default_rng(0).normal(size=(5, 3, 8)) * np.array([1e-3, 1.0, 30.0])[:, None]
    v = _numpy(squash(ops.convert_to_tensor(s.astype("float32"))))
    n, m = np.linalg.norm(s, axis=-1), np.linalg.norm(v, axis=-1)
    np.testing.assert_allclose(m, n**2 / (1 + n**2), rtol=1e-4)  # eq. 1
    assert np.all(m < 1)
    cosine = np.sum(s * v, axis=-1) / (n * m)
    np.testing.assert_allclose(cosine, 1.0, rtol=1e-5)
    np.testing.assert_allclose(v, numpy_squash(s), rtol=1e-4, atol=1e-9)
    zero = _numpy(squash(ops.zeros((2, 8))))  # a capsule whose inputs cancel: 0, not NaN
    np.testing.assert_array_equal(zero, np.zeros((2, 8)))


@pytest.mark.parametrize("routings", [1, 2, 3])
def test_routing_is_procedure_1(routings):
    u_hat = np.random.default_rng(routings).normal(size=(2, 7, 3, 4))  # 7 children, 3 parents
    ours = routing(ops.convert_to_tensor(u_hat.transpose(0, 2, 1, 3).astype("float32")),
                   routings)
    np.testing.assert_allclose(_numpy(ours), numpy_routing(u_hat, routings), rtol=1e-4,
                               atol=1e-6)


def test_digit_capsules_route_the_predictions_of_their_matrices():
    rng = np.random.default_rng(1)
    u = numpy_squash(rng.normal(size=(2, 6, 8)))
    layer = DigitCapsules(capsules=3, dim=5, routings=3)
    layer.build((None, 6, 8))
    w = rng.normal(size=(6, 3, 8, 5)) * 0.5
    layer.kernel.assign(w.astype("float32"))
    u_hat = np.einsum("nic,ijcd->nijd", u, w)  # û_j|i = W_ij u_i
    np.testing.assert_allclose(_numpy(layer(ops.convert_to_tensor(u.astype("float32")))),
                               numpy_routing(u_hat, 3), rtol=1e-4, atol=1e-6)
    assert layer.count_params() == 6 * 3 * 8 * 5  # no bias (eq. 2)


def test_primary_capsules_cut_a_squashed_convolution_into_capsules():
    layer = PrimaryCapsules(channels=3, dim=4)
    x = np.random.default_rng(2).uniform(size=(2, 20, 20, 5)).astype("float32")
    capsules = _numpy(layer(x))
    assert capsules.shape == (2, 6 * 6 * 3, 4)
    units = _numpy(ops.conv(x, layer.kernel, strides=2) + layer.bias)  # (2, 6, 6, 12)
    # Capsule (row r, column c, channel k) holds the units 4k .. 4k+3 at (r, c).
    np.testing.assert_allclose(capsules[:, (2 * 6 + 5) * 3 + 1], numpy_squash(units[:, 2, 5, 4:8]),
                               rtol=1e-4, atol=1e-6)
    assert PrimaryCapsules().compute_output_shape((None, 20, 20, 256)) == (None, 1152, 8)


@pytest.mark.parametrize("height, width, kernel, strides",
                         [(20, 20, (9, 9), 2), (21, 18, (9, 5), 2), (4, 7, (3, 3), 3)])
def test_strided_conv_is_keras_conv(height, width, kernel, strides):
    # On JAX a stride-1 convolution of space-to-depth blocks (padded when the size is odd).
    rng = np.random.default_rng(height)
    x = rng.normal(size=(2, height, width, 3)).astype("float32")
    k = rng.normal(size=(*kernel, 3, 4)).astype("float32")
    np.testing.assert_allclose(_numpy(backend.strided_conv(x, k, strides)),
                               _numpy(ops.conv(x, k, strides=strides)), rtol=1e-4, atol=1e-4)


@home_only("tensorflow", "torch")  # the same counts everywhere; JAX builds it slowest
def test_the_default_net_has_the_papers_parameter_counts():
    model = models.capsnet(compile=False)
    assert model.count_params() == 8_215_568  # the paper: 8.2M
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == 8_215_568
    kernels = {w.path.split("/")[-2]: tuple(w.shape) for w in model.weights if "kernel" in w.path}
    assert kernels == {"conv1": (9, 9, 1, 256), "primary_caps": (9, 9, 256, 256),
                       "digit_caps": (1152, 10, 8, 16), "decoder_1": (160, 512),
                       "decoder_2": (512, 1024), "decoder_3": (1024, 784)}
    assert models.capsnet(reconstruction=False, compile=False).count_params() == 6_804_224


def test_margin_loss_is_eq_4_summed_over_the_capsules(small):
    rng = np.random.default_rng(3)
    lengths, labels = rng.uniform(size=(6, 10)), rng.integers(0, 10, 6)
    t = np.eye(10)[labels]
    expected = (t * np.maximum(0, 0.9 - lengths) ** 2
                + 0.5 * (1 - t) * np.maximum(0, lengths - 0.1) ** 2).sum(axis=1)
    ours = margin_loss(ops.convert_to_tensor(t.astype("float32")),
                       ops.convert_to_tensor(lengths.astype("float32")))
    np.testing.assert_allclose(_numpy(ours), expected, rtol=1e-5)
    cost = small.cost(ops.convert_to_tensor(labels), ops.convert_to_tensor(lengths, "float32"))
    np.testing.assert_allclose(float(_numpy(cost)), expected.mean(), rtol=1e-5)


def test_the_objective_adds_0_0005_of_the_true_capsules_reconstruction_error(small):
    model = small
    x, y = _digits(4)
    images, capsules = model.encode(x / np.float32(255))
    loss, lengths = model.objective(ops.convert_to_tensor(y), images, capsules)
    t = np.eye(10, dtype="float32")[y]
    masked = _numpy(capsules) * t[:, :, None]  # all but the true class's capsule zeroed
    h = masked.reshape(4, 160)
    for layer in model.decoder_layers:
        w, b = (_numpy(v) for v in layer.weights)
        h = h @ w + b
        h = np.maximum(h, 0) if layer.units != 784 else 1 / (1 + np.exp(-h))
    error = ((h.reshape(4, 28, 28, 1) - x[..., None] / 255.0) ** 2).sum(axis=(1, 2, 3))
    margin = _numpy(margin_loss(ops.convert_to_tensor(t), lengths))
    np.testing.assert_allclose(float(_numpy(loss)), np.mean(margin + 0.0005 * error),
                               rtol=1e-4)
    np.testing.assert_allclose(_numpy(lengths), np.linalg.norm(_numpy(capsules), axis=-1),
                               rtol=1e-5)


def test_the_authors_adam_and_schedule(small):
    optimizer = small.optimizer
    assert isinstance(optimizer, keras.optimizers.Adam) and optimizer.epsilon == ADAM_EPSILON
    schedule = optimizer._learning_rate
    for step in (0, 1000, 2000, 50_000):
        rate = float(_numpy(schedule(step)))
        assert rate == pytest.approx(0.001 * 0.96 ** (step / 2000), rel=1e-5)


def test_one_step_lowers_the_loss_on_its_batch():
    model = models.capsnet(shift=0, **SMALL)
    x, y = _digits(32)
    # One batch, two steps: each epoch's loss is measured before its step.
    losses = model.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0).history["loss"]
    assert losses[1] < losses[0]
    assert int(_numpy(model.optimizer.iterations)) == 2


def test_training_shifts_the_images_by_up_to_two_pixels(small):
    model = small
    x, _ = _digits(16)
    x = x[..., None] / np.float32(255)
    shifted = _numpy(model.augment(x, training=True))  # what `encode` feeds Conv1 in training
    padded = np.pad(x, [(0, 0), (2, 2), (2, 2), (0, 0)])
    offsets = []
    for image, original in zip(shifted, padded):
        found = [(dy, dx) for dy in range(5) for dx in range(5)
                 if np.array_equal(image, original[dy:dy + 28, dx:dx + 28])]
        assert found, "not a shift of at most 2 pixels with zero padding"
        offsets.append(found[0])
    assert len(set(offsets)) > 1  # each image its own shift
    np.testing.assert_array_equal(_numpy(model.augment(x)), x)  # none at inference


def test_predict_gives_lengths_and_the_decoder_reconstructs_and_perturbs(small):
    model = small
    x, y = _digits(3)
    lengths = model.predict(x, verbose=0)
    assert lengths.shape == (3, 10) and np.all((lengths > 0) & (lengths < 1))
    predicted = lengths.argmax(axis=1)
    images = model.reconstruct(x)
    assert images.shape == (3, 28, 28, 1) and np.all((images >= 0) & (images <= 1))
    np.testing.assert_allclose(images, model.reconstruct(x, predicted), rtol=1e-5, atol=1e-6)
    other = model.reconstruct(x, (predicted + 1) % 10)  # another capsule: another image
    assert np.abs(other - images).max() > 1e-3
    tweaked = model.perturb(x[:2])
    assert tweaked.shape == (2, 16, len(PERTURBATIONS), 28, 28, 1)
    assert PERTURBATIONS[5] == 0.0  # the middle column is the plain reconstruction
    np.testing.assert_allclose(tweaked[:, 3, 5], images[:2], rtol=1e-5, atol=1e-6)
    assert np.abs(tweaked[:, 3, 0] - tweaked[:, 3, -1]).max() > 1e-4


def test_bad_inputs_and_options_are_refused(small):
    x, y = _digits(2)
    with pytest.raises(ValueError, match="reconstruction=False: it has no decoder"):
        models.capsnet(reconstruction=False, compile=False, **SMALL).reconstruct(x)
    model = small
    with pytest.raises(ValueError, match=r"images of shape \(N, 28, 28, 1\)"):
        model.reconstruct(x[:, :27])
    with pytest.raises(ValueError, match=r"class ids in 0\.\.9"):
        model.reconstruct(x, [3, 10])
    with pytest.raises(ValueError, match="must lie in"):
        model.predict(x * 1.0, verbose=0)  # float grey levels 0..255
    # The other options' ranges: tests/test_bad_input.py's table.
    with pytest.raises(ValueError, match=r"`input_shape` must be at least 17×17"):
        models.capsnet(input_shape=(16, 16, 1))


# An untrained net's optimizer has no state yet; Keras says so when the file is loaded.
@pytest.mark.filterwarnings("ignore:Skipping variable loading for optimizer")
def test_figure_4_is_drawn_only_from_trained_weights(small, tmp_path):
    figures = pytest.importorskip("keras_history.figures")
    from keras_history import weights

    if not weights.names("capsnet"):  # no shipped set: an untrained decoder draws noise
        assert figures.FIGURES["capsnet"](figures.Options()) == {}
    path = tmp_path / "capsnet.keras"
    small.save(path)  # as scripts/benchmark_capsnet.py checkpoints it
    drawn = figures.FIGURES["capsnet"](figures.Options(weights=str(path)))
    assert list(drawn) == ["capsnet_dimensions"]
    panels = [ax for ax in drawn["capsnet_dimensions"].axes if ax.images]
    assert len(panels) == 2  # two test digits, each 16 dimensions × 11 steps of 28 × 28
    assert panels[0].images[0].get_array().shape == (16 * 30 - 2, 11 * 30 - 2)
    figures.plt.close(drawn["capsnet_dimensions"])
