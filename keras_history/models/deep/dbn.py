"""Deep belief nets: Hinton, Osindero & Teh (2006); Hinton & Salakhutdinov (2006).

Geoffrey Hinton, Simon Osindero and Yee-Whye Teh ("A fast learning algorithm
for deep belief nets", Neural Computation 18:1527–1554, 2006) showed that a
deep net can be learned one layer at a time: train a restricted Boltzmann
machine on the data, then another on the first one's hidden activities, and
so on (`keras_history.layers.RBM`, contrastive divergence). Their
784-500-500-2000 net with 10 label units, fine-tuned by the "up-down"
algorithm, made 1.25% errors on the MNIST test set, permutation-invariant:
no knowledge of images, no distortions. Hinton & Salakhutdinov ("Reducing the
dimensionality of data with neural networks", Science 313:504–507, 2006)
fine-tuned the same pretrained stack as a classifier by backpropagation,
about 1.2% (their code, backpropclassify.m; the dropout paper, Srivastava et
al. 2014, Table 2, lists "DBN + finetuning" at 1.18%).

The Science code's recipe, which this module follows:

    pretrain: for each layer, an RBM on the previous layer's hidden
              probabilities (rbm.m: CD-1, ε = 0.1, weight cost 2·10⁻⁴,
              momentum 0.5 → 0.9 after 5 epochs, batches of 100, 50 epochs)
    fine-tune: 784-500-500-2000-10 logistic net with a softmax, the RBMs'
              weights and hidden biases as its first layers, the top layer
              0.1·N(0, 1); cross-entropy; the top layer alone for the first
              5 epochs, then all (backpropclassify.m, 200 epochs)

One deviation: backpropclassify.m minimises with conjugate gradients (3 line
searches on batches of 1000); here fine-tuning is Keras's SGD with momentum
(ε = 0.01, momentum 0.9, batches of 100), the update of the era's nets.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import layers, ops

from keras_history import validation
from keras_history.building import build_for
from keras_history.layers.rbm import RBM
from keras_history.models.convolutional.classifier import ImageClassifier
from keras_history.timeline import milestone
from keras_history.weights.loading import with_weights

__all__ = ["DeepBeliefNet", "deep_belief_net"]

HIDDEN_UNITS = (500, 500, 2000)
LEARNING_RATE, MOMENTUM = 0.01, 0.9  # our SGD fine-tuning (the paper: conjugate gradients)
TOP_LAYER_EPOCHS = 5  # backpropclassify.m: `if epoch<6`, the top layer alone
STEPS_PER_EPOCH = 600  # 60,000 digits in batches of 100; `fit` on arrays counts its own


@keras.saving.register_keras_serializable(package="keras_history")
class DeepBeliefNet(ImageClassifier):
    """A stack of logistic layers pretrained as RBMs, fine-tuned as a classifier. See
    `deep_belief_net()`.

    `pretrain(x)` trains one `RBM` per hidden layer, greedily, and copies its
    weights and hidden biases into the layer; `fit(x, y)` fine-tunes the
    whole net by backpropagation (softmax cross-entropy). After `pretrain`
    the top layer learns alone for the first `top_layer_epochs` epochs
    (`steps_per_epoch` steps each; `fit` on arrays counts them from the data
    and batch size), so that its random weights do not wreck the pretrained
    features; without pretraining there is nothing to keep and all layers
    learn from the start.
    """

    def __init__(self, input_shape: tuple[int, int, int] = (28, 28, 1), classes: int = 10,
                 hidden_units: tuple = HIDDEN_UNITS, top_layer_epochs: int = TOP_LAYER_EPOCHS,
                 steps_per_epoch: int = STEPS_PER_EPOCH, seed: int | None = None,
                 pretrained: bool = False, **kwargs):
        kwargs.pop("include_top", None)  # always a classifier
        super().__init__(input_shape, classes, True, **kwargs)
        self.hidden_units = tuple(int(u) for u in hidden_units)
        self.top_layer_epochs, self.steps_per_epoch = int(top_layer_epochs), int(steps_per_epoch)
        self.seed, self.pretrained = seed, bool(pretrained)

        def dense(units, activation, name, number, **options):
            # rbm.m and backpropclassify.m: weights 0.1·N(0, 1), biases 0.
            return layers.Dense(units, activation=activation, name=name, bias_initializer="zeros",
                                kernel_initializer=keras.initializers.RandomNormal(
                                    stddev=0.1, seed=None if seed is None else seed + number),
                                **options)

        self.feature_layers = [layers.Flatten(name="flatten")] + [
            dense(units, "sigmoid", f"hidden_{number}", number)
            for number, units in enumerate(self.hidden_units, start=1)]
        # float32 softmax, so a mixed-precision policy keeps an exact loss.
        self.top_layers = [dense(self.classes, "softmax", "predictions", 0, dtype="float32")]

    @property
    def hidden_layers(self) -> list[keras.layers.Dense]:
        return self.feature_layers[1:]

    def default_optimizer(self) -> keras.optimizers.Optimizer:
        return keras.optimizers.SGD(LEARNING_RATE, momentum=MOMENTUM)

    def pretrain(self, x, epochs: int = 50, batch_size: int = 100, verbose="auto",
                 **rbm_options) -> list[keras.callbacks.History]:
        """Greedy layer-wise pretraining: an RBM per hidden layer, each on the hidden
        probabilities of the one below (rbm.m's rule; `rbm_options` go to `RBM`).

        Returns each RBM's `History` (its `.model` is the trained RBM, visible
        biases included); the layers take the RBMs' weights and hidden biases.
        """
        validation.check_option("epochs", epochs, validation.is_integer(epochs) and epochs >= 1,
                                "an integer >= 1")
        validation.check_option("batch_size", batch_size,
                                validation.is_integer(batch_size) and batch_size >= 1,
                                "an integer >= 1")
        images, _ = self.check_data(x, None)
        data = images.reshape(len(images), -1)
        histories = []
        for number, layer in enumerate(self.hidden_layers, start=1):
            rbm = RBM(data.shape[1], layer.units, name=f"rbm_{number}",
                      seed=None if self.seed is None else self.seed + 100 * number,
                      **rbm_options)
            rbm.compile()
            histories.append(rbm.fit(data, batch_size=batch_size, epochs=epochs,
                                     verbose=verbose))
            # Copies: on JAX a shared buffer would be donated (deleted) by the next `fit`.
            layer.kernel.assign(ops.convert_to_numpy(rbm.kernel))
            layer.bias.assign(ops.convert_to_numpy(rbm.hidden_bias))
            self.pretrained, self.train_function = True, None  # `update` now masks
            data = ops.convert_to_numpy(
                rbm.predict(data, batch_size=1000, verbose=0)).astype("float32")
        return histories

    def update(self, grads: list) -> None:
        """SGD with momentum; after `pretrain`, for the first `top_layer_epochs` epochs the
        hidden layers keep their pretrained weights (their gradient is masked)."""
        if self.top_layer_epochs and self.pretrained:
            all_layers = ops.cast(
                self.optimizer.iterations >= self.top_layer_epochs * self.steps_per_epoch,
                "float32")
            top = {id(v) for layer in self.top_layers for v in layer.trainable_variables}
            grads = [g if id(v) in top else g * ops.cast(all_layers, g.dtype)
                     for g, v in zip(grads, self.trainable_variables)]
        super().update(grads)

    def _fit_checked(self, x, y, *args, **kwargs):
        if isinstance(x, np.ndarray) and not args and kwargs.get("steps_per_epoch") is None:
            steps = math.ceil(len(x) / (kwargs.get("batch_size") or 32))
            if steps != self.steps_per_epoch:  # the top-layer-alone phase counts these epochs
                self.steps_per_epoch, self.train_function = steps, None
        return super()._fit_checked(x, y, *args, **kwargs)

    def get_config(self) -> dict:
        config = super().get_config()
        config.pop("include_top")
        return {**config, "hidden_units": self.hidden_units,
                "top_layer_epochs": self.top_layer_epochs,
                "steps_per_epoch": self.steps_per_epoch, "seed": self.seed,
                "pretrained": self.pretrained}


@milestone("deep_belief_net")
def deep_belief_net(hidden_units: tuple = HIDDEN_UNITS, classes: int = 10,
                    input_shape: tuple[int, int, int] = (28, 28, 1),
                    learning_rate: float = LEARNING_RATE, momentum: float = MOMENTUM,
                    top_layer_epochs: int = TOP_LAYER_EPOCHS, seed: int | None = None,
                    weights: str | None = None,
                    compile: bool = True, name: str = "deep_belief_net") -> DeepBeliefNet:
    """The 784-500-500-2000-10 deep belief net of Hinton & Salakhutdinov (2006).

    Pretrain it greedily with `pretrain(x)` (an RBM per hidden layer, the
    Science paper's rbm.m), then fine-tune it as a classifier with `fit(x, y)`
    (backpropagation of softmax cross-entropy; SGD where the paper used
    conjugate gradients). `fit` without `pretrain` trains the same net from
    its random 0.1·N(0, 1) weights: the deep logistic net pretraining was
    invented to rescue.

    Example:

    ```python
    (x, y), (x_test, y_test) = keras_history.datasets.mnist.load_data()
    model = keras_history.models.deep_belief_net()
    model.pretrain(x, epochs=50, batch_size=100)   # rbm.m: 50 epochs per layer
    model.fit(x, y, batch_size=100, epochs=200)    # backpropclassify.m: 200 epochs
    model.evaluate(x_test, y_test)                 # the paper: about 1.2% errors
    ```

    Args:
        hidden_units: the sizes of the hidden layers (the paper: 500, 500, 2000).
        classes: the softmax's classes.
        input_shape: the images' shape (h, w, c); the net sees them flat.
        learning_rate, momentum: the fine-tuning SGD's (pretraining: rbm.m's own).
        top_layer_epochs: epochs of fine-tuning after `pretrain` that train the top
            layer alone (backpropclassify.m: 5; 0 trains all layers from the start).
        seed: seed of the initial weights and the RBMs' Gibbs sampling
            (None: Keras's global seed).
        weights: None (untrained), the name of a weight set shipped for it
            (`keras_history.weights.names("deep_belief_net")`), or the path of a
            `.weights.h5`/`.keras` file.
        compile: compile with SGD and the accuracy metric.
        name: the model's name.

    Returns:
        A built `DeepBeliefNet`.
    """
    is_count = validation.is_integer
    units_ok = (isinstance(hidden_units, (tuple, list)) and len(hidden_units) >= 1
                and all(is_count(u) and u >= 1 for u in hidden_units))
    dims = validation.check_image_shape(input_shape)
    validation.check_classes(classes)
    for option, value, ok, expected in (
        ("hidden_units", hidden_units, units_ok, "a non-empty tuple of integers >= 1"),
        ("learning_rate", learning_rate,
         validation.is_finite_number(learning_rate) and learning_rate > 0,
         "a positive, finite number"),
        ("momentum", momentum, validation.is_finite_number(momentum) and 0 <= momentum < 1,
         "in [0, 1)"),
        ("top_layer_epochs", top_layer_epochs, is_count(top_layer_epochs)
         and top_layer_epochs >= 0, "an integer >= 0"),
        ("compile", compile, isinstance(compile, bool), "True or False"),
    ):
        validation.check_option(option, value, ok, expected)
    validation.check_seed(seed)
    model = DeepBeliefNet(input_shape=dims, classes=classes, hidden_units=tuple(hidden_units),
                          top_layer_epochs=top_layer_epochs, seed=seed, name=name)
    build_for(model, model.image_shape)
    if compile:
        model.compile(optimizer=keras.optimizers.SGD(float(learning_rate),
                                                     momentum=float(momentum)))
    return with_weights(model, "deep_belief_net", weights)
