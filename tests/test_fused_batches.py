"""Issue 11: `fit` on in-memory arrays hands a learning-rule model several batches
per compiled call (`LearningRuleModel._batches_per_call`). The rule must see the
same batches, in the same order, as one call per batch; callbacks still see
every epoch, and a per-batch callback still sees every batch."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from keras_history import backend, datasets, models

# JAX and PyTorch give the very same numbers. On TensorFlow one call per batch of
# a single-step rule runs in the graph executor, several batches in XLA (as any
# compiled loop of rules): float32 rounding differs in the last bits.
TOLERANCE = dict(rtol=1e-5, atol=1e-6) if backend.BACKEND == "tensorflow" else dict(rtol=0, atol=0)


def numpy(variable) -> np.ndarray:
    return keras.ops.convert_to_numpy(variable)


class BatchCounter(keras.callbacks.Callback):
    """A per-batch callback: its presence keeps one compiled call per batch."""

    def __init__(self):
        super().__init__()
        self.batches, self.epochs = 0, 0

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1

    def on_epoch_end(self, epoch, logs=None):
        self.epochs += 1


def train(factory, x, y, per_batch: bool, **fit_options):
    """Train a fresh model; return it, its history and what a callback counted."""
    keras.utils.set_random_seed(0)  # the same shuffles for both runs
    model = factory()
    counter = BatchCounter() if per_batch else keras.callbacks.LambdaCallback()
    history = model.fit(x, y, callbacks=[counter], verbose=0, **fit_options)
    return model, history, counter


def xor_repeated(times: int):
    x, y = datasets.logic_gate("xor")
    return np.tile(x, (times, 1)), np.tile(y, (times, 1))


CASES = {
    # The plain Keras habit of issue 11, small: many batches of 4, a partial one at the end.
    "backprop_mlp": (lambda: models.backprop_mlp(weights="snippet"), lambda: xor_repeated(25),
                     dict(batch_size=4, epochs=3)),
    "backprop_mlp_partial": (lambda: models.backprop_mlp(seed=0, steps_per_batch=3),
                             lambda: xor_repeated(5), dict(batch_size=6, epochs=2)),
    "perceptron": (lambda: models.perceptron(seed=1), lambda: datasets.logic_gate("and"),
                   dict(batch_size=1, epochs=4)),
    "linear_regression": (models.linear_regression, datasets.wheat_and_bread,
                          dict(batch_size=2, epochs=5)),
    "least_squares": (models.least_squares, datasets.wheat_and_bread, dict(batch_size=2)),
    "gradient_descent": (lambda: models.gradient_descent(start=0.5, learning_rate=0.01),
                         lambda: (np.zeros((60, 1), "float32"), None), dict(batch_size=1)),
}


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("name", sorted(CASES))
def test_several_batches_per_call_train_as_one_call_per_batch(name, shuffle):
    factory, data, options = CASES[name]
    x, y = data()
    fused, fused_history, _ = train(factory, x, y, per_batch=False, shuffle=shuffle, **options)
    stepped, stepped_history, counter = train(factory, x, y, per_batch=True, shuffle=shuffle,
                                              **options)
    epochs = options.get("epochs", 1)
    assert counter.batches == epochs * -(-len(x) // options["batch_size"])  # every batch
    assert int(numpy(fused.optimizer.iterations)) == int(numpy(stepped.optimizer.iterations))
    for a, b in zip(fused.weights, stepped.weights):
        np.testing.assert_allclose(numpy(a), numpy(b), err_msg=a.path, **TOLERANCE)
    assert fused_history.history.keys() == stepped_history.history.keys()
    for key, values in fused_history.history.items():  # one log per epoch, the same numbers
        np.testing.assert_allclose(values, stepped_history.history[key], **TOLERANCE)
        assert len(values) == epochs


def test_the_plain_keras_habit_reproduces_the_snippet():
    # 60 epochs of 1,000 batches of the four XOR rows, in order: the snippet's 60,000 steps.
    x, y = xor_repeated(1000)
    model = models.backprop_mlp(weights="snippet")
    model.fit(x, y, batch_size=4, epochs=60, shuffle=False, verbose=0)
    np.testing.assert_allclose(model.predict(x[:4], verbose=0).ravel(),
                               [0.0026, 0.9967, 0.9970, 0.0039], atol=5e-5)
    assert int(numpy(model.optimizer.iterations)) == 60_000


def test_epoch_level_callbacks_see_every_epoch_and_can_stop_training():
    x, y = xor_repeated(10)
    epochs = []
    stop = keras.callbacks.EarlyStopping(monitor="loss", patience=0, min_delta=10.0)
    record = keras.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: epochs.append(e))
    model = models.backprop_mlp(seed=0)
    model.fit(x, y, batch_size=4, epochs=5, verbose=0, callbacks=[record])
    assert epochs == [0, 1, 2, 3, 4]
    assert int(numpy(model.optimizer.iterations)) == 5 * 10
    history = models.backprop_mlp(seed=0).fit(x, y, batch_size=4, epochs=5, verbose=0,
                                             callbacks=[stop])
    assert len(history.history["loss"]) == 2  # stopped after the second epoch, as Keras does


def test_a_progress_bar_splits_the_epoch_into_calls_with_the_same_result(capsys):
    # 2,500 single-sample batches, shown: calls of 1,000, 1,000 and 500 batches (two shapes
    # of compiled call, the second one of unknown length on TensorFlow).
    x, y = datasets.logic_gate("or")
    x, y = np.tile(x, (625, 1)), np.tile(y, (625, 1))
    keras.utils.set_random_seed(0)
    shown = models.perceptron(seed=1)
    shown.fit(x, y, batch_size=1, epochs=2, verbose=1)
    assert "2500/2500" in capsys.readouterr().out
    stepped, _, _ = train(lambda: models.perceptron(seed=1), x, y, per_batch=True,
                          batch_size=1, epochs=2)
    for a, b in zip(shown.weights, stepped.weights):
        np.testing.assert_allclose(numpy(a), numpy(b), err_msg=a.path, **TOLERANCE)


@pytest.mark.skipif(backend.BACKEND != "tensorflow", reason="TensorFlow's repeated dataset")
def test_tensorflow_repeats_one_dataset_reshuffled_each_epoch():
    x = np.arange(10, dtype="float32")[:, None]
    feed = backend.repeated_batches(x, x, 4, shuffle=True)
    assert feed["steps_per_epoch"] == 3
    batches = iter(feed["x"])
    epochs = [[numpy(next(batches)[0]).ravel() for _ in range(3)] for _ in range(3)]
    for epoch in epochs:  # every sample once an epoch, in batches of 4, 4 and 2
        assert [len(b) for b in epoch] == [4, 4, 2]
        assert sorted(np.concatenate(epoch).tolist()) == list(range(10))
    orders = {tuple(np.concatenate(epoch).tolist()) for epoch in epochs}
    assert len(orders) == 3  # a new order each epoch, as Keras shuffles arrays
