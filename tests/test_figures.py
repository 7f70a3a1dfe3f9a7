"""scripts/make_figures.py, as CI runs it: every figure, quick, on the embedded data."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import keras
import pytest

pytest.importorskip("matplotlib")

from keras_history import figures  # noqa: E402
from keras_history.timeline import TIMELINE  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PNG = b"\x89PNG\r\n\x1a\n"


def load_script():
    spec = importlib.util.spec_from_file_location("make_figures",
                                                  ROOT / "scripts" / "make_figures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_figure_is_a_milestone_or_the_timeline():
    assert set(figures.FIGURES) <= {"timeline"} | {m.name for m in TIMELINE}
    assert {"timeline", "least_squares", "gradient_descent", "linear_regression",
            "perceptron", "backprop_mlp", "mnist_convnet"} <= set(figures.FIGURES)


# Figures drawn from a milestone's long benchmark runs (hours here) by its own script.
FROM_BENCHMARKS = {
    "batch_norm_figure1.png": "figures_batch_norm.py",
    "gan-noise-line.png": "figures_gan.py", "gan-samples-nearest.png": "figures_gan.py",
    "lenet5_c1_filters.png": "figures_lenet5.py", "lenet5_error_per_pass.png": "figures_lenet5.py",
    "lenet5_prototypes.png": "figures_lenet5.py",
    "lstm_adding_carousel.png": "figures_recurrent.py",
    "lstm_reber_cell_states.png": "figures_recurrent.py",
    "reber_success.png": "figures_recurrent.py",
}


# The script draws the same figures on any backend; the backends' models are tested elsewhere.
@pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                    reason="make_figures.py runs on TensorFlow only (time budget: 1.5-3 min)")
def test_make_figures_quick_writes_every_figure(tmp_path):
    assert load_script().main(["--quick", "--out", str(tmp_path)]) == 0
    written = {p.name for p in tmp_path.iterdir()}
    committed = {p.name for p in (ROOT / "docs" / "figures").glob("*.png")}
    # The script makes every other figure the docs show, and no figure they do not.
    assert written == committed - set(FROM_BENCHMARKS)
    for name, script in FROM_BENCHMARKS.items():
        assert name in committed and (ROOT / "scripts" / script).is_file(), name
    for name in written:
        data = (tmp_path / name).read_bytes()
        assert data.startswith(PNG) and len(data) > 2000, name
