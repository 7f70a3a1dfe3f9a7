"""Figures: each milestone drawn from its real model, trained on its real data.

`FIGURES` maps a milestone's factory name (and "timeline") to a function that
trains what it shows and returns its figures, `{file stem: matplotlib Figure}`.
A new milestone adds one function with `@figure("its_factory_name")`.
`scripts/make_figures.py` writes them all under docs/figures/, and
`keras-history tour --plots DIR` writes the tour's. Needs matplotlib
(`pip install 'keras-history[docs]'`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

try:
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed
    from matplotlib import patches, ticker
    from matplotlib import pyplot as plt
    from matplotlib.figure import Figure
except ImportError as error:  # pragma: no cover - the message is the point
    raise ImportError("keras_history.figures needs matplotlib: "
                      "pip install 'keras-history[docs]'") from error

import keras
import numpy as np

from keras_history import datasets, models, tour
from keras_history.layers import RBM
from keras_history.timeline import TIMELINE, year_text


@dataclass(frozen=True)
class Options:
    """What every figure function is told."""

    quick: bool = False  # a few steps only, for tests: the figures say so
    seed: int = 0
    data: str | None = None  # image milestones: a folder of MNIST-style IDX files
    epochs: int | None = None  # image milestones: None for the figure's own
    weights: str | None = None  # capsnet: a trained model's file (None: a shipped set, if any)


FigureFunction = Callable[[Options], dict[str, Figure]]
FIGURES: dict[str, FigureFunction] = {}
DPI = 80


def figure(name: str) -> Callable[[FigureFunction], FigureFunction]:
    """Register a figure function under a milestone's factory name."""

    def register(function: FigureFunction) -> FigureFunction:
        FIGURES[name] = function
        return function

    return register


def _scalar(value) -> float:
    return float(keras.ops.convert_to_numpy(value))


def _line(model) -> tuple[float, float]:
    """(slope m, intercept b) of a one-feature linear model."""
    return _scalar(model.kernel[0, 0]), _scalar(model.bias[0])


class _AfterEachBatch(keras.callbacks.Callback):
    """Records `read(model)` after every batch (`self.model` syncs JAX's state first)."""

    def __init__(self, read: Callable[[keras.Model], float]):
        super().__init__()
        self.read = read
        self.values: list[float] = []

    def on_train_batch_end(self, batch, logs=None):
        self.values.append(self.read(self.model))


@figure("timeline")
def timeline_figure(options: Options) -> dict[str, Figure]:
    rows = list(TIMELINE)
    fig, ax = plt.subplots(figsize=(9, 0.42 * len(rows) + 0.9))
    dated = [m.year for m in rows if m.year is not None]
    left, right = min(dated) - 10, max(dated) + 10
    for i, m in enumerate(rows):
        y = len(rows) - i
        when = "undated" if m.year is None else year_text(m.year)
        label = f"{m.number}. {m.title} — {m.inventor}, {when}"
        if m.year is None:  # no point on the axis
            ax.text(left + 2, y, label, va="center", fontsize=9, style="italic")
            continue
        ax.plot([m.year], [y], "o", color="tab:blue")
        right_side = m.year < (left + right) / 2
        ax.text(m.year + (4 if right_side else -4), y, label, va="center", fontsize=9,
                ha="left" if right_side else "right")
    ax.set_xlim(left, right)
    ax.set_ylim(0.3, len(rows) + 0.7)
    ax.set_yticks([])
    ax.set_xlabel("year")
    ax.set_title("The timeline of keras-history (keras_history.TIMELINE)")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return {"timeline": fig}


@figure("least_squares")
def least_squares_figure(options: Options) -> dict[str, Figure]:
    # The seed snippet's three points: its line m=2, b=1, and the line least squares fits.
    x = np.array([[3.0], [6.0], [12.0]], "float32")
    y = np.array([[6.0], [9.0], [18.0]], "float32")
    fitted = models.least_squares()
    fitted.fit(x, y, epochs=1, verbose=0)
    snippet = models.least_squares(input_dim=1)
    snippet.kernel.assign([[2.0]])
    snippet.bias.assign([1.0])
    fig, axes = plt.subplots(1, 2, figsize=(8, 4.4))
    grid = np.linspace(0, 14, 50)
    for ax, model, name in zip(axes, (snippet, fitted), ("the snippet's line", "least squares")):
        m, b = _line(model)
        cost = model.evaluate(x, y, verbose=0)
        ax.plot(grid, m * grid + b, color="tab:blue", label=f"y = {m:.3f}x + {b:.3f}")
        for xi, yi in zip(x.ravel(), y.ravel()):
            on_line = m * xi + b
            side = yi - on_line  # the residual, and its square drawn to scale
            ax.add_patch(patches.Rectangle((xi, on_line), -abs(side), side,
                                                      color="tab:red", alpha=0.25))
            ax.plot([xi, xi], [on_line, yi], color="tab:red")
        ax.plot(x, y, "ko", label="the snippet's points")
        ax.set_xlim(0, 14)
        ax.set_ylim(0, 30)
        ax.set_aspect("equal")
        ax.set_xlabel("x")
        ax.set_title(f"{name}: mean square {cost:.3f}", fontsize=10)
        ax.legend(loc="upper left", fontsize=8)
    axes[0].set_ylabel("y")
    fig.suptitle("Least squares: the line that makes the red squares smallest")
    fig.tight_layout()
    return {"least_squares": fig}


