"""Exports measured: every milestone × {SavedModel, ONNX, LiteRT} × {TensorFlow, JAX, PyTorch}.

For each backend (one subprocess each, as the backend is fixed at import), each
milestone on the timeline is made, exported with `keras_history.export` in each
format, and measured. The tour's milestones are trained by their tour recipe
(`keras_history.tour.RECIPES`, as `keras-history train NAME` does); the others
are the factory's default net, the paper's, as initialized (seed 0 where the
factory takes one): an export's arithmetic does not depend on training. Measured:

- the largest absolute difference from `model.predict` on 256 inputs (32 for
  the ImageNet nets, whose 256 images at 224×224 overflow this machine's 24 GiB
  in the runtimes) (uint8
  test digits of the embedded MNIST sample for the MNIST image models, uniform
  random uint8 pixels for the ImageNet nets, embedded Reber strings for the
  recurrent nets, uniform random floats in [0, 1) for the others (the GAN's
  noise included)), in the format's own runtime;
- the artifact's size (a SavedModel: all files of its folder);
- inference latency for 1 input and a batch of 256 (32): `model.predict` on the
  backend, and (from the TensorFlow-trained artifacts) onnxruntime and the
  LiteRT interpreter; median of repeated calls after a warm-up call (two
  calls where the warm-up took over a second: the ImageNet nets).

Prints markdown tables for docs/saving.md, with the machine and date.

    python scripts/benchmark_export.py                   # every milestone, three backends
    python scripts/benchmark_export.py --models perceptron mnist_convnet --backends tensorflow
    python scripts/benchmark_export.py --models vgg16 --formats savedmodel litert
"""

from __future__ import annotations

import argparse
import datetime
import functools
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BACKENDS = ("tensorflow", "jax", "torch")
FORMATS = {"savedmodel": "", "onnx": ".onnx", "litert": ".tflite"}
ROWS, BIG_ROWS = 256, 32  # inputs per comparison and per large batch (BIG: ImageNet sizes)
BIG = 100_000  # values per input above which a model gets BIG_ROWS
REPEATS = {"1": 50, "batch": 10}  # timed calls of one input and of the whole batch
SLOW = 1.0  # seconds: a warm-up call slower than this is timed twice, not `repeats` times


def _latencies(run, x) -> dict[str, float]:
    """Median seconds of `run` on one input ("1") and on all of `x` ("batch"), each after
    a warm-up call."""
    import numpy as np

    medians = {}
    for key, repeats in REPEATS.items():
        batch = x[:1] if key == "1" else x
        start = time.perf_counter()
        run(batch)  # warm-up: compilation, allocation, resizing
        if time.perf_counter() - start > SLOW:
            repeats = 2
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            run(batch)
            times.append(time.perf_counter() - start)
        medians[key] = float(np.median(times))
    return medians


def _model(name: str):
    """The tour's trained model, or the factory's default (paper) net as initialized."""
    import inspect

    from keras_history import timeline, tour

    if name in tour.RECIPES:
        recipe = tour.RECIPES[name]
        return recipe.train_and_check(recipe.run(seed=0))[0]
    factory = timeline.get(name).factory
    seeded = "seed" in inspect.signature(factory).parameters
    return factory(seed=0) if seeded else factory()


def _inputs(model, levels):
    """ROWS inputs (BIG_ROWS for large ones), as the model's `predict` takes them (see
    the module's docstring)."""
    import numpy as np

    from keras_history import backend, datasets, saving

    shape = backend.input_shape(model)
    rng = np.random.default_rng(0)
    if None in shape[1:]:  # sequences of any length: the recurrent nets
        return datasets.reber.load_data(train=ROWS, test=1, seed=0)[0][0]
    rows = BIG_ROWS if np.prod(shape[1:]) > BIG else ROWS
    if saving.serving_contract(model).pixels:
        if tuple(shape[1:]) in ((28, 28, 1), (28, 28)):
            return levels[:rows]
        return rng.integers(0, 256, (rows, *shape[1:]), dtype=np.uint8)
    return rng.random((rows, *shape[1:]), dtype=np.float32)


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return path.stat().st_size


def _runtime_runs(path: Path, format: str, contract):
    """`run(x)` in onnxruntime or the LiteRT interpreter."""
    if format == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return lambda x: session.run(None, {contract.input_name: x})[0]
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_path=str(path)).get_signature_runner("serving_default")
    return lambda x: runner(**{contract.input_name: x})[contract.output_name]


