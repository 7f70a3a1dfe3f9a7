"""Backpropagation (Rumelhart, Hinton and Williams, 1986).

A perceptron cannot learn XOR, but a network with a hidden layer can — if
only one knew how to blame the hidden units for the output's error.
Rumelhart, Hinton and Williams made the answer famous in "Learning
representations by back-propagating errors" (Nature, 1986): use smooth
sigmoid units, and pass each unit's error backwards through the weights
with the chain rule. For E = ½ Σ (output − target)²:

    δ_out    = (output − target) · output · (1 − output)
    δ_hidden = (δ_out · W_outᵀ) · hidden · (1 − hidden)
    W_out   −= lr · hiddenᵀ · δ_out
    W_hidden −= lr · xᵀ · δ_hidden

The seed snippet trains a 3-4-1 net on XOR this way (the third input is a
constant 1 standing in for the hidden units' bias) for 60,000 full-batch
steps and prints [0.0026, 0.9967, 0.9970, 0.0039]. The deltas below are
derived by hand, as in the paper: no automatic differentiation.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from keras_history import validation
from keras_history.building import build_for
from keras_history.models.base import LearningRuleModel, compiled_for_rule
from keras_history.timeline import milestone
from keras_history.weights.loading import with_weights

__all__ = ["BackpropMLP", "backprop_mlp"]


def snippet_weights() -> list[np.ndarray]:
    """The seed snippet's starting weights, as `[hidden kernel, hidden bias, output kernel]`.

    The snippet draws `np.random.seed(1)`, then `2*random((3, 4)) - 1` and
    `2*random((4, 1)) - 1`; the third row of the first matrix multiplies its
    constant third input, so here it becomes the hidden layer's bias.
    """
    rng = np.random.RandomState(1)
    syn_0 = 2 * rng.random_sample((3, 4)) - 1
    syn_1 = 2 * rng.random_sample((4, 1)) - 1
    return [a.astype("float32") for a in (syn_0[:2], syn_0[2], syn_1)]


@keras.saving.register_keras_serializable(package="keras_history")
class BackpropMLP(LearningRuleModel):
    """A sigmoid network with one hidden layer, trained by hand-derived deltas."""

    default_learning_rate = 1.0  # the snippet takes whole steps
    cost_is_a_mean = False  # E sums over its batch, as in the paper

    def __init__(self, hidden_units: int = 4, units: int = 1, output_bias: bool = True,
                 seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        for option, value in (("hidden_units", hidden_units), ("units", units)):
            validation.check_option(option, value, isinstance(value, int) and value >= 1,
                                    "an integer >= 1")
        self.hidden_units = hidden_units
        self.units = units
        self.output_bias = bool(output_bias)
        validation.check_seed(seed)
        self.seed = seed

    def build(self, input_shape):
        # The snippet's initialisation: uniform on [-1, 1).
        init = keras.initializers.RandomUniform(-1.0, 1.0, seed=self.seed)
        features = input_shape[-1]
        self.hidden_kernel = self.add_weight(
            shape=(features, self.hidden_units), initializer=init, name="hidden_kernel")
        self.hidden_bias = self.add_weight(
            shape=(self.hidden_units,), initializer=init, name="hidden_bias")
        self.output_kernel = self.add_weight(
            shape=(self.hidden_units, self.units), initializer=init, name="output_kernel")
        self.output_bias_weight = (
            self.add_weight(shape=(self.units,), initializer=init, name="output_bias")
            if self.output_bias else None
        )

    def activations(self, x):
        """Hidden and output activations."""
        hidden = ops.sigmoid(ops.matmul(x, self.hidden_kernel) + self.hidden_bias)
        output = ops.matmul(hidden, self.output_kernel)
        if self.output_bias_weight is not None:
            output = output + self.output_bias_weight
        return hidden, ops.sigmoid(output)

    def call(self, inputs):
        return self.activations(inputs)[1]

    def cost(self, y, y_pred):
        """The paper's E = ½ Σ (output − target)², summed over the batch."""
        return 0.5 * ops.sum(ops.square(y_pred - y))

    def rule(self, x, y):
        hidden, output = self.activations(x)
        output_delta = (output - y) * output * (1.0 - output)
        hidden_delta = (ops.matmul(output_delta, ops.transpose(self.output_kernel))
                        * hidden * (1.0 - hidden))
        lr = self.learning_rate
        self.output_kernel.assign(
            self.output_kernel - lr * ops.matmul(ops.transpose(hidden), output_delta))
        if self.output_bias_weight is not None:
            self.output_bias_weight.assign(
                self.output_bias_weight - lr * ops.sum(output_delta, axis=0))
        self.hidden_kernel.assign(
            self.hidden_kernel - lr * ops.matmul(ops.transpose(x), hidden_delta))
        self.hidden_bias.assign(self.hidden_bias - lr * ops.sum(hidden_delta, axis=0))
        return output, self.cost(y, output)

    def check_data(self, x, y):
        x, y = super().check_data(x, y)
        if y is not None:  # a sigmoid output can only reach targets in [0, 1]
            validation.check_in_range(y, 0.0, 1.0, "y (targets of sigmoid outputs)")
        return x, y

    def get_config(self) -> dict:
        return {**super().get_config(), "hidden_units": self.hidden_units,
                "units": self.units, "output_bias": self.output_bias, "seed": self.seed}


