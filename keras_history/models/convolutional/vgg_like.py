"""The Keras guide's "VGG-like convnet" (François Chollet, 2015; Keras 2 form, 2017).

When Keras first came out (March 2015) its documentation showed a handful of
models a user could copy; one was a "VGG-like convnet": the idea of Simonyan
and Zisserman's VGG (stacks of 3×3 convolutions, then pooling), shrunk to two
blocks. It stayed in the guide to the Sequential model through Keras 1 and 2;
the form reproduced here is the Keras 2 guide's (2017), for 100×100×3 images:

    conv 32 3×3 relu → conv 32 3×3 relu → max-pool 2 → dropout 0.25
    → conv 64 3×3 relu → conv 64 3×3 relu → max-pool 2 → dropout 0.25
    → flatten → dense 256 relu → dropout 0.5 → dense 10 softmax

("valid" convolutions, Keras's defaults: Glorot-uniform kernels, zero biases),
7,998,250 parameters at 100×100×3. (The 2015 original padded the first conv
of each block, 'full' borders, and used ε = 0.1.) The guide fits it on random
numbers, to show the API: it reports no accuracy. It is measured here on
Fashion-MNIST beside d2l's VGG (docs/milestones/vgg-like.md).

The rule: backpropagation with the guide's optimizer,
`SGD(lr=0.01, decay=1e-6, momentum=0.9, nesterov=True)` on categorical
cross-entropy, batch 32. Keras 3's SGD has no `decay=`: Keras 2 lowered the
step before each update t = 0, 1, 2, ... to

    ε_t = ε / (1 + decay·t)

which is `keras.optimizers.schedules.InverseTimeDecay(ε, decay_steps=1,
decay_rate=decay)` (`keras2_decay` below). With Nesterov momentum μ = 0.9:
v ← μ·v − ε_t·∂L/∂w, w ← w + μ·v − ε_t·∂L/∂w, Keras 2's update and Keras 3's.
The train step is the shared one (`MomentumClassifier`, with no weight decay).

Inputs: those of the other convnets (`ImageClassifier`): images (N, h, w, c)
of `input_shape` ((N, h, w) and flat (N, h·w·c) too where c = 1), uint8 grey
levels divided by 255, float pixels in [0, 1] (0..255 floats are refused),
class ids or one-hot labels.
"""

from __future__ import annotations

import keras
from keras import layers

from keras_history import validation
from keras_history.models.convolutional.classifier import (
    MomentumClassifier,
    Schedule,
    check_options,
    finish,
)
from keras_history.timeline import milestone
from keras_history.weights.loading import with_weights

__all__ = ["VGGLike", "vgg_like"]

GUIDE_LEARNING_RATE, GUIDE_DECAY, GUIDE_MOMENTUM = 0.01, 1e-6, 0.9
GUIDE_BATCH_SIZE, GUIDE_EPOCHS = 32, 10
MINIMUM_SIZE = 16  # two 3×3 valid convolutions and a 2×2 pool, twice, leave 1×1


def keras2_decay(learning_rate: float = GUIDE_LEARNING_RATE,
                 decay: float = GUIDE_DECAY) -> Schedule:
    """Keras 2's `SGD(lr, decay=...)` step, ε_t = lr / (1 + decay·t) at update t = 0, 1, ...

    Keras 2 computed it from the optimizer's update count before the update,
    as a Keras 3 schedule is called: `InverseTimeDecay(lr, 1, decay)`.
    """
    return keras.optimizers.schedules.InverseTimeDecay(
        float(learning_rate), decay_steps=1, decay_rate=float(decay))


@keras.saving.register_keras_serializable(package="keras_history")
class VGGLike(MomentumClassifier):
    """The guide's VGG-like convnet with its Nesterov SGD train step. See `vgg_like()`."""

    def __init__(self, input_shape=(100, 100, 3), classes: int = 10, dropout_rate: float = 0.5,
                 conv_dropout_rate: float = 0.25, **kwargs):
        kwargs.setdefault("weight_decay", 0.0)  # the guide has none
        super().__init__(input_shape, classes, **kwargs)
        self.dropout_rate = float(dropout_rate)
        self.conv_dropout_rate = float(conv_dropout_rate)
        self.feature_layers = []
        for block, filters in enumerate((32, 64), start=1):
            self.feature_layers += [
                layers.Conv2D(filters, 3, activation="relu", name=f"block{block}_conv{conv}")
                for conv in (1, 2)]
            self.feature_layers += [
                layers.MaxPooling2D(2, name=f"block{block}_pool"),
                layers.Dropout(self.conv_dropout_rate, name=f"block{block}_dropout")]
        if self.include_top:
            self.top_layers = [
                layers.Flatten(name="flatten"),
                layers.Dense(256, activation="relu", name="fc"),
                layers.Dropout(self.dropout_rate, name="fc_dropout"),
                self.predictions(),
            ]
        else:
            self.top_layers = self.pooling_layers()

    def default_optimizer(self) -> keras.optimizers.Optimizer:
        """The guide's `SGD(lr=0.01, decay=1e-6, momentum=0.9, nesterov=True)`."""
        return keras.optimizers.SGD(keras2_decay(), momentum=GUIDE_MOMENTUM, nesterov=True)

    def get_config(self) -> dict:
        return {**super().get_config(), "dropout_rate": self.dropout_rate,
                "conv_dropout_rate": self.conv_dropout_rate}


