"""The 2014 GAN, its rule (AdversaryCost2), its schedules, Maxout and Parzen."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest
from cases import numpy

from keras_history import backend, metrics, models
from keras_history.datasets import mnist
from keras_history.layers import Maxout
from keras_history.models.generative.gan import FlooredExponentialDecay

SMALL = dict(generator_units=(32,), discriminator_units=(16,), pieces=2, seed=3)


@pytest.fixture(scope="module")
def images():
    (x, _), _ = mnist.load_sample()
    return x[:32]  # uint8


def test_maxout_is_the_max_over_each_units_pieces():
    layer = Maxout(3, 4, kernel_initializer="random_normal", bias_initializer="random_normal")
    x = np.random.default_rng(0).normal(size=(5, 6)).astype("float32")
    out = numpy(layer(x))
    z = x @ numpy(layer.kernel) + numpy(layer.bias)  # columns j·pieces .. j·pieces + 3: unit j
    expected = np.stack([z[:, 4 * j:4 * j + 4].max(axis=1) for j in range(3)], axis=1)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
    again = Maxout.from_config(layer.get_config())
    assert (again.units, again.pieces) == (3, 4)
    with pytest.raises(ValueError, match="`pieces` must be an integer >= 1"):
        Maxout(3, 0)


def test_the_papers_nets_sizes_and_initial_weights(images):
    model = models.gan(output_bias_from=images, seed=0)
    g, d = model.generator, model.discriminator
    # G: 100·1200+1200, 1200·1200+1200, 1200·784+784; D: 784·1200+1200, 240·1200+1200, 240+1
    assert g.count_params() == 121_200 + 1_441_200 + 941_584
    assert d.count_params() == 942_000 + 289_200 + 241
    assert [type(layer).__name__ for layer in d.layers] == [
        "Flatten", "Dropout", "Maxout", "Dropout", "Maxout", "Dropout", "Dense", "Activation"]
    assert [layer.rate for layer in d.layers if isinstance(layer, keras.layers.Dropout)] == [
        0.2, 0.5, 0.5]  # keep 0.8 of the pixels, 0.5 of each hidden layer's inputs
    for net, limit in ((g, 0.05), (d, 0.005)):
        kernels = [numpy(w) for w in net.weights if "kernel" in w.path]
        assert all(np.abs(k).max() <= limit and np.abs(k).max() > 0.9 * limit for k in kernels)
    means = np.clip(images.reshape(len(images), -1).mean(axis=0) / 255, 1e-7, 1 - 1e-7)
    bias = numpy(g.get_layer("pixels").bias)
    np.testing.assert_allclose(1 / (1 + np.exp(-bias)), means, rtol=1e-4, atol=1e-6)
    # With those biases and small weights, the first samples sit near the data's mean image.
    samples = model.generate(8, seed=0)
    assert samples.shape == (8, 28, 28) and 0 <= samples.min() and samples.max() <= 1
    assert np.abs(samples.mean(axis=0) - means.reshape(28, 28)).max() < 0.1


def test_noise_is_uniform_on_plus_minus_root_3_or_gaussian():
    for noise, check in (("uniform", lambda z: np.abs(z).max() <= math.sqrt(3) < 1.05 *
                          np.abs(z).max()), ("gaussian", lambda z: np.abs(z).max() > 2.5)):
        model = models.gan(noise=noise, **SMALL)
        for z in (numpy(model.sample_noise(2000)), model.noise_for(2000, seed=1)):
            assert z.shape == (2000, 100) and check(z)
            assert abs(z.std() - 1) < 0.02  # both have unit variance


def snapshot(model):
    return [numpy(v.value) for v in model.variables], [numpy(v.value) for v in
                                                       model.optimizer.variables]


def restore(model, values):
    for v, value in zip(model.variables, values[0]):
        v.assign(value)
    for v, value in zip(model.optimizer.variables, values[1]):
        v.assign(value)


def test_one_step_is_adversary_cost2(images):
    # Both players' gradients from one forward pass (same noise, same dropout masks),
    # each for its own objective, applied together: checked against each objective
    # differentiated on its own, from the same random state, and (for D's output bias)
    # against the closed form ½(mean(σ(r) − 1) + mean(σ(f))).
    model = models.gan(**SMALL)
    x = images[:16] / np.float32(255)
    model.optimizer.build(model.trainable_variables)
    before = snapshot(model)
    model.fit(x, batch_size=16, epochs=1, shuffle=False, verbose=0)
    assert int(numpy(model.optimizer.iterations)) == 1  # one step for both players
    after = {v.path: numpy(v.value) for v in model.trainable_variables}
    restore(model, before)
    for player, net in (("d", model.discriminator), ("g", model.generator)):
        restore(model, before)  # same seeds: the same noise and masks as in `fit`

        def objective(player=player):
            (loss,), logits = model._play(keras.ops.convert_to_tensor(x), (player,))
            return loss, logits

        _, logits, grads = backend.value_and_grad(objective, net.trainable_variables,
                                                  model.non_trainable_variables)
        for variable, grad in zip(net.trainable_variables, grads):
            # First step: velocity 0, so w₁ = w₀ − 0.1·g (then momentum 0.5 joins in).
            np.testing.assert_allclose(after[variable.path], numpy(variable) - 0.1 * numpy(grad),
                                       rtol=1e-4, atol=1e-7, err_msg=variable.path)
        if player == "d":
            real, fake = (1 / (1 + np.exp(-numpy(t))) for t in logits)
            expected = 0.5 * ((real - 1).mean() + fake.mean())
            bias = model.discriminator.get_layer("logit").bias
            np.testing.assert_allclose(numpy(bias) - after[bias.path], 0.1 * expected,
                                       rtol=1e-3, atol=1e-8)


def test_objectives_and_schedules_by_argument(images):
    x = keras.ops.convert_to_tensor(images[:16] / np.float32(255))
    objectives = {}
    for objective in ("non_saturating", "minimax"):
        model = models.gan(objective=objective, **SMALL)
        objectives[objective] = float(numpy(model._play(x, ("g",))[0][0]))
    # D(G(z)) ≈ ½ at the start: −log D ≈ +0.69, log(1 − D) ≈ −0.69; G lowers either.
    assert objectives["non_saturating"] == pytest.approx(math.log(2), abs=0.01)
    assert objectives["minimax"] == pytest.approx(-math.log(2), abs=0.01)
    alternating = models.gan(schedule="alternating", **SMALL)
    logs = alternating.fit(images[:16], batch_size=16, epochs=1, verbose=0).history
    assert int(numpy(alternating.optimizer.iterations)) == 2  # D, then G, on one batch
    assert set(logs) == {"d_loss", "g_loss", "real_accuracy", "fake_accuracy"}


def test_learning_rate_decay_and_momentum_ramp_follow_pylearn2():
    model = models.gan(**SMALL)
    optimizer = model.optimizer
    schedule = FlooredExponentialDecay()
    for step in (0, 1, 1000, 500 * 300):
        assert float(numpy(schedule(step))) == pytest.approx(0.1 / 1.000004**step, rel=1e-5)
    assert float(numpy(schedule(10**7))) == pytest.approx(1e-6)  # the floor
    # MomentumAdjustor(start=1, saturate=250, final=.7), called before epoch 1 and after
    # each epoch: after e epochs of 500 steps its count is e + 1.
    for epochs, expected in ((0, 0.5), (1, 0.5 + 0.2 / 249), (2, 0.5 + 0.4 / 249),
                             (125.5, 0.5 + 0.2 * 125 / 249), (248, 0.5 + 0.2 * 248 / 249),
                             (249, 0.7), (400, 0.7)):
        optimizer.iterations.assign(int(epochs * 500))
        assert float(numpy(optimizer.current_momentum())) == pytest.approx(expected, rel=1e-6)


def test_generate_predict_and_the_discriminator_alone():
    model = models.gan(**SMALL)
    first, again, other = (model.generate(5, seed=s) for s in (1, 1, 2))
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)
    np.testing.assert_allclose(model.predict(model.noise_for(5, seed=1), verbose=0), first)
    probabilities = model.discriminator.predict(first, verbose=0)
    assert probabilities.shape == (5, 1) and np.all((probabilities > 0) & (probabilities < 1))
    with pytest.raises(ValueError, match=r"maps noise of shape \(N, 100\).*generate"):
        model.predict(first, verbose=0)
    with pytest.raises(ValueError, match="`count` must be an integer >= 1"):
        model.generate(0)


def test_pixels_must_be_unit_floats_or_grey_levels(images):
    model = models.gan(**SMALL)
    floats = images.astype("float32")
    with pytest.raises(ValueError, match=r"pixel values in \[0, 1\].*0\.\.255.*divide by 255"):
        model.fit(floats, verbose=0)
    with pytest.raises(ValueError, match=r"pixel values in \[0, 1\], found values in -1"):
        model.fit(floats / 255 * 2 - 1, verbose=0)
    with pytest.raises(ValueError, match="uses no labels"):
        model.fit(floats / 255, np.zeros(len(floats)), verbose=0)
    # uint8 grey levels are divided by 255: up front for arrays, in the step for datasets.
    np.testing.assert_array_equal(model.check_data(images, None)[0], images / np.float32(255))
    np.testing.assert_allclose(numpy(model._images(keras.ops.convert_to_tensor(images))),
                               images / np.float32(255), rtol=1e-7)


# --- The Parzen-window estimate ----------------------------------------------------


def brute_force(points, samples, sigma):
    """log mean_j N(x; μ_j, σ²I), one point and one sample at a time."""
    d = points.shape[1]
    out = []
    for x in points:
        terms = [-0.5 * np.sum((x - mu) ** 2) / sigma**2 for mu in samples]
        top = max(terms)
        out.append(top + math.log(sum(math.exp(t - top) for t in terms) / len(terms))
                   - d * math.log(sigma * math.sqrt(2 * math.pi)))
    return np.array(out)


def test_parzen_matches_brute_force_in_batches():
    rng = np.random.default_rng(0)
    samples, points = rng.random((23, 12)), rng.random((9, 12))
    expected = brute_force(points, samples, 0.3)
    for batch_size in (1, 4, 100):
        got = metrics.parzen_log_densities(points, samples, 0.3, batch_size=batch_size)
        np.testing.assert_allclose(got, expected, rtol=1e-6)  # images are float32
    # σ is the width that scores the validation points best; mean and std/√N on the test.
    valid = rng.random((7, 12))
    result = metrics.parzen_log_likelihood(samples, points, valid, batch_size=3)
    scores = {s: brute_force(valid, samples, s).mean() for s in metrics.SIGMAS}
    assert result.sigma == max(scores, key=scores.get)
    assert result.sigma_scores == pytest.approx(scores)
    best = brute_force(points, samples, result.sigma)
    assert result.mean == pytest.approx(best.mean())
    assert result.standard_error == pytest.approx(best.std() / 3)
    # Images and uint8 grey levels are flattened and scaled.
    grey = (samples[:, :4] * 255).round().astype("uint8").reshape(23, 2, 2)
    np.testing.assert_allclose(metrics.parzen_log_densities(grey / 255, grey, 0.5),
                               brute_force(grey.reshape(23, 4) / 255, grey.reshape(23, 4) / 255,
                                           0.5))


def test_parzen_refuses_bad_input():
    ok = np.full((3, 4), 0.5)
    with pytest.raises(ValueError, match="validation_images"):
        metrics.parzen_log_likelihood(ok, ok)
    with pytest.raises(ValueError, match="`sigma` must be a positive"):
        metrics.parzen_log_densities(ok, ok, 0.0)
    with pytest.raises(ValueError, match=r"`samples` must hold pixel values in \[0, 1\]"):
        metrics.parzen_log_densities(ok, ok * 255, 0.2)
    with pytest.raises(ValueError, match="same size per image"):
        metrics.parzen_log_densities(ok, np.full((3, 5), 0.5), 0.2)
    with pytest.raises(ValueError, match=r"`points` must be images"):
        metrics.parzen_log_densities(np.ones(4), ok, 0.2)
