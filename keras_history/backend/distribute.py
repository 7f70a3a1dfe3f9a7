"""Data parallelism: a rule's step under `tf.distribute` is that of the global batch.

`distributed_step` routes a step (data-parallel for `splits_batch` models,
the whole gathered batch otherwise); `apply_gradients` and `replica_share`
weight gradients and share noise by replica; `lost_workers_explained` and
`_multi_worker_logs` handle MultiWorkerMirroredStrategy (docs/distribution.md).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator, Sequence

import keras

from keras_history.backend.execution import BACKEND, all_state_variables

# While a `splits_batch` step is traced under tf.distribute: this replica's rows of the
# global batch, as (first row, rows, global rows); see `distributed_step`.
_share: list = [None]


def _share_of(context, share) -> tuple:
    """(first row, rows, global rows) of this replica's `share` of the global batch."""
    import tensorflow as tf

    replicas, index = context.num_replicas_in_sync, context.replica_id_in_sync_group
    count = tf.shape(share, out_type=tf.int32)[0]
    counts = context.all_reduce("sum", tf.one_hot(index, replicas, dtype=tf.int32) * count)
    return tf.reduce_sum(counts[:index]), count, tf.reduce_sum(counts)


def _replicas() -> int:
    """How many replicas run this TensorFlow train step in sync (1 outside `tf.distribute`)."""
    if BACKEND != "tensorflow":
        return 1
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    return 1 if context is None else context.num_replicas_in_sync


def _strategy_of(model: keras.Model):
    """The `tf.distribute` strategy `model` was made under (None on other backends)."""
    return getattr(model, "distribute_strategy", None) if BACKEND == "tensorflow" else None


def _multi_worker(strategy) -> bool:
    """Whether `strategy` spans several worker processes (MultiWorkerMirroredStrategy)."""
    return strategy is not None and getattr(strategy.extended, "_in_multi_worker_mode", bool)()


@contextlib.contextmanager
def lost_workers_explained(model: keras.Model) -> Iterator[None]:
    """Turn the collective error of a MultiWorkerMirroredStrategy job whose worker died
    (or stopped answering) into a message that says what happened and what to do."""
    if not _multi_worker(_strategy_of(model)):
        yield
        return
    import tensorflow as tf

    try:
        yield
    except (tf.errors.UnavailableError, tf.errors.DeadlineExceededError) as error:
        lines = [line.strip() for line in str(error).splitlines() if line.strip()] or [""]
        # TensorFlow's own words, without its op names: "The following tasks are unhealthy".
        reason = next((line for line in lines if "unhealthy" in line or "eadline" in line),
                      lines[0])
        reason = reason[reason.find("The following"):] if "The following" in reason else reason
        raise RuntimeError(
            f"{type(model).__name__} lost a worker of its MultiWorkerMirroredStrategy job "
            f"({type(error).__name__}: {reason[:300]}). Start "
            "every worker again; with keras.callbacks.BackupAndRestore (a folder per "
            "worker) training resumes from the last backup (docs/distribution.md).") from None


def strategy_scope(model: keras.Model):
    """The scope of the `tf.distribute` strategy `model` was made under (a no-op elsewhere)."""
    strategy = _strategy_of(model)
    return contextlib.nullcontext() if strategy is None else strategy.scope()


def distributed_step(model: keras.Model, rule: Callable[[object], dict], data) -> dict:
    """Run `rule(data)` as the global batch's step when `tf.distribute` split the batch.

    A rule's update is always that of the global batch (docs/distribution.md).
    Under a TensorFlow strategy each replica holds a share of it, and a model
    takes one of two routes:

    - `splits_batch` models (a gradient of a mean loss, stepped by a Keras
      optimizer) are data-parallel as Keras's own `fit` is: each replica takes
      the gradient of its share, `apply_gradients` sums them across replicas
      (each weighted by its share of the rows), batch normalization uses the
      global batch's moments and `replica_share` the global batch's noise.
    - Every other rule (Legendre's sums, the perceptron's walk through the
      batch in order, a rule that assigns its own update) sees the whole
      global batch: every replica gathers the shares (in replica order), and
      one cross-replica call per process applies the rule and writes the new
      state to every replica's copy. That compute is replicated, not divided.
    """
    if _replicas() == 1:
        return rule(data)
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    rows = _share_of(context, tf.nest.flatten(data)[0])  # x's, y's: the same rows
    if getattr(model, "splits_batch", False):
        norms = [layer for layer in model._flatten_layers()
                 if isinstance(layer, keras.layers.BatchNormalization)]
        for layer in norms:  # while the step is traced
            layer._moments = functools.partial(_global_moments, layer)
        _share[0] = rows
        try:
            return rule(data)
        finally:
            _share[0] = None
            for layer in norms:
                vars(layer).pop("_moments", None)
    gathered = tf.nest.map_structure(lambda share: _all_gather(context, share, rows), data)
    variables = all_state_variables(model)

    def apply(strategy, replicated):
        from tensorflow.python.distribute.distribute_lib import UpdateContext

        global_batch = strategy.experimental_local_results(replicated)[0]
        # A metric's per-replica totals take no `assign_add` here: the rule sees their
        # sums (what a read returns) in a scope that records its Keras-level assigns.
        totals = [(v, tf.identity(v.value)) for v in model.metrics_variables]
        # The rule reads, differentiates and assigns the first replica's copy of each
        # variable (a gradient tape needs one); that copy then goes to every replica.
        with keras.StatelessScope(totals) as scope, UpdateContext(0):
            logs = rule(global_batch)
        for variable in variables:
            value = scope.get_current_value(variable)
            if value is None and variable.synchronization != "on_read":
                value = tf.identity(variable.value.values[0])
            if value is not None:
                variable.assign(value)
        return logs

    return context.merge_call(apply, args=(gathered,))


