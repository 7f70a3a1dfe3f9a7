"""What the convnets share: images in, class probabilities out, trained by backpropagation.

`ImageClassifier` is a stack of layers (`feature_layers`, then `top_layers`)
with the input rules every milestone from the MNIST convnet to ResNet keeps:
checked images, uint8 grey levels divided by 255, class ids or one-hot labels.
Its train step is backpropagation: the gradient of the cost, then `update`.

`MomentumClassifier` is the ImageNet era's update, from Krizhevsky,
Sutskever & Hinton (2012), Section 5, kept by VGG (2014) and ResNet (2015):

    v ← 0.9·v − wd·ε·w − ε·∂L/∂w
    w ← w + v

which is Keras's `SGD(momentum=0.9)` applied to the gradient plus wd·w
(`models.base.weight_decay_step`).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from keras_history import backend, saving, validation
from keras_history.building import build_for
from keras_history.models.base import CheckedInputsMixin, weight_decay_step

Schedule = keras.optimizers.schedules.LearningRateSchedule


def is_integer_dtype(data) -> bool:
    """True for integer pixels: NumPy or backend tensors of an int dtype, lists of ints."""
    dtype = getattr(data, "dtype", None)
    if dtype is None:
        dtype = np.asarray(data).dtype
    return "int" in keras.backend.standardize_dtype(dtype)


class ImageClassifier(CheckedInputsMixin, backend.BackendStepsMixin, keras.Model):
    """Images (N, h, w, c) → class probabilities, trained by backprop in `learning_rule`.

    Subclasses fill `feature_layers` and `top_layers` (empty with
    `include_top=False`) and may override `update(grads)`, the step taken with
    the gradient (default: the compiled optimizer's).
    """

    def __init__(self, input_shape: tuple[int, int, int], classes: int, include_top: bool = True,
                 **kwargs):
        super().__init__(**kwargs)
        self.image_shape = tuple(int(d) for d in input_shape)
        self.classes = int(classes)
        self.include_top = bool(include_top)

    from_logits = False  # True where the classifier ends without a softmax
    splits_batch = True  # under tf.distribute: a gradient per replica (backend.distributed_step)

    def build(self, input_shape):
        # Built for images however they come: (N, 28, 28) and flat (N, 784) included.
        shape = (tuple(input_shape)[0], *self.image_shape)
        for layer in self.feature_layers + self.top_layers:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)
        self.built = True

    def as_images(self, x):
        """Tensors that skipped `check_data` (datasets, direct calls) as `predict` takes them:
        (N, h, w) gets its channel axis, flat (N, h·w·c) is reshaped row-major, and
        integer grey levels 0..255 are divided by 255."""
        height, width, channels = self.image_shape
        shape = tuple(x.shape)
        if len(shape) == 3 and channels == 1:
            x = ops.expand_dims(x, -1)
        elif len(shape) == 2 and shape[1] == height * width * channels:
            x = ops.reshape(x, (-1, height, width, channels))
        if tuple(x.shape[1:]) != self.image_shape:
            alternatives = f"(N, {height}, {width}), " if channels == 1 else ""
            raise ValueError(
                f"{self.name} takes images of shape (N, {height}, {width}, {channels}), "
                f"{alternatives}or flat (N, {height * width * channels}), got shape {shape}."
            )
        if is_integer_dtype(x):
            x = ops.divide(ops.cast(x, self.compute_dtype), 255.0)
        return x

    def call(self, inputs, training: bool = False):
        x = self.as_images(inputs)
        for layer in self.feature_layers + self.top_layers:
            x = layer(x, training=training)
        return x

    def default_optimizer(self) -> keras.optimizers.Optimizer:
        """The optimizer `compile()` uses when given none: the milestone's own."""
        raise NotImplementedError

    def compile(self, optimizer=None, metrics=None, **kwargs):
        """Keras's `compile`; without arguments, as the factory compiles it: the
        milestone's optimizer (`default_optimizer()`), and accuracy with the head."""
        self.refuse_loss(kwargs.get("loss"))
        if optimizer is None:
            optimizer = self.default_optimizer()
        if metrics is None and self.include_top:
            metrics = ["accuracy"]
        super().compile(optimizer=optimizer, metrics=metrics, **kwargs)
        self.loss = self.cost  # what the rule lowers and `evaluate` reports

    def cross_entropy(self, y, y_pred, sample_weight=None):
        """Mean cross-entropy of class ids (sparse) or one-hot rows (from a dataset)."""
        if len(y.shape) == 2 and y.shape[-1] == self.classes:
            losses = keras.losses.categorical_crossentropy(y, y_pred, self.from_logits)
        else:
            losses = keras.losses.sparse_categorical_crossentropy(y, y_pred, self.from_logits)
        if sample_weight is not None:
            losses = losses * ops.cast(ops.reshape(sample_weight, ops.shape(losses)),
                                       losses.dtype)
        return ops.mean(losses)

    def cost(self, y, y_pred, sample_weight=None):
        """What the rule lowers: cross-entropy plus any layer losses (regularizers)."""
        loss = self.cross_entropy(y, y_pred, sample_weight)
        if self.losses:
            loss = loss + ops.sum(ops.stack([ops.cast(w, "float32") for w in self.losses]))
        return loss

    def _require_top(self) -> None:
        if not self.include_top:
            raise ValueError(f"{self.name} was built with include_top=False: it is a feature "
                             "extractor with no classifier to train or evaluate; put a head "
                             "on it (see its factory's docstring).")

    def update(self, grads: list) -> None:
        """The step taken with the gradient: here the compiled optimizer's."""
        backend.apply_gradients(self.optimizer, grads, self.trainable_variables)

    def learning_rule(self, data) -> dict:
        """One step of backpropagation on a batch: the gradient of `cost`, then `update`."""
        self._require_top()
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)

        def loss_fn():
            y_pred = self(x, training=True)
            return self.cost(y, y_pred, sample_weight), y_pred

        # Dropout's seed and batch norm's moving statistics are non-trainable
        # variables the forward pass assigns: JAX must carry them forward.
        loss, y_pred, grads = backend.value_and_grad(loss_fn, self.trainable_variables,
                                                     self.non_trainable_variables)
        self.update(grads)
        self.loss_tracker.update_state(loss, sample_weight=ops.shape(x)[0])
        return self.compute_metrics(x, y, y_pred, sample_weight)

    def measure(self, data) -> dict:
        """The same loss and metrics on a batch, without dropout or updates."""
        self._require_top()
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        y_pred = self(x, training=False)
        self.loss_tracker.update_state(self.cost(y, y_pred, sample_weight),
                                       sample_weight=ops.shape(x)[0])
        return self.compute_metrics(x, y, y_pred, sample_weight)

    def check_data(self, x, y):
        """Array inputs as float32 images (N, h, w, c) in [0, 1] and int32 class ids."""
        height, width, channels = self.image_shape
        images = validation.as_numeric(x, "x")  # float32; non-numbers, NaN, empty refused
        given = images.shape
        if images.ndim == 2 and images.shape[1] == height * width * channels:
            images = images.reshape(-1, height, width, channels)  # row-major, as MNIST stores it
        elif images.ndim == 3 and channels == 1:
            images = images[..., None]
        if images.ndim != 4 or images.shape[1:] != self.image_shape:
            alternatives = f"(N, {height}, {width}), " if channels == 1 else ""
            raise ValueError(
                f"`x` must be images of shape (N, {height}, {width}, {channels}), "
                f"{alternatives}or flat (N, {height * width * channels}), got shape {given}."
            )
        if is_integer_dtype(x):
            low, high = float(images.min()), float(images.max())
            if low < 0 or high > 255:
                raise ValueError(
                    f"`x` holds integer pixels, read as grey levels 0..255, but ranges over "
                    f"{low:g}..{high:g}; give uint8 images or floats in [0, 1]."
                )
            images = images / np.float32(255)
        else:
            validation.check_unit_pixels(images)
        if y is not None:
            self._require_top()
            y = validation.as_class_ids(y, self.classes)
            validation.check_same_length(images, y)
        return images, y

    def serving_contract(self) -> saving.ServingContract:
        """Exports take `images` (float32 in [0, 1], or uint8 grey levels) -> `probabilities`."""
        return saving.ServingContract("images", "probabilities" if self.include_top
                                      else "features", pixels=True)

    def get_config(self) -> dict:
        return {**super().get_config(), "input_shape": self.image_shape,
                "classes": self.classes, "include_top": self.include_top}


