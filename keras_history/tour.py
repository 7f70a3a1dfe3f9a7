"""Recipes: how each milestone is trained on its own data, and what it must reproduce.

`keras-history train NAME` runs one recipe with Keras progress output (and
lets the user change its epochs, batch size, seed and, for image models, the
data); `keras-history tour` runs them all quietly, each from the same seed,
and checks each result against the number its seed snippet printed. A
milestone with trained weights shipped in the package is shown from them
instead: loaded (hash checked) and measured on the data the package embeds.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import keras
import numpy as np

import keras_history.weights as shipped
from keras_history import backend, datasets, models
from keras_history.timeline import NAMES, get


@dataclass(frozen=True)
class Run:
    """How to train a recipe this time: its own settings unless the user changed them."""

    epochs: int
    batch_size: int | None  # None: Keras's default of 32
    seed: int = 0
    data: str | None = None  # image models: a folder of MNIST or Fashion-MNIST IDX files
    verbose: int = 0


@dataclass(frozen=True)
class Recipe:
    """A milestone's training run and its reference check."""

    name: str
    train: Callable[[Run], keras.Model]
    check: Callable[[keras.Model, Run], tuple[str, str, bool]]  # -> measured, reference, ok
    epochs: int = 1
    batch_size: int | None = None
    images: bool = False  # takes `data=`: trains on MNIST-style images

    @property
    def trains(self) -> bool:
        """False for the nets whose data the package lacks: the recipe only builds them."""
        return not getattr(self.train, "builds_only", False)

    def run(self, seed: int = 0, verbose: int = 0, epochs: int | None = None,
            batch_size: int | None = None, data: str | None = None) -> Run:
        """This recipe's settings, with any the user gave."""
        if data is not None and not self.images:
            raise ValueError(f"{self.name} trains on its own small data set; --data is for "
                             "the image models.")
        return Run(epochs=self.epochs if epochs is None else epochs,
                   batch_size=self.batch_size if batch_size is None else batch_size,
                   seed=seed, data=data, verbose=verbose)

    def is_default(self, run: Run) -> bool:
        """True when `run` is the recipe itself, so that its reference applies."""
        return (run.epochs, run.batch_size, run.data) == (self.epochs, self.batch_size, None)

    def train_and_check(self, run: Run) -> tuple[keras.Model, tuple[str, str, bool]]:
        """Train from `run.seed` (weights, batch order, dropout), then check the result."""
        backend.set_random_seed(run.seed)
        model = self.train(run)
        return model, self.check(model, run)


def _scalar(variable) -> float:
    return float(keras.ops.convert_to_numpy(variable))


def _fit(model: keras.Model, x, y, run: Run) -> keras.Model:
    model.fit(x, y, epochs=run.epochs, batch_size=run.batch_size, verbose=run.verbose)
    return model


def _train_least_squares(run: Run) -> keras.Model:
    return _fit(models.least_squares(), *datasets.wheat_and_bread(), run)


def _check_least_squares(model, run: Run) -> tuple[str, str, bool]:
    x, y = datasets.wheat_and_bread()
    solution = np.linalg.lstsq(np.hstack([x, np.ones_like(x)]), y, rcond=None)[0].ravel()
    fitted = np.array([_scalar(model.kernel[0, 0]), _scalar(model.bias[0])])
    # The seed snippet's number: the cost of the line m=2, b=1 on three points.
    line = models.least_squares()
    line.build((None, 1))
    line.kernel.assign([[2.0]])
    line.bias.assign([1.0])
    cost = line.evaluate(np.array([[3.0], [6.0], [12.0]]), np.array([[6.0], [9.0], [18.0]]),
                         verbose=0)
    ok = bool(np.allclose(fitted, solution, rtol=1e-4) and abs(cost - 22.0) < 1e-6)
    return (f"m={fitted[0]:.6f} b={fitted[1]:.6f}; cost(2,1)={cost:g}",
            f"lstsq m={solution[0]:.6f} b={solution[1]:.6f}; cost 22", ok)


