"""Shipped weights: the registry, `weights=` on every factory, hash refusal, verify.

Each shipped set is loaded through its factory, as a user loads it, and
measured on data the package embeds (the MNIST sample; the Reber strings);
Fashion-MNIST sets on the first 1,000 test images of ../shared when present.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

import keras_history.weights as shipped
from keras_history import cli, datasets, models
from keras_history.timeline import NAMES, TIMELINE
from keras_history.weights import evaluation
from tests.conftest import MNIST_DIR

ROOT = Path(__file__).resolve().parents[1]
FASHION_DIR = MNIST_DIR.parent / "fashion_mnist"
SETS = shipped.available()


def test_every_factory_takes_weights_in_its_signature():
    for milestone in TIMELINE:
        parameter = inspect.signature(milestone.factory).parameters.get("weights")
        assert parameter is not None and parameter.default is None, milestone.name


def test_the_registry_is_plain_data_and_pins_every_file():
    assert SETS, "no weight set is shipped"
    rows = json.loads(shipped.REGISTRY.read_text())
    assert [(r["factory"], r["name"]) for r in rows] == [(s.factory, s.name) for s in SETS]
    assert len({(s.factory, s.name) for s in SETS}) == len(SETS)
    listed = {path.name for path in shipped.FILES.iterdir()}
    assert listed == {s.file for s in SETS}  # no file without its entry, no entry without file
    for weight_set in SETS:
        assert weight_set.factory in NAMES
        assert weight_set.task in evaluation.TASKS
        assert weight_set.path.stat().st_size == weight_set.size
        assert shipped.sha256(weight_set.path) == weight_set.sha256
        assert weight_set.command.startswith("KERAS_BACKEND=") and "scripts/" in weight_set.command
        assert 0 <= weight_set.value <= 1 and weight_set.paper and weight_set.date


@pytest.mark.parametrize("weight_set", SETS, ids=str)
def test_each_set_loads_through_its_factory_and_keeps_its_number(weight_set):
    model = getattr(models, weight_set.factory)(weights=weight_set.name)
    assert all(str(v.dtype) == "float32" for v in model.weights
               if "float" in str(v.dtype))
    if weight_set.task == "reber":  # generated strings: the full test set, exactly
        value, _ = evaluation.measure(model, weight_set)
        assert round(value, 6) == weight_set.value
        return
    if weight_set.task == "mnist":
        _, (x, y) = datasets.mnist.load_sample()
    else:
        if not FASHION_DIR.is_dir():
            pytest.skip(f"no Fashion-MNIST in {FASHION_DIR}")
        _, (x, y) = datasets.fashion_mnist.load_data(FASHION_DIR)
        x, y = x[:1000], y[:1000]
    # 1,000 test images estimate the full set's accuracy to about ±1 point.
    assert evaluation.accuracy(model, x, y) >= weight_set.value - 0.015


def test_options_of_a_set_fill_in_what_the_caller_left_out():
    weight_set = next((s for s in SETS if s.options), None)
    if weight_set is None:
        pytest.skip("no shipped set records factory options")
    model = getattr(models, weight_set.factory)(weights=weight_set.name)
    for option, value in weight_set.options.items():
        if option == "input_shape":
            assert model.image_shape == tuple(value)
        else:
            assert getattr(model, option) == value, option


@pytest.fixture
def damaged(tmp_path, monkeypatch):
    """A copy of the first set's folder whose file is cut short."""
    weight_set = SETS[0]
    shutil.copytree(shipped.FILES, tmp_path / "files")
    path = tmp_path / "files" / weight_set.file
    path.write_bytes(path.read_bytes()[:-100])
    monkeypatch.setattr(shipped, "FILES", tmp_path / "files")
    return weight_set


def test_a_changed_or_truncated_file_is_refused_with_what_to_do(damaged):
    with pytest.raises(shipped.WeightsIntegrityError,
                       match=rf"{damaged.file} is not the file .*changed or truncated.*"
                             r"Reinstall keras-history, or remake it with: KERAS_BACKEND="):
        getattr(models, damaged.factory)(weights=damaged.name)


def test_a_missing_file_says_to_reinstall(damaged):
    (shipped.FILES / damaged.file).unlink()
    with pytest.raises(FileNotFoundError, match="missing from the installed package; reinstall"):
        getattr(models, damaged.factory)(weights=damaged.name)


