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
import itertools
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
    if times == 1:
        step()
        return
    loop(lambda _: step(), times, variables)


def loop(step: Callable[[object], None], times, variables: Sequence[keras.Variable]):
    """Run `step(i)` for i = 0 .. times-1 in one compiled loop; `step` assigns `variables`.

    `times` may be a tensor (a batch's size, unknown until it runs).
    """
    if isinstance(times, int) and times <= 1:
        if times == 1:
            step(0)
        return
    if BACKEND == "torch":
        # PyTorch runs eagerly: a plain loop is its compiled loop.
        for index in range(int(times)):
            step(index)
        return

    def body(index, values):
        return run_stateless(lambda: step(index), variables, values)[1]

    values = keras.ops.fori_loop(0, times, body, [v.value for v in variables])
    for variable, value in zip(variables, values):
        variable.assign(value)


def rows(x, start, size: int):
    """`x[start:start + size]` for a `start` known only when the compiled code runs."""
    if BACKEND == "jax":
        import jax

        return jax.lax.dynamic_slice_in_dim(x, start, size)
    if BACKEND == "tensorflow" and x.shape.rank is not None:
        import tensorflow as tf

        # A slice of static size: XLA compiles it as one dynamic-slice.
        rest = x.shape.rank - 1
        return tf.slice(x, [start] + [0] * rest, [size] + [-1] * rest)
    return x[start:start + size]


def samples(x):
    """The length of `x`'s first axis (on TensorFlow, also where its rank is unknown)."""
    if BACKEND == "tensorflow" and (x.shape.rank is None or x.shape[0] is None):
        import tensorflow as tf

        return tf.shape(x)[0]
    return keras.ops.shape(x)[0]


def at_most_one(count):
    """1 if `count` > 0 else 0, for `count` a Python int or (TensorFlow) a tensor."""
    return min(count, 1) if isinstance(count, int) else keras.ops.minimum(count, 1)


def repeated_batches(x, y, batch_size: int, shuffle: bool) -> dict:
    """`fit`'s data arguments for arrays `x`, `y` in batches of `batch_size`.

    Keras's TensorFlow trainer builds a new `tf.data` iterator each epoch, about
    20 ms of overhead, more than a whole epoch of a classic rule: there the
    batches, shuffled as Keras shuffles arrays, come from one dataset repeated
    for the whole of `fit`. The other backends slice the arrays on the host.
    """
    if BACKEND != "tensorflow":
        return {"x": x, "y": y, "batch_size": batch_size}
    from keras.src.trainers.data_adapters.array_data_adapter import ArrayDataAdapter

    dataset = ArrayDataAdapter(x, y, batch_size=batch_size, shuffle=shuffle).get_tf_dataset()
    return {"x": dataset.repeat(), "y": None, "batch_size": None, "shuffle": False,
            "steps_per_epoch": -(-len(x) // batch_size)}


def scan(step: Callable, init, xs):
    """`keras.ops.scan(step, init, xs)`'s stacked outputs, each shaped like the carry.

    On TensorFlow the loop is written without tensor lists (Keras's scan keeps
    its steps in `TensorArray`s): each step's output is placed into a
    preallocated (steps, ...) tensor. The graph is then a plain while loop,
    which the LiteRT converter and tf2onnx convert when the batch size is
    unknown (a tensor list of unknown element shape they cannot).
    """
    if BACKEND != "tensorflow":
        return keras.ops.scan(step, init, xs)[1]
    import tensorflow as tf

    steps = tf.shape(xs)[0]
    at_step = tf.range(steps)

    def body(index, carry, outputs):
        carry, output = step(carry, tf.gather(xs, index))
        here = tf.reshape(tf.equal(at_step, index), [-1] + [1] * len(init.shape))
        return index + 1, carry, tf.where(here, output[None], outputs)

    outputs = tf.zeros(tf.concat([[steps], tf.shape(init)], axis=0), init.dtype)
    return tf.while_loop(lambda index, *_: index < steps, body, (0, init, outputs))[2]


def refuse_replicas(model: keras.Model) -> None:
    """Refuse to train under a `tf.distribute` strategy with several replicas.

    Keras's TensorFlow trainer runs a train step per replica, on its share of
    the batch; the rules here would `assign` one share's update (least squares'
    sums turn to NaN under `MirroredStrategy`), not the global batch's.
    """
    strategy = getattr(model, "distribute_strategy", None) if BACKEND == "tensorflow" else None
    if strategy is not None and strategy.num_replicas_in_sync > 1:
        raise NotImplementedError(
            f"{type(model).__name__} cannot train under {type(strategy).__name__} "
            f"({strategy.num_replicas_in_sync} replicas) yet: its rule would update from one "
            "replica's share of each batch. Train data-parallel on the JAX backend with "
            "keras.distribution.DataParallel (docs/distribution.md), or without a strategy.")


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

        # Inside a compiled `loop` the variables are read from a StatelessScope:
        # the gradient is taken with respect to the values the scope hands out.
        scope = get_stateless_scope()
        sources = [v if scope is None or scope.get_current_value(v) is None
                   else scope.get_current_value(v) for v in variables]
        with tf.GradientTape() as tape:
            tape.watch([s for s in sources if not isinstance(s, keras.Variable)])
            loss, aux = loss_fn()
        return loss, aux, tape.gradient(loss, sources)
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


def values_and_grads(
    loss_fn: Callable[[], tuple],
    variable_groups: Sequence[Sequence[keras.Variable]],
    state_variables: Sequence[keras.Variable] = (),
):
    """Return `(losses, aux, gradients)` of `losses, aux = loss_fn()`, one forward pass.

    `losses[i]` is differentiated with respect to `variable_groups[i]` only, so
    two players' objectives (a GAN's discriminator and generator) get their
    own gradients from the same batch, samples and dropout masks.
    `state_variables` are as in `value_and_grad`.
    """
    groups = [list(group) for group in variable_groups]
    if BACKEND == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape(persistent=True) as tape:
            losses, aux = loss_fn()
        grads = [tape.gradient(loss, group) for loss, group in zip(losses, groups)]
        del tape
        return losses, aux, grads
    if BACKEND == "torch":
        import torch

        with torch.enable_grad():
            losses, aux = loss_fn()
            grads = [list(torch.autograd.grad(loss, [v.value for v in group],
                                              retain_graph=True))
                     for loss, group in zip(losses, groups)]
        return losses, aux, grads
    if BACKEND == "jax":
        import jax
        import jax.numpy as jnp

        state_variables = list(state_variables)

        def pure(*values):
            flat = [v for group in values for v in group]
            everything = [v for group in groups for v in group] + state_variables
            (losses, aux), new_values = run_stateless(
                loss_fn, everything, flat + [v.value for v in state_variables]
            )
            return tuple(losses), (aux, new_values[len(flat):])

        losses, pullback, (aux, new_state) = jax.vjp(
            pure, *[[v.value for v in group] for group in groups], has_aux=True
        )
        grads = []
        for index in range(len(groups)):
            # The cotangent that picks loss `index`; its pullback onto group `index`.
            picks = tuple(jnp.ones_like(loss) if i == index else jnp.zeros_like(loss)
                          for i, loss in enumerate(losses))
            grads.append(pullback(picks)[index])
        for variable, value in zip(state_variables, new_state):
            variable.assign(value)
        return list(losses), aux, grads
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
        with _no_grad():
            return learn(data)

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


def all_state_variables(model: keras.Model) -> list[keras.Variable]:
    """Every variable a training step may change: weights, optimizer, metrics."""
    return [v for group in _groups(model, training=True) for v in group]