POOLINGS = (None, "avg", "max")


class MomentumClassifier(ImageClassifier):
    """An `ImageClassifier` trained by SGD with momentum and weight decay in the update.

    The momentum and the step size ε live in the compiled optimizer
    (`SGD(ε, momentum=0.9)` from the factories, so schedules and
    `ReduceLROnPlateau` work as usual); the weight decay is added to the
    gradient here, before the optimizer's step.

    Args (beside `ImageClassifier`'s):
        weight_decay: wd in the update above (0.0005 for AlexNet and VGG,
            0.0001 for ResNet).
        pooling: with `include_top=False`, None (feature maps), "avg" or "max".
        classifier_activation: "softmax", or None for logits.
        width: fraction of the paper's channels and hidden units (1.0: the paper's net).
    """

    def __init__(self, input_shape: tuple[int, int, int], classes: int = 1000,
                 include_top: bool = True, weight_decay: float = 5e-4, pooling: str | None = None,
                 classifier_activation: str | None = "softmax", width: float = 1.0, **kwargs):
        super().__init__(input_shape, classes, include_top, **kwargs)
        self.weight_decay = float(weight_decay)
        self.pooling = pooling
        self.classifier_activation = classifier_activation
        self.width = float(width)

    @property
    def from_logits(self) -> bool:
        return self.classifier_activation is None

    def channels(self, count: int, groups: int = 1) -> int:
        """`count` of the paper's channels at this width, a multiple of `groups`, at least one."""
        return max(groups, int(round(count * self.width / groups)) * groups)

    def pooling_layers(self) -> list[keras.layers.Layer]:
        """The `pooling` head of a feature extractor (`include_top=False`)."""
        if self.pooling == "avg":
            return [layers.GlobalAveragePooling2D(name="avg_pool")]
        if self.pooling == "max":
            return [layers.GlobalMaxPooling2D(name="max_pool")]
        return []

    def predictions(self, **options) -> keras.layers.Dense:
        # float32 output, so a mixed-precision policy keeps an exact loss.
        return layers.Dense(self.classes, activation=self.classifier_activation,
                            name="predictions", dtype="float32", **options)

    paper_learning_rate = 0.01  # ε at the start of the paper's schedule

    def default_optimizer(self) -> keras.optimizers.Optimizer:
        """The paper's SGD: momentum 0.9 at its initial ε (the decay is in `update`)."""
        return keras.optimizers.SGD(self.paper_learning_rate, momentum=0.9)

    def update(self, grads: list) -> None:
        """v ← 0.9·v − wd·ε·w − ε·∂L/∂w; w ← w + v (momentum and ε in `SGD(ε, 0.9)`)."""
        weight_decay_step(self.optimizer, grads, self.trainable_variables, self.weight_decay)

    def get_config(self) -> dict:
        return {**super().get_config(), "weight_decay": self.weight_decay,
                "pooling": self.pooling, "classifier_activation": self.classifier_activation,
                "width": self.width}


