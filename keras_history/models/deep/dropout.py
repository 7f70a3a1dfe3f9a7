"""Dropout: Hinton et al. (2012) and Srivastava et al. (2014).

Geoffrey Hinton, Nitish Srivastava, Alex Krizhevsky, Ilya Sutskever and
Ruslan Salakhutdinov ("Improving neural networks by preventing co-adaptation
of feature detectors", arXiv 1207.0580, 2012; "Dropout: a simple way to
prevent neural networks from overfitting", JMLR 15:1929–1958, 2014) drop each
hidden unit with probability 0.5 and each input pixel with probability 0.2 on
every training case, so that no unit can rely on particular others; at test
time the whole net runs with its outgoing weights scaled by the keep
probability. (Keras's `Dropout` scales the kept units by 1/keep during
training instead: the same expected input, the same test-time net.)

Table 2 of the JMLR paper, permutation-invariant MNIST (test error):
standard net 1.60%, dropout 1.35% (logistic) / 1.25% (ReLU), dropout +
max-norm 1.06% (3 × 1024 ReLU). The rule (Hinton et al. 2012, Appendix A.1;
JMLR Appendix A.2–A.3) is SGD on mini-batches of 100 with

    p_t = 0.5 + min(t / 500, 1) · (0.99 − 0.5)       (t: epochs done)
    ε_t = 10 · 0.998^t
    v ← p_t·v − (1 − p_t)·ε_t·∂L/∂w,   w ← w + v
    w_j ← w_j · min(1, c / ‖w_j‖)                     (each hidden unit's incoming weights)

with c = √15 ≈ 3.87 (the 2012 paper bounds the squared length by 15; the JMLR
appendix calls c "typically 3 to 4"). The (1 − p_t) factor keeps the step
size constant while the momentum rises. Weights start as N(0, 0.01²).
"""

from __future__ import annotations

import math

import keras
from keras import layers, ops

from keras_history import validation
from keras_history.building import build_for
from keras_history.models.convolutional.classifier import ImageClassifier
from keras_history.models.generative.gan import RampedMomentumSGD
from keras_history.timeline import milestone
from keras_history.weights.loading import with_weights

__all__ = ["DropoutMLP", "dropout_mlp"]

BATCH_SIZE = 100
STEPS_PER_EPOCH = 600  # 60,000 training digits in batches of 100
PAPER_LEARNING_RATE = 10.0  # Hinton et al. 2012: diverges here (docs/milestones/dropout-mlp.md)
LEARNING_RATE, LEARNING_RATE_DECAY = 1.0, 0.998  # ε0 (ours) and f, per epoch
INITIAL_MOMENTUM, FINAL_MOMENTUM, MOMENTUM_EPOCHS = 0.5, 0.99, 500
MAX_NORM = math.sqrt(15.0)  # ‖w‖² ≤ 15 (Hinton et al. 2012)


@keras.saving.register_keras_serializable(package="keras_history")
class DampedMomentumSGD(RampedMomentumSGD):
    """Hinton et al.'s momentum: v ← p·v − (1 − p)·ε·g, w ← w + v, p ramping with the epoch.

    `RampedMomentumSGD`'s ramp and update with the step ε scaled by (1 − p).
    """

    def update_step(self, gradient, variable, learning_rate):
        momentum = ops.cast(self.current_momentum(), variable.dtype)
        super().update_step(gradient, variable,
                            (1.0 - momentum) * ops.cast(learning_rate, variable.dtype))


def dropout_optimizer(learning_rate: float = LEARNING_RATE,
                      learning_rate_decay: float = LEARNING_RATE_DECAY,
                      initial_momentum: float = INITIAL_MOMENTUM,
                      final_momentum: float = FINAL_MOMENTUM,
                      momentum_epochs: int = MOMENTUM_EPOCHS,
                      steps_per_epoch: int = STEPS_PER_EPOCH) -> DampedMomentumSGD:
    """The paper's SGD: ε0·f^epoch, momentum ramping over `momentum_epochs` epochs."""
    schedule = keras.optimizers.schedules.ExponentialDecay(
        float(learning_rate), decay_steps=int(steps_per_epoch),
        decay_rate=float(learning_rate_decay), staircase=True)
    # RampedMomentumSGD counts epochs from 1: epoch 1 has p0, epoch 1 + T has the final p.
    return DampedMomentumSGD(schedule, initial_momentum=initial_momentum,
                             final_momentum=final_momentum, start=1,
                             saturate=1 + int(momentum_epochs), steps_per_epoch=steps_per_epoch)


