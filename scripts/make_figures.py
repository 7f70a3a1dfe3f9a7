"""Make every figure of the docs from the package's real models and data.

    python scripts/make_figures.py                  # all, into docs/figures/
    python scripts/make_figures.py --data ../shared/data/mnist   # convnet on full MNIST
    python scripts/make_figures.py --quick --out /tmp/figures    # a few steps (CI)
    python scripts/make_figures.py capsnet --weights CHECKPOINT.keras   # Fig. 4, trained net

The figures are registered in `keras_history.figures.FIGURES` (one function
per milestone, plus the timeline); each says what it was trained on. The
convnet's figures use the embedded MNIST sample unless `--data` is given.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from keras_history import figures  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", choices=[[], *figures.FIGURES], metavar="NAME",
                        help=f"only these ({', '.join(figures.FIGURES)}); default: all")
    parser.add_argument("--out", default=str(ROOT / "docs" / "figures"),
                        help="folder for the PNG files (default: docs/figures)")
    parser.add_argument("--quick", action="store_true",
                        help="few steps and a small image subset, for a fast check")
    parser.add_argument("--data", help="convnet: a folder of MNIST or Fashion-MNIST IDX files")
    parser.add_argument("--epochs", type=int, help="convnet epochs (default: 10, quick: 1)")
    parser.add_argument("--weights", help="capsnet: a trained model (.keras, e.g. "
                        "scripts/benchmark_capsnet.py's checkpoint) for Fig. 4; default: a "
                        "shipped set, else no figure")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for name in args.names or list(figures.FIGURES):
        start = time.perf_counter()
        paths = figures.save([name], args.out, quick=args.quick, seed=args.seed,
                             data=args.data, epochs=args.epochs, weights=args.weights)
        print(f"{name}: {', '.join(p.name for p in paths)} "
              f"({time.perf_counter() - start:.1f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
