"""Trained weights shipped in the package, with their provenance: the zoo's registry.

Every factory takes `weights=` as keras.applications' do: `None` (untrained,
the default), the name of a weight set below, or the path of a weights file
(`.weights.h5` or `.keras`). A shipped set is a float32 `.weights.h5` file in
`keras_history/weights/files/`, made by this project's own scripts
(`scripts/make_weights.py`, which records the exact command), pinned by its
SHA-256: a file that no longer matches is refused, never loaded.

    >>> from keras_history import weights
    >>> [str(s) for s in weights.available("mnist_convnet")]
    ['mnist_convnet(weights="mnist")']

The registry is plain data (`registry.json`, read without importing Keras),
so `keras-history list` and `keras-history verify` answer at once.
`vgg16(weights="imagenet")` and `resnet50(weights="imagenet")` are not
shipped: they load keras.applications' own published files
(`keras_history.weights.imagenet`).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["WeightSet", "WeightsIntegrityError", "available", "check", "get", "names",
           "verified_file"]

FILES = Path(__file__).parent / "files"
REGISTRY = Path(__file__).parent / "registry.json"
# Factories whose "imagenet" set is keras.applications' published file, not ours.
IMAGENET = ("vgg16", "resnet50")
# Names a factory makes weights for itself (backprop_mlp: the snippet's starting weights).
BUILT_IN = {"backprop_mlp": ("snippet",), **{factory: ("imagenet",) for factory in IMAGENET}}


class WeightsIntegrityError(ValueError):
    """A shipped weights file does not match the SHA-256 its registry entry pins."""


@dataclass(frozen=True)
class WeightSet:
    """One shipped weight set and how it was made.

    Attributes:
        factory: the milestone's factory (`"mnist_convnet"`).
        name: the set's name, passed as `weights=` (`"mnist"`).
        file: the file's name in `keras_history/weights/files/`.
        sha256: the file's SHA-256, checked on every load.
        size: the file's size in bytes.
        options: the factory's options the weights were trained with; a
            factory called with `weights=name` takes these unless told otherwise.
        command: the command, run from the repository's root, that made them.
        seed: the random seed of that command.
        backend: the Keras backend it ran on, with the library versions.
        task: what it was trained and is tested on: "mnist", "fashion_mnist" or
            "reber" (`keras_history.weights.evaluation.TASKS`).
        data: the data set trained and tested on, with its files' md5.
        date: the day they were made.
        metric: what `value` measures (`"test accuracy"`, `"Reber strings predicted"`).
        value: the metric, measured when the weights were made, on the full test set.
        test_set: what `value` was measured on.
        paper: the paper's (or snippet's) number for the same metric, as text.
        notes: anything a user should know (which epoch, what is not reproduced).
    """

    factory: str
    name: str
    file: str
    sha256: str
    size: int
    command: str
    seed: int
    backend: str
    task: str
    data: str
    date: str
    metric: str
    value: float
    test_set: str
    paper: str
    options: dict[str, Any] = field(default_factory=dict)
    notes: str = ""

    def __str__(self) -> str:
        return f'{self.factory}(weights="{self.name}")'

    @property
    def path(self) -> Path:
        return FILES / self.file


def _load_registry() -> tuple[WeightSet, ...]:
    rows = json.loads(REGISTRY.read_text()) if REGISTRY.is_file() else []
    # JSON has no tuples: shapes come back as lists.
    return tuple(WeightSet(**{**row, "options": {k: tuple(v) if isinstance(v, list) else v
                                                 for k, v in row.get("options", {}).items()}})
                 for row in rows)


_SETS: tuple[WeightSet, ...] = _load_registry()


def available(factory: str | None = None) -> list[WeightSet]:
    """The shipped weight sets, all or `factory`'s, in registry order."""
    return [s for s in _SETS if factory is None or s.factory == factory]


def names(factory: str) -> list[str]:
    """What `weights=` accepts by name for `factory` (besides None and a path)."""
    return [s.name for s in available(factory)] + list(BUILT_IN.get(factory, ()))


def get(factory: str, name: str) -> WeightSet:
    """The weight set `name` of `factory`, or a ValueError listing those that exist."""
    for weight_set in available(factory):
        if weight_set.name == name:
            return weight_set
    known = names(factory)
    raise ValueError(
        f"{factory}() has no weight set {name!r}; "
        + (f"its sets: {', '.join(map(repr, known))}" if known else "none is shipped for it")
        + " (or pass the path of a .weights.h5/.keras file, or None for untrained weights).")


def sha256(path: str | Path) -> str:
    """The SHA-256 of a file, in hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verified_file(weight_set: WeightSet) -> Path:
    """The set's file, after checking it is there and matches its SHA-256."""
    path = weight_set.path
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: the file of {weight_set} is missing from the installed package; "
            "reinstall keras-history (pip install --force-reinstall keras-history).")
    found = sha256(path)
    if found != weight_set.sha256:
        raise WeightsIntegrityError(
            f"{path} is not the file {weight_set} was made as (SHA-256 {found[:16]}..., "
            f"expected {weight_set.sha256[:16]}...; {path.stat().st_size} bytes, expected "
            f"{weight_set.size}): it was changed or truncated. Reinstall keras-history, or "
            f"remake it with: {weight_set.command}")
    return path


def _is_path(text: str) -> bool:
    return Path(text).exists() or bool(Path(text).suffix) or "/" in text or os.sep in text


def check(factory: str, weights) -> None:
    """Refuse a bad `weights=` before any model is built: its type, an unknown set's name
    (the error lists the names that exist), a missing or damaged file."""
    if weights is None:
        return
    if not isinstance(weights, (str, os.PathLike)):
        raise ValueError(f"`weights` must be None (untrained), a weight set's name or the path "
                         f"of a local weights file (.weights.h5 or .keras), got {weights!r}.")
    text = os.fspath(weights)
    if text in [s.name for s in available(factory)]:
        verified_file(get(factory, text))  # a damaged file fails before a model is built
        return
    if text in names(factory):
        return
    if not _is_path(text):
        get(factory, text)  # not a set of this factory: the error lists those that are
    if not Path(text).is_file():
        raise FileNotFoundError(f"{text}: no such weights file (`weights` takes None, a weight "
                                f"set's name, or the path of a .weights.h5 or .keras file).")
