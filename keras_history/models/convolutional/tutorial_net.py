"""PyTorch's 60-minute-blitz CIFAR-10 net (Soumith Chintala, 2017).

"Deep Learning with PyTorch: A 60 Minute Blitz", written by Soumith Chintala
for PyTorch's first public release (January 2017), ends with "Training a
classifier": a LeNet-shaped net for CIFAR-10's 32×32 colour images,

    conv 6@5×5 → ReLU → max-pool 2 → conv 16@5×5 → ReLU → max-pool 2
    → flatten → fc 120 ReLU → fc 84 ReLU → fc 10 (logits)

62,006 parameters, trained by backpropagation with `optim.SGD(lr=0.001,
momentum=0.9)` on `nn.CrossEntropyLoss()` (softmax cross-entropy of the
logits), batches of 4, 2 epochs, on images normalized to [-1, 1]
(`transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))`). The tutorial's
output: "Accuracy of the network on the 10000 test images: 54 %".

Here the net is a Keras model on every backend. The normalization is its first
layer (x ↦ 2x − 1), so it takes the project's [0, 1] or uint8 images, and the
weights start as PyTorch's defaults do (`nn.Conv2d`/`nn.Linear`: kernels
Kaiming-uniform with a = √5, i.e. U(±1/√fan_in), biases U(±1/√fan_in)).
`to_state_dict()` and `tutorial_net_from_state_dict()` move its weights to and
from the tutorial's `Net` (its `state_dict()`): kernels are transposed
(PyTorch's convolutions are (out, in, kh, kw), its Linear weights (out, in)),
and fc1's rows are reordered, because `torch.flatten(x, 1)` flattens NCHW
maps channel first and Keras's `Flatten` flattens NHWC maps channel last.

The rule: the shared backpropagation step (`MomentumClassifier`, no weight
decay) with the tutorial's `SGD(0.001, momentum=0.9)`; PyTorch's momentum
v ← μ·v + g, w ← w − ε·v is Keras's v ← μ·v − ε·g, w ← w + v at a constant ε.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict

import keras
import numpy as np
from keras import layers

from keras_history import saving
from keras_history.models.convolutional.classifier import (
    MomentumClassifier,
    Schedule,
    check_options,
    finish,
)
from keras_history.timeline import milestone
from keras_history.weights.loading import with_weights

__all__ = ["TutorialNet", "tutorial_net", "tutorial_net_from_state_dict"]

TUTORIAL_LEARNING_RATE, TUTORIAL_MOMENTUM = 0.001, 0.9
TUTORIAL_BATCH_SIZE, TUTORIAL_EPOCHS = 4, 2
TUTORIAL_ACCURACY = 0.54  # CIFAR-10 test images, after 2 epochs (the tutorial's "54 %")
MINIMUM_SIZE = 16  # two 5×5 valid convolutions and two 2×2 pools leave 1×1


def _uniform(fan_in: int) -> keras.initializers.Initializer:
    """PyTorch's default bias initialization: U(±1/√fan_in)."""
    bound = 1.0 / np.sqrt(fan_in)
    return keras.initializers.RandomUniform(-bound, bound)


def _torch_kernel() -> keras.initializers.Initializer:
    """PyTorch's default weights, `kaiming_uniform_(a=√5)`: U(±1/√fan_in)."""
    return keras.initializers.VarianceScaling(1 / 3, mode="fan_in", distribution="uniform")


