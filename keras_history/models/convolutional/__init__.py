"""The convolutional era: networks that read images through learned local filters."""

from keras_history.models.convolutional.convnet import MNISTConvNet, mnist_convnet
from keras_history.models.convolutional.lenet5 import LeNet5, lenet5

__all__ = ["LeNet5", "MNISTConvNet", "lenet5", "mnist_convnet"]
