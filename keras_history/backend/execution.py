"""Stateless execution of rules: the per-backend code a rule calls while it runs.

Compiled loops (`loop`, `repeat`, `scan`), slices of a size known only when
the compiled code runs (`rows`, `samples`), gradients (`value_and_grad`,
`values_and_grads`), `run_stateless`, which runs code on given values of
variables in a `keras.StatelessScope` (how JAX gets the new state back), and
`strided_conv`, a strided convolution in the form each backend differentiates fastest.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable, Sequence

import keras
from keras.src.backend.common.stateless_scope import get_stateless_scope

from keras_history.backend.torch_loop import _compiled_loops, _scope, _torch_loop

BACKEND = keras.backend.backend()


def set_random_seed(seed: int) -> None:
    """`keras.utils.set_random_seed(seed)`, without importing TensorFlow for it.

    Keras seeds TensorFlow's generator whenever TensorFlow is installed, which
    imports it: about 3 s on JAX or PyTorch, for a generator nothing there
    draws from (they shuffle arrays with NumPy). Where TensorFlow is the backend
    or already imported, it is seeded as Keras does.
    """
    if BACKEND == "tensorflow" or "tensorflow" in sys.modules:
        keras.utils.set_random_seed(seed)
        return
    from keras.src.utils import rng_utils

    lazy_tensorflow, rng_utils.tf = rng_utils.tf, types.SimpleNamespace(available=False)
    try:
        keras.utils.set_random_seed(seed)
    finally:
        rng_utils.tf = lazy_tensorflow


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
        times = int(times)
        if times > 1 and _compiled_loops[0] and _torch_loop(step, times, variables):
            return
        # Eager (run_eagerly, or a rule that cannot be recorded): one op at a time.
        for index in range(times):
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
    if BACKEND == "torch" and not isinstance(start, int):
        # Rows by index: slicing at a tensor would read it on the host, which the
        # recorded loop (`_torch_loop`) cannot replay.
        return keras.ops.take(x, start + keras.ops.arange(size, dtype=start.dtype), axis=0)
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


def in_slices(step: Callable[[object, object], None], x, y, size: int,
              variables: Sequence[keras.Variable]) -> None:
    """Run `step(x_rows, y_rows)` on `x` (and `y`, or None) in consecutive slices of
    `size` rows, in order, the last one short if the length is not a multiple;
    `step` assigns `variables`. One compiled loop for the full slices, one for the rest.
    """
    count = samples(x)
    full = count // size

    def on_slice(index):
        step(rows(x, index * size, size), None if y is None else rows(y, index * size, size))

    loop(on_slice, full, variables)
    # The last, short slice, if any. (When the length is known only as the code
    # runs, the loop's body is compiled anyway: it then slices at least one row.)
    start = full * size if isinstance(count, int) else keras.ops.minimum(full * size, count - 1)
    rest = (x[start:], None if y is None else y[start:])
    loop(lambda _: step(*rest), at_most_one(count - full * size), variables)


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


def strided_conv(inputs, kernel, strides: int):
    """`keras.ops.conv(inputs, kernel, strides)` without padding (NHWC inputs, HWIO kernel).

    On JAX it is computed as the stride-1 convolution of a space-to-depth
    rearrangement (each s×s block of pixels into the channels, the kernel
    rearranged alike), the same sums in another order: XLA's CPU gradient of a
    strided convolution with respect to its input, a convolution of a dilated
    input, is about 10 times slower than the forward pass (CapsNet's PrimaryCaps,
    9×9 stride 2 over 256 channels: 10 s against 1 s for 16 images), while that
    of a stride-1 convolution costs about as much as the forward pass. TensorFlow
    and PyTorch differentiate the strided convolution itself faster.
    """
    if BACKEND != "jax" or strides == 1:
        return keras.ops.conv(inputs, kernel, strides=strides)
    ops, s = keras.ops, strides
    height, width, channels = inputs.shape[1:]
    size_h, size_w = kernel.shape[:2]
    rows, columns = -(-height // s), -(-width // s)  # blocks, the last padded with zeros
    x = ops.pad(inputs, [[0, 0], [0, rows * s - height], [0, columns * s - width], [0, 0]])
    x = ops.transpose(ops.reshape(x, (-1, rows, s, columns, s, channels)), (0, 1, 3, 2, 4, 5))
    x = ops.reshape(x, (-1, rows, columns, s * s * channels))
    taps_h, taps_w = -(-size_h // s), -(-size_w // s)
    k = ops.pad(kernel, [[0, taps_h * s - size_h], [0, taps_w * s - size_w], [0, 0], [0, 0]])
    k = ops.transpose(ops.reshape(k, (taps_h, s, taps_w, s, channels, -1)), (0, 2, 1, 3, 4, 5))
    k = ops.reshape(k, (taps_h, taps_w, s * s * channels, -1))
    # A padded block may add an output row or column past the strided convolution's.
    return ops.conv(x, k)[:, :(height - size_h) // s + 1, :(width - size_w) // s + 1]


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


def _groups(model: keras.Model, training: bool) -> list[list[keras.Variable]]:
    """The variables of each part of the JAX trainer's `state`, in its order."""
    groups = [model.trainable_variables, model.non_trainable_variables]
    if training:
        groups.append(model.optimizer.variables)
    groups.append(model.metrics_variables)
    return groups


def all_state_variables(model: keras.Model) -> list[keras.Variable]:
    """Every variable a training step may change: weights, optimizer, metrics."""
    return [v for group in _groups(model, training=True) for v in group]
