"""Milestone 7 — Long Short-Term Memory (Hochreiter and Schmidhuber, 1997).

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

from keras_history.layers import LSTM1997
from keras_history.models.recurrent.online import OnlineSequenceModel, built_and_compiled
from keras_history.timeline import milestone


@keras.saving.register_keras_serializable(package="keras_history")
class LongShortTermMemory(OnlineSequenceModel):
    """Memory cell blocks (`LSTM1997`) feeding sigmoid output units, trained online.

    The output units see only the memory cells, as in the paper.
    """

    def __init__(self, blocks: int = 3, cells_per_block: int = 2, input_gate_bias=None,
                 output_gate_bias=None, cell_bias: bool = False, forget_gate: bool = False,
                 **kwargs):
        super().__init__(**kwargs)
        self.recurrent = LSTM1997(
            blocks=blocks, cells_per_block=cells_per_block, input_gate_bias=input_gate_bias,
            output_gate_bias=output_gate_bias, cell_bias=cell_bias, forget_gate=forget_gate,
            truncate=self.gradient == "truncated", seed=self.seed, name="lstm_1997")

    def trace(self, x) -> dict:
        """The cells' outputs, states and gates over `x`, each (samples, steps, cells)."""
        return self.recurrent.trace(x)

    def get_config(self) -> dict:
        layer = self.recurrent
        return {**super().get_config(), "blocks": layer.blocks,
                "cells_per_block": layer.cells_per_block,
                "input_gate_bias": layer.input_gate_bias,
                "output_gate_bias": layer.output_gate_bias, "cell_bias": layer.cell_bias,
                "forget_gate": layer.forget_gate}


@milestone(7, 1997, "Hochreiter & Schmidhuber", "Long short-term memory")
def lstm_1997(blocks: int = 3, cells_per_block: int = 2, learning_rate: float = 0.5,
              input_features: int = 7, units: int = 7, return_sequences: bool = True,
              input_gate_bias=None, output_gate_bias="staggered", cell_bias: bool = False,
              output_bias: bool = False, gradient: str = "truncated",
              forget_gate: bool = False, seed: int | None = None, compile: bool = True,
              name: str = "lstm_1997") -> LongShortTermMemory:
    """The LSTM of 1997: memory cell blocks with input and output gates, no forget gate.

    Defaults are the paper's embedded Reber grammar net (Section 5.1, Table 1):
    7 one-hot inputs and 7 sigmoid outputs, 3 blocks of 2 cells, a fully
    connected hidden layer, weights uniform in [-0.2, 0.2], output gate biases
    -1, -2, -3, learning rate 0.5, the truncated gradient: 276 weights.

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
        input_gate_bias: initial input gate biases (a number, one per block,
            or None: drawn like the other weights).
        output_gate_bias: initial output gate biases; `"staggered"` gives the
            paper's -1, -2, ... (one per block), None draws them.
        cell_bias: give the cell inputs a bias (the adding problem's net does).
        output_bias: give the output units a bias (the adding problem's net does).
        gradient: `"truncated"`, the paper's (errors flow back in time only
            through the carousels), or `"bptt"`, full backpropagation through time.
        forget_gate: add Gers, Schmidhuber and Cummins's forget gate (2000);
            not part of the 1997 LSTM.
        seed: seed of the initial weights.
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
        units=units, return_sequences=return_sequences, output_bias=output_bias,
        gradient=gradient, seed=seed, name=name)
    return built_and_compiled(model, input_features, learning_rate, compile)
