"""Bad data, bad options, bad learning rates and bad files: every factory, every backend.

Each refusal must be a documented error type (docs/errors.md) whose message
names what was expected, raised before the first training step and leaving
the model untouched. The tables below are the specification: a new milestone
fails `test_every_milestone_has_expectations` until it is given a row.
"""

from __future__ import annotations

import inspect
import json
import math
import re
import zipfile

import keras
import numpy as np
import pytest
from cases import CASES, in_turn, make, numpy

import keras_history
from keras_history import datasets, models
from keras_history.callbacks import DivergenceError
from keras_history.timeline import TIMELINE

FACTORIES = {m.name: m.factory for m in TIMELINE}
NAMES = sorted(FACTORIES)


# What each model expects, as regexes its messages must contain. None: accepted
# by design (gradient descent's data only counts steps; regression targets may
# be any real number).
CLASS_IDS = r"class ids of shape \(N,\) or one-hot of shape \(N, 10\)"
SEQUENCES = r"\(samples, steps, 7\)"
EXPECT = {
    "least_squares": dict(x=r"\(samples, (features|1)\)", y=r"\(samples, 1\)",
                          high=None, low=None, fraction=None),
    "gradient_descent": dict(x=None, y=None, high=None, low=None, fraction=None),
    "linear_regression": dict(x=r"\(samples, (features|1)\)", y=r"\(samples, 1\)",
                              high=None, low=None, fraction=None),
    "perceptron": dict(x=r"\(samples, (features|2)\)", y=r"\(samples, 1\)",
                       high=(2.0, "only 0 or 1"), low=(-1.0, "only 0 or 1"),
                       fraction=(0.5, "only 0 or 1")),
    "backprop_mlp": dict(x=r"\(samples, 2\)", y=r"\(samples, 1\)",
                         high=(2.0, r"must lie in \[0, 1\]"), low=(-0.5, r"must lie in \[0, 1\]"),
                         fraction=None),
    # Class labels for a sigmoid's cross-entropy: 0 or 1.
    "logistic_neuron": dict(x=r"\(samples, 2\)", y=r"\(samples, 1\)",
                            high=(2.0, "only 0 or 1"), low=(-1.0, "only 0 or 1"),
                            fraction=(0.5, "only 0 or 1")),
    "shallow_net": dict(x=r"\(samples, 2\)", y=r"\(samples, 1\)",
                        high=(2.0, "only 0 or 1"), low=(-1.0, "only 0 or 1"),
                        fraction=(0.5, "only 0 or 1")),
    # Sequences: a step more in `x` than in `y` is a shape error too.
    "elman_rnn": dict(x=SEQUENCES, y=SEQUENCES, high=(2.0, r"must lie in \[0, 1\]"),
                      low=(-0.5, r"must lie in \[0, 1\]"), fraction=None),
    "lstm_1997": dict(x=SEQUENCES, y=SEQUENCES, high=(2.0, r"must lie in \[0, 1\]"),
                      low=(-0.5, r"must lie in \[0, 1\]"), fraction=None),
    "mnist_convnet": dict(x=r"\(N, 28, 28, 1\)", y=CLASS_IDS,
                          high=(10, r"class ids in 0\.\.9"), low=(-1, r"class ids in 0\.\.9"),
                          fraction=(0.5, "whole-number class ids"),
                          # (N, 10) targets are one-hot to a classifier: rows must be valid.
                          one_hot=(ValueError, "looks one-hot.*one 1 and zeros")),
    # Learns from images alone: any labels are refused, whatever they hold.
    "gan": dict(x=r"\(N, 28, 28\)", labels=(ValueError, "uses no labels or targets")),
}
# The ImageNet-era nets take images and class ids as the convnet does (tests/cases.py sizes).
for _name, _size in (("alexnet", 67), ("vgg16", 32), ("resnet50", 32), ("resnet", 28),
                     ("vgg_like", 28), ("tutorial_net", 32)):
    EXPECT[_name] = {**EXPECT["mnist_convnet"], "x": rf"\(N, {_size}, {_size}, 1\)"}
