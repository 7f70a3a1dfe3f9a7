"""The `keras-history` command line: list, tour, train, verify, export.

Keras (and with it TensorFlow) is imported only by the commands that train,
after the backend is chosen and with the native libraries' start-up log
silenced: `--help`, `list` and usage errors answer at once.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
import tempfile
from collections.abc import Iterator

import keras_history.weights as shipped
from keras_history.timeline import NAMES, TIMELINE, year_text

BACKENDS = ("tensorflow", "jax", "torch")
# What TensorFlow, XLA and absl print to stderr while they start, whatever
# TF_CPP_MIN_LOG_LEVEL says: absl's preamble, INFO lines, the CPU-feature note.
_START_UP_NOISE = re.compile(
    r"WARNING: All log messages before absl::InitializeLog\(\)"
    r"|I\d{4} [\d:.]+ +\d+ \S+:\d+\]"
    r"|To enable the following instructions:")


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows)]
    lines = [header, ["-" * w for w in widths], *rows]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(line, widths)).rstrip()
                     for line in lines)


@contextlib.contextmanager
def _start_up_log_filtered() -> Iterator[None]:
    """Keep the native libraries' start-up chatter off stderr; pass anything else on."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            for line in captured.read().decode(errors="replace").splitlines(keepends=True):
                if not _START_UP_NOISE.match(line):
                    sys.stderr.write(line)


def _import_keras(backend: str | None):
    """Import Keras on the chosen backend, quietly; returns the `keras_history.tour` module."""
    if backend:
        running = sys.modules.get("keras")
        if running is not None and running.backend.backend() != backend:
            raise SystemExit(f"keras-history: error: --backend {backend}: this process already "
                             f"runs Keras on {running.backend.backend()}.")
        os.environ["KERAS_BACKEND"] = backend
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with _start_up_log_filtered():
        try:
            from keras_history import tour
        except ImportError as error:  # e.g. a backend whose extra is not installed
            raise SystemExit(f"keras-history: error: {error}") from error
        # Keras loads TensorFlow for its data pipeline on every backend: load it here,
        # where its start-up log is filtered, rather than in the middle of `fit`.
        with contextlib.suppress(ImportError):
            import tensorflow  # noqa: F401
    with contextlib.suppress(ImportError):
        from absl import logging as absl_logging

        absl_logging.set_verbosity(absl_logging.ERROR)
    return tour


def _check_names(parser: argparse.ArgumentParser, names: list[str]) -> None:
    for name in names:
        if name not in NAMES:
            parser.error(f"argument NAME: invalid choice: {name!r} "
                         f"(choose from {', '.join(NAMES)})")


def _recipes(tour, names: list[str]) -> list:
    missing = [n for n in names if n not in tour.RECIPES]
    if missing:
        raise SystemExit(f"keras-history: error: {', '.join(missing)} has no recipe on data "
                         f"shipped with the package; these do: {', '.join(tour.RECIPES)}.")
    return [tour.RECIPES[n] for n in names]


def _shown(tour, names: list[str]) -> list[str]:
    """The milestones the tour shows: its trained weights, else its recipe."""
    missing = [n for n in names if n not in tour.tour_names()]
    if missing:
        raise SystemExit(f"keras-history: error: {', '.join(missing)} has neither shipped "
                         f"weights nor a recipe on data shipped with the package; the tour "
                         f"shows: {', '.join(tour.tour_names())}.")
    return names


def _sets_text(name: str) -> str:
    return ", ".join(shipped.names(name))


def cmd_list(args: argparse.Namespace) -> int:
    rows = [[str(m.number), year_text(m.year), m.inventor, m.title, f"models.{m.name}()",
             _sets_text(m.name)] for m in TIMELINE]
    print(_table(["#", "year", "inventor", "milestone", "factory", "weights="], rows))
    print("\nweights=: the trained weight sets a factory loads by name (keras-history verify "
          "NAME measures one again; \"imagenet\" is keras.applications' file, \"snippet\" "
          "the seed snippet's starting weights).")
    return 0


