"""The command line: quick to answer, quiet, reproducible, and true to the timeline."""

from __future__ import annotations

import gzip
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import pytest
from test_mnist_data import idx_bytes

from keras_history import cli
from keras_history.datasets import idx, mnist
from keras_history.timeline import NAMES, TIMELINE, year_text

ROOT = Path(__file__).resolve().parents[1]
BACKEND = keras.backend.backend()
HEAVY = ("keras", "tensorflow", "jax", "torch")
# What pip writes as the `keras-history` console script.
CONSOLE_SCRIPT = textwrap.dedent("""\
    import re, sys
    from keras_history.cli import main
    if __name__ == "__main__":
        sys.argv[0] = re.sub(r"(-script\\.pyw|\\.exe)?$", "", sys.argv[0])
        sys.exit(main())
""")


def run(args: list[str], **env) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    environment.pop("TF_CPP_MIN_LOG_LEVEL", None)  # the command must quiet TensorFlow itself
    return subprocess.run([sys.executable, *args], capture_output=True, text=True,
                          env=environment, cwd=ROOT, timeout=1200)


def imported_heavy(stderr: str) -> list[str]:
    """Top-level heavy packages in a `python -X importtime` log."""
    names = {line.rsplit("|", 1)[-1].strip() for line in stderr.splitlines()
             if line.startswith("import time:")}
    return sorted(names & set(HEAVY))


@pytest.mark.parametrize("entry", ["module", "console_script"])
def test_help_list_and_usage_errors_never_import_keras(tmp_path, entry):
    script = tmp_path / "keras-history"
    script.write_text(CONSOLE_SCRIPT)
    command = ["-m", "keras_history"] if entry == "module" else [str(script)]
    for args, code in ((["--help"], 0), (["list"], 0), (["tour", "nope"], 2),
                       (["train", "nope"], 2), (["train", "perceptron", "--epochs", "0"], 2)):
        result = run(["-X", "importtime", *command, *args])
        assert result.returncode == code, result.stderr[-2000:]
        assert imported_heavy(result.stderr) == [], args