def check_options(input_shape, minimum: int, classes, include_top, pooling,
                  classifier_activation, learning_rate, weight_decay, width,
                  dropout_rate=0.0) -> None:
    """The shared factory checks; `minimum` is the smallest height and width the strides allow."""
    dims = validation.check_image_shape(input_shape)
    validation.check_option(
        "input_shape", input_shape, min(dims[:2]) >= minimum,
        f"at least {minimum}×{minimum} (smaller images shrink to nothing in the strided "
        f"layers): pad or resize them to {minimum}×{minimum} or more")
    validation.check_classes(classes)
    validation.check_option("include_top", include_top, isinstance(include_top, (bool, np.bool_)),
                            "True or False")
    validation.check_option("pooling", pooling, pooling in POOLINGS, 'None, "avg" or "max"')
    validation.check_option("classifier_activation", classifier_activation,
                            classifier_activation in ("softmax", None),
                            '"softmax", or None for logits')
    if not isinstance(learning_rate, Schedule):
        validation.check_option(
            "learning_rate", learning_rate,
            validation.is_finite_number(learning_rate) and learning_rate > 0,
            "a positive, finite number or a keras LearningRateSchedule")
    validation.check_option("weight_decay", weight_decay,
                            validation.is_finite_number(weight_decay) and weight_decay >= 0,
                            "a finite number >= 0")
    validation.check_option("width", width,
                            validation.is_finite_number(width) and 0 < width <= 1, "in (0, 1]")
    validation.check_option("dropout_rate", dropout_rate,
                            validation.is_finite_number(dropout_rate) and 0 <= dropout_rate < 1,
                            "in [0, 1)")


def finish(model: MomentumClassifier, learning_rate, compile: bool,
           momentum: float = 0.9, nesterov: bool = False) -> MomentumClassifier:
    """Build the model and compile it with SGD(learning_rate, momentum, nesterov)."""
    build_for(model, model.image_shape)
    if compile:
        if not isinstance(learning_rate, Schedule):
            learning_rate = float(learning_rate)
        model.compile(optimizer=keras.optimizers.SGD(learning_rate, momentum=momentum,
                                                     nesterov=nesterov),
                      metrics=["accuracy"] if model.include_top else None)
    return model
