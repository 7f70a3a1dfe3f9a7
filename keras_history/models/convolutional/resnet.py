"""Deep residual networks (He, Zhang, Ren & Sun, 2015).

Kaiming He, Xiangyu Zhang, Shaoqing Ren and Jian Sun (Microsoft Research),
*Deep Residual Learning for Image Recognition* (arXiv 1512.03385, CVPR 2016),
won ImageNet 2015 with nets of 152 layers. Plain nets that deep train worse
than shallow ones; a residual block learns F(x) and outputs F(x) + x, so an
identity is easy, and depth helps again. Batch normalization follows every
convolution; no dropout.

- `resnet50()`: the 50-layer ImageNet net of Table 1, three-layer
  "bottleneck" blocks (1×1, 3×3, 1×1) with projection shortcuts where the shape
  changes, 25,636,712 parameters; layer for layer `keras.applications.ResNet50`
  (which, like Caffe's release, strides the first 1×1 of a block and keeps
  conv biases).
- `resnet(depth)`: the CIFAR-10 nets of Section 4.2, 6n + 2
  layers in three stages of 16, 32 and 64 filters, two-layer blocks, identity
  shortcuts padded with zeros where the width doubles (option A, no extra
  parameters): depth 20, 32, 44, 56, 110 → 0.27, 0.46, 0.66, 0.85, 1.7 M
  parameters.

The rule (Section 3.4 and 4.2): SGD, momentum 0.9, weight decay 0.0001
(`MomentumClassifier.update`). ImageNet: batch 256, ε = 0.1 divided by 10 when
the error plateaus (`divide_by_10_on_plateau()`). CIFAR: batch 128, ε = 0.1,
÷10 at 32k and 48k iterations, stop at 64k (`cifar_learning_rate()`), with
4-pixel padding, random 32×32 crops and horizontal flips
(`augment="pad_crop_flip"`). Weights as in He et al. 2015 ("He normal").
"""

from __future__ import annotations

import keras
from keras import layers, ops

from keras_history import validation
from keras_history.layers import PadCropFlip
from keras_history.models.convolutional.classifier import (
    MomentumClassifier,
    Schedule,
    check_options,
    finish,
)
from keras_history.timeline import milestone
from keras_history.weights.loading import with_weights

__all__ = ["CIFARResNet", "ResNet50", "resnet", "resnet50"]

CIFAR_DEPTHS = (20, 32, 44, 56, 110)
CIFAR_ITERATIONS = 64_000  # the paper's whole CIFAR run; ÷10 at 32k and 48k
AUGMENTATIONS = (None, "pad_crop", "pad_crop_flip")
EPSILON = 1.001e-5  # keras.applications' batch-norm epsilon


