"""Batch normalization: Ioffe and Szegedy (2015).

Sergey Ioffe and Christian Szegedy ("Batch normalization: accelerating deep
network training by reducing internal covariate shift", ICML 2015) normalize
each unit's input over the mini-batch, then let the net scale and shift it
back (their Algorithm 1):

    μ_B = mean(x),  σ²_B = var(x),  x̂ = (x − μ_B) / √(σ²_B + ε),  y = γ·x̂ + β

and backpropagate through μ_B and σ²_B too. Section 4.1 shows it on MNIST with
a net of 3 fully connected hidden layers of 100 sigmoid units and a 10-way
softmax, weights drawn from a small Gaussian, trained for 50,000 steps of 60
examples, with and without BN before each sigmoid. Figure 1: (a) the BN net's
test accuracy rises faster and higher; (b, c) the 15th, 50th and 85th
percentiles of one last-layer sigmoid's input drift over training without BN
and stay put with it.

The learning rule is backpropagation with plain SGD (the section names no
learning rate: ours is `LEARNING_RATE`, see docs/milestones/batch-norm-mlp.md),
shared with the convnets (`ImageClassifier.learning_rule`); BN's batch
statistics are part of the forward pass it differentiates. At inference Keras
normalizes with moving averages (momentum 0.99); the paper's Algorithm 2 uses
population statistics, E[x] and m/(m−1)·E[σ²_B] over training mini-batches:
`BatchNormMLP.use_population_statistics(x)` sets them.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from keras_history import validation
from keras_history.building import build_for
from keras_history.models.convolutional.classifier import ImageClassifier
from keras_history.timeline import milestone
from keras_history.weights.loading import with_weights

__all__ = ["BatchNormMLP", "batch_norm_mlp"]

BATCH_SIZE, STEPS = 60, 50_000  # Section 4.1
LEARNING_RATE = 0.5  # ours: Section 4.1 gives none
INIT_STDDEV = 0.1  # "small random Gaussian values"; ours


@keras.saving.register_keras_serializable(package="keras_history")
class BatchNormMLP(ImageClassifier):
    """784 → 3 × (dense 100 [→ BN] → sigmoid) → 10 softmax. See `batch_norm_mlp()`.

    Each hidden layer is split into its `Dense` (no bias with BN, whose β
    replaces it), its `BatchNormalization` and its sigmoid `Activation`, so
    that `sigmoid_inputs` can read what enters a sigmoid (Figure 1b, c).
    """

    def __init__(self, input_shape: tuple[int, int, int] = (28, 28, 1), classes: int = 10,
                 batch_norm: bool = True, hidden_layers: int = 3, hidden_units: int = 100,
                 seed: int | None = None, **kwargs):
        kwargs.pop("include_top", None)  # always a classifier
        super().__init__(input_shape, classes, True, **kwargs)
        self.batch_norm, self.seed = bool(batch_norm), seed
        self.hidden_layers, self.hidden_units = int(hidden_layers), int(hidden_units)

        def init(number):
            return keras.initializers.RandomNormal(
                stddev=INIT_STDDEV, seed=None if seed is None else seed + number)

        self.feature_layers = [layers.Flatten(name="flatten")]
        for number in range(1, self.hidden_layers + 1):
            self.feature_layers.append(layers.Dense(
                self.hidden_units, use_bias=not self.batch_norm, kernel_initializer=init(number),
                name=f"dense_{number}"))
            if self.batch_norm:  # Keras's ε = 1e-3
                self.feature_layers.append(layers.BatchNormalization(name=f"batch_norm_{number}"))
            self.feature_layers.append(layers.Activation("sigmoid", name=f"sigmoid_{number}"))
        self.top_layers = [layers.Dense(self.classes, activation="softmax", dtype="float32",
                                        kernel_initializer=init(0), name="predictions")]

    def default_optimizer(self) -> keras.optimizers.Optimizer:
        return keras.optimizers.SGD(LEARNING_RATE)

    def sigmoid_inputs(self, x, layer: int = -1):
        """What enters the sigmoids of hidden layer `layer` (default: the last), in inference mode.

        x: images as `predict` takes them, already checked (float in [0, 1] or uint8)."""
        x, _ = self.check_data(x, None)
        sigmoids = [i for i, lay in enumerate(self.feature_layers)
                    if isinstance(lay, layers.Activation)]
        stop = sigmoids[layer]
        h = ops.convert_to_tensor(x)
        for lay in self.feature_layers[:stop]:
            h = lay(h, training=False)
        return ops.convert_to_numpy(h)

    def use_population_statistics(self, x, batch_size: int = BATCH_SIZE) -> None:
        """Algorithm 2, step 10: E[x] = E_B[μ_B], Var[x] = m/(m−1)·E_B[σ²_B] over the
        mini-batches of `x` (the training images), replacing the moving averages."""
        if not self.batch_norm:
            return
        x, _ = self.check_data(x, None)
        batches = [x[i:i + batch_size] for i in range(0, len(x) - batch_size + 1, batch_size)]
        h = [ops.convert_to_tensor(b) for b in batches]
        for lay in self.feature_layers:
            if isinstance(lay, layers.BatchNormalization):
                means = [ops.mean(b, axis=0) for b in h]
                variances = [ops.var(b, axis=0) for b in h]
                lay.moving_mean.assign(ops.mean(ops.stack(means), axis=0))
                lay.moving_variance.assign(ops.mean(ops.stack(variances), axis=0)
                                           * (batch_size / (batch_size - 1)))
            h = [lay(b, training=False) for b in h]

    def get_config(self) -> dict:
        config = super().get_config()
        config.pop("include_top")
        return {**config, "batch_norm": self.batch_norm, "hidden_layers": self.hidden_layers,
                "hidden_units": self.hidden_units, "seed": self.seed}


@milestone("batch_norm_mlp")
def batch_norm_mlp(batch_norm: bool = True, hidden_layers: int = 3, hidden_units: int = 100,
                   learning_rate: float = LEARNING_RATE, seed: int | None = None,
                   weights: str | None = None,
                   compile: bool = True, name: str = "batch_norm_mlp") -> BatchNormMLP:
    """Ioffe & Szegedy's Section 4.1 net: 3 × 100 sigmoid units, with or without batch norm.

    Trained by backpropagation with SGD (ours: `learning_rate=0.5`; the paper
    gives none) on mini-batches of 60 for 50,000 steps: fit with
    `batch_size=60`. Images may be (N, 28, 28[, 1]) or flat (N, 784), uint8
    0..255 or floats in [0, 1].

    Example:

    ```python
    (x, y), (x_test, y_test) = keras_history.datasets.mnist.load_data()
    model = keras_history.models.batch_norm_mlp()            # batch_norm=False: the baseline
    model.fit(x, y, batch_size=60, epochs=60)                # 60,000 steps
    model.use_population_statistics(x)                       # Algorithm 2 (optional)
    model.evaluate(x_test, y_test)
    ```

    Args:
        batch_norm: normalize each sigmoid's input over the mini-batch (False: the baseline).
        hidden_layers, hidden_units: depth and width (the paper's: 3 × 100).
        learning_rate: SGD's step size.
        seed: seed of the initial weights (None: Keras's global seed).
        weights: None (untrained), the name of a weight set shipped for it
            (`keras_history.weights.names("batch_norm_mlp")`), or the path of a
            `.weights.h5`/`.keras` file.
        compile: compile with SGD and the accuracy metric.
        name: the model's name.

    Returns:
        A built `BatchNormMLP`.
    """
    for option, value, ok, expected in (
        ("batch_norm", batch_norm, isinstance(batch_norm, (bool, np.bool_)), "True or False"),
        ("hidden_layers", hidden_layers,
         validation.is_integer(hidden_layers) and hidden_layers >= 1, "an integer >= 1"),
        ("hidden_units", hidden_units,
         validation.is_integer(hidden_units) and hidden_units >= 1, "an integer >= 1"),
        ("learning_rate", learning_rate,
         validation.is_finite_number(learning_rate) and learning_rate > 0,
         "a positive, finite number"),
    ):
        validation.check_option(option, value, ok, expected)
    validation.check_seed(seed)
    model = BatchNormMLP(batch_norm=bool(batch_norm), hidden_layers=hidden_layers,
                         hidden_units=hidden_units, seed=seed, name=name)
    build_for(model, model.image_shape)
    if compile:
        model.compile(optimizer=keras.optimizers.SGD(float(learning_rate)))
    return with_weights(model, "batch_norm_mlp", weights)
