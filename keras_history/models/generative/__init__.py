"""Generative models: networks that learn to draw samples of their data."""
