"""Shared test setup. The Keras backend is chosen by KERAS_BACKEND before import;
`scripts/test_all_backends.sh` runs this suite once per backend."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import pytest  # noqa: E402

BACKEND = keras.backend.backend()
MNIST_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


def pytest_report_header(config) -> str:
    return f"keras backend: {BACKEND}"


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    """Each test starts from a clean Keras session and a fixed seed."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    yield
