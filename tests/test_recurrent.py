"""Milestones 6 and 7: Elman's simple recurrent net (1990) and the LSTM of 1997.

The cells against NumPy, the carousel, the truncated gradient against full
backpropagation through time, the online rule, the data generators and the
paper's weight counts. (Saving, export, bad input, determinism and interrupted
training are in the cross-cutting test files, through tests/cases.py.)
"""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
from cases import numpy

from keras_history import backend, datasets, layers, models
from keras_history.datasets import adding, reber


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def lstm_reference(layer, x, weights=None):
    """The 1997 equations, written out in NumPy for one unpadded batch (in float64
    with `weights`, a dict of the layer's weights by attribute name)."""
    weights = weights or {name: numpy(getattr(layer, name)) for name in (
        "kernel", "recurrent_kernel", "gate_bias") + (("cell_input_bias",) * layer.cell_bias)}
    kernel, recurrent = weights["kernel"], weights["recurrent_kernel"]
    gate_bias = weights["gate_bias"]
    cell_bias = weights.get("cell_input_bias", 0.0)
    cells, blocks, size = layer.cells, layer.blocks, layer.cells_per_block
    state = np.zeros((len(x), cells))
    fed_back = np.full((len(x), layer.feedback), layer.initial_activation)
    states, outputs = [], []
    for t in range(x.shape[1]):
        net = x[:, t] @ kernel + fed_back @ recurrent
        net[:, :cells] += cell_bias
        gates = sigmoid(net[:, cells:] + gate_bias)
        y_in = np.repeat(gates[:, :blocks], size, axis=1)
        y_out = np.repeat(gates[:, blocks:2 * blocks], size, axis=1)
        if layer.forget_gate:
            state = np.repeat(gates[:, 2 * blocks:], size, axis=1) * state
        state = state + y_in * (4 * sigmoid(net[:, :cells]) - 2)   # g in [-2, 2]
        y_c = y_out * (2 * sigmoid(state) - 1)                      # h in [-1, 1]
        fed_back = np.concatenate([y_c, gates], axis=1)
        states.append(state)
        outputs.append(y_c)
    return np.stack(outputs, 1), np.stack(states, 1)


@pytest.mark.parametrize("forget_gate", [False, True])
def test_lstm_cell_follows_the_1997_equations(forget_gate):
    layer = layers.LSTM1997(blocks=2, cells_per_block=3, forget_gate=forget_gate, seed=4,
                            output_gate_bias=[-1.0, -2.0])
    x = np.random.default_rng(0).uniform(-1, 1, (3, 6, 4)).astype("float32")
    trace = layer.trace(x)
    outputs, states = lstm_reference(layer, x)
    np.testing.assert_allclose(numpy(trace["cell_output"]), outputs, atol=1e-5)
    np.testing.assert_allclose(numpy(trace["cell_state"]), states, atol=1e-5)
    np.testing.assert_allclose(numpy(layer(x)), outputs, atol=1e-5)
    # The fixed output gate biases; the input gate ones were drawn in [-0.2, 0.2].
    np.testing.assert_array_equal(numpy(layer.gate_bias)[2:4], [-1.0, -2.0])
    assert np.all(np.abs(numpy(layer.gate_bias)[:2]) <= 0.2)


def test_the_simulator_s_net_starts_its_fed_back_activations_at_one_half():
    # Hochreiter's simulator (lstm.c, reset_net()): activations 0.5, states 0, cells biased.
    layer = layers.LSTM1997(blocks=2, cells_per_block=2, seed=4, cell_bias=True,
                            initial_activation=0.5)
    x = np.random.default_rng(0).uniform(-1, 1, (3, 5, 4)).astype("float32")
    cell_outputs = numpy(layer(x))
    outputs, states = lstm_reference(layer, x)
    np.testing.assert_allclose(cell_outputs, outputs, atol=1e-5)
    zero_start = lstm_reference(layers.LSTM1997.from_config(
        {**layer.get_config(), "initial_activation": 0.0}), x, {
            name: numpy(getattr(layer, name)) for name in (
                "kernel", "recurrent_kernel", "gate_bias", "cell_input_bias")})[0]
    assert not np.allclose(zero_start[:, 0], outputs[:, 0], atol=1e-3)


