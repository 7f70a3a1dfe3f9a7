"""Data-parallel training (docs/distribution.md).

JAX, one process: `keras.distribution.DataParallel`.
Every milestone's case is trained over the same global batches on one host
device and on two (XLA's forced host devices, in a worker process: JAX fixes
its device count at start-up), and must end with the same state and logs.
On JAX a rule is traced as one program over the global batch, and XLA
partitions it across the devices, inserting the reductions its sums need:
the update is the global batch's, never one device's. Measured on CPU:
differences of float32 summation order only (docs/distribution.md).

TensorFlow, one process: `tf.distribute.MirroredStrategy` over two logical CPUs,
the same comparison (backend.distributed_step says how each rule is split).
TensorFlow, two processes: `MultiWorkerMirroredStrategy` on 127.0.0.1, the same
comparison; and a worker killed by SIGKILL mid-training: its peer fails with a
clear message within seconds, and the restarted job resumes from
BackupAndRestore's backup and ends as the uninterrupted run.
JAX, two processes: `keras.distribution.initialize`, the same comparison.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import keras
import pytest
from cases import CASES
from data_parallel_worker import KILL_EPOCH, NOT_YET

TESTS = Path(__file__).resolve().parent
# Largest difference allowed, relative to each variable's and log's largest magnitude
# (absolute where that stays below 1).
TOLERANCE = 1e-5

BACKEND = keras.backend.backend()
on_jax = pytest.mark.skipif(BACKEND != "jax", reason="keras.distribution runs on JAX")

def _env(**extra) -> dict:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS.parent), str(TESTS)]),
            "TF_CPP_MIN_LOG_LEVEL": "3", **extra}


@pytest.fixture(scope="module")
def mirrored(tmp_path_factory):
    # Two logical CPUs exist only if asked for before TensorFlow starts: a process of its own.
    result = tmp_path_factory.mktemp("mirrored") / "result.json"
    done = subprocess.run([sys.executable, str(TESTS / "data_parallel_worker.py"), str(result),
                           "--mirrored"], env=_env(), capture_output=True, text=True,
                          timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(result.read_text())


on_tensorflow = pytest.mark.skipif(BACKEND != "tensorflow", reason="tf.distribute is TensorFlow's")


@on_tensorflow
def test_the_strategy_had_two_replicas(mirrored):
    assert mirrored["devices"] == 2


@on_tensorflow
@pytest.mark.parametrize("name", sorted(set(CASES) - NOT_YET))
def test_mirrored_strategy_trains_as_one_device(mirrored, name):
    result = mirrored[name]
    assert result["devices"] == [1, 2]  # each weight has a copy on both logical CPUs
    assert result["variables"][0] == result["variables"][1]
    assert result["log_names"][0] == result["log_names"][1]
    assert result["state"] <= TOLERANCE, result
    assert result["logs"] <= TOLERANCE, result


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    result = tmp_path_factory.mktemp("data_parallel") / "result.json"
    env = _env(KERAS_BACKEND="jax", XLA_FLAGS="--xla_force_host_platform_device_count=2")
    done = subprocess.run([sys.executable, str(TESTS / "data_parallel_worker.py"), str(result)],
                          env=env, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(result.read_text())


@on_jax
def test_the_worker_had_two_devices(compared):
    assert compared["devices"] == 2


@on_jax
@pytest.mark.parametrize("name", sorted(set(CASES) - NOT_YET))
def test_two_devices_train_as_one(compared, name):
    result = compared[name]
    assert result["devices"] == [1, 2]  # the data-parallel weights live on both devices
    assert result["variables"][0] == result["variables"][1]
    assert result["log_names"][0] == result["log_names"][1]
    assert result["state"] <= TOLERANCE, result
    assert result["logs"] <= TOLERANCE, result


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


# Several processes: every milestone, each process feeding its share of every global batch.
ACROSS_PROCESSES = sorted(set(CASES) - NOT_YET)


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
        assert compared[name]["state"] <= TOLERANCE, (name, compared[name])
        assert compared[name]["logs"] <= TOLERANCE, (name, compared[name])


def _tf_workers(result, names: list[str], *options: str) -> list[subprocess.Popen]:
    """Two MultiWorkerMirroredStrategy workers (data_parallel_worker.py) on free ports."""
    ports = ",".join(map(str, _free_ports(2)))
    return [subprocess.Popen(
        [sys.executable, str(TESTS / "data_parallel_worker.py"), str(result), *names,
         "--worker", str(i), "--ports", ports, *options],
        env=_env(KERAS_BACKEND="tensorflow"), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True) for i in range(2)]


# One pair of workers per milestone: a worker process that trains several models under
# MultiWorkerMirroredStrategy segfaults now and then in TensorFlow 2.21, after 2 to 8 of
# them (in Keras's epoch iterator, creating the next distributed dataset).
@on_tensorflow
@pytest.mark.parametrize("name", sorted(set(CASES) - NOT_YET))
def test_two_tensorflow_workers_train_as_one_device(tmp_path, name):
    workers = _tf_workers(tmp_path / "result.json", [name])
    errors = _finish(workers, timeout=600)
    assert [w.returncode for w in workers] == [0, 0], errors[0][-2000:] + errors[1][-2000:]
    compared = json.loads((tmp_path / "result.json").read_text())
    assert compared["devices"] == 2  # replicas in sync: one per worker
    assert compared[name]["variables"][0] == compared[name]["variables"][1]
    assert compared[name]["state"] <= TOLERANCE, compared[name]
    assert compared[name]["logs"] <= TOLERANCE, compared[name]


@on_tensorflow
def test_a_killed_worker_fails_its_peer_and_the_restarted_job_resumes(tmp_path):
    # A rule model and the convnet; the second dies: the first finished (its backup gone).
    names, killed = ["least_squares", "mnist_convnet"], "mnist_convnet"
    backup = tmp_path / "backup"
    first = _tf_workers(tmp_path / "unused.json", names, "--backup", str(backup), "--die", killed)
    try:
        first[1].wait(timeout=600)
        died = time.monotonic()
        stderr = first[0].communicate(timeout=120)[1]  # bounded: no hang on a lost peer
        waited = time.monotonic() - died
    finally:
        for worker in first:
            worker.kill()
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

    restarted = _tf_workers(tmp_path / "result.json", names, "--backup", str(backup))
    errors = _finish(restarted, timeout=600)
    assert [w.returncode for w in restarted] == [0, 0], errors[0][-2000:] + errors[1][-2000:]
    compared = json.loads((tmp_path / "result.json").read_text())
    assert compared[killed]["epochs"] == list(range(KILL_EPOCH, 2))  # resumed, not redone
    assert compared["least_squares"]["epochs"] == [0, 1]
    for name in names:  # and ended as one device's uninterrupted run
        assert compared[name]["state"] <= TOLERANCE, (name, compared[name])
        assert compared[name]["logs"] <= TOLERANCE, (name, compared[name])
