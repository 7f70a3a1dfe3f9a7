"""`vgg16(weights="imagenet")` and `resnet50(weights="imagenet")`: keras.applications' files.

These weights are not the zoo's: they are the files `keras.applications.VGG16`
and `ResNet50` load (the Keras team's conversions of the authors' Caffe
releases), fetched as keras.applications fetches them: `keras.utils.get_file`
into Keras's cache (`~/.keras/models/`, or `$KERAS_HOME/models/`), checked
against the same md5. A cached file is used without the network; a cached
file with another md5 is refused, never loaded. A copy elsewhere loads by
its path: `vgg16(weights="/path/to/vgg16_weights_tf_dim_ordering_tf_kernels.h5")`.

Our nets are keras.applications' layer for layer, variable for variable (the
same names, the same `get_weights()` order), so a file is read by Keras's own
loader into the keras.applications net of the same options and copied
across: the outputs are keras.applications'.

Inputs: the weights expect what keras.applications' nets expect,
`keras.applications.vgg16.preprocess_input(images)` (`resnet50.` is the same
"caffe" mode): float pixels on the 0..255 scale, in BGR order, minus ImageNet's
mean pixel — not the zoo's RGB pixels ÷ 255. Feed them by calling the model,
`model(x)` or `model.predict_on_batch(x)`, or as a `tf.data.Dataset`: `predict`,
`fit` and `evaluate` check that float image arrays lie in [0, 1] and refuse them.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import NamedTuple

import h5py
import keras
from keras.src.backend.config import keras_home  # get_file's cache root; not public API

from keras_history.weights import WeightsIntegrityError

__all__ = ["PUBLISHED", "Published", "applications_model", "cache_dir", "is_applications_file",
           "load", "published_file"]


class Published(NamedTuple):
    """One of keras.applications' weight files, as it passes it to `keras.utils.get_file`."""

    name: str
    url: str
    md5: str


_VGG16 = "https://storage.googleapis.com/tensorflow/keras-applications/vgg16/"
_RESNET = "https://storage.googleapis.com/tensorflow/keras-applications/resnet/"

