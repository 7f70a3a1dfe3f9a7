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
import functools
import itertools
import sys
import types
import warnings
from collections.abc import Callable, Iterator, Sequence

import keras
from keras.src.backend.common.stateless_scope import get_stateless_scope

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


# PyTorch's compiled loop. Eagerly, each rule step costs one Python call per
# Keras op (0.2-0.35 ms for backprop's). Instead the first step runs once under
# a StatelessScope while a dispatch mode records the aten ops it executes (the
# same kernels eager runs, so the numbers are the same); the record, traced by
# TorchScript, runs the other steps in a TorchScript loop, without Python.
# torch.compile was measured too: 15 s (cold) / 3 s (cached) to compile, too
# slow for a fresh model, and its fused kernels round differently from eager.
_compiled_loops = [False]  # set while a train function runs; `run_eagerly` keeps it False
_TORCH_LOOPS: dict[str, object] = {}  # a recorded step's key -> its scripted loop
_TORCH_LOOPS_KEPT = 64
_torch_loop_warned = [False]


@contextlib.contextmanager
def compiled_loops(enabled: bool) -> Iterator[None]:
    """Let `loop` compile on PyTorch inside this block (`model.run_eagerly` keeps it eager)."""
    previous, _compiled_loops[0] = _compiled_loops[0], enabled
    try:
        yield
    finally:
        _compiled_loops[0] = previous


class _NotRecordable(Exception):
    """The step does something a replayed op list cannot repeat (mutation, `.item()`)."""


class _Ref:
    """A tensor in a recorded step: an input ("i"), a constant it read ("e") or an op's output."""

    __slots__ = ("kind", "index")

    def __init__(self, kind: str, index: int):
        self.kind, self.index = kind, index

    def __repr__(self) -> str:
        return f"{self.kind}{self.index}"


