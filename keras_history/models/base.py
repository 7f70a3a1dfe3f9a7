"""What every milestone model shares: checked inputs and a pluggable learning rule."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from keras_history import backend, saving, validation
from keras_history.building import build_for
from keras_history.callbacks import DivergenceGuard, RuleProgbar

# A long rule shows progress every PROGRESS_STEPS rule steps or more, at most
# PROGRESS_UPDATES times a batch: few enough host round trips to cost nothing.
PROGRESS_STEPS, PROGRESS_UPDATES = 1000, 100


# `Model.fit`'s arguments after x and y, in order: positional ones are named.
FIT_ARGUMENTS = ("batch_size", "epochs", "verbose", "callbacks", "validation_split",
                 "validation_data", "shuffle", "class_weight", "sample_weight", "initial_epoch",
                 "steps_per_epoch", "validation_steps", "validation_batch_size",
                 "validation_freq")


def _batch_level(callback: keras.callbacks.Callback) -> bool:
    """Whether `callback` acts on each batch (it then gets one call per batch)."""
    if isinstance(callback, (DivergenceGuard, RuleProgbar, keras.callbacks.History)):
        return False  # ours count rule steps; History keeps epochs
    if (isinstance(callback, (keras.callbacks.ModelCheckpoint, keras.callbacks.BackupAndRestore))
            and callback.save_freq == "epoch"):
        return False
    hooks = ("on_train_batch_begin", "on_train_batch_end", "on_batch_begin", "on_batch_end")
    return any(hook in vars(callback)
               or getattr(type(callback), hook) is not getattr(keras.callbacks.Callback, hook)
               for hook in hooks)


def progress_chunks(steps_per_batch: int) -> list[int]:
    """How a batch of `steps_per_batch` rule steps is split to show progress."""
    chunk = max(PROGRESS_STEPS, -(-steps_per_batch // PROGRESS_UPDATES))
    chunks = [chunk] * (steps_per_batch // chunk)
    return chunks + [steps_per_batch % chunk] if steps_per_batch % chunk else chunks


def compiled_for_rule(model: LearningRuleModel, learning_rate: float,
                      compile: bool) -> LearningRuleModel:
    """Compile `model` (if asked) with an optimizer that only holds the rule's step size."""
    validation.check_option("learning_rate", learning_rate,
                            validation.is_finite_number(learning_rate) and learning_rate > 0,
                            "a positive, finite number")
    if compile:
        model.compile(optimizer=keras.optimizers.SGD(float(learning_rate)))
    return model


def weight_decay_step(optimizer: keras.optimizers.Optimizer, grads: list,
                      variables: list[keras.Variable], weight_decay: float) -> None:
    """One step of `optimizer` on the gradient plus `weight_decay`·w (decay in the update).

    With `SGD(ε, momentum=0.9)` this is Krizhevsky et al.'s (2012) rule,
    v ← 0.9·v − wd·ε·w − ε·∂L/∂w, w ← w + v, used by AlexNet, VGG and ResNet.
    """
    if weight_decay:
        grads = [g + ops.cast(weight_decay, g.dtype) * ops.cast(w, g.dtype)
                 for g, w in zip(grads, variables)]
    backend.apply_gradients(optimizer, grads, variables)


