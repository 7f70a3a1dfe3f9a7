"""The restricted Boltzmann machine trained by contrastive divergence (Hinton 2002; 2006).

Binary visible units v and binary hidden units h, no connections within a
layer, energy E(v, h) = −v·b − h·c − vᵀWh. Each hidden unit is on with
p(h_j = 1 | v) = σ(c_j + vᵀW_j), each visible unit with p(v_i = 1 | h) =
σ(b_i + W_i h). Hinton's contrastive divergence CD-k lowers the energy of the
data and raises that of the "reconstructions" k Gibbs steps away:

    ΔW ∝ ⟨v hᵀ⟩_data − ⟨v hᵀ⟩_k

This is the rule of Hinton & Salakhutdinov's code for "Reducing the
dimensionality of data with neural networks" (Science 313:504, 2006),
rbm.m, which every layer of their deep belief nets is pretrained with:

    h⁰ ~ p(h | v⁰)                 (sampled binary states drive the reconstruction)
    v¹ = p(v | h⁰),  p¹ = p(h | v¹)   (probabilities feed the statistics)
    ΔW ← m·ΔW + ε·((v⁰ᵀp⁰ − v¹ᵀp¹)/n − λ·W),   W ← W + ΔW
    Δb ← m·Δb + ε·(Σv⁰ − Σv¹)/n,  Δc ← m·Δc + ε·(Σp⁰ − Σp¹)/n

with ε = 0.1, weight cost λ = 2·10⁻⁴ (weights only), momentum m = 0.5 for the
first 5 epochs and 0.9 after, batches of n = 100, W ~ 0.1·N(0, 1), b = c = 0.
With k > 1 the hidden states are resampled k − 1 more times (CD-k).
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops

from keras_history import backend, validation

LEARNING_RATE, WEIGHT_COST = 0.1, 2e-4
INITIAL_MOMENTUM, FINAL_MOMENTUM, MOMENTUM_EPOCHS = 0.5, 0.9, 5  # rbm.m: `if epoch>5`
STEPS_PER_EPOCH = 600  # 60,000 digits in batches of 100; `fit` on arrays counts its own


@keras.saving.register_keras_serializable(package="keras_history")
class RBM(backend.BackendStepsMixin, keras.Model):
    """A binary RBM whose `fit(x)` is CD-k (the module docstring). Calling it gives p(h | v).

    `fit` takes (samples, visible_units) data in [0, 1] (probabilities or
    binary states; uint8 grey levels are divided by 255) and no targets. It
    logs `reconstruction_error`: the squared error of the one-step
    reconstruction v¹, summed over the visible units and averaged over the
    cases (rbm.m prints the sum over a batch: 100 times ours at its batch
    size). The momentum switches after `momentum_epochs` epochs, counted as
    `steps_per_epoch` rule steps; `fit` on arrays sets `steps_per_epoch` from
    the data and the batch size. The step size ε is the compiled optimizer's
    learning rate (`compile()` gives rbm.m's 0.1); the optimizer computes
    nothing, the rule assigns the weights.
    """

    def __init__(self, visible_units: int, hidden_units: int, cd_steps: int = 1,
                 weight_cost: float = WEIGHT_COST, initial_momentum: float = INITIAL_MOMENTUM,
                 final_momentum: float = FINAL_MOMENTUM, momentum_epochs: int = MOMENTUM_EPOCHS,
                 steps_per_epoch: int = STEPS_PER_EPOCH, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        is_count = validation.is_integer
        for option, value, ok, expected in (
            ("visible_units", visible_units, is_count(visible_units) and visible_units >= 1,
             "an integer >= 1"),
            ("hidden_units", hidden_units, is_count(hidden_units) and hidden_units >= 1,
             "an integer >= 1"),
            ("cd_steps", cd_steps, is_count(cd_steps) and cd_steps >= 1, "an integer >= 1"),
            ("weight_cost", weight_cost,
             validation.is_finite_number(weight_cost) and weight_cost >= 0, "a number >= 0"),
        ):
            validation.check_option(option, value, ok, expected)
        validation.check_momentum_ramp(initial_momentum, final_momentum, steps_per_epoch,
                                       momentum_epochs, initial_may_be_zero=True)
        validation.check_seed(seed)
        self.visible_units, self.hidden_units = int(visible_units), int(hidden_units)
        self.cd_steps, self.weight_cost = int(cd_steps), float(weight_cost)
        self.initial_momentum, self.final_momentum = float(initial_momentum), float(final_momentum)
        self.momentum_epochs, self.steps_per_epoch = int(momentum_epochs), int(steps_per_epoch)
        self.seed = seed
        self.sampler = keras.random.SeedGenerator(None if seed is None else seed + 1,
                                                  name="gibbs_seed")
        self.error_tracker = keras.metrics.Mean(name="reconstruction_error")
        self.build((None, self.visible_units))

    def build(self, input_shape):
        if self.built:
            return
        v, h = self.visible_units, self.hidden_units
        self.kernel = self.add_weight(  # rbm.m: vishid = 0.1*randn(numdims, numhid)
            shape=(v, h), name="kernel",
            initializer=keras.initializers.RandomNormal(stddev=0.1, seed=self.seed))
        self.hidden_bias = self.add_weight(shape=(h,), name="hidden_bias", initializer="zeros")
        self.visible_bias = self.add_weight(shape=(v,), name="visible_bias", initializer="zeros")
        # The increments ΔW, Δb, Δc the momentum carries from step to step.
        self.increments = [self.add_weight(shape=w.shape, name=f"{w.name}_increment",
                                           initializer="zeros", trainable=False)
                           for w in (self.kernel, self.visible_bias, self.hidden_bias)]
        self.built = True

    @property
    def metrics(self) -> list:
        return [self.error_tracker]

    def hidden_probabilities(self, v):
        """p(h = 1 | v) = σ(c + vW)."""
        return ops.sigmoid(ops.matmul(v, self.kernel) + self.hidden_bias)

    def visible_probabilities(self, h):
        """p(v = 1 | h) = σ(b + hWᵀ)."""
        return ops.sigmoid(ops.matmul(h, ops.transpose(self.kernel)) + self.visible_bias)

    def call(self, inputs):
        return self.hidden_probabilities(self._visible(inputs))

    def free_energy(self, x):
        """F(v) = −v·b − Σ_j log(1 + exp(c_j + vW_j)), so that p(v) ∝ exp(−F(v)):
        −log Σ_h exp(−E(v, h)) with the binary h summed out. One value per row of `x`."""
        v = self._visible(ops.convert_to_tensor(x) if validation.is_array_like(x) else x)
        return (-ops.matmul(v, ops.expand_dims(self.visible_bias, -1))[:, 0]
                - ops.sum(ops.softplus(ops.matmul(v, self.kernel) + self.hidden_bias), axis=-1))

    def _visible(self, x):
        if "int" in keras.backend.standardize_dtype(x.dtype):  # uint8 grey levels
            return ops.cast(x, self.compute_dtype) / 255.0
        return ops.cast(x, self.compute_dtype)

    def _sample(self, probabilities):
        """Binary states on with their probabilities (rbm.m: `probs > rand(...)`)."""
        noise = keras.random.uniform(ops.shape(probabilities), seed=self.sampler,
                                     dtype=probabilities.dtype)
        return ops.cast(probabilities > noise, probabilities.dtype)

    def momentum(self):
        """m: `initial_momentum` for the first `momentum_epochs` epochs, then `final_momentum`."""
        epochs_done = ops.floor_divide(self.optimizer.iterations, self.steps_per_epoch)
        return ops.where(epochs_done >= self.momentum_epochs, self.final_momentum,
                         self.initial_momentum)

    def statistics(self, v0, h0_states):
        """CD-k's positive and negative statistics from the data v0 and the sampled h⁰:
        (v⁰ᵀp⁰, Σv⁰, Σp⁰), (vᵏᵀpᵏ, Σvᵏ, Σpᵏ), and the one-step reconstruction v¹."""
        p0 = self.hidden_probabilities(v0)
        states, first = h0_states, None
        for step in range(self.cd_steps):
            vk = self.visible_probabilities(states)
            pk = self.hidden_probabilities(vk)
            first = vk if first is None else first
            if step < self.cd_steps - 1:
                states = self._sample(pk)
        positive = (ops.matmul(ops.transpose(v0), p0), ops.sum(v0, 0), ops.sum(p0, 0))
        negative = (ops.matmul(ops.transpose(vk), pk), ops.sum(vk, 0), ops.sum(pk, 0))
        return positive, negative, first

    def learning_rule(self, data) -> dict:
        """One CD-k step on a batch (rbm.m's update)."""
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        v0 = self._visible(x)
        cases = ops.cast(ops.shape(v0)[0], v0.dtype)
        h0 = self._sample(self.hidden_probabilities(v0))
        positive, negative, reconstruction = self.statistics(v0, h0)
        rate = ops.cast(self.optimizer.learning_rate, v0.dtype)
        momentum = ops.cast(self.momentum(), v0.dtype)
        decay = (self.weight_cost * self.kernel, 0.0, 0.0)  # rbm.m: weight cost on W alone
        for weight, increment, pos, neg, cost in zip(
                (self.kernel, self.visible_bias, self.hidden_bias), self.increments,
                positive, negative, decay):
            increment.assign(momentum * increment + rate * ((pos - neg) / cases - cost))
            weight.assign(weight + increment)
        self.optimizer.iterations.assign_add(1)
        return self._log(v0, reconstruction)

    def _log(self, v0, reconstruction) -> dict:
        error = ops.sum(ops.square(v0 - reconstruction), axis=-1)
        self.error_tracker.update_state(error)
        return {"reconstruction_error": self.error_tracker.result()}

    def measure(self, data) -> dict:
        """The reconstruction error through the hidden states sampled once, no update."""
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        v0 = self._visible(x)
        states = self._sample(self.hidden_probabilities(v0))
        return self._log(v0, self.visible_probabilities(states))

    def compile(self, optimizer=None, **kwargs):
        """Keras's `compile`; the optimizer only holds ε (default: rbm.m's 0.1)."""
        if kwargs.get("loss") is not None:
            raise ValueError("RBM is trained by contrastive divergence; compile it without "
                             "`loss`.")
        super().compile(optimizer=optimizer or keras.optimizers.SGD(LEARNING_RATE), **kwargs)

    def check_data(self, x, y=None) -> np.ndarray:
        """(samples, visible_units) in [0, 1], or uint8 grey levels; no targets."""
        if y is not None:
            raise ValueError("RBM learns from the data alone (unsupervised): call `fit(x)` "
                             "without `y`.")
        integer = "int" in np.asarray(x).dtype.name if validation.is_array_like(x) else False
        v = validation.as_matrix(x, "x", self.visible_units)
        if integer:
            validation.check_in_range(v, 0, 255, "x")
            return v / np.float32(255)
        validation.check_in_range(v, 0.0, 1.0, "x")
        return v

    def fit(self, x=None, y=None, batch_size=None, epochs=1, **kwargs):
        if validation.is_array_like(x):
            x = self.check_data(x, y)
            steps = math.ceil(len(x) / (batch_size or 32))
            if steps != self.steps_per_epoch:  # the momentum switch counts this data's epochs
                self.steps_per_epoch, self.train_function = steps, None
        return super().fit(x, y, batch_size=batch_size, epochs=epochs, **kwargs)

    def evaluate(self, x=None, y=None, **kwargs):
        if validation.is_array_like(x):
            x = self.check_data(x, y)
        return super().evaluate(x, y, **kwargs)

    def get_config(self) -> dict:
        return {**super().get_config(), "visible_units": self.visible_units,
                "hidden_units": self.hidden_units, "cd_steps": self.cd_steps,
                "weight_cost": self.weight_cost, "initial_momentum": self.initial_momentum,
                "final_momentum": self.final_momentum, "momentum_epochs": self.momentum_epochs,
                "steps_per_epoch": self.steps_per_epoch, "seed": self.seed}
