"""Deep belief nets (Hinton, Osindero & Teh 2006; Hinton & Salakhutdinov 2006): the RBM's
CD-1 rule against a NumPy transcription of rbm.m, its free energy against brute force,
and the greedy pretraining and top-layer-first fine-tuning of `deep_belief_net`."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from keras import ops

from keras_history import datasets, models
from keras_history.layers import RBM


def _numpy(value) -> np.ndarray:
    return np.array(ops.convert_to_numpy(value), dtype="float64")


def _fixed_sampler(rbm: RBM, noise: np.ndarray) -> None:
    """Hidden states from fixed uniform draws, so that the step is deterministic."""
    rbm._sample = lambda p: ops.cast(p > ops.convert_to_tensor(noise, p.dtype), p.dtype)


def _sigmoid(a):
    return 1 / (1 + np.exp(-a))


def _rbm_m(data, vishid, visbiases, hidbiases, noise, epochs, epsilon=0.1, weightcost=2e-4):
    """rbm.m (Hinton & Salakhutdinov 2006), one batch per epoch, its `rand` replaced by `noise`."""
    numcases = len(data)
    vishidinc, visbiasinc, hidbiasinc = (np.zeros_like(a) for a in (vishid, visbiases, hidbiases))
    for epoch in range(1, epochs + 1):
        poshidprobs = _sigmoid(data @ vishid + hidbiases)
        posprods = data.T @ poshidprobs
        poshidact, posvisact = poshidprobs.sum(0), data.sum(0)
        poshidstates = (poshidprobs > noise).astype(float)
        negdata = _sigmoid(poshidstates @ vishid.T + visbiases)
        neghidprobs = _sigmoid(negdata @ vishid + hidbiases)
        negprods = negdata.T @ neghidprobs
        neghidact, negvisact = neghidprobs.sum(0), negdata.sum(0)
        momentum = 0.9 if epoch > 5 else 0.5
        vishidinc = momentum * vishidinc + epsilon * (
            (posprods - negprods) / numcases - weightcost * vishid)
        visbiasinc = momentum * visbiasinc + (epsilon / numcases) * (posvisact - negvisact)
        hidbiasinc = momentum * hidbiasinc + (epsilon / numcases) * (poshidact - neghidact)
        vishid, visbiases = vishid + vishidinc, visbiases + visbiasinc
        hidbiases = hidbiases + hidbiasinc
    return vishid, visbiases, hidbiases, ((data - negdata) ** 2).sum() / numcases


def _tiny_rbm(weight_cost=2e-4, seed=3):
    rng = np.random.default_rng(seed)
    data = (rng.random((8, 6)) > 0.5).astype("float32")
    noise = rng.random((8, 4)).astype("float32")
    rbm = RBM(6, 4, weight_cost=weight_cost, seed=seed)
    rbm.visible_bias.assign(rng.normal(0, 0.1, 6).astype("float32"))
    rbm.hidden_bias.assign(rng.normal(0, 0.1, 4).astype("float32"))
    _fixed_sampler(rbm, noise)
    rbm.compile()
    return rbm, data, noise


def test_cd1_is_rbm_m_with_its_momentum_switch_after_5_epochs():
    rbm, data, noise = _tiny_rbm()
    start = [_numpy(w) for w in (rbm.kernel, rbm.visible_bias, rbm.hidden_bias)]
    assert np.isclose(float(_numpy(rbm.momentum())), 0.5)
    history = rbm.fit(data, batch_size=8, epochs=7, shuffle=False, verbose=0)
    assert rbm.steps_per_epoch == 1 and np.isclose(float(_numpy(rbm.momentum())), 0.9)
    *expected, error = _rbm_m(data.astype(float), *start, noise.astype(float), epochs=7)
    for got, want in zip((rbm.kernel, rbm.visible_bias, rbm.hidden_bias), expected):
        np.testing.assert_allclose(_numpy(got), want, rtol=1e-4, atol=1e-6)
    assert np.isclose(history.history["reconstruction_error"][-1], error, rtol=1e-4)
    # Without the switch (momentum 0.5 throughout) the weights differ.
    stay, _, _ = _tiny_rbm()
    stay.momentum_epochs = 7
    stay.fit(data, batch_size=8, epochs=7, shuffle=False, verbose=0)
    assert not np.allclose(_numpy(stay.kernel), expected[0], atol=1e-6)


def test_weight_cost_shrinks_the_weights_alone():
    decayed, data, _ = _tiny_rbm(weight_cost=0.5)
    plain, _, _ = _tiny_rbm(weight_cost=0.0)
    start = _numpy(plain.kernel)
    for rbm in (decayed, plain):
        rbm.fit(data, batch_size=8, epochs=1, shuffle=False, verbose=0)
    # One step: ΔW = ε((v⁰ᵀp⁰ − v¹ᵀp¹)/n − λW), the statistics the same in both.
    np.testing.assert_allclose(_numpy(decayed.kernel) - _numpy(plain.kernel),
                               -0.1 * 0.5 * start, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(_numpy(decayed.hidden_bias), _numpy(plain.hidden_bias), atol=1e-7)


def test_free_energy_is_minus_log_sum_over_hidden_states():
    rng = np.random.default_rng(0)
    rbm = RBM(4, 3, seed=0)
    rbm.kernel.assign(rng.normal(0, 1, (4, 3)).astype("float32"))
    rbm.visible_bias.assign(rng.normal(0, 1, 4).astype("float32"))
    rbm.hidden_bias.assign(rng.normal(0, 1, 3).astype("float32"))
    w, b, c = _numpy(rbm.kernel), _numpy(rbm.visible_bias), _numpy(rbm.hidden_bias)
    visible = np.array(list(itertools.product([0, 1], repeat=4)), dtype="float32")
    hidden = np.array(list(itertools.product([0, 1], repeat=3)), dtype="float64")
    brute = [-np.log(np.sum(np.exp(v @ b + hidden @ c + hidden @ (w.T @ v)))) for v in visible]
    np.testing.assert_allclose(_numpy(rbm.free_energy(visible)), brute, rtol=1e-5, atol=1e-5)


def test_rbm_refuses_targets_and_wrong_scales():
    rbm = RBM(4, 3)
    rbm.compile()
    with pytest.raises(ValueError, match="without `y`"):
        rbm.fit(np.zeros((2, 4)), np.zeros(2))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        rbm.fit(np.full((2, 4), 3.0))
    with pytest.raises(ValueError, match=r"\(samples, 4\)"):
        rbm.fit(np.zeros((2, 5)))


def _digits(count: int = 100):
    (x, y), _ = datasets.mnist.load_sample()
    return x[:count], y[:count]


def test_deep_belief_net_is_the_papers_net():
    model = models.deep_belief_net()
    assert [layer.units for layer in model.hidden_layers] == [500, 500, 2000]
    assert model.count_params() == (784 * 500 + 500 + 500 * 500 + 500 + 500 * 2000 + 2000
                                    + 2000 * 10 + 10)


def test_pretraining_is_greedy_and_fine_tuning_starts_with_the_top_layer():
    x, y = _digits()
    model = models.deep_belief_net(hidden_units=(16, 12, 8), top_layer_epochs=1, seed=1)
    histories = model.pretrain(x, epochs=1, batch_size=20, verbose=0)
    rbms = [h.model for h in histories]
    assert type(model).from_config(model.get_config()).pretrained  # saved with the model
    assert [(r.visible_units, r.hidden_units) for r in rbms] == [(784, 16), (16, 12), (12, 8)]
    for layer, rbm in zip(model.hidden_layers, rbms):
        np.testing.assert_array_equal(_numpy(layer.kernel), _numpy(rbm.kernel))
        np.testing.assert_array_equal(_numpy(layer.bias), _numpy(rbm.hidden_bias))
    pretrained = [_numpy(w) for w in model.trainable_variables]
    model.fit(x, y, batch_size=20, epochs=1, verbose=0)  # the top layer alone
    after = [_numpy(w) for w in model.trainable_variables]
    for before, now in zip(pretrained[:-2], after[:-2]):
        np.testing.assert_array_equal(before, now)
    assert not np.allclose(pretrained[-2], after[-2])
    model.fit(x, y, batch_size=20, epochs=1, verbose=0)  # then all
    assert not np.allclose(_numpy(model.trainable_variables[0]), after[0])


def test_pretrain_refuses_wrong_pixel_scales():
    model = models.deep_belief_net(hidden_units=(8,))
    with pytest.raises(ValueError, match="divide them by 255"):
        model.pretrain(np.full((4, 28, 28), 200.0), epochs=1)
    with pytest.raises(ValueError, match="epochs"):
        model.pretrain(np.zeros((4, 28, 28), "uint8"), epochs=0)


def test_config_round_trip():
    model = models.deep_belief_net(hidden_units=(8, 4), top_layer_epochs=2, seed=3)
    twin = type(model).from_config(model.get_config())
    assert twin.hidden_units == (8, 4) and twin.top_layer_epochs == 2
    rbm = RBM(5, 2, cd_steps=2, seed=1)
    assert RBM.from_config(rbm.get_config()).get_config() == rbm.get_config()


def test_without_pretraining_all_layers_learn_from_the_start():
    x, y = _digits()
    model = models.deep_belief_net(hidden_units=(16, 8), top_layer_epochs=5, seed=1)
    before = _numpy(model.trainable_variables[0])
    model.fit(x, y, batch_size=20, epochs=1, verbose=0)
    assert not model.pretrained and not np.allclose(_numpy(model.trainable_variables[0]), before)