def test_the_reber_nets_gate_biases_are_table_10_s():
    # Table 10, Experiment 1: input gate biases "r" (random in [-0.1, 0.1]), output gate
    # biases -1, -2, -3 (3 blocks x 2 cells) and -1, -2, -3, -4 (4 x 1), the rest of the
    # weights in [-0.2, 0.2].
    for blocks, size in ((3, 2), (4, 1)):
        biases = numpy(models.lstm_1997(blocks=blocks, cells_per_block=size, seed=0,
                                        compile=False).recurrent.gate_bias)
        np.testing.assert_array_equal(biases[blocks:], -np.arange(1.0, blocks + 1))
        assert np.all(np.abs(biases[:blocks]) <= 0.1) and np.all(biases[:blocks] != 0)
    # "random" spans [-0.1, 0.1]; None, the earlier default, [-0.2, 0.2].
    for option, limit in (("random", 0.1), (None, 0.2)):
        many = layers.LSTM1997(blocks=400, cells_per_block=1, input_gate_bias=option, seed=0)
        many.build((None, None, 2))
        drawn = numpy(many.gate_bias)[:400]
        assert limit * 0.95 < np.max(np.abs(drawn)) <= limit
    # The simulator's offsets: the given biases added to values drawn from [-0.2, 0.2].
    plain, offset = (layers.LSTM1997(blocks=3, output_gate_bias=[-1.0, -2.0, -3.0],
                                     input_gate_bias="random", seed=3, offset_gate_bias=on)
                     for on in (False, True))
    drawn = layers.LSTM1997(blocks=3, seed=3)
    for layer in (plain, offset, drawn):
        layer.build((None, None, 7))
    np.testing.assert_allclose(numpy(offset.gate_bias),
                               numpy(drawn.gate_bias) + [0, 0, 0, -1, -2, -3], atol=1e-6)
    np.testing.assert_allclose(numpy(plain.gate_bias),
                               numpy(drawn.gate_bias) * [0.5, 0.5, 0.5, 0, 0, 0]
                               - [0, 0, 0, 1, 2, 3],
                               atol=1e-6)


def test_simulator_details_are_selected_one_by_one_or_all_together():
    nets = {name: models.LongShortTermMemory(seed=0, simulator=option) for name, option in (
        ("paper", False), ("reset", ["reset_half"]), ("bias", "bias_unit"), ("all", True))}
    for net in nets.values():
        net.recurrent.build((None, None, 7))
    # The layer's weights and the 6 x 7 output weights: 276, or 282 with the cells' biases.
    assert [net.recurrent.count_params() + 42 for net in nets.values()] == [276, 276, 282, 282]
    assert [net.recurrent.initial_activation for net in nets.values()] == [0, 0.5, 0, 0.5]
    assert [net.recurrent.offset_gate_bias for net in nets.values()] == [0, 0, 0, 1]
    assert nets["all"].simulator == ("reset_half", "bias_unit", "bias_offsets")
    with pytest.raises(ValueError, match="`simulator` must be True, False, or some of"):
        models.LongShortTermMemory(simulator=["reset"])


def test_elman_layer_copies_its_hidden_layer_into_the_context():
    layer = layers.ElmanRNN(5, seed=2)
    x = np.random.default_rng(1).uniform(-1, 1, (2, 4, 3)).astype("float32")
    outputs = numpy(layer(x))
    kernel, context, bias = (numpy(w) for w in (layer.kernel, layer.context_kernel, layer.bias))
    hidden, expected = np.zeros((2, 5)), []
    for t in range(4):
        hidden = sigmoid(x[:, t] @ kernel + hidden @ context + bias)
        expected.append(hidden)
    np.testing.assert_allclose(outputs, np.stack(expected, 1), atol=1e-6)