@keras.saving.register_keras_serializable(package="keras_history")
class DropoutMLP(ImageClassifier):
    """A fully connected net on flat MNIST, trained with dropout and max-norm. See `dropout_mlp()`.

    `feature_layers`: flatten, input dropout, then (dense, dropout) per hidden
    layer; `top_layers`: the softmax. `update` is the momentum step followed by
    the max-norm projection of every hidden unit's incoming weights.
    """

    def __init__(self, input_shape: tuple[int, int, int] = (28, 28, 1), classes: int = 10,
                 hidden_layers: int = 3, hidden_units: int = 1024, activation: str = "relu",
                 input_dropout_rate: float = 0.2, dropout_rate: float = 0.5,
                 max_norm: float | None = MAX_NORM, seed: int | None = None, **kwargs):
        kwargs.pop("include_top", None)  # always a classifier
        super().__init__(input_shape, classes, True, **kwargs)
        self.hidden_layers, self.hidden_units = int(hidden_layers), int(hidden_units)
        self.activation = activation
        self.input_dropout_rate, self.dropout_rate = float(input_dropout_rate), float(dropout_rate)
        self.max_norm = None if max_norm is None else float(max_norm)
        self.seed = seed
        seeds = iter(range(2 * self.hidden_layers + 4)) if seed is not None else None

        def next_seed():
            return None if seeds is None else seed + next(seeds)

        def dense(units, activation, name, **options):
            return layers.Dense(units, activation=activation, name=name, bias_initializer="zeros",
                                kernel_initializer=keras.initializers.RandomNormal(
                                    stddev=0.01, seed=next_seed()), **options)

        self.feature_layers = [layers.Flatten(name="flatten"),
                               layers.Dropout(self.input_dropout_rate, seed=next_seed(),
                                              name="input_dropout")]
        for number in range(1, self.hidden_layers + 1):
            self.feature_layers += [
                dense(self.hidden_units, activation, f"hidden_{number}"),
                layers.Dropout(self.dropout_rate, seed=next_seed(), name=f"dropout_{number}"),
            ]
        # float32 softmax, so a mixed-precision policy keeps an exact loss.
        self.top_layers = [dense(self.classes, "softmax", "predictions", dtype="float32")]

    @property
    def kernels(self) -> list[keras.Variable]:
        """The kernels whose columns (a unit's incoming weights) max-norm bounds: every
        layer's, the softmax's too (JMLR Appendix B.1: "in all the layers")."""
        return [layer.kernel for layer in self.feature_layers + self.top_layers
                if isinstance(layer, layers.Dense)]

    def default_optimizer(self) -> keras.optimizers.Optimizer:
        return dropout_optimizer()

    def update(self, grads: list) -> None:
        """The momentum step (the compiled optimizer's), then max-norm: ‖w_j‖ ≤ c."""
        super().update(grads)
        if self.max_norm is None:
            return
        for kernel in self.kernels:
            norms = ops.sqrt(ops.sum(ops.square(kernel), axis=0, keepdims=True))
            scale = ops.minimum(1.0, self.max_norm / ops.maximum(norms, 1e-12))
            kernel.assign(kernel * ops.cast(scale, kernel.dtype))

    def get_config(self) -> dict:
        config = super().get_config()
        config.pop("include_top")
        return {**config, "hidden_layers": self.hidden_layers, "hidden_units": self.hidden_units,
                "activation": self.activation, "input_dropout_rate": self.input_dropout_rate,
                "dropout_rate": self.dropout_rate, "max_norm": self.max_norm, "seed": self.seed}


def _check_options(hidden_layers, hidden_units, activation, dropout, input_dropout_rate,
                   dropout_rate, max_norm, learning_rate, learning_rate_decay, initial_momentum,
                   final_momentum, momentum_epochs, steps_per_epoch, seed) -> None:
    is_count = validation.is_integer
    for option, value, ok, expected in (
        ("hidden_layers", hidden_layers, is_count(hidden_layers) and hidden_layers >= 1,
         "an integer >= 1"),
        ("hidden_units", hidden_units, is_count(hidden_units) and hidden_units >= 1,
         "an integer >= 1"),
        ("activation", activation, activation in ("relu", "sigmoid"), '"relu" or "sigmoid"'),
        ("dropout", dropout, isinstance(dropout, bool), "True or False"),
        ("input_dropout_rate", input_dropout_rate,
         validation.is_finite_number(input_dropout_rate) and 0 <= input_dropout_rate < 1,
         "in [0, 1)"),
        ("dropout_rate", dropout_rate,
         validation.is_finite_number(dropout_rate) and 0 <= dropout_rate < 1, "in [0, 1)"),
        ("max_norm", max_norm,
         max_norm is None or validation.is_finite_number(max_norm) and max_norm > 0,
         "a positive, finite number, or None for no constraint"),
        ("learning_rate", learning_rate,
         validation.is_finite_number(learning_rate) and learning_rate > 0,
         "a positive, finite number"),
        ("learning_rate_decay", learning_rate_decay,
         validation.is_finite_number(learning_rate_decay) and 0 < learning_rate_decay <= 1,
         "in (0, 1] (the factor ε is multiplied by after each epoch)"),
    ):
        validation.check_option(option, value, ok, expected)
    validation.check_momentum_ramp(initial_momentum, final_momentum, steps_per_epoch,
                                   momentum_epochs)
    validation.check_seed(seed)


