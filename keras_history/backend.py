"""The one place that knows which Keras backend is running.

Every learning rule in keras_history is written once, with `keras.ops` and
`Variable.assign`. What differs between backends is only how Keras calls a
training step and how a gradient is taken:

- TensorFlow and PyTorch call `train_step(data)` and let it assign variables.
- JAX calls `train_step(state, data)` and wants the new state back, because a
  jitted JAX function cannot mutate anything. `keras.StatelessScope` bridges
  the two: assignments made inside the scope are recorded, not applied, and
  we hand the recorded values back to the JAX trainer.

Models get this behaviour by inheriting from `BackendStepsMixin` and writing
`learning_rule(data)` (training) and `measure(data)` (evaluation), both of
which return the logs dict.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence

import keras
from keras.src.backend.common.stateless_scope import get_stateless_scope

BACKEND = keras.backend.backend()


def _scope(pairs) -> keras.StatelessScope:
    """A StatelessScope over `pairs` that also sees the enclosing scope's values."""
    scope = keras.StatelessScope(list(pairs))
    parent = get_stateless_scope()
    if parent is not None:
        scope.state_mapping = {**parent.state_mapping, **scope.state_mapping}
    return scope


def run_stateless(
    fn: Callable, variables: Sequence[keras.Variable], values: Sequence
) -> tuple[object, list]:
    """Run `fn()` with `variables` holding `values`; return its result and their new values."""
    with _scope(zip(variables, values)) as scope:
        result = fn()
    return result, [scope.get_current_value(v) for v in variables]


def repeat(step: Callable[[], None], times: int, variables: Sequence[keras.Variable]):
    """Run `step()` (which assigns `variables`) `times` times in one compiled loop.

    The loop carries the variables' values, so the compiled graph holds one
    copy of the step however many times it runs.
    """
    if times == 1 or BACKEND == "torch":
        # PyTorch runs eagerly: a plain loop is its compiled loop.
        for _ in range(times):
            step()
        return

    def body(_, values):
        return run_stateless(step, variables, values)[1]

    values = keras.ops.fori_loop(0, times, body, [v.value for v in variables])
    for variable, value in zip(variables, values):
        variable.assign(value)


def value_and_grad(
    loss_fn: Callable[[], tuple],
    variables: Sequence[keras.Variable],
    state_variables: Sequence[keras.Variable] = (),
):
    """Return `(loss, aux, gradients)` of `loss, aux = loss_fn()` w.r.t. `variables`.

    `state_variables` are the other variables `loss_fn` may assign (dropout's
    seed, for instance); their updates are kept on every backend.
    """
    if BACKEND == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss, aux = loss_fn()
        return loss, aux, tape.gradient(loss, list(variables))
    if BACKEND == "torch":
        import torch

        with torch.enable_grad():
            loss, aux = loss_fn()
            grads = torch.autograd.grad(loss, [v.value for v in variables])
        return loss, aux, list(grads)
    if BACKEND == "jax":
        import jax

        state_variables = list(state_variables)

        def pure(values, state_values):
            (loss, aux), new_values = run_stateless(
                loss_fn, list(variables) + state_variables, values + state_values
            )
            return loss, (aux, new_values[len(values) :])

        (loss, (aux, new_state)), grads = jax.value_and_grad(pure, has_aux=True)(
            [v.value for v in variables], [v.value for v in state_variables]
        )
        for variable, value in zip(state_variables, new_state):
            variable.assign(value)
        return loss, aux, grads
    raise NotImplementedError(f"keras_history does not support the {BACKEND!r} backend.")


def compiled_reader(fn: Callable, variables: Sequence[keras.Variable]) -> Callable:
    """`fn(*tensors)` compiled once for this backend. It may read `variables`, not assign them.

    Used for computations a rule needs outside `fit`'s steps (LeNet-5's
    curvature estimate before each pass): TensorFlow traces it into a graph,
    JAX jits it with the variables' current values passed in, PyTorch runs it
    as is.
    """
    if BACKEND == "tensorflow":
        import tensorflow as tf

        return tf.function(fn)
    if BACKEND == "jax":
        import jax

        def pure(values, *args):
            return run_stateless(lambda: fn(*args), variables, values)[0]

        jitted = jax.jit(pure)
        return lambda *args: jitted([v.value for v in variables], *args)
    return fn


def rule_jit_compile(jit_compile, loops: bool):
    """Resolve `jit_compile="auto"` for a learning-rule model.

    Keras turns XLA off on CPU-only TensorFlow. A rule repeated in a loop is
    many tiny ops, where XLA's fused while-loop is several times faster than
    the graph executor, so for those we turn it on; for a single step the
    compile time would cost more than it saves.
    """
    if jit_compile == "auto" and BACKEND == "tensorflow":
        return loops
    return jit_compile


def _no_grad():
    """Rules derive their own updates: PyTorch need not record a graph."""
    if BACKEND == "torch":
        import torch

        return torch.no_grad()
    return contextlib.nullcontext()


def _groups(model: keras.Model, training: bool) -> list[list[keras.Variable]]:
    """The variables of each part of the JAX trainer's `state`, in its order."""
    groups = [model.trainable_variables, model.non_trainable_variables]
    if training:
        groups.append(model.optimizer.variables)
    groups.append(model.metrics_variables)
    return groups


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
            with _no_grad():
                return self.learning_rule(data)

        def test_step(self, data):
            with _no_grad():
                return self.measure(data)


def input_shape(model: keras.Model) -> tuple:
    """The input shape (batch axis None) that `model.export` will use, from its first call."""
    from keras.src.export.export_utils import get_input_signature

    return tuple(get_input_signature(model)[0].shape)


def all_state_variables(model: keras.Model) -> list[keras.Variable]:
    """Every variable a training step may change: weights, optimizer, metrics."""
    return [v for group in _groups(model, training=True) for v in group]
