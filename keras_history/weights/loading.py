"""`weights=` for every factory: None, a shipped set's name, or a file's path."""

from __future__ import annotations

import os
from pathlib import Path

import keras

from keras_history import saving
from keras_history.weights import IMAGENET, get, names


def with_weights(model: keras.Model, factory: str,
                 weights: str | os.PathLike | None) -> keras.Model:
    """Load `weights` into `model`, made by `factory`; returns `model`.

    `weights` is None (keep the initial weights), the name of one of the
    factory's weight sets, "imagenet" for vgg16/resnet50 (keras.applications'
    published file), or the path of a `.weights.h5`/`.keras` file. The
    `@milestone` decorator has already checked it (`keras_history.weights.check`:
    a shipped file against its SHA-256) before the model was built, so a file
    is hashed once a call.
    """
    if weights is None:
        return model
    text = os.fspath(weights)
    if factory in IMAGENET and text == "imagenet":
        from keras_history.weights import imagenet

        return imagenet.load(model, factory)
    if text in names(factory):
        return saving.load_weights(model, get(factory, text).path)
    path = Path(text)
    if factory in IMAGENET:
        from keras_history.weights import imagenet

        if imagenet.is_applications_file(path):
            return imagenet.load(model, factory, path)
    return saving.load_weights(model, path)