def _train_gradient_descent(run: Run) -> keras.Model:
    # 60 batches of one (ignored) sample: the snippet's 60 steps.
    return _fit(models.gradient_descent(), np.zeros((60, 1), "float32"), None, run)


def _check_gradient_descent(model, run: Run) -> tuple[str, str, bool]:
    x = _scalar(model.position)
    return f"x={x:.7f}", "x=1.0928374 (±1e-5)", abs(x - 1.0928374327) < 1e-5


def _train_linear_regression(run: Run) -> keras.Model:
    # One epoch of 100 full-batch steps: the snippet's 100 iterations in one compiled call.
    return _fit(models.linear_regression(steps_per_batch=100), *datasets.wheat_and_bread(), run)


def _check_linear_regression(model, run: Run) -> tuple[str, str, bool]:
    b, m = _scalar(model.bias[0]), _scalar(model.kernel[0, 0])
    ok = abs(b - 3.30446237) < 1e-5 and abs(m - 2.96606269) < 1e-5
    return f"b={b:.8f} m={m:.8f}", "b=3.30446237 m=2.96606269 (±1e-5)", ok


PERCEPTRON_EPOCHS = 12  # OR is learned within a few; XOR never is


def _train_perceptron_on(gate: str, run: Run) -> keras.Model:
    return _fit(models.perceptron(seed=run.seed), *datasets.logic_gate(gate), run)


def _train_perceptron(run: Run) -> keras.Model:
    return _train_perceptron_on("or", run)


def _check_perceptron(model, run: Run) -> tuple[str, str, bool]:
    x, y = datasets.logic_gate("or")
    or_ok = bool(np.array_equal(model.predict(x, verbose=0), y))
    xor_errors = _train_perceptron_on("xor", replace(run, verbose=0)).history.history["errors"]
    ok = or_ok and min(xor_errors) > 0
    return (f"OR {'learned' if or_ok else 'NOT learned'}; XOR min errors/epoch "
            f"{min(xor_errors):g}", "OR learned; XOR never 0 errors", ok)


SNIPPET_OUTPUTS = np.array([0.0026, 0.9967, 0.9970, 0.0039])


def _train_backprop(run: Run) -> keras.Model:
    # The snippet's 60,000 full-batch steps in one compiled call.
    model = models.backprop_mlp(weights="snippet", steps_per_batch=60_000)
    return _fit(model, *datasets.logic_gate("xor"), run)


def _check_backprop(model, run: Run) -> tuple[str, str, bool]:
    x, _ = datasets.logic_gate("xor")
    out = model.predict(x, verbose=0).ravel()
    return (" ".join(f"{v:.4f}" for v in out), " ".join(f"{v:.4f}" for v in SNIPPET_OUTPUTS),
            bool(np.allclose(out, SNIPPET_OUTPUTS, atol=1e-3)))


@functools.lru_cache(maxsize=2)
def load_images(path: str | None) -> tuple[str, datasets.idx.Arrays]:
    """(description, arrays): the embedded MNIST sample, or the IDX data set in `path`.

    The files' checksums say which data set a folder holds (MNIST and
    Fashion-MNIST share their file names); a subset is read as MNIST.
    """
    if path is None:
        # The embedded sample (4,000 real digits) keeps the tour offline and short.
        return "the embedded MNIST sample", datasets.mnist.load_sample()
    try:
        return f"MNIST from {path}", datasets.mnist.load_data(path)
    except datasets.idx.OtherDataSetError as other:
        data_set = datasets.idx.KNOWN[other.data_set]
        return (f"{data_set.name} from {path}",
                getattr(datasets, data_set.module).load_data(path))


def _same(images: np.ndarray) -> np.ndarray:
    return images


def _pad_to_32(images: np.ndarray) -> np.ndarray:
    """28×28 images padded to CIFAR-10's 32×32, as the tutorial net's page measures it."""
    return np.pad(images, [(0, 0), (2, 2), (2, 2)])


