"""Capsule networks: Sabour, Frosst and Hinton (2017), "Dynamic routing between capsules".

Geoffrey Hinton had argued for years that a convnet's max-pooling throws away
where things are, and that vision needs groups of neurons, "capsules", whose
activity vectors encode an entity's pose as well as its presence. Sara Sabour,
Nicholas Frosst and Hinton (NIPS 2017, arXiv 1710.09829, Google Brain Toronto)
made the first capsule net that beat convnets on MNIST. Its layers
(`keras_history.layers.capsules`):

    Conv1 256 9×9 ReLU → PrimaryCaps 32 × 8-D, 9×9 stride 2 (1,152 capsules, squashed)
    → DigitCaps 10 × 16-D, routing-by-agreement (Procedure 1, 3 iterations)

A class's probability is the length of its digit capsule. The decoder, three
fully connected layers (512 ReLU, 1024 ReLU, 784 sigmoid), reconstructs the
image from the digit capsules with all but one masked out: the true class's
during training, the longest at inference. 6,804,224 weights without the
decoder, 8,215,568 with it (the paper: 6.8M and 8.2M).

The rule (Sections 3 and 4.1): backpropagation of the margin loss of each
digit capsule k (eq. 4),

    L_k = T_k·max(0, m⁺ − ‖v_k‖)² + λ·(1 − T_k)·max(0, ‖v_k‖ − m⁻)²,  m⁺ = 0.9, m⁻ = 0.1, λ = 0.5,

summed over the capsules, plus 0.0005 × the sum of squared differences
between the reconstruction and the image's pixels, with Adam ("TensorFlow
default parameters, including the exponentially decaying learning rate": the
authors' `experiment.py` decays 0.001 by 0.96 every 2,000 steps, smoothly,
with batches of 128). Training images are shifted by up to 2 pixels in each
direction with zero padding (Section 5; no other augmentation); the
reconstruction target is the shifted image the net saw.

Table 1, MNIST test error: 0.25% ± 0.005 with 3 routing iterations and the
reconstruction loss (1 iteration: 0.29%; without reconstruction 0.35% and
0.34%), against 0.39% for the paper's baseline convnet (35.4M parameters).
Figure 4 tweaks one of the 16 dimensions of a digit capsule by steps of 0.05
in [−0.25, 0.25] and shows that each controls a stroke's width, skew, scale...
(`CapsuleNetwork.perturb`).

Where the authors' code differs from the paper, the paper is followed: their
margin loss is halved and averaged over the 10 classes (the paper sums it),
their DigitCaps layer has a bias (the paper's s_j has none: its 160 weights are
not in the 6.8M), and their decoder always masks by the true label. Their
learning rate has a floor of 1e-6, reached after 338,000 steps: none here.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import keras
import numpy as np
from keras import layers, ops

from keras_history import backend, validation
from keras_history.building import build_for
from keras_history.layers import DigitCapsules, PadCropFlip, PrimaryCapsules, capsule_lengths
from keras_history.layers.capsules import INIT_BIAS, INIT_STDDEV
from keras_history.models.convolutional.classifier import ImageClassifier
from keras_history.timeline import milestone
from keras_history.weights.loading import with_weights

__all__ = ["CapsuleNetwork", "capsnet"]

M_PLUS, M_MINUS, DOWN_WEIGHT = 0.9, 0.1, 0.5  # eq. 4's m⁺, m⁻ and λ
RECONSTRUCTION_WEIGHT = 0.0005  # Section 4.1: "so that it does not dominate the margin loss"
# The authors' experiment.py: Adam at 0.001, × 0.96 every 2,000 steps, batches of 128.
LEARNING_RATE, DECAY_RATE, DECAY_STEPS, BATCH_SIZE = 1e-3, 0.96, 2000, 128
ADAM_EPSILON = 1e-8  # TensorFlow 1's AdamOptimizer default (Keras 3's is 1e-7)
SHIFT = 2  # Section 5: "shifted by up to 2 pixels in each direction with zero padding"
PRIMARY_DIM, CAPSULE_DIM = 8, 16
KERNEL_SIZE, PRIMARY_STRIDES = 9, 2
MINIMUM_SIZE = 17  # Conv1's 9×9 and PrimaryCaps' 9×9 stride 2 leave a 1×1 grid
DECODER_UNITS = (512, 1024)
CONV1_STDDEV = 0.05  # the authors' code: conv1 N(0, 0.05²), every other weight N(0, 0.1²)
PERTURBATIONS = tuple(round(-0.25 + 0.05 * step, 2) for step in range(11))  # Figure 4
INFERENCE_BATCH = 64  # images per call in `reconstruct` and `perturb`

Schedule = keras.optimizers.schedules.LearningRateSchedule


def default_learning_rate() -> Schedule:
    """The authors' schedule: 0.001 · 0.96^(step / 2000), decayed at every step."""
    return keras.optimizers.schedules.ExponentialDecay(LEARNING_RATE, DECAY_STEPS, DECAY_RATE)


