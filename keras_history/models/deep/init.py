"""Initialisation and rectifiers: the deep MLP (Glorot & Bengio 2010; Glorot, Bordes &
Bengio 2011; He, Zhang, Ren & Sun 2015).

Why did deep nets trained by plain backpropagation from a random start do so
poorly before 2006? Xavier Glorot and Yoshua Bengio looked inside them
("Understanding the difficulty of training deep feedforward neural networks",
AISTATS 2010): five hidden layers of 1000 units, a softmax output, the
negative log-likelihood, stochastic gradient descent on minibatches of ten at
a tuned learning rate. With the "commonly used heuristic" (their eq. 1)

    W ~ U[−1/√n_in, 1/√n_in]                              ("standard")

the variance of the back-propagated gradients shrinks layer by layer toward
the input (their Fig. 7, top). Asking the variance of activations and of
gradients both to stay constant across layers gives their eq. 16,

    W ~ U[−√6/√(n_in + n_out), √6/√(n_in + n_out)]          ("normalized")

under which the gradients keep their spread (Fig. 7, bottom). MNIST test
errors (their Table 1): tanh 1.76% standard, 1.64% normalized; softsign
1.64%; sigmoid 2.21%.

A year later Glorot, Bordes and Bengio ("Deep sparse rectifier neural
networks", AISTATS 2011) put max(0, x) in the hidden units: without any
unsupervised pre-training, 3 hidden layers reach 1.43% test error on MNIST
with rectifiers, against 1.57% with tanh and 1.77% with softplus.

Glorot's derivation assumed units that are linear near zero; a rectifier
halves the variance it passes on. He, Zhang, Ren and Sun ("Delving deep into
rectifiers", ICCV 2015) redid it for ReLUs (their eq. 10) and for their
parametric ReLU, PReLU (max(0, x) + a·min(0, x), a learned per unit,
starting at 0.25):

    W ~ N(0, 2/n_in)                                        ("he")

A 30-layer ReLU net started with "Xavier" stalls, theirs converges (their
Fig. 3, on ImageNet).

The model is a plain deep MLP whose only knobs are the two this story is
about: `activation` and `initializer`. Biases start at zero, and the softmax
layer draws its weights like the hidden ones, as in Glorot & Bengio. The rule
is theirs, the gradient of the mean cross-entropy and a plain step,
w ← w − ε·∂L/∂w (`ImageClassifier.learning_rule`, stepped by Keras's
SGD without momentum, which is exactly that step). `layer_statistics` looks
inside, as Glorot & Bengio's Figs. 6–7 do.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
from keras import layers, ops

from keras_history import backend, validation
from keras_history.building import build_for
from keras_history.models.convolutional.classifier import ImageClassifier
from keras_history.timeline import milestone
from keras_history.weights.loading import with_weights

__all__ = ["DeepMLP", "deep_mlp"]


def initializer_for(name: str, seed: int | None = None) -> keras.initializers.Initializer:
    """The papers' initialisers by name (Keras's `VarianceScaling` draws them exactly).

    - "standard": U[±1/√n_in] (Glorot & Bengio eq. 1): variance 1/(3·n_in).
    - "normalized": U[±√6/√(n_in+n_out)] (their eq. 16): Keras's `GlorotUniform`.
    - "he": N(0, 2/n_in) (He et al. eq. 10), untruncated as in the paper.
    """
    if name == "standard":  # U[±√(3·scale/n_in)] with scale 1/3: U[±1/√n_in]
        return keras.initializers.VarianceScaling(1 / 3, "fan_in", "uniform", seed=seed)
    if name == "normalized":
        return keras.initializers.VarianceScaling(1.0, "fan_avg", "uniform", seed=seed)
    if name == "he":
        return keras.initializers.VarianceScaling(2.0, "fan_in", "untruncated_normal", seed=seed)
    raise ValueError(f"Unknown initializer {name!r}: use one of "
                     f"{', '.join(map(repr, INITIALIZERS))}.")


INITIALIZERS = ("standard", "normalized", "he")
ACTIVATIONS = ("tanh", "sigmoid", "softsign", "relu", "softplus", "prelu")
PRELU_START = 0.25  # He et al.'s initial slope a for the negative part


def activation_layer(name: str, index: int) -> keras.layers.Layer:
    """The hidden units' nonlinearity; "prelu" learns one slope a per unit."""
    if name == "prelu":
        return layers.PReLU(keras.initializers.Constant(PRELU_START), name=f"prelu_{index}")
    if name not in ACTIVATIONS:
        raise ValueError(f"Unknown activation {name!r}: use one of "
                         f"{', '.join(map(repr, ACTIVATIONS))}.")
    return layers.Activation(name, name=f"{name}_{index}")