EXPECT["lenet5"] = EXPECT["mnist_convnet"]  # the same images and labels, the same checks
EXPECT["dropout_mlp"] = EXPECT["batch_norm_mlp"] = EXPECT["mnist_convnet"]  # MNIST MLPs
EXPECT["deep_mlp"] = EXPECT["deep_belief_net"] = EXPECT["mnist_convnet"]
EXPECT["capsnet"] = EXPECT["mnist_convnet"]  # digit capsules: MNIST's images and labels
# R-CNN's CNN: warped 28 × 28 windows, 10 digit classes and background (class 10).
EXPECT["rcnn"] = {**EXPECT["mnist_convnet"], "y": CLASS_IDS.replace("10", "11"),
                  "high": (11, r"class ids in 0\.\.10"), "low": (-1, r"class ids in 0\.\.10"),
                  # (N, 10) rows are not its one-hot (N, 11): a shape error.
                  "one_hot": (ValueError, r"one-hot of shape \(N, 11\), got shape")}


def test_every_milestone_has_expectations():
    assert set(EXPECT) == set(FACTORIES) <= set(CASES)


def with_value(a, index, value, dtype="float32"):
    a = np.array(a, dtype=dtype)
    a.flat[index] = value
    return a


def targets_for(x, y):
    """`y`, or (gradient descent has none) zeros with one entry per sample of `x`."""
    return np.zeros((len(x), 1), "float32") if y is None else np.asarray(y)


def ragged(x):
    rows = [np.ravel(row).tolist() for row in np.asarray(x)]
    rows[0] = rows[0][:-1]
    return rows


def bad_one_hot(x, y):
    y = np.zeros((len(x), 10), "float32")
    y[:, 0] = 1.0
    y[0, 1] = 1.0  # two ones in the first row
    return x, y


NUMBERS = r"must hold numbers \(int or float\), got dtype"
NON_FINITE = r"contains NaN or infinity \(first at index"
SAME_LENGTH = r"same number of samples, got \d+ and \d+"
# case -> (make the bad (x, y) from valid ones, error, message regex or EXPECT key)
BAD_DATA = {
    "x extra axes": (lambda x, y: (x[..., None, None], y), ValueError, "x"),
    "x scalar": (lambda x, y: (np.float32(1.0), y), ValueError,
                 r"shape \(.*\).*got (a scalar of )?shape \(\)"),
    "x too wide": (lambda x, y: (np.concatenate([x, x[:, :1]], axis=1), y), ValueError, "x"),
    "y extra column": (lambda x, y: (x, np.stack([np.ravel(targets_for(x, y))] * 2, axis=1)),
                       ValueError, "y"),
    "y extra axes": (lambda x, y: (x, targets_for(x, y)[..., None, None]), ValueError, "y"),
    "y one-hot, bad rows": (bad_one_hot, ValueError, "y"),
    "x strings": (lambda x, y: (x.astype(str), y), TypeError, NUMBERS),
    "y strings": (lambda x, y: (x, targets_for(x, y).astype(str)), TypeError, NUMBERS),
    "x objects": (lambda x, y: (np.array([{"a": 1}] * len(x), dtype=object), y), TypeError,
                  NUMBERS),
    "x booleans": (lambda x, y: (x > 0, y), TypeError, NUMBERS),
    "x complex": (lambda x, y: (x + 1j, y), TypeError, NUMBERS),
    "x ragged list": (lambda x, y: (ragged(x), y), ValueError, "must be a rectangular array"),
    "empty": (lambda x, y: (x[:0], None if y is None else y[:0]), ValueError,
              r"`x` is empty \(shape \(0"),
    "lengths differ": (lambda x, y: (x, targets_for(x, y)[:-1]), ValueError, SAME_LENGTH),
    "x NaN": (lambda x, y: (with_value(x, 0, np.nan), y), ValueError, NON_FINITE),
    "x +inf": (lambda x, y: (with_value(x, -1, np.inf), y), ValueError, NON_FINITE),
    "y NaN": (lambda x, y: (x, with_value(targets_for(x, y), 0, np.nan)), ValueError,
              NON_FINITE),
    "y -inf": (lambda x, y: (x, with_value(targets_for(x, y), -1, -np.inf)), ValueError,
               NON_FINITE),
    "y missing": (lambda x, y: (x, None), ValueError, r"learns from targets: pass `y`"),
    "y above range": (None, ValueError, "high"),
    "y below range": (None, ValueError, "low"),
    "y fractional": (None, ValueError, "fraction"),
}
LABEL_KEYS = ("high", "low", "fraction")


