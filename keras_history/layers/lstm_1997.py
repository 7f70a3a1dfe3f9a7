"""The memory cell block of Hochreiter and Schmidhuber's "Long Short-Term Memory" (1997)."""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
from keras import ops

from keras_history import validation
from keras_history.layers.recurrent import Recurrent


def _g(net):
    """The cell input squashing, a logistic sigmoid scaled to [-2, 2]."""
    return 4.0 * ops.sigmoid(net) - 2.0


def _h(state):
    """The cell output squashing, a logistic sigmoid scaled to [-1, 1]."""
    return 2.0 * ops.sigmoid(state) - 1.0


RANDOM = "random"  # Table 10's "r": uniform in [-0.1, 0.1]
RANDOM_LIMIT = 0.1
WEIGHT_LIMIT = 0.2  # the other weights: uniform in [-0.2, 0.2]


def _per_block(value, blocks: int, name: str) -> list[float] | str | None:
    """A gate bias option as one float per block (None: drawn like the other weights;
    "random": Table 10's "r", drawn from [-0.1, 0.1])."""
    if value is None or (isinstance(value, str) and value == RANDOM):
        return value
    values = [value] * blocks if validation.is_finite_number(value) else value
    ok = (isinstance(values, Sequence) and len(values) == blocks
          and all(validation.is_finite_number(v) for v in values))
    validation.check_option(name, value, ok, f"None, {RANDOM!r}, a finite number or {blocks} "
                            "finite numbers (one per block)")
    return [float(v) for v in values]


