"""The milestones, as factory functions in the style of `keras.applications`.

Each factory returns a registered, serializable `keras.Model` subclass,
compiled with the milestone's historical training setup unless
`compile=False`. The modules are grouped by era: `classic/` (1805–1986),
`convolutional/`, `recurrent/` and `generative/`; every public name is
importable from `keras_history.models` itself.
"""

from keras_history.models.base import LearningRuleModel
from keras_history.models.classic import (
    BackpropMLP,
    GradientDescent,
    LeastSquares,
    LinearRegression,
    Perceptron,
    backprop_mlp,
    gradient_descent,
    least_squares,
    linear_regression,
    perceptron,
)
from keras_history.models.convolutional import (
    VGG16,
    AlexNet,
    CIFARResNet,
    LeNet5,
    MNISTConvNet,
    ResNet50,
    alexnet,
    lenet5,
    mnist_convnet,
    resnet,
    resnet50,
    vgg16,
)
from keras_history.models.generative import GAN, gan
from keras_history.models.recurrent import (
    ElmanNetwork,
    LongShortTermMemory,
    elman_rnn,
    lstm_1997,
)

__all__ = [
    "VGG16",
    "AlexNet",
    "BackpropMLP",
    "CIFARResNet",
    "GAN",
    "ElmanNetwork",
    "GradientDescent",
    "LeNet5",
    "LearningRuleModel",
    "LeastSquares",
    "LinearRegression",
    "LongShortTermMemory",
    "MNISTConvNet",
    "Perceptron",
    "ResNet50",
    "alexnet",
    "backprop_mlp",
    "elman_rnn",
    "gan",
    "gradient_descent",
    "lenet5",
    "least_squares",
    "linear_regression",
    "lstm_1997",
    "mnist_convnet",
    "perceptron",
    "resnet",
    "resnet50",
    "vgg16",
]
