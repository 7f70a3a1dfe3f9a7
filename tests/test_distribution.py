"""Data-parallel training (docs/distribution.md), on both engines Keras has.

Every milestone's case (but ResNet-50's, docs) is trained over the same global
batches on one device and data-parallel, and must end with the same state and
logs, within TOLERANCE (float32 summation order: docs/distribution.md). For the
suite's time budget each case is checked on one of the two engines (`cases_on`:
half the milestones each) and two processes train a case of each kind
(`cases_across_processes`); KERAS_HISTORY_EVERY_BACKEND=1 checks all on both:

- one process, two devices: JAX's `keras.distribution.DataParallel` over two
  forced host devices, TensorFlow's `MirroredStrategy` over two logical CPUs;
- two processes on 127.0.0.1: JAX's `keras.distribution.initialize`, and
  TensorFlow's `MultiWorkerMirroredStrategy`;
- faults: a TensorFlow worker killed by SIGKILL mid-training; its peer fails
  with a clear message within seconds, and the restarted job resumes from
  BackupAndRestore's backup and ends as the uninterrupted run.

The update is always the global batch's, never one device's
(`backend.distributed_step` says how each engine gets there).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import keras
import pytest
from data_parallel_worker import KILL_EPOCH, cases_across_processes, cases_on

TESTS = Path(__file__).resolve().parent
# Largest difference allowed, relative to each variable's and log's largest magnitude
# (absolute where that stays below 1).
TOLERANCE = 1e-5

BACKEND = keras.backend.backend()
on_jax = pytest.mark.skipif(BACKEND != "jax", reason="keras.distribution runs on JAX")

def _env(**extra) -> dict:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS.parent), str(TESTS)]),
            "TF_CPP_MIN_LOG_LEVEL": "3", **extra}


def _same_as_one_device(result: dict) -> None:
    """One device's run against the data-parallel one: same variables and logs, the state
    and every log within TOLERANCE."""
    assert result["variables"][0] == result["variables"][1], result
    assert result["log_names"][0] == result["log_names"][1], result
    assert result["state"] <= TOLERANCE, result
    assert result["logs"] <= TOLERANCE, result


@pytest.fixture(scope="module")
def one_process(tmp_path_factory):
    """This backend's engine in one process over two devices, in a worker process: JAX fixes
    its device count when it starts, TensorFlow its logical devices."""
    result = tmp_path_factory.mktemp("one_process") / "result.json"
    if BACKEND == "jax":
        env, mode = _env(KERAS_BACKEND="jax",
                         XLA_FLAGS="--xla_force_host_platform_device_count=2"), []
    else:
        env, mode = _env(KERAS_BACKEND="tensorflow"), ["--mirrored"]
    done = subprocess.run([sys.executable, str(TESTS / "data_parallel_worker.py"), str(result),
                           *mode], env=env, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(result.read_text())


on_tensorflow = pytest.mark.skipif(BACKEND != "tensorflow", reason="tf.distribute is TensorFlow's")
on_engines = pytest.mark.skipif(BACKEND == "torch", reason="Keras distributes `fit` on JAX and "
                                "TensorFlow only (docs/distribution.md: why not PyTorch)")


@on_engines
def test_the_worker_had_two_devices(one_process):
    assert one_process["devices"] == 2


@on_engines
@pytest.mark.parametrize("name", cases_on("jax" if BACKEND == "jax" else "tensorflow"))
def test_two_devices_train_as_one(one_process, name):
    assert one_process[name]["devices"] == [1, 2]  # every weight lives on both devices
    _same_as_one_device(one_process[name])


def _free_ports(count: int) -> list[int]:
    probes = [socket.socket() for _ in range(count)]
    try:
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [probe.getsockname()[1] for probe in probes]
    finally:
        for probe in probes:
            probe.close()


def _finish(workers: list[subprocess.Popen], timeout: float) -> list[str]:
    """Wait for the workers; kill them whatever happens. Their stderr."""
    try:
        return [worker.communicate(timeout=timeout)[1] for worker in workers]
    finally:  # never leave a process (or its port) behind
        for worker in workers:
            worker.kill()


# Several processes, each feeding its share of every global batch: a case of each kind.
ACROSS_PROCESSES = cases_across_processes("jax")


@on_jax
def test_two_jax_processes_train_as_one_device(tmp_path):
    port, result = _free_ports(1)[0], tmp_path / "result.json"
    workers = [subprocess.Popen(
        [sys.executable, str(TESTS / "data_parallel_worker.py"), str(result), *ACROSS_PROCESSES,
         "--process-id", str(i), "--processes", "2", "--port", str(port)],
        env=_env(KERAS_BACKEND="jax"), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True) for i in range(2)]
    errors = _finish(workers, timeout=900)
    assert [w.returncode for w in workers] == [0, 0], errors[0][-2000:] + errors[1][-2000:]
    compared = json.loads(result.read_text())
    assert compared["devices"] == 2
    for name in ACROSS_PROCESSES:
        _same_as_one_device(compared[name])


def _tf_workers(result, names: list[str], *options: str) -> list[subprocess.Popen]:
    """Two MultiWorkerMirroredStrategy workers (data_parallel_worker.py) on free ports."""
    ports = ",".join(map(str, _free_ports(2)))
    return [subprocess.Popen(
        [sys.executable, str(TESTS / "data_parallel_worker.py"), str(result), *names,
         "--worker", str(i), "--ports", ports, *options],
        env=_env(KERAS_BACKEND="tensorflow"), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True) for i in range(2)]


def _tf_job(result, names: list[str], *options: str) -> tuple[list, list[str]]:
    """Run a pair of workers to the end. TensorFlow 2.21's MultiWorkerMirroredStrategy
    segfaults now and then in a worker (in Keras's epoch iterator, making a distributed
    dataset; docs/distribution.md): a job that crashed so is run once more, as a cluster
    manager restarts it, and only a second crash fails."""
    for attempt in range(2):
        workers = _tf_workers(result, names, *options)
        errors = _finish(workers, timeout=600)
        if -signal.SIGSEGV not in [w.returncode for w in workers]:
            break
        print(f"a worker segfaulted (attempt {attempt + 1}): running the job again")
    return workers, errors


# One pair of workers per milestone: a worker process that trains several models under
# MultiWorkerMirroredStrategy crashes more often in TensorFlow 2.21, after 2 to 8 of them.
@on_tensorflow
@pytest.mark.parametrize("name", cases_across_processes("tensorflow"))
def test_two_tensorflow_workers_train_as_one_device(tmp_path, name):
    workers, errors = _tf_job(tmp_path / "result.json", [name])
    assert [w.returncode for w in workers] == [0, 0], errors[0][-2000:] + errors[1][-2000:]
    compared = json.loads((tmp_path / "result.json").read_text())
    assert compared["devices"] == 2  # replicas in sync: one per worker
    _same_as_one_device(compared[name])


@on_tensorflow
def test_a_killed_worker_fails_its_peer_and_the_restarted_job_resumes(tmp_path):
    # A rule model and the convnet; the second dies: the first finished (its backup gone).
    names, killed = ["least_squares", "mnist_convnet"], "mnist_convnet"
    backup = tmp_path / "backup"
    for _ in range(2):  # once more if TensorFlow segfaults (see _tf_job)
        shutil.rmtree(backup, ignore_errors=True)
        first = _tf_workers(tmp_path / "unused.json", names, "--backup", str(backup),
                            "--die", killed)
        try:
            first[1].wait(timeout=600)
            died = time.monotonic()
            stderr = first[0].communicate(timeout=120)[1]  # bounded: no hang on a lost peer
            waited = time.monotonic() - died
        finally:
            for worker in first:
                worker.kill()
        if -signal.SIGSEGV not in [w.returncode for w in first]:
            break
    assert first[1].returncode == -signal.SIGKILL
    assert first[0].returncode == 1, stderr[-2000:]
    assert "MNISTConvNet lost a worker of its MultiWorkerMirroredStrategy job" in stderr, \
        stderr[-2000:]
    assert "Start every worker again" in stderr
    print(f"the survivor gave up {waited:.0f} s after its peer died")
    for worker in (0, 1):  # each worker's backup holds the epochs before the kill
        metadata = json.loads((backup / killed / f"worker{worker}" /
                               "training_metadata.json").read_text())
        assert metadata["epoch"] == KILL_EPOCH

    restarted, errors = _tf_job(tmp_path / "result.json", names, "--backup", str(backup))
    assert [w.returncode for w in restarted] == [0, 0], errors[0][-2000:] + errors[1][-2000:]
    compared = json.loads((tmp_path / "result.json").read_text())
    assert compared[killed]["epochs"] == list(range(KILL_EPOCH, 2))  # resumed, not redone
    assert compared["least_squares"]["epochs"] == [0, 1]
    for name in names:  # and ended as one device's uninterrupted run
        _same_as_one_device(compared[name])