def _train_on_images(factory: Callable[[], keras.Model],
                     prepare: Callable = _same) -> Callable[[Run], keras.Model]:
    """A recipe's training: a fresh model from `factory`, fitted on the run's images."""
    def train(run: Run) -> keras.Model:
        _, ((x, y), _) = load_images(run.data)
        return _fit(factory(), prepare(x), y, run)

    return train


def _test_accuracy(model, run: Run, prepare: Callable = _same) -> tuple[float, str]:
    """(test accuracy, its description) on the run's images."""
    source, (_, (x_test, y_test)) = load_images(run.data)
    accuracy = model.evaluate(prepare(x_test), y_test, verbose=0, return_dict=True)["accuracy"]
    return accuracy, f"test accuracy {accuracy:.4f} on {source}"


def _check_test_accuracy(at_least: float, reference: str, prepare: Callable = _same) -> Callable:
    """A recipe's check: test accuracy on the run's images, at least `at_least`."""
    def check(model, run: Run) -> tuple[str, str, bool]:
        accuracy, measured = _test_accuracy(model, run, prepare)
        return measured, reference, accuracy >= at_least

    return check


# logistic_neuron, shallow_net: the course's flower, 10,000 full-batch steps at η = 1.2.
def _train_on_flower(factory: Callable[[], keras.Model]) -> Callable[[Run], keras.Model]:
    return lambda run: _fit(factory(), *datasets.flower(), run)


def _check_flower(percent: int, reference: str) -> Callable:
    """The training accuracy as the course prints it (%d of a percentage) is `percent`."""
    def check(model, run: Run) -> tuple[str, str, bool]:
        x, y = datasets.flower()
        correct = int(np.sum((model.predict(x, verbose=0) > 0.5) == y))
        cost = model.evaluate(x, y, verbose=0, return_dict=True)["loss"]
        printed = 100 * correct // len(y)
        return (f"accuracy {correct / len(y):.2%} (printed with %d: {printed}%), cost {cost:.6f}",
                reference, printed == percent)

    return check


def _gradient_growth(initializer: str, run: Run) -> float:
    """Gradient std of hidden layer 5 over layer 1 at initialisation, on 1,000 test digits."""
    _, (_, (x_test, y_test)) = load_images(run.data)
    model = models.deep_mlp(initializer=initializer, seed=run.seed)
    spread = model.layer_statistics(x_test[:1000], y_test[:1000]).gradient_std()
    return spread[-1] / spread[0]


def _check_deep_mlp(model, run: Run) -> tuple[str, str, bool]:
    # Glorot & Bengio's Fig. 7 is about the start: fresh depth-5 tanh nets from the run's seed.
    standard, normalized = (_gradient_growth(init, run) for init in ("standard", "normalized"))
    accuracy, trained = _test_accuracy(model, run)
    return (f"gradient std layer 5/layer 1 at init: ×{standard:.2f} standard, "
            f"×{normalized:.2f} normalized; {trained} after training",
            "docs ×9.4 standard, ×1.27 normalized (Fig. 7: shrinks toward the input, or "
            "not); here > ×5 and < ×1.5, trained accuracy >= 0.70 on the sample",
            standard > 5 and normalized < 1.5 and accuracy >= 0.70)


def _train_gan(run: Run) -> keras.Model:
    _, ((x, _), _) = load_images(run.data)
    return _fit(models.gan(output_bias_from=x), x, None, run)