@figure("gradient_descent")
def gradient_descent_figure(options: Options) -> dict[str, Figure]:
    model = models.gradient_descent(start=0.5, learning_rate=0.01)
    steps = 15 if options.quick else 60
    start = _scalar(model.position)
    record = _AfterEachBatch(lambda m: _scalar(m.position))
    model.fit(np.zeros((steps, 1), "float32"), batch_size=1, verbose=0, callbacks=[record])
    positions = np.array([start, *record.values])
    heights = np.polyval(model.coefficients, positions)
    grid = np.linspace(0.3, 1.5, 200)
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    left.plot(grid, grid**5 - 2 * grid**3 - 2, color="gray", label="x⁵ − 2x³ − 2")
    left.plot(positions, heights, "o-", color="tab:red", markersize=3,
              label=f"{steps} steps from x = 0.5")
    left.axvline(np.sqrt(6 / 5), color="tab:green", ls="--", label="minimum √(6/5)")
    left.set_xlabel("x")
    left.set_ylabel("cost")
    left.legend(fontsize=8)
    right.plot(positions, "o-", color="tab:red", markersize=3)
    right.axhline(np.sqrt(6 / 5), color="tab:green", ls="--")
    right.set_xlabel("step")
    right.set_ylabel("x")
    right.set_title(f"x after {steps} steps: {positions[-1]:.7f}", fontsize=10)
    fig.suptitle("Gradient descent on x⁵ − 2x³ − 2, learning rate 0.01")
    fig.tight_layout()
    return {"gradient_descent": fig}


@figure("linear_regression")
def linear_regression_figure(options: Options) -> dict[str, Figure]:
    x, y = datasets.wheat_and_bread()
    model = models.linear_regression(learning_rate=0.01, input_dim=1)
    steps = 20 if options.quick else 100
    shown = [s for s in (0, 1, 5, 20, 100) if s <= steps]
    lines, costs, done = {}, [], 0
    for target in shown:  # one full-batch step per epoch: history has one cost per step
        if target > done:
            costs += model.fit(x, y, epochs=target - done, verbose=0).history["loss"]
            done = target
        lines[target] = _line(model)
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    grid = np.linspace(0.4, 1.5, 20)
    for (step, (m, b)), shade in zip(lines.items(), np.linspace(0.25, 1.0, len(lines))):
        left.plot(grid, m * grid + b, color=plt.cm.Blues(shade),
                  label=f"step {step}: b={b:.2f}, m={m:.2f}")
    left.plot(x, y, "ko")
    left.set_xlabel("price of wheat")
    left.set_ylabel("price of bread")
    left.legend(fontsize=7, loc="lower right")
    right.plot(np.arange(len(costs)), costs, color="tab:blue")
    right.set_xlabel("step")
    right.set_ylabel("mean squared error")
    fig.suptitle(f"Linear regression by gradient descent: {steps} steps, learning rate 0.01")
    fig.tight_layout()
    return {"linear_regression": fig}


