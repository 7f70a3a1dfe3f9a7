"""The convolutional era: networks that read images through learned local filters."""

from keras_history.models.convolutional.alexnet import AlexNet, alexnet
from keras_history.models.convolutional.convnet import MNISTConvNet, mnist_convnet
from keras_history.models.convolutional.lenet5 import LeNet5, lenet5
from keras_history.models.convolutional.resnet import CIFARResNet, ResNet50, resnet, resnet50
from keras_history.models.convolutional.vgg import VGG16, vgg16

__all__ = ["VGG16", "AlexNet", "CIFARResNet", "LeNet5", "MNISTConvNet", "ResNet50", "alexnet",
           "lenet5", "mnist_convnet", "resnet", "resnet50", "vgg16"]