def margin_loss(targets, lengths):
    """Eq. 4 summed over the capsules: one loss per sample.

    targets: one-hot T (N, classes); lengths: the digit capsules' ‖v_k‖ (N, classes).
    """
    present = targets * ops.square(ops.maximum(M_PLUS - lengths, 0.0))
    absent = DOWN_WEIGHT * (1.0 - targets) * ops.square(ops.maximum(lengths - M_MINUS, 0.0))
    return ops.sum(present + absent, axis=-1)


def _weighted_mean(losses, sample_weight):
    """The batch's mean of per-sample `losses`, each weighed by its sample weight if given."""
    if sample_weight is not None:
        losses = losses * ops.cast(ops.reshape(sample_weight, ops.shape(losses)), losses.dtype)
    return ops.mean(losses)


@keras.saving.register_keras_serializable(package="keras_history")
class CapsuleNetwork(ImageClassifier):
    """Conv1 → PrimaryCaps → DigitCaps (→ masked decoder), trained on eq. 4. See `capsnet()`.

    `predict` returns the digit capsules' lengths (N, classes); `encode`
    the images as the net saw them and the capsules; `reconstruct` and
    `perturb` the decoder's images.
    """

    def __init__(self, input_shape: tuple[int, int, int] = (28, 28, 1), classes: int = 10,
                 routings: int = 3, reconstruction: bool = True, conv_filters: int = 256,
                 primary_channels: int = 32, shift: int = SHIFT, seed: int | None = None,
                 **kwargs):
        kwargs.pop("include_top", None)  # always a classifier
        super().__init__(input_shape, classes, True, **kwargs)
        self.routings, self.reconstruction = int(routings), bool(reconstruction)
        self.conv_filters, self.primary_channels = int(conv_filters), int(primary_channels)
        self.shift, self.seed = int(shift), seed

        def normal(stddev: float, number: int) -> keras.initializers.Initializer:
            return keras.initializers.TruncatedNormal(
                stddev=stddev, seed=None if seed is None else seed + number)

        bias = keras.initializers.Constant(INIT_BIAS)
        # Training-time augmentation only: at inference the images pass unchanged.
        self.augment = (PadCropFlip(self.shift, flip=False, seed=seed, name="shift")
                        if self.shift else None)
        self.feature_layers = [
            layers.Conv2D(self.conv_filters, KERNEL_SIZE, activation="relu", name="conv1",
                          kernel_initializer=normal(CONV1_STDDEV, 1), bias_initializer=bias),
            PrimaryCapsules(self.primary_channels, PRIMARY_DIM, KERNEL_SIZE, PRIMARY_STRIDES,
                            kernel_initializer=normal(INIT_STDDEV, 2), bias_initializer=bias,
                            name="primary_caps"),
            DigitCapsules(self.classes, CAPSULE_DIM, self.routings,
                          kernel_initializer=normal(INIT_STDDEV, 3), name="digit_caps"),
        ]
        self.top_layers = []
        pixels = int(np.prod(self.image_shape))
        decoder = [(DECODER_UNITS[0], "relu"), (DECODER_UNITS[1], "relu"), (pixels, "sigmoid")]
        self.decoder_layers = [
            layers.Dense(units, activation=activation, name=f"decoder_{i + 1}",
                         kernel_initializer=normal(INIT_STDDEV, 4 + i), bias_initializer=bias)
            for i, (units, activation) in enumerate(decoder)
        ] if self.reconstruction else []

    def build(self, input_shape):
        super().build(input_shape)
        shape = (tuple(input_shape)[0], self.classes * CAPSULE_DIM)
        for layer in self.decoder_layers:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)

    def default_optimizer(self) -> keras.optimizers.Optimizer:
        """Adam with TensorFlow 1's defaults on the authors' schedule (`default_learning_rate`)."""
        return keras.optimizers.Adam(default_learning_rate(), epsilon=ADAM_EPSILON)

    def encode(self, inputs, training: bool = False):
        """(images as the net saw them, digit capsules v (N, classes, 16)).

        In training the images are shifted by up to `shift` pixels, and the
        decoder is asked to reconstruct the shifted image.
        """
        images = self.as_images(inputs)
        if self.augment is not None:
            images = self.augment(images, training=training)
        capsules = images
        for layer in self.feature_layers:
            capsules = layer(capsules, training=training)
        return images, capsules

    def call(self, inputs, training: bool = False):
        return capsule_lengths(self.encode(inputs, training)[1])

    def targets(self, y):
        """One-hot T (N, classes) from class ids or one-hot rows."""
        if len(y.shape) == 2 and y.shape[-1] == self.classes:
            return ops.cast(y, self.compute_dtype)
        return ops.one_hot(ops.cast(ops.reshape(y, (-1,)), "int32"), self.classes,
                           dtype=self.compute_dtype)

    def decode(self, capsules, mask):
        """The decoder's images from `capsules` with all but `mask`'s (one-hot) zeroed."""
        self._require_decoder()
        h = ops.reshape(capsules * ops.expand_dims(mask, -1), (-1, self.classes * CAPSULE_DIM))
        for layer in self.decoder_layers:
            h = layer(h)
        return ops.reshape(h, (-1, *self.image_shape))

    def objective(self, y, images, capsules, sample_weight=None):
        """(the mean loss the rule lowers, the capsules' lengths).

        Eq. 4 summed over the capsules, plus 0.0005 × the sum of squared pixel
        errors of the reconstruction from the true class's capsule.
        """
        targets = self.targets(y)
        lengths = capsule_lengths(capsules)
        losses = margin_loss(targets, lengths)
        if self.reconstruction:
            errors = ops.square(self.decode(capsules, targets) - images)
            losses = losses + RECONSTRUCTION_WEIGHT * ops.sum(errors, axis=(1, 2, 3))
        return _weighted_mean(losses, sample_weight), lengths

    def cost(self, y, y_pred, sample_weight=None):
        """The margin loss of the capsules' lengths `y_pred` (the objective less its
        reconstruction term, which needs the capsules themselves: see `objective`)."""
        return _weighted_mean(margin_loss(self.targets(y), y_pred), sample_weight)

    def learning_rule(self, data) -> dict:
        """One step: the gradient of `objective` on a shifted batch, then Adam's update."""
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)

        def loss_fn():
            images, capsules = self.encode(x, training=True)
            return self.objective(y, images, capsules, sample_weight)

        # The shift's seed is a non-trainable variable the forward pass assigns.
        loss, lengths, grads = backend.value_and_grad(loss_fn, self.trainable_variables,
                                                      self.non_trainable_variables)
        self.update(grads)
        self.loss_tracker.update_state(loss, sample_weight=ops.shape(x)[0])
        return self.compute_metrics(x, y, lengths, sample_weight)

    def measure(self, data) -> dict:
        """The same objective on unshifted images, without an update."""
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        images, capsules = self.encode(x)
        loss, lengths = self.objective(y, images, capsules, sample_weight)
        self.loss_tracker.update_state(loss, sample_weight=ops.shape(x)[0])
        return self.compute_metrics(x, y, lengths, sample_weight)

    def _require_decoder(self) -> None:
        if not self.reconstruction:
            raise ValueError(f"{self.name} was built with reconstruction=False: it has no "
                             "decoder to reconstruct images with.")

    def _batches(self, x, y) -> Iterator[tuple]:
        """Checked images (and one-hot masks: the labels', else the longest capsule's) as
        tensors, with their capsules, INFERENCE_BATCH at a time."""
        self._require_decoder()
        x, y = self.check_data(x, y)
        for start in range(0, len(x), INFERENCE_BATCH):
            images, capsules = self.encode(ops.convert_to_tensor(x[start:start + INFERENCE_BATCH]))
            if y is None:
                mask = ops.one_hot(ops.argmax(capsule_lengths(capsules), axis=-1), self.classes,
                                   dtype=self.compute_dtype)
            else:
                mask = self.targets(ops.convert_to_tensor(y[start:start + INFERENCE_BATCH]))
            yield capsules, mask

    def reconstruct(self, x, y=None) -> np.ndarray:
        """The decoder's reconstructions of images `x` (N, h, w, c), from the capsule of
        class `y` (ids or one-hot) or, without `y`, of the longest capsule (the prediction)."""
        return np.concatenate([ops.convert_to_numpy(self.decode(capsules, mask))
                               for capsules, mask in self._batches(x, y)])

    def perturb(self, x, y=None, deltas: Sequence[float] = PERTURBATIONS) -> np.ndarray:
        """Figure 4: reconstructions with one dimension of the chosen digit capsule tweaked.

        The capsule is class `y`'s or, without `y`, the longest. Returns
        (N, 16, len(deltas), h, w, c): image n, with dimension d of its
        capsule moved by deltas[k] (the paper: −0.25 to 0.25 by 0.05).
        """
        steps = np.asarray(deltas, dtype="float32").reshape(-1)
        # (16, K, 16): the offset added to the capsule for each (dimension, delta).
        offsets = np.eye(CAPSULE_DIM, dtype="float32")[:, None, :] * steps[None, :, None]
        results = []
        for capsules, mask in self._batches(x, y):
            capsules, mask = ops.convert_to_numpy(capsules), ops.convert_to_numpy(mask)
            # (n, 16, K, classes, 16): the chosen capsule moved; `decode` zeroes the others.
            moved = (capsules[:, None, None]
                     + mask[:, None, None, :, None] * offsets[None, :, :, None, :])
            images = self.decode(ops.convert_to_tensor(moved.reshape(-1, *capsules.shape[1:])),
                                 ops.convert_to_tensor(np.repeat(mask, offsets.shape[0]
                                                                 * len(steps), axis=0)))
            results.append(ops.convert_to_numpy(images).reshape(
                -1, CAPSULE_DIM, len(steps), *self.image_shape))
        return np.concatenate(results)

    def get_config(self) -> dict:
        config = super().get_config()
        config.pop("include_top")
        return {**config, "routings": self.routings, "reconstruction": self.reconstruction,
                "conv_filters": self.conv_filters, "primary_channels": self.primary_channels,
                "shift": self.shift, "seed": self.seed}