@figure("perceptron")
def perceptron_figure(options: Options) -> dict[str, Figure]:
    epochs = tour.PERCEPTRON_EPOCHS
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.3))
    for ax, gate in zip(axes[:2], ("or", "xor")):
        x, y = datasets.logic_gate(gate)
        model = models.perceptron(seed=options.seed)
        errors = model.fit(x, y, epochs=epochs, batch_size=1, verbose=0).history["errors"]
        (w1, w2), b = keras.ops.convert_to_numpy(model.kernel)[:, 0], _scalar(model.bias[0])
        grid = np.linspace(-0.5, 1.5, 2)
        if abs(w2) > 1e-9:  # the line w1·x1 + w2·x2 + b = 0
            ax.plot(grid, -(w1 * grid + b) / w2, color="tab:blue")
        elif abs(w1) > 1e-9:
            ax.axvline(-b / w1, color="tab:blue")
        corners = np.array([[-0.5, -0.5], [-0.5, 1.5], [1.5, -0.5], [1.5, 1.5]])
        outside = len(set(np.sign(corners @ [w1, w2] + b))) == 1
        ax.text(-0.45, -0.45, f"w = ({w1:.2f}, {w2:.2f}), b = {b:.2f}"
                + ("\n(its line lies outside this square)" if outside else ""), fontsize=8)
        ax.scatter(x[:, 0], x[:, 1], c=y.ravel(), cmap="coolwarm", s=120, edgecolors="k",
                   vmin=0, vmax=1)
        ax.set_xlim(-0.5, 1.5)
        ax.set_ylim(-0.5, 1.5)
        ax.set_aspect("equal")
        ax.set_title(f"{gate.upper()} after {epochs} epochs (red = 1)", fontsize=10)
        axes[2].plot(range(1, epochs + 1), errors, "o-", label=gate.upper())
    axes[2].set_xlabel("epoch")
    axes[2].xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
    axes[2].set_ylabel("errors in the epoch")
    axes[2].legend()
    fig.suptitle(f"The perceptron rule, learning rate 0.2, seed {options.seed}: "
                 "OR is separable, XOR is not")
    fig.tight_layout()
    return {"perceptron": fig}


@figure("backprop_mlp")
def backprop_figure(options: Options) -> dict[str, Figure]:
    x, y = datasets.logic_gate("xor")
    epochs, steps_per_epoch = (10, 100) if options.quick else (60, 1000)
    model = models.backprop_mlp(weights="snippet", steps_per_batch=steps_per_epoch)
    costs = model.fit(x, y, epochs=epochs, verbose=0).history["loss"]
    steps = epochs * steps_per_epoch
    grid = np.linspace(-0.25, 1.25, 61, dtype="float32")
    mesh = np.stack(np.meshgrid(grid, grid), axis=-1).reshape(-1, 2)
    surface = model.predict(mesh, verbose=0).reshape(len(grid), len(grid))
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.8))
    image = left.contourf(grid, grid, surface, levels=20, cmap="coolwarm", vmin=0, vmax=1)
    fig.colorbar(image, ax=left, label="output")
    left.scatter(x[:, 0], x[:, 1], c=y.ravel(), cmap="coolwarm", s=120, edgecolors="k")
    left.set_aspect("equal")
    left.set_title("XOR: the trained net's output", fontsize=10)
    right.plot(np.arange(1, epochs + 1) * steps_per_epoch, costs)
    right.set_yscale("log")
    right.set_xlabel("step")
    right.set_ylabel(f"cost, logged every {steps_per_epoch} steps")
    fig.suptitle(f"Backpropagation, the snippet's 3-4-1 net from its own weights: "
                 f"{steps:,} steps")
    fig.tight_layout()
    return {"backprop": fig}