def measure(names: list[str], formats: list[str]) -> None:
    """Print the rows of one backend (this process's) on stdout, one JSON line each as it
    is measured (a run that dies later keeps them)."""
    import keras

    from keras_history import datasets, saving

    backend = keras.backend.backend()
    _, (levels, _) = datasets.mnist.load_sample()
    for name in names:
        with tempfile.TemporaryDirectory() as folder:  # the ImageNet nets' files are GBs
            model = _model(name)
            contract = saving.serving_contract(model)
            x = _inputs(model, levels)
            predict = _latencies(functools.partial(model.predict, verbose=0), x)
            for format in formats:
                suffix = FORMATS[format]
                path = Path(folder) / f"{name}-{format}{suffix}"
                start = time.perf_counter()
                saving.export(model, path, format=format, sample=x)
                seconds = time.perf_counter() - start
                difference = saving.CHECKS[format](model, path, x)
                row = {"backend": backend, "model": name, "format": format,
                       "difference": difference, "bytes": _size(path),
                       "export_seconds": seconds, "predict": predict}
                if format != "savedmodel" and backend == "tensorflow":
                    row["runtime"] = _latencies(_runtime_runs(path, format, contract), x)
                print(json.dumps(row), flush=True)
                print(f"{backend} {name} {format}: max diff {difference:.2g}, "
                      f"{row['bytes']} bytes", file=sys.stderr, flush=True)


def _versions() -> str:
    from importlib.metadata import version

    packages = ("tensorflow", "keras", "jax", "torch", "tf2onnx", "onnxruntime", "ai-edge-litert")
    found = []
    for package in packages:
        try:
            found.append(f"{package} {version(package)}")
        except Exception:
            found.append(f"{package} (missing)")
    return ", ".join(found)


def _machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


def _pair(latencies: dict) -> str:
    """'1 input / the batch' in milliseconds."""
    return " / ".join(f"{latencies[key] * 1000:.2f}" for key in REPEATS)


def _kib(size: int) -> str:
    return f"{size / 1024:,.1f} KiB"


def report(rows: list[dict]) -> str:
    lines = [f"Measured {datetime.date.today().isoformat()} on {_machine()}.",
             f"Versions: {_versions()}.", "",
             "| model | format | backend | max \\|export − predict\\| | size | export (s) |",
             "|---|---|---|---|---|---|"]
    for row in sorted(rows, key=lambda r: (r["model"], list(FORMATS).index(r["format"]),
                                           BACKENDS.index(r["backend"]))):
        lines.append(f"| {row['model']} | {row['format']} | {row['backend']} | "
                     f"{row['difference']:.2g} | {_kib(row['bytes'])} | "
                     f"{row['export_seconds']:.1f} |")
    lines += ["", f"Latency in ms (median), batch of 1 / batch of {ROWS} ({BIG_ROWS} for "
              "the ImageNet nets):", "",
              "| model | " + " | ".join(f"predict ({b})" for b in BACKENDS
                                         if any(r["backend"] == b for r in rows))
              + " | onnxruntime | LiteRT |",
              "|---|" + "---|" * (2 + len({r["backend"] for r in rows}))]
    for name in dict.fromkeys(r["model"] for r in rows):
        mine = [r for r in rows if r["model"] == name]
        cells = []
        for backend in BACKENDS:
            row = next((r for r in mine if r["backend"] == backend), None)
            if row is not None:
                cells.append(_pair(row["predict"]))
        for format in ("onnx", "litert"):
            row = next((r for r in mine if r["format"] == format and "runtime" in r), None)
            cells.append("—" if row is None else _pair(row["runtime"]))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", help="milestones (default: all)")
    parser.add_argument("--backends", nargs="*", default=list(BACKENDS), choices=BACKENDS)
    parser.add_argument("--formats", nargs="*", default=list(FORMATS), choices=list(FORMATS))
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:  # one backend, chosen by KERAS_BACKEND: rows as JSON lines on stdout
        from keras_history import timeline

        timeline.get("perceptron")  # registers every milestone
        measure(args.models or [m.name for m in timeline.TIMELINE], args.formats)
        return
    rows = []
    root = str(Path(__file__).resolve().parents[1])
    for backend in args.backends:
        env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3",
               "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH"))
                                             if p)}
        command = [sys.executable, __file__, "--child", "--formats", *args.formats]
        if args.models:
            command += ["--models", *args.models]
        done = subprocess.run(command, env=env, stdout=subprocess.PIPE, text=True)
        rows += [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
        if done.returncode:
            print(f"{backend}: the run died (exit status {done.returncode}) after "
                  f"{len(rows)} rows; the table has what it measured.", file=sys.stderr)
    print(report(rows))


if __name__ == "__main__":
    main()
