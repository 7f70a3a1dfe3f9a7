"""The logistic neuron and the shallow net (deeplearning.ai, week 3), the course's flower
and the TensorFlow Playground's data sets."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from keras_history import backend, datasets, models
from keras_history.models.classic.cross_entropy import course_weights


def value(variable) -> np.ndarray:
    return keras.ops.convert_to_numpy(variable)


def accuracy(model, x, y) -> float:
    return float(np.mean((model.predict(x, verbose=0) > 0.5) == y))


# --- Hand-derived gradients are the gradients ----------------------------------------


NETS = {
    "logistic": lambda: models.logistic_neuron(learning_rate=0.5, input_dim=2),
    "tanh": lambda: models.shallow_net(4, learning_rate=0.5, seed=3, input_dim=2),
    "sigmoid": lambda: models.shallow_net(3, activation="sigmoid", learning_rate=0.5, seed=3,
                                          input_dim=2),
    "relu, two layers": lambda: models.shallow_net((5, 3), activation="relu", learning_rate=0.5,
                                                   seed=3, input_dim=2),
    "playground": lambda: models.shallow_net((4, 2), output="tanh", learning_rate=0.5, seed=3,
                                             input_dim=2),
}


@pytest.mark.parametrize("net", NETS)
def test_hand_derived_update_equals_the_autodiff_gradient(net):
    x, y = datasets.flower(samples=40, seed=2)
    model = NETS[net]()
    # Weights far from the small (or zero) start, where every gradient is large enough to see.
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(0, 0.7, w.shape).astype("float32")
                       for w in model.get_weights()])
    before = [value(w).copy() for w in model.trainable_weights]

    def loss_fn():
        tx, ty = keras.ops.convert_to_tensor(x), keras.ops.convert_to_tensor(y)
        return model.cost(ty, model(tx)), None

    _, _, grads = backend.value_and_grad(loss_fn, model.trainable_weights)
    assert any(np.abs(value(g)).max() > 1e-3 for g in grads)
    model.fit(x, y, batch_size=len(x), epochs=1, verbose=0)
    for old, new, grad in zip(before, model.trainable_weights, grads, strict=True):
        np.testing.assert_allclose(value(new), old - 0.5 * value(grad), rtol=1e-4, atol=1e-6)


def test_the_first_step_is_the_lectures_formulas_in_numpy():
    # dZ₂ = A₂ − Y, dW₂ = (1/m) dZ₂ A₁ᵀ, dZ₁ = W₂ᵀ dZ₂ * (1 − A₁²), dW₁ = (1/m) dZ₁ Xᵀ.
    x, y = datasets.flower()
    model = models.shallow_net(4, init="course")
    w1, b1, w2, b2 = (w.T.astype("float64") for w in course_weights(4))
    X, Y, m = x.T.astype("float64"), y.T, x.shape[0]
    a1 = np.tanh(w1 @ X + b1[:, None])
    a2 = 1 / (1 + np.exp(-(w2 @ a1 + b2[:, None])))
    dz2 = a2 - Y
    dz1 = w2.T @ dz2 * (1 - a1**2)
    expected = [w1 - 1.2 * dz1 @ X.T / m, b1 - 1.2 * dz1.sum(1) / m,
                w2 - 1.2 * dz2 @ a1.T / m, b2 - 1.2 * dz2.sum(1) / m]
    model.fit(x, y, batch_size=400, epochs=1, verbose=0)
    for new, want in zip(model.trainable_weights, expected, strict=True):
        np.testing.assert_allclose(value(new).T, want, rtol=1e-4, atol=1e-7)


# --- The course's numbers ----------------------------------------------------------


def test_the_course_starts_at_its_cost_0_693048():
    x, y = datasets.flower()
    model = models.shallow_net(4, init="course")
    cost = model.evaluate(x, y, verbose=0, return_dict=True)["loss"]
    assert cost == pytest.approx(0.693048, abs=1e-6)  # "Cost after iteration 0"


def test_the_shallow_net_beats_logistic_regression_on_the_flower():
    x, y = datasets.flower()
    logistic = models.logistic_neuron(steps_per_batch=300)
    logistic.fit(x, y, batch_size=400, epochs=1, verbose=0)
    net = models.shallow_net(4, init="course", steps_per_batch=300)
    net.fit(x, y, batch_size=400, epochs=1, verbose=0)
    assert accuracy(logistic, x, y) < 0.6  # no line separates the petals (course: 47%)
    assert accuracy(net, x, y) > 0.85  # course: 90% after 10,000 steps
    assert int(value(net.optimizer.iterations)) == 300


def test_course_weights_need_the_lectures_net():
    with pytest.raises(ValueError, match='init="course" is the lecture\'s net'):
        models.shallow_net((4, 2), init="course")
    with pytest.raises(ValueError, match="`init` must be None"):
        models.shallow_net(init="xavier")
    with pytest.raises(ValueError, match="`activation` must be one of 'tanh'"):
        models.shallow_net(activation="softplus")
    with pytest.raises(ValueError, match="`output` must be 'sigmoid'"):
        models.shallow_net(output="linear")
    with pytest.raises(ValueError, match="`hidden_units` must be an integer >= 1, or a tuple"):
        models.shallow_net((4, 0))


def test_compile_restores_each_sources_step_size():
    for output, rate in (("sigmoid", 1.2), ("tanh", 0.03)):
        model = models.shallow_net(output=output, learning_rate=0.5)
        model.compile()
        assert float(value(model.optimizer.learning_rate)) == pytest.approx(rate)


# --- The flower ------------------------------------------------------------------------


def test_the_flower_is_the_courses():
    x, y = datasets.flower()
    assert x.shape == (400, 2) and y.shape == (400, 1)
    assert x.dtype == y.dtype == np.float32
    np.testing.assert_array_equal(y[:200], 0)  # the course's order: class 0, then class 1
    np.testing.assert_array_equal(y[200:], 1)
    assert np.abs(x).max() < 4.0 + 1.0  # petals of ray a = 4, plus noise
    again, _ = datasets.flower()
    np.testing.assert_array_equal(x, again)
    other, _ = datasets.flower(seed=2)
    assert not np.array_equal(x, other)
    assert datasets.flower(samples=40)[0].shape == (40, 2)


@pytest.mark.parametrize("options, message", [
    (dict(samples=3), "`samples` must be even"),
    (dict(samples=0), "`samples` must be an integer >= 2"),
    (dict(radius=-1.0), "`radius` must be a number"),
    (dict(seed="one"), "`seed` must be an integer >= 0"),
])
def test_bad_flower_options_are_named(options, message):
    with pytest.raises(ValueError, match=message):
        datasets.flower(**options)


# --- The Playground ----------------------------------------------------------------


@pytest.mark.parametrize("name", ["circle", "xor", "gauss", "spiral"])
def test_playground_sets_are_split_and_labelled_as_the_playground_does(name):
    (x, y), (x_test, y_test) = datasets.playground(name, seed=3)
    assert x.shape == (250, 2) and x_test.shape == (250, 2)
    assert y.shape == y_test.shape == (250, 1) and x.dtype == y.dtype == np.float32
    labels = np.concatenate([y, y_test])
    assert set(np.unique(labels)) == {0.0, 1.0}
    if name == "xor":  # points anywhere in the square: about half in each class
        assert 200 < labels.sum() < 300
    else:  # 250 of each class before the shuffle
        assert labels.sum() == 250
    assert np.abs(np.concatenate([x, x_test])).max() < 6.5  # the Playground draws [-6, 6]
    assert 80 < y[:200].sum() < 170  # shuffled: not one class, then the other
    (again, _), _ = datasets.playground(name, seed=3)
    np.testing.assert_array_equal(x, again)
    (x70, _), (x30, _) = datasets.playground(name, train_percent=70, seed=3)
    assert (len(x70), len(x30)) == (350, 150)


def test_without_noise_the_labels_follow_the_rule():
    (x, y), _ = datasets.playground("circle", samples=400)
    np.testing.assert_array_equal(y[:, 0], np.hypot(*x.T) < 2.5)
    assert np.all((np.hypot(*x.T) < 2.5) | (np.hypot(*x.T) > 3.5))  # the gap between rings
    (x, y), _ = datasets.playground("xor", samples=400)
    np.testing.assert_array_equal(y[:, 0], x[:, 0] * x[:, 1] >= 0)
    assert np.abs(x).min() >= 0.3 - 1e-6  # the padding along both axes
    (x, y), _ = datasets.playground("gauss", samples=400)
    assert np.all(x[y[:, 0] == 1].mean(0) > 1.5) and np.all(x[y[:, 0] == 0].mean(0) < -1.5)


def test_noise_moves_labels_or_points():
    (x, y), _ = datasets.playground("circle", samples=400, noise=50)
    assert np.mean(y[:, 0] != (np.hypot(*x.T) < 2.5)) > 0.05  # labels taken off the point
    (quiet, _), _ = datasets.playground("spiral", samples=400, seed=1)
    (noisy, _), _ = datasets.playground("spiral", samples=400, noise=50, seed=1)
    moved = np.abs(np.sort(noisy, axis=0) - np.sort(quiet, axis=0)).max()
    assert 0 < moved <= 0.5 * 2 + 1e-5
    (narrow, _), _ = datasets.playground("gauss", seed=1)
    (wide, _), _ = datasets.playground("gauss", noise=50, seed=1)
    assert wide.std() > narrow.std()


@pytest.mark.parametrize("args, message", [
    (("moons",), "Unknown Playground data set 'moons'; expected one of: circle, xor"),
    (("circle", 500, 60), r"`noise` must be a number in \[0, 50\]"),
    (("circle", 500, 0, 95), r"`train_percent` must be a number in \[10, 90\]"),
    (("circle", 1), "`samples` must be an integer >= 2"),
])
def test_bad_playground_options_are_named(args, message):
    with pytest.raises(ValueError, match=message):
        datasets.playground(*args)


def test_the_playgrounds_default_net_learns_the_circle():
    (x, y), (x_test, y_test) = datasets.playground("circle")
    model = models.shallow_net((4, 2), output="tanh", seed=0)
    history = model.fit(x, y, batch_size=10, epochs=40, shuffle=False, verbose=0).history
    assert history["loss"][-1] < history["loss"][0]
    assert accuracy(model, x_test, y_test) > 0.8
    # The cost is the Playground's ½(out − t)² with t = ±1.
    out = 2 * model.predict(x_test, verbose=0) - 1
    loss = model.evaluate(x_test, y_test, verbose=0, return_dict=True)["loss"]
    assert loss == pytest.approx(np.mean(0.5 * (out - (2 * y_test - 1)) ** 2), rel=1e-4)
