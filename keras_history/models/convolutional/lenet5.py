"""LeNet-5: LeCun, Bottou, Bengio & Haffner, "Gradient-based learning
applied to document recognition", Proceedings of the IEEE, 1998.

The convolutional network that read bank cheques. A 32×32 image goes through

    C1 conv 6@5×5 → S2 subsample → C3 partial conv 16@5×5 (Table I) → S4 subsample
    → C5 conv 120@5×5 → F6 84 units → 10 Euclidean RBF units, fixed ±1 prototypes

with the squashing f(a) = 1.7159·tanh(2a/3) after every layer up to F6: 60,000
trainable parameters (C1 156, S2 12, C3 1,516, S4 32, C5 48,120, F6 10,164).
Each output y_i = Σ_j (x_j − w_ij)² is F6's distance to the stylized 7×12
bitmap of digit i; the smallest wins. The paper reports 0.95% test error on
MNIST after 20 passes (0.35% training error after 19). Here, with its eq. 9
loss and batches of 8: 0.83%, 1.02% and 1.02% for seeds 0–2, a mean of 0.96%
(docs/milestones/lenet5.md).

The learning rule (Appendix C) is stochastic diagonal Levenberg-Marquardt:
one update per pattern, with a step per parameter

    w_k ← w_k − ε_k ∂E_p/∂w_k,   ε_k = η / (μ + h_kk),   μ = 0.02,

where h_kk estimates the second derivative of the loss along w_k (its
Gauss-Newton diagonal), re-estimated on 500 patterns before each pass and held
during it, and η falls by pass: 5e-4 (passes 1–2), 2e-4 (3–5), 1e-4 (6–8),
5e-5 (9–12), 1e-5 after. Here that η is scaled: the paper's own values make
the first pass blow up (h_kk starts tiny), so passes 1–2 take 0.04 of it
(`warmup_scale`) and the later passes 0.5 of it (`eta_scale`); measured in
docs/milestones/lenet5.md.

h_kk is computed as the paper does: second derivatives backpropagated like
gradients, with the Gauss-Newton approximation (f'' terms dropped) and the
off-diagonal terms dropped, ∂²E/∂z² = 2 at F6's output for eq. 8's |z − w_D|²
(the same curvature serves eq. 9). `second_derivatives` computes all of it
with one ordinary backward pass of a "shadow" network (w² on the second
derivatives, x² on the weights), so it runs on every backend.

Updates: each applies the SUM of the per-pattern gradients of at most
`patterns_per_update` patterns (default 8), taken at the same weights, with
the same ε_k; a batch of any size is walked in order as such updates, so
Keras's default `batch_size=32` trains exactly as batches of 8 do (a sum of
32 steps at once would stay at chance). `patterns_per_update=1` is the
paper's rule, one update per pattern; larger values are its first-order
approximation, fewer (and faster) steps.

Input rules: those of `mnist_convnet`, checked by the same
code: (N, 28, 28, 1), (N, 28, 28) or flat (N, 784); uint8 grey levels or
floats in [0, 1]. Inside the model the image is padded by 2 to 32×32 and
mapped so background = −0.1 and foreground = 1.175.

`predict` returns class probabilities softmax(−y): the posterior of the
paper's eq. 9 without its "rubbish" class; the most probable class is the
nearest prototype.
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
from keras import layers, ops

from keras_history import backend, saving, validation
from keras_history.building import build_for
from keras_history.layers import PartialConv2D, RBFOutput, Squashing, Subsampling2D
from keras_history.models.base import CheckedInputsMixin
from keras_history.models.convolutional.classifier import ImageClassifier, is_integer_dtype
from keras_history.timeline import milestone
from keras_history.weights.loading import with_weights

__all__ = ["LeNet5", "lenet5"]

# Table I: the S2 maps each C3 map reads.
C3_CONNECTIONS = (
    (0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (0, 4, 5), (0, 1, 5),
    (0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5), (0, 3, 4, 5), (0, 1, 4, 5), (0, 1, 2, 5),
    (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)

# The output prototypes: stylized digits on a 7×12 bitmap ('#' = +1, '.' = −1), drawn
# for this project in the manner of the paper's Fig. 3 (whose bitmaps are not published
# as data): one-pixel strokes, a blank top and bottom row.
DIGIT_BITMAPS = (
    ".......|..###..|.#...#.|#.....#|#.....#|#.....#|#.....#|#.....#|#.....#|.#...#.|..###..|.......",
    ".......|...#...|..##...|.#.#...|...#...|...#...|...#...|...#...|...#...|...#...|.#####.|.......",
    ".......|..###..|.#...#.|#.....#|......#|.....#.|....#..|...#...|..#....|.#.....|#######|.......",
    ".......|.#####.|#.....#|......#|......#|..####.|......#|......#|......#|#.....#|.#####.|.......",
    ".......|....##.|...#.#.|..#..#.|.#...#.|#....#.|#######|.....#.|.....#.|.....#.|.....#.|.......",
    ".......|#######|#......|#......|######.|......#|......#|......#|......#|#.....#|.#####.|.......",
    ".......|..####.|.#.....|#......|#......|######.|#.....#|#.....#|#.....#|#.....#|.#####.|.......",
    ".......|#######|......#|.....#.|.....#.|....#..|....#..|...#...|...#...|..#....|..#....|.......",
    ".......|.#####.|#.....#|#.....#|#.....#|.#####.|#.....#|#.....#|#.....#|#.....#|.#####.|.......",
    ".......|.#####.|#.....#|#.....#|#.....#|#.....#|.######|......#|......#|.....#.|.####..|.......",
)

MU = 0.02  # the paper's μ
# The paper's η, scaled (docs/milestones/lenet5.md): at 1× the first pass blows up here,
# while h_kk is still tiny; 0.04 trains, and after the first two passes a larger factor fits
# better (η × 1 from pass 3 blows up again).
WARMUP_SCALE, WARMUP_PASSES = 0.04, 2
ETA_SCALE = 0.5
CURVATURE_PATTERNS = 500  # patterns h_kk is estimated on before each pass
# Patterns summed into one update: the recorded recipe's (docs/milestones/lenet5.md). Keras's
# default batch of 32 summed at once stays at chance; walked as 8s it is that recipe.
PATTERNS_PER_UPDATE = 8
BACKGROUND, FOREGROUND = -0.1, 1.175  # input levels: mean ≈ 0, variance ≈ 1
PAPER_PASSES = 20
PAPER_TEST_ERROR = 0.0095
LOSSES = ("eq8", "eq9")


def paper_eta(epoch: int) -> float:
    """η for pass `epoch + 1` of the paper's schedule (Section III-A)."""
    for last_pass, eta in ((2, 5e-4), (5, 2e-4), (8, 1e-4), (12, 5e-5)):
        if epoch < last_pass:
            return eta
    return 1e-5


