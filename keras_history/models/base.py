"""What every milestone model shares: checked inputs and a pluggable learning rule."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from keras_history import backend, validation
from keras_history.callbacks import DivergenceGuard


def build_for(model: keras.Model, input_shape: tuple | None) -> keras.Model:
    """Build `model` for inputs of `input_shape` (no batch axis) and trace it once.

    The symbolic call records the input signature `model.export` needs. With
    `input_shape=None` the model is built by its first `fit` or `predict`.
    """
    if input_shape is not None:
        dims = tuple(input_shape)
        validation.check_option(
            "input_dim" if len(dims) == 1 else "input_shape", dims[0] if len(dims) == 1 else dims,
            all(validation.is_integer(d) and d >= 1 for d in dims),
            "a positive integer" if len(dims) == 1 else "a tuple of positive integers",
        )
        shape = (None, *(int(d) for d in dims))
        model.build(shape)
        model(keras.KerasTensor(shape))
    return model


def compiled_for_rule(model: LearningRuleModel, learning_rate: float,
                      compile: bool) -> LearningRuleModel:
    """Compile `model` (if asked) with an optimizer that only holds the rule's step size."""
    validation.check_option("learning_rate", learning_rate,
                            validation.is_finite_number(learning_rate) and learning_rate > 0,
                            "a positive, finite number")
    if compile:
        model.compile(optimizer=keras.optimizers.SGD(float(learning_rate)))
    return model


class CheckedInputsMixin:
    """Checks array-like data in `fit`/`evaluate`/`predict` before any step runs,
    and trains with a `DivergenceGuard`.

    Subclasses implement `check_data(x, y)` returning the cleaned arrays (y may
    be None) or raising a TypeError/ValueError that names what was expected.
    """

    needs_targets = True  # False where the data only counts steps (gradient descent)
    weighted_samples = True  # False where the historical rule has no place for sample weights

    def check_data(self, x, y):
        raise NotImplementedError

    def build_from_config(self, config):
        # A reloaded model is traced like a fresh one, so it can be exported too.
        super().build_from_config(config)
        shape = config.get("input_shape")
        if shape is not None:
            self(keras.KerasTensor(tuple(shape)))

    # Keras saves weights, not random state: a reloaded model would draw new
    # dropout masks and resumed training would drift from uninterrupted training.
    # The seed states go into the model's own entry of the file ("seed_<i>").
    def _seed_states(self) -> list[keras.Variable]:
        return [generator.state for layer in self._flatten_layers()
                for generator in layer._seed_generators]

    def save_own_variables(self, store) -> None:
        super().save_own_variables(store)
        for number, state in enumerate(self._seed_states()):
            store[f"seed_{number}"] = state

    def load_own_variables(self, store) -> None:
        keys = set(store.keys())
        super().load_own_variables({k: store[k] for k in keys if not k.startswith("seed_")})
        for number, state in enumerate(self._seed_states()):
            if f"seed_{number}" in keys:  # files saved before seeds were kept have none
                state.assign(store[f"seed_{number}"])

    def _checked(self, x, y, targets: bool = False):
        if not validation.is_array_like(x):
            return x, y
        if targets and y is None and self.needs_targets:
            raise ValueError(f"{type(self).__name__} learns from targets: pass `y`, one target "
                             "per sample of `x`, as in `fit(x, y)` / `evaluate(x, y)`.")
        return self.check_data(x, y)

    def _checked_validation_data(self, kwargs: dict) -> None:
        data = kwargs.get("validation_data")
        if isinstance(data, tuple) and len(data) == 2:
            kwargs["validation_data"] = self._checked(*data, targets=True)

    def fit(self, x=None, y=None, *args, **kwargs):
        for unsupported in ("sample_weight", "class_weight"):
            if not self.weighted_samples and kwargs.get(unsupported) is not None:
                raise ValueError(
                    f"`{unsupported}` is not part of the historical rule of "
                    f"{type(self).__name__}; pass the samples as they are."
                )
        x, y = self._checked(x, y, targets=True)
        self._checked_validation_data(kwargs)
        if not self.built and isinstance(x, np.ndarray):
            build_for(self, x.shape[1:])  # callbacks such as BackupAndRestore need weights now
        callbacks = list(kwargs.pop("callbacks", None) or [])
        if not any(isinstance(c, DivergenceGuard) for c in callbacks):
            callbacks.append(DivergenceGuard())
        try:
            return super().fit(x, y, *args, callbacks=callbacks, **kwargs)
        finally:
            # Keras keeps the epoch BackupAndRestore resumed from on the model; the next
            # `fit` would silently skip that many epochs.
            self._initial_epoch = None

    def evaluate(self, x=None, y=None, *args, **kwargs):
        x, y = self._checked(x, y, targets=True)
        return super().evaluate(x, y, *args, **kwargs)

    def predict(self, x, *args, **kwargs):
        x, _ = self._checked(x, None)
        return super().predict(x, *args, **kwargs)