def test_padding_steps_hold_the_state_and_output_zeros():
    layer = layers.LSTM1997(blocks=1, cells_per_block=2, seed=0)
    x = np.random.default_rng(2).uniform(-1, 1, (1, 5, 3)).astype("float32")
    padded = np.concatenate([x, np.zeros((1, 3, 3), "float32")], axis=1)
    trace = {k: numpy(v) for k, v in layer.trace(padded).items()}
    np.testing.assert_allclose(trace["cell_output"][:, :5], numpy(layer(x)), atol=1e-6)
    assert np.all(trace["cell_output"][:, 5:] == 0)


def test_the_carousel_keeps_its_value_exactly_while_the_input_gate_is_shut():
    layer = layers.LSTM1997(blocks=1, cells_per_block=1, input_gate_bias=-60.0,
                            output_gate_bias=0.0, seed=0)
    layer.build((None, None, 2))
    kernel = np.zeros((2, 3), "float32")
    kernel[0, 0], kernel[0, 1] = 1.0, 120.0   # feature 0 writes, and opens the input gate
    layer.kernel.assign(kernel)
    layer.recurrent_kernel.assign(np.zeros((3, 3), "float32"))
    steps = np.zeros((1, 40, 2), "float32")
    steps[0, 0, 0] = 1.0                                             # store once...
    steps[0, 1:, 1] = np.random.default_rng(3).uniform(-1, 1, 39)   # ...then noise only
    state = numpy(layer.trace(steps)["cell_state"])[0, :, 0]
    assert state[0] == pytest.approx(4 * sigmoid(1.0) - 2, rel=1e-5)  # g(1), gate open
    np.testing.assert_array_equal(state[1:], np.full(39, state[0]))   # 39 steps, no drift


def gradients(model, x, y, variables=None):
    def loss_fn():
        y_pred = model(x)
        return model.cost(y, y_pred, x), y_pred
    variables = model.trainable_variables if variables is None else variables
    return [numpy(g) for g in backend.value_and_grad(loss_fn, variables)[2]]


def test_truncation_cuts_exactly_the_paths_through_the_fed_back_activations():
    (x, y), _ = reber.load_data(train=2, test=1, seed=5)
    truncated, full = (models.lstm_1997(blocks=2, cells_per_block=2, gradient=gradient, seed=3)
                       for gradient in ("truncated", "bptt"))
    # Same weights, same predictions: truncation changes only the gradient...
    np.testing.assert_allclose(numpy(truncated(x)), numpy(full(x)), atol=1e-6)
    # ...and with the fed-back weights, full BPTT also sends errors back through them.
    assert np.max(np.abs(gradients(truncated, x, y)[1] - gradients(full, x, y)[1])) > 1e-4
    # Without them the carousel is the only path back in time, and the two agree.
    for model in (truncated, full):
        model.recurrent.recurrent_kernel.assign(np.zeros(model.recurrent.recurrent_kernel.shape))
    for a, b in zip(gradients(truncated, x, y), gradients(full, x, y)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-7)


def test_elman_truncation_backpropagates_one_step_only():
    x = np.random.default_rng(4).uniform(0.1, 1, (1, 6, 7)).astype("float32")
    y = np.full((1, 6, 7), 0.5, "float32")
    truncated, full = (models.elman_rnn(gradient=gradient, seed=1)
                       for gradient in ("truncated", "bptt"))
    assert truncated.recurrent.truncate and not full.recurrent.truncate
    context = [w.path for w in truncated.trainable_variables].index(
        truncated.recurrent.context_kernel.path)
    one_step, through_time = gradients(truncated, x, y)[context], gradients(full, x, y)[context]
    # The context kernel still learns (its input, the copy, is held constant)...
    assert np.any(one_step != 0)
    # ...but from one step of error, where BPTT adds the errors of later steps.
    assert np.max(np.abs(one_step - through_time)) > 1e-6


