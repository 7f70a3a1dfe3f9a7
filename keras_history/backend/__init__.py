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

The package's modules, each importing only those listed before it:

- `torch_loop`: PyTorch's compiled rule loop (a step recorded, then run by TorchScript).
- `execution`: stateless execution of rules (loops, slices, gradients, strided convolutions).
- `distribute`: the global batch's step under `tf.distribute`.
- `train_function`: the train and test steps Keras calls, and the train functions.

Nothing outside this package imports TensorFlow, JAX or PyTorch itself.
"""

from keras_history.backend.distribute import (
    apply_gradients,
    distributed_step,
    lost_workers_explained,
    replica_share,
    strategy_scope,
)
from keras_history.backend.execution import (
    BACKEND,
    all_state_variables,
    at_most_one,
    compiled_reader,
    in_slices,
    loop,
    repeat,
    repeated_batches,
    rows,
    run_stateless,
    samples,
    scan,
    set_random_seed,
    strided_conv,
    value_and_grad,
    values_and_grads,
)
from keras_history.backend.torch_loop import compiled_loops
from keras_history.backend.train_function import (
    XLA_MIN_STEPS,
    BackendStepsMixin,
    chunked_train_function,
    input_shape,
    rule_jit_compile,
    rule_train_function,
)

__all__ = [
    "BACKEND",
    "XLA_MIN_STEPS",
    "BackendStepsMixin",
    "all_state_variables",
    "apply_gradients",
    "at_most_one",
    "chunked_train_function",
    "compiled_loops",
    "compiled_reader",
    "distributed_step",
    "in_slices",
    "input_shape",
    "lost_workers_explained",
    "loop",
    "repeat",
    "repeated_batches",
    "replica_share",
    "rows",
    "rule_jit_compile",
    "rule_train_function",
    "run_stateless",
    "samples",
    "scan",
    "set_random_seed",
    "strategy_scope",
    "strided_conv",
    "value_and_grad",
    "values_and_grads",
]