LABELLED_CASES = {case for case in BAD_DATA if case.startswith("y ")} | {"lengths differ"}


def expectation(name: str, case: str):
    """(transform, error, regex) for `name` under `case`, or None where it is accepted."""
    transform, error, key = BAD_DATA[case]
    expect = EXPECT[name]
    if "labels" in expect and case in LABELLED_CASES:
        if case == "y missing":
            return None  # what it learns from: images alone
        labelled = transform or (lambda x, y: (x, np.full((len(x), 1), 0.5, "float32")))
        return (labelled, *expect["labels"])
    if case == "y one-hot, bad rows" and "one_hot" in expect:
        return (transform, *expect["one_hot"])
    if key in LABEL_KEYS:
        if expect[key] is None:
            return None
        value, pattern = expect[key]
        return (lambda x, y: (x, np.full(np.shape(y), value, "float32")), error, pattern)
    if key in ("x", "y"):
        if expect[key] is None:
            return None
        return transform, error, rf"{expect[key]}.*got shape \("
    if name == "gradient_descent" and case == "y missing":
        return None  # its data only counts steps
    return transform, error, key


def built(name: str):
    """The case's model, built for its data (so the expected width is known)."""
    options, load, fit_options = CASES[name]
    x, y = load()
    overrides = {}
    if "input_dim" in inspect.signature(FACTORIES[name]).parameters:
        overrides["input_dim"] = int(np.shape(x)[1])
    model, x, y, fit_options = make(name, fit=False, **overrides)
    return model, np.asarray(x), (None if y is None else np.asarray(y)), fit_options


def state(model) -> list[np.ndarray]:
    """Weights, rule state and the optimizer's step count."""
    return [numpy(v.value).copy() for v in model.weights] + [numpy(model.optimizer.iterations)]


def assert_untouched(model, before, was_built):
    assert model.built == was_built
    after = state(model)
    assert len(after) == len(before)
    for a, b in zip(after, before):
        np.testing.assert_array_equal(a, b)


def refuse(model, x, y, error, pattern, **fit_options):
    before, was_built = state(model), model.built
    with pytest.raises(error, match=pattern):
        model.fit(x, y, epochs=1, verbose=0, **fit_options)
    assert_untouched(model, before, was_built)


@pytest.mark.parametrize("name", NAMES)
def test_bad_data_is_refused_before_training(name, subtests):
    model, x, y, fit_options = built(name)
    for case in BAD_DATA:
        with subtests.test(case=case):
            expected = expectation(name, case)
            if expected is None:  # accepted by design: it trains
                transform = BAD_DATA[case][0]
                if transform is not None:
                    model.fit(*transform(x, y), epochs=1, verbose=0, **fit_options)
                continue
            transform, error, pattern = expected
            refuse(model, *transform(x, y), error, pattern)


# The refusal comes before any backend work: each milestone on one backend (cases.turn_of).
@pytest.mark.parametrize("name", in_turn(NAMES))
def test_a_lazily_built_model_stays_unbuilt_after_refusing(name):
    model, x, y, fit_options = make(name, fit=False)
    refuse(model, with_value(x, 0, np.nan), y, ValueError, NON_FINITE)
    if not model.built:
        model.fit(x, y, epochs=1, verbose=0, **fit_options)  # good data still trains
        assert model.built


