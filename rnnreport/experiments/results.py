"""The results layer: a family of configs, each trained from several seeds, aggregated.

Every experiment of the report has the same shape. A *family* (the grid, the whole-image
baselines, …) says which configs a budget trains and which columns of its own its table
carries; this module does the rest, once for all of them:

- :func:`run` trains what the cache lacks (through :func:`rnnreport.training.mnist.train_many`) and
  groups the runs by model (:func:`by_model`), each group the seeds of one config;
  :func:`train_together` trains what several families lack in one queue first;
- :class:`Row` is one model aggregated over its seeds (mean and sample standard deviation);
- :class:`ResultsTable` holds the rows and the runs behind them, compares two models against the
  spread across seeds (:class:`Comparison`), and writes CSV, JSON and HTML.

The budget (how many epochs, seeds and training sequences) is :class:`rnnreport.settings.Budget`;
generated sentences are :class:`rnnreport.inspection.tables.Findings`.
"""

from __future__ import annotations

import csv
import json
import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from .. import settings
from ..data import MNIST, load_mnist
from ..inspection import tables
from ..settings import Budget
from ..training.engine import Job, train_jobs
from ..training.mnist import pending, train_many
from ..training.records import Result, TrainConfig

# -- grouping and statistics ----------------------------------------------------------------


def by_model(results: Sequence[Result]) -> dict[str, list[Result]]:
    """Runs grouped by model name, in order; each group must be distinct seeds of one config."""
    groups: dict[str, list[Result]] = {}
    for result in results:
        groups.setdefault(result.name, []).append(result)
    for name, runs in groups.items():
        if len({replace(r.config, seed=0) for r in runs}) != 1 or len(
            {r.config.seed for r in runs}
        ) != len(runs):
            raise ValueError(
                f"runs of {name} must differ only in their seeds, got "
                f"{[(r.config.seed, r.config.epochs, r.config.limit) for r in runs]}"
            )
    return groups


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value) of one model's seeds."""
    if not values:
        raise ValueError("mean_std got no values: aggregate at least one run")
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def number(value: float | None, fmt: str) -> str:
    """``value`` formatted for people: a dash where there is none, a typographic minus."""
    if value is None or math.isnan(value):
        return "—"
    return format(value, fmt).replace("-", "−")


def with_spread(mean: float, std: float, seeds: int, fmt: str) -> str:
    """``mean ± std`` formatted, or the mean alone when one seed gives no spread."""
    return format(mean, fmt) + (f" ± {format(std, fmt)}" if seeds > 1 else "")


# -- one model, aggregated ------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One model aggregated over its seeds (``*_std``: sample std, 0 for one seed).

    ``columns`` are the family's own (say ``cell``, ``layers``, ``units``), ``references``
    what the 2018 reports said about the model and our difference to it; both read as
    attributes too (``row.cell``, ``row.report_a_accuracy``).
    """

    model: str
    params: int
    seeds: int
    epochs: int
    test_loss_sum: float
    test_loss_sum_std: float
    test_loss: float
    test_accuracy: float
    test_accuracy_std: float
    train_seconds: float
    columns: Mapping[str, Any] = field(default_factory=dict)
    references: Mapping[str, float | None] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        for extra in ("columns", "references"):
            values = self.__dict__.get(extra, {})
            if name in values:
                return values[name]
        raise AttributeError(f"{type(self).__name__} of {self.model!r} has no column {name!r}")

    @classmethod
    def aggregate(cls, results: Sequence[Result], family: Family | None = None) -> Row:
        """Mean ± std over ``results``, runs of one model that differ only in the seed."""
        groups = by_model(results)
        if len(groups) != 1:
            raise ValueError(f"aggregate one model at a time, got {sorted(groups) or 'no runs'}")
        first = results[0].config
        loss, loss_std = mean_std([r.test_loss_sum for r in results])
        accuracy, accuracy_std = mean_std([r.test_accuracy for r in results])
        row = cls(
            model=first.name,
            params=results[0].params,
            seeds=len(results),
            epochs=first.epochs,
            test_loss_sum=loss,
            test_loss_sum_std=loss_std,
            test_loss=statistics.fmean(r.test_loss for r in results),
            test_accuracy=accuracy,
            test_accuracy_std=accuracy_std,
            train_seconds=statistics.fmean(r.train_seconds for r in results),
        )
        if family is None:
            return row
        row = replace(row, columns=family.columns(first))
        return replace(row, references=family.references(row))

    def record(self) -> dict[str, Any]:
        """One flat dict: the model, its family's columns, the numbers, the references."""
        numbers = {k: v for k, v in asdict(self).items() if k not in ("columns", "references")}
        model = numbers.pop("model")
        return {"model": model, **self.columns, **numbers, **self.references}

    def loss_text(self) -> str:
        """The summed test loss as ``mean ± std`` for people."""
        return with_spread(self.test_loss_sum, self.test_loss_sum_std, self.seeds, ",.2f")

    def accuracy_text(self) -> str:
        """The test accuracy as ``mean ± std`` for people."""
        return with_spread(self.test_accuracy, self.test_accuracy_std, self.seeds, ".4f")


