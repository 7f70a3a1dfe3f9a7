"""The tour covers every milestone on the timeline, and each new recipe passes its own check.

Every backend runs this file on 2 shared cores within a time budget (under 90 s a
backend), so each recipe that takes long is run on the backend where it is quickest
(measured: seconds of `train_and_check` on each backend in its `HOME` entry's
comment) and skipped, saying so, on the others; `keras-history tour` runs them all
on whichever backend the user picks.
"""

from __future__ import annotations

import pytest
from cases import at_home

import keras_history.weights as shipped
from keras_history import cli, tour
from keras_history.timeline import NAMES

# The recipes added to make the tour cover the timeline, and where each one's check runs.
HOME = {
    # logistic_neuron: by `keras-history train` in test_train_command_runs_a_new_recipe.
    "shallow_net": ("jax",),  # 10,000 rule steps: TensorFlow ~10 s, PyTorch's loop ~100 s
    "deep_mlp": ("jax",),  # TensorFlow ~10 s, JAX ~25-40 s, PyTorch ~15-30 s
    "dropout_mlp": ("tensorflow",),  # 5 epochs of 3 × 1024: JAX ~40 s, PyTorch ~150 s
    "alexnet": ("torch",),  # ImageNet-size nets: building them takes 40-60 s on JAX,
    "vgg16": ("torch",),  # 7-18 s on TensorFlow and PyTorch
    "resnet50": ("torch",),
    "resnet": ("torch",),  # resnet(110) alone: ~40 s on JAX
    "gan": ("tensorflow",),  # JAX ~30 s, PyTorch ~60 s
    # Stand-ins for the trained weights the package ships (the tour prefers those).
    "deep_belief_net": ("jax",),  # TensorFlow ~20 s, PyTorch ~80 s
    "vgg_like": ("tensorflow",),  # JAX ~80 s, PyTorch ~100 s
    "tutorial_net": ("jax",),  # 1,000 batches of 4: TensorFlow ~30 s, PyTorch ~180 s
    "capsnet": ("tensorflow",),  # 125 batches of 32: TensorFlow ~20 s, JAX ~40 s, PyTorch ~170 s
    "rcnn": ("tensorflow",),  # pre-training, 16 fine-tuning batches: JAX ~60 s, PyTorch ~115 s
}


def test_every_milestone_is_on_the_tour():
    assert tour.tour_names() == list(NAMES)
    assert set(NAMES) <= set(tour.RECIPES) | {n for n in NAMES if shipped.available(n)}


def test_the_tour_shows_tour_names_in_timeline_order(monkeypatch):
    monkeypatch.setattr(tour, "tour_names", lambda: ["least_squares", "gradient_descent"])
    rows = tour.run_tour()
    assert [row[0] for row in rows] == ["least_squares", "gradient_descent"]
    assert all(row[3] for row in rows)


STAND_INS = ("deep_belief_net", "vgg_like", "tutorial_net")


def _stand_in(name: str) -> tuple:
    return (pytest.mark.skipif(
        bool(shipped.available(name)),
        reason=f"the tour shows {name}'s shipped weights (tests/test_weights.py); its "
               "recipe, only for `keras-history train`, is left out of this file's budget"),
    ) if name in STAND_INS else ()


@pytest.mark.parametrize("name", [at_home(name, *HOME[name], marks=_stand_in(name))
                                  for name in HOME])
def test_new_recipe_passes_its_check(name):
    recipe = tour.RECIPES[name]
    _, (measured, reference, ok) = recipe.train_and_check(recipe.run())
    assert ok, f"{name}: {measured}; reference: {reference}"


def test_train_command_runs_a_new_recipe(capsys):
    # `--epochs 1` is the recipe's own setting, so the command checks it against the course.
    assert cli.main(["train", "logistic_neuron", "--epochs", "1"]) == 0
    out = capsys.readouterr().out
    assert "Training logistic_neuron: 1 epoch(s), batch size 400, seed 0" in out
    assert "logistic_neuron: accuracy 47.00% (printed with %d: 47%)" in out
    assert out.rstrip().endswith("reproduced") and "NOT reproduced" not in out


def test_a_net_without_its_data_is_exported_as_untrained(tmp_path, capsys, monkeypatch):
    # The recipes of the nets whose data the package lacks only build them: `export` must
    # not call them trained (what it writes is tested in test_saving.py).
    from keras_history import saving

    assert {n for n, r in tour.RECIPES.items() if not r.trains} == {
        "alexnet", "vgg16", "resnet50", "resnet"}
    monkeypatch.setattr(saving, "export", lambda model, path, format: path)
    assert cli.main(["export", "resnet", str(tmp_path / "saved")]) == 0
    out = capsys.readouterr().out
    assert "Training" not in out and "trained by" not in out
    assert "resnet UNTRAINED: its data set is not in the package" in out