def digit_prototypes() -> np.ndarray:
    """The 10 output prototypes (10, 84) of ±1, from `DIGIT_BITMAPS` row by row."""
    rows = [bitmap.replace("|", "") for bitmap in DIGIT_BITMAPS]
    return np.array([[1.0 if c == "#" else -1.0 for c in row] for row in rows], "float32")


def prototypes_for(classes: int) -> np.ndarray:
    """The digit bitmaps for 10 classes; otherwise random ±1 codes (the paper notes
    they would do as well), drawn with a fixed seed so a reloaded model has the same."""
    if classes == 10:
        return digit_prototypes()
    rng = np.random.default_rng(classes)
    return rng.choice([-1.0, 1.0], size=(classes, 84)).astype("float32")


def _linear_shadow(layer, x, u):
    """A weighted layer's part of `second_derivatives`: (true output, shadow output)."""
    sg = ops.stop_gradient
    if isinstance(layer, Subsampling2D):
        sums = ops.average_pool(x, 2, 2, padding="valid") * 4.0
        chain = sg(ops.square(layer.coefficient)) * ops.average_pool(u, 2, 2, "valid") * 4.0
        return layer(x), layer.coefficient * sg(ops.square(sums)) + layer.bias + chain
    if isinstance(layer, layers.Dense):
        kernel = layer.kernel

        def apply(inputs, weights):
            return ops.matmul(inputs, weights)
    else:
        kernel = layer.full_kernel() if isinstance(layer, PartialConv2D) else layer.kernel

        def apply(inputs, weights):
            return ops.conv(inputs, weights, padding="valid")
    shadow = apply(sg(ops.square(x)), kernel) + layer.bias + apply(u, sg(ops.square(kernel)))
    return layer(x), shadow