def _check_gan(model, run: Run) -> tuple[str, str, bool]:
    _, ((x, _), _) = load_images(run.data)
    logs = {name: float(values[-1]) for name, values in model.history.history.items()}
    digits = model.generate(16, seed=run.seed)
    data_mean = float(np.mean(x)) / (255 if x.dtype == np.uint8 else 1)
    ok = (all(np.isfinite(logs[n]) for n in ("d_loss", "g_loss"))
          and all(0 < logs[n] < 1 for n in ("real_accuracy", "fake_accuracy"))
          and digits.shape == (16, 28, 28) and 0 <= digits.min() and digits.max() <= 1
          and abs(float(digits.mean()) - data_mean) < 0.02)
    return (f"d_loss {logs['d_loss']:.4f}, g_loss {logs['g_loss']:.4f}, D right on "
            f"{logs['real_accuracy']:.0%} of real and {logs['fake_accuracy']:.0%} of generated "
            f"digits; 16 generated {digits.shape[1:]} in [{digits.min():.2f}, "
            f"{digits.max():.2f}], mean {digits.mean():.3f} (data {data_mean:.3f})",
            "finite losses, D's accuracies in (0, 1), digits in [0, 1] at the data's mean "
            "±0.02; Parzen 225 ± 2 needs hours of the full recipe (docs: 212.0)", ok)


def _train_deep_belief_net(run: Run) -> keras.Model:
    _, ((x, y), _) = load_images(run.data)
    model = models.deep_belief_net(top_layer_epochs=1)
    model.pretrain(x, epochs=1, batch_size=100, verbose=run.verbose)  # an RBM per hidden layer
    return _fit(model, x, y, run)


# R-CNN: pre-trained on the digits, then fine-tuned, SVMs and box regressors on canvases of
# them (`datasets.mnist_detection`), scored by VOC's mAP on canvases of the test digits.
RCNN_CANVASES, RCNN_BATCHES = (32, 16), 16  # train and test canvases; fine-tuning batches


def _rcnn_data(run: Run):
    source, ((x, y), (x_test, y_test)) = load_images(run.data)
    make = datasets.mnist_detection.make_canvases
    return (source, x, y, make(x, y, RCNN_CANVASES[0], seed=run.seed),
            make(x_test, y_test, RCNN_CANVASES[1], seed=run.seed + 1))


def _train_rcnn(run: Run) -> keras.Model:
    model = models.rcnn(seed=run.seed)
    if not models.proposals_available():  # an optional extra: the tour runs without it
        return model
    _, x, y, train, _ = _rcnn_data(run)
    model.pretrain(x, y, epochs=run.epochs, batch_size=run.batch_size, verbose=run.verbose)
    model.train_detector(*train, batches=RCNN_BATCHES, seed=run.seed, verbose=run.verbose)
    return model


def _check_rcnn(model, run: Run) -> tuple[str, str, bool]:
    from keras_history import metrics

    reference = (">= 0.5 (a different data set from the paper's VOC 2007 test: 0.585 with box "
                 "regression, 0.542 without)")
    if not models.proposals_available():
        return (f"{model.count_params():,} parameters, untrained: selective search needs "
                "pip install 'keras-history[rcnn]'", reference, True)
    source, _, _, _, (x, boxes, classes) = _rcnn_data(run)
    regressed = metrics.mean_average_precision(*model.detect(x), boxes, classes)
    plain = metrics.mean_average_precision(*model.detect(x, regress=False), boxes, classes)
    return (f"mAP {regressed:.3f} with box regression, {plain:.3f} without, on "
            f"{len(x)} canvases of {source}'s test digits", reference, regressed >= 0.5)


def _build(factory: Callable[[], keras.Model]) -> Callable[[Run], keras.Model]:
    """No ImageNet (or CIFAR-10) in the package: the recipe builds the paper's net, untrained."""
    def build(run: Run) -> keras.Model:
        backend.set_random_seed(run.seed)  # `export` builds without `train_and_check`'s seeding
        return factory()

    build.builds_only = True
    return build


def _trainable(model: keras.Model) -> int:
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def _check_parameters(count: int, reference: str) -> Callable:
    def check(model, run: Run) -> tuple[str, str, bool]:
        return f"{model.count_params():,} parameters", reference, model.count_params() == count

    return check


RESNET_PARAMETERS = {20: 269_722, 110: 1_727_962}  # trainable; the page's table (Table 6)


