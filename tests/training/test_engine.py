"""The Dask queue: on the cluster it starts here and on a real one of separate processes,
models come back exactly as trained here and land in this process's cache only; the largest
go first; a worker killed mid-job costs that job's progress only; a worker that would give a
model another cache key refuses it. Real processes, on 127.0.0.1 only, each test stopping
what it started."""

from __future__ import annotations

import json
import os
import platform
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from rnnreport.training import mnist
from rnnreport.training.engine import Job, train_jobs
from rnnreport.training.mnist import cache_key, pending, train_many, trained_model

from ..processes import settle
from .helpers import TINY

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _as_trained_here(config, data) -> None:
    """The cached model of ``config`` is the one this process trains: equal results and,
    bit for bit, equal weights."""
    a = trained_model(config, data=data)
    b = trained_model(config, data=data, use_cache=False)
    assert a[1].cached and a[1] == b[1]
    wa, wb = a[0].state_dict(), b[0].state_dict()
    assert wa.keys() == wb.keys()
    for name in wa:
        assert torch.equal(wa[name], wb[name]), name


def test_train_many_trains_on_the_embedded_cluster(data, capfd) -> None:
    configs = [TINY, replace(TINY, cell="lstm")]
    results = train_many(configs, data=data, progress="lines", workers=2)
    err = capfd.readouterr().err  # the terminal's stderr, not sys.stderr (see progress.say)
    assert "training 2 models on 2 Dask workers (tcp://127.0.0.1:" in err
    assert f"lstm-1x8 seed 0: epoch 1/{TINY.epochs} train loss" in err  # a worker's line
    assert "rnnreport: 1 of 2 models trained, 1 left, about " in err and "(an estimate)" in err
    assert "rnnreport: 2 of 2 models trained, 0 left\n" in err
    # the workers sent their models back; this process stored them, then read them back
    assert [r.cached for r in results] == [True, True]
    assert [r.config for r in results] == configs
    for config in configs:  # one thread everywhere: exactly what this process would train
        _as_trained_here(config, data)


def test_the_queue_starts_with_the_largest_model(data, capfd) -> None:
    configs = [replace(TINY, units=u, limit=200, epochs=1) for u in (8, 64, 16, 64)]
    train_jobs(pending(configs, data), workers=1, progress="lines")
    lines = capfd.readouterr().err.splitlines()
    order = [int(line.split("-1x")[1].split()[0]) for line in lines if "epoch 1/1" in line]
    assert order == [64, 16, 8]  # the duplicate once, the largest first


def test_a_job_is_refused_where_its_key_would_differ(data, capfd) -> None:
    """A worker whose environment gives another key (here: another torch) says so in one
    line; nothing is cached, under either key."""
    key = {**cache_key(TINY, data), "torch": "1.0.0"}
    job = Job.of(TINY, mnist.__name__, key)
    train_jobs([job, *pending([replace(TINY, seed=1)], data)], workers=2, progress="off")
    err = capfd.readouterr().err
    refused = [line for line in err.splitlines() if "gru-1x8 seed 0" in line]
    assert len(refused) == 1, err
    assert "cannot train gru-1x8 seed 0 as asked: its torch is " in refused[0]
    assert f"'{torch.__version__}', the client's '1.0.0'" in refused[0]
    assert "(install the same release of rnnreport, torch and numpy" in refused[0]
    assert not job.path.exists() and not mnist.cache_path(TINY, data).exists()
    assert mnist.cache_path(replace(TINY, seed=1), data).exists()  # the other job: trained