def second_derivatives(stages, x, variables, output_curvature: float = 2.0) -> list:
    """The paper's h_kk (Appendix C), averaged over the patterns of `x`.

    Backpropagation of diagonal second derivatives with the Gauss-Newton
    approximation: from ∂²E/∂z² = `output_curvature` at the last stage's
    output (2 for eq. 8's |z − w_D|²), through a squashing ∂²E/∂a² =
    f'(a)²·∂²E/∂x², through weights ∂²E/∂x_k² = Σ_i w_ik²·∂²E/∂a_i², and onto
    each weight h_kk = Σ over its connections of x_k²·∂²E/∂a_i² (cross terms
    dropped, as the paper does). Those sums are the gradients of a "shadow"
    network that applies w² to the second derivatives and w to x², so one
    ordinary backward pass over a batch computes them all, on every backend.

    `stages` are Squashing, Subsampling2D, PartialConv2D, Conv2D ('valid'),
    Dense and weightless reshaping layers (padding, flatten); `x` is the input
    of the first stage.
    """
    def shadow_sum():
        # `values`: the network's own activations; `u`: the shadow carrying ∂²E/∂·².
        values, u = x, ops.zeros_like(x)
        for layer in stages:
            if isinstance(layer, Squashing):
                gain = ops.stop_gradient(ops.square(layer.derivative(values)))
                values, u = layer(values), gain * u
            elif layer.trainable_weights:
                values, u = _linear_shadow(layer, values, u)
            else:
                values, u = layer(values), layer(u)
        return output_curvature * ops.sum(u), None

    _, _, sums = backend.value_and_grad(shadow_sum, variables)
    return [total / ops.cast(ops.shape(x)[0], total.dtype) for total in sums]