def test_list_prints_the_timeline(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    for m in TIMELINE:
        assert re.search(rf"^{m.number} +{re.escape(year_text(m.year))} +{re.escape(m.inventor)} +"
                         rf"{re.escape(m.title)} +models\.{m.name}\(\)( +[\w, ]+)?$", out, re.M)


def test_readme_timeline_agrees_with_list():
    rows = re.findall(r"^\| (\d+) \| ([^|]+) \| ([^|]+) \| [^|]+ \| `models\.(\w+)\(\)`",
                      (ROOT / "README.md").read_text(), re.M)
    readme = [(int(n), year.strip(), who.strip(), name) for n, year, who, name in rows]
    assert readme == [(m.number, year_text(m.year), m.inventor, m.name) for m in TIMELINE]


def test_bad_names_list_the_choices(capsys):
    for argv in (["tour", "least_squares", "nope"], ["train", "nope"]):
        with pytest.raises(SystemExit) as exit_:
            cli.main(argv)
        assert exit_.value.code == 2
        error = capsys.readouterr().err
        assert "invalid choice: 'nope'" in error and "[]" not in error
        assert all(name in error for name in NAMES)


def test_options_that_do_not_apply_are_refused(capsys):
    with pytest.raises(SystemExit, match="--data is for the image models"):
        cli.main(["train", "least_squares", "--data", "anywhere"])
    with pytest.raises(SystemExit) as exit_:
        cli.main(["train", "perceptron", "--batch-size", "-3"])
    assert exit_.value.code == 2 and "whole number >= 1" in capsys.readouterr().err


def without_seconds(text: str) -> str:
    return re.sub(r"\d+\.\d\d(?= *$| s of)", "<s>", text, flags=re.M)


def test_tour_is_reproducible_and_says_what_it_trains(capsys):
    outputs = []
    for _ in range(2):
        assert cli.main(["tour", "least_squares", "perceptron", "--seed", "3"]) == 0
        outputs.append(without_seconds(capsys.readouterr().out))
    assert outputs[0] == outputs[1]
    assert ("Showing least_squares, perceptron: trained weights where the package ships them, "
            f"else trained on its own data (Keras backend: {BACKEND}, seed 3)") in outputs[0]
    assert "2/2 reproduced" in outputs[0]


@pytest.fixture
def tiny_idx_folder(tmp_path):
    (x, y), (xt, yt) = mnist.load_sample()
    arrays = {"x_train": x[::20], "y_train": y[::20], "x_test": xt[:60], "y_test": yt[:60]}
    for key, stem in idx.FILES.items():
        (tmp_path / f"{stem}.gz").write_bytes(gzip.compress(idx_bytes(arrays[key])))
    return tmp_path


def test_train_takes_epochs_batch_size_seed_and_data(capsys, tiny_idx_folder):
    # One run: the seed's effect is checked by the tour test and tests/test_determinism.py.
    assert cli.main(["train", "mnist_convnet", "--data", str(tiny_idx_folder), "--epochs", "1",
                     "--batch-size", "50", "--seed", "7"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Training mnist_convnet on MNIST from {tiny_idx_folder}: "
                          f"1 epoch(s), batch size 50, seed 7, Keras backend {BACKEND}.")
    assert "4/4" in out  # 200 images in batches of 50: the progress bar
    assert re.search(r"mnist_convnet: test accuracy 0\.\d{4} on MNIST from ", out)
    assert "is for the recipe's own epochs, batch size and data" in out


def test_tour_plots_writes_the_figures(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    assert cli.main(["tour", "least_squares", "--plots", str(tmp_path)]) == 0
    assert f"wrote {tmp_path / 'least_squares.png'}" in capsys.readouterr().out
    assert (tmp_path / "least_squares.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_backend_option_and_no_log_noise():
    result = run(["-m", "keras_history", "train", "least_squares", "--backend", BACKEND])
    assert result.returncode == 0, result.stderr
    assert f"Keras backend {BACKEND}." in result.stdout
    assert result.stderr == ""  # no TensorFlow, absl or XLA start-up log


HIDE_JAX = textwrap.dedent("""\
    import importlib.machinery, os, sys
    class WithoutJax(importlib.machinery.PathFinder):  # as if JAX were not installed
        @classmethod
        def find_spec(cls, name, path=None, target=None):
            if name.split(".")[0] in ("jax", "jaxlib"):
                return None
            return super().find_spec(name, path, target)
    sys.meta_path = [WithoutJax if f is importlib.machinery.PathFinder else f
                     for f in sys.meta_path]
""")


def test_a_missing_backend_names_its_extra():
    bare = run(["-c", HIDE_JAX + "import jax"])
    assert "No module named 'jax'" in bare.stderr and "keras-history[jax]" not in bare.stderr
    library = run(["-c", HIDE_JAX + "import keras_history"], KERAS_BACKEND="jax")
    assert "pip install 'keras-history[jax]'" in library.stderr
    command = run(["-c", HIDE_JAX + "sys.argv = ['keras-history', 'train', 'least_squares']\n"
                   "import runpy; runpy.run_module('keras_history', run_name='__main__')"],
                  KERAS_BACKEND="jax")
    assert command.returncode == 1
    assert command.stderr.startswith("keras-history: error: No module named 'jax'")
    assert "pip install 'keras-history[jax]'" in command.stderr
    assert "Traceback" not in command.stderr


def test_import_keras_history_registers_the_models_for_load_model(tmp_path):
    # The command line defers the models; a plain `import keras_history` must not.
    from keras_history import models

    models.perceptron(input_dim=2).save(tmp_path / "p.keras")
    result = run(["-c", "import keras, keras_history; "
                  f"print(type(keras.models.load_model({str(tmp_path / 'p.keras')!r})).__name__)"])
    assert result.stdout.strip() == "Perceptron", result.stderr[-2000:]
