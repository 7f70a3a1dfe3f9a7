"""The logistic neuron and the shallow net, with the cross-entropy loss and hand-derived
gradients: the seed lecture, Andrew Ng's "Neural Networks and Deep Learning"
(deeplearning.ai, 2017), week 3, "Planar data classification with one hidden layer".

Logistic regression is David Cox's (1958, "The regression analysis of binary
sequences"): a probability a = σ(w·x + b), fitted by maximum likelihood, that is
by lowering the cross-entropy L = −y log a − (1 − y) log(1 − a). Written as a
neuron and trained by gradient descent, its gradient is as simple as the
perceptron's rule: dz = a − y.

The lecture puts a hidden layer in front of that neuron and derives every
gradient by hand, for m samples at once (course notation: columns are samples):

    dZ₂ = A₂ − Y                 dW₂ = (1/m) dZ₂ A₁ᵀ    db₂ = (1/m) Σ dZ₂
    dZ₁ = W₂ᵀ dZ₂ * g′(Z₁)       dW₁ = (1/m) dZ₁ Xᵀ     db₁ = (1/m) Σ dZ₁
    w ← w − η dw                 g′(Z₁) = 1 − A₁² for tanh, A₁(1 − A₁) for σ

Keras puts samples in rows, so here each product is the transpose of the
course's (dW₂ = (1/m) A₁ᵀ dZ₂). The course trains 4 tanh units with η = 1.2
for 10,000 full-batch steps from W = 0.01·N(0, 1), b = 0, and reports 90%
training accuracy on its "flower" (`datasets.flower()`), where logistic
regression reaches 47%.

`shallow_net(hidden_units=(4, 2), output="tanh")` is the other classroom of
those years, the TensorFlow Playground (Smilkov & Carter, 2016): the same
backward pass through any number of hidden layers, ending in a tanh unit
trained on the Playground's ½(out − target)² with targets ±1.
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

__all__ = ["LogisticNeuron", "ShallowNet", "logistic_neuron", "shallow_net"]

EPSILON = 1e-7  # keeps log() finite when a probability rounds to 0 or 1 (as Keras's does)

# g(z) and g′ written with the unit's output a = g(z), as the lecture writes 1 − a².
ACTIVATIONS = {
    "tanh": (ops.tanh, lambda a: 1.0 - ops.square(a)),
    "sigmoid": (ops.sigmoid, lambda a: a * (1.0 - a)),
    "relu": (ops.relu, lambda a: ops.cast(a > 0, a.dtype)),
}
OUTPUTS = ("sigmoid", "tanh")


def cross_entropy(y, probability):
    """The lecture's cost J = −(1/m) Σ [y log a + (1 − y) log(1 − a)]."""
    a = ops.clip(probability, EPSILON, 1.0 - EPSILON)
    return -ops.mean(y * ops.log(a) + (1.0 - y) * ops.log(1.0 - a))


def check_labels(x, y):
    """Labels are 0 or 1, one column: what a sigmoid's cross-entropy compares with."""
    if y is not None:
        validation.check_values_in(y, (0, 1), "y (class labels)")
    return x, y


@keras.saving.register_keras_serializable(package="keras_history")
class LogisticNeuron(LearningRuleModel):
    """One sigmoid unit, gradient descent on the cross-entropy. See `logistic_neuron()`."""

    default_learning_rate = 1.2  # the lecture's η

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.units = 1

    def build(self, input_shape):
        # The course starts logistic regression from w = 0, b = 0: its cost is convex.
        self.kernel = self.add_weight(shape=(input_shape[-1], 1), initializer="zeros",
                                      name="kernel")
        self.bias = self.add_weight(shape=(1,), initializer="zeros", name="bias")

    def call(self, inputs):
        return ops.sigmoid(ops.matmul(inputs, self.kernel) + self.bias)

    def cost(self, y, y_pred):
        return cross_entropy(y, y_pred)

    def rule(self, x, y):
        a = self(x)
        m = ops.cast(ops.shape(x)[0], a.dtype)
        dz = a - y  # ∂L/∂z of σ and the cross-entropy together
        lr = self.learning_rate
        self.kernel.assign(self.kernel - lr * ops.matmul(ops.transpose(x), dz) / m)
        self.bias.assign(self.bias - lr * ops.sum(dz, axis=0) / m)
        return a, self.cost(y, a)

    def check_data(self, x, y):
        return check_labels(*super().check_data(x, y))


