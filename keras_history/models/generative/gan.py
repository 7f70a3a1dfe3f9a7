"""Generative adversarial nets: Goodfellow et al. (2014).

Ian Goodfellow, Jean Pouget-Abadie, Mehdi Mirza, Bing Xu, David
Warde-Farley, Sherjil Ozair, Aaron Courville and Yoshua Bengio (NIPS 2014)
trained a generator G to turn noise into images by pitting it against a
discriminator D that tells its samples from real ones: a two-player game
whose equilibrium is G drawing from the data's distribution. On MNIST the
paper's Table 1 scores its samples with a Gaussian Parzen window at
**225 ± 2** nats per test image (deep GSN 214, DBN 138, stacked CAE 121);
`keras_history.metrics.parzen_log_likelihood` follows that protocol.

The net and recipe are those of the authors' `adversarial` code (mnist.yaml):

    G: noise z (100, uniform on [−√3, √3]) → 1200 ReLU → 1200 ReLU → 784 sigmoid
       weights uniform in ±0.05; output bias = logit of the pixel means of the data
    D: image → dropout(keep 0.8) → maxout 240×5 → dropout(0.5) → maxout 240×5
       → dropout(0.5) → 1 sigmoid; weights uniform in ±0.005

The rule (`AdversaryCost2` there, `GAN.learning_rule` here): on each batch of
100 real images and 100 samples, one forward pass gives

    D's objective  ½ (BCE(D(x), 1) + BCE(D(G(z)), 0))
    G's objective  BCE(D(G(z)), 1) = −log D(G(z))     (the paper's "non-saturating" trick)

and each player's gradient of its own objective, applied together in one
step (k = 1). `objective="minimax"` gives G the game's own objective,
log(1 − D(G(z))), which saturates while D wins easily (Section 3);
`schedule="alternating"` updates D first and G against the updated D.

Optimizer: SGD with momentum (Pylearn2's v ← m·v − lr·g, w ← w + v, which
Keras's SGD is), lr 0.1 divided by 1.000004 after every step (floor 1e-6),
momentum 0.5 in epoch 1 rising linearly to 0.7 in epoch 250 (Pylearn2's
MomentumAdjustor). Both are functions of `optimizer.iterations`,
so a `.keras` file resumes the schedule exactly. Data: MNIST train[0:50000]
(train[50000:60000] validates), batch 100, so an epoch is 500 steps.
"""

from __future__ import annotations

import math
import random

import keras
import numpy as np
from keras import layers, ops

from keras_history import backend, validation
from keras_history.building import build_for
from keras_history.layers import Maxout
from keras_history.models.base import CheckedInputsMixin
from keras_history.timeline import milestone
from keras_history.weights.loading import with_weights

__all__ = ["GAN", "gan"]

BATCH_SIZE = 100
STEPS_PER_EPOCH = 500  # 50,000 training images in batches of 100
NOISES = ("uniform", "gaussian")
OBJECTIVES = ("non_saturating", "minimax")
SCHEDULES = ("simultaneous", "alternating")
LOGS = ("d_loss", "g_loss", "real_accuracy", "fake_accuracy")


@keras.saving.register_keras_serializable(package="keras_history")
class FlooredExponentialDecay(keras.optimizers.schedules.LearningRateSchedule):
    """`max(initial / decay_factor**step, floor)`: Pylearn2's `ExponentialDecay` callback."""

    def __init__(self, initial_learning_rate: float = 0.1, decay_factor: float = 1.000004,
                 min_learning_rate: float = 1e-6):
        self.initial_learning_rate = float(initial_learning_rate)
        self.decay_factor = float(decay_factor)
        self.min_learning_rate = float(min_learning_rate)

    def __call__(self, step):
        # exp(−step·ln f): float32 cannot hold 1.000004 exactly, its logarithm it can.
        step = ops.cast(step, "float32")
        rate = self.initial_learning_rate * ops.exp(-step * math.log(self.decay_factor))
        return ops.maximum(rate, self.min_learning_rate)

    def get_config(self) -> dict:
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_factor": self.decay_factor, "min_learning_rate": self.min_learning_rate}