# (factory, include_top) → the file; names, URLs and md5s of keras/src/applications/vgg16.py
# and resnet.py.
PUBLISHED = {
    ("vgg16", True): Published("vgg16_weights_tf_dim_ordering_tf_kernels.h5",
                               f"{_VGG16}vgg16_weights_tf_dim_ordering_tf_kernels.h5",
                               "64373286793e3c8b2b4e3219cbf3544b"),
    ("vgg16", False): Published("vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
                                f"{_VGG16}vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
                                "6d6bbae143d832006294945121d1f1fc"),
    ("resnet50", True): Published("resnet50_weights_tf_dim_ordering_tf_kernels.h5",
                                  f"{_RESNET}resnet50_weights_tf_dim_ordering_tf_kernels.h5",
                                  "2cb95161c43110f7111970584f804107"),
    ("resnet50", False): Published(
        "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
        f"{_RESNET}resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "4d473c1dd8becc155b73f8504c6f6626"),
}
APPLICATIONS = {"vgg16": "VGG16", "resnet50": "ResNet50"}  # the nets' names in keras.applications
# Each net's first convolution, named as keras.applications names it.
FIRST_LAYERS = {"block1_conv1", "conv1_conv"}


def cache_dir() -> Path:
    """Where `keras.utils.get_file` keeps keras.applications' files.

    `models/` under Keras's home ($KERAS_HOME, else ~/.keras), or under
    /tmp/.keras where the home is not writable: get_file's own rule.
    """
    home = os.path.expanduser(keras_home())
    if not os.access(home, os.W_OK):
        home = os.path.join("/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir(), ".keras")
    return Path(home) / "models"


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _call(factory: str, include_top: bool, weights: str) -> str:
    top = "" if include_top else "include_top=False, "
    return f'{factory}({top}weights="{weights}")'


def published_file(factory: str, include_top: bool) -> Path:
    """keras.applications' weights file for `factory`: from Keras's cache, or downloaded there.

    Raises:
        WeightsIntegrityError: the cached file's md5 is not keras.applications'.
        FileNotFoundError: not cached, and the download failed (no network).
    """
    published = PUBLISHED[factory, include_top]
    cached = cache_dir() / published.name
    if cached.is_file():
        found = _md5(cached)
        if found != published.md5:
            # get_file would delete it and download again; offline that loses the file.
            raise WeightsIntegrityError(
                f"{cached} is in Keras's cache but is not keras.applications' file (md5 "
                f"{found}, expected {published.md5}): the download was cut short, or it is "
                f"another file. Delete it to download it again from {published.url}, or load "
                f"a file of your own by its path: "
                f"{_call(factory, include_top, '/path/to/' + published.name)}.")
        return cached
    try:
        return Path(keras.utils.get_file(published.name, published.url, cache_subdir="models",
                                         file_hash=published.md5))
    except Exception as error:  # get_file raises a bare Exception when the fetch fails
        raise FileNotFoundError(
            f'{_call(factory, include_top, "imagenet")} loads keras.applications\' '
            f"{published.name}, which is not in Keras's cache ({cached.parent}) and could not be "
            f"downloaded from {published.url} ({error}). Download it where there is a "
            f"network and put it at {cached}, or pass its path: "
            f"{_call(factory, include_top, '/path/to/' + published.name)}.") from None


def applications_model(model: keras.Model, factory: str) -> keras.Model:
    """The untrained keras.applications net that `model` is: the same top, input shape,
    pooling and classes."""
    return getattr(keras.applications, APPLICATIONS[factory])(
        include_top=model.include_top, weights=None, input_shape=model.image_shape,
        pooling=model.pooling, classes=model.classes,
        classifier_activation=model.classifier_activation)


def _check_fits_published(model: keras.Model, factory: str) -> None:
    """Refuse, before any download, a model that ImageNet's weights cannot fit."""
    problems = []
    if model.image_shape[-1] != 3:
        problems.append(f"they take RGB images (3 channels), not {model.image_shape[-1]}")
    if model.include_top and model.classes != 1000:
        problems.append(f"their top is ImageNet's 1000-way classifier, not {model.classes} "
                        "classes (use include_top=False and a head of your own)")
    if factory == "vgg16" and model.include_top and model.image_shape != (224, 224, 3):
        problems.append("their fc1 takes the 7×7×512 map of a 224×224×3 image, not "
                        f"{model.image_shape} (use include_top=False for other sizes)")
    if problems:
        raise ValueError(f'{factory}(weights="imagenet") does not fit {model.name}: '
                         + "; ".join(problems) + ".")


def load(model: keras.Model, factory: str, path: str | os.PathLike | None = None
         ) -> keras.Model:
    """Load keras.applications' ImageNet weights into `model`, made by `factory`; returns it.

    `path`: a file saved from keras.applications' net (its published HDF5, a
    `.weights.h5` or a `.keras` file; see `is_applications_file`); None: the
    published file for the model's `include_top`, from Keras's cache or
    downloaded into it (`published_file`). The model keeps its own
    preprocessing: the weights want `keras.applications.vgg16.preprocess_input`'s
    floats (this module's docstring).
    """
    if model.width != 1.0:
        raise ValueError(f"keras.applications' {APPLICATIONS[factory]} weights are for the "
                         f"paper's widths; {model.name} has width={model.width:g}: use width=1.")
    if path is None:
        _check_fits_published(model, factory)
        path = published_file(factory, model.include_top)
    reference = applications_model(model, factory)
    try:
        reference.load_weights(os.fspath(path))
    except (OSError, KeyError, ValueError) as error:
        raise ValueError(
            f"{path} does not fit {model.name}: it is not a weights file of "
            f"keras.applications.{APPLICATIONS[factory]}(include_top={model.include_top}, "
            f"input_shape={model.image_shape}, pooling={model.pooling!r}, "
            f"classes={model.classes}), which the model is layer for layer.\n"
            f"Keras says: {error}") from None
    model.set_weights(reference.get_weights())  # the same variables in the same order
    return model


def _is_applications_hdf5(path: Path) -> bool:
    with h5py.File(path, "r") as file:
        # keras.applications' published format (Keras 2's `save_weights("x.h5")`): the
        # layer names as a root attribute, split into layer_names0, 1, ... when long.
        if "layer_names" in file.attrs or "layer_names0" in file.attrs:
            return True
        # Keras 3's `.weights.h5` of a functional net keeps its layers under `layers/`;
        # ours keep theirs under `feature_layers/`.
        return "layers" in file and "feature_layers" not in file


def _is_applications_archive(path: Path) -> bool:
    with zipfile.ZipFile(path) as archive:
        config = json.loads(archive.read("config.json"))
    layers = config.get("config", {}).get("layers", [])
    return (config.get("class_name") == "Functional"
            and any(layer.get("config", {}).get("name") in FIRST_LAYERS for layer in layers))


def is_applications_file(path: str | os.PathLike) -> bool:
    """Whether `path` holds weights saved from keras.applications' VGG16 or ResNet50.

    True for the HDF5 files keras.applications publishes (the legacy format),
    a Keras 3 `.weights.h5` saved by `keras.applications.VGG16(...).save_weights`
    (the layers of a functional net; the file holds no layer names), and a
    `.keras` file of such a net; False for files saved from our own models
    (those load with `keras_history.saving.load_weights`). Reads only the file's
    index (HDF5 attributes and groups, or the archive's config).
    """
    path = Path(path)
    if not path.is_file():
        return False
    try:
        if zipfile.is_zipfile(path):
            return _is_applications_archive(path)
        return h5py.is_hdf5(path) and _is_applications_hdf5(path)
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return False  # damaged: saving.load_weights says what is wrong with it
