"""Layers that Keras 3 lacks and the milestones need."""

from keras_history.layers.heaviside import Heaviside

__all__ = ["Heaviside"]