@keras.saving.register_keras_serializable(package="keras_history")
class RampedMomentumSGD(keras.optimizers.SGD):
    """Keras SGD whose momentum ramps linearly with the epoch, as Pylearn2's MomentumAdjustor.

    After `e` epochs (`iterations // steps_per_epoch`) the momentum is
    `initial + clip((e − start) / (saturate − start), 0, 1) · (final − initial)`;
    the update is SGD's own: v ← m·v − lr·g, w ← w + v.
    """

    def __init__(self, learning_rate=0.01, initial_momentum: float = 0.5,
                 final_momentum: float = 0.7, start: int = 1, saturate: int = 250,
                 steps_per_epoch: int = STEPS_PER_EPOCH, **kwargs):
        kwargs.pop("momentum", None)  # from get_config: the ramp decides it
        kwargs.pop("nesterov", None)
        super().__init__(learning_rate=learning_rate, momentum=initial_momentum, **kwargs)
        self.initial_momentum, self.final_momentum = float(initial_momentum), float(final_momentum)
        self.start, self.saturate = int(start), int(saturate)
        self.steps_per_epoch = int(steps_per_epoch)

    def current_momentum(self):
        # Pylearn2 calls the adjustor once before the first epoch too, so during
        # epoch e (counting from 1) its count is e.
        epoch = ops.floor_divide(ops.cast(self.iterations, "float32"), self.steps_per_epoch) + 1
        span = max(self.saturate - self.start, 1)
        progress = ops.clip((epoch - self.start) / span, 0.0, 1.0)
        return self.initial_momentum + progress * (self.final_momentum - self.initial_momentum)

    def update_step(self, gradient, variable, learning_rate):
        velocity = self.momentums[self._get_variable_index(variable)]
        momentum = ops.cast(self.current_momentum(), variable.dtype)
        step = ops.cast(gradient, variable.dtype) * ops.cast(learning_rate, variable.dtype)
        self.assign(velocity, velocity * momentum - step)
        self.assign_add(variable, velocity)

    def get_config(self) -> dict:
        return {**super().get_config(), "initial_momentum": self.initial_momentum,
                "final_momentum": self.final_momentum, "start": self.start,
                "saturate": self.saturate, "steps_per_epoch": self.steps_per_epoch}


def _bce(target: float, logits):
    """Mean binary cross-entropy of D's logits against a constant target, computed stably."""
    return ops.mean(ops.binary_crossentropy(ops.full_like(logits, target), logits,
                                            from_logits=True))


def sigmoid_bias_from_marginals(images) -> np.ndarray:
    """logit of each pixel's mean over `images`: a sigmoid layer that starts at the data's mean."""
    means = validation.as_unit_images(images, "output_bias_from").reshape(len(images), -1)
    means = np.clip(means.mean(axis=0, dtype="float64"), 1e-7, 1 - 1e-7)
    return np.log(means / (1 - means)).astype("float32")