def cmd_tour(args: argparse.Namespace) -> int:
    _check_names(args.parser, args.names)
    tour = _import_keras(getattr(args, "backend", None))
    import keras

    names = _shown(tour, args.names or tour.tour_names())
    what = "every milestone" if not args.names else ", ".join(names)
    print(f"Showing {what}: trained weights where the package ships them, else trained on "
          f"its own data (Keras backend: {keras.backend.backend()}, seed {args.seed})...\n",
          flush=True)
    rows = tour.run_tour(names, seed=args.seed)
    print(_table(["milestone", "result", "reference", "check", "seconds"],
                 [[n, got, ref, "pass" if ok else "FAIL", f"{s:.2f}"]
                  for n, got, ref, ok, s in rows]))
    total = sum(r[4] for r in rows)
    failed = [r[0] for r in rows if not r[3]]
    print(f"\n{len(rows) - len(failed)}/{len(rows)} reproduced, "
          f"{total:.2f} s of training and checking.")
    if args.plots:
        from keras_history import figures

        # The convnet's figures train as long as its tour recipe: 3 epochs of the sample.
        epochs = tour.RECIPES["mnist_convnet"].epochs
        for path in figures.save(names, args.plots, seed=args.seed, epochs=epochs):
            print(f"wrote {path}")
    return 1 if failed else 0


def cmd_train(args: argparse.Namespace) -> int:
    _check_names(args.parser, [args.name])
    if args.save and not args.save.endswith(".keras"):
        args.parser.error(f"argument --save: {args.save!r} must end in .keras (the whole model)")
    tour = _import_keras(getattr(args, "backend", None))
    import keras

    (recipe,) = _recipes(tour, [args.name])
    try:
        run = recipe.run(seed=args.seed, verbose=1, epochs=args.epochs,
                         batch_size=args.batch_size, data=args.data)
        source = f" on {tour.load_images(run.data)[0]}" if recipe.images else ""
    except (OSError, ValueError) as error:  # --data for a model without images, bad files
        raise SystemExit(f"keras-history train: error: {error}") from error
    if recipe.trains:
        print(f"Training {args.name}{source}: {run.epochs} epoch(s), batch size "
              f"{run.batch_size or 32}, seed {run.seed}, Keras backend "
              f"{keras.backend.backend()}.", flush=True)
    else:
        print(f"Building {args.name}, untrained: its data set is not in the package, so its "
              f"recipe checks the net itself (Keras backend {keras.backend.backend()}).",
              flush=True)
    model, (measured, reference, ok) = recipe.train_and_check(run)
    if args.save:
        model.save(args.save)
        state = "trained" if recipe.trains else "untrained"
        print(f"\nSaved the {state} model to {args.save} (keras_history.load_model reads it).")
    if not recipe.is_default(run):
        print(f"\n{args.name}: {measured}\n(the reference, {reference}, is for the recipe's "
              "own epochs, batch size and data)")
        return 0
    print(f"\n{args.name}: {measured}\nreference: {reference}\n"
          f"{'reproduced' if ok else 'NOT reproduced'}")
    return 0 if ok else 1


def _recorded(weight_set) -> str:
    return (f"{weight_set.value:.4f} recorded {weight_set.date} on {weight_set.test_set} "
            f"({weight_set.backend})")


