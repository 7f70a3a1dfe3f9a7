"""Long Short-Term Memory (Hochreiter and Schmidhuber, 1997).

Sepp Hochreiter's 1991 diploma thesis showed why recurrent nets forget: an
error sent back through time is multiplied at every step by a weight times
a derivative, so over ten or twenty steps it vanishes (or explodes). In
"Long Short-Term Memory" (Neural Computation 9(8), 1997) he and Jürgen
Schmidhuber built a unit whose error cannot fade: a cell whose state feeds
back to itself with weight exactly 1, the constant error carousel,

    s(t) = s(t−1) + y_in(t) · g(net_c(t)),        y_c(t) = y_out(t) · h(s(t)),

guarded by multiplicative gates that learn when to let a value in (y_in)
and when to let it out (y_out). There is no forget gate: that came in 2000.

They trained it online with a truncated gradient: errors flow back in time
only along the carousel (see `keras_history.layers.LSTM1997`). On the
embedded Reber grammar (their Table 1) a net of 3 blocks of 2 cells with
learning rate 0.5 succeeded in 100% of trials after 8,440 training sequences
on average, where Elman's simple recurrent net (15 hidden units) succeeded in
none within 200,000. On the adding problem with T = 100 (Table 7) 2 blocks of
2 cells needed 74,000 sequences on average.
"""

from __future__ import annotations

import keras
from keras import ops

from keras_history import backend, validation
from keras_history.layers import LSTM1997
from keras_history.layers.recurrent import padding_mask
from keras_history.models.recurrent.online import OnlineSequenceModel, built_and_compiled
from keras_history.timeline import milestone
from keras_history.weights.loading import with_weights

__all__ = ["LongShortTermMemory", "lstm_1997"]

UPDATES = ("sequence", "step", "batch")

# What Hochreiter's own simulator (the JKU "LSTM" C code, lstm.c) does that the
# paper does not state; `simulator=True` selects all of them, a list some.
SIMULATOR = ("reset_half", "bias_unit", "bias_offsets")


def _simulator_details(simulator) -> tuple[str, ...]:
    """The `simulator` option as a tuple of names from SIMULATOR."""
    if simulator is True:
        return SIMULATOR
    if simulator is None or simulator is False:
        return ()
    names = (simulator,) if isinstance(simulator, str) else simulator
    ok = isinstance(names, (list, tuple)) and all(
        isinstance(name, str) and name in SIMULATOR for name in names)
    validation.check_option("simulator", simulator, ok,
                            "True, False, or some of " + ", ".join(map(repr, SIMULATOR)))
    return tuple(name for name in SIMULATOR if name in names)


def _sigmoid_and_slope(net):
    value = ops.sigmoid(net)
    return value, value * (1.0 - value)