@pytest.mark.parametrize("name", NAMES)
def test_predict_evaluate_and_validation_data_are_checked_too(name):
    model, x, y, fit_options = built(name)
    before = state(model)
    for bad in (with_value(x, 0, np.nan), x.astype(str), x[:0]):
        with pytest.raises((TypeError, ValueError), match=f"{NON_FINITE}|{NUMBERS}|is empty"):
            model.predict(bad, verbose=0)
    if "labels" in EXPECT[name]:  # no labels: the images themselves are the data checked
        with pytest.raises(ValueError, match=NON_FINITE):
            model.evaluate(with_value(x, 0, np.nan), verbose=0)
        with pytest.raises(ValueError, match=NON_FINITE):
            model.fit(x, validation_data=with_value(x, 0, np.nan), verbose=0, **fit_options)
    else:
        bad_y = with_value(targets_for(x, y), 0, np.nan)
        with pytest.raises(ValueError, match=NON_FINITE):
            model.evaluate(x, bad_y, verbose=0)
        with pytest.raises(ValueError, match=NON_FINITE):
            model.fit(x, y, validation_data=(x, bad_y), verbose=0, **fit_options)
    assert_untouched(model, before, True)


# Trained by backpropagation on a weighted loss (`ImageClassifier`), not a historical rule.
BACKPROP = {"mnist_convnet", "deep_mlp", "alexnet", "vgg16", "resnet50", "resnet", "vgg_like",
            "tutorial_net", "dropout_mlp", "batch_norm_mlp", "deep_belief_net", "capsnet",
            "rcnn"}


def test_rule_models_refuse_sample_and_class_weights():
    for name in NAMES:
        if name in BACKPROP:  # trained by backprop: Keras's weighting applies
            continue
        model, x, y, _ = built(name)
        for option in ("sample_weight", "class_weight"):
            value = np.ones(len(x)) if option == "sample_weight" else {0: 1.0}
            refuse(model, x, y, ValueError, f"`{option}` is not part of the historical rule",
                   **{option: value})


# --- Options ------------------------------------------------------------------

