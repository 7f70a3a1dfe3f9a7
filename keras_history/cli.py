"""The `keras-history` command line: list, tour, train, export."""

from __future__ import annotations

import argparse
import sys

from keras_history import tour
from keras_history.timeline import TIMELINE, get


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows)]
    lines = [header, ["-" * w for w in widths], *rows]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(line, widths)).rstrip()
                     for line in lines)


def cmd_list(args: argparse.Namespace) -> int:
    rows = [[str(m.number), str(m.year), m.inventor, m.title, f"models.{m.name}()"]
            for m in TIMELINE]
    print(_table(["#", "year", "inventor", "milestone", "factory"], rows))
    return 0


def cmd_tour(args: argparse.Namespace) -> int:
    import keras

    print(f"Training every milestone on its own data (Keras backend: "
          f"{keras.backend.backend()})...\n", flush=True)
    rows = tour.run_tour(args.names or None)
    print(_table(["milestone", "result", "reference", "check", "seconds"],
                 [[n, got, ref, "pass" if ok else "FAIL", f"{s:.2f}"]
                  for n, got, ref, ok, s in rows]))
    total = sum(r[4] for r in rows)
    failed = [r[0] for r in rows if not r[3]]
    print(f"\n{len(rows) - len(failed)}/{len(rows)} reproduced, "
          f"{total:.2f} s of training and checking.")
    return 1 if failed else 0


def cmd_train(args: argparse.Namespace) -> int:
    recipe = tour.RECIPES[args.name]
    model = recipe.train(1)
    measured, reference, ok = recipe.check(model)
    print(f"\n{args.name}: {measured}\nreference: {reference}\n"
          f"{'reproduced' if ok else 'NOT reproduced'}")
    return 0 if ok else 1


_HOW_TO_READ = {
    "savedmodel": "Inspect it with: saved_model_cli show --dir {path} --all",
    "onnx": "Run it with: onnxruntime.InferenceSession(\"{path}\")",
    "litert": "Run it with: ai_edge_litert.interpreter.Interpreter(model_path=\"{path}\")",
}
_RUNTIME = {"savedmodel": "the reloaded SavedModel", "onnx": "onnxruntime",
            "litert": "the LiteRT interpreter"}


def cmd_export(args: argparse.Namespace) -> int:
    from pathlib import Path

    if Path(args.path).exists() and not args.overwrite:  # before any training
        print(f"keras-history export: error: {args.path} exists; pass --overwrite to write "
              "over it.", file=sys.stderr)
        return 1
    from keras_history.saving import ExportMismatchError, export, load_weights

    try:
        if args.weights:
            model = load_weights(get(args.name).factory(), args.weights)
        else:
            print(f"Training {args.name} on its own data first (pass --weights to skip).",
                  flush=True)
            model = tour.RECIPES[args.name].train(1)
        print(f"Exporting to {args.path} ({args.format}) and checking it...", flush=True)
        path = export(model, args.path, format=args.format)
    except (OSError, ValueError, ImportError, ExportMismatchError) as error:
        # A bad weights file, a missing runtime or a failed check is the user's answer,
        # not a traceback.
        print(f"keras-history export: error: {error}", file=sys.stderr)
        return 1
    print(f"Exported {args.name} to {path}: {_RUNTIME[args.format]} matches model.predict.\n"
          + _HOW_TO_READ[args.format].format(path=path))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="keras-history",
        description="The history of deep learning as runnable Keras models.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="print the timeline").set_defaults(func=cmd_list)
    tour_parser = sub.add_parser(
        "tour", help="train every milestone and compare with the original numbers")
    tour_parser.add_argument("names", nargs="*", choices=[[]] + list(tour.RECIPES),
                             metavar="NAME", help="only these milestones")
    tour_parser.set_defaults(func=cmd_tour)
    train = sub.add_parser("train", help="train one milestone with progress output")
    train.add_argument("name", choices=list(tour.RECIPES), metavar="NAME",
                       help=", ".join(tour.RECIPES))
    train.set_defaults(func=cmd_train)
    export = sub.add_parser(
        "export", help="export a milestone (SavedModel, ONNX, LiteRT), checked in its runtime")
    export.add_argument("name", choices=list(tour.RECIPES), metavar="NAME",
                        help=", ".join(tour.RECIPES))
    export.add_argument("path", help="the SavedModel folder, or .onnx / .tflite file, to write")
    export.add_argument("--format", choices=["savedmodel", "onnx", "litert"],
                        default="savedmodel", help="the artifact's format (default: savedmodel)")
    export.add_argument("--weights", help="a .weights.h5 file saved from the factory's "
                        "default model (else: train on the milestone's data)")
    export.add_argument("--overwrite", action="store_true",
                        help="write over PATH if it exists (else: refuse)")
    export.set_defaults(func=cmd_export)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
