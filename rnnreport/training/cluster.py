"""The cluster that trains: the user's, when they name its scheduler, else one on this machine.

:func:`connect` gives a ``dask.distributed`` client. With ``RNNREPORT_SCHEDULER`` (or a
``--scheduler``) set, it is the user's cluster: a ``dask scheduler`` and ``dask worker``
processes they started, by hand or through dask-jobqueue. Otherwise it is an
:class:`EmbeddedCluster` on 127.0.0.1: a Dask scheduler in this process and N
``dask worker --no-nanny --nthreads 1`` commands, started here and stopped when the queue
is done.

Why not all of Dask's ``LocalCluster``: its worker processes are started by
multiprocessing's *spawn*, which runs the calling script again in every worker, and a
gallery example (or a user's script) that trains has no ``if __name__ == "__main__"`` guard:
the workers fail to start. A worker started as a command runs only Dask's own ``__main__``.
The scheduler needs no process of its own: this one has imported Dask already and waits
while the workers train.

Each worker is one process, without Dask's nanny (a second process per worker, there to
restart it): this cluster restarts a worker that ends while the queue runs itself, and
starting the nannies, and a scheduler process, takes seconds of every core before any model
trains. In a queue of more jobs than twice the workers (Dask holds back only such a group
of tasks), each worker takes one job at a time (``worker-saturation`` 1), so the next job in
line, the largest left, goes to whichever worker frees first.

The workers run in their own session, so that Ctrl-C in the terminal reaches the client
alone, which stops them; and they end with the client however it ends
(:func:`rnnreport.settings.end_with_client`, preloaded into them), ``kill -9`` included.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING

from .. import settings
from .progress import say
from .records import CPU_THREADS

if TYPE_CHECKING:
    import distributed

ONE_HEAP = {"MALLOC_ARENA_MAX": "1"}
"""A worker's environment: glibc's allocator with one arena, its main heap, for every thread.
A Dask worker trains on a thread of its pool, which glibc would give an arena of its own,
in heaps of at most 64 MiB handed back to the system as they shrink: the buffers of a
training step (14 MiB for an LSTM of 128 units) would be faulted in again at every step,
whatever :func:`~rnnreport.training.engine.keep_freed_memory` asks. Measured on the grid
under ``smoke`` (10 epochs): 2.3 million page faults in the workers, 1.1 million on one
arena, near the 0.9 million of training on each process's main thread."""

START_TIMEOUT = 60.0
"""Seconds the embedded cluster's workers (or a named scheduler's first worker) may take to
join: imports on a busy machine. An embedded worker that cannot reach its scheduler for as
long ends itself."""


@contextmanager
def connect(workers: int, scheduler: str | None = None) -> Iterator[distributed.Client]:
    """A client of the cluster named by ``scheduler`` (default: ``$RNNREPORT_SCHEDULER``), or
    of an :class:`EmbeddedCluster` of ``workers`` processes started for the block; closed
    after it, the embedded cluster stopped."""
    from distributed import Client

    address = scheduler or settings.scheduler()
    if address is not None:
        try:
            client = Client(address, timeout="20s")
        except OSError as error:
            raise settings.SettingError(
                f"cannot reach the Dask scheduler at {address} ({error}): start it with "
                "`dask scheduler`, or unset RNNREPORT_SCHEDULER to train on this machine"
            ) from None
        with client:
            try:
                client.wait_for_workers(1, timeout=START_TIMEOUT)
            except TimeoutError:
                raise settings.SettingError(
                    f"the Dask scheduler at {address} has no workers: start them with "
                    f"`dask worker {address} --nthreads 1`"
                ) from None
            yield client
        return
    with EmbeddedCluster(workers) as cluster, Client(cluster.address, timeout="20s") as client:
        cluster.wait_for_workers(client)
        yield client