@figure("mnist_convnet")
def convnet_figures(options: Options) -> dict[str, Figure]:
    source, ((x, y), (x_test, y_test)) = tour.load_images(options.data)
    epochs = options.epochs or (2 if options.quick else 10)
    if options.quick:
        x, y, x_test, y_test = x[:256], y[:256], x_test[:100], y_test[:100]
        source += " (first 256 training, 100 test images)"
    curves = {}
    for label, rate in (("default: Adam 3e-3, ×0.75 every 938 steps", None),
                        ("original: Adam 0.01", 0.01)):
        keras.utils.set_random_seed(options.seed)
        model = models.mnist_convnet(learning_rate=rate)
        history = model.fit(x, y, batch_size=64, epochs=epochs, verbose=0,
                            validation_data=(x_test, y_test))
        curves[label] = history.history["val_accuracy"]
        if rate is None:
            default_model = model
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for label, accuracy in curves.items():
        ax.plot(range(1, epochs + 1), accuracy, "o-", label=label)
    ax.set_xlabel("epoch (batch 64)")
    ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
    ax.set_ylabel("test accuracy")
    ax.set_title(f"mnist_convnet on {source},\nseed {options.seed}", fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    figures = {"convnet_accuracy": fig}

    kernels = keras.ops.convert_to_numpy(default_model.get_layer("conv_1").kernel)[:, :, 0]
    fig, axes = plt.subplots(2, 16, figsize=(8, 1.4))
    for i, ax in enumerate(axes.flat):
        ax.imshow(kernels[:, :, i], cmap="gray")
        ax.axis("off")
    fig.suptitle("The 32 first-layer 3×3 filters of the default recipe", fontsize=9)
    figures["convnet_filters"] = fig

    predicted = np.argmax(default_model.predict(x_test, verbose=0), axis=-1)
    wrong = np.flatnonzero(predicted != y_test)[:8]
    fig, axes = plt.subplots(1, 8, figsize=(8, 1.6))
    for ax in axes:
        ax.axis("off")
    for ax, i in zip(axes, wrong):
        ax.imshow(x_test[i], cmap="gray_r")
        ax.set_title(f"{y_test[i]} → {predicted[i]}", fontsize=9)
    fig.suptitle(f"Misclassified test images (true → predicted): {len(wrong)} shown of "
                 f"{int((predicted != y_test).sum())} wrong in {len(y_test)}", fontsize=9)
    fig.tight_layout()
    figures["convnet_mistakes"] = fig
    return figures


def _parameters_figure(model: keras.Model, paper: str) -> Figure:
    """Parameters per layer (batch normalization counted with its convolution)."""
    names, counts, dense = [], [], []
    for layer in model.layers:
        if not layer.weights:
            continue
        if isinstance(layer, keras.layers.BatchNormalization) and names:
            counts[-1] += layer.count_params()
            continue
        names.append(layer.name)
        counts.append(layer.count_params())
        dense.append(isinstance(layer, keras.layers.Dense))
    counts, dense = np.array(counts), np.array(dense)
    total = int(counts.sum())
    fig, ax = plt.subplots(figsize=(max(5.0, 0.34 * len(names) + 1.5), 3.6))
    ax.bar(np.flatnonzero(~dense), counts[~dense], color="tab:blue", label="convolutional")
    ax.bar(np.flatnonzero(dense), counts[dense], color="tab:orange", label="fully connected")
    ax.set_yscale("log")
    ax.set_xticks(range(len(names)), names, rotation=90, fontsize=7)
    ax.set_ylabel("parameters")
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(axis="y", alpha=0.3)
    ax.set_title(f"{model.name}: {total:,} parameters ({paper});\n"
                 f"{counts[dense].sum() / total:.0%} of them in the fully connected layers",
                 fontsize=9)
    fig.tight_layout()
    return fig


@figure("alexnet")
def alexnet_figure(options: Options) -> dict[str, Figure]:
    return {"alexnet_parameters": _parameters_figure(models.alexnet(compile=False),
                                                     "paper: 60 million")}


@figure("vgg16")
def vgg16_figure(options: Options) -> dict[str, Figure]:
    return {"vgg16_parameters": _parameters_figure(models.vgg16(compile=False),
                                                   "paper: 138 million")}


@figure("resnet50")
def resnet50_figure(options: Options) -> dict[str, Figure]:
    return {"resnet50_parameters": _parameters_figure(models.resnet50(compile=False),
                                                      "keras.applications: 25,636,712")}


@figure("resnet")
def cifar_resnets_figure(options: Options) -> dict[str, Figure]:
    depths, paper = (20, 32, 44, 56, 110), ("0.27M", "0.46M", "0.66M", "0.85M", "1.7M")
    stages: dict[str, list[int]] = {}
    for i, depth in enumerate(depths):
        for layer in models.resnet(depth, compile=False).layers:
            # "conv3_block2" is in stage conv3; "conv1_bn" in conv1.
            counts = stages.setdefault(layer.name.split("_")[0], [0] * len(depths))
            counts[i] += layer.count_params()
    fig, ax = plt.subplots(figsize=(6, 3.6))
    bottom = np.zeros(len(depths))
    labels = {"conv1": "first conv", "conv2": "16 filters", "conv3": "32 filters",
              "conv4": "64 filters", "predictions": "classifier"}
    for stage, counts in stages.items():
        if any(counts):
            ax.bar([str(d) for d in depths], counts, bottom=bottom,
                   label=labels.get(stage, stage))
            bottom += counts
    for x, (total, text) in enumerate(zip(bottom, paper)):
        ax.text(x, total, f"{int(total):,}\n(paper {text})", ha="center", va="bottom",
                fontsize=7)
    ax.set_ylim(0, bottom.max() * 1.2)
    ax.set_xlabel("depth 6n + 2 (resnet(depth), 32×32×3 input, 10 classes)")
    ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v / 1e6:g}M"))
    ax.set_ylabel("parameters")
    ax.legend(fontsize=8, title="stage", title_fontsize=8)
    ax.set_title("The CIFAR ResNets of He et al. (2015), Section 4.2: parameters by stage",
                 fontsize=9)
    fig.tight_layout()
    return {"resnet_cifar_parameters": fig}


# The Playground's colours: orange for its -1 (our 0), blue for its +1 (our 1).
PLAYGROUND_COLOURS = ("#f59322", "#e8eaeb", "#0877bd")