@keras.saving.register_keras_serializable(package="keras_history")
class LeNet5(CheckedInputsMixin, backend.BackendStepsMixin, keras.Model):
    """LeNet-5 with the stochastic diagonal Levenberg-Marquardt train step. See `lenet5()`.

    `rule="sdlm"`: the paper's rule, η in `optimizer.learning_rate` (set each
    pass from `eta`), h_kk in the non-trainable `curvature` variables (saved
    with the model, so resumed training goes on with the same steps).
    `rule="optimizer"`: backpropagation of the mean loss with the compiled
    Keras optimizer, for comparison.
    """

    include_top = True  # the RBF output is the model: there is always a top
    # The same images, labels and export contract as the other convnets, by the same code.
    check_data = ImageClassifier.check_data
    _require_top = ImageClassifier._require_top

    def __init__(self, input_shape: tuple[int, int, int] = (28, 28, 1), classes: int = 10,
                 loss: str = "eq9", j: float = 5.0, rule: str = "sdlm", mu: float = MU,
                 eta: float | str = "paper", eta_scale: float = ETA_SCALE,
                 warmup_scale: float | None = WARMUP_SCALE,
                 patterns_per_update: int = PATTERNS_PER_UPDATE, seed: int | None = None,
                 **kwargs):
        super().__init__(**kwargs)
        self.image_shape = tuple(int(d) for d in input_shape)
        self.classes = int(classes)
        self.loss_name, self.j, self.rule = loss, float(j), rule
        self.mu, self.eta, self.eta_scale, self.seed = float(mu), eta, float(eta_scale), seed
        self.warmup_scale = None if warmup_scale is None else float(warmup_scale)
        self.patterns_per_update = int(patterns_per_update)
        self.stages = [
            layers.ZeroPadding2D(2, name="pad"),  # 28×28 → 32×32, on the [0, 1] image
            layers.Conv2D(6, 5, name="c1"), Squashing(name="c1_squash"),
            Subsampling2D(2, name="s2"), Squashing(name="s2_squash"),
            PartialConv2D(C3_CONNECTIONS, 5, name="c3"), Squashing(name="c3_squash"),
            Subsampling2D(2, name="s4"), Squashing(name="s4_squash"),
            layers.Conv2D(120, 5, name="c5"), Squashing(name="c5_squash"),
            layers.Flatten(name="flatten"),
            layers.Dense(84, name="f6"), Squashing(name="f6_squash"),
        ]
        self.rbf = RBFOutput(prototypes_for(self.classes), name="output")
        self.curvature = []

    def build(self, input_shape):
        shape = tuple(input_shape)
        for layer in self.stages + [self.rbf]:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)
        self._initialize()
        self.curvature = [
            self.add_weight(shape=v.shape, initializer="zeros", trainable=False,
                            name=f"curvature_{v.path.replace('/', '_')}")
            for v in self.trainable_variables]
        self.built = True

    def _initialize(self) -> None:
        """Appendix A: every weight uniform in ±2.4/F, F the fan-in of its unit."""
        # Unseeded: from NumPy's global generator, which `keras.utils.set_random_seed` seeds.
        rng = np.random.default_rng(np.random.randint(2**31) if self.seed is None else self.seed)
        c3 = next(layer for layer in self.stages if isinstance(layer, PartialConv2D))
        c3_fan_in = np.array([25 * len(maps) for maps in c3.connections], "float32")
        fan_ins = {"c1": 25.0, "s2": 4.0, "s4": 4.0, "c5": 400.0, "f6": 120.0}
        for layer in self.stages:
            for variable in layer.trainable_variables:
                if layer is c3:
                    fan_in = (c3_fan_in if variable is c3.bias
                              else c3_fan_in[[m for _, m in c3.pairs]])
                else:
                    fan_in = fan_ins[layer.name]
                limit = 2.4 / np.broadcast_to(fan_in, variable.shape)
                variable.assign(rng.uniform(-1.0, 1.0, variable.shape) * limit)

    def features(self, inputs):
        """F6's output (N, 84) for images in [0, 1] or integer grey levels."""
        x = self.mapped(inputs)
        for layer in self.stages[1:]:
            x = layer(x)
        return x

    def distances(self, inputs):
        """The RBF outputs y (N, classes): squared distances to the prototypes."""
        return self.rbf(self.features(inputs))

    def call(self, inputs, training: bool = False):
        return ops.softmax(-self.distances(inputs), axis=-1)

    def serving_contract(self) -> saving.ServingContract:
        """The image models' contract; exports are checked within 1e-4 of `predict`.

        The distances y reach the hundreds and the nearest two may differ by
        tenths, so float32 rounding in another order (another runtime's
        convolutions) moves softmax(−y) by ~1e-5 where two classes are close.
        """
        return dataclasses.replace(ImageClassifier.serving_contract(self), atol=1e-4)

    def _class_ids(self, y):
        if len(y.shape) == 2 and y.shape[-1] == self.classes:  # one-hot, from a dataset
            return ops.argmax(y, axis=-1)
        return ops.reshape(ops.cast(y, "int32"), (-1,))

    def pattern_losses(self, y, distances):
        """E_p for each pattern: eq. 8 (y_D), or eq. 9 (y_D + log(e^−j + Σ_i e^−y_i))."""
        ids = ops.expand_dims(self._class_ids(y), -1)
        correct = ops.take_along_axis(distances, ids, axis=-1)[:, 0]
        if self.loss_name == "eq8":
            return correct
        rubbish = ops.expand_dims(ops.zeros_like(correct) - self.j, -1)
        return correct + ops.logsumexp(ops.concatenate([rubbish, -distances], axis=-1), axis=-1)

    def mapped(self, inputs):
        """Images padded to 32×32 and mapped to background −0.1, foreground 1.175."""
        x = ops.cast(inputs, self.compute_dtype)
        if is_integer_dtype(inputs):
            x = x / 255.0
        return BACKGROUND + (FOREGROUND - BACKGROUND) * self.stages[0](x)

    def estimate_curvature(self, images) -> None:
        """Set h_kk from `images` (N, 28, 28, 1) in [0, 1]: the paper's second derivatives."""
        if getattr(self, "_curvature_fn", None) is None:
            variables = self.trainable_variables
            self._curvature_fn = backend.compiled_reader(
                lambda x: second_derivatives(self.stages[1:], self.mapped(x), variables),
                variables)
        values = self._curvature_fn(ops.convert_to_tensor(images, self.compute_dtype))
        for variable, value in zip(self.curvature, values):
            variable.assign(value)

    def learning_rule(self, data) -> dict:
        """SDLM on a batch of any size: walked in order as updates of at most
        `patterns_per_update` patterns each (or one step of the compiled optimizer)."""
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        if self.rule == "sdlm":
            # PyTorch's autograd inside the step cannot be recorded as a TorchScript loop.
            with backend.compiled_loops(False):
                backend.in_slices(self.sdlm_update, x, y, self.patterns_per_update,
                                  backend.all_state_variables(self))
        else:
            self.optimizer_update(x, y)
        return self.get_metrics_result()

    def sdlm_update(self, x, y) -> None:
        """w_k ← w_k − ε_k Σ_p ∂E_p/∂w_k over the patterns of `x`, ε_k = η / (μ + h_kk)."""
        total, distances, grads = backend.value_and_grad(
            lambda: self._summed_loss(x, y), self.trainable_variables)
        eta = ops.cast(self.optimizer.learning_rate, self.compute_dtype)
        for variable, grad, h in zip(self.trainable_variables, grads, self.curvature):
            variable.assign(variable - eta / (self.mu + h) * grad)
        self.optimizer.iterations.assign_add(1)
        self._track(x, y, total, distances)

    def optimizer_update(self, x, y) -> None:
        """One step of the compiled Keras optimizer on the batch's mean loss."""
        total, distances, grads = backend.value_and_grad(
            lambda: self._summed_loss(x, y), self.trainable_variables)
        count = ops.cast(ops.shape(distances)[0], total.dtype)
        self.optimizer.apply([g / count for g in grads], self.trainable_variables)
        self._track(x, y, total, distances)

    def _summed_loss(self, x, y):
        distances = self.distances(x)
        return ops.sum(self.pattern_losses(y, distances)), distances

    def _track(self, x, y, total, distances) -> None:
        count = ops.shape(distances)[0]
        self.loss_tracker.update_state(total / ops.cast(count, total.dtype), sample_weight=count)
        self.compute_metrics(x, y, ops.softmax(-distances, axis=-1))

    def measure(self, data) -> dict:
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        distances = self.distances(x)
        count = ops.shape(distances)[0]
        self.loss_tracker.update_state(ops.mean(self.pattern_losses(y, distances)),
                                       sample_weight=count)
        return self.compute_metrics(x, y, ops.softmax(-distances, axis=-1))

    def fit(self, x=None, y=None, *args, **kwargs):
        for unsupported in ("sample_weight", "class_weight"):
            if kwargs.get(unsupported) is not None:
                raise ValueError(f"`{unsupported}` is not part of the historical rule of "
                                 f"{type(self).__name__}; pass the samples as they are.")
        callbacks = list(kwargs.pop("callbacks", None) or [])
        if self.rule == "sdlm" and not any(isinstance(c, SDLMPass) for c in callbacks):
            if validation.is_array_like(x):
                x, y = self._checked(x, y, targets=True)
                callbacks.append(SDLMPass(x))
            else:  # a dataset cannot be checked up front: its first patterns serve
                callbacks.append(SDLMPass(_first_images(x, CURVATURE_PATTERNS), check=False))
        return super().fit(x, y, *args, callbacks=callbacks, **kwargs)

    def eta_for(self, epoch: int) -> float:
        """η of pass `epoch + 1`: the schedule (or constant η) times its scale."""
        eta = paper_eta(epoch) if self.eta == "paper" else float(self.eta)
        warmup = self.warmup_scale is not None and epoch < WARMUP_PASSES
        return eta * (self.warmup_scale if warmup else self.eta_scale)

    def get_config(self) -> dict:
        return {**super().get_config(), "input_shape": self.image_shape,
                "classes": self.classes, "loss": self.loss_name, "j": self.j,
                "rule": self.rule, "mu": self.mu, "eta": self.eta, "eta_scale": self.eta_scale,
                "warmup_scale": self.warmup_scale,
                "patterns_per_update": self.patterns_per_update, "seed": self.seed}