def _numpy(value) -> np.ndarray:
    """A torch tensor (any device) or array as a float32 NumPy array."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype="float32")


@keras.saving.register_keras_serializable(package="keras_history")
class TutorialNet(MomentumClassifier):
    """The 60-minute blitz's CIFAR-10 net with its SGD + momentum step. See `tutorial_net()`.

    The layers are named as the tutorial's `Net` attributes (conv1, conv2,
    fc1, fc2, fc3), the keys of its state dict.
    """

    def __init__(self, input_shape=(32, 32, 3), classes: int = 10, **kwargs):
        kwargs.setdefault("weight_decay", 0.0)  # the tutorial has none
        kwargs.setdefault("classifier_activation", None)  # logits, as the tutorial's Net
        super().__init__(input_shape, classes, **kwargs)
        height, width, channels = self.image_shape
        self.map_shape = ((height - 4) // 2 - 4) // 2, ((width - 4) // 2 - 4) // 2, 16

        def conv(filters, fan_in, name):
            return layers.Conv2D(filters, 5, activation="relu", kernel_initializer=_torch_kernel(),
                                 bias_initializer=_uniform(fan_in), name=name)

        def dense(units, fan_in, name, **options):
            return layers.Dense(units, kernel_initializer=_torch_kernel(),
                                bias_initializer=_uniform(fan_in), name=name, **options)

        self.feature_layers = [
            layers.Rescaling(2.0, offset=-1.0, name="normalize"),  # Normalize((0.5,), (0.5,))
            conv(6, channels * 25, "conv1"),
            layers.MaxPooling2D(2, name="pool1"),
            conv(16, 6 * 25, "conv2"),
            layers.MaxPooling2D(2, name="pool2"),
        ]
        if self.include_top:
            self.top_layers = [
                layers.Flatten(name="flatten"),
                dense(120, int(np.prod(self.map_shape)), "fc1", activation="relu"),
                dense(84, 120, "fc2", activation="relu"),
                # float32 output, so a mixed-precision policy keeps an exact loss.
                dense(self.classes, 84, "fc3", activation=self.classifier_activation,
                      dtype="float32"),
            ]
        else:
            self.top_layers = self.pooling_layers()

    def default_optimizer(self) -> keras.optimizers.Optimizer:
        """The tutorial's `optim.SGD(net.parameters(), lr=0.001, momentum=0.9)`."""
        return keras.optimizers.SGD(TUTORIAL_LEARNING_RATE, momentum=TUTORIAL_MOMENTUM)

    def serving_contract(self) -> saving.ServingContract:
        """Images in; `logits` out where the net ends without a softmax (the tutorial's)."""
        contract = super().serving_contract()
        if self.include_top and self.from_logits:
            return dataclasses.replace(contract, output_name="logits")
        return contract

    # --- The tutorial's state dict ------------------------------------------------------

    def _weighted_layers(self) -> dict[str, keras.layers.Layer]:
        return {layer.name: layer for layer in self.feature_layers + self.top_layers
                if layer.weights}

    def _torch_layout(self, name: str, kernel: np.ndarray) -> np.ndarray:
        """A Keras kernel as PyTorch stores the weight of layer `name`."""
        if kernel.ndim == 4:  # (kh, kw, in, out) -> (out, in, kh, kw)
            return kernel.transpose(3, 2, 0, 1)
        if name == "fc1":  # rows in NHWC flatten order -> columns in NCHW order
            height, width, channels = self.map_shape
            return (kernel.reshape(height, width, channels, -1).transpose(3, 2, 0, 1)
                    .reshape(kernel.shape[1], -1))
        return kernel.T

    def _keras_layout(self, name: str, weight: np.ndarray) -> np.ndarray:
        """PyTorch's weight of layer `name` as the Keras kernel (the inverse of `_torch_layout`)."""
        if weight.ndim == 4:
            return weight.transpose(2, 3, 1, 0)
        if name == "fc1":
            height, width, channels = self.map_shape
            return (weight.reshape(-1, channels, height, width).transpose(2, 3, 1, 0)
                    .reshape(height * width * channels, -1))
        return weight.T

    def state_dict_shapes(self) -> dict[str, tuple[int, ...]]:
        """The keys and shapes of the tutorial `Net`'s state dict that this model matches."""
        shapes = {}
        for name, layer in self._weighted_layers().items():
            shapes[f"{name}.weight"] = self._torch_layout(name, np.zeros(layer.kernel.shape)).shape
            shapes[f"{name}.bias"] = tuple(layer.bias.shape)
        return shapes

    def to_state_dict(self) -> OrderedDict:
        """The weights as the tutorial's `Net().state_dict()`: float32 torch tensors.

        `Net().load_state_dict(model.to_state_dict())` gives a module whose
        `net(2 * x - 1)` (NCHW) equals `model(x)` (NHWC, x in [0, 1]).
        """
        import torch  # the tutorial's framework; installed with the torch extra

        state = OrderedDict()
        for name, layer in self._weighted_layers().items():
            kernel = keras.ops.convert_to_numpy(layer.kernel).astype("float32")
            state[f"{name}.weight"] = torch.from_numpy(
                np.ascontiguousarray(self._torch_layout(name, kernel)))
            state[f"{name}.bias"] = torch.from_numpy(
                keras.ops.convert_to_numpy(layer.bias).astype("float32"))
        return state

    def set_state_dict(self, state_dict) -> TutorialNet:
        """Load the tutorial `Net`'s `state_dict()` (torch tensors or arrays); returns the model.

        The keys must be exactly those of `state_dict_shapes()`, with those
        shapes; nothing is changed unless all of them fit.
        """
        expected = self.state_dict_shapes()
        given = set(state_dict)
        if given != set(expected):
            missing, extra = sorted(set(expected) - given), sorted(given - set(expected))
            raise ValueError(f"The state dict does not fit {self.name}: missing keys {missing}, "
                             f"unexpected keys {extra} (expected {sorted(expected)}).")
        values = {}
        for key, shape in expected.items():
            value = _numpy(state_dict[key])
            if value.shape != tuple(shape):
                raise ValueError(f"The state dict's {key!r} has shape {value.shape}; "
                                 f"{self.name} (input {self.image_shape}, {self.classes} "
                                 f"classes) needs {tuple(shape)}.")
            values[key] = value
        for name, layer in self._weighted_layers().items():
            layer.kernel.assign(self._keras_layout(name, values[f"{name}.weight"]))
            layer.bias.assign(values[f"{name}.bias"])
        return self


