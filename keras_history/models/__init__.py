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
from keras_history.models.convolutional import LeNet5, MNISTConvNet, lenet5, mnist_convnet

__all__ = [
    "BackpropMLP",
    "GradientDescent",
    "LeNet5",
    "LearningRuleModel",
    "LeastSquares",
    "LinearRegression",
    "MNISTConvNet",
    "Perceptron",
    "backprop_mlp",
    "gradient_descent",
    "lenet5",
    "least_squares",
    "linear_regression",
    "mnist_convnet",
    "perceptron",
]