class CheckedInputsMixin:
    """Checks array-like data in `fit`/`evaluate`/`predict` before any step runs,
    trains with a `DivergenceGuard`, and exports by keras_history's checked route.

    Subclasses implement `check_data(x, y)` returning the cleaned arrays (y may
    be None) or raising a TypeError/ValueError that names what was expected.
    An image model also overrides `serving_contract()` (see keras_history.saving).
    """

    needs_targets = True  # False where the data only counts steps (gradient descent)
    weighted_samples = True  # False where the historical rule has no place for sample weights

    def check_data(self, x, y):
        raise NotImplementedError

    def serving_contract(self) -> saving.ServingContract:
        """Exports take float32 `features` and return `outputs` (image models: pixels)."""
        return saving.ServingContract()

    def export(self, filepath, format: str = "tf_saved_model", verbose: bool = True,
               input_signature=None, **kwargs) -> None:
        """Keras's `export`, by `keras_history.export`: checked, and working on every backend.

        The SavedModel, ONNX and LiteRT formats go through keras_history (on
        PyTorch, where Keras's own SavedModel export fails, through a
        TensorFlow subprocess; see docs/saving.md); other formats, or an
        explicit `input_signature` or Keras options, go to Keras's `export`.
        """
        if format not in saving.FORMATS or input_signature is not None or kwargs:
            return super().export(filepath, format=format, verbose=verbose,
                                  input_signature=input_signature, **kwargs)
        path = saving.export(self, filepath, format=format)
        if verbose:
            print(f"Saved artifact at '{path}', checked against predict in its own runtime.")

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

    def refuse_loss(self, loss) -> None:
        """Milestones train on their own cost (`model.loss`): a compiled loss would be ignored."""
        if loss is not None:
            raise ValueError(
                f"{type(self).__name__} is trained by its own rule and cost; "
                "compile it without `loss` (metrics are fine)."
            )

    def compile_from_config(self, config: dict) -> None:
        # Keras skips this for models with their own compile(); ours keeps the
        # signature, so a reloaded model is compiled (and trains on) as saved.
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built:
            self.optimizer.build(self.trainable_variables)

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
            with backend.strategy_scope(self):  # tf.distribute: a copy of each weight per replica
                build_for(self, x.shape[1:])  # callbacks such as BackupAndRestore need weights now
        callbacks = list(kwargs.pop("callbacks", None) or [])
        if not any(isinstance(c, DivergenceGuard) for c in callbacks):
            callbacks.append(DivergenceGuard())
        try:
            with backend.lost_workers_explained(self):
                return self._fit_checked(x, y, *args, callbacks=callbacks, **kwargs)
        finally:
            # Keras keeps the epoch BackupAndRestore resumed from on the model; the next
            # `fit` would silently skip that many epochs.
            self._initial_epoch = None

    def _fit_checked(self, x, y, *args, **kwargs):
        """Keras's `fit` on data that passed `check_data`."""
        return super().fit(x, y, *args, **kwargs)

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

    `compile()` without an optimizer gives the rule its milestone's step size,
    `default_learning_rate`, and `model.loss` is the model's own `cost`.

    Logs average the rule's costs over the epoch, each measured before its
    update; a model whose `rule` returns the cost after its update, of all the
    data seen (`logs_latest = True`), logs where it stands instead.

    `fit` on NumPy arrays trains on many batches per compiled call, batch by
    batch, with the same results as one call per batch (see
    `_batches_per_call`): the plain Keras habit of small batches and many
    epochs costs what the rule costs, not Keras's per-call overhead.

    Args:
        steps_per_batch: how many times the rule is applied to each batch.
            For full-batch training `steps_per_batch=k` with `epochs=n` takes
            `n * k` historical steps in `n` compiled calls, without Python
            overhead per step. The progress bar counts rule steps; with a bar
            shown, a long batch runs as chunks of compiled steps so that it
            moves (`progress_chunks`), with the same results.
    """

    weighted_samples = False
    default_learning_rate = 0.01
    logs_latest = False
    # On TensorFlow, `jit_compile="auto"` compiles a looping `fit` with XLA
    # (backend.rule_jit_compile); False where XLA cannot compile the rule's own loop.
    loops_in_xla = True
    cost_is_a_mean = True  # over samples, so batches of any size weigh by their size

    def _batch_weight(self, x):
        return ops.shape(x)[0] if self.cost_is_a_mean else None

    def __init__(self, steps_per_batch: int = 1, **kwargs):
        super().__init__(**kwargs)
        validation.check_option(
            "steps_per_batch", steps_per_batch,
            isinstance(steps_per_batch, int) and steps_per_batch >= 1, "an integer >= 1",
        )
        self.steps_per_batch = steps_per_batch
        self._chunks = None  # how `fit` splits each batch's rule steps; None: not at all
        self._minibatch = None  # the batch size when `fit` hands over several batches at once
        self._jit_auto = False  # compiled with jit_compile="auto"
        self._progress = None  # the RuleProgbar of the running `fit`, if any

    def rule(self, x, y):
        raise NotImplementedError

    def cost(self, y, y_pred):
        raise NotImplementedError

    def check_data(self, x, y):
        """`x` as (samples, features), `y` as (samples, units); subclasses add their own rules.

        An unbuilt model takes its features from `x` (see `fit`) and, with
        `units=None`, its units from `y`.
        """
        features = self.weights[0].shape[0] if self.built else None  # the first kernel
        x = validation.as_matrix(x, "x", features)
        if y is not None:
            y = validation.as_matrix(y, "y", self.units)
            validation.check_same_length(x, y)
            if self.units is None:
                self.units = y.shape[1]
        return x, y

    @property
    def learning_rate(self):
        """The rule's step size, read from the compiled optimizer."""
        return ops.cast(self.optimizer.learning_rate, self.compute_dtype)

    def compile(self, optimizer=None, jit_compile="auto", **kwargs):
        """Keras's `compile`; without `optimizer`, SGD at the milestone's own step size."""
        self.refuse_loss(kwargs.get("loss"))
        if optimizer is None:
            optimizer = keras.optimizers.SGD(self.default_learning_rate)
        self._jit_auto = jit_compile == "auto"  # then `fit` decides, knowing if the rule loops
        looped = self.steps_per_batch if self.steps_per_batch > 1 else 0  # per batch, at least
        jit_compile = backend.rule_jit_compile(jit_compile, looped)
        super().compile(optimizer=optimizer, jit_compile=jit_compile, **kwargs)
        self.loss = self.cost  # what the rule lowers and `evaluate` reports

    def fit(self, x=None, y=None, *args, **kwargs):
        kwargs.update(zip(FIT_ARGUMENTS, args))  # by name from here on
        callbacks = list(kwargs.pop("callbacks", None) or [])
        progress = None
        if kwargs.get("verbose", "auto") in (1, "auto") and not any(
                isinstance(c, keras.callbacks.ProgbarLogger) for c in callbacks):
            progress = RuleProgbar(self.steps_per_batch)
            callbacks.append(progress)
        self._progress = progress
        try:
            return super().fit(x, y, callbacks=callbacks, **kwargs)
        finally:
            self._progress = None

    def _fit_checked(self, x, y, **kwargs):
        chunks = tuple(progress_chunks(self.steps_per_batch)) if self._progress else ()
        chunks = chunks if len(chunks) > 1 else None
        kwargs, minibatch, looped = self._batches_per_call(x, y, kwargs, chunked=bool(chunks))
        if (chunks, minibatch) != (self._chunks, self._minibatch):
            # The train function was made for the other plan.
            self._chunks, self._minibatch, self.train_function = chunks, minibatch, None
        if self._jit_auto and self.loops_in_xla and looped is not None:
            jit_compile = backend.rule_jit_compile("auto", looped)
            if jit_compile != "auto" and jit_compile != self.jit_compile:
                self.jit_compile, self.train_function = jit_compile, None
        return super()._fit_checked(**kwargs)

    def _batches_per_call(self, x, y, kwargs: dict,
                          chunked: bool) -> tuple[dict, int | None, int | None]:
        """`fit`'s arguments for training on several batches of in-memory arrays in one
        compiled call; the batch size the rule then sees (None: Keras's batches); the rule
        steps `fit` will run in compiled loops (None: unknown).

        Keras calls the train function once per batch, and pays for every call
        (about 1 ms on TensorFlow); a rule on small batches costs microseconds.
        So `fit` hands Keras several batches at once and the compiled function
        walks them in order, batch by batch, with the same rule: the steps, their
        order and the shuffling are Keras's (`keras.utils.set_random_seed` gives
        the same run), the cost is one call per epoch, or per progress update.
        Per-batch callbacks (`on_train_batch_end` and friends) keep one call per
        batch, as do datasets, generators and `validation_split`.
        """
        plain = dict(kwargs, x=x, y=y)
        if not (isinstance(x, np.ndarray) and (y is None or isinstance(y, np.ndarray))
                and kwargs.get("steps_per_epoch") is None
                and not kwargs.get("validation_split")
                and kwargs.get("shuffle", True) in (True, False)
                and not self.run_eagerly and keras.distribution.distribution() is None):
            return plain, None, None
        samples = len(x)
        batch_size = kwargs.get("batch_size") or 32  # Keras's default
        batches = -(-samples // batch_size)
        per_call = 1 if chunked or any(_batch_level(c) for c in kwargs["callbacks"]) else batches
        if per_call > 1 and self._progress is not None:
            # A bar moves at most PROGRESS_UPDATES times an epoch, PROGRESS_STEPS steps or more.
            steps = max(PROGRESS_STEPS, -(-batches * self.steps_per_batch // PROGRESS_UPDATES))
            per_call = min(batches, -(-steps // self.steps_per_batch))
        if self._progress is not None:
            self._progress.batches_per_call = per_call
            self._progress.epoch_steps = batches * self.steps_per_batch
        feed = backend.repeated_batches(x, y, per_call * batch_size, kwargs.get("shuffle", True))
        epochs = kwargs.get("epochs", 1) - kwargs.get("initial_epoch", 0)
        looped = self.steps_per_batch > 1 or per_call > 1
        return (dict(plain, **feed), batch_size if per_call > 1 else None,
                epochs * batches * self.steps_per_batch if looped else 0)

    def make_train_function(self, force=False):
        if self._chunks is None:  # each batch's steps in one compiled call
            return super().make_train_function(force)
        if self.train_function is None or force:
            functions = {steps: backend.rule_train_function(self, steps)
                         for steps in set(self._chunks)}
            self.train_function = backend.chunked_train_function(
                [(steps, functions[steps]) for steps in self._chunks],
                self.steps_per_execution, self._show_progress)
        return self.train_function

    def _show_progress(self, steps: int, logs: dict) -> None:
        if self._progress is not None:
            self._progress.advance(steps, logs)

    def learning_rule(self, data, steps: int | None = None) -> dict:
        """Apply the rule `steps` times (default `steps_per_batch`) to a batch, or to
        each of the batches `fit` handed over at once (see `_batches_per_call`)."""
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        steps = self.steps_per_batch if steps is None else steps
        if self._minibatch is None:
            self._steps_on(x, y, steps)
            return self.get_metrics_result()
        backend.in_slices(lambda x_rows, y_rows: self._steps_on(x_rows, y_rows, steps),
                          x, y, self._minibatch, backend.all_state_variables(self))
        return self.get_metrics_result()

    def _steps_on(self, x, y, steps: int) -> None:
        def step():
            y_pred, loss = self.rule(x, y)
            if self.logs_latest:
                self.loss_tracker.reset_state()
            self.loss_tracker.update_state(loss, sample_weight=self._batch_weight(x))
            self.optimizer.iterations.assign_add(1)
            self.compute_metrics(x, y, y_pred)

        backend.repeat(step, steps, backend.all_state_variables(self))

    def measure(self, data) -> dict:
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        y_pred = self(x, training=False)
        self.loss_tracker.update_state(self.cost(y, y_pred), sample_weight=self._batch_weight(x))
        return self.compute_metrics(x, y, y_pred)

    def get_config(self) -> dict:
        return {**super().get_config(), "steps_per_batch": self.steps_per_batch}


class LinearModel(LearningRuleModel):
    """`y = x·m + b` with the squared-error cost: least squares and linear regression."""

    def __init__(self, units: int | None = 1, kernel_initializer="zeros",
                 bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        validation.check_option("units", units,
                                units is None or isinstance(units, int) and units >= 1,
                                "an integer >= 1, or None to take it from `y`")
        self.units = units
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def build(self, input_shape):
        features = input_shape[-1]
        if self.units is None:  # built before any targets were seen (input_dim=, predict)
            self.units = 1
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