@milestone("vgg_like")
def vgg_like(include_top: bool = True, weights: str | None = None,
             input_shape: tuple[int, int, int] = (100, 100, 3), pooling: str | None = None,
             classes: int = 10, classifier_activation: str | None = "softmax",
             dropout_rate: float = 0.5, conv_dropout_rate: float = 0.25,
             learning_rate: float | Schedule = GUIDE_LEARNING_RATE, decay: float = GUIDE_DECAY,
             compile: bool = True, name: str = "vgg_like") -> VGGLike:
    """The Keras guide's VGG-like convnet: 7,998,250 parameters at 100×100×3, 10 classes.

    Two blocks of two 3×3 "valid" ReLU convolutions, 2×2 max-pooling and
    dropout 0.25, then dense 256 ReLU, dropout 0.5 and a softmax; trained as
    the guide compiles it: SGD, ε = 0.01 decayed as ε/(1 + 1e-6·t) (Keras 2's
    `decay=`, here `keras2_decay`), Nesterov momentum 0.9, categorical
    cross-entropy; the guide fits batches of 32 (`fit`'s default) for 10 epochs.

    Example (Fashion-MNIST, as docs/milestones/vgg-like.md measures it):

    ```python
    (x, y), (x_test, y_test) = keras_history.datasets.fashion_mnist.load_data(
        "data/fashion_mnist")  # a folder with its four IDX files
    model = keras_history.models.vgg_like(input_shape=(28, 28, 1))
    model.fit(x, y, epochs=3)                  # uint8 (N, 28, 28) is fine
    model.evaluate(x_test, y_test)
    ```

    Args:
        include_top: with flatten, fc 256, dropout and the classifier.
        weights: None (Glorot-uniform initialization), the name of a weight set shipped for it
            (`keras_history.weights.names("vgg_like")`), or the path of a
            `.weights.h5`/`.keras` file.
        input_shape: (height, width, channels), at least 16×16; the guide's is 100×100×3.
        pooling: with `include_top=False`: None (feature maps), "avg" or "max".
        classes: number of classes.
        classifier_activation: "softmax", or None for logits.
        dropout_rate: dropout after fc 256 (the guide's 0.5).
        conv_dropout_rate: dropout after each conv block's pooling (the guide's 0.25).
        learning_rate: ε, a number (decayed by `decay`) or a Keras schedule (used as given,
            with `decay=0`).
        decay: Keras 2's `decay`: ε_t = ε / (1 + decay·t) at update t.
        compile: compile with the guide's SGD and accuracy.
        name: the model's name.

    Returns:
        A `VGGLike` model, built.
    """
    check_options(input_shape, MINIMUM_SIZE, classes, include_top, pooling,
                  classifier_activation, learning_rate, 0.0, 1.0, dropout_rate)
    validation.check_option("conv_dropout_rate", conv_dropout_rate,
                            validation.is_finite_number(conv_dropout_rate)
                            and 0 <= conv_dropout_rate < 1, "in [0, 1)")
    validation.check_option("decay", decay, validation.is_finite_number(decay) and decay >= 0,
                            "a finite number >= 0")
    if isinstance(learning_rate, Schedule):
        validation.check_option(
            "decay", decay, decay == 0,
            "0 when `learning_rate` is a schedule (Keras 2's decay applies to a number)")
    elif decay:
        learning_rate = keras2_decay(learning_rate, decay)
    model = VGGLike(tuple(input_shape), classes, dropout_rate=float(dropout_rate),
                    conv_dropout_rate=float(conv_dropout_rate), include_top=include_top,
                    pooling=pooling, classifier_activation=classifier_activation, name=name)
    model = finish(model, learning_rate, compile, momentum=GUIDE_MOMENTUM, nesterov=True)
    return with_weights(model, "vgg_like", weights)
