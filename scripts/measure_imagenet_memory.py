"""Peak memory of one training step at the papers' input sizes, on the CPU.

    python scripts/measure_imagenet_memory.py [--batch-size 4] [--models alexnet vgg16 resnet50]

Each net runs in a fresh process: build and compile it (the factory's SGD
with momentum), take one training step on random uint8 images of the
paper's size, and report the process's resident memory before the step
and its peak (ru_maxrss, which includes the framework itself). The
difference is what one step of that batch adds: activations, gradients
and the momentum buffers. KERAS_BACKEND picks the backend. Record the
results on the milestone pages with the batch size.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

SIZES = {"alexnet": 227, "vgg16": 224, "resnet50": 224, "resnet": 32}

STEP = r"""
import json, resource, sys, numpy as np
import keras
from keras_history import models

def rss_mib():
    with open("/proc/self/statm") as file:
        return int(file.read().split()[1]) * 4096 / 2**20

name, size, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
model = getattr(models, name)()
x = np.random.default_rng(0).integers(0, 256, (batch, size, size, 3), dtype=np.uint8)
y = np.arange(batch) % model.classes
before = rss_mib()
model.fit(x, y, batch_size=batch, epochs=1, verbose=0)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"name": name, "params": model.count_params(), "before_mib": before,
                  "peak_mib": peak}))
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--models", nargs="+", default=list(SIZES), choices=list(SIZES))
    args = parser.parse_args(argv)
    print(f"backend {os.environ.get('KERAS_BACKEND', 'tensorflow')}, batch {args.batch_size}")
    for name in args.models:
        done = subprocess.run([sys.executable, "-c", STEP, name, str(SIZES[name]),
                               str(args.batch_size)], capture_output=True, text=True)
        if done.returncode != 0:
            print(f"{name}: failed\n{done.stderr[-2000:]}")
            continue
        row = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"{name} at {SIZES[name]}×{SIZES[name]}: {row['params']:,} parameters; "
              f"{row['before_mib']:.0f} MiB before the step, peak {row['peak_mib']:.0f} MiB "
              f"(+{row['peak_mib'] - row['before_mib']:.0f} MiB)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
