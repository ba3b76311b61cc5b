"""The cluster that trains: the user's, when they name its scheduler, else one on this machine.

:func:`connect` gives a ``dask.distributed`` client. With ``RNNREPORT_SCHEDULER`` (or a
``--scheduler``) set, it is the user's cluster: a ``dask scheduler`` and ``dask worker``
processes they started, by hand or through dask-jobqueue. Otherwise it is an
:class:`EmbeddedCluster` on 127.0.0.1: the same two commands, ``dask scheduler`` and
``dask worker --nworkers N --nthreads 1``, started here and stopped when the queue is done.

Why not Dask's ``LocalCluster``: its workers are started by multiprocessing's *spawn*, which
runs the calling script again in every worker, and a gallery example (or a user's script)
that trains has no ``if __name__ == "__main__"`` guard: the workers fail to start. Processes
started from the command line run only Dask's own ``__main__``.

The embedded processes run in their own session, so that Ctrl-C in the terminal reaches the
client alone, which stops them; and they end with the client however it ends
(:func:`rnnreport.settings.end_with_client`, preloaded into them), ``kill -9`` included.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING

from .. import settings
from .records import CPU_THREADS

if TYPE_CHECKING:
    import distributed

START_TIMEOUT = 60.0
"""Seconds the embedded scheduler and workers may take to start (imports on a busy machine)."""


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
    """A ``dask scheduler`` and ``dask worker --nworkers N --nthreads 1`` on 127.0.0.1,
    on ports the system picks, in their own session, ending with this process."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.processes: list[subprocess.Popen] = []
        self.address = ""
        self.folder: Path | None = None  # the scheduler's file and the workers' scratch space

    def __enter__(self) -> EmbeddedCluster:
        self.folder = folder = Path(tempfile.mkdtemp(prefix="rnnreport-dask-"))
        threads = str(CPU_THREADS)
        env = {**os.environ, settings.WORKER_OF: str(os.getpid()),
               "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads,
               # no sampling of the training thread's stack every 10 ms (the dashboard's)
               "DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED": "False",
               "DASK_LOGGING__DISTRIBUTED": "critical"}  # fmt: skip
        scheduler_file = folder / "scheduler.json"
        try:
            self._start(
                [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                 "--port", "0", "--no-dashboard", "--scheduler-file", str(scheduler_file),
                 "--preload", "rnnreport"], env)  # fmt: skip
            self.address = self._wait_for(scheduler_file)
            self._start(
                [sys.executable, "-m", "distributed.cli.dask_worker", self.address,
                 "--host", "127.0.0.1", "--nworkers", str(self.workers), "--nthreads", "1",
                 "--memory-limit", "0", "--no-dashboard", "--local-directory", str(folder),
                 "--preload-nanny", "rnnreport"], env)  # fmt: skip
        except BaseException:
            self.close()
            raise
        return self

    def _start(self, command: list[str], env: dict[str, str]) -> None:
        # its own session: Ctrl-C in the terminal reaches the client, which stops it; its
        # messages to a log, quoted if it fails to start
        log = (self.folder / "log.txt").open("ab")
        with log:
            self.processes.append(subprocess.Popen(command, env=env, start_new_session=True,
                                                   stdin=subprocess.DEVNULL, stdout=log,
                                                   stderr=log))  # fmt: skip

    def _failed(self, what: str, status: int | None) -> settings.SettingError:
        """The error of a cluster that did not start, with the last line of its log."""
        lines = (self.folder / "log.txt").read_text(errors="replace").strip().splitlines()
        last = f": {lines[-1].strip()}" if lines else ""
        ended = f"ended (exit {status})" if status is not None else "did not start"
        return settings.SettingError(f"the Dask {what} started on this machine {ended}{last}")

    def wait_for_workers(self, client: distributed.Client) -> None:
        """Until every worker has joined; a one-line error if the workers' process ends first
        or they are not there in :data:`START_TIMEOUT` seconds."""
        deadline = time.monotonic() + START_TIMEOUT
        while len(client.scheduler_info()["workers"]) < self.workers:
            if (status := self.processes[-1].poll()) is not None:
                raise self._failed("workers", status)
            if time.monotonic() > deadline:
                raise self._failed("workers", None)
            time.sleep(0.1)

    def _wait_for(self, scheduler_file: Path) -> str:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if (status := self.processes[0].poll()) is not None:
                raise self._failed("scheduler", status)
            with suppress(OSError, ValueError, KeyError):
                return json.loads(scheduler_file.read_text())["address"]
            time.sleep(0.05)
        raise self._failed("scheduler", None)

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Kill the scheduler and the workers, with their process groups (a worker's nanny
        and the processes it started): they hold nothing this process has not received, and
        a graceful end would first let a busy worker finish a job nobody waits for."""
        for process in self.processes:
            with suppress(ProcessLookupError, PermissionError):
                if hasattr(os, "killpg"):  # its own session: its group is its pid
                    os.killpg(process.pid, signal.SIGKILL)
                else:
                    process.kill()
        for process in self.processes:
            process.wait()
        self.processes.clear()
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
