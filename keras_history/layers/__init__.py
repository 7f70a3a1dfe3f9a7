"""Layers that Keras 3 lacks and the milestones need."""

from keras_history.layers.capsules import (
    DigitCapsules,
    PrimaryCapsules,
    capsule_lengths,
    routing,
    squash,
)
from keras_history.layers.elman_rnn import ElmanRNN
from keras_history.layers.heaviside import Heaviside
from keras_history.layers.local_response_normalization import LocalResponseNormalization
from keras_history.layers.lstm_1997 import LSTM1997
from keras_history.layers.maxout import Maxout
from keras_history.layers.pad_crop_flip import PadCropFlip
from keras_history.layers.partial_conv import PartialConv2D
from keras_history.layers.rbf import RBFOutput
from keras_history.layers.rbm import RBM
from keras_history.layers.squashing import Squashing
from keras_history.layers.subsampling import Subsampling2D
from keras_history.layers.tower_conv import TowerConv2D

__all__ = ["DigitCapsules", "ElmanRNN", "Heaviside", "LSTM1997", "LocalResponseNormalization",
           "Maxout", "PadCropFlip", "PartialConv2D", "PrimaryCapsules", "RBFOutput", "RBM",
           "Squashing", "Subsampling2D", "TowerConv2D", "capsule_lengths", "routing", "squash"]