def test_ctrl_c_stops_the_cluster_and_the_next_run_resumes(data, private_cache) -> None:
    """Interrupted while the workers train: the queue is cancelled, the cluster stopped, no
    process of it is left; run again, each model resumes from its last finished epoch."""
    configs = [replace(TINY, cell="lstm", units=32, limit=5000, epochs=3, seed=s) for s in (0, 1)]
    script = (
        "from rnnreport.training.mnist import train_many\n"
        "from rnnreport.model.classifier import ModelConfig\n"
        f"train_many([{', '.join(map(repr, configs))}], progress='lines', workers=2)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    client = subprocess.Popen([sys.executable, "-c", script], env=env, stderr=subprocess.PIPE,
                              text=True, start_new_session=True)  # fmt: skip
    while "epoch 1/3" not in (line := client.stderr.readline()):
        assert line, "the queue ended before a worker finished an epoch"
    os.killpg(client.pid, signal.SIGINT)
    rest = client.communicate(timeout=60)[1]
    assert client.returncode != 0
    assert "Traceback" not in rest and "interrupted" in rest, rest
    settle(private_cache)
    again = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                           text=True, timeout=600)  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert "rnnreport: resuming lstm-1x32-s" in again.stderr  # a worker's line, shown here
    assert "rnnreport: 2 of 2 models trained" in again.stderr


# -- a real cluster: a scheduler and workers started by hand --------------------------------


@contextmanager
def dask_cluster(tmp_path: Path, workers: dict[str, dict[str, str]]) -> Iterator[dict]:
    """``dask scheduler`` and one ``dask worker --nthreads 1`` per entry of ``workers``
    (name: changes to its environment), on 127.0.0.1, each worker with its own HOME and
    RNNREPORT_CACHE; yields the scheduler's address and the workers' processes."""
    scheduler_file = tmp_path / "scheduler.json"
    base = {**os.environ, "PYTHONPATH": str(ROOT), "DASK_LOGGING__DISTRIBUTED": "error"}
    processes: dict[str, subprocess.Popen] = {}
    stack = ExitStack()
    try:
        processes["scheduler"] = subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
             "--port", "0", "--no-dashboard", "--scheduler-file", str(scheduler_file)],
            env=base, start_new_session=True,
        )  # fmt: skip
        address = _address(scheduler_file, processes["scheduler"])
        for name, changes in workers.items():
            home = tmp_path / name
            env = {**base, "HOME": str(home), "RNNREPORT_CACHE": str(home / "cache"), **changes}
            home.mkdir()
            log = stack.enter_context(open(home / "worker.log", "w"))  # noqa: SIM115 (closed by stack)
            processes[name] = subprocess.Popen(
                [sys.executable, "-m", "distributed.cli.dask_worker", address, "--host",
                 "127.0.0.1", "--nthreads", "1", "--no-dashboard", "--name", name,
                 "--local-directory", str(home / "scratch")],
                env=env, start_new_session=True, stderr=log,
            )  # fmt: skip
        from distributed import Client

        if workers:
            with Client(address, timeout="30s") as client:
                client.wait_for_workers(len(workers), timeout=60)
        yield {"address": address, "processes": processes}
    finally:
        for process in reversed(processes.values()):
            process.terminate()
        for process in processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        stack.close()


def _address(scheduler_file: Path, process: subprocess.Popen) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "the scheduler ended"
        try:
            return json.loads(scheduler_file.read_text())["address"]
        except (OSError, ValueError, KeyError):
            time.sleep(0.1)
    raise TimeoutError("the scheduler did not start")


def _entries(cache: Path) -> list[Path]:
    return sorted((cache / "runs").glob("*.pt")) if (cache / "runs").is_dir() else []


def test_a_real_cluster_trains_into_the_clients_cache_only(
    data, tmp_path, private_cache, monkeypatch
) -> None:
    configs = [replace(TINY, cell=c, seed=s) for c in ("gru", "lstm") for s in (0, 1)]
    with dask_cluster(tmp_path, {"w1": {}, "w2": {}}) as cluster:
        monkeypatch.setenv("RNNREPORT_SCHEDULER", cluster["address"])
        results = train_many(configs, data=data, progress="off")
    assert [r.cached for r in results] == [True] * 4
    assert len(_entries(private_cache)) == 4
    for worker in ("w1", "w2"):  # no entry on the workers: their checkpoints only
        assert not _entries(tmp_path / worker / "cache")
    monkeypatch.delenv("RNNREPORT_SCHEDULER")
    for config in configs:  # equal, bit for bit, to the model trained here
        _as_trained_here(config, data)