def cifar_learning_rate(total_steps: int = CIFAR_ITERATIONS,
                        start: float = 0.1) -> keras.optimizers.schedules.PiecewiseConstantDecay:
    """ε = `start`, divided by 10 at half and at three quarters of `total_steps`.

    With the default 64,000 steps: 0.1, then 0.01 from step 32,000 and 0.001
    from step 48,000, the paper's CIFAR schedule. Shorter runs keep its shape.
    """
    validation.check_option("total_steps", total_steps,
                            validation.is_integer(total_steps) and total_steps >= 4,
                            "an integer >= 4")
    return keras.optimizers.schedules.PiecewiseConstantDecay(
        [total_steps // 2, total_steps * 3 // 4], [start, start / 10, start / 100])


def _conv(filters: int, kernel: int, stride: int, name: str, bias: bool,
          padding: str = "same") -> layers.Conv2D:
    return layers.Conv2D(filters, kernel, strides=stride, padding=padding, use_bias=bias,
                         kernel_initializer="he_normal", name=name)


def _batch_norm(name: str, momentum: float) -> layers.BatchNormalization:
    return layers.BatchNormalization(epsilon=EPSILON, momentum=momentum, name=name)


@keras.saving.register_keras_serializable(package="keras_history")
class ResidualBlock(keras.layers.Layer):
    """What both blocks share: a `residual` stack of layers, added to a shortcut."""

    def residual_of(self, x, training: bool):
        for layer in self.residual:
            x = layer(x, training=training)
        return x

    def compute_output_shape(self, input_shape):
        for layer in self.residual:
            input_shape = layer.compute_output_shape(input_shape)
        return input_shape


class Bottleneck(ResidualBlock):
    """1×1 (stride s) → 3×3 → 1×1 ×4, each batch-normalized; projection shortcut if asked.

    Sublayers are named as in `keras.applications.ResNet50` (`conv2_block1_1_conv`, ...).
    """

    def __init__(self, filters: int, stride: int = 1, projection: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.stride, self.projection = filters, stride, projection
        name = self.name
        shortcut = [_conv(4 * filters, 1, stride, f"{name}_0_conv", True),
                    _batch_norm(f"{name}_0_bn", 0.99)] if projection else []
        residual = [
            _conv(filters, 1, stride, f"{name}_1_conv", True), _batch_norm(f"{name}_1_bn", 0.99),
            layers.Activation("relu", name=f"{name}_1_relu"),
            _conv(filters, 3, 1, f"{name}_2_conv", True), _batch_norm(f"{name}_2_bn", 0.99),
            layers.Activation("relu", name=f"{name}_2_relu"),
            _conv(4 * filters, 1, 1, f"{name}_3_conv", True), _batch_norm(f"{name}_3_bn", 0.99),
        ]
        # `weights` lists sublayers in the order they were first tracked (added to these
        # lists). keras.applications.ResNet50's graph order puts the projection between the
        # residual's last layers, 1_conv ... 2_bn, 0_conv, 3_conv, 0_bn, 3_bn: tracked in that
        # order, its `get_weights()` fits our `set_weights()`. Each list keeps its own order,
        # so `.weights.h5` files (saved by list and position) are unchanged.
        self.residual, self.shortcut = residual[:6], shortcut[:1]
        self.residual.append(residual[6])
        self.shortcut.extend(shortcut[1:])
        self.residual.append(residual[7])

    def build(self, input_shape):
        for path in (self.shortcut, self.residual):
            shape = tuple(input_shape)
            for layer in path:
                layer.build(shape)
                shape = layer.compute_output_shape(shape)

    def call(self, x, training: bool = False):
        shortcut = x
        for layer in self.shortcut:
            shortcut = layer(shortcut, training=training)
        return ops.relu(shortcut + self.residual_of(x, training))

    def get_config(self) -> dict:
        return {**super().get_config(), "filters": self.filters, "stride": self.stride,
                "projection": self.projection}


@keras.saving.register_keras_serializable(package="keras_history")
class BasicBlock(ResidualBlock):
    """3×3 (stride s) → BN → ReLU → 3×3 → BN, plus x; ReLU. The CIFAR nets' block.

    Where the block halves the map and widens it, the shortcut takes every
    other pixel and pads the new channels with zeros (the paper's option A).
    """

    def __init__(self, filters: int, stride: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.stride = filters, stride
        name = self.name
        self.residual = [
            _conv(filters, 3, stride, f"{name}_1_conv", False), _batch_norm(f"{name}_1_bn", 0.9),
            layers.Activation("relu", name=f"{name}_1_relu"),
            _conv(filters, 3, 1, f"{name}_2_conv", False), _batch_norm(f"{name}_2_bn", 0.9),
        ]

    def build(self, input_shape):
        shape = tuple(input_shape)
        for layer in self.residual:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)

    def call(self, x, training: bool = False):
        residual = self.residual_of(x, training)
        shortcut = x[:, :: self.stride, :: self.stride, :] if self.stride > 1 else x
        extra = self.filters - x.shape[-1]
        if extra:
            shortcut = ops.pad(shortcut, [[0, 0], [0, 0], [0, 0], [0, extra]])
        return ops.relu(shortcut + residual)

    def get_config(self) -> dict:
        return {**super().get_config(), "filters": self.filters, "stride": self.stride}


@keras.saving.register_keras_serializable(package="keras_history")
class ResNet50(MomentumClassifier):
    """The 50-layer ImageNet ResNet, trained by momentum SGD with weight decay. See `resnet50()`."""

    paper_learning_rate = 0.1

    STAGES = ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2))  # filters, blocks, stride

    def __init__(self, input_shape=(224, 224, 3), classes: int = 1000, **kwargs):
        kwargs.setdefault("weight_decay", 1e-4)
        super().__init__(input_shape, classes, **kwargs)
        self.feature_layers = [
            layers.ZeroPadding2D(3, name="conv1_pad"),
            _conv(self.channels(64), 7, 2, "conv1_conv", True, padding="valid"),
            _batch_norm("conv1_bn", 0.99),
            layers.Activation("relu", name="conv1_relu"),
            layers.ZeroPadding2D(1, name="pool1_pad"),
            layers.MaxPooling2D(3, strides=2, name="pool1_pool"),
        ]
        for stage, (filters, blocks, stride) in enumerate(self.STAGES, start=2):
            for block in range(1, blocks + 1):
                self.feature_layers.append(Bottleneck(
                    self.channels(filters), stride if block == 1 else 1, projection=block == 1,
                    name=f"conv{stage}_block{block}"))
        self.top_layers = ([layers.GlobalAveragePooling2D(name="avg_pool"), self.predictions()]
                           if self.include_top else self.pooling_layers())


@keras.saving.register_keras_serializable(package="keras_history")
class CIFARResNet(MomentumClassifier):
    """A 6n+2-layer CIFAR ResNet, trained by SGD with momentum and weight decay. See `resnet()`."""

    def default_optimizer(self) -> keras.optimizers.Optimizer:
        """The paper's CIFAR schedule: 0.1, divided by 10 at 32k and 48k iterations."""
        return keras.optimizers.SGD(cifar_learning_rate(), momentum=0.9)

    def __init__(self, input_shape=(32, 32, 3), classes: int = 10, depth: int = 20,
                 augment: str | None = None, **kwargs):
        kwargs.setdefault("weight_decay", 1e-4)
        super().__init__(input_shape, classes, **kwargs)
        self.depth, self.augment = int(depth), augment
        blocks = (self.depth - 2) // 6
        self.feature_layers = [PadCropFlip(4, flip=augment == "pad_crop_flip", name="augment")
                               ] if augment else []
        self.feature_layers += [
            _conv(self.channels(16), 3, 1, "conv1_conv", False), _batch_norm("conv1_bn", 0.9),
            layers.Activation("relu", name="conv1_relu"),
        ]
        for stage, filters in enumerate((16, 32, 64), start=2):
            for block in range(1, blocks + 1):
                self.feature_layers.append(BasicBlock(
                    self.channels(filters), 2 if block == 1 and stage > 2 else 1,
                    name=f"conv{stage}_block{block}"))
        self.top_layers = ([layers.GlobalAveragePooling2D(name="avg_pool"), self.predictions()]
                           if self.include_top else self.pooling_layers())

    def get_config(self) -> dict:
        return {**super().get_config(), "depth": self.depth, "augment": self.augment}


def divide_by_10_on_plateau(monitor: str = "val_accuracy",
                            patience: int = 5) -> keras.callbacks.ReduceLROnPlateau:
    """ε ÷ 10 when `monitor` stops improving for `patience` epochs (AlexNet, VGG, ResNet)."""
    return keras.callbacks.ReduceLROnPlateau(monitor=monitor, factor=0.1, patience=patience,
                                             mode="max" if "acc" in monitor else "min")


@milestone("resnet50")
def resnet50(include_top: bool = True, weights: str | None = None,
             input_shape: tuple[int, int, int] = (224, 224, 3), pooling: str | None = None,
             classes: int = 1000, classifier_activation: str | None = "softmax",
             learning_rate: float | Schedule = 0.1, weight_decay: float = 1e-4,
             width: float = 1.0, compile: bool = True, name: str = "resnet50") -> ResNet50:
    """ResNet-50 of He et al., *Deep Residual Learning for Image Recognition* (2015), Table 1.

    Layer for layer `keras.applications.ResNet50`, in the same `get_weights()`
    order (its weights set across give its outputs), 25,636,712 parameters with
    the top, trained by the paper's rule: SGD, momentum 0.9, weight decay
    0.0001, ε = 0.1 divided by 10 when the error plateaus (add
    `divide_by_10_on_plateau()` to `fit`'s callbacks), batch 256.

    Images (N, h, w, c) of `input_shape`, at least 32×32; uint8 pixels are
    divided by 255, floats used as given. Labels: class ids or one-hot rows.

    Args:
        include_top: with the average pool and the `classes`-way classifier.
        weights: None (He-normal initialization); "imagenet": keras.applications'
            published ImageNet weights (with the top: 1000 classes), taken from Keras's
            cache (~/.keras/models/) or downloaded there once, which expect
            `keras.applications.resnet50.preprocess_input(images)` (BGR, mean pixel
            subtracted, 0..255), not pixels ÷ 255: call the model or `predict_on_batch`
            (`predict` wants floats in [0, 1]); or the path of a `.weights.h5`/`.keras`
            file, ours or keras.applications'.
        input_shape: (height, width, channels), at least 32×32.
        pooling: with `include_top=False`: None, "avg" or "max".
        classes: number of classes.
        classifier_activation: "softmax", or None for logits.
        learning_rate: ε, a number or a Keras schedule.
        weight_decay: wd in v ← 0.9·v − wd·ε·w − ε·∂L/∂w.
        width: fraction of the paper's channels (1.0: the paper's net; smaller
            for quick experiments on small machines).
        compile: compile with SGD(ε, momentum=0.9) and accuracy.
        name: the model's name.
    """
    check_options(input_shape, 32, classes, include_top, pooling, classifier_activation,
                  learning_rate, weight_decay, width)
    model = ResNet50(tuple(input_shape), classes, include_top=include_top, pooling=pooling,
                     classifier_activation=classifier_activation, weight_decay=weight_decay,
                     width=width, name=name)
    model = finish(model, learning_rate, compile)
    return with_weights(model, "resnet50", weights)


@milestone("resnet")
def resnet(depth: int = 20, include_top: bool = True, weights: str | None = None,
           input_shape: tuple[int, int, int] = (32, 32, 3), pooling: str | None = None,
           classes: int = 10, classifier_activation: str | None = "softmax",
           augment: str | None = None, learning_rate: float | Schedule | None = None,
           weight_decay: float = 1e-4, compile: bool = True, name: str = "resnet"
           ) -> CIFARResNet:
    """The CIFAR-10 ResNets of He et al. (2015), Section 4.2: 6n + 2 layers.

    A 3×3 conv of 16 filters, then three stages of n two-layer residual
    blocks with 16, 32 and 64 filters (the map halved at each new stage),
    global average pooling and a `classes`-way softmax. depth = 6n + 2: 20,
    32, 44, 56 or 110 in the paper (0.27 M to 1.7 M parameters); any 6n + 2
    works. Trained by SGD, momentum 0.9, weight decay 0.0001, batch 128, ε =
    0.1 ÷ 10 at 32k and 48k iterations, stopping at 64k.

    Images (N, h, w, c) of `input_shape`: 32×32×3 for CIFAR, 28×28×1 for the
    MNIST family (uint8 (N, 28, 28) is fine; no resizing is needed), any
    size from 4×4. uint8 pixels are divided by 255.

    Example (Fashion-MNIST, scripts/benchmark_resnet_fashion_mnist.py):

    ```python
    model = keras_history.models.resnet(20, input_shape=(28, 28, 1),
                                        learning_rate=cifar_learning_rate(10 * 469))
    model.fit(x, y, batch_size=128, epochs=10)      # x: uint8 (N, 28, 28)
    ```

    Args:
        depth: 6n + 2 layers (20, 32, 44, 56, 110 in the paper).
        include_top: with the average pool and the `classes`-way classifier.
        weights: None (He-normal initialization), the name of a weight set shipped for it
            (`keras_history.weights.names("resnet")`), or the path of a
            `.weights.h5`/`.keras` file.
        input_shape: (height, width, channels), at least 4×4.
        pooling: with `include_top=False`: None, "avg" or "max".
        classes: number of classes.
        classifier_activation: "softmax", or None for logits.
        augment: None; "pad_crop" (4-pixel zero pad, random crop back); or
            "pad_crop_flip" (also a random horizontal flip: the paper's, for
            data where mirror images are still the same class). Training only.
        learning_rate: ε, a number or a Keras schedule; None: the paper's
            `cifar_learning_rate()` (0.1, ÷10 at 32k and 48k steps).
        weight_decay: wd in v ← 0.9·v − wd·ε·w − ε·∂L/∂w.
        compile: compile with SGD(ε, momentum=0.9) and accuracy.
        name: the model's name.
    """
    validation.check_option("depth", depth, validation.is_integer(depth) and depth >= 8
                            and (depth - 2) % 6 == 0, "6n + 2 for an integer n >= 1 "
                            f"(the paper's: {', '.join(map(str, CIFAR_DEPTHS))})")
    validation.check_option("augment", augment, augment in AUGMENTATIONS,
                            'None, "pad_crop" or "pad_crop_flip"')
    if learning_rate is None:
        learning_rate = cifar_learning_rate()
    check_options(input_shape, 4, classes, include_top, pooling, classifier_activation,
                  learning_rate, weight_decay, 1.0)
    model = CIFARResNet(tuple(input_shape), classes, depth=int(depth), augment=augment,
                        include_top=include_top, pooling=pooling,
                        classifier_activation=classifier_activation, weight_decay=weight_decay,
                        name=name)
    model = finish(model, learning_rate, compile)
    return with_weights(model, "resnet", weights)