NAN, INF = math.nan, math.inf
# (option, bad value, extra options, error, regex): every factory with that option.
BAD_OPTIONS = [
    ("learning_rate", -1.0, {}, ValueError, "`learning_rate` must be a positive"),
    ("learning_rate", 0, {}, ValueError, "`learning_rate` must be a positive"),
    ("learning_rate", NAN, {}, ValueError, "`learning_rate` must be a positive"),
    ("learning_rate", INF, {}, ValueError, "`learning_rate` must be a positive"),
    ("learning_rate", "fast", {}, ValueError, "`learning_rate` must be a positive"),
    ("units", 0, {}, ValueError, "`units` must be an integer >= 1"),
    ("units", 1.5, {}, ValueError, "`units` must be an integer >= 1"),
    ("hidden_units", 0, {}, ValueError, "`hidden_units` must be an integer >= 1"),
    ("steps_per_batch", 0, {}, ValueError, "`steps_per_batch` must be an integer >= 1"),
    ("steps_per_batch", 2.5, {}, ValueError, "`steps_per_batch` must be an integer >= 1"),
    ("input_dim", 0, {}, ValueError, "`input_dim` must be a positive integer"),
    ("input_dim", -3, {}, ValueError, "`input_dim` must be a positive integer"),
    ("input_dim", 2.5, {}, ValueError, "`input_dim` must be a positive integer"),
    ("seed", "abc", {}, ValueError, "`seed` must be an integer or None"),
    ("classes", 1, {}, ValueError, "`classes` must be an integer >= 2"),
    ("include_top", "yes", {}, ValueError, "`include_top` must be True or False"),
    ("dropout_rate", 1.0, {}, ValueError, r"`dropout_rate` must be in \[0, 1\)"),
    ("dropout_rate", -0.1, {}, ValueError, r"`dropout_rate` must be in \[0, 1\)"),
    ("dropout_rate", "x", {}, ValueError, r"`dropout_rate` must be in \[0, 1\)"),
    ("conv_dropout_rate", 1.0, {}, ValueError, r"`conv_dropout_rate` must be in \[0, 1\)"),
    ("decay", -1e-6, {}, ValueError, "`decay` must be a finite number >= 0"),
    ("decay", 1e-6, {"learning_rate": keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5)},
     ValueError, "`decay` must be 0 when `learning_rate` is a schedule"),
    ("input_shape", (28, 28), {}, ValueError, r"`input_shape` must be \(height, width, channels\)"),
    ("input_shape", (0, 28, 1), {}, ValueError, r"`input_shape` must be \(height, width"),
    ("start", NAN, {}, ValueError, "`start` must be a finite number"),
    ("start", "a", {}, ValueError, "`start` must be a finite number"),
    ("coefficients", [], {}, ValueError, "`coefficients` must be a non-empty sequence"),
    ("coefficients", [1.0, INF], {}, ValueError, "`coefficients` must be a non-empty sequence"),
    ("coefficients", "abc", {}, ValueError, "`coefficients` must be a non-empty sequence"),
    ("weights", "snippet", {"hidden_units": 8}, ValueError,
     'weights="snippet" is the 3-4-1 net.*hidden_units=4'),
    ("weights", "missing.weights.h5", {}, FileNotFoundError, "missing.weights.h5"),
    ("name", "a/b", {}, ValueError, "`name` must be a string and cannot contain"),
    ("width", 0, {}, ValueError, r"`width` must be in \(0, 1\]"),
    ("width", 1.5, {}, ValueError, r"`width` must be in \(0, 1\]"),
    ("pooling", "mean", {}, ValueError, '`pooling` must be None, "avg" or "max"'),
    ("classifier_activation", "relu", {}, ValueError,
     '`classifier_activation` must be "softmax", or None'),
    ("weight_decay", -1e-4, {}, ValueError, "`weight_decay` must be a finite number >= 0"),
    ("weight_decay", NAN, {}, ValueError, "`weight_decay` must be a finite number >= 0"),
    ("groups", 3, {}, ValueError, r"`groups` must be 1 \(one tower\) or 2"),
    ("depth", 21, {}, ValueError, r"`depth` must be 6n \+ 2"),
    ("augment", "flip", {}, ValueError, '`augment` must be None, "pad_crop" or "pad_crop_flip"'),
    ("weights", 3, {}, ValueError, "`weights` must be None .* or the path of a local weights"),
    ("weights", "no_such_set", {}, ValueError, r"has no weight set 'no_such_set'"),
    ("noise_dim", 0, {}, ValueError, "`noise_dim` must be an integer >= 1"),
    ("noise", "normal", {}, ValueError, "`noise` must be 'uniform' or 'gaussian'"),
    ("objective", "wasserstein", {}, ValueError,
     "`objective` must be 'non_saturating' or 'minimax'"),
    ("schedule", "k=5", {}, ValueError, "`schedule` must be 'simultaneous' or 'alternating'"),
    ("generator_units", (), {}, ValueError, "`generator_units` must be a tuple of positive"),
    ("discriminator_units", (240, 0), {}, ValueError,
     "`discriminator_units` must be a tuple of positive"),
    ("pieces", 0, {}, ValueError, "`pieces` must be an integer >= 1"),
    ("initial_momentum", 1.0, {}, ValueError, r"`initial_momentum` must be in \(0, 1\)"),
    ("final_momentum", -0.1, {}, ValueError, r"`final_momentum` must be in \[0, 1\)"),
    ("steps_per_epoch", 0, {}, ValueError, "`steps_per_epoch` must be an integer >= 1"),
    ("output_bias_from", np.full((4, 28, 28), 255.0), {}, ValueError,
     r"`output_bias_from` must hold pixel values in \[0, 1\]"),
    ("routings", 0, {}, ValueError, "`routings` must be an integer >= 1"),
    ("conv_filters", 0, {}, ValueError, "`conv_filters` must be an integer >= 1"),
    ("primary_channels", 1.5, {}, ValueError, "`primary_channels` must be an integer >= 1"),
    ("shift", -1, {}, ValueError, "`shift` must be an integer >= 0"),
    ("reconstruction", "yes", {}, ValueError, "`reconstruction` must be True or False"),
    ("context", -1, {}, ValueError, "`context` must be an integer >= 0"),
]


