"""How Keras calls a rule: `BackendStepsMixin`'s train and test steps, and the train
functions a rule model builds (`rule_train_function`, `chunked_train_function`),
compiled with XLA as `rule_jit_compile` decides.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Sequence

import keras

from keras_history.backend.distribute import _multi_worker_logs, distributed_step
from keras_history.backend.execution import BACKEND, _groups, run_stateless
from keras_history.backend.torch_loop import compiled_loops

# Rule steps from which XLA's compile (about 0.3-0.5 s on the 2-core CI machine)
# costs less than TensorFlow's graph executor spends looping (about 30 us a step).
XLA_MIN_STEPS = 10_000


def rule_jit_compile(jit_compile, looped_steps: int):
    """Resolve `jit_compile="auto"` for a learning-rule model whose `fit` runs
    `looped_steps` rule steps inside compiled loops.

    Keras turns XLA off on CPU-only TensorFlow. A rule repeated in a loop is
    many tiny ops, where XLA's fused while-loop is several times faster than
    the graph executor; for a few steps its compile time would cost more than
    it saves.
    """
    if jit_compile == "auto" and BACKEND == "tensorflow":
        return looped_steps >= XLA_MIN_STEPS
    return jit_compile


def _no_grad():
    """Rules derive their own updates: PyTorch need not record a graph."""
    if BACKEND == "torch":
        import torch

        return torch.no_grad()
    return contextlib.nullcontext()


def _jax_step(model: keras.Model, method: Callable, state, data, training: bool):
    groups = _groups(model, training)
    variables = [v for group in groups for v in group]
    values = [v for group in state for v in group]
    logs, new_values = run_stateless(lambda: method(data), variables, values)
    new_state, start = [], 0
    for group in groups:
        new_state.append(new_values[start : start + len(group)])
        start += len(group)
    return logs, tuple(new_state)


class BackendStepsMixin:
    """Routes Keras's `train_step`/`test_step` to `learning_rule`/`measure`."""

    @property
    def loss_tracker(self) -> keras.metrics.Mean:
        """The "loss" mean that `compile()` always creates; feeding it keeps one `loss` log."""
        return self._loss_tracker

    if BACKEND == "jax":

        def train_step(self, state, data):
            return _jax_step(self, self.learning_rule, state, data, training=True)

        def test_step(self, state, data):
            return _jax_step(self, self.measure, state, data, training=False)

    else:

        def train_step(self, data):
            with _no_grad(), compiled_loops(not self.run_eagerly):
                return _multi_worker_logs(distributed_step(self, self.learning_rule, data))

        def test_step(self, data):
            with _no_grad():
                return _multi_worker_logs(self.measure(data))

    if BACKEND == "tensorflow":

        def _maybe_symbolic_build(self, iterator=None, data_batch=None):
            # Keras averages the first batch across replicas only to learn its shapes, which
            # MultiWorkerMirroredStrategy cannot do eagerly (keras-team/keras#20585): this
            # process's first share has the same shapes.
            import tensorflow as tf

            if iterator is None or self._distribute_strategy is None:
                return super()._maybe_symbolic_build(iterator, data_batch)
            for _, _, batches in iterator:
                data_batch = tf.nest.map_structure(
                    lambda v: self._distribute_strategy.experimental_local_results(v)[0]
                    if isinstance(v, tf.distribute.DistributedValues) else v, next(batches))
                break
            with self._distribute_strategy.scope():
                self._symbolic_build(data_batch=data_batch)


def rule_train_function(model: keras.Model, steps: int) -> Callable:
    """Keras's train function for `model`, its step applying the rule `steps` times.

    Compiled as `model.compile` asked (the same route as Keras's own
    `make_train_function`), with the step count fixed in the compiled program.
    """

    def learn(data):
        return model.learning_rule(data, steps=steps)

    if BACKEND == "jax":
        import jax

        def train_step(state, data):
            return _jax_step(model, learn, state, data, training=True)

        if not model.run_eagerly and model.jit_compile:
            train_step = jax.jit(train_step, donate_argnums=0)
        return model._make_function(train_step)

    def train_step(data):
        with _no_grad(), compiled_loops(not model.run_eagerly):
            return _multi_worker_logs(distributed_step(model, learn, data))

    if BACKEND == "tensorflow":
        return model._make_function(train_step)
    if model._should_torch_compile():
        import torch

        train_step = torch.compile(train_step)
    return lambda batches: train_step(batches[0])


def chunked_train_function(functions: Sequence[tuple[int, Callable]], steps_per_execution: int,
                           after_chunk: Callable[[int, dict], None]) -> Callable:
    """A train function that runs each batch through `functions` in turn (chunks of a
    long rule), calling `after_chunk(steps, logs)` between them, on the host.

    Each of `functions` is a `rule_train_function`, given one batch at a time.
    """

    def batches(iterator):
        return itertools.islice(iterator, steps_per_execution)

    if BACKEND == "jax":

        def train_function(state, iterator):
            logs = None
            for data in batches(iterator):
                for steps, function in functions:
                    logs, state = function(state, iter([data]))
                    after_chunk(steps, logs)
            if logs is None:
                raise StopIteration
            return logs, state

        return train_function

    def train_function(iterator):
        logs = None
        for data in batches(iterator):
            for steps, function in functions:
                logs = function([data])
                after_chunk(steps, logs)
        if logs is None:
            raise StopIteration
        return logs

    return train_function


def input_shape(model: keras.Model) -> tuple:
    """The input shape (batch axis None) that `model.export` will use, from its first call."""
    from keras.src.export.export_utils import get_input_signature

    return tuple(get_input_signature(model)[0].shape)
