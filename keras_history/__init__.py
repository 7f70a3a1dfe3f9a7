"""keras-history: the history of deep learning as runnable Keras 3 models.

Each milestone is a real `keras.Model` whose `train_step` is the learning
rule its inventor used:

    import keras_history
    model = keras_history.models.perceptron()
    model.fit(*keras_history.datasets.logic_gate("or"), epochs=20)

`import keras_history` imports the models, which registers their classes for
`keras.models.load_model`. Only the `keras-history` command defers that until
a command needs it, so that `--help` and `list` answer without loading Keras.
"""

from __future__ import annotations

import importlib
import os
import sys

from keras_history import _extras

__version__ = "0.1.0"

_PUBLIC = {
    "TIMELINE": "keras_history.timeline",
    "datasets": "keras_history.datasets",
    "export": "keras_history.saving",
    "layers": "keras_history.layers",
    "load_model": "keras_history.saving",
    "load_weights": "keras_history.saving",
    "metrics": "keras_history.metrics",
    "models": "keras_history.models",
    "weights": "keras_history.weights",
}

__all__ = sorted(_PUBLIC)

_extras.explain_missing_backends()


def __getattr__(name: str):
    if name not in _PUBLIC:
        raise AttributeError(f"module 'keras_history' has no attribute {name!r}")
    importlib.import_module("keras_history.models")  # every factory on the timeline
    module = importlib.import_module(_PUBLIC[name])
    value = module if module.__name__ == f"keras_history.{name}" else getattr(module, name)
    globals()[name] = value
    return value


def _started_by_command_line() -> bool:
    """True while `keras-history ...` or `python -m keras_history ...` is starting."""
    program = os.path.basename(sys.argv[0]) if sys.argv else ""
    # Python sets argv[0] to "-m" while it imports the package that `-m` runs.
    return program in ("-m", "keras-history", "keras-history.exe")


if not _started_by_command_line():
    for _name in __all__:
        __getattr__(_name)
