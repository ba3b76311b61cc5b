"""Every family the site trains, and all of them trained at once.

:func:`train_all` queues every model of every family the cache lacks, largest first, so
that every core stays busy until the last few small models; the docs build calls it
before the pages run (``docs/conf.py``), and so does ``python -m rnnreport train-all``.
Each model is the same config, trained by the same trainer into the same cache entry, as
when its page trains it.
"""

from __future__ import annotations

from ..settings import Budget
from . import results
from .ablations import ABLATIONS
from .baselines import BASELINES
from .counting import COUNTING
from .grid import GRID

FAMILIES = (GRID, BASELINES, ABLATIONS, COUNTING)
"""What the site's pages train, the analysis pages reading the grid's models."""


def train_all(
    budget: Budget | None = None, *, workers: int | None = None, progress: str = "lines"
) -> tuple[int, int]:
    """Train every model of :data:`FAMILIES` the cache lacks under ``budget`` (default: the
    build's), in one queue; returns how many were queued and how many are still missing
    (see :func:`~rnnreport.experiments.results.train_together`)."""
    return results.train_together(FAMILIES, budget, workers=workers, progress=progress)