def cmd_verify(args: argparse.Namespace) -> int:
    _check_names(args.parser, [args.name])
    sets = shipped.available(args.name)
    if not sets:
        with_sets = ", ".join(dict.fromkeys(s.factory for s in shipped.available()))
        args.parser.error(f"{args.name} has no shipped weights; these do: {with_sets}")
    if args.weights:
        try:
            sets = [shipped.get(args.name, args.weights)]
        except ValueError as error:
            args.parser.error(str(error))
    _import_keras(getattr(args, "backend", None))
    from keras_history.weights.evaluation import verify

    failed = 0
    for weight_set in sets:
        print(f"Measuring {weight_set}'s {weight_set.metric} "
              f"{'on ' + args.data if args.data else 'on the data embedded in the package'}...",
              flush=True)
        try:
            value, source, _ = verify(args.name, weight_set.name, args.data)
        except (OSError, ValueError) as error:  # a bad file, missing data, a changed hash
            print(f"keras-history verify: error: {error}", file=sys.stderr)
            return 1
        same_data = source == weight_set.test_set
        agrees = round(value, 6) == weight_set.value  # recorded to 6 digits
        failed += same_data and not agrees
        verdict = ("" if not same_data else
                   " (agrees)" if agrees else " (DIFFERS from the recorded number)")
        print(f"{weight_set}: {weight_set.metric} {value:.4f} now on {source}{verdict} | "
              f"{_recorded(weight_set)} | paper: {weight_set.paper}")
    return 1 if failed else 0


_HOW_TO_READ = {
    "savedmodel": "Inspect it with: saved_model_cli show --dir {path} --all",
    "onnx": "Run it with: onnxruntime.InferenceSession(\"{path}\")",
    "litert": "Run it with: ai_edge_litert.interpreter.Interpreter(model_path=\"{path}\")",
}
_RUNTIME = {"savedmodel": "the reloaded SavedModel", "onnx": "onnxruntime",
            "litert": "the LiteRT interpreter"}


def _model_to_export(args: argparse.Namespace, tour) -> tuple:
    """The model `export` writes, and a line saying what it was trained on."""
    from keras_history.timeline import get

    factory = get(args.name).factory
    own_sets = {s.name: s for s in shipped.available(args.name)}
    chosen = args.weights or (None if args.data else next(iter(own_sets), None))
    if chosen is not None:
        model = factory(weights=chosen)
        if chosen not in own_sets:
            return model, f"{args.name} with the weights {chosen}"
        weight_set = own_sets[chosen]
        return model, (f"{weight_set}, trained on {weight_set.task} by `{weight_set.command}`; "
                       f"{weight_set.metric} {_recorded(weight_set)}")
    if args.name not in tour.RECIPES:
        raise ValueError(f"{args.name} has no shipped weights and no recipe on data shipped with "
                         f"the package: pass --weights FILE (a .weights.h5 or .keras file).")
    recipe = tour.RECIPES[args.name]
    run = recipe.run(verbose=1, data=args.data)
    if not recipe.trains:
        return recipe.train(run), (f"{args.name} UNTRAINED: its data set is not in the "
                                   "package (--weights FILE exports trained weights)")
    source = tour.load_images(run.data)[0] if recipe.images else "its own data"
    print(f"Training {args.name} on {source} first ({run.epochs} epoch(s); --weights skips "
          "this).", flush=True)
    model, (measured, _, _) = recipe.train_and_check(run)
    return model, f"{args.name} trained by its tour recipe: {measured}"


def cmd_export(args: argparse.Namespace) -> int:
    from pathlib import Path

    if Path(args.path).exists() and not args.overwrite:  # before any training
        print(f"keras-history export: error: {args.path} exists; pass --overwrite to write "
              "over it.", file=sys.stderr)
        return 1
    tour = _import_keras(getattr(args, "backend", None))
    from keras_history.saving import ExportMismatchError, export

    try:
        model, provenance = _model_to_export(args, tour)
        print(f"Exporting to {args.path} ({args.format}) and checking it...", flush=True)
        path = export(model, args.path, format=args.format)
    except (OSError, ValueError, ImportError, ExportMismatchError) as error:
        # A bad weights file, a missing runtime or a failed check is the user's answer,
        # not a traceback.
        print(f"keras-history export: error: {error}", file=sys.stderr)
        return 1
    print(f"Exported {args.name} to {path}: {_RUNTIME[args.format]} matches model.predict.\n"
          f"The model: {provenance}\n" + _HOW_TO_READ[args.format].format(path=path))
    return 0


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return int(text)


