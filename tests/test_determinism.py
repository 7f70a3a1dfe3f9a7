"""Same seed, same model: `keras.utils.set_random_seed(s)` makes training reproducible.

Every factory is run twice from scratch with its default (unseeded) options,
so the global seed alone decides the initial weights, the shuffled batch order
and, for the convnet, the dropout masks. On CPU the weights, rule state and
optimizer state after training are bitwise identical on every backend
(measured: TensorFlow 2.21, JAX 0.10 and PyTorch 2.13, Keras 3.15); the
tolerance table below says so, and is where a backend that cannot be bitwise
would get its documented tolerance. For the suite's time budget each milestone's
two trainings run on one backend, the three in turn along the timeline
(KERAS_HISTORY_EVERY_BACKEND=1 runs each on every backend).
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
from cases import CASES, in_turn, state

from keras_history.timeline import TIMELINE

FACTORIES = {m.name: m.factory for m in TIMELINE}
BACKEND = keras.backend.backend()
# Largest relative difference allowed between two same-seed runs on CPU.
TOLERANCE = {"tensorflow": 0.0, "jax": 0.0, "torch": 0.0}
# Options that hand the randomness back to the global seed (the cases fix some).
UNSEEDED = {"perceptron": dict(seed=None), "backprop_mlp": dict(seed=None),
            "shallow_net": dict(seed=None),
            "mnist_convnet": dict(dropout_rate=0.2), "alexnet": dict(dropout_rate=0.5),
            "vgg16": dict(dropout_rate=0.5), "resnet": dict(augment="pad_crop_flip"),
            "gan": dict(seed=None), "elman_rnn": dict(seed=None),
            "lstm_1997": dict(seed=None), "lenet5": dict(seed=None), "deep_mlp": dict(seed=None),
            "vgg_like": dict(dropout_rate=0.5, conv_dropout_rate=0.25),
            "dropout_mlp": dict(seed=None, dropout=True), "batch_norm_mlp": dict(seed=None),
            "deep_belief_net": dict(seed=None), "capsnet": dict(seed=None, shift=2),
            "rcnn": dict(seed=None)}
# Models whose initial weights are random draws.
RANDOM_INIT = ("perceptron", "backprop_mlp", "mnist_convnet", "alexnet", "vgg16", "resnet50",
               "resnet", "gan", "elman_rnn", "lstm_1997",
               "lenet5", "shallow_net", "vgg_like", "tutorial_net", "deep_mlp",
               "dropout_mlp", "batch_norm_mlp", "deep_belief_net", "capsnet", "rcnn")


def trained(name: str, seed: int) -> list[np.ndarray]:
    keras.utils.set_random_seed(seed)
    options, load, fit_options = CASES[name]
    model = FACTORIES[name](**{**options, **UNSEEDED.get(name, {})})
    x, y = load()
    model.fit(x, y, epochs=2, shuffle=True, verbose=0, **fit_options)
    return state(model)


def test_every_milestone_is_covered():
    assert set(FACTORIES) <= set(CASES)


# ResNet-50 trains by the CIFAR ResNets' rule, blocks and batch norm, so `resnet` stands for
# it here (two trainings of its 50 layers take over a minute on two cores); its seed is
# checked below.
# Each milestone on one backend, in turn (`cases.in_turn`: the time budget).
@pytest.mark.parametrize("name", in_turn(sorted(set(FACTORIES) - {"resnet50"})))
def test_same_seed_gives_the_same_weights(name):
    first, second = trained(name, 7), trained(name, 7)
    assert len(first) == len(second)
    for a, b in zip(first, second):
        if TOLERANCE[BACKEND] == 0.0:
            np.testing.assert_array_equal(a, b, err_msg=f"{name} on {BACKEND}")
        else:
            np.testing.assert_allclose(a, b, rtol=TOLERANCE[BACKEND], err_msg=name)


@pytest.mark.parametrize("name", RANDOM_INIT)
def test_the_seed_reaches_the_initial_weights(name):
    # The check above means something only if the seed reaches the model at all.
    def initial(seed):
        keras.utils.set_random_seed(seed)
        options, load, _ = CASES[name]
        model = FACTORIES[name](**{**options, **UNSEEDED.get(name, {})})
        if not model.built:
            model.build((None, *np.shape(load()[0])[1:]))
        return [keras.ops.convert_to_numpy(w) for w in model.weights]

    first, again, other = initial(7), initial(7), initial(8)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert any(not np.array_equal(a, b) for a, b in zip(first, other))
