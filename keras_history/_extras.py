"""Which pip extra installs each optional Keras backend, said where it is missing.

TensorFlow is always installed; JAX and PyTorch come with the extras `[jax]`
and `[torch]` (or `[all]`). Without this, `KERAS_BACKEND=jax` on a machine
without JAX ends in Keras's bare "No module named 'jax'".
"""

from __future__ import annotations

import importlib.abc
import os
import sys

# top-level module -> (Keras backend, the extra that installs it)
OPTIONAL_BACKENDS = {"jax": ("JAX", "jax"), "torch": ("PyTorch", "torch")}


class _ExplainMissingBackend(importlib.abc.MetaPathFinder):
    """Last on `sys.meta_path`: asked only when no other finder has the module."""

    def find_spec(self, fullname, path=None, target=None):
        # Keras's own reading of KERAS_BACKEND and keras.json, once it has made it.
        config = sys.modules.get("keras.src.backend.config")
        chosen = config.backend() if config else os.environ.get("KERAS_BACKEND")
        if fullname not in OPTIONAL_BACKENDS or fullname != chosen:
            return None  # a probe for an optional module, not the chosen backend
        name, extra = OPTIONAL_BACKENDS[fullname]
        raise ModuleNotFoundError(
            f"No module named {fullname!r}: Keras's {name} backend (KERAS_BACKEND="
            f"{fullname}) needs {name}, which is not installed. Install it with "
            f"pip install 'keras-history[{extra}]' (or [all] for every backend), "
            "or pick another backend with KERAS_BACKEND=tensorflow.",
            name=fullname,
        )


def explain_missing_backends() -> None:
    """Install the finder once, after every real one."""
    if not any(isinstance(f, _ExplainMissingBackend) for f in sys.meta_path):
        sys.meta_path.append(_ExplainMissingBackend())