class EmbeddedCluster:
    """A Dask scheduler in this process and ``workers`` processes of
    ``dask worker --no-nanny --nthreads 1`` on 127.0.0.1, on ports the system picks, in
    their own session, ending with this process; a worker that ends while the cluster is
    open is started again."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.processes: list[subprocess.Popen] = []
        self.address = ""
        self.folder: Path | None = None  # the workers' scratch space and their log
        self._local: distributed.LocalCluster | None = None  # holds the scheduler
        self._closing = threading.Event()
        self._keeper = threading.Thread(target=self._keep_workers, daemon=True)

    def __enter__(self) -> EmbeddedCluster:
        import dask
        from distributed import LocalCluster

        self.folder = Path(tempfile.mkdtemp(prefix="rnnreport-dask-"))
        try:
            # a scheduler alone: LocalCluster starts no worker process when asked for none
            with dask.config.set({"distributed.scheduler.worker-saturation": 1.0}):
                self._local = LocalCluster(
                    n_workers=0, host="127.0.0.1", scheduler_port=0, dashboard_address=None,
                    silence_logs=logging.CRITICAL,
                )  # fmt: skip
            self.address = self._local.scheduler_address
            for _ in range(self.workers):  # each kept as it starts, for close() to kill
                self.processes.append(self._start_worker())
        except BaseException:
            self.close()
            raise
        return self

    def _start_worker(self) -> subprocess.Popen:
        """One ``dask worker`` of one thread, in its own session (Ctrl-C in the terminal
        reaches the client, which stops it), its messages to a log quoted if it fails."""
        threads = str(CPU_THREADS)
        env = {**os.environ, settings.WORKER_OF: str(os.getpid()),
               "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads,
               # no sampling of the training thread's stack every 10 ms (the dashboard's)
               "DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED": "False",
               "DASK_LOGGING__DISTRIBUTED": "critical", **ONE_HEAP}  # fmt: skip
        command = [sys.executable, "-m", "distributed.cli.dask_worker", self.address,
                   "--host", "127.0.0.1", "--no-nanny", "--nthreads", "1", "--memory-limit",
                   "0", "--no-dashboard", "--local-directory", str(self.folder),
                   "--death-timeout", str(START_TIMEOUT), "--preload", "rnnreport"]  # fmt: skip
        with (self.folder / "log.txt").open("ab") as log:
            return subprocess.Popen(command, env=env, start_new_session=True,
                                    stdin=subprocess.DEVNULL, stdout=log, stderr=log)  # fmt: skip

    def _keep_workers(self) -> None:
        """While the cluster is open, start a worker again in place of one that ended (killed,
        out of memory), saying so: the scheduler gives its job to another, and the queue
        keeps its workers. A job that kills the worker it runs on four times is failed by
        the scheduler (Dask's ``allowed-failures``). A worker that starts and ends is started
        again each time, as Dask's nanny would; if its command cannot be run at all, that is
        said in one line and no worker is started again (Ctrl-C stops a queue left without
        workers)."""
        while not self._closing.wait(0.5):
            for i, process in enumerate(self.processes):
                if process.poll() is None or self._closing.is_set():
                    continue
                try:
                    self.processes[i] = self._start_worker()
                except OSError as error:
                    say(f"rnnreport: a Dask worker on this machine ended and cannot be started "
                        f"again: {error}")  # fmt: skip
                    return
                say(f"rnnreport: a Dask worker on this machine ended (exit "
                    f"{process.returncode}); starting another")  # fmt: skip

    def _failed(self, status: int | None) -> settings.SettingError:
        """The error of workers that did not start, with the last line of their log."""
        lines = (self.folder / "log.txt").read_text(errors="replace").strip().splitlines()
        last = f": {lines[-1].strip()}" if lines else ""
        ended = f"ended (exit {status})" if status is not None else "did not start"
        return settings.SettingError(
            f"the Dask workers started on this machine {ended}{last} (or train on a running "
            "cluster: name its scheduler with RNNREPORT_SCHEDULER)"
        )

    def wait_for_workers(self, client: distributed.Client) -> None:
        """Until every worker has joined, and from then on keep them (:meth:`_keep_workers`); a
        one-line error if one ends first or they are not there in :data:`START_TIMEOUT`
        seconds."""
        deadline = time.monotonic() + START_TIMEOUT
        while len(client.scheduler_info()["workers"]) < self.workers:
            for process in self.processes:
                if (status := process.poll()) is not None:
                    raise self._failed(status)
            if time.monotonic() > deadline:
                raise self._failed(None)
            time.sleep(0.1)
        self._keeper.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Kill the workers, with their process groups, then stop the scheduler: the workers
        hold nothing this process has not received, and a graceful end would first let a
        busy worker finish a job nobody waits for."""
        self._closing.set()
        try:
            if self._keeper.is_alive():
                self._keeper.join()
        finally:
            for process in self.processes:
                with suppress(ProcessLookupError, PermissionError):
                    if hasattr(os, "killpg"):  # its own session: its group is its pid
                        os.killpg(process.pid, signal.SIGKILL)
                    else:
                        process.kill()
            for process in self.processes:
                process.wait()
            self.processes.clear()
            if self._local is not None:
                with suppress(TimeoutError):
                    self._local.close(timeout=10)
                self._local = None
            if self.folder is not None:
                shutil.rmtree(self.folder, ignore_errors=True)