def _check_resnet(model, run: Run) -> tuple[str, str, bool]:
    counts = {20: _trainable(model), 110: _trainable(models.resnet(110))}
    return (", ".join(f"resnet({d}): {n:,}" for d, n in counts.items()) + " trainable parameters",
            "269,722 and 1,727,962 (Table 6: 0.27 M, 1.7 M); CIFAR-10 errors not run (no "
            "CIFAR-10 here)", counts == RESNET_PARAMETERS)


RECIPES: dict[str, Recipe] = {
    r.name: r
    for r in [
        Recipe("least_squares", _train_least_squares, _check_least_squares),
        Recipe("gradient_descent", _train_gradient_descent, _check_gradient_descent,
               batch_size=1),
        Recipe("linear_regression", _train_linear_regression, _check_linear_regression),
        Recipe("perceptron", _train_perceptron, _check_perceptron, epochs=PERCEPTRON_EPOCHS,
               batch_size=1),
        Recipe("backprop_mlp", _train_backprop, _check_backprop),
        # Eight patterns per update on the sample: the paper's rule in seconds.
        Recipe("lenet5", _train_on_images(models.lenet5),
               _check_test_accuracy(0.90, ">= 0.90 on the sample (paper, full MNIST: 0.9905)"),
               epochs=2, batch_size=8, images=True),
        Recipe("mnist_convnet", _train_on_images(models.mnist_convnet),
               _check_test_accuracy(
                   0.95, ">= 0.95 on the sample (full MNIST: >= 0.993 within 15 epochs)"),
               epochs=3, batch_size=64, images=True),
        Recipe("logistic_neuron",
               _train_on_flower(functools.partial(models.logistic_neuron, steps_per_batch=10_000)),
               _check_flower(47, "47% (the course's LogisticRegressionCV, printed with %d)"),
               batch_size=400),
        Recipe("shallow_net",
               _train_on_flower(functools.partial(models.shallow_net, 4, init="course",
                                                  steps_per_batch=10_000)),
               _check_flower(90, "90% (the course: 4 tanh units, 10,000 steps, printed with %d; "
                             "cost 0.218607 after 9,000)"),
               batch_size=400),
        # Glorot & Bengio train by SGD on minibatches of ten; 100 keeps the tour quick.
        Recipe("deep_mlp", _train_on_images(models.deep_mlp), _check_deep_mlp, batch_size=100,
               images=True),
        Recipe("dropout_mlp", _train_on_images(models.dropout_mlp),
               _check_test_accuracy(0.85, ">= 0.85 on the sample (Table 2, full MNIST after "
                                    "~3000 epochs: 0.9894)"),
               epochs=5, batch_size=100, images=True),
        Recipe("alexnet", _build(models.alexnet),
               _check_parameters(60_965_224, "60,965,224 (the paper: \"60 million\"); no "
                                 "ImageNet here: 15.3% top-5 error unmeasured")),
        Recipe("vgg16", _build(models.vgg16),
               _check_parameters(138_357_544, "138,357,544 (configuration D, as "
                                 "keras.applications.VGG16); no ImageNet here")),
        Recipe("resnet50", _build(models.resnet50),
               _check_parameters(25_636_712, "25,636,712 (Table 1's 50 layers, as "
                                 "keras.applications.ResNet50); no ImageNet here")),
        Recipe("resnet", _build(models.resnet), _check_resnet),
        Recipe("gan", _train_gan, _check_gan, batch_size=100, images=True),
        # Cheap stand-ins for the trained weights the package ships (which the tour prefers).
        Recipe("deep_belief_net", _train_deep_belief_net,
               _check_test_accuracy(0.65, ">= 0.65 on the sample after 1 CD-1 epoch per layer "
                                    "(full MNIST, 1 + 3 epochs: 0.9423; paper: 0.9875)"),
               epochs=2, batch_size=100, images=True),
        Recipe("vgg_like", _train_on_images(functools.partial(models.vgg_like,
                                                              input_shape=(28, 28, 1))),
               _check_test_accuracy(0.85, ">= 0.85 on the sample (the guide reports none; "
                                    "Fashion-MNIST, 10 epochs: 0.9019)"),
               images=True),
        Recipe("tutorial_net", _train_on_images(functools.partial(models.tutorial_net,
                                                                  input_shape=(32, 32, 1)),
                                                _pad_to_32),
               _check_test_accuracy(0.60, ">= 0.60 on the sample padded to 32×32 (the "
                                    "tutorial, CIFAR-10 after 2 epochs: 54%)", _pad_to_32),
               batch_size=4, images=True),
        # The paper's layers and rule, Conv1 and PrimaryCaps narrowed (32 filters, 8 capsule
        # channels for 256 and 32): an epoch of the paper's net costs minutes on the sample.
        Recipe("capsnet", _train_on_images(functools.partial(
                   models.capsnet, conv_filters=32, primary_channels=8)),
               _check_test_accuracy(0.85, ">= 0.85 on the sample with Conv1 32, PrimaryCaps "
                                    "8 × 8-D (paper, 256 and 32 on full MNIST: 0.9975)"),
               batch_size=32, images=True),
        # The paper's pipeline in miniature: a small CNN pre-trained for one epoch of the
        # digits, then 16 fine-tuning batches, SVMs and box regressors on 32 canvases.
        Recipe("rcnn", _train_rcnn, _check_rcnn, batch_size=32, images=True),
    ]
}