def test_a_worker_without_a_compiler_refuses_and_nothing_is_cached_wrong(
    data, tmp_path, private_cache, monkeypatch, capfd
) -> None:
    no_compiler = {"PATH": str(Path(sys.executable).parent)}
    with dask_cluster(tmp_path, {"bare": no_compiler}) as cluster:
        monkeypatch.setenv("RNNREPORT_SCHEDULER", cluster["address"])
        train_jobs(pending([TINY], data), progress="off")
    err = capfd.readouterr().err
    refused = [line for line in err.splitlines() if "cannot train" in line]
    assert len(refused) == 1 and "its compiled_steps is None, the client's 'c-" in refused[0], err
    assert "(install a C compiler (cc or gcc) on every machine or on none)" in refused[0]
    assert not _entries(private_cache)
    assert not _entries(tmp_path / "bare" / "cache")


def test_a_scheduler_without_workers_is_one_line(tmp_path, monkeypatch, data) -> None:
    from rnnreport import settings
    from rnnreport.training import cluster

    monkeypatch.setattr(cluster, "START_TIMEOUT", 1.0)
    with dask_cluster(tmp_path, {}) as running:
        monkeypatch.setenv("RNNREPORT_SCHEDULER", running["address"])
        with pytest.raises(settings.SettingError, match="has no workers: start them with"):
            train_jobs(pending([TINY], data), progress="off")


def test_a_worker_killed_mid_job_costs_that_job_only(data, tmp_path, private_cache) -> None:
    """kill -9 of a worker while it trains: the job runs again on another worker, and every
    model comes back, exactly as trained here."""
    configs = [replace(TINY, cell="lstm", units=32, limit=3000, epochs=2, seed=s) for s in range(3)]
    with dask_cluster(tmp_path, {"w1": {}, "w2": {}}) as cluster:
        script = (
            "from rnnreport.training.mnist import train_many\n"
            "from rnnreport.model.classifier import ModelConfig\n"
            f"train_many([{', '.join(map(repr, configs))}], progress='lines')\n"
        )
        env = {**os.environ, "PYTHONPATH": str(ROOT), "RNNREPORT_SCHEDULER": cluster["address"]}
        client = subprocess.Popen([sys.executable, "-c", script], env=env, stderr=subprocess.PIPE,
                                  text=True)  # fmt: skip
        while "epoch 1/2" not in (line := client.stderr.readline()):
            assert line, "the queue ended before a worker finished an epoch"
        victim = _worker_process(cluster["processes"]["w1"].pid)
        os.kill(victim, signal.SIGKILL)
        err = client.communicate(timeout=300)[1]
        assert client.returncode == 0, err
    assert "rnnreport: 3 of 3 models trained, 0 left" in err
    for config in configs:
        _as_trained_here(config, data)


def test_a_worker_of_the_embedded_cluster_killed_mid_job_is_started_again(
    data, private_cache
) -> None:
    """The cluster on this machine, of one worker: kill -9 of it while it trains, and
    another takes its place; the queue completes, every model as trained here."""
    import psutil

    configs = [replace(TINY, cell="lstm", units=32, limit=3000, epochs=2, seed=s) for s in (0, 1)]
    script = (
        "from rnnreport.data import load_mnist\n"
        "from rnnreport.model.classifier import ModelConfig\n"
        "from rnnreport.training.engine import train_jobs\n"
        "from rnnreport.training.mnist import pending\n"
        f"train_jobs(pending([{', '.join(map(repr, configs))}], load_mnist()), workers=1)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    client = subprocess.Popen([sys.executable, "-c", script], env=env, stderr=subprocess.PIPE,
                              text=True)  # fmt: skip
    try:
        while "epoch 1/2" not in (line := client.stderr.readline()):
            assert line, "the queue ended before the worker finished an epoch"
        workers = []
        for child in psutil.Process(client.pid).children():
            with suppress(psutil.Error):
                if "distributed.cli.dask_worker" in child.cmdline():
                    workers.append(child)
        assert len(workers) == 1
        workers[0].send_signal(signal.SIGKILL)
        err = client.communicate(timeout=300)[1]
    finally:
        client.kill()
        client.wait()
    assert client.returncode == 0, err
    assert "rnnreport: a Dask worker on this machine ended (exit -9); starting another" in err
    assert "rnnreport: 2 of 2 models trained, 0 left" in err
    settle(private_cache)
    for config in configs:
        _as_trained_here(config, data)


