"""The timeline: every milestone's factory registers here with its year and inventor.

`keras-history tour` walks it, and the factories get one shared guard against
misspelt options. `CATALOGUE` repeats the same facts as plain data, so that
`keras-history list` and the command line's checks need not import Keras.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Milestone:
    number: int
    year: int | None  # None: a combination of ideas with no single date
    inventor: str
    title: str
    factory: Callable

    @property
    def name(self) -> str:
        return self.factory.__name__


TIMELINE: list[Milestone] = []

# (number, year, inventor, title, factory name) of every milestone, in timeline order.
# The registered factories are the truth: tests/test_cli.py checks that the two agree.
CATALOGUE: tuple[tuple[int, int | None, str, str, str], ...] = (
    (1, 1805, "Adrien-Marie Legendre", "Least squares", "least_squares"),
    (2, 1847, "Augustin-Louis Cauchy", "Gradient descent", "gradient_descent"),
    (3, None, "Legendre + Cauchy", "Linear regression by gradient descent", "linear_regression"),
    (4, 1958, "Frank Rosenblatt", "Perceptron", "perceptron"),
    (5, 1986, "Rumelhart, Hinton & Williams", "Backpropagation", "backprop_mlp"),
    (6, 1990, "Jeffrey Elman", "Simple recurrent network", "elman_rnn"),
    (7, 1997, "Hochreiter & Schmidhuber", "Long short-term memory", "lstm_1997"),
    (8, 1998, "LeCun, Bottou, Bengio & Haffner", "LeNet-5", "lenet5"),
    (9, 2012, "Krizhevsky, Sutskever & Hinton", "AlexNet (ImageNet, two GPUs)", "alexnet"),
    (10, 2014, "Simonyan & Zisserman", "VGG16 (very deep 3×3 convnet)", "vgg16"),
    (11, 2014, "Goodfellow et al.", "Generative adversarial nets", "gan"),
    (12, 2015, "He, Zhang, Ren & Sun", "ResNet-50 (residual learning)", "resnet50"),
    (13, 2015, "He, Zhang, Ren & Sun", "CIFAR ResNets (20 to 110 layers)", "resnet"),
    (14, 2016, "TFLearn, after LeCun 1998 & Krizhevsky 2012", "Deep convnet (TFLearn MNIST)",
     "mnist_convnet"),
)


def year_text(year: int | None) -> str:
    """A milestone's year as printed: the year, or an em dash for an undated one."""
    return "—" if year is None else str(year)


def milestone(number: int, year: int | None, inventor: str, title: str) -> Callable:
    """Register a factory on the timeline and make unknown options a clear TypeError."""

    def register(factory: Callable) -> Callable:
        options = inspect.signature(factory).parameters

        @functools.wraps(factory)
        def checked_factory(*args, **kwargs):
            unknown = sorted(set(kwargs) - set(options))
            if unknown:
                raise TypeError(
                    f"{factory.__name__}() got unknown option(s) {', '.join(unknown)}; "
                    f"expected any of: {', '.join(options)}."
                )
            return factory(*args, **kwargs)

        TIMELINE.append(Milestone(number, year, inventor, title, checked_factory))
        TIMELINE.sort(key=lambda m: m.number)
        return checked_factory

    return register


def get(name: str) -> Milestone:
    """The milestone whose factory is called `name`, or a ValueError listing them."""
    import keras_history.models  # noqa: F401  (registers every factory)

    for item in TIMELINE:
        if item.name == name:
            return item
    raise ValueError(
        f"Unknown milestone {name!r}; expected one of: {', '.join(m.name for m in TIMELINE)}."
    )
