"""Only what the package uses: no TensorFlow on the other backends, no TFDS unless asked."""

import os
import subprocess
import sys

import keras
import pytest

FIT_THEN_LIST_MODULES = """
import sys
from keras_history import datasets, models
x, y = datasets.logic_gate("or")
models.perceptron().fit(x, y, epochs=2, verbose=0)
(x, y), _ = datasets.mnist.load_sample()
models.mnist_convnet().fit(x[:64], y[:64], epochs=1, verbose=0)
print(" ".join(sorted(sys.modules)))
"""


def modules_after_fitting(**environment) -> set[str]:
    result = subprocess.run([sys.executable, "-c", FIT_THEN_LIST_MODULES], capture_output=True,
                            text=True, env={**os.environ, **environment}, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    return set(result.stdout.split())


@pytest.mark.skipif(keras.backend.backend() == "tensorflow", reason="TensorFlow is the backend")
def test_other_backends_never_import_tensorflow():
    loaded = modules_after_fitting()
    assert "keras_history.models.convolutional.convnet" in loaded
    assert not {m for m in loaded if m.split(".")[0] == "tensorflow"}


def test_tensorflow_datasets_is_not_imported_without_a_prepared_copy(tmp_path):
    environment = {k: v for k, v in os.environ.items() if k != "KERAS_HISTORY_MNIST"}
    script = ("import sys\nfrom keras_history import datasets\n"
              "try:\n    datasets.mnist.load_data()\n"
              "except FileNotFoundError as error:\n    print(error, file=sys.stderr)\n"
              "print('tensorflow_datasets' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            env={**environment, "TFDS_DATA_DIR": str(tmp_path / "none")},
                            timeout=600)
    assert result.stdout.split() == ["False"], result.stderr[-2000:]
    assert "was not found locally" in result.stderr
    # TFDS's own warnings name its source files; TF's C++ start-up lines are not ours to judge.
    assert "tensorflow_datasets/" not in result.stderr