def _all_gather(context, share, rows: tuple):
    """The replicas' shares of a batch, concatenated in replica order, on every replica;
    `rows` is `_share_of` the share.

    Built from an all-reduce (each share placed at its offset in zeros, then
    summed, which adds only zeros to each number): `ReplicaContext.all_gather`
    fails under MultiWorkerMirroredStrategy ("destinations can not be empty").
    """
    import tensorflow as tf

    start, count, total = rows
    summable = share.dtype in (tf.float16, tf.float32, tf.float64, tf.int32, tf.int64)
    wide = share if summable else tf.cast(share, tf.int32)  # uint8 pixels, say
    padding = [[start, total - start - count]] + [[0, 0]] * (share.shape.rank - 1)
    whole = context.all_reduce("sum", tf.pad(wide, padding))
    whole.set_shape([None, *share.shape[1:]])
    return tf.cast(whole, share.dtype)


def _global_moments(layer: keras.layers.BatchNormalization, inputs, mask):
    """Batch normalization's moments over the global batch, computed as on one device.

    Keras's `synchronized=True` takes the variance as E[x²] − E[x]², which
    moves a small ResNet's weights by 2e-3 after a few steps even on one
    device; this is `tf.nn.moments`' two passes, each sum taken across replicas.
    """
    import tensorflow as tf

    if mask is not None:
        raise NotImplementedError("masked batch normalization under tf.distribute")
    context = tf.distribute.get_replica_context()
    axes = layer._reduction_axes

    def global_mean(values):
        total = context.all_reduce("sum", tf.reduce_sum(values, axes, keepdims=True))
        count = context.all_reduce("sum", tf.cast(tf.size(values) // tf.size(total),
                                                  values.dtype))
        return total / count

    mean = global_mean(inputs)
    variance = global_mean(tf.math.squared_difference(inputs, tf.stop_gradient(mean)))
    return tf.squeeze(mean, axes), tf.squeeze(variance, axes)


def _multi_worker_logs(logs: dict) -> dict:
    """Logs as Keras's TensorFlow trainer can average them over several workers.

    Under MultiWorkerMirroredStrategy Keras reduces each log with
    `strategy.reduce("MEAN", log, axis=0)`, which fails for the scalars every
    other strategy takes (keras-team/keras#20585): there each log goes as a
    vector of one, and comes back from the reduction a scalar.
    """
    if _replicas() == 1:
        return logs
    import tensorflow as tf

    if not _multi_worker(tf.distribute.get_strategy()):
        return logs
    return {name: tf.reshape(value, [1]) for name, value in logs.items()}


def apply_gradients(optimizer: keras.optimizers.Optimizer, grads: list,
                    variables: Sequence[keras.Variable]) -> None:
    """`optimizer.apply(grads, variables)`: the step of the global batch's mean gradient.

    Under a `tf.distribute` strategy each replica holds the gradient of its
    share's mean loss, and Keras's optimizer sums the replicas' gradients: each
    weighted by its share of the rows, the sum is the global batch's mean.
    """
    if _share[0] is not None:
        _, count, total = _share[0]
        grads = [g * keras.ops.cast(count, g.dtype) / keras.ops.cast(total, g.dtype)
                 for g in grads]
    optimizer.apply(grads, variables)


def replica_share(draw: Callable[[int], object], count):
    """`draw(count)`, or under tf.distribute this replica's rows of a draw for the global
    batch: random numbers drawn as on one device (a GAN's noise)."""
    if _share[0] is None:
        return draw(count)
    start, count, total = _share[0]
    return draw(total)[start:start + count]