def _check_options(input_shape, classes, routings, reconstruction, conv_filters,
                   primary_channels, shift, learning_rate, seed) -> None:
    dims = validation.check_image_shape(input_shape)
    validation.check_option(
        "input_shape", input_shape, min(dims[:2]) >= MINIMUM_SIZE,
        f"at least {MINIMUM_SIZE}×{MINIMUM_SIZE} (Conv1 and PrimaryCaps' 9×9 kernels leave "
        "nothing of smaller images): pad or resize them")
    validation.check_classes(classes)
    for option, value in (("routings", routings), ("conv_filters", conv_filters),
                          ("primary_channels", primary_channels)):
        validation.check_option(option, value, validation.is_integer(value) and value >= 1,
                                "an integer >= 1")
    validation.check_option("reconstruction", reconstruction,
                            isinstance(reconstruction, (bool, np.bool_)), "True or False")
    validation.check_option("shift", shift, validation.is_integer(shift) and shift >= 0,
                            "an integer >= 0 (pixels; 0: no shifts)")
    if learning_rate is not None and not isinstance(learning_rate, Schedule):
        validation.check_option(
            "learning_rate", learning_rate,
            validation.is_finite_number(learning_rate) and learning_rate > 0,
            "a positive, finite number, a keras LearningRateSchedule, or None")
    validation.check_seed(seed)