@dataclass(frozen=True)
class Comparison:
    """``a`` against ``b`` on test accuracy: the difference of means and whether it is real.

    A difference counts as larger than the spread when the two ranges mean ± std do not
    overlap, i.e. ``|Δ| > std_a + std_b``. With one seed there is no spread, and nothing
    is called real.
    """

    a: str
    b: str
    difference: float
    spread: float
    seeds: int

    @property
    def exceeds_spread(self) -> bool:
        return beyond(self.difference, self.spread, self.seeds)

    def points(self) -> str:
        """The difference in percentage points, e.g. ``+1.23 points``."""
        return f"{self.difference * 100:+.2f} points"

    def text(self) -> str:
        """``+1.23 points (larger than the spread across 3 seeds)`` and the like."""
        if self.seeds < 2:
            return f"{self.points()} (one seed each: no spread to judge it by)"
        verdict = "larger than" if self.exceeds_spread else "within"
        return f"{self.points()} ({verdict} the spread across {self.seeds} seeds)"


def beyond(difference: float, spread: float, seeds: int) -> bool:
    """The report's one rule for a real difference: ``|difference| > spread``, the two
    models' standard deviations across seeds added (their ranges mean ± std do not overlap);
    with one seed there is no spread, and nothing is real."""
    return seeds > 1 and abs(difference) > spread


def compare(a: Row, b: Row) -> Comparison:
    """Row ``a`` against row ``b`` on mean test accuracy, with their combined spread."""
    return Comparison(
        a.model,
        b.model,
        a.test_accuracy - b.test_accuracy,
        a.test_accuracy_std + b.test_accuracy_std,
        min(a.seeds, b.seeds),
    )


# -- a family and its table -----------------------------------------------------------------


def _no_references(row: Row) -> dict[str, float | None]:
    return {}


def _nothing_beside(row: Row) -> dict[str, dict[str, str]]:
    return {}