@keras.saving.register_keras_serializable(package="keras_history")
class GAN(CheckedInputsMixin, backend.BackendStepsMixin, keras.Model):
    """A generator and a discriminator trained by the adversarial rule. See `gan()`.

    `generator` maps noise (N, noise_dim) to images (N, 28, 28) in [0, 1];
    `discriminator` maps images to the probability that they are real. Both
    are plain Keras models, usable alone. Calling the GAN (and `predict`)
    runs the generator; `fit` takes images only.
    """

    needs_targets = False
    weighted_samples = False
    splits_batch = True  # under tf.distribute: a gradient per replica (backend.distributed_step)

    def __init__(self, noise_dim: int = 100, noise: str = "uniform",
                 objective: str = "non_saturating", schedule: str = "simultaneous",
                 generator_units: tuple = (1200, 1200), discriminator_units: tuple = (240, 240),
                 pieces: int = 5, image_shape: tuple = (28, 28), seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.noise_dim, self.noise, self.objective = int(noise_dim), noise, objective
        self.schedule, self.pieces, self.seed = schedule, int(pieces), int(seed)
        self.generator_units = tuple(int(u) for u in generator_units)
        self.discriminator_units = tuple(int(u) for u in discriminator_units)
        self.image_shape = tuple(int(d) for d in image_shape)
        seeds = iter(range(self.seed, self.seed + 100))  # one per random thing, all from `seed`

        def uniform(limit):
            return keras.initializers.RandomUniform(-limit, limit, seed=next(seeds))

        pixels = int(np.prod(self.image_shape))
        self.generator = keras.Sequential(
            [keras.Input((self.noise_dim,))]
            + [layers.Dense(u, activation="relu", kernel_initializer=uniform(0.05),
                            name=f"hidden_{i}") for i, u in enumerate(self.generator_units)]
            + [layers.Dense(pixels, activation="sigmoid", kernel_initializer=uniform(0.05),
                            name="pixels"),
               layers.Reshape(self.image_shape, name="image")],
            name="generator")
        hidden = []
        for i, units in enumerate(self.discriminator_units):
            hidden += [layers.Dropout(0.2 if i == 0 else 0.5, seed=next(seeds),
                                      name=f"dropout_{i}"),
                       Maxout(units, self.pieces, kernel_initializer=uniform(0.005),
                              name=f"maxout_{i}")]
        self.discriminator = keras.Sequential(
            [keras.Input(self.image_shape), layers.Flatten(name="flatten")] + hidden
            + [layers.Dropout(0.5, seed=next(seeds), name=f"dropout_{len(hidden) // 2}"),
               layers.Dense(1, kernel_initializer=uniform(0.005), name="logit"),
               layers.Activation("sigmoid", name="probability")],
            name="discriminator")
        self.noise_generator = keras.random.SeedGenerator(next(seeds), name="noise_seed")
        self.trackers = [keras.metrics.Mean(name=name) for name in LOGS]

    @property
    def metrics(self) -> list:
        return list(self.trackers)

    def build(self, input_shape):
        self.built = True

    def call(self, inputs, training: bool = False):
        return self.generator(inputs, training=training)

    def sample_noise(self, count):
        """`count` noise vectors from the model's seeded generator (a training-step tensor)."""
        def draw(count):
            shape = (count, self.noise_dim)
            if self.noise == "gaussian":
                return keras.random.normal(shape, seed=self.noise_generator)
            limit = math.sqrt(3)  # unit variance, like the Gaussian
            return keras.random.uniform(shape, -limit, limit, seed=self.noise_generator)

        return backend.replica_share(draw, count)  # under tf.distribute: the global draw

    def noise_for(self, count: int, seed: int | None = None) -> np.ndarray:
        """`count` noise vectors drawn with NumPy from `seed`: the same on every backend."""
        rng = np.random.default_rng(seed)
        if self.noise == "gaussian":
            return rng.standard_normal((count, self.noise_dim)).astype("float32")
        limit = math.sqrt(3)
        return rng.uniform(-limit, limit, (count, self.noise_dim)).astype("float32")

    def generate(self, count: int, seed: int | None = None, batch_size: int = 1000) -> np.ndarray:
        """`count` images (count, 28, 28) in [0, 1]; the same `seed` draws the same images."""
        validation.check_option("count", count, validation.is_integer(count) and count >= 1,
                                "an integer >= 1")
        validation.check_seed(seed)
        return self.predict(self.noise_for(int(count), seed), batch_size=batch_size, verbose=0)

    def set_output_bias_from(self, images) -> None:
        """Start the generator at the data's mean image: its output bias = logit(pixel means)."""
        bias = sigmoid_bias_from_marginals(images)
        target = self.generator.get_layer("pixels").bias
        if bias.shape != tuple(target.shape):
            raise ValueError(f"`output_bias_from` images have {bias.size} pixels; the "
                             f"generator draws {target.shape[0]}.")
        target.assign(bias)

    def discriminator_logits(self, images, training: bool = False):
        """D before its sigmoid: the cross-entropies are computed from logits, stably."""
        x = images
        for layer in self.discriminator.layers[:-1]:
            x = layer(x, training=training)
        return x

    def generator_objective(self, fake_logits):
        if self.objective == "minimax":
            return -_bce(0.0, fake_logits)  # log(1 − D(G(z))), to be lowered
        return _bce(1.0, fake_logits)  # −log D(G(z))

    def _play(self, images, players: tuple[str, ...]):
        """One forward pass on fresh noise: each named player's objective, and D's logits."""
        fake = self.generator(self.sample_noise(ops.shape(images)[0]), training=True)
        real_logits = self.discriminator_logits(images, training=True)
        fake_logits = self.discriminator_logits(fake, training=True)
        objectives = {"d": 0.5 * (_bce(1.0, real_logits) + _bce(0.0, fake_logits)),
                      "g": self.generator_objective(fake_logits)}
        return tuple(objectives[p] for p in players), (real_logits, fake_logits)

    def _step(self, images, players: tuple[str, ...]):
        """Gradients of each player's objective for its own weights, applied in one update."""
        owners = {"d": self.discriminator.trainable_variables,
                  "g": self.generator.trainable_variables}
        groups = [owners[p] for p in players]
        losses, logits, grads = backend.values_and_grads(
            lambda: self._play(images, players), groups, self.non_trainable_variables)
        backend.apply_gradients(self.optimizer, [g for group in grads for g in group],
                                [v for group in groups for v in group])
        return dict(zip(players, losses)), logits

    def _images(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        if "int" in keras.backend.standardize_dtype(x.dtype):  # uint8 from a dataset
            return ops.cast(x, self.compute_dtype) / 255.0
        return ops.cast(x, self.compute_dtype)

    def _log(self, d_loss, g_loss, real_logits, fake_logits) -> dict:
        values = (d_loss, g_loss, ops.mean(ops.cast(real_logits > 0, "float32")),
                  ops.mean(ops.cast(fake_logits < 0, "float32")))
        for tracker, value in zip(self.trackers, values):
            tracker.update_state(value)
        return {t.name: t.result() for t in self.trackers}

    def learning_rule(self, data) -> dict:
        """One adversarial step on a batch of real images (AdversaryCost2, k = 1)."""
        images = self._images(data)
        if self.schedule == "alternating":
            losses, _ = self._step(images, ("d",))
            g_losses, logits = self._step(images, ("g",))
            losses.update(g_losses)  # the accuracies: of the updated D on G's batch
        else:
            losses, logits = self._step(images, ("d", "g"))
        return self._log(losses["d"], losses["g"], *logits)

    def measure(self, data) -> dict:
        """Both objectives and D's accuracies on real images and fresh samples, no dropout."""
        images = self._images(data)
        fake = self.generator(self.sample_noise(ops.shape(images)[0]))
        real_logits, fake_logits = (self.discriminator_logits(images),
                                    self.discriminator_logits(fake))
        d_loss = 0.5 * (_bce(1.0, real_logits) + _bce(0.0, fake_logits))
        return self._log(d_loss, self.generator_objective(fake_logits), real_logits, fake_logits)

    def check_data(self, x, y):
        """Training/evaluation data: images only, (N, 28, 28) in [0, 1] (or uint8)."""
        if y is not None:
            raise ValueError(f"{type(self).__name__} learns from images alone and uses no "
                             "labels or targets: call `fit(x)` / `evaluate(x)` without `y`.")
        return validation.as_unit_images(x, "x", self.image_shape), None

    def _checked_validation_data(self, kwargs: dict) -> None:
        data = kwargs.get("validation_data")
        if isinstance(data, tuple) and len(data) == 2:
            self.check_data(*data)  # refuses the labels, as `fit` would
        elif validation.is_array_like(data):
            kwargs["validation_data"] = (self.check_data(data, None)[0],)

    def predict(self, x, *args, **kwargs):
        """Images (N, 28, 28) for noise `x` (N, noise_dim); `generate(n, seed=)` draws the noise."""
        if validation.is_array_like(x):
            noise = validation.as_numeric(x, "x")
            if noise.ndim != 2 or noise.shape[1] != self.noise_dim:
                raise ValueError(
                    f"{type(self).__name__}.predict maps noise of shape (N, {self.noise_dim}) "
                    f"to images, got shape {noise.shape}; `generate(n, seed=)` draws the "
                    "noise for you, and the discriminator (`model.discriminator`) scores "
                    "images.")
            x = noise
        return keras.Model.predict(self, x, *args, **kwargs)

    def get_config(self) -> dict:
        return {**super().get_config(), "noise_dim": self.noise_dim, "noise": self.noise,
                "objective": self.objective, "schedule": self.schedule,
                "generator_units": self.generator_units,
                "discriminator_units": self.discriminator_units, "pieces": self.pieces,
                "image_shape": self.image_shape, "seed": self.seed}


def _check_options(noise_dim, noise, objective, schedule, generator_units, discriminator_units,
                   pieces, learning_rate, initial_momentum, final_momentum,
                   steps_per_epoch) -> None:
    def positive_integer(value):
        return validation.is_integer(value) and value >= 1

    def units(value):
        return isinstance(value, (tuple, list)) and len(value) >= 1 and all(
            positive_integer(u) for u in value)

    checks = [
        ("noise_dim", noise_dim, positive_integer(noise_dim), "an integer >= 1"),
        ("noise", noise, noise in NOISES, " or ".join(map(repr, NOISES))),
        ("objective", objective, objective in OBJECTIVES, " or ".join(map(repr, OBJECTIVES))),
        ("schedule", schedule, schedule in SCHEDULES, " or ".join(map(repr, SCHEDULES))),
        ("generator_units", generator_units, units(generator_units),
         "a tuple of positive integers"),
        ("discriminator_units", discriminator_units, units(discriminator_units),
         "a tuple of positive integers"),
        ("pieces", pieces, positive_integer(pieces), "an integer >= 1"),
        ("learning_rate", learning_rate,
         validation.is_finite_number(learning_rate) and learning_rate > 0,
         "a positive, finite number"),
    ]
    for check in checks:
        validation.check_option(*check)
    validation.check_momentum_ramp(initial_momentum, final_momentum, steps_per_epoch)


@milestone("gan")
def gan(noise_dim: int = 100, noise: str = "uniform", objective: str = "non_saturating",
        schedule: str = "simultaneous", generator_units: tuple[int, ...] = (1200, 1200),
        discriminator_units: tuple[int, ...] = (240, 240), pieces: int = 5,
        learning_rate: float = 0.1, initial_momentum: float = 0.5,
        final_momentum: float = 0.7, steps_per_epoch: int = STEPS_PER_EPOCH,
        output_bias_from=None, seed: int | None = None, weights: str | None = None,
        compile: bool = True,
        name: str = "gan") -> GAN:
    """The MNIST generative adversarial net of Goodfellow et al. (2014), with its rule.

    Generator: noise → 1200 ReLU → 1200 ReLU → 784 sigmoid → (28, 28).
    Discriminator: maxout 240×5 → maxout 240×5 → sigmoid, with dropout.
    Trained by AdversaryCost2 (the module docstring) with SGD + momentum:
    lr 0.1 / 1.000004 per step (floor 1e-6), momentum 0.5 → 0.7 over epochs
    1..250 of `steps_per_epoch` steps (500: MNIST train[0:50000], batch 100).
    The paper's Table 1: Parzen-window log-likelihood 225 ± 2 on MNIST's test set.

    Example:

    ```python
    (x, _), _ = keras_history.datasets.mnist.load_data("../shared/data/mnist")
    model = keras_history.models.gan(output_bias_from=x[:50000], seed=0)
    model.fit(x[:50000], batch_size=100, epochs=5)   # images only, no labels
    images = model.generate(16, seed=1)               # (16, 28, 28) in [0, 1]
    model.discriminator.predict(images)               # D's probability of "real"
    ```

    Args:
        noise_dim: size of the noise vector.
        noise: "uniform" on [−√3, √3] (the original's final setting) or "gaussian".
        objective: G's objective: "non_saturating" (−log D(G(z)), used in the
            paper's experiments) or "minimax" (log(1 − D(G(z))), the game's own).
        schedule: "simultaneous" (both players step on one forward pass, as the
            authors' code) or "alternating" (D steps, then G against the new D).
        generator_units, discriminator_units, pieces: layer sizes (the paper's
            by default; smaller ones train faster for teaching and tests).
        learning_rate: the initial step size (decayed ÷1.000004 per step).
        initial_momentum, final_momentum: the momentum ramp over epochs 1..250.
        steps_per_epoch: steps that make an epoch for the momentum ramp.
        output_bias_from: images (N, 28, 28) whose pixel means set the
            generator's output bias, as the original; None leaves it at zero.
        seed: seeds the initial weights, dropout masks and training noise;
            None draws one from Python's `random` (which
            `keras.utils.set_random_seed` seeds).
        weights: None (untrained), the name of a weight set shipped for it
            (`keras_history.weights.names("gan")`), or the path of a
            `.weights.h5`/`.keras` file.
        compile: compile with the recipe's optimizer, ready for `fit`.
        name: the model's name.

    Returns:
        A built `GAN`.
    """
    _check_options(noise_dim, noise, objective, schedule, generator_units, discriminator_units,
                   pieces, learning_rate, initial_momentum, final_momentum, steps_per_epoch)
    validation.check_seed(seed)
    model = GAN(noise_dim=noise_dim, noise=noise, objective=objective, schedule=schedule,
                generator_units=tuple(generator_units),
                discriminator_units=tuple(discriminator_units), pieces=pieces,
                seed=random.randrange(2**31 - 100) if seed is None else seed, name=name)
    build_for(model, (noise_dim,))
    if output_bias_from is not None:
        model.set_output_bias_from(output_bias_from)
    if compile:
        model.compile(optimizer=RampedMomentumSGD(
            FlooredExponentialDecay(float(learning_rate)), initial_momentum=initial_momentum,
            final_momentum=final_momentum, steps_per_epoch=steps_per_epoch))
    return with_weights(model, "gan", weights)