@milestone("capsnet")
def capsnet(input_shape: tuple[int, int, int] = (28, 28, 1), classes: int = 10,
            routings: int = 3, reconstruction: bool = True, conv_filters: int = 256,
            primary_channels: int = 32, shift: int = SHIFT,
            learning_rate: float | Schedule | None = None, seed: int | None = None,
            weights: str | None = None, compile: bool = True,
            name: str = "capsnet") -> CapsuleNetwork:
    """Sabour, Frosst & Hinton's CapsNet (2017): capsules, routing-by-agreement, a decoder.

    Conv1 (256 9×9 ReLU) → PrimaryCaps (32 × 8-D, 9×9 stride 2) → DigitCaps
    (`classes` × 16-D, `routings` iterations of Procedure 1) → with
    `reconstruction`, the masked decoder 512-1024-784. 8,215,568 weights (the
    paper: 8.2M), 6,804,224 without the decoder (6.8M).

    Trained on the margin loss (m⁺ 0.9, m⁻ 0.1, λ 0.5) plus 0.0005 × the
    reconstruction's sum of squared errors, by Adam on the authors' schedule
    (0.001 × 0.96 per 2,000 steps) with images shifted by up to `shift`
    pixels: fit with `batch_size=128`, the authors'. `predict` gives the
    digit capsules' lengths (N, classes), each the probability that its class
    is present; `reconstruct(x)` the decoder's images, `perturb(x)` Figure 4's.

    Images may be (N, h, w, c), (N, h, w) for one channel, or flat; uint8
    pixels are divided by 255, float pixels must lie in [0, 1]. Labels are
    class ids (N,) or one-hot rows (N, classes). The logs report `loss` (the
    whole objective; `evaluate`'s on unshifted images) and `accuracy`.

    Example:

    ```python
    (x, y), (x_test, y_test) = keras_history.datasets.mnist.load_data(folder)
    model = keras_history.models.capsnet()
    model.fit(x, y, batch_size=128, epochs=30)   # an epoch: tens of minutes on 2 CPU cores
    model.evaluate(x_test, y_test)                # the paper: 99.75% (0.25% error)
    ```

    Args:
        input_shape: image shape, channels last, at least 17×17.
        classes: digit capsules, one per class.
        routings: routing iterations (Table 1: 1 or 3).
        reconstruction: with the decoder and its loss (Table 1: with or without).
        conv_filters: Conv1's filters (the paper's 256; fewer make a small net).
        primary_channels: PrimaryCaps' channels of 8-D capsules (the paper's 32).
        shift: largest shift of the training images, in pixels (the paper's 2; 0: none).
        learning_rate: Adam's step size: a number, a Keras schedule, or None for
            `default_learning_rate()`, the authors' schedule.
        seed: seed of the initial weights and of the shifts (None: Keras's global seed).
        weights: None (untrained: no weight set is shipped yet), or the path
            of a `.weights.h5`/`.keras` file.
        compile: compile with Adam and the accuracy metric, ready for `fit`.
        name: the model's name.

    Returns:
        A built `CapsuleNetwork`.
    """
    _check_options(input_shape, classes, routings, reconstruction, conv_filters,
                   primary_channels, shift, learning_rate, seed)
    model = CapsuleNetwork(tuple(input_shape), classes, routings=routings,
                           reconstruction=bool(reconstruction), conv_filters=conv_filters,
                           primary_channels=primary_channels, shift=shift, seed=seed, name=name)
    build_for(model, model.image_shape)
    if compile:
        if learning_rate is None:
            model.compile()
        else:
            model.compile(optimizer=keras.optimizers.Adam(
                learning_rate if isinstance(learning_rate, Schedule) else float(learning_rate),
                epsilon=ADAM_EPSILON))
    return with_weights(model, "capsnet", weights)