def _surface(ax, model, x, y, extent: float = 6.0, x_test=None, y_test=None):
    """The model's P(class 1) over the plane as a filled contour, the points on top."""
    from matplotlib.colors import LinearSegmentedColormap, ListedColormap

    cmap = LinearSegmentedColormap.from_list("playground", PLAYGROUND_COLOURS)
    grid = np.linspace(-extent, extent, 101, dtype="float32")
    mesh = np.stack(np.meshgrid(grid, grid), axis=-1).reshape(-1, 2)
    surface = model.predict(mesh, verbose=0, batch_size=len(mesh)).reshape(len(grid), len(grid))
    ax.contourf(grid, grid, surface, levels=np.linspace(0, 1, 21), cmap=cmap, vmin=0, vmax=1,
                extend="both")
    dots = ListedColormap(PLAYGROUND_COLOURS[::2])
    ax.scatter(x[:, 0], x[:, 1], c=y.ravel(), cmap=dots, vmin=0, vmax=1, s=9,
               edgecolors="white", linewidths=0.4)
    if x_test is not None:
        ax.scatter(x_test[:, 0], x_test[:, 1], c=y_test.ravel(), cmap=dots, vmin=0, vmax=1, s=9,
                   edgecolors="black", linewidths=0.4)
    ax.set_xlim(-extent, extent)
    ax.set_ylim(-extent, extent)
    ax.set_aspect("equal")
    ax.tick_params(labelsize=7)


def _accuracy(model, x, y) -> float:
    return float(np.mean((model.predict(x, verbose=0) > 0.5) == y))


@figure("logistic_neuron")
def logistic_neuron_figure(options: Options) -> dict[str, Figure]:
    steps = 100 if options.quick else 10_000
    fig, axes = plt.subplots(1, 2, figsize=(8, 4.2))
    for ax, (title, (x, y), extent) in zip(axes, (
            ("the course's flower", datasets.flower(), 4.5),
            ("the Playground's two Gaussians", datasets.playground("gauss")[0], 6.0))):
        model = models.logistic_neuron(steps_per_batch=steps)
        model.fit(x, y, batch_size=len(x), epochs=1, verbose=0)
        _surface(ax, model, x, y, extent)
        ax.set_title(f"{title}: {100 * _accuracy(model, x, y):.2f}% of the points",
                     fontsize=9)
    fig.suptitle(f"Logistic regression as a neuron: σ(w·x + b), cross-entropy, {steps:,} "
                 "full-batch steps, η = 1.2\n(P(blue) from 0, orange, to 1, blue; "
                 "a line cannot split the petals)", fontsize=10)
    fig.tight_layout()
    return {"logistic_neuron": fig}


