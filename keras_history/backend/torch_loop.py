"""PyTorch's compiled rule loop: a step recorded once as aten ops, then run by TorchScript.

`execution.loop` hands its steps to `_torch_loop` on PyTorch while a train
function runs (`compiled_loops`); `_TORCH_LOOPS` keeps the scripted loops.
`_scope`, the StatelessScope helper, is here because the recorder needs it
and `execution` builds on this module, not the other way round.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator, Sequence

import keras
from keras.src.backend.common.stateless_scope import get_stateless_scope


def _scope(pairs) -> keras.StatelessScope:
    """A StatelessScope over `pairs` that also sees the enclosing scope's values."""
    scope = keras.StatelessScope(list(pairs))
    parent = get_stateless_scope()
    if parent is not None:
        scope.state_mapping = {**parent.state_mapping, **scope.state_mapping}
    return scope


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