@milestone("dropout_mlp")
def dropout_mlp(hidden_layers: int = 3, hidden_units: int = 1024, activation: str = "relu",
                dropout: bool = True, input_dropout_rate: float = 0.2, dropout_rate: float = 0.5,
                max_norm: float | None = MAX_NORM, learning_rate: float = LEARNING_RATE,
                learning_rate_decay: float = LEARNING_RATE_DECAY,
                initial_momentum: float = INITIAL_MOMENTUM,
                final_momentum: float = FINAL_MOMENTUM, momentum_epochs: int = MOMENTUM_EPOCHS,
                steps_per_epoch: int = STEPS_PER_EPOCH, seed: int | None = None,
                weights: str | None = None,
                compile: bool = True, name: str = "dropout_mlp") -> DropoutMLP:
    """The permutation-invariant MNIST net of Srivastava et al. (2014), Table 2.

    784 → 3 × 1024 ReLU → 10 softmax, dropping 20% of the pixels and 50% of
    the hidden units on every training case, each hidden unit's incoming
    weight vector held to length ≤ `max_norm` after every update, trained by
    SGD at ε = 10 · 0.998^epoch with momentum rising 0.5 → 0.99 over 500
    epochs (the module docstring). The schedule counts epochs as
    `steps_per_epoch` steps: 600 is full MNIST at the paper's batch 100, so
    fit with `batch_size=100`.

    Example:

    ```python
    (x, y), (x_test, y_test) = keras_history.datasets.mnist.load_data()
    model = keras_history.models.dropout_mlp()
    model.fit(x, y, batch_size=100, epochs=10)   # the paper trains for thousands
    model.evaluate(x_test, y_test)
    twin = keras_history.models.dropout_mlp(dropout=False)  # the same net and rule, no dropout
    ```

    Args:
        hidden_layers, hidden_units: the net's depth and width (Table 2: 3 × 1024).
        activation: "relu" (Table 2's best) or "sigmoid" (its logistic rows).
        dropout: False sets both dropout rates to 0: the no-dropout twin.
        input_dropout_rate, dropout_rate: the fractions dropped (keep 0.8 and 0.5).
        max_norm: c, the bound on each hidden unit's incoming weight norm; None: none.
        learning_rate, learning_rate_decay: ε0 and its factor f per epoch.
        initial_momentum, final_momentum, momentum_epochs: the linear momentum ramp.
        steps_per_epoch: steps that make an epoch for the schedules.
        seed: seed of the initial weights and the dropout masks (None: Keras's global seed).
        weights: None (untrained), the name of a weight set shipped for it
            (`keras_history.weights.names("dropout_mlp")`), or the path of a
            `.weights.h5`/`.keras` file.
        compile: compile with the paper's SGD and the accuracy metric.
        name: the model's name.

    Returns:
        A built `DropoutMLP`.
    """
    _check_options(hidden_layers, hidden_units, activation, dropout, input_dropout_rate,
                   dropout_rate, max_norm, learning_rate, learning_rate_decay, initial_momentum,
                   final_momentum, momentum_epochs, steps_per_epoch, seed)
    if not dropout:
        input_dropout_rate = dropout_rate = 0.0
    model = DropoutMLP(hidden_layers=hidden_layers, hidden_units=hidden_units,
                       activation=activation, input_dropout_rate=input_dropout_rate,
                       dropout_rate=dropout_rate, max_norm=max_norm, seed=seed, name=name)
    build_for(model, model.image_shape)
    if compile:
        model.compile(optimizer=dropout_optimizer(learning_rate, learning_rate_decay,
                                                  initial_momentum, final_momentum,
                                                  momentum_epochs, steps_per_epoch))
    return with_weights(model, "dropout_mlp", weights)