@figure("shallow_net")
def shallow_net_figures(options: Options) -> dict[str, Figure]:
    figures = {}
    # The course: 4 tanh units from its own starting weights, 10,000 steps.
    x, y = datasets.flower()
    per_epoch, epochs = (10, 10) if options.quick else (1000, 10)
    model = models.shallow_net(4, init="course", steps_per_batch=per_epoch)
    costs = [model.evaluate(x, y, verbose=0, return_dict=True)["loss"]]
    for _ in range(epochs):
        model.fit(x, y, batch_size=len(x), epochs=1, verbose=0)
        costs.append(model.evaluate(x, y, verbose=0, return_dict=True)["loss"])
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 4.2))
    _surface(left, model, x, y, 4.5)
    left.set_title(f"4 tanh units: {100 * _accuracy(model, x, y):.2f}% of the points",
                   fontsize=9)
    right.plot(np.arange(epochs + 1) * per_epoch, costs, "o-", label="ours")
    if not options.quick:
        right.plot(np.arange(10) * 1000, [0.693048, 0.288083, 0.254385, 0.233864, 0.226792,
                                          0.222644, 0.219731, 0.217504, 0.219454, 0.218607],
                   "x", color="black", label="the course")
    right.set_xlabel("step")
    right.set_ylabel("cross-entropy over the 400 points")
    right.legend()
    fig.suptitle(f"The lecture's net on its flower: η = 1.2, {epochs * per_epoch:,} full-batch "
                 "steps from the course's starting weights", fontsize=10)
    fig.tight_layout()
    figures["shallow_net_flower"] = fig

    # The Playground's default net on its four sets.
    epochs = 5 if options.quick else 500
    fig, axes = plt.subplots(1, 4, figsize=(13, 3.8))
    for ax, name in zip(axes, datasets.planar.PLAYGROUND_SETS):
        (x, y), (x_test, y_test) = datasets.playground(name, seed=options.seed)
        model = models.shallow_net((4, 2), output="tanh", seed=options.seed)
        model.fit(x, y, batch_size=10, epochs=epochs, shuffle=False, verbose=0)
        loss = model.evaluate(x_test, y_test, verbose=0, return_dict=True)["loss"]
        _surface(ax, model, x, y, x_test=x_test, y_test=y_test)
        ax.set_title(f"{name}: test loss {loss:.3f}, test accuracy "
                     f"{100 * _accuracy(model, x_test, y_test):.0f}%", fontsize=9)
    fig.suptitle(f"The TensorFlow Playground's default net (x₁, x₂ → 4 tanh → 2 tanh → tanh, "
                 f"½(out − t)², rate 0.03, batch 10), {epochs} epochs; "
                 "test points ringed in black", fontsize=10)
    fig.tight_layout()
    figures["shallow_net_playground"] = fig

    # Frames of the surface as the circle is learnt.
    frames = (0, 1, 2, 3) if options.quick else (0, 1, 2, 5, 10, 20, 50, 100)
    (x, y), _ = datasets.playground("circle", seed=options.seed)
    model = models.shallow_net((4, 2), output="tanh", seed=options.seed)
    fig, axes = plt.subplots(1, len(frames), figsize=(2.1 * len(frames), 2.6))
    done = 0
    for ax, epoch in zip(axes, frames):
        if epoch > done:
            model.fit(x, y, batch_size=10, epochs=epoch, initial_epoch=done, shuffle=False,
                      verbose=0)
            done = epoch
        loss = model.evaluate(x, y, verbose=0, return_dict=True)["loss"]
        _surface(ax, model, x, y)
        ax.set_title(f"epoch {epoch}: loss {loss:.3f}", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("The Playground's default net learning the circle (training points)",
                 fontsize=10)
    fig.tight_layout()
    figures["shallow_net_training"] = fig
    return figures


RESULTS = Path(__file__).resolve().parents[1] / "docs" / "results"


@figure("deep_mlp")
def deep_mlp_figures(options: Options) -> dict[str, Figure]:
    """Glorot & Bengio's Figs. 6–7 from the real nets at initialisation; He et al.'s
    Fig. 3 in miniature from scripts/benchmark_init.py's results, when recorded."""
    (x, y), _ = datasets.mnist.load_sample()
    count, width = (200, 200) if options.quick else (1000, 1000)
    fig, axes = plt.subplots(2, 2, figsize=(9, 5.6))
    for column, init in enumerate(("standard", "normalized")):
        model = models.deep_mlp(depth=5, width=width, initializer=init, seed=options.seed,
                                compile=False)
        stats = model.layer_statistics(x[:count], y[:count])
        for row, (values, what, limit) in enumerate(
                ((stats.activations, "activation value", 1.0),
                 (stats.gradients, "back-propagated gradient ∂C/∂s", None))):
            ax = axes[row, column]
            limit = limit or float(np.percentile(np.abs(np.concatenate(
                [v.ravel() for v in values])), 99))
            bins = np.linspace(-limit, limit, 81)
            for layer, value in enumerate(values, start=1):
                counts, _ = np.histogram(value.ravel(), bins)
                ax.plot((bins[1:] + bins[:-1]) / 2, counts / counts.sum(),
                        label=f"layer {layer} (std {value.std():.2g})")
            ax.set_xlabel(what, fontsize=8)
            ax.legend(fontsize=6)
            ax.set_title(f"{init} init: {what.split(' ∂')[0]}s", fontsize=9)
    fig.suptitle(f"Depth-5 tanh MLP ({width} units) at initialisation, {count} MNIST digits "
                 "(Glorot & Bengio 2010, Figs. 6–7)", fontsize=10)
    fig.tight_layout()
    figures = {"deep_mlp_init_statistics": fig}

    path = RESULTS / "init_rectifiers.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()
            if line.strip()] if path.exists() else []
    longest = {}  # each initialiser's longest recorded run
    for r in rows:
        if r["experiment"] == "depth30" and r.get("curve") and len(r["curve"]) >= len(
                longest.get(r["label"], {}).get("curve", [])):
            longest[r["label"]] = r
    runs = list(longest.values())
    if runs:
        fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6))
        names = {"normalized": "Glorot (\"Xavier\"): U[±√6/√(n_in+n_out)]",
                 "he": "He: N(0, 2/n_in)"}
        for run in runs:
            epochs = [c["epoch"] for c in run["curve"]]
            label = names.get(run["label"], run["label"])
            left.plot(epochs, [c["loss"] for c in run["curve"]], "o-", label=label)
            right.plot(epochs, [c["test_error"] for c in run["curve"]], "o-", label=label)
        left.set_ylabel("training cross-entropy")
        right.set_ylabel("test error (10,000 digits)")
        for ax in (left, right):
            ax.set_xlabel(f"epoch ({runs[0]['train']:,} MNIST digits, batch "
                          f"{runs[0]['batch_size']})")
            ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
            ax.grid(alpha=0.3)
        right.legend(fontsize=8)
        run = runs[0]
        fig.suptitle(f"30-layer ReLU MLP ({run['options']['width']} units), plain SGD "
                     f"{run['options']['learning_rate']}, seed {run['seed']}, {run['backend']} "
                     "(He et al. 2015, Fig. 3 in miniature)", fontsize=9)
        fig.tight_layout()
        figures["deep_mlp_depth30"] = fig
    return figures