@keras.saving.register_keras_serializable(package="keras_history")
class LSTM1997(Recurrent):
    """Memory cell blocks with input and output gates and no forget gate (1997).

    Each cell c of a block keeps its state on a constant error carousel, a
    self-connection of fixed weight 1:

        s_c(t)   = s_c(t-1) + y_in(t) · g(net_c(t))      g in [-2, 2]
        y_c(t)   = y_out(t) · h(s_c(t))                  h in [-1, 1]
        y_in(t)  = σ(net_in(t)),  y_out(t) = σ(net_out(t))

    The cells of a block share its two gates. Every cell input and gate sees
    the inputs x(t) and, as in the paper's fully connected hidden layer, the
    previous step's cell outputs and gate activations. Gates are biased;
    cells are biased only with `cell_bias=True` (the paper's Reber nets are
    not, its adding-problem net is). Weights start uniform in [-0.2, 0.2].
    Every sequence starts with the cell states and the fed-back activations at
    zero (`initial_activation=0.5` starts the fed-back activations at 0.5, as
    Hochreiter's simulator does).

    With `truncate=True` (the paper's gradient) the fed-back activations are
    held constant for the gradient (`stop_gradient`): errors reaching the net
    inputs of cells and gates change those weights but travel no further back
    in time. The only path back in time is the carousel s(t-1) -> s(t), where
    the error neither grows nor fades. Backpropagating through that graph gives
    the paper's truncated RTRL gradient. `truncate=False` is full BPTT.

    `forget_gate=True` adds the forget gate of Gers, Schmidhuber and Cummins
    (2000), "Learning to Forget": s_c(t) = y_φ(t)·s_c(t-1) + y_in(t)·g(net_c(t)).
    It is not part of the 1997 LSTM; its bias starts at `forget_gate_bias`.

    Returns the cell outputs y_c, (batch, steps, blocks · cells_per_block).

    Args:
        blocks: number of memory cell blocks.
        cells_per_block: cells sharing one pair of gates.
        input_gate_bias, output_gate_bias: initial gate biases, one number
            for every block or one per block; None draws them like the other
            weights, from [-0.2, 0.2]; `"random"` from [-0.1, 0.1] (the "r" of
            the paper's Table 10). Negative output gate biases were the paper's
            remedy for the "abuse problem" (cells used as constant bias units
            early on).
        offset_gate_bias: False (the paper's text): a number given for a gate
            bias is its initial value. True (Hochreiter's simulator): it is
            added to a value drawn like the other weights, from [-0.2, 0.2]
            (None and `"random"` are then an offset of 0).
        initial_activation: the value of every fed-back activation (cell
            outputs and gates) at the start of a sequence: 0 (default), or
            0.5 as in Hochreiter's simulator (`reset_net()`). The cell states
            start at 0 either way.
        cell_bias: give the cell inputs a bias.
        forget_gate: add Gers et al.'s (2000) forget gate.
        forget_gate_bias: the forget gates' initial bias (positive: remember).
        truncate: the paper's truncated gradient (True) or full BPTT.
        seed: seed of the initial weights.
    """

    def __init__(self, blocks: int = 3, cells_per_block: int = 2,
                 input_gate_bias=None, output_gate_bias=None, cell_bias: bool = False,
                 forget_gate: bool = False, forget_gate_bias: float = 1.0,
                 offset_gate_bias: bool = False, initial_activation: float = 0.0,
                 truncate: bool = True, seed: int | None = None, **kwargs):
        super().__init__(truncate=truncate, seed=seed, **kwargs)
        for name, value in (("blocks", blocks), ("cells_per_block", cells_per_block)):
            validation.check_option(name, value, validation.is_integer(value) and value >= 1,
                                    "an integer >= 1")
        self.blocks, self.cells_per_block = int(blocks), int(cells_per_block)
        self.cells = self.blocks * self.cells_per_block
        self.input_gate_bias = _per_block(input_gate_bias, self.blocks, "input_gate_bias")
        self.output_gate_bias = _per_block(output_gate_bias, self.blocks, "output_gate_bias")
        self.cell_bias = bool(cell_bias)
        self.forget_gate = bool(forget_gate)
        validation.check_option("forget_gate_bias", forget_gate_bias,
                                validation.is_finite_number(forget_gate_bias), "a finite number")
        self.forget_gate_bias = float(forget_gate_bias)
        self.offset_gate_bias = bool(offset_gate_bias)
        validation.check_option("initial_activation", initial_activation,
                                validation.is_finite_number(initial_activation),
                                "a finite number")
        self.initial_activation = float(initial_activation)
        self.gates = 3 if self.forget_gate else 2
        # The fed-back activations: every cell output and every gate.
        self.feedback = self.cells + self.gates * self.blocks

    def build(self, input_shape):
        units = self.cells + self.gates * self.blocks
        shapes = {"kernel": (input_shape[-1], units), "recurrent_kernel": (self.feedback, units),
                  "gate_bias": (self.gates * self.blocks,), "cell_input_bias": (self.cells,)}
        if not self.cell_bias:
            del shapes["cell_input_bias"]
        self.add_uniform_weights(shapes, WEIGHT_LIMIT)
        # Each gate bias starts at drawn * scale + value, drawn from [-0.2, 0.2].
        scale, value = [], []
        for biases in (self.input_gate_bias, self.output_gate_bias):
            given = isinstance(biases, list)
            if self.offset_gate_bias:  # the simulator: drawn + offset ("random": offset 0)
                scale.append(1.0)
            elif given:
                scale.append(0.0)
            else:
                scale.append(1.0 if biases is None else RANDOM_LIMIT / WEIGHT_LIMIT)
            value.append(biases if given else [0.0] * self.blocks)
        if self.forget_gate:
            scale.append(0.0)
            value.append([self.forget_gate_bias] * self.blocks)
        scale = ops.convert_to_tensor(np.repeat(np.array(scale, "float32"), self.blocks))
        value = ops.convert_to_tensor(np.array(value, "float32").ravel())
        self.gate_bias.assign(ops.add(ops.multiply(self.gate_bias.value, scale), value))

    def initial_state(self, batch):
        """The cell states at 0, the fed-back activations at `initial_activation`."""
        return ops.concatenate([
            ops.zeros((batch, self.cells), self.compute_dtype),
            ops.full((batch, self.feedback), self.initial_activation, self.compute_dtype)],
            axis=-1)

    @property
    def output_size(self) -> int:
        return self.cells

    @property
    def state_size(self) -> int:
        return self.cells + self.feedback  # the cell states, then the fed-back activations

    @property
    def trace_size(self) -> int:
        return 4 * self.cells  # cell outputs, cell states, input and output gates

    def step(self, state, x_t):
        cell_state, fed_back = state[:, :self.cells], state[:, self.cells:]
        net = ops.matmul(x_t, self.kernel) + ops.matmul(fed_back, self.recurrent_kernel)
        net_cell = net[:, :self.cells]
        if self.cell_bias:
            net_cell = net_cell + self.cell_input_bias
        gates = ops.sigmoid(net[:, self.cells:] + self.gate_bias)
        # Each block's gates, repeated for each of its cells.
        per_cell = ops.repeat(gates, self.cells_per_block, axis=1)
        input_gate = per_cell[:, :self.cells]
        output_gate = per_cell[:, self.cells:2 * self.cells]
        if self.forget_gate:
            cell_state = per_cell[:, 2 * self.cells:] * cell_state
        cell_state = cell_state + input_gate * _g(net_cell)  # the constant error carousel
        cell_output = output_gate * _h(cell_state)
        fed_back = self.cut(ops.concatenate([cell_output, gates], axis=-1))
        return (ops.concatenate([cell_state, fed_back], axis=-1),
                ops.concatenate([cell_output, cell_state, input_gate, output_gate], axis=-1))

    def trace(self, inputs, mask=None) -> dict:
        """The cells' outputs, states and gate activations over time, (batch, steps, cells)."""
        names = ("cell_output", "cell_state", "input_gate", "output_gate")
        if not self.built:
            self.build(tuple(ops.shape(inputs)))
        outputs = self.sequences(inputs, mask)
        return {name: outputs[..., i * self.cells:(i + 1) * self.cells]
                for i, name in enumerate(names)}

    def get_config(self) -> dict:
        return {**super().get_config(), "blocks": self.blocks,
                "cells_per_block": self.cells_per_block,
                "input_gate_bias": self.input_gate_bias,
                "output_gate_bias": self.output_gate_bias, "cell_bias": self.cell_bias,
                "forget_gate": self.forget_gate, "forget_gate_bias": self.forget_gate_bias,
                "offset_gate_bias": self.offset_gate_bias,
                "initial_activation": self.initial_activation}
