"""The timeline: the one registry of milestones, as plain data.

A milestone is known by its factory's name (its slug: `lstm_1997`), and its
page is `docs/milestones/<slug with dashes>.md`. Its number is only its place
in `TIMELINE`, which is in year order, so a milestone added in the middle
renumbers nothing that anyone links to. The command line reads this module
without importing Keras; `Milestone.factory` imports the milestone's module
when it is first asked for.

Adding a milestone: its module (whose factory is decorated with
`@milestone("its_slug")` and listed in the module's `__all__`), its page, its
tests, and one line below.
"""

from __future__ import annotations

import functools
import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Milestone:
    name: str  # the factory's name: the milestone's identity
    year: int | None  # None: a combination of ideas with no single date
    inventor: str
    title: str
    module: str  # the factory's module, under keras_history.models

    @property
    def number(self) -> int:
        """Its place on the timeline, counted from 1 (printed, never stored)."""
        return TIMELINE.index(self) + 1

    @property
    def page(self) -> str:
        """Its page, relative to the repository's root."""
        return f"docs/milestones/{self.name.replace('_', '-')}.md"

    @property
    def factory(self) -> Callable:
        """The registered factory (imports its module on first use)."""
        importlib.import_module(f"keras_history.models.{self.module}")
        return _FACTORIES[self.name]


# Every milestone, in timeline order: (slug, year, inventor, title, module).
TIMELINE: tuple[Milestone, ...] = tuple(Milestone(*row) for row in (
    ("least_squares", 1805, "Adrien-Marie Legendre", "Least squares", "classic.least_squares"),
    ("gradient_descent", 1847, "Augustin-Louis Cauchy", "Gradient descent",
     "classic.gradient_descent"),
    ("linear_regression", None, "Legendre + Cauchy", "Linear regression by gradient descent",
     "classic.linear_regression"),
    ("perceptron", 1958, "Frank Rosenblatt", "Perceptron", "classic.perceptron"),
    ("logistic_neuron", 1958, "David Cox", "Logistic regression as a neuron",
     "classic.cross_entropy"),
    ("backprop_mlp", 1986, "Rumelhart, Hinton & Williams", "Backpropagation", "classic.backprop"),
    ("elman_rnn", 1990, "Jeffrey Elman", "Simple recurrent network", "recurrent.elman"),
    ("lstm_1997", 1997, "Hochreiter & Schmidhuber", "Long short-term memory", "recurrent.lstm"),
    ("lenet5", 1998, "LeCun, Bottou, Bengio & Haffner", "LeNet-5", "convolutional.lenet5"),
    ("deep_belief_net", 2006, "Hinton, Osindero & Teh",
     "Deep belief nets (greedy RBM pretraining)", "deep.dbn"),
    ("deep_mlp", 2010, "Glorot & Bengio; He et al. 2015",
     "Initialisation and rectifiers (deep MLP)", "deep.init"),
    ("alexnet", 2012, "Krizhevsky, Sutskever & Hinton", "AlexNet (ImageNet, two GPUs)",
     "convolutional.alexnet"),
    ("rcnn", 2014, "Girshick, Donahue, Darrell & Malik", "R-CNN (regions with CNN features)",
     "convolutional.rcnn"),
    ("vgg16", 2014, "Simonyan & Zisserman", "VGG16 (very deep 3×3 convnet)", "convolutional.vgg"),
    ("gan", 2014, "Goodfellow et al.", "Generative adversarial nets", "generative.gan"),
    ("dropout_mlp", 2014, "Srivastava, Hinton, Krizhevsky, Sutskever & Salakhutdinov",
     "Dropout with max-norm (MNIST MLP)", "deep.dropout"),
    ("batch_norm_mlp", 2015, "Ioffe & Szegedy", "Batch normalization (MNIST MLP)",
     "deep.batch_norm"),
    ("resnet50", 2015, "He, Zhang, Ren & Sun", "ResNet-50 (residual learning)",
     "convolutional.resnet"),
    ("resnet", 2015, "He, Zhang, Ren & Sun", "CIFAR ResNets (20 to 110 layers)",
     "convolutional.resnet"),
    ("vgg_like", 2015, "François Chollet, Keras guide", "VGG-like convnet (Keras's example)",
     "convolutional.vgg_like"),
    ("mnist_convnet", 2016, "TFLearn, after LeCun 1998 & Krizhevsky 2012",
     "Deep convnet (TFLearn MNIST)", "convolutional.convnet"),
    ("tutorial_net", 2017, "PyTorch tutorial (Soumith Chintala)",
     "CIFAR-10 classifier (60-minute blitz)", "convolutional.tutorial_net"),
    ("shallow_net", 2017, "Andrew Ng (deeplearning.ai)",
     "Shallow net, cross-entropy gradients by hand",
     "classic.cross_entropy"),
    ("capsnet", 2017, "Sabour, Frosst & Hinton", "Capsule networks (dynamic routing)",
     "convolutional.capsnet"),
))

NAMES: tuple[str, ...] = tuple(m.name for m in TIMELINE)

_FACTORIES: dict[str, Callable] = {}


def year_text(year: int | None) -> str:
    """A milestone's year as printed: the year, or an em dash for an undated one."""
    return "—" if year is None else str(year)


def milestone(name: str) -> Callable:
    """Register the factory of the timeline's milestone `name`, and make unknown
    options a clear TypeError."""
    if name not in NAMES:
        raise ValueError(f"{name!r} is not on the timeline: add its line to "
                         "keras_history.timeline.TIMELINE.")

    def register(factory: Callable) -> Callable:
        if factory.__name__ != name:
            raise ValueError(f"The factory of milestone {name!r} is called "
                             f"{factory.__name__!r}; a milestone is known by its factory's name.")
        options = inspect.signature(factory).parameters

        @functools.wraps(factory)
        def checked_factory(*args, **kwargs):
            unknown = sorted(set(kwargs) - set(options))
            if unknown:
                raise TypeError(
                    f"{factory.__name__}() got unknown option(s) {', '.join(unknown)}; "
                    f"expected any of: {', '.join(options)}."
                )
            return factory(*args, **_with_set_options(name, factory, args, kwargs))

        _FACTORIES[name] = checked_factory
        return checked_factory

    return register


def _with_set_options(name: str, factory: Callable, args: tuple, kwargs: dict) -> dict:
    """Check `weights=` before anything is built; a shipped set's options (the ones its
    weights were trained with) fill in those the caller did not give."""
    import keras_history.weights as shipped

    bound = inspect.signature(factory).bind_partial(*args, **kwargs).arguments
    chosen = bound.get("weights")
    shipped.check(name, chosen)
    if isinstance(chosen, str) and chosen in [s.name for s in shipped.available(name)]:
        return {**shipped.get(name, chosen).options, **kwargs}
    return kwargs


def get(name: str) -> Milestone:
    """The milestone whose factory is called `name`, or a ValueError listing them."""
    for item in TIMELINE:
        if item.name == name:
            return item
    raise ValueError(f"Unknown milestone {name!r}; expected one of: {', '.join(NAMES)}.")