@dataclass(frozen=True)
class LayerStatistics:
    """What each hidden layer holds on a batch: Glorot & Bengio's Figs. 6 and 7.

    `activations[i]`: the outputs of hidden layer i+1 (N, width);
    `gradients[i]`: the back-propagated gradients ∂C/∂s of its pre-activations s,
    C being the summed cross-entropy of the batch, so each row is one example's.
    """

    activations: list[np.ndarray]
    gradients: list[np.ndarray]

    def activation_std(self) -> list[float]:
        return [float(np.std(a)) for a in self.activations]

    def gradient_std(self) -> list[float]:
        return [float(np.std(g)) for g in self.gradients]


@keras.saving.register_keras_serializable(package="keras_history")
class DeepMLP(ImageClassifier):
    """`depth` hidden layers of `width` units and a softmax; see `deep_mlp()`."""

    def __init__(self, input_shape: tuple[int, int, int] = (28, 28, 1), classes: int = 10,
                 depth: int = 5, width: int = 1000, activation: str = "tanh",
                 initializer: str = "normalized", learning_rate: float = 0.01,
                 seed: int | None = None, **kwargs):
        super().__init__(input_shape, classes, True, **kwargs)
        self.depth, self.width = int(depth), int(width)
        self.activation, self.initializer = activation, initializer
        self.paper_learning_rate = float(learning_rate)
        self.seed = seed

        def init(index: int):  # a seeded net seeds each layer apart
            return initializer_for(initializer, None if seed is None else seed + index)

        self.hidden = [(layers.Dense(width, kernel_initializer=init(i), name=f"dense_{i}"),
                        activation_layer(activation, i)) for i in range(1, depth + 1)]
        self.feature_layers = [layers.Flatten(name="flatten")] + [
            layer for pair in self.hidden for layer in pair]
        # float32 softmax, so a mixed-precision policy keeps an exact loss.
        self.top_layers = [layers.Dense(classes, activation="softmax", name="predictions",
                                        kernel_initializer=init(depth + 1), dtype="float32")]

    def default_optimizer(self) -> keras.optimizers.Optimizer:
        """Plain SGD, w ← w − ε·∂L/∂w, at the factory's step size."""
        return keras.optimizers.SGD(self.paper_learning_rate)

    def hidden_pass(self, x, probes=None):
        """Hidden outputs, pre-activations and class probabilities; `probes`, if given,
        are added to the pre-activations (zeros whose gradients are ∂C/∂s)."""
        h = self.feature_layers[0](self.as_images(x))
        outputs, pre_activations = [], []
        for i, (dense, nonlinearity) in enumerate(self.hidden):
            s = dense(h)
            if probes is not None:
                s = s + probes[i]
            h = nonlinearity(s)
            pre_activations.append(s)
            outputs.append(h)
        return outputs, pre_activations, self.top_layers[0](h)

    def layer_statistics(self, x, y) -> LayerStatistics:
        """Activations and back-propagated gradients of each hidden layer on (x, y).

        Glorot & Bengio's Figs. 6–7 are histograms of these at initialisation.
        """
        x, y = self.check_data(x, y)
        probes = [keras.Variable(np.zeros((len(x), self.width), "float32"), name=f"probe_{i}")
                  for i in range(self.depth)]

        def summed_cost():
            outputs, _, p = self.hidden_pass(ops.convert_to_tensor(x), probes)
            return self.cross_entropy(ops.convert_to_tensor(y), p) * len(x), outputs

        _, outputs, grads = backend.value_and_grad(summed_cost, probes)
        return LayerStatistics([np.array(ops.convert_to_numpy(a)) for a in outputs],
                               [np.array(ops.convert_to_numpy(g)) for g in grads])

    def get_config(self) -> dict:
        config = super().get_config()
        config.pop("include_top")
        return {**config, "depth": self.depth, "width": self.width,
                "activation": self.activation, "initializer": self.initializer,
                "learning_rate": self.paper_learning_rate, "seed": self.seed}