class LearningRuleModel(CheckedInputsMixin, backend.BackendStepsMixin, keras.Model):
    """A Keras model whose `fit` applies a historical learning rule.

    A subclass writes three things:

    - `rule(x, y)`: one step of the rule on a batch. It assigns the new
      weights and returns `(y_pred, loss)` as measured before the update.
    - `cost(y, y_pred)`: the quantity the rule lowers, used by `evaluate`.
    - `check_data(x, y)`: up-front validation of array inputs.

    The step size lives in the compiled optimizer (`optimizer.learning_rate`,
    so schedules and callbacks work as usual) but the optimizer never computes
    an update: the rule does. `optimizer.iterations` counts the rule's steps.

    Args:
        steps_per_batch: how many times the rule is applied to each batch.
            For full-batch training `steps_per_batch=k` with `epochs=n` takes
            `n * k` historical steps in `n` compiled calls, without Python
            overhead per step. Logs average over all of them.
    """

    weighted_samples = False

    def __init__(self, steps_per_batch: int = 1, **kwargs):
        super().__init__(**kwargs)
        validation.check_option(
            "steps_per_batch", steps_per_batch,
            isinstance(steps_per_batch, int) and steps_per_batch >= 1, "an integer >= 1",
        )
        self.steps_per_batch = steps_per_batch

    def rule(self, x, y):
        raise NotImplementedError

    def cost(self, y, y_pred):
        raise NotImplementedError

    def check_data(self, x, y):
        """`x` as (samples, features), `y` as (samples, units); subclasses add their own rules."""
        features = self.weights[0].shape[0] if self.built else None  # the first kernel
        x = validation.as_matrix(x, "x", features)
        if y is not None:
            y = validation.as_matrix(y, "y", self.units)
            validation.check_same_length(x, y)
        return x, y

    @property
    def learning_rate(self):
        """The rule's step size, read from the compiled optimizer."""
        return ops.cast(self.optimizer.learning_rate, self.compute_dtype)

    def compile(self, optimizer="sgd", jit_compile="auto", **kwargs):
        if kwargs.get("loss") is not None:
            raise ValueError(
                f"{type(self).__name__} is trained by its own rule and cost; "
                "compile it without `loss` (metrics are fine)."
            )
        jit_compile = backend.rule_jit_compile(jit_compile, loops=self.steps_per_batch > 1)
        super().compile(optimizer=optimizer, jit_compile=jit_compile, **kwargs)

    def compile_from_config(self, config: dict) -> None:
        # Keras skips this for models with their own compile(); ours keeps the
        # signature, so a reloaded model is compiled (and trains on) as saved.
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built:
            self.optimizer.build(self.trainable_variables)

    def learning_rule(self, data) -> dict:
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)

        def step():
            y_pred, loss = self.rule(x, y)
            self.loss_tracker.update_state(loss)
            self.optimizer.iterations.assign_add(1)
            self.compute_metrics(x, y, y_pred)

        backend.repeat(step, self.steps_per_batch, backend.all_state_variables(self))
        return self.get_metrics_result()

    def measure(self, data) -> dict:
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        y_pred = self(x, training=False)
        self.loss_tracker.update_state(self.cost(y, y_pred))
        return self.compute_metrics(x, y, y_pred)

    def get_config(self) -> dict:
        return {**super().get_config(), "steps_per_batch": self.steps_per_batch}


class LinearModel(LearningRuleModel):
    """`y = x·m + b` with the squared-error cost: the model of milestones 1 and 3."""

    def __init__(self, units: int = 1, kernel_initializer="zeros",
                 bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        validation.check_option("units", units, isinstance(units, int) and units >= 1,
                                "an integer >= 1")
        self.units = units
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def build(self, input_shape):
        features = input_shape[-1]
        self.kernel = self.add_weight(shape=(features, self.units), name="kernel",
                                      initializer=self.kernel_initializer)
        self.bias = self.add_weight(shape=(self.units,), name="bias",
                                    initializer=self.bias_initializer)

    def call(self, inputs):
        return ops.matmul(inputs, self.kernel) + self.bias

    def cost(self, y, y_pred):
        """Legendre's cost: the mean of the squared errors."""
        return ops.mean(ops.square(y - y_pred))

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "units": self.units,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
        }