def _worker_process(nanny: int) -> int:
    """The process that runs the tasks: the child a ``dask worker``'s nanny started."""
    import psutil

    children = psutil.Process(nanny).children(recursive=True)
    workers = [c for c in children if "python" in c.name().lower()]
    assert workers, "the nanny has no worker process"
    return workers[-1].pid


_FAULTS = """
import resource, sys, torch
from torch.nn import functional as F
from rnnreport.model.classifier import ModelConfig, build_model
from rnnreport.training.engine import keep_freed_memory
if sys.argv[1] == "keep":
    assert keep_freed_memory()
torch.set_num_threads(1)
model = build_model(ModelConfig(cell="lstm", units=32))
adam = torch.optim.Adam(model.parameters())
x, y = torch.rand(256, 28, 28).round(), torch.randint(0, 10, (256,))
for step in range(25):  # training steps; the page faults of the last 20 are counted
    if step == 5:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    adam.zero_grad()
    F.cross_entropy(model(x), y, reduction="sum").backward()
    adam.step()
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 20)
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="a glibc setting")
def test_workers_keep_freed_memory_instead_of_faulting_it_in_again() -> None:
    """Training steps of LSTM-32 in a fresh process: by default glibc hands the step's
    freed buffers back and they fault in again next step; after keep_freed_memory() they are
    reused, with a fraction of the page faults (measured: 2 to 13 times fewer)."""

    def faults_per_step(mode: str) -> float:
        run = subprocess.run([sys.executable, "-c", _FAULTS, mode], capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        return float(run.stdout)

    default, keep = faults_per_step("default"), faults_per_step("keep")
    assert keep < default, (keep, default)


_MAIN_HEAP = """
def on_the_main_heap():  # whether this thread's malloc takes memory from the main heap
    import ctypes
    libc = ctypes.CDLL(None)
    libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
    address = libc.malloc(1000)
    libc.free(ctypes.c_void_p(address))
    with open("/proc/self/maps") as maps:
        for line in maps:
            if line.rstrip().endswith("[heap]"):
                start, end = (int(x, 16) for x in line.split()[0].split("-"))
                return start <= address < end
    return False
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="a glibc setting")
def test_a_worker_trains_on_the_main_heap_as_a_process_of_its_own_would() -> None:
    """A Dask worker trains on a thread of its pool, which glibc gives an arena of its own
    (heaps it hands back as they shrink, so every step faults its buffers in again): a
    plain thread of a fresh process allocates outside the main heap. On a worker of the
    embedded cluster (one arena) the training thread allocates from the main heap, where
    keep_freed_memory keeps what a step frees."""

    from rnnreport.training import cluster

    here = subprocess.run(  # a plain thread, glibc as it comes: another arena
        [sys.executable, "-c", _MAIN_HEAP + "import threading\n"
         "t = threading.Thread(target=lambda: print(on_the_main_heap())); t.start(); t.join()"],
        env={k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert here.stdout.strip() == "False", here.stderr  # the check tells the two apart
    namespace: dict = {}
    exec(_MAIN_HEAP, namespace)  # sent to the worker by value: a function of no module
    with cluster.connect(1) as client:
        assert client.submit(namespace["on_the_main_heap"], pure=False).result()
