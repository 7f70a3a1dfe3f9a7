"""Train a milestone data-parallel on the JAX backend, and time it (issue 12).

One process over N devices (on CPU, N host devices that XLA makes of one
machine's cores; on a GPU machine, its GPUs), or N processes on this machine
joined by `keras.distribution.initialize`, each feeding its share of every
global batch:

    python scripts/train_distributed.py mnist_convnet --devices 2
    python scripts/train_distributed.py mnist_convnet --processes 2 [--port 12355]
    python scripts/train_distributed.py mnist_convnet --compare 1 2   # one table

`--data PATH` trains on a folder of full MNIST (default: the embedded sample);
`--epochs`, `--batch-size` (the global batch) as in `fit`. Each run trains one
warm-up epoch (compilation) and times the next; the table gives images per
second and the final loss. For real hosts, start one process per host with the
same `--processes`, its own `--process-id` and the first host's address in
`--coordinator` (docs/distribution.md).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time

import numpy as np


def worker(args: argparse.Namespace) -> dict:
    """Train `args.model` data-parallel in this process; process 0 returns the result."""
    import jax

    if args.processes > 1:
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    import keras

    import keras_history
    from keras_history import datasets

    if args.processes > 1:
        keras.distribution.initialize(job_addresses=args.coordinator,
                                      num_processes=args.processes, process_id=args.process_id)
    devices = jax.devices()
    if len(devices) > 1:  # the data is already this process's share: no tf.data sharding
        keras.distribution.set_distribution(keras.distribution.DataParallel(
            devices=devices, auto_shard_dataset=args.processes == 1))
    (x, y), _ = (datasets.mnist.load_data(args.data) if args.data
                 else datasets.mnist.load_sample())
    samples = len(x) - len(x) % args.batch_size  # whole global batches only
    share = args.batch_size // args.processes
    rows = np.arange(samples).reshape(-1, args.processes, share)[:, args.process_id].ravel()
    keras.utils.set_random_seed(0)
    model = getattr(keras_history.models, args.model)()
    times = []

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.start)

    history = model.fit(x[rows], y[rows], batch_size=share, epochs=args.epochs + 1,
                        shuffle=False, verbose=0, callbacks=[EpochTimer()])
    return {"devices": len(devices), "processes": args.processes,
            "images_per_s": samples / min(times[1:]), "loss": history.history["loss"][-1]}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def launch(args: argparse.Namespace, devices: int, processes: int) -> dict:
    """Start the run's processes (JAX fixes its devices when it starts) and wait for them."""
    env = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "3"}
    if devices > 1:
        env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    coordinator = args.coordinator or f"127.0.0.1:{free_port()}"
    common = [sys.executable, os.path.abspath(__file__), args.model, "--worker",
              "--processes", str(processes), "--coordinator", coordinator,
              "--epochs", str(args.epochs), "--batch-size", str(args.batch_size)]
    common += ["--data", args.data] if args.data else []
    children = [subprocess.Popen(common + ["--process-id", str(i)], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for i in range(processes)]
    try:
        outputs = [child.communicate(timeout=args.timeout) for child in children]
    finally:  # a worker that cannot reach its peer must not outlive the launcher
        for child in children:
            child.kill()
    for child, (_, stderr) in zip(children, outputs):
        if child.returncode != 0:
            raise SystemExit(f"a worker failed ({child.returncode}):\n{stderr[-3000:]}")
    return json.loads(outputs[0][0].strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a factory of keras_history.models, e.g. mnist_convnet")
    parser.add_argument("--devices", type=int, default=1, help="devices of one process")
    parser.add_argument("--processes", type=int, default=1, help="processes on this machine")
    parser.add_argument("--compare", type=int, nargs="+", metavar="N",
                        help="time N devices of one process for each N, in one table")
    parser.add_argument("--data", help="a folder of full MNIST (default: the embedded sample)")
    parser.add_argument("--epochs", type=int, default=1, help="timed epochs after a warm-up")
    parser.add_argument("--batch-size", type=int, default=64, help="the global batch")
    parser.add_argument("--coordinator", help="host:port of process 0 (default: a free port "
                        "on 127.0.0.1)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds before giving up")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--process-id", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        result = worker(args)
        if args.process_id == 0:
            print(json.dumps(result))
        return 0
    for count in (args.compare or []) + [args.devices, args.processes]:
        if count < 1 or args.batch_size % count:
            raise SystemExit(f"--batch-size {args.batch_size} must split evenly over {count} "
                             "devices or processes.")
    runs = ([(n, 1) for n in args.compare] if args.compare
            else [(args.devices, args.processes)])
    results = [launch(args, devices, processes) for devices, processes in runs]
    print(f"{args.model} on {args.data or 'the embedded MNIST sample'}, global batch "
          f"{args.batch_size}, JAX, {os.cpu_count()} cores")
    print(f"{'processes':>9} {'devices':>8} {'images/s':>10} {'vs first':>9} {'loss':>8}")
    for result in results:
        print(f"{result['processes']:>9} {result['devices']:>8} {result['images_per_s']:>10.0f} "
              f"{result['images_per_s'] / results[0]['images_per_s']:>8.2f}x "
              f"{result['loss']:>8.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