@milestone("tutorial_net")
def tutorial_net(include_top: bool = True, weights: str | None = None,
                 input_shape: tuple[int, int, int] = (32, 32, 3), pooling: str | None = None,
                 classes: int = 10, classifier_activation: str | None = None,
                 learning_rate: float | Schedule = TUTORIAL_LEARNING_RATE, compile: bool = True,
                 name: str = "tutorial_net") -> TutorialNet:
    """PyTorch's 60-minute-blitz CIFAR-10 net: 62,006 parameters at 32×32×3, logits out.

    conv 6@5×5, ReLU, max-pool 2, conv 16@5×5, ReLU, max-pool 2, fc 120 ReLU,
    fc 84 ReLU, fc 10; PyTorch's default initialization; images normalized to
    [-1, 1] inside the model. Trained as the tutorial trains it: SGD, ε =
    0.001, momentum 0.9, softmax cross-entropy of the logits; the tutorial
    uses batches of 4 (`fit(..., batch_size=4)`) and 2 epochs.

    `model.to_state_dict()` and `tutorial_net_from_state_dict(state_dict)` move
    the weights to and from the tutorial's PyTorch `Net`.

    Example (Fashion-MNIST padded to 32×32, as docs/milestones/tutorial-net.md measures it):

    ```python
    (x, y), (x_test, y_test) = keras_history.datasets.fashion_mnist.load_data(
        "data/fashion_mnist")  # a folder with its four IDX files
    x = numpy.pad(x, [(0, 0), (2, 2), (2, 2)])[..., None]
    model = keras_history.models.tutorial_net(input_shape=(32, 32, 1))
    model.fit(x, y, batch_size=4, epochs=2)
    ```

    Args:
        include_top: with flatten, fc1, fc2 and fc3; False ends at the second pool.
        weights: None (PyTorch's default initialization), the name of a weight set shipped for it
            (`keras_history.weights.names("tutorial_net")`), or the path of a
            `.weights.h5`/`.keras` file.
        input_shape: (height, width, channels), at least 16×16; the tutorial's is 32×32×3.
        pooling: with `include_top=False`: None (feature maps), "avg" or "max".
        classes: number of classes.
        classifier_activation: None for logits (the tutorial's), or "softmax".
        learning_rate: ε, a number or a Keras schedule.
        compile: compile with SGD(ε, momentum=0.9) and accuracy.
        name: the model's name.

    Returns:
        A `TutorialNet` model, built.
    """
    check_options(input_shape, MINIMUM_SIZE, classes, include_top, pooling,
                  classifier_activation, learning_rate, 0.0, 1.0)
    model = TutorialNet(tuple(input_shape), classes, include_top=include_top, pooling=pooling,
                        classifier_activation=classifier_activation, name=name)
    model = finish(model, learning_rate, compile, momentum=TUTORIAL_MOMENTUM)
    return with_weights(model, "tutorial_net", weights)


def tutorial_net_from_state_dict(state_dict, input_shape: tuple[int, int, int] | None = None,
                                 **options) -> TutorialNet:
    """A `tutorial_net` holding the weights of the tutorial `Net`'s `state_dict()`.

    `input_shape` defaults to 32×32 with the channels of `conv1.weight`, and
    `classes` to the rows of `fc3.weight`; other options are `tutorial_net`'s.
    """
    if "conv1.weight" not in state_dict:
        raise ValueError("The state dict has no 'conv1.weight': it is not the tutorial Net's "
                         f"(keys: {sorted(state_dict)}).")
    if input_shape is None:
        input_shape = (32, 32, int(_numpy(state_dict["conv1.weight"]).shape[1]))
    if "fc3.weight" in state_dict and "classes" not in options:
        options["classes"] = int(_numpy(state_dict["fc3.weight"]).shape[0])
    if "fc1.weight" not in state_dict:
        options.setdefault("include_top", False)
    return tutorial_net(input_shape=input_shape, **options).set_state_dict(state_dict)
