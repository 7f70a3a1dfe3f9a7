"""Every ```python block of README.md runs as written.

How the blocks run: each block is one test (named by its example's label, the
factory's name for the milestone examples), in README order, in a fresh
namespace. The examples under "One example per milestone" run after that
section's first block, its imports, as the README says; every other block is
self-contained. Blocks run in a temporary folder (the saving block writes files),
so the README's `../shared/data/...` paths, relative to the repository's root,
are rewritten to the same folders as absolute paths; a block whose data folder
is missing is skipped (in CI it is there).

Long trainings are cut here, never in the README, by the textual substitutions
of `SUBSTITUTIONS` (each documented there). Each must still match somewhere in
the README: one that matches nothing fails `test_every_substitution_still_matches`,
so the README and this file cannot drift apart silently. Beyond them a block
runs as written; the ImageNet-sized nets are built (the README never trains them).

Budget: under a minute per backend on 2 CPU cores. Building and compiling a
fresh image or recurrent model costs seconds (tens on JAX), so each of those
examples runs on the one backend where it costs least (`RUNS_ON`); the suite
tests every model on every backend elsewhere. Every block is still compiled on
every backend, and KERAS_HISTORY_EVERY_BACKEND=1 runs every block on the
backend at hand (each passes on all three).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import keras
import pytest
from cases import at_home

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
README = (ROOT / "README.md").read_text(encoding="utf-8")
BACKEND = keras.backend.backend()
EXAMPLES = "One example per milestone"

TRAIN, TEST = 64, 32  # examples kept of a data set's training and test sets


def _small(data):
    """((x, y), (x_test, y_test)) cut to the first TRAIN and TEST examples."""
    (x, y), (x_test, y_test) = data
    return (x[:TRAIN], y[:TRAIN]), (x_test[:TEST], y_test[:TEST])


def _shared(match: re.Match) -> str:
    return f"_small({match[1]}({str(SHARED_DATA / match[2])!r}))"


# The substitutions: (pattern, replacement, what it does), applied in this order
# with `re.sub` to every block; each must match at least one block.
SUBSTITUTIONS = [
    (r"\bepochs=[\d_]+", "epochs=1",
     "every `fit` and `pretrain` runs one epoch"),
    (r"\bsteps_per_batch=[\d_]+", "steps_per_batch=10",
     "a rule repeated on each batch runs 10 times, not thousands"),
    (r'([\w.]+\.load_data)\("\.\./shared/data/(\w+)"\)', _shared,
     "full MNIST and Fashion-MNIST: read from the same folder, given as an absolute "
     f"path, then cut to {TRAIN} training and {TEST} test images"),
    (r"([\w.]+\.load_sample\(\))", r"_small(\1)",
     f"MNIST's embedded sample: cut to {TRAIN} training and {TEST} test images"),
    (r"\breber\.load_data\(seed=", f"reber.load_data(train={TRAIN // 8}, test={TEST // 8}, seed=",
     f"the embedded Reber grammar: {TRAIN // 8} training and {TEST // 8} test strings"),
    (r"\bmodels\.resnet\(20, ", "models.resnet(8, ",
     "ResNet-8 for ResNet-20 (n = 1 for n = 3: the same code, a third of the layers)"),
]
if BACKEND != "tensorflow":
    # On JAX and PyTorch each export starts a TensorFlow subprocess (seconds each):
    # the saving block's exports run on the TensorFlow backend only.
    SUBSTITUTIONS.append((r"(?m)^keras_history\.export\(.*$", "pass",
                          "the exports run on the TensorFlow backend only"))

# The blocks that run on some backends only: where building, compiling and the cut
# training cost the least CPU time (measured on the 2-core VM). On JAX a fresh image
# model alone takes 5-30 s to build and compile; the saving block's convnet too.
TF, TORCH = ("tensorflow",), ("torch",)
RUNS_ON = {
    "elman_rnn": TF, "lstm_1997": TF, "deep_mlp": TF, "vgg16": TF, "resnet50": TF,
    "lenet5": TORCH, "deep_belief_net": TORCH, "alexnet": TORCH, "gan": TORCH,
    "dropout_mlp": TORCH, "batch_norm_mlp": TORCH, "resnet": TORCH, "vgg_like": TORCH,
    "mnist_convnet": TORCH, "tutorial_net": TORCH, "capsnet": TF, "rcnn": TF,
    "saving": ("tensorflow", "torch"),
}


@dataclass(frozen=True)
class Block:
    label: str  # the example's factory name, or a name for the other blocks
    section: str  # the `## ` heading above it ("" before the first)
    code: str


def readme_blocks() -> list[Block]:
    blocks, section = [], ""
    for heading, code in re.findall(r"^## ([^\n]+)$|^```python\n(.*?)^```$", README,
                                    re.M | re.S):
        if heading:
            section = heading
            continue
        named = re.match(r"# (\w+): ", code)
        if named:
            label = named[1]
        elif section == EXAMPLES and all(b.section != section for b in blocks):
            label = "imports"
        else:  # the opening example, or a block named by its section
            label = re.sub(r"\W+", "_", section.split(",")[0].lower()).strip("_") or "opening"
        blocks.append(Block(label, section, code))
    return blocks


BLOCKS = readme_blocks()


def substitute(code: str) -> tuple[str, set[int]]:
    """`code` with every substitution applied, and the indexes of those that matched."""
    matched = set()
    for i, (pattern, replacement, _) in enumerate(SUBSTITUTIONS):
        code, count = re.subn(pattern, replacement, code)
        if count:
            matched.add(i)
    return code, matched


def test_every_substitution_still_matches():
    matched = set().union(*(substitute(block.code)[1] for block in BLOCKS))
    stale = [SUBSTITUTIONS[i][2] for i in range(len(SUBSTITUTIONS)) if i not in matched]
    assert stale == [], f"substitutions that match nothing in README.md any more: {stale}"


def test_one_example_per_milestone_in_timeline_order():
    from keras_history.timeline import NAMES

    labels = [b.label for b in BLOCKS if b.section == EXAMPLES]
    assert labels == ["imports", *NAMES], (
        "README.md's examples must be labelled '# <factory name>: ...', one per "
        "milestone, in keras_history.timeline.TIMELINE order")
    assert set(RUNS_ON) <= {b.label for b in BLOCKS}
    assert set().union(*RUNS_ON.values()) <= {"tensorflow", "jax", "torch"}


@pytest.mark.parametrize("block", BLOCKS, ids=[b.label for b in BLOCKS])
def test_every_block_compiles(block):
    compile(block.code, f"README.md: {block.label}", "exec")
    compile(substitute(block.code)[0], f"README.md: {block.label}", "exec")


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    """conftest's fresh state without its garbage collection (a second a test here)."""
    keras.backend.clear_session(free_memory=False)
    keras.utils.set_random_seed(0)
    yield


def run(code: str, namespace: dict, label: str) -> None:
    exec(compile(code, f"README.md: {label}", "exec"), namespace)


@pytest.mark.parametrize("block", [at_home(b, *RUNS_ON.get(b.label, ())) for b in BLOCKS],
                         ids=[b.label for b in BLOCKS])
def test_readme_block_runs(block, tmp_path, monkeypatch):
    missing = sorted({folder for folder in re.findall(r'"\.\./shared/data/(\w+)"', block.code)
                      if not (SHARED_DATA / folder).is_dir()})
    if missing:
        pytest.skip(f"no local copy of {', '.join(missing)} in {SHARED_DATA}")
    monkeypatch.chdir(tmp_path)
    namespace = {"_small": _small}
    if block.section == EXAMPLES and block.label != "imports":
        imports = next(b for b in BLOCKS if b.label == "imports")
        run(imports.code, namespace, imports.label)
    run(substitute(block.code)[0], namespace, block.label)
