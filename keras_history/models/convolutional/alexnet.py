"""AlexNet (Krizhevsky, Sutskever & Hinton, 2012).

Alex Krizhevsky, Ilya Sutskever and Geoffrey Hinton (University of Toronto),
*ImageNet Classification with Deep Convolutional Neural Networks* (NIPS 2012),
won ILSVRC-2012 with 15.3% top-5 error against 26.2% for the runner-up, and
started the deep-learning era. What was new (Section 3): ReLUs instead of
tanh, training split across two GTX 580 GPUs, local response normalization,
overlapping pooling; and (Section 4) dropout and data augmentation.

The net (Section 3.5, Figure 2), 60,965,224 parameters ("60 million"):

    conv1 96 11×11 /4 → ReLU → LRN → max-pool 3/2
    conv2 256 5×5, 2 groups → ReLU → LRN → max-pool 3/2
    conv3 384 3×3 (across both GPUs) → conv4 384 3×3, 2 groups → conv5 256 3×3, 2 groups
    → max-pool 3/2 → fc6 4096 → dropout 0.5 → fc7 4096 → dropout 0.5 → fc8 1000 softmax

Each GPU held half the kernels of a layer and saw only its own half of the
previous layer's maps, except in conv3 and the fc layers: `TowerConv2D`
is Keras's `Conv2D(groups=2)` run as that split, one convolution per tower
(`groups=1` gives the one-tower net, 62,378,344 parameters). LRN with k = 2,
n = 5, α = 1e-4, β = 0.75. The input
is 227×227×3 (the paper's "224" does not give its 55×55 maps).

The rule (Section 5): SGD, batch 128, momentum 0.9, weight decay 0.0005,

    v ← 0.9·v − 0.0005·ε·w − ε·∂L/∂w,   w ← w + v

ε = 0.01, divided by 10 when the validation error stopped improving;
weights N(0, 0.01²), biases 1 in conv2, conv4, conv5 and fc6, fc7 (to give
the ReLUs positive inputs early), 0 elsewhere.
"""

from __future__ import annotations

import keras
from keras import layers

from keras_history import validation
from keras_history.layers import LocalResponseNormalization, TowerConv2D
from keras_history.models.convolutional.classifier import (
    MomentumClassifier,
    Schedule,
    check_options,
    finish,
)
from keras_history.timeline import milestone
from keras_history.weights.loading import with_weights

__all__ = ["AlexNet", "alexnet"]

MINIMUM_SIZE = 67  # the smallest input whose maps survive conv1 /4 and three 3/2 pools


@keras.saving.register_keras_serializable(package="keras_history")
class AlexNet(MomentumClassifier):
    """AlexNet with its SGD + momentum + weight-decay train step. See `alexnet()`."""

    def __init__(self, input_shape=(227, 227, 3), classes: int = 1000, groups: int = 2,
                 dropout_rate: float = 0.5, **kwargs):
        super().__init__(input_shape, classes, **kwargs)
        self.groups, self.dropout_rate = int(groups), float(dropout_rate)
        weights = keras.initializers.RandomNormal(stddev=0.01)

        def conv(filters, size, name, bias, strides=1, groups=1):
            return TowerConv2D(self.channels(filters, self.groups), size, strides=strides,
                                 padding="valid" if strides > 1 else "same", groups=groups,
                                 activation="relu", kernel_initializer=weights,
                                 bias_initializer=keras.initializers.Constant(bias), name=name)

        def lrn(name):
            return LocalResponseNormalization(depth_radius=2, bias=2.0, alpha=1e-4, beta=0.75,
                                              name=name)

        def pool(name):
            return layers.MaxPooling2D(3, strides=2, name=name)  # overlapping: z = 3, s = 2

        def dense(units, name, bias):
            return layers.Dense(self.channels(units), activation="relu", kernel_initializer=weights,
                                bias_initializer=keras.initializers.Constant(bias), name=name)

        split = self.groups
        self.feature_layers = [
            conv(96, 11, "conv1", 0.0, strides=4), lrn("lrn1"), pool("pool1"),
            conv(256, 5, "conv2", 1.0, groups=split), lrn("lrn2"), pool("pool2"),
            conv(384, 3, "conv3", 0.0),
            conv(384, 3, "conv4", 1.0, groups=split),
            conv(256, 3, "conv5", 1.0, groups=split), pool("pool5"),
        ]
        if self.include_top:
            self.top_layers = [
                layers.Flatten(name="flatten"),
                dense(4096, "fc6", 1.0), layers.Dropout(self.dropout_rate, name="dropout6"),
                dense(4096, "fc7", 1.0), layers.Dropout(self.dropout_rate, name="dropout7"),
                self.predictions(kernel_initializer=weights),
            ]
        else:
            self.top_layers = self.pooling_layers()

    def get_config(self) -> dict:
        return {**super().get_config(), "groups": self.groups, "dropout_rate": self.dropout_rate}


