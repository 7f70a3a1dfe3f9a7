"""The convolutional era: networks that read images through learned local filters."""

from keras_history.models.convolutional.convnet import MNISTConvNet, mnist_convnet

__all__ = ["MNISTConvNet", "mnist_convnet"]