# How far the embedded MNIST sample's 1,000 test digits may stray from the full test set's
# accuracy recorded with the weights (a 1,000-digit estimate: ±0.5 points is common).
SAMPLE_TOLERANCE = 0.01


def show_shipped(name: str) -> tuple[str, str, bool]:
    """Load `name`'s first shipped weight set and measure it on the package's own data."""
    from keras_history.weights.evaluation import measure

    weight_set = shipped.available(name)[0]
    model = get(name).factory(weights=weight_set.name)
    made = f'weights="{weight_set.name}", recorded {weight_set.value:.4f} on the full test set'
    if weight_set.task == "fashion_mnist":  # no Fashion-MNIST in the package
        return (f"{made}; loaded, SHA-256 checked (keras-history verify {name} --data FOLDER "
                "measures it)", weight_set.paper, True)
    value, source = measure(model, weight_set)
    ok = (round(value, 6) == weight_set.value if weight_set.task == "reber"
          else value >= weight_set.value - SAMPLE_TOLERANCE)
    sample = " on the MNIST sample" if weight_set.task == "mnist" else ""
    return f"{weight_set.metric} {value:.4f}{sample} ({made})", weight_set.paper, ok


def tour_names() -> list[str]:
    """Every milestone the tour shows, in timeline order: shipped weights, else a recipe."""
    return [n for n in NAMES if shipped.available(n) or n in RECIPES]


class _WithoutRetracingNotes(logging.Filter):
    """Drops TensorFlow's note that a tf.function was traced again: every recipe builds
    fresh models, so the tour retraces Keras's train and predict functions by design."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "triggered tf.function retracing" not in record.getMessage()


def run_tour(names: list[str] | None = None,
             seed: int = 0) -> list[tuple[str, str, str, bool, float]]:
    """Show each milestone quietly: from its shipped weights, else trained by its recipe
    from `seed`.

    Returns rows of (name, measured, reference, ok, seconds): the same rows,
    seconds apart, every time, and the same whichever milestones are asked for.
    """
    rows = []
    quiet, tensorflow_log = _WithoutRetracingNotes(), logging.getLogger("tensorflow")
    tensorflow_log.addFilter(quiet)
    try:
        for name in names or tour_names():
            start = time.perf_counter()
            if shipped.available(name):
                measured, reference, ok = show_shipped(name)
            else:
                recipe = RECIPES[name]
                _, (measured, reference, ok) = recipe.train_and_check(recipe.run(seed=seed))
            rows.append((name, measured, reference, ok, time.perf_counter() - start))
    finally:
        tensorflow_log.removeFilter(quiet)
    return rows