def _seed(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    backend = argparse.ArgumentParser(add_help=False)
    backend.add_argument(
        "--backend", choices=BACKENDS, default=argparse.SUPPRESS,
        help="the Keras backend (default: $KERAS_BACKEND, else Keras's own setting, "
             "tensorflow unless ~/.keras/keras.json says otherwise)")
    parser = argparse.ArgumentParser(
        prog="keras-history", parents=[backend],
        description="The history of deep learning as runnable Keras models.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="print the timeline").set_defaults(func=cmd_list)
    tour = sub.add_parser(
        "tour", parents=[backend],
        help="train every milestone and compare with the original numbers")
    tour.add_argument("names", nargs="*", metavar="NAME",
                      help=f"only these milestones ({', '.join(NAMES)})")
    tour.add_argument("--seed", type=_seed, default=0,
                      help="the random seed every milestone starts from (default: 0)")
    tour.add_argument("--plots", metavar="DIR",
                      help="also write each milestone's figures as PNG files in DIR "
                           "(needs matplotlib: pip install 'keras-history[docs]')")
    tour.set_defaults(func=cmd_tour, parser=tour)
    train = sub.add_parser("train", parents=[backend],
                           help="train one milestone with progress output")
    train.add_argument("name", metavar="NAME", help=", ".join(NAMES))
    train.add_argument("--epochs", type=_positive_int,
                       help="Keras epochs (default: the recipe's own)")
    train.add_argument("--batch-size", type=_positive_int,
                       help="samples per batch (default: the recipe's own)")
    train.add_argument("--seed", type=_seed, default=0,
                       help="random seed for weights, batch order, dropout (default: 0)")
    train.add_argument("--data", metavar="PATH",
                       help="image models: a folder of the four MNIST or Fashion-MNIST IDX "
                            "files (default: the MNIST sample shipped in the package)")
    train.add_argument("--save", metavar="PATH",
                       help="keep the trained model as a .keras file")
    train.set_defaults(func=cmd_train, parser=train)
    verify = sub.add_parser(
        "verify", parents=[backend],
        help="measure a shipped weight set again: now, when it was made, and the paper")
    verify.add_argument("name", metavar="NAME", help="a milestone with trained weights ("
                        + ", ".join(dict.fromkeys(s.factory for s in shipped.available()))
                        + ")")
    verify.add_argument("--weights", metavar="SET", help="the set (default: each of its sets)")
    verify.add_argument("--data", metavar="PATH",
                        help="the data set's folder of IDX files: measure on its full test set "
                             "(default: the data embedded in the package)")
    verify.set_defaults(func=cmd_verify, parser=verify)
    export = sub.add_parser(
        "export", parents=[backend],
        help="export a milestone (SavedModel, ONNX, LiteRT), checked in its runtime")
    export.add_argument("name", choices=NAMES, metavar="NAME", help=", ".join(NAMES))
    export.add_argument("path", help="the SavedModel folder, or .onnx / .tflite file, to write")
    export.add_argument("--format", choices=["savedmodel", "onnx", "litert"],
                        default="savedmodel", help="the artifact's format (default: savedmodel)")
    export.add_argument("--weights", metavar="SET|FILE",
                        help="a shipped weight set's name or a .weights.h5/.keras file (default: "
                             "its shipped set if it has one, else train it on its own data)")
    export.add_argument("--data", metavar="PATH",
                        help="train on this folder of IDX files first (image models; default: "
                             "the shipped weights, else the MNIST sample in the package)")
    export.add_argument("--overwrite", action="store_true",
                        help="write over PATH if it exists (else: refuse)")
    export.set_defaults(func=cmd_export)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
