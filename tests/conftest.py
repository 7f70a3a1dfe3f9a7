"""Shared test setup. The Keras backend is chosen by KERAS_BACKEND before import;
`scripts/test_all_backends.sh` runs this suite once per backend."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
if os.environ.get("KERAS_BACKEND") == "jax":
    # The suite compiles hundreds of small train functions and runs each a few steps: XLA's
    # least-optimised CPU code compiles in half the time (measured: the suite's small cases,
    # 108 s of CPU against 57 s with the cache below). Users get XLA's defaults.
    os.environ["XLA_FLAGS"] = " ".join(
        [os.environ.get("XLA_FLAGS", ""), "--xla_backend_optimization_level=0"]).strip()

import keras  # noqa: E402
import pytest  # noqa: E402

BACKEND = keras.backend.backend()
MNIST_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


if BACKEND == "jax":
    import jax

    # The same small nets are trained by many files (tests/cases.py): compiled once, a
    # function is reused from this session's cache wherever its computation repeats.
    jax.config.update("jax_compilation_cache_dir", tempfile.mkdtemp(prefix="keras-history-xla-"))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    atexit.register(shutil.rmtree, jax.config.jax_compilation_cache_dir, True)


def pytest_report_header(config) -> str:
    return f"keras backend: {BACKEND}"


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    """Each test starts from a clean Keras session and a fixed seed."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    yield