def test_one_update_per_sequence_whatever_the_batch():
    (x, y), _ = reber.load_data(train=3, test=1, seed=6)
    batched, one_by_one = models.lstm_1997(seed=2), models.lstm_1997(seed=2)
    batched.fit(x, y, batch_size=3, epochs=1, shuffle=False, verbose=0)
    one_by_one.fit(x, y, batch_size=1, epochs=1, shuffle=False, verbose=0)
    assert int(numpy(batched.optimizer.iterations)) == 3
    for a, b in zip(batched.weights, one_by_one.weights):
        np.testing.assert_allclose(numpy(a), numpy(b), rtol=1e-5, atol=1e-6)


def test_the_update_is_the_learning_rate_times_the_sequence_gradient():
    (x, y), _ = reber.load_data(train=1, test=1, seed=7)
    model = models.elman_rnn(hidden_units=4, learning_rate=0.3, seed=0)
    before = [numpy(w) for w in model.trainable_variables]
    grads = gradients(model, x, y)
    model.fit(x, y, epochs=1, verbose=0)
    for old, grad, new in zip(before, grads, model.trainable_variables):
        np.testing.assert_allclose(numpy(new), old - 0.3 * grad, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("net", ["reber", "adding"])
def test_the_real_time_gradient_summed_over_a_sequence_is_the_truncated_gradient(net):
    # update="step" computes the truncated gradient forwards, one step at a time; at fixed
    # weights its steps add up to what backpropagation through the truncated graph gives.
    # (The Reber net with the simulator's details, fed-back activations starting at 0.5 and
    # biased cells; the plain net's real-time gradient is checked against finite differences
    # in test_the_update_is_the_gradient_of_half_the_summed_squared_error.)
    if net == "reber":
        model = models.lstm_1997(seed=1, update="step", simulator=True)
        (x, y), _ = reber.load_data(train=1, test=1, seed=3)
    else:  # answered at the last step only, with cell and output biases
        model = models.lstm_1997(blocks=2, input_features=2, units=1, return_sequences=False,
                                 cell_bias=True, output_bias=True, seed=1, update="step")
        x, y = adding.load_data(1, length=20, seed=0)
    weights = model._weights()
    _, summed, error = model.rtrl_sequence(keras.ops.convert_to_tensor(x[0]),
                                           keras.ops.convert_to_tensor(y[0]), 0.0)
    grads = gradients(model, x, y, list(weights.values()))
    assert np.isclose(numpy(error), numpy(model.cost(y, model(x), x)), rtol=1e-5)
    for name, grad in zip(weights, grads):
        np.testing.assert_allclose(numpy(summed[name]), grad, rtol=1e-4, atol=1e-8,
                                   err_msg=name)


def _error(model, weights, x, y):
    """The paper's E = ½ Σ_t Σ_k (target − output)², in float64 NumPy, summed over the
    sequences of x (unpadded, the same length)."""
    y_c = lstm_reference(model.recurrent, x.astype("float64"), weights)[0]
    output = sigmoid(y_c @ weights["output_kernel"])
    return 0.5 * np.sum((y - output) ** 2)


@pytest.mark.parametrize("update", ["sequence", "bptt", "step", "batch"])
def test_the_update_is_the_gradient_of_half_the_summed_squared_error(update):
    # Appendix A, eqs. 19-22: the gradient of ½ Σ (t − y)² summed over the 7 outputs and
    # over time, no mean, whatever the update (per string, per step, per batch) or the
    # gradient. With the fed-back weights at 0 the truncated gradient is the full one, so
    # finite differences of E pin its scale.
    strings = 2 if update == "batch" else 1
    (x, y), _ = reber.load_data(train=12, test=1, seed=0)
    lengths = np.sum(np.any(x != 0, axis=-1), axis=1)
    rows = np.flatnonzero(lengths == lengths.min())[:strings]  # the shortest strings
    assert len(rows) == strings
    x, y = x[rows, :lengths.min()], y[rows, :lengths.min()]
    model = models.lstm_1997(blocks=2, cells_per_block=1, learning_rate=0.1, seed=0,
                             gradient="bptt" if update == "bptt" else "truncated",
                             update="sequence" if update == "bptt" else update)
    model.recurrent.recurrent_kernel.assign(np.zeros(model.recurrent.recurrent_kernel.shape))
    variables = {"kernel": model.recurrent.kernel, "recurrent_kernel":
                 model.recurrent.recurrent_kernel, "gate_bias": model.recurrent.gate_bias,
                 "output_kernel": model.output_kernel}
    weights = {name: numpy(v).astype("float64") for name, v in variables.items()}
    if update == "step":  # the real-time steps' gradients summed at fixed weights
        _, summed, error = model.rtrl_sequence(keras.ops.convert_to_tensor(x[0]),
                                               keras.ops.convert_to_tensor(y[0]), 0.0)
        assert np.isclose(numpy(error), _error(model, weights, x, y), rtol=1e-5)
        grads = {name: numpy(summed[key]) for name, key in (
            ("kernel", "kernel"), ("recurrent_kernel", "recurrent"),
            ("gate_bias", "gate_bias"), ("output_kernel", "output_kernel"))}
    else:  # one update: w ← w − 0.1 · ∂E/∂w
        model.fit(x, y, batch_size=strings, epochs=1, shuffle=False, verbose=0)
        assert int(numpy(model.optimizer.iterations)) == 1
        grads = {name: (weights[name] - numpy(v)) / 0.1 for name, v in variables.items()}
    for name, weight in weights.items():  # central differences, every weight
        expected = np.zeros_like(weight)
        for index in np.ndindex(weight.shape):
            up, down = ({**weights, name: weight.copy()} for _ in range(2))
            up[name][index] += 1e-6
            down[name][index] -= 1e-6
            expected[index] = (_error(model, up, x, y) - _error(model, down, x, y)) / 2e-6
        assert np.max(np.abs(expected)) > 1e-3, name
        np.testing.assert_allclose(grads[name], expected, rtol=2e-3, atol=2e-5, err_msg=name)


def test_update_step_changes_the_weights_after_every_step():
    (x, y), _ = reber.load_data(train=1, test=1, seed=4)
    per_step = models.lstm_1997(seed=0, update="step", learning_rate=0.5)
    per_string = models.lstm_1997(seed=0, learning_rate=0.5)
    weights = per_step._weights()
    steps, _, _ = per_step.rtrl_sequence(keras.ops.convert_to_tensor(x[0]),
                                         keras.ops.convert_to_tensor(y[0]), 0.5)
    per_step.fit(x, y, epochs=1, verbose=0)
    per_string.fit(x, y, epochs=1, verbose=0)
    assert int(numpy(per_step.optimizer.iterations)) == 1  # one string
    for name, variable in weights.items():
        np.testing.assert_allclose(numpy(variable), numpy(steps[name]), rtol=1e-5, atol=1e-6)
    # Not the same as one step with the summed gradient: later steps saw changed weights.
    assert not np.allclose(numpy(per_step.recurrent.kernel),
                           numpy(per_string.recurrent.kernel), atol=1e-6)
    with pytest.raises(ValueError, match="update='step' is the paper's truncated"):
        models.lstm_1997(update="step", gradient="bptt")


def test_the_papers_weight_counts():
    # Table 1 (Reber): 276 and 264 weights; Table 7 (adding): 93.
    assert models.lstm_1997().count_params() == 276
    assert models.lstm_1997(blocks=4, cells_per_block=1).count_params() == 264
    adding_net = models.lstm_1997(blocks=2, input_features=2, units=1, cell_bias=True,
                                  output_bias=True, return_sequences=False)
    assert adding_net.count_params() == 93
    np.testing.assert_array_equal(numpy(models.lstm_1997().recurrent.gate_bias)[3:],
                                  [-1.0, -2.0, -3.0])  # the staggered output gate biases


@pytest.mark.skipif(keras.backend.backend() == "torch", reason=(
    "PyTorch runs each time step's ops eagerly, about 0.5 s a sequence on the test machine; "
    "the same rule code is checked on PyTorch by the equivalence tests above"))
def test_lstm_learns_the_grammar_s_local_structure_in_256_updates():
    (x, y), (x_test, _) = reber.load_data(train=64, test=64, seed=0)
    allowed = reber.allowed_next(x_test)

    def steps_predicted(model):
        y_pred = model.predict(x_test, verbose=0)
        lowest = np.where(allowed, y_pred, np.inf).min(-1)
        highest = np.where(allowed, -np.inf, y_pred).max(-1)
        real = allowed.any(-1)  # not the padding
        return np.sum((lowest > highest) & real) / np.sum(real)

    model = models.lstm_1997(seed=0)
    before = steps_predicted(model)
    model.fit(x, y, batch_size=64, epochs=4, verbose=0)   # 256 online updates
    # Measured: about 0.10 of the test steps before, 0.42 after (JAX, seed 0).
    assert before < 0.2 and steps_predicted(model) > 0.3


def test_sequence_data_is_checked_before_training():
    (x, y), _ = reber.load_data(train=3, test=1, seed=8)
    model = models.lstm_1997(seed=0)
    gap = x.copy()
    gap[0, 1] = 0.0
    with pytest.raises(ValueError, match=r"sequence 0 has an all-zero step at 1.*pad_sequences"):
        model.fit(gap, y, verbose=0)
    with pytest.raises(ValueError, match=r"sequence 2 has no step"):
        model.predict(np.concatenate([x[:2], np.zeros_like(x[:1])]), verbose=0)
    with pytest.raises(ValueError, match=r"rectangular.*pad_sequences"):
        model.predict([x[0].tolist(), x[1, :3].tolist()], verbose=0)
    with pytest.raises(ValueError, match=r"`y` must have shape \(samples, steps, 7\) with the "
                       rf"{x.shape[1] + 1} steps of `x`"):
        model.fit(np.pad(x, ((0, 0), (0, 1), (0, 0))), y, verbose=0)
    with pytest.raises(ValueError, match=r"`x` must have shape \(samples, steps, 7\)"):
        model.predict(x[..., :5], verbose=0)
    end_only = models.lstm_1997(units=1, return_sequences=False, seed=0)
    with pytest.raises(ValueError, match=r"`y` must have shape \(samples, 1\), got"):
        end_only.fit(x, y, verbose=0)
    assert int(numpy(model.optimizer.iterations)) == 0


def test_bad_factory_options_are_named():
    for options, message in [
        (dict(gradient="rtrl"), "`gradient` must be one of 'truncated', 'bptt'"),
        (dict(update="epoch"), "`update` must be one of 'sequence', 'step'"),
        (dict(blocks=0), "`blocks` must be an integer >= 1"),
        (dict(cells_per_block=1.5), "`cells_per_block` must be an integer >= 1"),
        (dict(output_gate_bias=[-1.0]), r"`output_gate_bias` must be None, 'random', a "
                                        r"finite number or 3 finite numbers"),
        (dict(input_gate_bias=np.zeros(3)), r"`input_gate_bias` must be None, 'random'"),
        (dict(input_features=0), "`input_features` must be an integer >= 1"),
    ]:
        with pytest.raises(ValueError, match=message):
            models.lstm_1997(**options)


def test_embedded_reber_strings_follow_the_grammar():
    rng = np.random.default_rng(0)
    strings = [reber.embedded_reber_string(rng) for _ in range(300)]
    for string in strings:
        assert string[0] == "B" and string[-1] == "E" and string[1] == string[-2] in "TP"
        assert len(reber.possible_next(string)) == len(string) - 1  # valid, or it raises
    assert {s[1] for s in strings} == {"T", "P"}
    assert min(map(len, strings)) == 9   # B T B T X S E T E: the shortest
    assert reber.possible_next("BTBTXSETE") == ["TP", "B", "TP", "SX", "XS", "E", "T", "E"]
    for bad, message in [("BTBTXSEPE", "'P' at position 7.*only T"),
                         ("BTBTXXE", "'E' at position 6.*only T or V"),
                         ("BTBTXSET", "ends early")]:
        with pytest.raises(ValueError, match=message):
            reber.possible_next(bad)


def test_reber_data_is_seeded_one_hot_and_keeps_test_strings_unseen():
    (x, y), (x_test, y_test) = reber.load_data(seed=1)
    (x2, _), _ = reber.load_data(seed=1)
    (x3, _), _ = reber.load_data(seed=2)
    assert x.shape[0] == x_test.shape[0] == 256 and x.shape[2] == 7
    np.testing.assert_array_equal(x, x2)
    assert not np.array_equal(x, x3)
    train, test = reber.decode(x), reber.decode(x_test)
    assert not set(train) & set(test)
    # y is x shifted by one: each target is the next input symbol.
    steps = x.any(-1)
    np.testing.assert_array_equal(y[:, :-1][steps[:, 1:]], x[:, 1:][steps[:, 1:]])
    # The criterion: outputs equal to `allowed_next` pass, the one-hot targets do not
    # (they name one of two possible symbols where the grammar branches).
    allowed = reber.allowed_next(x)
    assert reber.predicted(allowed.astype("float32"), x).all()
    assert not reber.predicted(y, x).any()
    with pytest.raises(ValueError, match="holds 'Q' at position 2"):
        reber.encode(["BTQ"])
    with pytest.raises(ValueError, match="not one-hot"):
        reber.decode(x * 0.5)


def test_adding_problem_sequences_follow_the_paper():
    x, y = adding.load_data(200, length=100, seed=3)
    np.testing.assert_array_equal(x, adding.load_data(200, length=100, seed=3)[0])
    lengths = x.any(-1).sum(1)
    assert lengths.min() >= 100 and lengths.max() <= 110 and x.shape[1] == 110
    for row, length in zip(x, lengths):
        markers = row[:length, 1]
        marked = np.flatnonzero(markers == 1)
        assert len(marked) == 2 and marked[0] < 10 and marked[1] < 49
        assert markers[-1] == -1 and np.all(np.abs(row[:length, 0]) <= 1)
    targets = 0.5 + x[..., 0].__mul__(x[..., 1] == 1).sum(1) / 4
    np.testing.assert_allclose(y[:, 0], targets, atol=1e-6)
    assert adding.correct(y + 0.039, y).all() and not adding.correct(y + 0.041, y).any()
    assert datasets.adding is adding


def _saved(model, tmp_path) -> str:
    path = str(tmp_path / f"{model.name}-{id(model)}.keras")
    model.save(path)
    return path


def test_a_reloaded_lstm_keeps_its_configuration(tmp_path):
    model = models.lstm_1997(blocks=2, cells_per_block=1, gradient="bptt", forget_gate=True,
                             input_gate_bias=[-3.0, -6.0], seed=0)
    stepped = models.lstm_1997(update="step")
    assert keras.models.load_model(_saved(stepped, tmp_path)).update == "step"
    simulated = models.LongShortTermMemory(seed=0, update="batch", output_gate_bias=-1.0,
                                           simulator=["reset_half", "bias_offsets"])
    config = keras.saving.serialize_keras_object(simulated)
    rebuilt = keras.saving.deserialize_keras_object(json.loads(json.dumps(config)))
    assert rebuilt.get_config() == simulated.get_config()
    assert rebuilt.update == "batch" and rebuilt.simulator == ("reset_half", "bias_offsets")
    assert rebuilt.recurrent.initial_activation == 0.5 and rebuilt.recurrent.offset_gate_bias
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert loaded.get_config() == model.get_config()
    assert loaded.recurrent.forget_gate and not loaded.recurrent.truncate
    x = reber.load_data(train=2, test=1)[0][0]
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0),
                               atol=1e-6)
