"""VGG16 (Simonyan & Zisserman, 2014).

Karen Simonyan and Andrew Zisserman (Visual Geometry Group, Oxford), *Very Deep
Convolutional Networks for Large-Scale Image Recognition* (arXiv 1409.1556,
ICLR 2015), second in ILSVRC-2014 classification and first in localization.
Their point: depth, with nothing but 3×3 convolutions (two 3×3 layers see
what one 5×5 sees, with fewer weights and one more ReLU). Configuration D of
Table 1, 16 weight layers, 138,357,544 parameters:

    [conv3-64]×2, pool, [conv3-128]×2, pool, [conv3-256]×3, pool,
    [conv3-512]×3, pool, [conv3-512]×3, pool, fc 4096, fc 4096, fc 1000 softmax

(3×3 convolutions with stride 1 and padding 1, ReLU; 2×2 max-pools with
stride 2). Layer for layer `keras.applications.VGG16`, with the paper's
dropout added after the first two fc layers (inference is the same).

The rule (Section 3.1): SGD, batch 256, momentum 0.9, weight decay 0.0005 in
the update (Krizhevsky et al.'s), dropout 0.5 on fc6 and fc7, ε = 0.01
divided by 10 when the validation accuracy stopped improving (three times in
74 epochs). The paper initialized D from a trained shallower net and notes
that Glorot & Bengio's random initialization works as well: that is used here.
"""

from __future__ import annotations

import keras
from keras import layers

from keras_history.models.convolutional.classifier import (
    MomentumClassifier,
    Schedule,
    check_options,
    finish,
)
from keras_history.timeline import milestone
from keras_history.weights.loading import with_weights

__all__ = ["VGG16", "vgg16"]

CONFIGURATION_D = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))  # (filters, convs) per block
MINIMUM_SIZE = 32  # five 2×2 pools


@keras.saving.register_keras_serializable(package="keras_history")
class VGG16(MomentumClassifier):
    """VGG16 (configuration D) with its SGD + momentum + weight-decay train step. See `vgg16()`."""

    def __init__(self, input_shape=(224, 224, 3), classes: int = 1000, dropout_rate: float = 0.5,
                 **kwargs):
        super().__init__(input_shape, classes, **kwargs)
        self.dropout_rate = float(dropout_rate)
        self.feature_layers = []
        for block, (filters, convs) in enumerate(CONFIGURATION_D, start=1):
            self.feature_layers += [
                layers.Conv2D(self.channels(filters), 3, padding="same", activation="relu",
                              name=f"block{block}_conv{conv}") for conv in range(1, convs + 1)]
            self.feature_layers.append(layers.MaxPooling2D(2, strides=2, name=f"block{block}_pool"))
        if self.include_top:
            self.top_layers = [
                layers.Flatten(name="flatten"),
                layers.Dense(self.channels(4096), activation="relu", name="fc1"),
                layers.Dropout(self.dropout_rate, name="dropout1"),
                layers.Dense(self.channels(4096), activation="relu", name="fc2"),
                layers.Dropout(self.dropout_rate, name="dropout2"),
                self.predictions(),
            ]
        else:
            self.top_layers = self.pooling_layers()

    def get_config(self) -> dict:
        return {**super().get_config(), "dropout_rate": self.dropout_rate}


@milestone("vgg16")
def vgg16(include_top: bool = True, weights: str | None = None,
          input_shape: tuple[int, int, int] = (224, 224, 3), pooling: str | None = None,
          classes: int = 1000, classifier_activation: str | None = "softmax",
          dropout_rate: float = 0.5, learning_rate: float | Schedule = 0.01,
          weight_decay: float = 5e-4, width: float = 1.0, compile: bool = True,
          name: str = "vgg16") -> VGG16:
    """VGG16, configuration D of Simonyan & Zisserman, *Very Deep Convolutional Networks for
    Large-Scale Image Recognition* (2014): 138,357,544 parameters (14,714,688 without the top).

    Layer for layer `keras.applications.VGG16`, in the same `get_weights()` order
    (its weights set across give its outputs); trained by the paper's rule:
    SGD, momentum 0.9, weight decay 0.0005 in the update, dropout 0.5 on the
    first two fc layers, ε = 0.01 divided by 10 when the validation accuracy
    stops improving (add `resnet.divide_by_10_on_plateau()` to `fit`'s
    callbacks), batch 256.

    Images (N, h, w, c) of `input_shape`, at least 32×32 (28×28 MNIST-family
    images: resize or pad them first); uint8 pixels are divided by 255.

    Args:
        include_top: with flatten, fc1, fc2 (dropout after each) and the classifier.
        weights: None (Glorot-uniform initialization); "imagenet": keras.applications'
            published ImageNet weights (with the top: 224×224×3, 1000 classes), taken
            from Keras's cache (~/.keras/models/) or downloaded there once, which expect
            `keras.applications.vgg16.preprocess_input(images)` (BGR, mean pixel
            subtracted, 0..255), not pixels ÷ 255: call the model or `predict_on_batch`
            (`predict` wants floats in [0, 1]); or the path of a `.weights.h5`/`.keras`
            file, ours or keras.applications'.
        input_shape: (height, width, channels); the paper's is 224×224×3.
        pooling: with `include_top=False`: None, "avg" or "max".
        classes: number of classes.
        classifier_activation: "softmax", or None for logits.
        dropout_rate: dropout after fc1 and fc2 (the paper's 0.5).
        learning_rate: ε, a number or a Keras schedule.
        weight_decay: wd in v ← 0.9·v − wd·ε·w − ε·∂L/∂w.
        width: fraction of the paper's channels and hidden units (1.0: the
            paper's net; d2l's "VGG-11/4" idea of a quarter for small machines).
        compile: compile with SGD(ε, momentum=0.9) and accuracy.
        name: the model's name.
    """
    check_options(input_shape, MINIMUM_SIZE, classes, include_top, pooling,
                  classifier_activation, learning_rate, weight_decay, width,
                  dropout_rate)
    model = VGG16(tuple(input_shape), classes, dropout_rate=float(dropout_rate),
                  include_top=include_top, pooling=pooling,
                  classifier_activation=classifier_activation, weight_decay=weight_decay,
                  width=width, name=name)
    model = finish(model, learning_rate, compile)
    return with_weights(model, "vgg16", weights)