# Factories whose options of a shared name mean something else: their own rows instead.
OWN_BAD_OPTIONS = {
    "deep_mlp": [  # depth and width count layers and units
        ("depth", 0, {}, ValueError, "`depth` must be an integer >= 1"),
        ("width", 1.5, {}, ValueError, "`width` must be an integer >= 1"),
        ("activation", "elu", {}, ValueError, "`activation` must be one of 'tanh'"),
        ("initializer", "xavier", {}, ValueError, "`initializer` must be one of 'standard'"),
    ],
    "deep_belief_net": [  # one size per hidden layer
        ("hidden_units", 0, {}, ValueError, "`hidden_units` must be a non-empty tuple"),
        ("hidden_units", (500, 0), {}, ValueError, "`hidden_units` must be a non-empty tuple"),
        ("top_layer_epochs", -1, {}, ValueError, "`top_layer_epochs` must be an integer >= 0"),
    ],
}


def bad_options(name):
    options = inspect.signature(FACTORIES[name]).parameters
    own = OWN_BAD_OPTIONS.get(name, [])
    return own + [row for row in BAD_OPTIONS if row[0] in options and set(row[2]) <= set(options)
                  # "snippet" is backprop_mlp's own starting weights; elsewhere an unknown name
                  and (row[:2] != ("weights", "snippet") or name == "backprop_mlp")
                  and row[0] not in {option for option, *_ in own}]


@pytest.mark.parametrize("name", NAMES)
def test_invalid_option_values_name_the_valid_range(name, subtests):
    for option, value, extra, error, pattern in bad_options(name):
        with subtests.test(option=option, value=value):
            with pytest.raises(error, match=pattern):
                FACTORIES[name](**{option: value, **extra})


def test_unknown_options_list_every_valid_one(subtests):
    for name in NAMES:
        with subtests.test(name=name):
            valid = ", ".join(inspect.signature(FACTORIES[name]).parameters)
            with pytest.raises(TypeError, match=re.escape(
                    f"unknown option(s) colour, lerning_rate; expected any of: {valid}.")):
                FACTORIES[name](lerning_rate=0.1, colour="blue")


def test_every_option_in_the_table_exists_somewhere():
    options = {p for f in FACTORIES.values() for p in inspect.signature(f).parameters}
    assert {row[0] for row in BAD_OPTIONS} <= options


# --- Divergence ----------------------------------------------------------------


class EpochStates(keras.callbacks.Callback):
    """The state at each epoch's end, as the guard (which runs after it) first sees it."""

    def on_train_begin(self, logs=None):
        self.states = [state(self.model)]

    def on_epoch_end(self, epoch, logs=None):
        self.states.append(state(self.model))


def assert_rolled_back_to(model, expected):
    for ours, theirs in zip(state(model), expected, strict=True):
        np.testing.assert_array_equal(ours, theirs)
    assert all(np.all(np.isfinite(numpy(v))) for v in model.optimizer.variables)


def test_gradient_descent_running_off_to_infinity_is_stopped_and_rolled_back():
    model, recorder = models.gradient_descent(learning_rate=1.0), EpochStates()
    # The loss logged is f where the walk stands: -inf as soon as x runs off.
    with pytest.raises(DivergenceError, match=r"gradient_descent diverged in epoch 4: the loss "
                       r"became -inf\..*put back as they were before epoch 4.*learning rate 1 "
                       "is too large"):
        model.fit(np.zeros((1, 1)), epochs=20, verbose=0, callbacks=[recorder])
    assert len(recorder.states) == 5  # the start and four epochs, the last one diverged
    assert_rolled_back_to(model, recorder.states[3])  # after the three finite epochs
    assert int(numpy(model.optimizer.iterations)) == 3