@milestone("backprop_mlp")
def backprop_mlp(hidden_units: int = 4,
                 learning_rate: float = BackpropMLP.default_learning_rate,
                 output_bias: bool | None = None, weights: str | None = None,
                 input_dim: int | None = None, units: int = 1, seed: int | None = None,
                 steps_per_batch: int = 1, compile: bool = True,
                 name: str = "backprop_mlp") -> BackpropMLP:
    """A sigmoid MLP trained by backpropagation with hand-derived deltas.

    Defaults follow the seed snippet: 4 hidden units, learning rate 1, full
    batches, the loss E = ½ Σ (output − target)².

    Example (the snippet, step for step):

    ```python
    x, y = keras_history.datasets.logic_gate("xor")
    model = keras_history.models.backprop_mlp(weights="snippet", steps_per_batch=1000)
    model.fit(x, y, epochs=60, verbose=0)
    model.predict(x)  # [[0.0026], [0.9967], [0.9970], [0.0039]]
    ```

    (`steps_per_batch=1000` with `epochs=60` is the same 60,000 steps as
    `epochs=60000`, with far less Python overhead.)

    Args:
        hidden_units: size of the hidden layer.
        learning_rate: the step size (the snippet's is 1).
        output_bias: give the output unit a bias. Defaults to True, except
            with `weights="snippet"`, whose net has none.
        weights: None for a random start (uniform on [-1, 1), as the snippet
            draws), `"snippet"` for the seed snippet's exact starting
            weights (needs `hidden_units=4`, `input_dim=2`, `units=1` and no
            output bias), the name of a shipped weight set, or the path of a
            `.weights.h5`/`.keras` file to load.
        input_dim: number of inputs; None to take it from the first data
            (from the weights, with `weights=`).
        units: number of output units.
        seed: seed of the random initial weights.
        steps_per_batch: rule steps per batch (see `LearningRuleModel`).
        compile: compile the model, ready for `fit`.
        name: the model's name.

    Returns:
        A `BackpropMLP` model.
    """
    if output_bias is None:
        output_bias = weights != "snippet"
    if weights == "snippet" and input_dim is None:
        input_dim = 2
    if weights == "snippet" and (hidden_units, input_dim, units, output_bias) != (4, 2, 1, False):
        raise ValueError(
            'weights="snippet" is the 3-4-1 net of the seed snippet: it needs '
            "hidden_units=4, input_dim=2, units=1 and output_bias=False, got "
            f"hidden_units={hidden_units}, input_dim={input_dim}, units={units}, "
            f"output_bias={output_bias}."
        )
    model = BackpropMLP(hidden_units=hidden_units, units=units, output_bias=output_bias,
                        seed=seed, steps_per_batch=steps_per_batch, name=name)
    build_for(model, None if input_dim is None else (input_dim,))
    if weights == "snippet":
        model.set_weights(snippet_weights())
        weights = None
    model = compiled_for_rule(model, learning_rate, compile)
    return with_weights(model, "backprop_mlp", weights)