def _torch_record(step: Callable, variables: Sequence[keras.Variable]):
    """Run `step(0)` once, statelessly, recording its aten ops.

    Returns `(program, outputs, inputs, externals, new_values)`: the ops with
    their arguments as `_Ref`s, the refs of the variables' new values, the
    input tensors (index, then values), the other tensors the step read.
    """
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    plain = (int, float, bool, str, type(None), torch.dtype, torch.device, torch.layout,
             torch.memory_format)
    refs: dict[int, _Ref] = {}
    alive: list = []  # every tensor seen stays alive, so no id() is reused mid-record
    externals: list = []
    program: list = []
    produced = [0]

    def encode(value):
        if isinstance(value, torch.Tensor):
            ref = refs.get(id(value))
            if ref is None:  # read, not computed: data, or a constant made from Python
                ref = refs[id(value)] = _Ref("e", len(externals))
                externals.append(value)
                alive.append(value)
            return ref
        if isinstance(value, (list, tuple)):
            return type(value)(encode(v) for v in value)
        if isinstance(value, dict):
            return {k: encode(v) for k, v in value.items()}
        if isinstance(value, plain):
            return value
        raise _NotRecordable(f"argument of type {type(value).__name__}")

    class Recorder(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            if func is torch.ops.aten.lift_fresh.default:  # returns its input: no op to replay
                return func(*args, **kwargs)
            if func._schema.is_mutable:
                raise _NotRecordable(f"{func} mutates its input")
            entry = (func, encode(args), encode(kwargs))
            out = func(*args, **kwargs)
            outs = out if isinstance(out, (tuple, list)) else (out,)
            if not all(isinstance(o, torch.Tensor) or o is None for o in outs):
                raise _NotRecordable(f"{func} returns a Python value")  # data-dependent
            for o in outs:
                if o is not None:
                    refs[id(o)] = _Ref("o", produced[0])
                    alive.append(o)
                produced[0] += 1
            program.append((*entry, isinstance(out, (tuple, list)), len(outs)))
            return out

    index = torch.tensor(0)
    values = [v.value.detach().requires_grad_(v.value.requires_grad) for v in variables]
    with _scope(zip(variables, values)) as scope:
        inputs = [index] + [scope.get_current_value(v) for v in variables]
        if len({id(t) for t in inputs}) < len(inputs):
            raise _NotRecordable("two variables share one tensor")
        for number, tensor in enumerate(inputs):
            refs[id(tensor)] = _Ref("i", number)
        alive.extend(inputs)
        with Recorder():
            step(index)
            # Eagerly `assign` copies into the variable's own layout; the next step's
            # reductions and matmuls round by that layout, so the record does too.
            new_values = [_in_layout(scope.get_current_value(v), v.value) for v in variables]
    outputs = [encode(value) for value in new_values]
    return _live(program, outputs), outputs, inputs, externals, new_values


def _refs_in(value) -> list[_Ref]:
    if isinstance(value, _Ref):
        return [value]
    if isinstance(value, (list, tuple)):
        return [r for v in value for r in _refs_in(v)]
    if isinstance(value, dict):
        return [r for v in value.values() for r in _refs_in(v)]
    return []


def _live(program: list, outputs: list) -> list:
    """`program` without the ops no output depends on (the metrics' results, for one).

    Ops are recorded pure (`_NotRecordable` refuses mutation), so dropping an
    unused one changes nothing; its outputs keep their numbers.
    """
    needed = {r.index for r in _refs_in(outputs) if r.kind == "o"}
    kept, first = [], sum(entry[4] for entry in program)
    for entry in reversed(program):
        first -= entry[4]
        if any(first + k in needed for k in range(entry[4])):
            needed.update(r.index for r in _refs_in(entry[1:3]) if r.kind == "o")
            kept.append(entry)
        else:
            kept.append((*entry[:3], None, entry[4]))  # skipped, its outputs never read
    return kept[::-1]


def _in_layout(value, like):
    """`value` with the strides of `like` (a variable's tensor), copied if they differ."""
    import torch

    if value.stride() == like.stride():
        return value
    if like.stride() != torch.empty(like.shape).stride():
        raise _NotRecordable("a variable with a non-contiguous layout")
    return torch.ops.aten.clone.default(value, memory_format=torch.contiguous_format)


def _replay(program, outputs):
    """The recorded step as a function of (inputs, externals): what TorchScript traces."""

    def step(inputs: list, externals: list) -> list:
        produced: list = []
        tables = {"i": inputs, "e": externals, "o": produced}

        def resolve(value):
            if isinstance(value, _Ref):
                return tables[value.kind][value.index]
            if isinstance(value, (list, tuple)):
                return type(value)(resolve(v) for v in value)
            if isinstance(value, dict):
                return {k: resolve(v) for k, v in value.items()}
            return value

        for func, args, kwargs, several, count in program:
            if several is None:
                produced.extend([None] * count)
                continue
            out = func(*resolve(args), **resolve(kwargs))
            produced.extend(out if several else (out,))
        return [resolve(ref) for ref in outputs]

    return step


def _torch_script_loop(program, outputs, inputs, externals):
    """A TorchScript module `(n, inputs, externals) -> values` running the step n times."""
    import torch

    class Loop(torch.nn.Module):
        def __init__(self, step):
            super().__init__()
            self.step = step

        def forward(self, n: int, inputs: list[torch.Tensor],
                    externals: list[torch.Tensor]) -> list[torch.Tensor]:
            index, values = inputs[0], inputs[1:]
            for _ in range(n):
                index = index + 1
                values = self.step([index] + values, externals)
            return values

    class LoopWithoutIndex(Loop):  # `repeat`'s steps ignore the index: one op less a step
        def forward(self, n: int, inputs: list[torch.Tensor],
                    externals: list[torch.Tensor]) -> list[torch.Tensor]:
            index, values = inputs[0], inputs[1:]
            for _ in range(n):
                values = self.step([index] + values, externals)
            return values

    reads_index = any(r.kind == "i" and r.index == 0
                      for entry in program if entry[3] is not None
                      for r in _refs_in(entry[1:3]))

    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the tracer's note on list inputs and outputs
        traced = torch.jit.trace(_replay(program, outputs), (inputs, externals),
                                 check_trace=False, strict=False)
        return torch.jit.script((Loop if reads_index else LoopWithoutIndex)(traced))


def _torch_key(program, outputs, inputs, externals) -> str:
    """What makes two recorded steps the same program: ops, wiring, and tensor types."""

    def meta(t) -> str:
        return f"{t.dtype}{tuple(t.shape)}{t.stride()}{t.device}"

    ops = ";".join(f"{func}{args!r}{kwargs!r}" for func, args, kwargs, several, _ in program
                   if several is not None)
    return (f"{ops}|{outputs!r}|{','.join(map(meta, inputs))}|"
            f"{','.join(map(meta, externals))}")


def _torch_loop(step: Callable, times: int, variables: Sequence[keras.Variable]) -> bool:
    """Run `step(i)` for i < `times` as a recorded TorchScript loop; False if it cannot."""
    import torch

    if torch.compiler.is_compiling():  # inside torch.compile: leave the loop to dynamo
        return False
    try:
        record = _torch_record(step, variables)
    except Exception:  # noqa: BLE001 - a rule we cannot record runs eagerly, as it always has
        return False
    program, outputs, inputs, externals, values = record
    externals = externals or [torch.zeros(())]  # TorchScript cannot type an empty list
    key = _torch_key(program, outputs, inputs, externals)
    loop_fn = _TORCH_LOOPS.get(key)
    if loop_fn is None:
        try:
            loop_fn = _torch_script_loop(program, outputs, inputs, externals)
        except Exception as error:  # noqa: BLE001 - no TorchScript: eager, and say so once
            if not _torch_loop_warned[0]:
                _torch_loop_warned[0] = True
                warnings.warn(f"keras_history: could not compile a rule loop with TorchScript "
                              f"({type(error).__name__}: {str(error).splitlines()[0][:200]}); "
                              "running it eagerly, one op at a time.", stacklevel=2)
            loop_fn = None
        if len(_TORCH_LOOPS) >= _TORCH_LOOPS_KEPT:
            _TORCH_LOOPS.pop(next(iter(_TORCH_LOOPS)))
        _TORCH_LOOPS[key] = loop_fn
    if loop_fn is None:
        return False
    # Unoptimized: TorchScript's profiling executor would run the first calls one way
    # and later ones another, so results would depend on how many ran before.
    with torch.no_grad(), torch.jit.optimized_execution(False):
        values = loop_fn(times - 1, [inputs[0]] + [v.detach() for v in values], externals)
    for variable, value in zip(variables, values):
        variable.assign(value)
    return True


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


def all_state_variables(model: keras.Model) -> list[keras.Variable]:
    """Every variable a training step may change: weights, optimizer, metrics."""
    return [v for group in _groups(model, training=True) for v in group]
