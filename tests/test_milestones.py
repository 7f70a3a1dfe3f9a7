"""Milestones 1-5 reproduce their seed snippets' numbers on every backend."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from keras_history import backend, datasets, models
from keras_history.layers import Heaviside


def value(variable) -> np.ndarray:
    return keras.ops.convert_to_numpy(variable)


# --- 1. Least squares -------------------------------------------------------


def test_least_squares_cost_of_the_snippet_line_is_22():
    model = models.least_squares()
    model.build((None, 1))
    model.kernel.assign([[2.0]])
    model.bias.assign([1.0])
    x, y = np.array([[3.0], [6.0], [12.0]]), np.array([[6.0], [9.0], [18.0]])
    assert model.evaluate(x, y, verbose=0) == pytest.approx(22.0, abs=1e-6)


@pytest.mark.parametrize("batch_size", [1, 7, 200])
def test_least_squares_is_exact_whatever_the_batch_size(batch_size):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 3)).astype("float32") + [5.0, -2.0, 0.5]
    y = (x @ [[1.5, -1.0], [0.5, 2.0], [-3.0, 0.25]] + [4.0, -1.0]
         + 0.1 * rng.normal(size=(200, 2))).astype("float32")
    model = models.least_squares(units=2)
    model.fit(x, y, batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
    solution = np.linalg.lstsq(np.hstack([x, np.ones((200, 1))]).astype("float64"),
                               y.astype("float64"), rcond=None)[0]
    np.testing.assert_allclose(value(model.kernel), solution[:3], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(value(model.bias), solution[3], rtol=1e-4)


def test_least_squares_more_epochs_change_nothing():
    x, y = datasets.wheat_and_bread()
    once, thrice = models.least_squares(), models.least_squares()
    once.fit(x, y, epochs=1, verbose=0)
    thrice.fit(x, y, epochs=3, batch_size=2, verbose=0)
    np.testing.assert_allclose(value(once.kernel), value(thrice.kernel), rtol=1e-5)
    thrice.reset_statistics()
    assert float(value(thrice.count)) == 0.0


# --- 2. Gradient descent -----------------------------------------------------


def test_gradient_descent_reproduces_the_snippet():
    model = models.gradient_descent()
    history = model.fit(np.zeros((60, 1)), batch_size=1, verbose=0)
    assert float(value(model.position)) == pytest.approx(1.0928374327, abs=1e-5)
    assert int(value(model.optimizer.iterations)) == 60
    # The logged loss is f(x) along the way, and it went down.
    assert history.history["loss"][0] < 0.5**5 - 2 * 0.5**3 - 2 + 1e-6


def test_gradient_descent_on_any_polynomial():
    # f(x) = (x - 3)^2 = x^2 - 6x + 9 has its minimum at 3.
    model = models.gradient_descent(start=0.0, learning_rate=0.1, coefficients=[1, -6, 9])
    model.fit(np.zeros((1, 1)), epochs=200, verbose=0)
    assert float(value(model.position)) == pytest.approx(3.0, abs=1e-4)
    # Calling the model evaluates the polynomial.
    np.testing.assert_allclose(model.predict(np.array([[0.0], [3.0]]), verbose=0),
                               [[9.0], [0.0]], atol=1e-6)


def test_gradient_descent_slope_is_the_derivative():
    model = models.gradient_descent()
    xs = keras.ops.convert_to_tensor(np.linspace(-2, 2, 9).astype("float32"))
    np.testing.assert_allclose(value(model.slope(xs)),
                               5 * value(xs) ** 4 - 6 * value(xs) ** 2, rtol=1e-5, atol=1e-5)


# --- 3. Linear regression ----------------------------------------------------


def test_linear_regression_reproduces_the_snippet():
    model = models.linear_regression()
    model.fit(*datasets.wheat_and_bread(), epochs=100, verbose=0)
    assert float(value(model.bias)[0]) == pytest.approx(3.30446237, abs=1e-5)
    assert float(value(model.kernel)[0, 0]) == pytest.approx(2.96606269, abs=1e-5)


def test_steps_per_batch_is_the_same_as_more_epochs():
    x, y = datasets.wheat_and_bread()
    slow = models.linear_regression()
    slow.fit(x, y, epochs=20, verbose=0)
    fast = models.linear_regression(steps_per_batch=10)
    fast.fit(x, y, epochs=2, verbose=0)
    np.testing.assert_allclose(value(fast.kernel), value(slow.kernel), rtol=1e-6)
    np.testing.assert_allclose(value(fast.bias), value(slow.bias), rtol=1e-6)
    assert int(value(fast.optimizer.iterations)) == 20


# --- 4. Perceptron ------------------------------------------------------------


def test_heaviside_is_exactly_zero_or_one_and_fires_at_zero():
    out = value(Heaviside()(np.array([-2.0, -1e-7, 0.0, 1e-7, 3.0], "float32")))
    np.testing.assert_array_equal(out, [0, 0, 1, 1, 1])


@pytest.mark.parametrize("gate", ["or", "and", "nand"])
def test_perceptron_learns_separable_gates(gate):
    x, y = datasets.logic_gate(gate)
    model = models.perceptron(seed=0)
    history = model.fit(x, y, epochs=30, batch_size=1, verbose=0)
    assert history.history["errors"][-1] == 0
    prediction = model.predict(x, verbose=0)
    assert set(np.unique(prediction)) <= {0.0, 1.0}
    np.testing.assert_array_equal(prediction, y)


def test_perceptron_never_learns_xor():
    x, y = datasets.logic_gate("xor")
    history = models.perceptron(seed=0).fit(x, y, epochs=50, batch_size=1, verbose=0)
    assert min(history.history["errors"]) > 0


def test_perceptron_rule_is_online_whatever_the_batch_size():
    x, y = datasets.logic_gate("or")
    one, four = models.perceptron(seed=3), models.perceptron(seed=3)
    one.fit(x, y, epochs=3, batch_size=1, shuffle=False, verbose=0)
    four.fit(x, y, epochs=3, batch_size=4, shuffle=False, verbose=0)
    np.testing.assert_allclose(value(one.kernel), value(four.kernel), rtol=1e-6)


def test_perceptron_rule_on_one_mistake():
    model = models.perceptron(learning_rate=0.2)
    model.build((None, 3))
    model.kernel.assign(np.zeros((3, 1)))
    model.bias.assign([-0.5])  # fires for nothing: the target 1 is a mistake
    model.fit(np.array([[1.0, 0.0, 1.0]]), np.array([[1.0]]), epochs=1, verbose=0)
    np.testing.assert_allclose(value(model.kernel).ravel(), [0.2, 0.0, 0.2], atol=1e-7)
    np.testing.assert_allclose(value(model.bias), [-0.3], atol=1e-7)


# --- 5. Backpropagation -------------------------------------------------------


def test_backprop_reproduces_the_snippet():
    x, y = datasets.logic_gate("xor")
    model = models.backprop_mlp(weights="snippet", steps_per_batch=1000)
    model.fit(x, y, epochs=60, verbose=0)
    np.testing.assert_allclose(model.predict(x, verbose=0).ravel(),
                               [0.0026, 0.9967, 0.9970, 0.0039], atol=1e-3)
    assert int(value(model.optimizer.iterations)) == 60_000


def test_backprop_update_equals_autodiff_gradient():
    x, y = datasets.logic_gate("xor")
    model = models.backprop_mlp(learning_rate=0.5, seed=2, input_dim=2)
    before = [value(w).copy() for w in model.trainable_weights]

    def loss_fn():
        tx, ty = keras.ops.convert_to_tensor(x), keras.ops.convert_to_tensor(y)
        return model.cost(ty, model(tx)), None

    _, _, grads = backend.value_and_grad(loss_fn, model.trainable_weights)
    model.fit(x, y, epochs=1, verbose=0)
    for old, new, grad in zip(before, model.trainable_weights, grads):
        np.testing.assert_allclose(value(new), old - 0.5 * value(grad), rtol=1e-5, atol=1e-6)


def test_backprop_defaults_solve_xor():
    x, y = datasets.logic_gate("xor")
    model = models.backprop_mlp(seed=0, steps_per_batch=500)
    model.fit(x, y, epochs=20, verbose=0)
    np.testing.assert_array_equal(np.round(model.predict(x, verbose=0)), y)


def test_snippet_weights_need_the_snippet_architecture():
    with pytest.raises(ValueError, match="hidden_units=4"):
        models.backprop_mlp(hidden_units=8, weights="snippet")


# --- Shared behaviour -----------------------------------------------------------


@pytest.mark.parametrize("factory", [models.least_squares, models.linear_regression,
                                     models.perceptron, models.backprop_mlp,
                                     models.gradient_descent])
def test_factories_reject_unknown_options_by_naming_the_valid_ones(factory):
    with pytest.raises(TypeError, match="unknown option.*learning_rat.*expected any of"):
        factory(learning_rat=0.1)


def test_rule_models_refuse_a_loss():
    with pytest.raises(ValueError, match="without `loss`"):
        models.perceptron(compile=False).compile(optimizer="sgd", loss="mse")


def test_logic_gates_and_wheat_data():
    x, y = datasets.logic_gate("XOR")
    assert x.shape == (4, 2) and y.shape == (4, 1) and y.ravel().tolist() == [0, 1, 1, 0]
    x, y = datasets.wheat_and_bread()
    assert x.shape == (5, 1) and y.shape == (5, 1)
    with pytest.raises(ValueError, match="expected one of: or, and, nand, xor"):
        datasets.logic_gate("nor")


def test_basic_bad_input_is_named():
    model = models.linear_regression()
    with pytest.raises(ValueError, match=r"\(samples, features\), got shape \(3, 2, 2\)"):
        model.fit(np.zeros((3, 2, 2)), np.zeros((3, 1)), verbose=0)
    with pytest.raises(TypeError, match="must hold numbers"):
        model.fit(np.array([["a"], ["b"]]), np.zeros((2, 1)), verbose=0)
    with pytest.raises(ValueError, match="NaN"):
        model.fit(np.array([[np.nan], [1.0]]), np.zeros((2, 1)), verbose=0)
    with pytest.raises(ValueError, match="only 0 or 1"):
        models.perceptron().fit(np.zeros((2, 2)), np.array([[0.0], [2.0]]), verbose=0)


# --- Logs that say where the model stands (issue 10, section 2) ----------------


def test_least_squares_logs_the_cost_of_the_line_it_fitted():
    x, y = datasets.wheat_and_bread()
    model = models.least_squares()
    history = model.fit(x, y, batch_size=2, epochs=1, shuffle=False, verbose=0)
    assert history.history["loss"][-1] == pytest.approx(model.evaluate(x, y, verbose=0),
                                                        rel=1e-3)
    rng = np.random.default_rng(4)
    x = rng.normal(size=(50, 3)).astype("float32")
    y = (x @ rng.normal(size=(3, 2)) + 0.3 * rng.normal(size=(50, 2))).astype("float32")
    model = models.least_squares()
    history = model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    cost = model.evaluate(x, y, verbose=0)
    assert cost == pytest.approx(0.09, rel=0.5)  # the noise's variance: a real fit
    np.testing.assert_allclose(history.history["loss"], [cost, cost], rtol=1e-3)


class EndOfEpochPositions(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.positions = []

    def on_epoch_end(self, epoch, logs=None):
        self.positions.append(float(value(self.model.position)))


def test_gradient_descent_logs_where_the_walk_ends_each_epoch():
    model, ends = models.gradient_descent(), EndOfEpochPositions()
    history = model.fit(np.zeros((20, 1)), batch_size=1, epochs=3, verbose=0, callbacks=[ends])
    assert ends.positions[-1] == pytest.approx(1.0928374327, abs=1e-5)  # 60 steps in all
    np.testing.assert_allclose(history.history["position"], ends.positions, rtol=1e-6)
    f = np.polynomial.polynomial.polyval(ends.positions, [-2, 0, 0, -2, 0, 1])
    np.testing.assert_allclose(history.history["loss"], f, rtol=1e-5)
    assert history.history["loss"][-1] == pytest.approx(
        model.evaluate(np.zeros((1, 1)), verbose=0, return_dict=True)["loss"], rel=1e-6)


def test_a_long_rule_moves_the_progress_bar_over_rule_steps(monkeypatch, capsys):
    shown = []
    update = keras.utils.Progbar.update

    def recording(progbar, current, values=None, finalize=None):
        shown.append((current, progbar.target))
        return update(progbar, current, values, finalize)

    monkeypatch.setattr(keras.utils.Progbar, "update", recording)
    x, y = datasets.logic_gate("xor")
    quiet = models.backprop_mlp(weights="snippet", steps_per_batch=2500)
    quiet.fit(x, y, epochs=2, shuffle=False, verbose=0)
    assert shown == []
    model = models.backprop_mlp(weights="snippet", steps_per_batch=2500)
    model.fit(x, y, epochs=2, shuffle=False, verbose=1)
    # Each epoch's single batch moves the bar in chunks of 1,000 rule steps (and the
    # rest), then at the batch's and the epoch's end.
    steps = [current for current, target in shown if target == 2500]
    assert steps == [1000, 2000, 2500, 2500, 2500] * 2
    assert "2500/2500" in capsys.readouterr().out
    # The chunks give the very same weights as one compiled call per batch.
    for chunked, whole in zip(model.weights + [model.optimizer.iterations],
                              quiet.weights + [quiet.optimizer.iterations]):
        np.testing.assert_array_equal(value(chunked), value(whole))


def test_short_batches_count_rule_steps_without_chunks(monkeypatch):
    shown = []
    update = keras.utils.Progbar.update

    def recording(progbar, current, values=None, finalize=None):
        shown.append(current)
        return update(progbar, current, values, finalize)

    monkeypatch.setattr(keras.utils.Progbar, "update", recording)
    x, y = datasets.wheat_and_bread()
    models.linear_regression(steps_per_batch=10).fit(x, y, batch_size=2, verbose=1)
    assert shown == [30, 30]  # three batches of ten steps in one call, then the epoch's line
    shown.clear()
    batches = []
    per_batch = keras.callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: batches.append(b))
    models.linear_regression(steps_per_batch=10).fit(x, y, batch_size=2, verbose=1,
                                                     callbacks=[per_batch])
    assert shown == [10, 20, 30, 30]  # a per-batch callback gets every batch
    assert batches == [0, 1, 2]


# --- Keras habits (issue 10, section 4) -----------------------------------------


@pytest.mark.parametrize("factory", [
    lambda: models.backprop_mlp(hidden_units=8, seed=1), lambda: models.perceptron(seed=1),
    models.linear_regression, models.least_squares])
def test_rule_models_take_their_input_size_from_the_first_data(factory):
    x, y = datasets.logic_gate("and")
    x3 = np.hstack([x, np.ones((4, 1), "float32")])
    model = factory()
    model.fit(x3, y, epochs=2, verbose=0)
    assert model.weights[0].shape[0] == 3
    assert model.predict(x3, verbose=0).shape == (4, 1)
    with pytest.raises(ValueError, match=r"\(samples, 3\), got shape \(4, 2\)"):
        model.predict(x, verbose=0)
    unbuilt = factory()
    assert unbuilt.predict(x3, verbose=0).shape == (4, 1)  # predict first builds it too
    assert unbuilt.weights[0].shape[0] == 3


def test_input_dim_still_builds_up_front_and_weights_files_give_their_width(tmp_path):
    model = models.backprop_mlp(input_dim=3, seed=1)
    assert model.built and model.weights[0].shape == (3, 4)
    model.save_weights(tmp_path / "three.weights.h5")
    again = models.backprop_mlp(weights=str(tmp_path / "three.weights.h5"))
    np.testing.assert_array_equal(value(again.weights[0]), value(model.weights[0]))


def test_least_squares_takes_its_outputs_from_y():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(30, 2)).astype("float32")
    y = np.stack([x @ [1.0, 2.0] + 3.0, x @ [-1.0, 0.5] - 1.0, x[:, 0]], axis=1)
    model = models.least_squares()
    model.fit(x, y, verbose=0)
    assert model.units == 3 and model.kernel.shape == (2, 3)
    np.testing.assert_allclose(value(model.bias), [3.0, -1.0, 0.0], atol=1e-4)


@pytest.mark.parametrize("name, rate", [("gradient_descent", 0.01), ("linear_regression", 0.01),
                                        ("perceptron", 0.2), ("backprop_mlp", 1.0)])
def test_compile_without_arguments_restores_the_milestones_rate(name, rate):
    model = getattr(models, name)(compile=False)
    model.compile()
    assert isinstance(model.optimizer, keras.optimizers.SGD)
    assert float(value(model.optimizer.learning_rate)) == pytest.approx(rate)
    assert model.loss == model.cost


def test_model_loss_is_what_training_lowers_and_evaluate_reports():
    x, y = datasets.wheat_and_bread()
    model = models.linear_regression()
    model.fit(x, y, epochs=3, verbose=0)
    measured = model.loss(keras.ops.convert_to_tensor(y), model(x))
    assert float(value(measured)) == pytest.approx(model.evaluate(x, y, verbose=0), rel=1e-5)
    model = models.least_squares()
    model.compile()
    assert model.loss == model.cost