DEFAULT_LEARNING_RATE = 0.01


@milestone("deep_mlp")
def deep_mlp(depth: int = 5, width: int = 1000, activation: str = "tanh",
             initializer: str = "normalized", input_shape: tuple[int, int, int] = (28, 28, 1),
             classes: int = 10, learning_rate: float = DEFAULT_LEARNING_RATE,
             seed: int | None = None, weights: str | None = None,
             compile: bool = True, name: str = "deep_mlp") -> DeepMLP:
    """A plain deep MLP for MNIST-shaped images, with the papers' initialisers and units.

    Example (Glorot & Bengio's Fig. 7, then training as in their paper):

    ```python
    (x, y), (x_test, y_test) = keras_history.datasets.mnist.load_sample()
    for init in ("standard", "normalized"):
        model = keras_history.models.deep_mlp(initializer=init, seed=0)
        print(init, model.layer_statistics(x[:500], y[:500]).gradient_std())
    model.fit(x, y, batch_size=10, epochs=3)     # uint8 (N, 28, 28) is fine
    model.evaluate(x_test, y_test)
    ```

    Images may be (N, 28, 28, 1), (N, 28, 28) or flat (N, 784); uint8 pixels
    are divided by 255, float pixels must lie in [0, 1]. Labels are class ids
    or one-hot rows.

    Args:
        depth: number of hidden layers (Glorot & Bengio: 1 to 5; He et al.'s
            stalling net: 30).
        width: units per hidden layer (the papers' MLPs: 1000).
        activation: "tanh", "sigmoid", "softsign", "relu", "softplus", or
            "prelu" (He et al.: a learned negative slope per unit, from 0.25).
        initializer: "normalized" (Glorot's U[±√6/√(n_in+n_out)]), "standard"
            (U[±1/√n_in]) or "he" (N(0, 2/n_in)).
        input_shape: image shape, channels last.
        classes: number of classes.
        learning_rate: SGD's step size ε.
        seed: seed of the initial weights (layer i draws with seed + i); None
            for Keras's global seed.
        weights: None (untrained), the name of a weight set shipped for it
            (`keras_history.weights.names("deep_mlp")`), or the path of a
            `.weights.h5`/`.keras` file.
        compile: compile with plain SGD and the accuracy metric.
        name: the model's name.

    Returns:
        A built `DeepMLP`.
    """
    for option, value in (("depth", depth), ("width", width)):
        validation.check_option(option, value, validation.is_integer(value) and value >= 1,
                                "an integer >= 1")
    validation.check_option("activation", activation, activation in ACTIVATIONS,
                            f"one of {', '.join(map(repr, ACTIVATIONS))}")
    validation.check_option("initializer", initializer, initializer in INITIALIZERS,
                            f"one of {', '.join(map(repr, INITIALIZERS))}")
    dims = validation.check_image_shape(input_shape)
    validation.check_classes(classes)
    validation.check_option("learning_rate", learning_rate,
                            validation.is_finite_number(learning_rate) and learning_rate > 0,
                            "a positive, finite number")
    validation.check_seed(seed)
    model = DeepMLP(input_shape=dims, classes=int(classes), depth=int(depth), width=int(width),
                    activation=activation, initializer=initializer,
                    learning_rate=float(learning_rate), seed=seed, name=name)
    build_for(model, dims)
    if compile:
        model.compile()
    return with_weights(model, "deep_mlp", weights)