def display(row: Row, beside: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    """A row as text for people: the model, its size, loss and accuracy over seeds, and
    ``beside[column]``'s columns right after each ``column`` they are keyed by."""
    shown = {
        "model": row.model,
        "params": f"{row.params:,}",
        "seeds": str(row.seeds),
        "test loss (sum)": row.loss_text(),
        "test accuracy": row.accuracy_text(),
        "train time (s)": f"{row.train_seconds:,.0f}",
    }
    unknown = set(beside) - set(shown)
    if unknown:
        raise ValueError(f"no column {sorted(unknown)} to show beside: have {list(shown)}")
    out: dict[str, str] = {}
    for column, text in shown.items():
        out[column] = text
        out.update(beside.get(column, {}))
    return out


@dataclass(frozen=True)
class Family:
    """A family of experiments: the configs a budget trains, and the family's own columns.

    ``configs(budget)`` lists every (model, seed) to train; ``columns(config)`` names a
    model by the family's own fields; ``references(row)`` gives what the 2018 reports said
    about it (and our difference); ``beside(row)`` the family's columns for people, keyed
    by the standard column they follow (see :func:`display`). ``label`` says how the
    family's models see an image, for figures that mix families. ``train`` trains (or
    loads) a list of configs into their results (given the progress display and the number
    of worker processes, None for one per core), for a family that is not trained on MNIST
    (the counting languages); None: :func:`rnnreport.training.mnist.train_many` on MNIST.
    ``pending`` lists the configs the family's trainer still has to train, as jobs for the
    shared queue (:func:`rnnreport.training.engine.train_jobs`); None: MNIST's
    (:func:`rnnreport.training.mnist.pending`).
    """

    name: str
    label: str
    caption: str
    configs: Callable[[Budget], list[TrainConfig]]
    columns: Callable[[TrainConfig], dict[str, Any]]
    references: Callable[[Row], dict[str, float | None]] = _no_references
    beside: Callable[[Row], dict[str, dict[str, str]]] = _nothing_beside
    train: Callable[[list[TrainConfig], str, int | None], list[Result]] | None = None
    pending: Callable[[list[TrainConfig]], list[Job]] | None = None


@dataclass(frozen=True)
class ResultsTable:
    """A family's results under one budget: one :class:`Row` per model, and every run."""

    family: Family
    budget: Budget
    rows: tuple[Row, ...]
    results: tuple[Result, ...]

    def row(self, model: str) -> Row:
        for row in self.rows:
            if row.model == model:
                return row
        raise KeyError(f"no model {model!r} in the table: have {[r.model for r in self.rows]}")

    def compare(self, a: str, b: str) -> Comparison:
        """Model ``a`` against model ``b`` of this table (see :func:`compare`)."""
        return compare(self.row(a), self.row(b))

    def curves(self) -> dict[str, dict[str, list[list[float]]]]:
        """Per model: ``valid_accuracy`` and ``train_loss`` over epochs, one list per seed."""
        curves: dict[str, dict[str, list[list[float]]]] = {}
        for r in self.results:
            model = curves.setdefault(r.name, {"valid_accuracy": [], "train_loss": []})
            model["valid_accuracy"].append([e.valid_accuracy for e in r.history])
            model["train_loss"].append([e.train_loss for e in r.history])
        return curves

    def records(self) -> list[dict[str, Any]]:
        """One flat dict per model (every column, full precision)."""
        return [row.record() for row in self.rows]

    def display_rows(self) -> list[dict[str, str]]:
        """The table as text for people: rounded, ``mean ± std`` (no ± with one seed)."""
        return [display(row, self.family.beside(row)) for row in self.rows]

    def to_json(self) -> dict[str, Any]:
        return {
            "family": self.family.name,
            "budget": asdict(self.budget),
            "budget_text": self.budget.describe(),
            "models": self.records(),
            "runs": [r.to_dict() for r in self.results],
        }

    def write(self, directory: Path | str, stem: str = "results") -> tuple[Path, Path]:
        """Write ``{stem}.csv`` and ``{stem}.json`` (every column, full precision) and
        ``{stem}_table.csv`` (rounded, for people) into ``directory``; returns the first two."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        csv_path, json_path = directory / f"{stem}.csv", directory / f"{stem}.json"
        _write_csv(csv_path, self.records())
        json_path.write_text(json.dumps(self.to_json(), indent=1))
        _write_csv(directory / f"{stem}_table.csv", self.display_rows())
        return csv_path, json_path

    def html(self) -> tables.Table:
        """The table for a page, captioned with the family and the budget."""
        caption = f"{self.family.caption}, {self.budget.describe()}."
        return tables.html_table(self.display_rows(), caption=caption)

    def _repr_html_(self) -> str:
        return self.html()._repr_html_()

    def __repr__(self) -> str:
        return repr(self.html())


def _write_csv(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def run(
    family: Family,
    budget: Budget | None = None,
    *,
    seeds: int | None = None,
    epochs: int | None = None,
    data: MNIST | None = None,
    progress: str = "lines",
    workers: int | None = None,
) -> ResultsTable:
    """Train (or take from the cache) every config of ``family`` and aggregate over seeds.

    ``budget`` defaults to the build's (``$RNNREPORT_BUDGET``); ``seeds`` or ``epochs``
    override it, and the budget's name then says so wherever the numbers appear. Models
    the cache lacks are trained in ``workers`` processes (default: one per core).
    """
    build = settings.check()  # before any work: a bad setting is one line, not 8 models late
    budget = budget or build
    custom = replace(budget, seeds=seeds or budget.seeds, epochs=epochs or budget.epochs)
    if custom != budget:
        budget = replace(custom, name=f"{budget.name}, custom")
    if family.train is not None:  # the family's own data and trainer
        results = family.train(family.configs(budget), progress, workers)
    else:
        data = data or load_mnist()
        results = train_many(family.configs(budget), data=data, progress=progress, workers=workers)
    rows = tuple(Row.aggregate(runs, family) for runs in by_model(results).values())
    return ResultsTable(family, budget, rows, tuple(results))


def train_together(
    families: Sequence[Family],
    budget: Budget | None = None,
    *,
    workers: int | None = None,
    progress: str = "lines",
) -> tuple[int, int]:
    """Train what ``families`` lack under ``budget`` (default: the build's) as one queue,
    largest first, so that no core idles in one family's tail while another's models wait
    (:func:`rnnreport.training.engine.train_jobs`); a model two families share is trained
    once. Their :func:`run` then finds every model in the cache. Returns ``(queued,
    missing)``: how many models were queued, and how many the cache still lacks after (a
    job failed: its family's :func:`run` trains them in this process, or says why it
    cannot)."""
    budget = budget or settings.check()
    data = None

    def missing() -> list[Job]:
        nonlocal data
        jobs: list[Job] = []
        for family in families:
            configs = family.configs(budget)
            if family.pending is not None:
                jobs += family.pending(configs)
            else:
                data = data or load_mnist()
                jobs += pending(configs, data)
        return list(dict.fromkeys(jobs))

    queued = missing()
    train_jobs(queued, workers, progress)
    return len(queued), len(missing()) if queued else 0


def same_budget(*tables: ResultsTable) -> Budget:
    """The one budget ``tables`` were trained under, or a ValueError naming them all."""
    budgets = {t.budget for t in tables}
    if len(budgets) != 1:
        described = "; ".join(f"{t.family.name}: {t.budget.describe()}" for t in tables)
        raise ValueError(
            f"these tables were trained under different budgets ({described}): "
            "run them all with the same one"
        )
    return tables[0].budget