def test_an_unknown_name_lists_the_sets_that_exist():
    weight_set = SETS[0]
    with pytest.raises(ValueError, match=rf"{weight_set.factory}\(\) has no weight set 'nope'; "
                                         rf"its sets: '{weight_set.name}'"):
        getattr(models, weight_set.factory)(weights="nope")
    with pytest.raises(ValueError, match=r"perceptron\(\) has no weight set 'mnist'; none is "
                                         "shipped for it"):
        models.perceptron(weights="mnist")


def test_a_path_still_loads_any_factory(tmp_path):
    model = models.perceptron(input_dim=2, seed=3)
    model.save_weights(tmp_path / "p.weights.h5")
    again = models.perceptron(weights=str(tmp_path / "p.weights.h5"))
    np.testing.assert_array_equal(again.get_weights()[0], model.get_weights()[0])


def test_list_shows_the_sets(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    for weight_set in SETS:
        line = next(row for row in out.splitlines() if f"models.{weight_set.factory}()" in row)
        assert weight_set.name in line


def test_verify_prints_now_recorded_and_paper_on_one_line(capsys):
    # The smallest net measured on the embedded sample: quick on every backend.
    weight_set = next((s for s in SETS if s.task == "mnist"), SETS[0])
    assert cli.main(["verify", weight_set.factory, "--weights", weight_set.name]) == 0
    out = capsys.readouterr().out.splitlines()[-1]
    assert out.startswith(f"{weight_set}: {weight_set.metric} ")
    assert f"recorded {weight_set.date}" in out and f"paper: {weight_set.paper}" in out


def test_verify_refuses_a_milestone_without_weights(capsys):
    with pytest.raises(SystemExit):
        cli.main(["verify", "perceptron"])
    assert "perceptron has no shipped weights; these do:" in capsys.readouterr().err


def test_export_takes_the_shipped_set_and_says_what_it_was_trained_on(tmp_path, capsys,
                                                                      monkeypatch):
    # What `export` writes is tested in test_saving.py; here: which model it is handed.
    from keras_history import saving

    weight_set = SETS[0]
    exported = {}

    def export(model, path, format):
        exported["weights"] = [np.asarray(w) for w in model.get_weights()]
        return path

    monkeypatch.setattr(saving, "export", export)
    assert cli.main(["export", weight_set.factory, str(tmp_path / "saved")]) == 0
    out = capsys.readouterr().out
    assert "Training" not in out
    assert (f"The model: {weight_set}, trained on {weight_set.task} by `{weight_set.command}`; "
            f"{weight_set.metric} {weight_set.value:.4f} recorded") in out
    shipped_model = getattr(models, weight_set.factory)(weights=weight_set.name)
    for got, want in zip(exported["weights"], shipped_model.get_weights(), strict=True):
        np.testing.assert_array_equal(got, want)


def test_train_save_keeps_the_trained_model(tmp_path, capsys):
    import keras_history

    path = tmp_path / "line.keras"
    assert cli.main(["train", "least_squares", "--save", str(path)]) == 0
    assert f"Saved the trained model to {path}" in capsys.readouterr().out
    model = keras_history.load_model(path)
    x, y = datasets.wheat_and_bread()
    solution = np.linalg.lstsq(np.hstack([x, np.ones_like(x)]), y, rcond=None)[0].ravel()
    np.testing.assert_allclose(
        [float(np.ravel(model.kernel)[0]), float(np.ravel(model.bias)[0])], solution, rtol=1e-4)
    with pytest.raises(SystemExit):
        cli.main(["train", "least_squares", "--save", str(tmp_path / "line.h5")])
    assert "must end in .keras" in capsys.readouterr().err


def test_the_docs_table_is_the_registry(monkeypatch):
    spec = importlib.util.spec_from_file_location("make_weights", ROOT / "scripts" /
                                                  "make_weights.py")
    make_weights = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "make_weights", make_weights)  # for its dataclasses
    spec.loader.exec_module(make_weights)
    assert make_weights.table() in (ROOT / "docs" / "weights.md").read_text()
    assert {(s.factory, s.name) for s in SETS} <= set(make_weights.RECIPES)
