"""The queue: models of any task trained as tasks of a Dask cluster, one queue for all.

:func:`train_jobs` submits each :class:`Job` to a ``dask.distributed`` client
(:func:`rnnreport.training.cluster.connect`: the user's cluster when they name a scheduler,
else one started on this machine, one worker process per core, one thread each), the
largest models first. A worker trains the job with its task module's ``train_job`` and
sends back the weights and the result; **only this process writes them into its cache**,
checked and renamed into place as every entry is (:mod:`rnnreport.training.store`), so no
file system is shared with the workers and no lock spans machines.

A job names the full cache key it must produce. A worker computes the key its own
environment gives (torch, numpy, device, C compiler, code, data) and refuses a job whose key
differs, with one line naming the difference (:class:`KeyMismatch`), instead of sending
back weights that would be filed under the wrong key. A job that fails is said in one line
and left to its task, which trains what the cache still lacks when its results are asked
for. A worker killed in the middle of a job costs that job alone: the scheduler gives it to
another worker. Each worker keeps an epoch checkpoint in its own cache, so a model
interrupted on this machine resumes from its last finished epoch.

The lines a worker's training writes (an epoch, a trained counter) come back to this
process's stderr, with how many models are trained and left and an estimate of the time
remaining (:class:`~rnnreport.training.progress.Tally`). Ctrl-C cancels the queue; the
embedded cluster is stopped, whatever ends the queue.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from . import cluster
from .progress import Tally, forwarded, say
from .records import Result, TrainConfig
from .store import entry_path, first_line, locked, read_entry, write_entry


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
        _run(client, jobs, "lines" if progress == "bar" else progress)


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
    futures = {
        client.submit(_train, job, progress, topics, key=job.path.stem, priority=-i): job
        for i, job in enumerate(ranked)
    }
    where = client.scheduler.address
    say(f"rnnreport: training {len(jobs)} models on {threads} Dask workers ({where})")
    try:
        for future in as_completed(futures):
            job = futures[future]
            try:
                weights, result = future.result()
            except Exception as error:  # any failure of a job is the same to the queue
                print(f"rnnreport: {job.name} was not trained on a worker: {first_line(error)}; "
                      "it will be trained here", file=sys.stderr, flush=True)  # fmt: skip
                continue
            _store(job, weights, Result.from_dict(result))
            now, begun = time.monotonic(), dict(started)  # a copy: the client's thread adds
            seconds = now - begun.get(job.config, now)
            running = {c: now - s for c, s in begun.items() if c not in tally.done}
            running.pop(job.config, None)
            tally.trained(job.config, seconds, running)
    finally:
        client.cancel(list(futures))


def _store(job: Job, weights: dict[str, torch.Tensor], result: Result) -> None:
    """Keep a worker's trained model in this process's cache, unless a valid entry is there."""
    path = job.path
    path.parent.mkdir(parents=True, exist_ok=True)
    with locked(path, job.config):
        if read_entry(path, job.config) is None:
            write_entry(path, weights, result)


def _train(
    job: Job, progress: str, topics: tuple[str, str]
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """On a worker: train ``job`` with its task's ``train_job``; its weights and result. The
    lines the training writes, and that it started, go to the client as events of
    ``topics``."""
    from distributed import get_worker

    worker = get_worker()
    keep_freed_memory()
    lines, started = topics
    worker.log_event(started, job.path.stem)
    task = importlib.import_module(job.module)
    with forwarded(lambda line: worker.log_event(lines, line)):
        model, result = task.train_job(job, progress)
    weights = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    return weights, result.to_dict()


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


def check_key(job: Job, key: dict[str, Any]) -> None:
    """Raise :class:`KeyMismatch` naming every part where ``key``, the one this worker's
    environment gives, differs from the one ``job`` asks for."""
    asked = json.loads(job.key)
    if key == asked:
        return
    parts = sorted(p for p in asked.keys() | key.keys() if asked.get(p) != key.get(p))
    here = os.uname().nodename if hasattr(os, "uname") else "a worker"
    raise KeyMismatch(
        f"the worker on {here} cannot train {job.name} as asked: its "
        + "; its ".join(
            f"{p} is {_short(key.get(p))}, the client's {_short(asked.get(p))}" for p in parts
        )  # fmt: skip
        + " (install the same versions and code on both, and a C compiler on both or neither)"
    )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
