"""Train a milestone data-parallel, on JAX or TensorFlow, and time it (issue 12).

One process over N devices, or N processes on this machine, each one device:

    python scripts/train_distributed.py mnist_convnet --devices 2
    python scripts/train_distributed.py mnist_convnet --processes 2
    python scripts/train_distributed.py mnist_convnet --compare 1 2   # one table

The engine follows KERAS_BACKEND (or `--backend`): on JAX, `keras.distribution`
(N devices: on CPU, N host devices XLA makes of the machine's cores; several
processes: `keras.distribution.initialize`, each feeding its share of every
global batch); on TensorFlow, `tf.distribute` (N devices: `MirroredStrategy`,
on CPU over N logical devices; several processes: `MultiWorkerMirroredStrategy`
with TF_CONFIG, each feeding the whole data, of which tf.data gives it its share).
On a GPU machine the devices are its GPUs.

`--data PATH` trains on a folder of full MNIST (default: the embedded sample);
`--epochs`, `--batch-size` (the global batch) as in `fit`. Each run trains one
warm-up epoch (compilation) and times the next; the table gives images per
second and the final loss. For real hosts, start one process per host with the
same `--processes` and its own `--process-id`, and either the first host's
address in `--coordinator` (JAX) or every host's in `--workers` (TensorFlow)
(docs/distribution.md).
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
    if args.backend == "tensorflow":
        return tf_worker(args)
    import jax

    if args.processes > 1:
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    import keras

    if args.processes > 1:
        keras.distribution.initialize(job_addresses=args.coordinator,
                                      num_processes=args.processes, process_id=args.process_id)
    devices = jax.devices()
    if len(devices) > 1:  # the data is already this process's share: no tf.data sharding
        keras.distribution.set_distribution(keras.distribution.DataParallel(
            devices=devices, auto_shard_dataset=args.processes == 1))
    x, y, samples = _data(args)
    share = args.batch_size // args.processes
    rows = np.arange(samples).reshape(-1, args.processes, share)[:, args.process_id].ravel()
    return _timed_fit(args, _seeded_model(args), x[rows], y[rows], share, samples, len(devices))


def tf_worker(args: argparse.Namespace) -> dict:
    """The same on TensorFlow: `MirroredStrategy` over this process's devices, or
    `MultiWorkerMirroredStrategy` across the `--workers` processes."""
    if args.processes > 1:
        os.environ["TF_CONFIG"] = json.dumps({
            "cluster": {"worker": args.workers.split(",")},
            "task": {"type": "worker", "index": args.process_id}})
    import tensorflow as tf

    if args.processes > 1:
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    else:
        gpus = tf.config.list_physical_devices("GPU")
        if not gpus and args.devices > 1:  # logical CPUs, asked for before TensorFlow starts
            cpu = tf.config.list_physical_devices("CPU")[0]
            tf.config.set_logical_device_configuration(
                cpu, [tf.config.LogicalDeviceConfiguration()] * args.devices)
        names = ([f"/gpu:{i}" for i in range(len(gpus))] if gpus
                 else [f"/cpu:{i}" for i in range(args.devices)])
        strategy = (tf.distribute.MirroredStrategy(names) if len(names) > 1
                    else tf.distribute.get_strategy())
    x, y, samples = _data(args)
    with strategy.scope():  # its weights: a copy per replica
        model = _seeded_model(args)
    return _timed_fit(args, model, x[:samples], y[:samples], args.batch_size, samples,
                      strategy.num_replicas_in_sync)


def _seeded_model(args: argparse.Namespace):
    """A fresh `args.model`, its weights drawn from seed 0."""
    import keras

    import keras_history

    keras.utils.set_random_seed(0)
    return getattr(keras_history.models, args.model)()


def _data(args: argparse.Namespace) -> tuple:
    """MNIST (or the sample), and how many rows make whole global batches."""
    from keras_history import datasets

    (x, y), _ = (datasets.mnist.load_data(args.data) if args.data
                 else datasets.mnist.load_sample())
    return x, y, len(x) - len(x) % args.batch_size


def _timed_fit(args: argparse.Namespace, model, x, y, batch_size: int, samples: int,
               devices: int) -> dict:
    """Fit `model` for a warm-up epoch and `args.epochs` timed ones."""
    import keras

    times = []

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.start)

    history = model.fit(x, y, batch_size=batch_size, epochs=args.epochs + 1,
                        shuffle=False, verbose=0, callbacks=[EpochTimer()])
    return {"devices": devices, "processes": args.processes,
            "images_per_s": samples / min(times[1:]), "loss": history.history["loss"][-1]}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def launch(args: argparse.Namespace, devices: int, processes: int) -> dict:
    """Start the run's processes (JAX fixes its devices when it starts) and wait for them."""
    env = {**os.environ, "KERAS_BACKEND": args.backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    if devices > 1 and args.backend == "jax":
        env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    coordinator = args.coordinator or f"127.0.0.1:{free_port()}"
    workers = args.workers or ",".join(f"127.0.0.1:{free_port()}" for _ in range(processes))
    common = [sys.executable, os.path.abspath(__file__), args.model, "--worker",
              "--backend", args.backend, "--devices", str(devices),
              "--processes", str(processes), "--coordinator", coordinator, "--workers", workers,
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
    parser.add_argument("--backend", choices=["jax", "tensorflow"],
                        default=("tensorflow" if os.environ.get("KERAS_BACKEND") == "tensorflow"
                                 else "jax"),
                        help="the engine: keras.distribution (jax) or tf.distribute "
                        "(default: KERAS_BACKEND, else jax)")
    parser.add_argument("--coordinator", help="JAX: host:port of process 0 (default: a free "
                        "port on 127.0.0.1)")
    parser.add_argument("--workers", help="TensorFlow: every process's host:port, in process "
                        "order, comma-separated (default: free ports on 127.0.0.1)")
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
    engine = "JAX" if args.backend == "jax" else "TensorFlow"
    print(f"{args.model} on {args.data or 'the embedded MNIST sample'}, global batch "
          f"{args.batch_size}, {engine}, {os.cpu_count()} cores")
    print(f"{'processes':>9} {'devices':>8} {'images/s':>10} {'vs first':>9} {'loss':>8}")
    for result in results:
        print(f"{result['processes']:>9} {result['devices']:>8} {result['images_per_s']:>10.0f} "
              f"{result['images_per_s'] / results[0]['images_per_s']:>8.2f}x "
              f"{result['loss']:>8.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
