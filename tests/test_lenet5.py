"""LeNet-5 (`lenet5`): the paper's layers, counts, output, curvature and rule."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from cases import numpy

from keras_history import backend, datasets, models
from keras_history.layers import RBFOutput, Squashing, Subsampling2D
from keras_history.models.convolutional.lenet5 import (
    C3_CONNECTIONS,
    DIGIT_BITMAPS,
    digit_prototypes,
    paper_eta,
    second_derivatives,
)


@pytest.fixture(scope="module")
def model():
    return models.lenet5(seed=0)


def layer(model, name):
    return next(stage for stage in model.stages if stage.name == name)


def test_trainable_parameters_are_the_papers_layer_by_layer(model):
    counts = {name: layer(model, name).count_params() for name in ("c1", "s2", "c3", "s4", "c5",
                                                                   "f6")}
    assert counts == {"c1": 156, "s2": 12, "c3": 1516, "s4": 32, "c5": 48120, "f6": 10164}
    assert sum(int(np.prod(v.shape)) for v in model.trainable_variables) == 60000
    assert model.rbf.count_params() == 0  # the prototypes are fixed, not trained


def test_c3_reads_only_the_s2_maps_of_table_1(model):
    c3 = layer(model, "c3")
    assert c3.kernel.shape == (5, 5, 60)  # 60 real kernels, not a masked 6 × 16
    full = numpy(c3.full_kernel())
    connected = np.abs(full).sum(axis=(0, 1)) > 0  # (6 S2 maps, 16 C3 maps)
    table = np.zeros((6, 16), bool)
    for m, maps in enumerate(C3_CONNECTIONS):
        table[list(maps), m] = True
    np.testing.assert_array_equal(connected, table)
    assert table.sum(axis=0).tolist() == [3] * 6 + [4] * 9 + [6]


def test_stage_shapes_and_input_mapping(model):
    shapes, x = {}, model.mapped(np.ones((2, 28, 28, 1), "float32"))
    assert x.shape == (2, 32, 32, 1)
    values = numpy(x)
    np.testing.assert_allclose(values[0, 0, 0, 0], -0.1, atol=1e-6)  # the padding: background
    np.testing.assert_allclose(values[0, 16, 16, 0], 1.175, atol=1e-6)  # ink
    for stage in model.stages[1:]:
        x = stage(x)
        shapes[stage.name] = tuple(x.shape[1:])
    assert shapes["c1"] == (28, 28, 6) and shapes["s2"] == (14, 14, 6)
    assert shapes["c3"] == (10, 10, 16) and shapes["s4"] == (5, 5, 16)
    assert shapes["c5"] == (1, 1, 120) and shapes["f6_squash"] == (84,)
    assert model.predict(np.zeros((3, 28, 28), "uint8"), verbose=0).shape == (3, 10)


def test_squashing_and_subsampling_by_hand():
    f = numpy(Squashing()(np.array([-1.0, 0.0, 1.0, 50.0], "float32")))
    np.testing.assert_allclose(f, [-1.0, 0.0, 1.0, 1.7159], atol=1e-4)  # f(±1) = ±1
    sub = Subsampling2D(2)
    x = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
    sub.build(x.shape)
    sub.coefficient.assign([0.5])
    sub.bias.assign([1.0])
    expected = 0.5 * np.array([[0 + 1 + 4 + 5, 2 + 3 + 6 + 7],
                               [8 + 9 + 12 + 13, 10 + 11 + 14 + 15]])
    np.testing.assert_allclose(numpy(sub(x))[0, :, :, 0], expected + 1.0)


def test_rbf_outputs_are_squared_distances_to_the_digit_bitmaps(model):
    prototypes = digit_prototypes()
    assert prototypes.shape == (10, 84) and set(np.unique(prototypes)) == {-1.0, 1.0}
    assert all(len(b.split("|")) == 12 and {len(r) for r in b.split("|")} == {7}
               for b in DIGIT_BITMAPS)
    assert len({p.tobytes() for p in prototypes}) == 10
    z = np.random.default_rng(0).uniform(-1.7, 1.7, (5, 84)).astype("float32")
    expected = ((z[:, None, :] - prototypes[None]) ** 2).sum(-1)
    np.testing.assert_allclose(numpy(RBFOutput(prototypes)(z)), expected, rtol=1e-5)
    # The prototype of a digit is at distance 0 from itself: eq. 8's minimum.
    np.testing.assert_allclose(numpy(RBFOutput(prototypes)(prototypes)).diagonal(), 0, atol=1e-4)
    (x, _), _ = datasets.mnist.load_sample()
    distances = numpy(model.distances(x[:8, :, :, None]))
    probabilities = model.predict(x[:8], verbose=0)
    np.testing.assert_allclose(probabilities, numpy(keras.ops.softmax(-distances)), rtol=1e-5,
                               atol=1e-7)
    np.testing.assert_array_equal(probabilities.argmax(1), distances.argmin(1))


def test_losses_are_equations_8_and_9(model):
    distances = np.array([[3.0, 1.0, 7.0], [0.5, 4.0, 2.0]], "float32")
    y = np.array([2, 0])
    assert model.loss_name == "eq9"  # the default: the loss that reproduces the paper here
    eq8 = numpy(models.lenet5(loss="eq8", seed=0).pattern_losses(y, distances))
    np.testing.assert_allclose(eq8, [7.0, 0.5])
    eq9 = models.lenet5(loss="eq9", j=2.0, seed=0)
    expected = [d[t] + np.log(np.exp(-2.0) + np.exp(-d).sum()) for d, t in zip(distances, y)]
    np.testing.assert_allclose(numpy(eq9.pattern_losses(y, distances)), expected, rtol=1e-5)


def test_the_eta_schedule_is_the_papers():
    etas = [paper_eta(epoch) for epoch in range(20)]
    assert etas == [5e-4] * 2 + [2e-4] * 3 + [1e-4] * 3 + [5e-5] * 4 + [1e-5] * 8


def test_each_pass_takes_the_papers_eta_times_its_scale():
    model = models.lenet5(eta_scale=0.5, warmup_scale=0.1, compile=False)
    expected = [paper_eta(e) * (0.1 if e < 2 else 0.5) for e in range(20)]
    np.testing.assert_allclose([model.eta_for(e) for e in range(20)], expected)
    assert models.lenet5(eta_scale=0.5, warmup_scale=None, compile=False).eta_for(0) == 2.5e-4
    assert models.lenet5(eta=1e-3, eta_scale=0.5, compile=False).eta_for(7) == 5e-4
    # The compiled optimizer starts at pass 1's η, and the scales survive a config round trip.
    assert float(numpy(models.lenet5(warmup_scale=0.1).optimizer.learning_rate)) == \
        pytest.approx(5e-5)
    restored = type(model).from_config(model.get_config())
    assert (restored.eta_scale, restored.warmup_scale) == (0.5, 0.1)
    with pytest.raises(ValueError, match="warmup_scale"):
        models.lenet5(warmup_scale=0)


def tiny_net():
    """Dense 4 → 3 → 2 with squashing: no shared weights, no cross terms."""
    stages = [keras.layers.Dense(3), Squashing(), keras.layers.Dense(2), Squashing()]
    shape = (None, 4)
    rng = np.random.default_rng(3)
    for stage in stages:
        stage.build(shape)
        shape = stage.compute_output_shape(shape)
        for variable in stage.trainable_variables:
            variable.assign(rng.normal(0, 0.8, variable.shape).astype("float32"))
    variables = [v for stage in stages for v in stage.trainable_variables]
    return stages, variables


def test_second_derivatives_match_a_brute_force_second_derivative():
    # With no weight sharing and one hidden layer the paper's diagonal recursion drops
    # nothing: h_kk is the exact Gauss-Newton diagonal, i.e. the second derivative of
    # E(w) = mean_p |z_p(w) − z_p(w0)|² at w0, whose residual is zero.
    stages, variables = tiny_net()
    x = np.random.default_rng(4).normal(0, 1, (5, 4)).astype("float32")

    def outputs():
        z = x
        for stage in stages:
            z = stage(z)
        return numpy(z)

    h = [numpy(v) for v in second_derivatives(stages, x, variables)]
    start, step = outputs().astype("float64"), 1e-2  # float32 nets: a step of 1e-2
    for variable, h_variable in zip(variables, h):
        original = numpy(variable)
        brute = np.zeros_like(original)
        for index in np.ndindex(original.shape):
            energies = []
            for sign in (1, -1):
                moved = original.copy()
                moved[index] += sign * step
                variable.assign(moved)
                moved_outputs = outputs().astype("float64")
                energies.append(np.mean(np.sum((moved_outputs - start) ** 2, axis=1)))
            variable.assign(original)
            brute[index] = sum(energies) / step**2  # (E(+s) − 2E(0) + E(−s)) / s², E(0) = 0
        np.testing.assert_allclose(h_variable, brute, rtol=2e-3, err_msg=variable.path)


def test_curvature_of_lenet5_is_positive_and_per_parameter(model):
    (x, _), _ = datasets.mnist.load_sample()
    model.estimate_curvature(x[:20, :, :, None] / np.float32(255))
    h = [numpy(v) for v in model.curvature]
    assert [v.shape for v in h] == [tuple(v.shape) for v in model.trainable_variables]
    assert all(np.all(np.isfinite(v)) and np.all(v >= 0) and v.max() > 0 for v in h)
    # F6's bias sees ∂²E/∂z² = 2 times f'(a)² ≈ (1.7159·2/3)² at its near-zero start.
    np.testing.assert_allclose(h[-1], 2 * (1.7159 * 2 / 3) ** 2, rtol=0.05)


def test_one_sdlm_step_by_hand():
    model = models.lenet5(seed=2)
    (x, y), _ = datasets.mnist.load_sample()
    x1, y1 = x[:1, :, :, None] / np.float32(255), y[:1]
    rng = np.random.default_rng(5)
    for h in model.curvature:
        h.assign(rng.uniform(0.0, 2.0, h.shape))
    eta = 1e-3
    model.optimizer.learning_rate.assign(eta)
    before = [numpy(v) for v in model.trainable_variables]
    _, _, grads = backend.value_and_grad(
        lambda: (keras.ops.sum(model.pattern_losses(y1, model.distances(x1))), None),
        model.trainable_variables)
    expected = [w - eta / (0.02 + numpy(h)) * numpy(g)
                for w, h, g in zip(before, model.curvature, grads)]
    model.train_on_batch(x1, y1)
    for variable, want in zip(model.trainable_variables, expected):
        np.testing.assert_allclose(numpy(variable), want, rtol=1e-4, atol=1e-6,
                                   err_msg=variable.path)
    assert int(numpy(model.optimizer.iterations)) == 1


def test_any_batch_size_is_walked_as_updates_of_patterns_per_update():
    # Keras's default batch of 32 trains exactly as batches of 8 do: the same updates in
    # the same order (35 digits: 32 + 3, or 4 × 8 + 3).
    (x, y), _ = datasets.mnist.load_sample()
    x, y = x[:35], y[:35]
    trained = []
    for batch_size in (8, None):
        model = models.lenet5(seed=0, patterns_per_update=8)
        model.fit(x, y, batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
        assert int(numpy(model.optimizer.iterations)) == 5
        trained.append([numpy(v) for v in model.trainable_variables])
    for small, default in zip(*trained):
        np.testing.assert_allclose(default, small, rtol=1e-4, atol=1e-5)


def test_a_modern_optimizer_trains_it_instead_of_the_rule():
    (x, y), _ = datasets.mnist.load_sample()
    model = models.lenet5(seed=0, optimizer=keras.optimizers.SGD(1e-3))
    assert model.rule == "optimizer"
    before = model.evaluate(x[:256], y[:256], verbose=0, return_dict=True)["loss"]
    model.fit(x[:256], y[:256], batch_size=32, epochs=1, verbose=0)
    after = model.evaluate(x[:256], y[:256], verbose=0, return_dict=True)["loss"]
    assert after < before and int(numpy(model.optimizer.iterations)) == 8
    assert all(not np.any(numpy(h)) for h in model.curvature)  # SDLM's state unused
