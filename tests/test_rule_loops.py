"""A rule repeated in one compiled loop (`steps_per_batch > 1`) takes the eager steps' numbers.

On PyTorch the loop is the step's recorded aten ops run by TorchScript
(keras_history.backend.torch_loop); `run_eagerly=True` runs the rule one Keras op at a
time. Eager runs of the same rule already differ from each other in the last
bits (MKL rounds small matrix products by where they sit in memory), so the
comparison allows float32 rounding, not exact equality.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import BACKEND

from keras_history import datasets, models
from keras_history.backend import torch_loop

STEPS, EPOCHS = 50, 4


def _train(steps_per_batch: int, epochs: int, run_eagerly: bool):
    x, y = datasets.logic_gate("xor")
    model = models.backprop_mlp(weights="snippet", steps_per_batch=steps_per_batch)
    # (TensorFlow's XLA, which "auto" picks for loops, cannot run eagerly.)
    model.compile(run_eagerly=run_eagerly, jit_compile=False if run_eagerly else "auto")
    history = model.fit(x, y, epochs=epochs, verbose=0)
    return model, history.history["loss"]


def test_backprop_loop_matches_eager_steps():
    fast, _ = _train(STEPS, EPOCHS, run_eagerly=False)
    eager, _ = _train(1, STEPS * EPOCHS, run_eagerly=True)
    assert int(fast.optimizer.iterations.numpy()) == STEPS * EPOCHS
    for got, want in zip(fast.get_weights(), eager.get_weights()):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_backprop_loop_matches_eager_loop():
    fast, fast_loss = _train(STEPS, EPOCHS, run_eagerly=False)
    eager, eager_loss = _train(STEPS, EPOCHS, run_eagerly=True)
    for got, want in zip(fast.get_weights(), eager.get_weights()):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fast_loss, eager_loss, rtol=1e-5)


@pytest.mark.skipif(BACKEND != "torch", reason="the recorded TorchScript loop is PyTorch's")
def test_torch_loop_is_compiled_once_and_eager_stays_eager():
    torch_loop._TORCH_LOOPS.clear()
    _train(STEPS, 2, run_eagerly=True)
    assert not torch_loop._TORCH_LOOPS  # run_eagerly: no recording, no TorchScript
    _train(STEPS, 2, run_eagerly=False)
    _train(STEPS, 2, run_eagerly=False)  # a fresh model reuses the first one's loop
    assert len(torch_loop._TORCH_LOOPS) == 1
    assert all(loop is not None for loop in torch_loop._TORCH_LOOPS.values())