@keras.saving.register_keras_serializable(package="keras_history")
class ShallowNet(LearningRuleModel):
    """Hidden layers and one output unit, trained by the lecture's hand-derived gradients.

    See `shallow_net()`. With `output="sigmoid"` (the lecture) the cost is the
    cross-entropy; with `output="tanh"` (the Playground) it is ½(out − t)²
    with targets t = 2y − 1, and `predict` gives (out + 1)/2 so that both
    read as the probability of class 1.
    """

    def __init__(self, hidden_units: tuple[int, ...] = (4,), activation: str = "tanh",
                 output: str = "sigmoid", seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.hidden_units = tuple(hidden_units)
        validation.check_option("activation", activation, activation in ACTIVATIONS,
                                f"one of {', '.join(map(repr, ACTIVATIONS))}")
        validation.check_option("output", output, output in OUTPUTS,
                                "'sigmoid' (the lecture) or 'tanh' (the Playground)")
        validation.check_seed(seed)
        self.activation, self.output_unit, self.seed = activation, output, seed
        self.units = 1
        # Each source's own step size, for `compile()` without arguments.
        self.default_learning_rate = 1.2 if output == "sigmoid" else 0.03

    def build(self, input_shape):
        if self.output_unit == "sigmoid":  # the lecture: W = 0.01·N(0, 1), b = 0
            kernel_init = keras.initializers.RandomNormal(stddev=0.01, seed=self.seed)
            bias_init = keras.initializers.Zeros()
        else:  # the Playground (nn.ts): weights uniform on [-0.5, 0.5), biases 0.1
            kernel_init = keras.initializers.RandomUniform(-0.5, 0.5, seed=self.seed)
            bias_init = keras.initializers.Constant(0.1)
        sizes = (input_shape[-1], *self.hidden_units, 1)
        self.kernels, self.biases = [], []
        for number, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
            self.kernels.append(self.add_weight(shape=(fan_in, fan_out), name=f"W{number}",
                                                initializer=kernel_init))
            self.biases.append(self.add_weight(shape=(fan_out,), name=f"b{number}",
                                               initializer=bias_init))

    def activations(self, x) -> list:
        """[x, a₁, …, out]: every layer's output, the input first."""
        g = ACTIVATIONS[self.activation][0]
        outputs = [x]
        for kernel, bias in zip(self.kernels[:-1], self.biases[:-1]):
            outputs.append(g(ops.matmul(outputs[-1], kernel) + bias))
        z = ops.matmul(outputs[-1], self.kernels[-1]) + self.biases[-1]
        outputs.append(ops.sigmoid(z) if self.output_unit == "sigmoid" else ops.tanh(z))
        return outputs

    def call(self, inputs):
        out = self.activations(inputs)[-1]
        return out if self.output_unit == "sigmoid" else (out + 1.0) / 2.0

    def cost(self, y, y_pred):
        if self.output_unit == "sigmoid":
            return cross_entropy(y, y_pred)
        # The Playground's ½(out − t)², with out = 2·y_pred − 1 and t = 2y − 1.
        return ops.mean(2.0 * ops.square(y_pred - y))

    def gradients(self, x, y) -> tuple[list, list, object]:
        """The lecture's backward pass: (dW per layer, db per layer, the output)."""
        a = self.activations(x)
        out = a[-1]
        m = ops.cast(ops.shape(x)[0], out.dtype)
        if self.output_unit == "sigmoid":
            dz = out - y  # σ and the cross-entropy: dZ = A − Y
        else:
            dz = (out - (2.0 * y - 1.0)) * (1.0 - ops.square(out))  # (out − t)·tanh′
        g_prime = ACTIVATIONS[self.activation][1]
        d_kernels, d_biases = [], []
        for layer in reversed(range(len(self.kernels))):
            d_kernels.insert(0, ops.matmul(ops.transpose(a[layer]), dz) / m)
            d_biases.insert(0, ops.sum(dz, axis=0) / m)
            if layer:  # dZ of the layer below: Wᵀ dZ * g′(Z), with g′ from its output
                dz = ops.matmul(dz, ops.transpose(self.kernels[layer])) * g_prime(a[layer])
        return d_kernels, d_biases, out

    def rule(self, x, y):
        d_kernels, d_biases, out = self.gradients(x, y)
        lr = self.learning_rate
        for weight, grad in zip([*self.kernels, *self.biases], [*d_kernels, *d_biases]):
            weight.assign(weight - lr * grad)
        y_pred = out if self.output_unit == "sigmoid" else (out + 1.0) / 2.0
        return y_pred, self.cost(y, y_pred)

    def check_data(self, x, y):
        return check_labels(*super().check_data(x, y))

    def get_config(self) -> dict:
        return {**super().get_config(), "hidden_units": list(self.hidden_units),
                "activation": self.activation, "output": self.output_unit, "seed": self.seed}


def course_weights(hidden_units: int, input_dim: int = 2) -> list[np.ndarray]:
    """The course's starting weights, as `[W1, b1, W2, b2]` in Keras's layout.

    The course's `initialize_parameters` draws `np.random.seed(2)`, then
    W1 = 0.01·randn(n_h, n_x) and W2 = 0.01·randn(n_y, n_h), biases zero;
    Keras multiplies rows by kernels, so the kernels are their transposes.
    """
    rng = np.random.RandomState(2)
    w1 = 0.01 * rng.randn(hidden_units, input_dim)
    w2 = 0.01 * rng.randn(1, hidden_units)
    return [a.astype("float32") for a in (w1.T, np.zeros(hidden_units), w2.T, np.zeros(1))]


def _hidden_units(value) -> tuple[int, ...]:
    layers = (value,) if validation.is_integer(value) else value
    valid = (isinstance(layers, (tuple, list)) and len(layers) >= 1
             and all(validation.is_integer(n) and n >= 1 for n in layers))
    validation.check_option("hidden_units", value, valid,
                            "an integer >= 1, or a tuple of them (one per hidden layer)")
    return tuple(int(n) for n in layers)


@milestone("logistic_neuron")
def logistic_neuron(learning_rate: float = LogisticNeuron.default_learning_rate,
                    input_dim: int | None = None, steps_per_batch: int = 1,
                    weights: str | None = None,
                    compile: bool = True, name: str = "logistic_neuron") -> LogisticNeuron:
    """Logistic regression as a neuron: a = σ(w·x + b), cross-entropy, dz = a − y.

    Labels must be 0 or 1. Starts from w = 0, b = 0; the update is the mean
    over the batch, w ← w − η (1/m) xᵀ(a − y), written out in `rule`.

    Example (the lecture's logistic regression on its flower):

    ```python
    x, y = keras_history.datasets.flower()
    model = keras_history.models.logistic_neuron(steps_per_batch=10_000)
    model.fit(x, y, batch_size=400, epochs=1)
    model.evaluate(x, y, return_dict=True)  # accuracy 0.4725, near the course's 47%
    ```

    Args:
        learning_rate: the step size η (the lecture's 1.2).
        input_dim: number of inputs; None to take it from the first data.
        steps_per_batch: rule steps per batch (see `LearningRuleModel`).
        weights: None (untrained), the name of a weight set shipped for it
            (`keras_history.weights.names("logistic_neuron")`), or the path of a
            `.weights.h5`/`.keras` file.
        compile: compile the model, ready for `fit`, with an `accuracy` metric.
        name: the model's name.

    Returns:
        A `LogisticNeuron` model.
    """
    model = LogisticNeuron(steps_per_batch=steps_per_batch, name=name)
    build_for(model, None if input_dim is None else (input_dim,))
    model = compiled_for_rule(model, learning_rate, False)
    if compile:
        model.compile(optimizer=keras.optimizers.SGD(float(learning_rate)),
                      metrics=["accuracy"])
    return with_weights(model, "logistic_neuron", weights)


@milestone("shallow_net")
def shallow_net(hidden_units: int | tuple[int, ...] = 4, activation: str = "tanh",
                output: str = "sigmoid", learning_rate: float | None = None,
                init: str | None = None, input_dim: int | None = None, seed: int | None = None,
                steps_per_batch: int = 1, weights: str | None = None, compile: bool = True,
                name: str = "shallow_net") -> ShallowNet:
    """The lecture's net: a tanh (or sigmoid) hidden layer, a sigmoid output, hand-derived
    gradients of the cross-entropy, or the TensorFlow Playground's net with `output="tanh"`.

    Example (the lecture: 4 tanh units, η = 1.2, 10,000 full-batch steps):

    ```python
    x, y = keras_history.datasets.flower()
    model = keras_history.models.shallow_net(4, seed=0, steps_per_batch=10_000)
    model.fit(x, y, batch_size=400, epochs=1)
    model.evaluate(x, y, return_dict=True)  # accuracy about 0.90, as in the course
    ```

    The Playground's default (circle, hidden layers of 4 and 2 tanh units,
    a tanh output on ½(out − target)², learning rate 0.03, batch 10):

    ```python
    (x, y), (x_test, y_test) = keras_history.datasets.playground("circle")
    model = keras_history.models.shallow_net((4, 2), output="tanh", seed=0)
    model.fit(x, y, batch_size=10, epochs=200, shuffle=False)  # the Playground's epochs
    ```

    Args:
        hidden_units: units of the hidden layer, or a tuple: one per layer.
        activation: the hidden units' g: "tanh" (the lecture's), "sigmoid"
            or "relu".
        output: "sigmoid" for the lecture (cross-entropy, W = 0.01·N(0, 1),
            b = 0, η = 1.2) or "tanh" for the Playground (½(out − t)² with
            t = ±1, W uniform on [-0.5, 0.5), b = 0.1, η = 0.03). Either way
            labels are 0 or 1 and `predict` gives the probability of 1.
        learning_rate: the step size; None for the output's own (1.2 or 0.03).
        init: None for random weights drawn from `seed`, or "course" for the
            course's own starting weights (`course_weights()`: its
            `np.random.seed(2)` draws; one hidden layer, sigmoid output).
        input_dim: number of inputs; None to take it from the first data.
        seed: seed of the random initial weights.
        steps_per_batch: rule steps per batch (see `LearningRuleModel`).
        weights: None (untrained), the name of a weight set shipped for it
            (`keras_history.weights.names("shallow_net")`), or the path of a
            `.weights.h5`/`.keras` file.
        compile: compile the model, ready for `fit`, with an `accuracy` metric.
        name: the model's name.

    Returns:
        A `ShallowNet` model.
    """
    hidden_units = _hidden_units(hidden_units)
    validation.check_option("init", init, init in (None, "course"),
                            'None (random, from `seed`) or "course"')
    if init == "course":
        input_dim = 2 if input_dim is None else input_dim
        if len(hidden_units) != 1 or output != "sigmoid":
            raise ValueError(
                'init="course" is the lecture\'s net: it needs one hidden layer and '
                f'output="sigmoid", got hidden_units={hidden_units}, output={output!r}.')
    model = ShallowNet(hidden_units=hidden_units, activation=activation,
                       output=output, seed=seed, steps_per_batch=steps_per_batch, name=name)
    if learning_rate is None:
        learning_rate = model.default_learning_rate
    build_for(model, None if input_dim is None else (input_dim,))
    if init == "course":
        model.set_weights(course_weights(hidden_units[0], input_dim))
    model = compiled_for_rule(model, learning_rate, False)
    if compile:
        model.compile(optimizer=keras.optimizers.SGD(float(learning_rate)),
                      metrics=["accuracy"])
    return with_weights(model, "shallow_net", weights)