@milestone("alexnet")
def alexnet(include_top: bool = True, weights: str | None = None,
            input_shape: tuple[int, int, int] = (227, 227, 3), pooling: str | None = None,
            classes: int = 1000, classifier_activation: str | None = "softmax",
            groups: int = 2, dropout_rate: float = 0.5, learning_rate: float | Schedule = 0.01,
            weight_decay: float = 5e-4, width: float = 1.0, compile: bool = True,
            name: str = "alexnet") -> AlexNet:
    """AlexNet of Krizhevsky, Sutskever & Hinton, *ImageNet Classification with Deep
    Convolutional Neural Networks* (2012): the two-GPU net, 60,965,224 parameters.

    Trained by the paper's rule: SGD, momentum 0.9, weight decay 0.0005 in the
    update, ε = 0.01 divided by 10 when the validation error stops improving
    (add `resnet.divide_by_10_on_plateau()` to `fit`'s callbacks), batch 128.

    Images (N, h, w, c) of `input_shape`, at least 67×67 (28×28 MNIST-family
    images: resize them first, e.g. `keras.layers.Resizing(227, 227)`, as
    scripts/benchmark_d2l_gpu.py does); uint8 pixels are divided by 255.

    Args:
        include_top: with flatten, fc6, fc7 (dropout after each) and the classifier.
        weights: None (the paper's initialization), the name of a weight set shipped for it
            (`keras_history.weights.names("alexnet")`), or the path of a
            `.weights.h5`/`.keras` file.
        input_shape: (height, width, channels); the paper's is 227×227×3.
        pooling: with `include_top=False`: None, "avg" or "max".
        classes: number of classes.
        classifier_activation: "softmax", or None for logits.
        groups: 2: conv2, conv4 and conv5 split in two towers, as on the paper's
            two GPUs; 1: one tower (62,378,344 parameters).
        dropout_rate: dropout after fc6 and fc7 (the paper's 0.5).
        learning_rate: ε, a number or a Keras schedule.
        weight_decay: wd in v ← 0.9·v − wd·ε·w − ε·∂L/∂w.
        width: fraction of the paper's kernels and hidden units (1.0: the paper's net).
        compile: compile with SGD(ε, momentum=0.9) and accuracy.
        name: the model's name.
    """
    validation.check_option("groups", groups, groups in (1, 2) and validation.is_integer(groups),
                            "1 (one tower) or 2 (the paper's two GPUs)")
    check_options(input_shape, MINIMUM_SIZE, classes, include_top, pooling,
                  classifier_activation, learning_rate, weight_decay, width,
                  dropout_rate)
    model = AlexNet(tuple(input_shape), classes, groups=int(groups),
                    dropout_rate=float(dropout_rate), include_top=include_top, pooling=pooling,
                    classifier_activation=classifier_activation, weight_decay=weight_decay,
                    width=width, name=name)
    model = finish(model, learning_rate, compile)
    return with_weights(model, "alexnet", weights)
