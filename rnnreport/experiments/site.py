"""Every family the site trains, and all of them trained at once.

The pages train their own families when the cache lacks them, one page after another, and
each page's batch ends with a core idle while its last model finishes. :func:`train_all`
queues every model of every family first, largest first, so that every core stays busy
until the last few small models; the build calls it before the pages run
(``docs/conf.py``), and ``python -m rnnreport train-all`` does the same from a shell. It
changes no result: each model is the same config trained by the same trainer into the
same cache entry.
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