class SDLMPass(keras.callbacks.Callback):
    """Before each pass: η from the model's schedule, and h_kk re-estimated on
    `patterns` training patterns drawn afresh (the paper's 500).

    `lenet5` models add one to `fit` on their own training images; pass one
    explicitly to train from a dataset.

    Args:
        images: training images, as for `fit` (checked the same way).
        patterns: how many are drawn (without replacement) for each estimate.
        check: False for images already (N, 28, 28, 1) floats in [0, 1].
    """

    def __init__(self, images, patterns: int = CURVATURE_PATTERNS, check: bool = True):
        super().__init__()
        self.images, self.patterns, self.check = images, int(patterns), bool(check)

    def on_train_begin(self, logs=None):
        self.checked = self.model._checked(self.images, None)[0] if self.check else self.images

    def on_epoch_begin(self, epoch, logs=None):
        model, images = self.model, self.checked  # `self.model` syncs JAX's state
        model.optimizer.learning_rate.assign(model.eta_for(epoch))
        rng = np.random.default_rng([0 if model.seed is None else model.seed, epoch])
        model.estimate_curvature(
            images[rng.choice(len(images), min(self.patterns, len(images)), replace=False)])


def _first_images(data, count: int) -> np.ndarray:
    """Up to `count` images, as floats in [0, 1], from the first batches of a dataset."""
    if hasattr(data, "__getitem__") and hasattr(data, "__len__"):  # a keras PyDataset
        batches = (data[i] for i in range(len(data)))
    elif hasattr(data, "as_numpy_iterator"):  # a tf.data.Dataset
        batches = data.as_numpy_iterator()
    else:
        raise ValueError(
            "LeNet-5's rule re-estimates its curvature on 500 training patterns before each "
            f"pass, and cannot read them from a {type(data).__name__}; pass them: "
            "`fit(..., callbacks=[SDLMPass(images)])` (images as for `fit`).")
    images, total = [], 0
    for batch in batches:
        images.append(np.asarray(batch[0] if isinstance(batch, tuple) else batch))
        total += len(images[-1])
        if total >= count:
            break
    images = np.concatenate(images)[:count]
    scale = 255.0 if np.issubdtype(images.dtype, np.integer) else 1.0
    return (images / scale).astype("float32")


