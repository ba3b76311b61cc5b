"""The worker pool: models of any task trained in parallel processes, one queue for all.

:func:`train_jobs` starts one ``python -m rnnreport.training.pool`` per core (no fork:
forking after torch's thread pool has started can hang), each on one thread, and hands
each the next :class:`Job` as soon as it answers for its last, the largest models first.
A worker (:func:`serve`) reads one job per line of stdin, gives it to the ``run_job`` of the
task module the job names, and answers with its exit status; the trained model goes to the
cache, where the task that asked for it reads it back. Nothing here depends on the task.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import asdict, dataclass
from typing import Any

import torch

from .. import settings
from .progress import Tally, say
from .records import (
    CPU_THREADS,
    TrainConfig,
    TrainingDiverged,
    TrainingOutOfMemory,
    class_name,
    config_class,
)


@dataclass(frozen=True)
class Job:
    """One model for a worker process to train into the cache: its config, the trainer
    module whose ``run_job`` trains it (see :func:`serve`), and the digest of the data it
    must train on ("" for a trainer that makes its own data)."""

    config: TrainConfig
    module: str
    data_digest: str = ""


def train_jobs(jobs: list[Job], workers: int | None = None, progress: str = "lines") -> None:
    """Train ``jobs`` (from any trainer) in ``workers`` processes (default: one per core),
    as one queue: the largest models first, the next handed to whichever worker finishes,
    so no core idles while models remain. A model asked for twice is trained once. As
    models finish, a line on stderr says how many are trained and left, with an estimate
    of the time remaining. A job whose worker fails is left to its trainer, which trains
    what the cache still lacks when its results are asked for."""
    jobs = list(dict.fromkeys(jobs))
    workers = default_workers(len(jobs)) if workers is None else workers
    if jobs:
        _run_workers(jobs, max(1, min(workers, len(jobs))), progress)


def default_workers(jobs: int) -> int:
    """Processes to train ``jobs`` models with: one per CPU core (each on one thread),
    since these small models use a core better alone than two threads share it; one on a GPU."""
    if torch.cuda.is_available():
        return 1
    return max(1, min(os.cpu_count() or 1, jobs))


def _run_workers(jobs: list[Job], workers: int, progress: str) -> None:
    """Train ``jobs`` in ``workers`` long-lived processes (:func:`serve`), each handed the
    next job of the queue as soon as it answers for its last.

    A process imports torch and loads the data once, not once per model. A job that fails
    is reported and left to its trainer; a process that ends before answering is replaced.
    """
    import queue as queues
    import subprocess
    import threading

    # biggest first, so that the last model to finish is a small one
    tally = Tally([job.config for job in jobs], workers)
    todo = sorted(jobs, key=lambda job: -tally.cost[job.config])
    threads = str(CPU_THREADS)  # what training will use: no larger pool to start
    env = {**os.environ, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads,
           settings.WORKER_OF: str(os.getpid())}  # fmt: skip
    answers: queues.Queue[tuple[subprocess.Popen, int | None]] = queues.Queue()

    def start() -> subprocess.Popen:
        command = [sys.executable, "-m", "rnnreport.training.pool", progress]
        pipes = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE, "text": True}
        # its own session: Ctrl-C reaches this process alone, which stops the workers
        process = subprocess.Popen(command, env=env, start_new_session=True, **pipes)

        def listen() -> None:  # a line per finished job, its exit status; None at the end
            try:
                with process.stdout:
                    for line in process.stdout:
                        if line.strip().lstrip("-").isdigit():  # anything else: no answer
                            answers.put((process, int(line)))
            finally:
                answers.put((process, None))

        threading.Thread(target=listen, daemon=True).start()
        return process

    def answer() -> tuple[subprocess.Popen, int | None]:
        while True:  # a timeout, so that Ctrl-C is heard on every system
            try:
                return answers.get(timeout=1.0)
            except queues.Empty:
                pass

    idle = [start() for _ in range(workers)]
    busy: dict[subprocess.Popen, tuple[TrainConfig, float]] = {}
    say(f"rnnreport: training {len(jobs)} models in {workers} processes")
    try:
        while todo or busy:
            while todo and idle:
                process, job = idle.pop(), todo.pop(0)
                busy[process] = (job.config, time.perf_counter())
                try:
                    process.stdin.write(_spec(job) + "\n")
                    process.stdin.flush()
                except OSError:  # it has ended: its listener says so, and the job is failed
                    pass
            process, status = answer()
            if (job_of := busy.pop(process, None)) is not None:  # None: it was idle
                config, started = job_of
                if status == 0:
                    now = time.perf_counter()
                    others = {c: now - s for c, s in busy.values()}
                    tally.trained(config, now - started, running=others)
                else:
                    why = f"failed (exit {status})" if status is not None else "ended"
                    print(
                        f"rnnreport: the worker training {config.name} seed {config.seed}"
                        f" {why}; it will be trained here",
                        file=sys.stderr,
                    )
            if status is None:  # it ended: reap it, and another takes its place
                process.wait()
                idle = [p for p in idle if p is not process] + ([start()] if todo else [])
            elif job_of is not None:
                idle.append(process)
    finally:
        for process in idle:  # done: the end of its input ends it
            with suppress(OSError):
                process.stdin.close()
        for process in busy:  # interrupted: stop the workers (finished epochs are kept)
            process.terminate()
        for process in [*idle, *busy]:
            process.wait()


def _spec(job: Job) -> str:
    """A job as :func:`serve` reads it: one line of JSON."""
    return json.dumps(
        {
            "module": job.module,
            "config_class": class_name(job.config),
            "config": asdict(job.config),
            "data_digest": job.data_digest,
        }
    )


def serve(progress: str) -> int:
    """A worker process: train each job read from stdin, one line of JSON (:func:`_spec`)
    given to its trainer module's ``run_job``, and answer each with its exit status on one
    line of stdout; return 0 at the end of stdin.

    Whatever else is printed to stdout, by Python or by a library, goes to stderr, so
    that the answers stay one number per line. A job that raises is answered 1 (its
    traceback on stderr) and the next is read; an interruption (SIGTERM) ends the process,
    unwinding, so that temporary files are removed. Freed memory is kept for the next
    training step (:func:`keep_freed_memory`).
    """
    import signal
    import traceback

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    keep_freed_memory()
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    for line in sys.stdin:
        try:
            module = importlib.import_module(json.loads(line)["module"])
            status = int(module.run_job(line, progress))
        except Exception:
            traceback.print_exc()
            status = 1
        print(status, file=answers, flush=True)
    return 0


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


def run_worker(spec: str, work: Callable[[TrainConfig, dict[str, Any]], int]) -> int:
    """What every trainer's ``run_job`` does with the parent's ``spec``: rebuild the
    config, ``work`` on it (train it into the cache; its exit status), and turn a known
    failure into one line and exit status 1."""
    from ..data import DataError

    d = json.loads(spec)
    config = config_class(d["config_class"])(**d["config"])
    try:
        return work(config, d)
    except (
        DataError,
        settings.SettingError,
        TrainingDiverged,
        TrainingOutOfMemory,
        OSError,
    ) as error:
        print(f"rnnreport worker: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # run as the package's module, not as __main__: one set of classes
    from rnnreport.training.pool import serve

    sys.exit(serve(*sys.argv[1:]))
