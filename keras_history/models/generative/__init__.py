"""Generative models: networks that learn to draw samples of their data."""

from keras_history.models.generative.gan import GAN, gan

__all__ = ["GAN", "gan"]