@pytest.mark.parametrize("steps_per_batch", [1, 50])  # 50: a compiled loop of rule steps
def test_linear_regression_with_learning_rate_10_is_stopped_and_rolled_back(steps_per_batch):
    x, y = datasets.wheat_and_bread()
    model = models.linear_regression(learning_rate=10.0, steps_per_batch=steps_per_batch)
    recorder = EpochStates()
    with pytest.raises(DivergenceError, match=r"diverged in epoch (\d+): the loss became "
                       r"(inf|nan).*learning rate 10 ") as info:
        model.fit(x, y, epochs=300, verbose=0, callbacks=[recorder])
    epoch = int(re.search(r"epoch (\d+)", str(info.value)).group(1))
    assert epoch == len(recorder.states) - 1
    assert_rolled_back_to(model, recorder.states[epoch - 1])
    assert int(numpy(model.optimizer.iterations)) == (epoch - 1) * steps_per_batch


def test_weights_that_overflow_in_the_last_step_are_caught_too():
    # The loss (1e38) is measured before the update; the update itself overflows.
    model = models.linear_regression(learning_rate=10.0)
    with pytest.raises(DivergenceError, match=r"its weights became NaN or infinite "
                       r"\(linear_regression/kernel"):
        model.fit(np.array([[1e19]]), np.array([[0.0]]), epochs=1, verbose=0)
    np.testing.assert_array_equal(numpy(model.kernel), [[1.0]])  # the initial weights
    assert int(numpy(model.optimizer.iterations)) == 0


class NaNBatches(keras.utils.PyDataset):
    """One batch with a NaN in it, served lazily: the up-front checks cannot see it."""

    def __init__(self, x, y, whole_sample=False):
        super().__init__()
        self.x, self.y = with_value(x, 0, np.nan), y
        if whole_sample:  # input dropout (the GAN's discriminator) may drop a single NaN
            self.x[0] = np.nan

    def __len__(self):
        return 1

    def __getitem__(self, index):
        return self.x if self.y is None else (self.x, self.y)  # (x, None) upsets tf.data


# Each milestone on one backend, in turn (`cases.in_turn`: the time budget); gradient
# descent's data only counts steps: NaN there is harmless.
@pytest.mark.parametrize("name", in_turn(n for n in NAMES if n != "gradient_descent"))
def test_nan_from_a_dataset_stops_every_train_step_with_the_model_untouched(name):
    model, x, y, _ = built(name)
    x, y = model.check_data(x, y)  # the arrays `fit` would train on
    before = state(model)
    # The loss may stay finite (max-pooling drops a NaN) while the gradients do not.
    with pytest.raises(DivergenceError, match=f"{name} diverged in epoch 1: (the loss "
                       "became nan|its weights became NaN).*data holds NaN"):
        model.fit(NaNBatches(x, y, whole_sample=name == "gan"), epochs=2, verbose=0)
    assert_untouched(model, before, True)
    # Optimizer state (Adam's moments) was restored too: clean data trains on at once.
    model.fit(x, y, batch_size=len(x), epochs=1, verbose=0)
    assert all(np.all(np.isfinite(w)) for w in state(model))
    assert int(numpy(model.optimizer.iterations)) > 0


# --- Files ------------------------------------------------------------------------

UNSAFE = {"Lambda", "__lambda__", "function", "TFOpLambda"}


def class_names(config):
    if isinstance(config, dict):
        if "class_name" in config:
            yield config["class_name"]
        for value in config.values():
            yield from class_names(value)
    elif isinstance(config, list):
        for value in config:
            yield from class_names(value)


