"""The milestones, as factory functions in the style of `keras.applications`.

Each factory returns a registered, serializable `keras.Model` subclass,
compiled with the milestone's historical training setup unless
`compile=False`.
"""

from keras_history.models.backprop import BackpropMLP, backprop_mlp
from keras_history.models.base import LearningRuleModel
from keras_history.models.convnet import MNISTConvNet, mnist_convnet
from keras_history.models.gradient_descent import GradientDescent, gradient_descent
from keras_history.models.least_squares import LeastSquares, least_squares
from keras_history.models.linear_regression import LinearRegression, linear_regression
from keras_history.models.perceptron import Perceptron, perceptron

__all__ = [
    "BackpropMLP",
    "GradientDescent",
    "LearningRuleModel",
    "LeastSquares",
    "LinearRegression",
    "MNISTConvNet",
    "Perceptron",
    "backprop_mlp",
    "gradient_descent",
    "least_squares",
    "linear_regression",
    "mnist_convnet",
    "perceptron",
]