@keras.saving.register_keras_serializable(package="keras_history")
class LongShortTermMemory(OnlineSequenceModel):
    """Memory cell blocks (`LSTM1997`) feeding sigmoid output units, trained online.

    The output units see only the memory cells, as in the paper. With
    `update="step"` the weights change after every time step (`rtrl_step`),
    with `update="batch"` once per batch. `simulator` selects details of
    Hochreiter's simulator (see `lstm_1997`).
    """

    def __init__(self, blocks: int = 3, cells_per_block: int = 2, input_gate_bias=None,
                 output_gate_bias=None, cell_bias: bool = False, forget_gate: bool = False,
                 update: str = "sequence", simulator=(), **kwargs):
        super().__init__(**kwargs)
        validation.check_option("update", update, update in UPDATES,
                                f"one of {', '.join(map(repr, UPDATES))}")
        if update == "step" and (forget_gate or self.gradient != "truncated"):
            raise ValueError("update='step' is the paper's truncated real-time rule for the "
                             "1997 cell: it needs gradient='truncated' and no forget gate.")
        self.update = update
        self.simulator = _simulator_details(simulator)
        self.recurrent = LSTM1997(
            blocks=blocks, cells_per_block=cells_per_block, input_gate_bias=input_gate_bias,
            output_gate_bias=output_gate_bias,
            cell_bias=cell_bias or "bias_unit" in self.simulator, forget_gate=forget_gate,
            offset_gate_bias="bias_offsets" in self.simulator,
            initial_activation=0.5 if "reset_half" in self.simulator else 0.0,
            truncate=self.gradient == "truncated", seed=self.seed, name="lstm_1997")

    def trace(self, x) -> dict:
        """The cells' outputs, states and gates over `x`, each (samples, steps, cells)."""
        return self.recurrent.trace(x)

    def rtrl_step(self, weights: dict, carry: tuple, x_t, y_t, counts):
        """One time step of the paper's truncated real-time recurrent learning.

        `carry` is (s, fed_back, p_cell, p_in): the cell states, the activations
        fed back, and the carousel's forward sensitivities ∂s_c/∂w for the
        weights into cell c (p_cell) and into its block's input gate (p_in),
        each (cells, inputs + fed back + 1 bias). Errors travel back in time
        only along the carousel s(t−1) → s(t), so these sensitivities are all
        the past the gradient needs: ∂s_c/∂w += y_in·g'(net_c)·y_m and
        ∂s_c/∂w_in += g(net_c)·y_in'·y_m, with y_m what the units see now.
        `counts` (0 or 1) says whether this step's error counts. Returns the
        gradient of this step's error (a dict like `weights`), the new carry and
        the error ½ Σ (target − output)².
        """
        layer = self.recurrent
        cells, blocks, per_block = layer.cells, layer.blocks, layer.cells_per_block
        s, fed_back, p_cell, p_in = carry
        seen = ops.concatenate([x_t, fed_back, ops.ones((1,), x_t.dtype)])  # y_m, bias last
        net = ops.matmul(x_t, weights["kernel"]) + ops.matmul(fed_back, weights["recurrent"])
        net_cell = net[:cells] + weights.get("cell_bias", 0.0)
        gates, gate_slopes = _sigmoid_and_slope(net[cells:] + weights["gate_bias"])
        y_in = ops.repeat(gates[:blocks], per_block)
        y_out = ops.repeat(gates[blocks:], per_block)
        squashed, slope = _sigmoid_and_slope(net_cell)
        g, g_slope = 4.0 * squashed - 2.0, 4.0 * slope
        p_cell = p_cell + ops.outer(y_in * g_slope, seen)
        p_in = p_in + ops.outer(g * ops.repeat(gate_slopes[:blocks], per_block), seen)
        s = s + y_in * g  # the constant error carousel
        h_sigmoid, h_slope = _sigmoid_and_slope(s)
        h = 2.0 * h_sigmoid - 1.0
        y_c = y_out * h
        output, output_slope = _sigmoid_and_slope(
            ops.matmul(y_c, weights["output_kernel"]) + weights.get("output_bias", 0.0))
        delta = (output - y_t) * output_slope * counts  # ∂E/∂net_k
        error_y = ops.matmul(weights["output_kernel"], delta)  # ∂E/∂y_c
        error_s = error_y * y_out * 2.0 * h_slope  # ∂E/∂s_c
        error_out = ops.sum(ops.reshape(error_y * h, (blocks, per_block)), axis=1) \
            * gate_slopes[blocks:]
        into_in = ops.sum(ops.reshape(error_s[:, None] * p_in, (blocks, per_block, -1)), axis=1)
        # Columns as the layer's: cell inputs, input gates, output gates; bias row last.
        columns = ops.concatenate([ops.transpose(error_s[:, None] * p_cell),
                                   ops.transpose(into_in), ops.outer(seen, error_out)], axis=1)
        features, fed = ops.shape(x_t)[0], ops.shape(fed_back)[0]
        grads = {"kernel": columns[:features], "recurrent": columns[features:features + fed],
                 "gate_bias": columns[-1, cells:], "output_kernel": ops.outer(y_c, delta)}
        if "cell_bias" in weights:
            grads["cell_bias"] = columns[-1, :cells]
        if "output_bias" in weights:
            grads["output_bias"] = delta
        new_carry = (s, ops.concatenate([y_c, gates]), p_cell, p_in)
        return grads, new_carry, 0.5 * ops.sum(ops.square(y_t - output)) * counts

    def _weights(self) -> dict:
        """The trainable weights by role (those `rtrl_step` reads)."""
        layer = self.recurrent
        weights = {"kernel": layer.kernel, "recurrent": layer.recurrent_kernel,
                   "gate_bias": layer.gate_bias, "output_kernel": self.output_kernel}
        if layer.cell_bias:
            weights["cell_bias"] = layer.cell_input_bias
        if self.output_bias_weight is not None:
            weights["output_bias"] = self.output_bias_weight
        return weights

    def rtrl_sequence(self, x, y, learning_rate):
        """Walk one sequence (steps, features) with `rtrl_step`, the weights changing by
        −learning_rate · gradient after every step. Returns the new weights (a dict of
        tensors), the summed gradient and the sequence's error E."""
        layer = self.recurrent
        variables = self._weights()
        steps = ops.shape(x)[0]
        real = ops.cast(padding_mask(x[None])[0], x.dtype)
        last = ops.cast(ops.sum(real), "int32") - 1
        inputs = ops.shape(x)[1] + layer.feedback + 1
        zeros = ops.zeros((layer.cells,), x.dtype)
        start = ({k: v.value for k, v in variables.items()},
                 {k: ops.zeros_like(v.value) for k, v in variables.items()},
                 (zeros, ops.full((layer.feedback,), layer.initial_activation, x.dtype),
                  ops.zeros((layer.cells, inputs), x.dtype),
                  ops.zeros((layer.cells, inputs), x.dtype)),
                 ops.zeros((), x.dtype))

        def body(t, state):
            weights, summed, carry, error = state
            if self.return_sequences:
                y_t, counts = y[t], real[t]
            else:  # the answer is judged at the last real step only
                y_t, counts = y, ops.cast(ops.equal(t, last), x.dtype)
            grads, new_carry, step_error = self.rtrl_step(weights, carry, x[t], y_t, counts)
            # Padding steps change nothing: the state holds, the error is zero.
            carry = tuple(ops.where(real[t] > 0, new, old) for new, old in zip(new_carry, carry))
            weights = {k: w - learning_rate * grads[k] for k, w in weights.items()}
            summed = {k: summed[k] + grads[k] for k in summed}
            return weights, summed, carry, error + step_error

        weights, summed, _, error = ops.fori_loop(0, steps, body, start)
        return weights, summed, error

    def learning_rule(self, data) -> dict:
        if self.update == "sequence":
            return super().learning_rule(data)
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        if self.update == "batch":
            return self._batch_update(x, y)
        variables = self._weights()

        def update(index):
            x_i, y_i = ops.take(x, index, axis=0), ops.take(y, index, axis=0)
            weights, _, error = self.rtrl_sequence(x_i, y_i, self.learning_rate)
            for name, variable in variables.items():
                variable.assign(weights[name])
            self.loss_tracker.update_state(error)
            self.optimizer.iterations.assign_add(1)

        backend.loop(update, ops.shape(x)[0], backend.all_state_variables(self))
        return self.get_metrics_result()

    def _batch_update(self, x, y) -> dict:
        """One update for the whole batch, by its sequences' summed gradient (the
        simulator's update per epoch, when a batch is the training set)."""
        weights = self.trainable_variables

        def update(_):
            count = ops.cast(ops.shape(x)[0], x.dtype)

            def loss_fn():
                y_pred = self(x)
                return self.cost(y, y_pred, x) * count, y_pred  # E summed over sequences

            loss, y_pred, grads = backend.value_and_grad(loss_fn, weights)
            for weight, grad in zip(weights, grads):
                weight.assign(weight - self.learning_rate * grad)
            self.loss_tracker.update_state(loss / count, sample_weight=count)
            self.optimizer.iterations.assign_add(1)
            self.compute_metrics(x, y, y_pred)

        backend.loop(update, 1, backend.all_state_variables(self))
        return self.get_metrics_result()

    def get_config(self) -> dict:
        layer = self.recurrent
        return {**super().get_config(), "blocks": layer.blocks,
                "cells_per_block": layer.cells_per_block,
                "input_gate_bias": layer.input_gate_bias,
                "output_gate_bias": layer.output_gate_bias, "cell_bias": layer.cell_bias,
                "forget_gate": layer.forget_gate, "update": self.update,
                "simulator": list(self.simulator)}