def _check_options(input_shape, classes, loss, j, mu, eta, eta_scale, warmup_scale,
                   patterns_per_update, optimizer, seed) -> None:
    dims = tuple(input_shape) if isinstance(input_shape, (tuple, list)) else ()
    validation.check_option("input_shape", input_shape, dims == (28, 28, 1),
                            "(height, width, channels) = (28, 28, 1): MNIST-sized images, "
                            "padded to 32×32 inside")
    validation.check_classes(classes)
    validation.check_option("loss", loss, loss in LOSSES, "'eq8' or 'eq9' (the paper's equations)")
    validation.check_option("j", j, validation.is_finite_number(j), "a finite number")
    validation.check_option("mu", mu, validation.is_finite_number(mu) and mu > 0,
                            "a positive, finite number")
    validation.check_option("eta", eta, eta == "paper" or (
        validation.is_finite_number(eta) and eta > 0), "'paper' or a positive, finite number")
    validation.check_option("eta_scale", eta_scale,
                            validation.is_finite_number(eta_scale) and eta_scale > 0,
                            "a positive, finite number")
    validation.check_option("warmup_scale", warmup_scale, warmup_scale is None or (
        validation.is_finite_number(warmup_scale) and warmup_scale > 0),
                            "None or a positive, finite number")
    validation.check_option("patterns_per_update", patterns_per_update,
                            validation.is_integer(patterns_per_update) and patterns_per_update >= 1,
                            "an integer >= 1 (1: the paper's update per pattern)")
    validation.check_option("optimizer", optimizer,
                            optimizer is None or isinstance(optimizer, (str, keras.Optimizer)),
                            "None (the paper's rule) or a Keras optimizer")
    validation.check_seed(seed)