# A fresh model's optimizer is built by `compile_from_config`: Keras notes it skips
# the saved (unbuilt) optimizer's variables, which hold nothing yet.
# A model file's config is the same from every backend: each milestone on one (turn_of).
@pytest.mark.filterwarnings("ignore:Skipping variable loading for optimizer")
@pytest.mark.parametrize("name", in_turn(NAMES))
def test_every_model_loads_in_safe_mode_and_holds_no_code(name, tmp_path):
    model, _, _, _ = built(name)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == ["config.json", "metadata.json",
                                              "model.weights.h5"]
        config = json.loads(archive.read("config.json"))
    assert not UNSAFE & set(class_names(config))
    loaded = keras.models.load_model(path, safe_mode=True)
    assert type(loaded) is type(model)
    for ours, theirs in zip(state(model), state(loaded), strict=True):
        np.testing.assert_array_equal(ours, theirs)


def rewrite(source, target, edit):
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for item in old.infolist():
            new.writestr(item, edit(item.filename, old.read(item.filename)))


def edit_config(change):
    def edit(filename, data):
        if filename != "config.json":
            return data
        config = json.loads(data)
        change(config)
        return json.dumps(config).encode()
    return edit


def flip_a_weight_byte(path, target):
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        item = archive.getinfo("model.weights.h5")
    name_length, extra_length = np.frombuffer(data[item.header_offset + 26:][:4], "<u2")
    start = item.header_offset + 30 + int(name_length) + int(extra_length)
    data[start + item.compress_size // 2] ^= 0xFF
    target.write_bytes(bytes(data))


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("files")
    keras.utils.set_random_seed(0)
    model, _, _, _ = make("perceptron")
    good = folder / "good.keras"
    model.save(good)
    data = good.read_bytes()
    (folder / "empty.keras").write_bytes(b"")
    (folder / "truncated-tail.keras").write_bytes(data[:-200])
    (folder / "truncated-half.keras").write_bytes(data[: len(data) // 2])
    flip_a_weight_byte(good, folder / "bit-flip.keras")
    rewrite(good, folder / "config-not-json.keras",
            lambda f, d: d[: len(d) // 2] if f == "config.json" else d)
    # A config that asks for os.system: refused, and nothing runs.
    rewrite(good, folder / "config-calls-os-system.keras", edit_config(lambda c: c.update(
        class_name="system", module="os", registered_name=None,
        config={"command": f"echo pwned > {folder / 'pwned'}"})))
    rewrite(good, folder / "weights-other-shape.keras",
            edit_config(lambda c: c["config"].update(units=2)))
    # A stranger's model with Python code in it: a Lambda layer's pickled bytecode.
    strange = keras.Sequential([keras.Input((2,)), keras.layers.Lambda(lambda t: t * 2)])
    strange.save(folder / "lambda-code.keras")
    return folder


BAD_FILES = {
    "empty.keras": "not a .keras model file",
    "truncated-tail.keras": "not a .keras model file|truncated|corrupted",
    "truncated-half.keras": "not a .keras model file|truncated|corrupted",
    "bit-flip.keras": "corrupted or truncated",
    "config-not-json.keras": "Could not load the model",
    "config-calls-os-system.keras": "Could not load the model.*Could not locate class 'system'",
    "weights-other-shape.keras": "Could not load the model.*shape",
    "lambda-code.keras": "Could not load the model.*Lambda.*safe_mode=False",
}


def test_tampered_or_truncated_files_fail_clearly_and_change_nothing(bad_files, subtests):
    def snapshot():
        return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in bad_files.iterdir()}

    for filename, what in BAD_FILES.items():
        with subtests.test(file=filename):
            before = snapshot()
            path = bad_files / filename
            with pytest.raises(ValueError, match=f"(?s)({what})") as info:
                keras_history.load_model(path)
            assert str(path) in str(info.value)  # the message names the file
            with pytest.raises(Exception):  # noqa: B017 - Keras's own types vary by damage
                keras.models.load_model(path, safe_mode=True)
            assert snapshot() == before  # bytes, mtimes, and no new or removed files
    assert type(keras_history.load_model(bad_files / "good.keras")) is models.Perceptron