@figure("deep_belief_net")
def deep_belief_net_figure(options: Options) -> dict[str, Figure]:
    """The first RBM's filters: 100 of its 500 hidden units' weights as 28 × 28 images,
    after CD-1 with rbm.m's settings (full MNIST with `data`, else the bundled sample)."""
    if options.data:
        (x, _), _ = datasets.mnist.load_data(options.data)
        source = f"{len(x):,} MNIST digits"
    else:
        (x, _), _ = datasets.mnist.load_sample()
        source = f"the {len(x):,}-digit MNIST sample"
    epochs = 1 if options.quick else (options.epochs or 5)
    if options.quick:
        x = x[:500]
    keras.utils.set_random_seed(options.seed)
    rbm = RBM(784, 500, seed=options.seed)
    rbm.compile()
    history = rbm.fit(x.reshape(len(x), -1), batch_size=100, epochs=epochs, verbose=0)
    weights = keras.ops.convert_to_numpy(rbm.kernel)[:, :100].T.reshape(100, 28, 28)
    fig, axes = plt.subplots(10, 10, figsize=(6.4, 7.0))
    for ax, filter_ in zip(axes.ravel(), weights):
        limit = float(np.abs(filter_).max())
        ax.imshow(filter_, cmap="gray", vmin=-limit, vmax=limit)
        ax.set_axis_off()
    error = history.history["reconstruction_error"][-1]
    fig.suptitle(f"First RBM of the deep belief net: 100 of its 500 filters\n"
                 f"CD-1, {epochs} epoch(s) on {source}, seed {options.seed}; "
                 f"reconstruction error {error:.1f} per digit", fontsize=9)
    fig.tight_layout()
    return {"deep_belief_net_filters": fig}


def _trained_capsnet(weights: str | None) -> tuple[keras.Model, str] | None:
    """(a trained CapsNet, where it came from): the file `weights` (a `.keras` model of
    any options, e.g. scripts/benchmark_capsnet.py's checkpoint, or a `.weights.h5` of
    the paper's net), else the first shipped weight set; None if there is neither."""
    from keras_history import weights as weight_sets
    from keras_history.saving import load_model

    if weights is None:
        shipped = weight_sets.names("capsnet")
        if not shipped:
            return None
        return models.capsnet(weights=shipped[0], compile=False), f"weight set '{shipped[0]}'"
    path = Path(weights)
    model = (load_model(path) if path.suffix == ".keras"
             else models.capsnet(weights=path, compile=False))
    return model, path.name