@milestone("lenet5")
def lenet5(input_shape: tuple[int, int, int] = (28, 28, 1), classes: int = 10,
           weights: str | None = None, loss: str = "eq9", j: float = 5.0, mu: float = MU,
           eta: float | str = "paper", eta_scale: float = ETA_SCALE,
           warmup_scale: float | None = WARMUP_SCALE,
           patterns_per_update: int = PATTERNS_PER_UPDATE,
           optimizer: keras.Optimizer | str | None = None, seed: int | None = None,
           compile: bool = True, name: str = "lenet5") -> LeNet5:
    """LeNet-5 as LeCun, Bottou, Bengio & Haffner built and trained it (Proc. IEEE, 1998).

    60,000 trainable parameters; trained by stochastic diagonal
    Levenberg-Marquardt (the paper: 0.95% MNIST test error after 20 passes),
    the curvature re-estimated on 500 training patterns before each pass and η
    on the paper's schedule. Each update sums at most `patterns_per_update`
    patterns' gradients (8; 1 is the paper's one update per pattern), whatever
    `batch_size` `fit` is given.

    ```python
    (x, y), (x_test, y_test) = keras_history.datasets.mnist.load_data()
    model = keras_history.models.lenet5(seed=0)
    model.fit(x, y, epochs=20)                    # the paper's 20 passes, updates of 8
    model.evaluate(x_test, y_test)                # loss = eq. 9, accuracy
    model.predict(x_test)                         # softmax(−RBF distances)
    ```

    Args:
        input_shape: (28, 28, 1), MNIST-sized images, padded to 32×32 inside (the
            only size for which C5's maps are 1×1 and the counts are the paper's).
        classes: output units; 10 uses the digit bitmaps, others random ±1 codes.
        weights: None (untrained), the name of a weight set shipped for it
            (`keras_history.weights.names("lenet5")`), or the path of a
            `.weights.h5`/`.keras` file.
        loss: "eq9" (the RBF output of the correct class plus
            log(e^−j + Σ_i e^−y_i), pushing the other classes' outputs up; it
            reproduces the paper's 0.95% here) or "eq8" (the correct class's
            output alone: 1.12% here; docs/milestones/lenet5.md).
        j: eq. 9's constant (the "rubbish class"); the paper gives no value.
        mu: μ of ε_k = η / (μ + h_kk).
        eta: "paper" for the schedule by pass, or a constant η.
        eta_scale: factor on η from pass 3 on (all passes if `warmup_scale` is
            None). The paper's own η (1.0) blows up here; 0.5 is the default
            (docs/milestones/lenet5.md has the factors tried).
        warmup_scale: factor on η for passes 1–2, while h_kk is still tiny (the
            paper's η makes the first pass blow up); None: `eta_scale` throughout.
        patterns_per_update: patterns whose summed gradient makes one update;
            a batch is walked in order as updates of at most this many (1: the
            paper's rule; 8: the recorded recipe, 0.96% mean test error).
        optimizer: None for the paper's rule; a Keras optimizer (or its name)
            trains the mean loss by ordinary backpropagation instead.
        seed: seed of the initial weights and of the curvature samples.
        compile: compile, ready for `fit`, with the accuracy metric.
        name: the model's name.

    Returns:
        A built `LeNet5`.
    """
    _check_options(input_shape, classes, loss, j, mu, eta, eta_scale, warmup_scale,
                   patterns_per_update, optimizer, seed)
    model = LeNet5(input_shape=tuple(input_shape), classes=int(classes), loss=loss, j=float(j),
                   rule="sdlm" if optimizer is None else "optimizer", mu=float(mu),
                   eta=eta if eta == "paper" else float(eta), eta_scale=float(eta_scale),
                   warmup_scale=warmup_scale,
                   patterns_per_update=int(patterns_per_update), seed=seed, name=name)
    build_for(model, tuple(input_shape))
    if compile:
        holder = keras.optimizers.SGD(model.eta_for(0))
        model.compile(optimizer=holder if optimizer is None else optimizer,
                      metrics=["accuracy"])
    return with_weights(model, "lenet5", weights)