@milestone("lstm_1997")
def lstm_1997(blocks: int = 3, cells_per_block: int = 2, learning_rate: float = 0.5,
              input_features: int = 7, units: int = 7, return_sequences: bool = True,
              input_gate_bias="random", output_gate_bias="staggered", cell_bias: bool = False,
              output_bias: bool = False, gradient: str = "truncated",
              forget_gate: bool = False, update: str = "sequence", simulator=False,
              seed: int | None = None,
              weights: str | None = None,
              compile: bool = True, name: str = "lstm_1997") -> LongShortTermMemory:
    """The LSTM of 1997: memory cell blocks with input and output gates, no forget gate.

    Defaults are the paper's embedded Reber grammar net (Section 5.1, Table 1):
    7 one-hot inputs and 7 sigmoid outputs, 3 blocks of 2 cells, a fully
    connected hidden layer, weights uniform in [-0.2, 0.2], input gate biases
    random in [-0.1, 0.1] and output gate biases -1, -2, -3 (Table 10),
    learning rate 0.5, the truncated gradient: 276 weights.

    Example (the embedded Reber grammar):

    ```python
    (x, y), (x_test, y_test) = keras_history.datasets.reber.load_data()
    model = keras_history.models.lstm_1997(seed=0)
    model.fit(x, y, batch_size=256, epochs=40)   # one update per string: 10,240 updates
    solved = keras_history.datasets.reber.predicted(model.predict(x_test), x_test)
    ```

    The adding problem's net (Section 5.4: 2 blocks of 2 cells, 93 weights):
    `lstm_1997(blocks=2, input_features=2, units=1, return_sequences=False,
    cell_bias=True, output_bias=True, input_gate_bias=[-3.0, -6.0])`.

    Args:
        blocks: number of memory cell blocks.
        cells_per_block: cells sharing one input and one output gate.
        learning_rate: the step size of online gradient descent.
        input_features: features per step (7 one-hot symbols for Reber).
        units: output units.
        return_sequences: answer at every step (True) or only at the end.
        input_gate_bias: initial input gate biases: a number, one per block,
            `"random"` (the "r" of Table 10: uniform in [-0.1, 0.1]) or None
            (drawn like the other weights, from [-0.2, 0.2]).
        output_gate_bias: initial output gate biases; `"staggered"` gives the
            paper's -1, -2, ... (one per block), None draws them.
        cell_bias: give the cell inputs a bias (the adding problem's net does).
        output_bias: give the output units a bias (the adding problem's net does).
        gradient: `"truncated"`, the paper's (errors flow back in time only
            through the carousels), or `"bptt"`, full backpropagation through time.
        forget_gate: add Gers, Schmidhuber and Cummins's forget gate (2000);
            not part of the 1997 LSTM.
        update: `"sequence"`, one update per sequence with its summed gradient,
            or `"step"`, the weights changing after every time step, by the
            real-time form of the truncated gradient (`rtrl_step`; the same
            gradient, summed over a sequence at fixed weights), or `"batch"`,
            one update per batch with the summed gradient of its sequences
            (the per-epoch update of Hochreiter's simulator, when a batch is
            the training set).
        simulator: details of Hochreiter's own LSTM simulator (the JKU C code,
            `lstm.c`) that the paper does not state. False (the default): the
            paper's text. True: all of them. Or a list of some of their names:
            `"reset_half"`: every activation fed back starts a sequence at
            0.5, not 0 (`reset_net()`; the cell states and the ∂s/∂w traces
            start at 0 either way); `"bias_unit"`: the bias unit feeds the
            cells too (it feeds every unit of the hidden layer there), so
            they get a bias weight drawn like the others (6 more weights for
            3 × 2); `"bias_offsets"`: a number given as an initial gate bias is
            added to a value drawn from [-0.2, 0.2] instead of replacing it
            (`"random"` is then an offset of 0: drawn from [-0.2, 0.2]).
            (The simulator applies the summed weight changes once per
            sequence, as `update="sequence"` does, or once per epoch:
            `update="batch"`.)
        seed: seed of the initial weights.
        weights: None (untrained), the name of a weight set shipped for it
            (`keras_history.weights.names("lstm_1997")`), or the path of a
            `.weights.h5`/`.keras` file.
        compile: compile the model, ready for `fit`.
        name: the model's name.

    Returns:
        A `LongShortTermMemory` model, built for sequences of any length.
    """
    if output_gate_bias == "staggered":
        output_gate_bias = [-float(b) for b in range(1, blocks + 1)] if isinstance(
            blocks, int) and blocks >= 1 else None
    model = LongShortTermMemory(
        blocks=blocks, cells_per_block=cells_per_block, input_gate_bias=input_gate_bias,
        output_gate_bias=output_gate_bias, cell_bias=cell_bias, forget_gate=forget_gate,
        update=update, simulator=simulator, units=units, return_sequences=return_sequences,
        output_bias=output_bias, gradient=gradient, seed=seed, name=name)
    model = built_and_compiled(model, input_features, learning_rate, compile)
    return with_weights(model, "lstm_1997", weights)