def capsnet_perturbation_figure(model, images: np.ndarray, labels: np.ndarray,
                                source: str = "") -> Figure:
    """The paper's Fig. 4 for `images`: row d of a digit's panel decodes its capsule (of class
    `labels`) with dimension d moved by −0.25 .. 0.25 in steps of 0.05 (`model.perturb`); the
    middle column is the plain reconstruction."""
    from keras_history.models.convolutional.capsnet import PERTURBATIONS

    tweaked = model.perturb(images, labels)  # (N, 16, 11, h, w, c)
    count, dims, steps, height, width = tweaked.shape[:5]
    gap = 2
    # About one pixel of the PNG per pixel of the images: 16 rows of 30 pixels, 6 in at DPI.
    fig, axes = plt.subplots(1, count, figsize=(4.9 * count, 8.0), squeeze=False)
    for ax, panel, label in zip(axes[0], tweaked[..., 0], labels):
        mosaic = np.ones((dims * (height + gap) - gap, steps * (width + gap) - gap))
        for d in range(dims):
            for k in range(steps):
                mosaic[d * (height + gap):d * (height + gap) + height,
                       k * (width + gap):k * (width + gap) + width] = panel[d, k]
        ax.imshow(mosaic, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        ax.set_yticks([d * (height + gap) + height / 2 for d in range(dims)],
                      [str(d + 1) for d in range(dims)], fontsize=6)
        ax.set_xticks([k * (width + gap) + width / 2 for k in range(steps)],
                      [f"{delta:+.2f}" if delta else "0" for delta in PERTURBATIONS],
                      fontsize=6, rotation=90)
        ax.set_ylabel("dimension of the digit capsule", fontsize=8)
        ax.set_xlabel("added to that dimension", fontsize=8)
        ax.set_title(f"a test digit {int(label)}, its capsule {int(label)}", fontsize=9)
    steps_trained = (int(keras.ops.convert_to_numpy(model.optimizer.iterations))
                     if getattr(model, "optimizer", None) is not None else None)
    trained = f", {steps_trained:,} training steps" if steps_trained else ""
    fig.suptitle("CapsNet's dimensions (Sabour, Frosst & Hinton 2017, Fig. 4): one dimension "
                 f"of the digit capsule tweaked, then decoded\n{source}{trained}", fontsize=9)
    fig.tight_layout()
    return fig


@figure("capsnet")
def capsnet_figure(options: Options) -> dict[str, Figure]:
    """Fig. 4 from a trained CapsNet (`options.weights`, else a shipped set): two test
    digits, each of their 16 capsule dimensions moved by −0.25 .. 0.25. Nothing is drawn
    without trained weights: an untrained decoder draws noise."""
    trained = _trained_capsnet(options.weights)
    if trained is None:
        return {}
    model, source = trained
    if options.data:
        _, (x_test, y_test) = datasets.mnist.load_data(options.data)
    else:
        _, (x_test, y_test) = datasets.mnist.load_sample()
    _, first = np.unique(y_test, return_index=True)  # the first test digit of each class
    chosen = np.sort(first)[:2]
    return {"capsnet_dimensions": capsnet_perturbation_figure(
        model, x_test[chosen], y_test[chosen], f"the model: {source}")}


@figure("rcnn")
def rcnn_figure(options: Options) -> dict[str, Figure]:
    """R-CNN's detections on canvases of test digits: the tour's recipe (pre-training on the
    digits, 16 fine-tuning batches, SVMs and box regressors on 32 canvases), or with
    `quick` a few steps; each canvas with its ground truth (dashed) and its five
    best-scoring detections (solid, class and SVM score)."""
    from keras_history import metrics

    if not models.proposals_available():
        return {}
    if options.data:
        (x, y), (x_test, y_test) = datasets.mnist.load_data(options.data)
    else:
        (x, y), (x_test, y_test) = datasets.mnist.load_sample()
    sizes = (6, 3, 4, 500) if options.quick else (*tour.RCNN_CANVASES, tour.RCNN_BATCHES,
                                                   len(x))
    make = datasets.mnist_detection.make_canvases
    train = make(x, y, sizes[0], seed=options.seed)
    canvases, truth, labels = make(x_test, y_test, sizes[1], seed=options.seed + 1)
    model = models.rcnn(seed=options.seed)
    model.pretrain(x[:sizes[3]], y[:sizes[3]], epochs=options.epochs or 1, batch_size=32,
                   verbose=0)
    model.train_detector(*train, batches=sizes[2], seed=options.seed)
    boxes, scores, found = model.detect(canvases)
    score = metrics.mean_average_precision(boxes, scores, found, truth, labels)
    shown = min(4, len(canvases))
    fig, axes = plt.subplots(1, shown, figsize=(2.6 * shown, 3.0))
    for ax, image, box, score_row, label, true_box in zip(np.atleast_1d(axes), canvases, boxes,
                                                          scores, found, truth):
        ax.imshow(image[..., 0], cmap="gray", vmin=0, vmax=1)
        for x1, y1, x2, y2 in true_box:
            ax.add_patch(patches.Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, ls="--",
                                           lw=1, ec="#4aa3ff"))
        for (x1, y1, x2, y2), value, k in list(zip(box, score_row, label))[:5]:
            ax.add_patch(patches.Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, lw=1.5,
                                           ec="#ffb000"))
            ax.text(x1, y1 - 1, f"{k} {value:.1f}", color="#ffb000", fontsize=8,
                    va="bottom")
        ax.set_xticks([])
        ax.set_yticks([])
    quick = " (quick: a few steps)" if options.quick else ""
    fig.suptitle(f"R-CNN on {len(canvases)} canvases of MNIST test digits: mAP {score:.2f} "
                 f"(VOC, IoU 0.5){quick}\ndashed: ground truth; solid: each canvas's five "
                 "best-scoring detections (class, SVM score)", fontsize=9)
    fig.tight_layout()
    return {"rcnn_detections": fig}


def save(names: Iterable[str], folder: str | os.PathLike, **options) -> list[Path]:
    """Make the figures of `names` (keys of FIGURES), write them as PNGs in `folder`.

    Milestones without a figure function are skipped. Returns the paths written.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name in names:
        if name not in FIGURES:
            continue
        # Each figure from the seed alone, whichever figures were drawn before it.
        keras.utils.set_random_seed(options.get("seed", 0))
        for stem, fig in FIGURES[name](Options(**options)).items():
            path = folder / f"{stem}.png"
            fig.savefig(path, dpi=DPI)
            plt.close(fig)
            written.append(path)
    return written
