"""The classics (1805–1986): least squares, gradient descent, linear regression,
the perceptron and backpropagation, each trained by its own hand-written rule."""

from keras_history.models.classic.backprop import BackpropMLP, backprop_mlp
from keras_history.models.classic.gradient_descent import GradientDescent, gradient_descent
from keras_history.models.classic.least_squares import LeastSquares, least_squares
from keras_history.models.classic.linear_regression import LinearRegression, linear_regression
from keras_history.models.classic.perceptron import Perceptron, perceptron

__all__ = [
    "BackpropMLP",
    "GradientDescent",
    "LeastSquares",
    "LinearRegression",
    "Perceptron",
    "backprop_mlp",
    "gradient_descent",
    "least_squares",
    "linear_regression",
    "perceptron",
]
