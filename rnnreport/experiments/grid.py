"""The assignment's 8-model grid, several seeds each, summarised as one results table.

LSTM and GRU, each with 1 layer of 32, 64 or 128 units and 3 stacked layers of 32, with the
assignment's settings (TF1-faithful cells, the GRU resetting before its recurrent matmul).
The budget decides how much is trained: ``full`` is the real thing (10 epochs, 3 seeds, all
55,000 training sequences); ``smoke`` is a quick check (1 epoch, 1 seed, the first 2,000
training sequences) whose numbers mean nothing and are labelled so wherever they appear.
"""

from __future__ import annotations

import csv
import json
import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from .. import settings
from ..data import MNIST, load_mnist
from ..inspection import tables
from ..model.classifier import Classifier, ModelConfig
from ..settings import Budget
from ..train import Result, train_many, trained_model
from . import reports

SHAPES = ((1, 32), (1, 64), (1, 128), (3, 32))
"""(layers, units) of the assignment's grid, per cell."""

CELLS = ("lstm", "gru")


def grid_configs(budget: Budget) -> list[ModelConfig]:
    """Every (cell, shape, seed) of the grid under ``budget``."""
    return [
        ModelConfig(
            cell=cell, layers=L, units=H, seed=seed, epochs=budget.epochs, limit=budget.limit
        )
        for cell in CELLS
        for L, H in SHAPES
        for seed in range(budget.seeds)
    ]


def grid_model(
    name: str, seed: int = 0, budget: Budget | None = None, progress: str = "lines"
) -> tuple[Classifier, Result]:
    """The trained grid model ``name`` (e.g. ``gru-1x32``), from the cache or trained now."""
    budget = budget or settings.budget()
    for config in grid_configs(replace(budget, seeds=seed + 1)):
        if config.name == name and config.seed == seed:
            return trained_model(config, progress=progress)
    names = sorted({c.name for c in grid_configs(budget)})
    raise ValueError(f"{name!r} is not a model of the grid: use one of {', '.join(names)}")


@dataclass(frozen=True)
class Row:
    """One model of the grid, aggregated over seeds (``*_std``: sample std, 0 for one seed)."""

    model: str
    cell: str
    layers: int
    units: int
    params: int
    seeds: int
    epochs: int
    test_loss_sum: float
    test_loss_sum_std: float
    test_loss: float
    test_accuracy: float
    test_accuracy_std: float
    train_seconds: float
    report_a_loss_sum: float | None
    report_a_accuracy: float | None

    @classmethod
    def aggregate(cls, results: Sequence[Result]) -> Row:
        """Mean ± std over ``results``, runs of one model that differ only in the seed."""
        first = one_model(results)[0].config
        loss, loss_std = mean_std([r.test_loss_sum for r in results])
        accuracy, accuracy_std = mean_std([r.test_accuracy for r in results])
        return cls(
            model=first.name,
            cell=first.cell,
            layers=first.layers,
            units=first.units,
            params=results[0].params,
            seeds=len(results),
            epochs=first.epochs,
            test_loss_sum=loss,
            test_loss_sum_std=loss_std,
            test_loss=statistics.fmean(r.test_loss for r in results),
            test_accuracy=accuracy,
            test_accuracy_std=accuracy_std,
            train_seconds=statistics.fmean(r.train_seconds for r in results),
            report_a_loss_sum=reports.report_a_loss_sum(first.name),
            report_a_accuracy=reports.report_a_accuracy(first.name),
        )


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


def one_model(results: Sequence[Result]) -> Sequence[Result]:
    """``results`` if they are distinct seeds of one config, else a ValueError saying why."""
    groups = by_model(results)
    if len(groups) != 1:
        raise ValueError(f"aggregate one model at a time, got {sorted(groups) or 'no runs'}")
    return results


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value) of one model's seeds."""
    if not values:
        raise ValueError("mean_std got no values: aggregate at least one run")
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


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
        return self.seeds > 1 and abs(self.difference) > self.spread


@dataclass(frozen=True)
class Table:
    """The grid's results: one :class:`Row` per model, and every run behind them."""

    budget: Budget
    rows: tuple[Row, ...]
    results: tuple[Result, ...]

    def row(self, model: str) -> Row:
        for row in self.rows:
            if row.model == model:
                return row
        raise KeyError(f"no model {model!r} in the table: have {[r.model for r in self.rows]}")

    def compare(self, a: str, b: str) -> Comparison:
        ra, rb = self.row(a), self.row(b)
        return Comparison(
            a,
            b,
            ra.test_accuracy - rb.test_accuracy,
            ra.test_accuracy_std + rb.test_accuracy_std,
            min(ra.seeds, rb.seeds),
        )

    def curves(self) -> dict[str, dict[str, list[list[float]]]]:
        """Per model: ``valid_accuracy`` and ``train_loss`` over epochs, one list per seed."""
        curves: dict[str, dict[str, list[list[float]]]] = {}
        for r in self.results:
            model = curves.setdefault(r.name, {"valid_accuracy": [], "train_loss": []})
            model["valid_accuracy"].append([e.valid_accuracy for e in r.history])
            model["train_loss"].append([e.train_loss for e in r.history])
        return curves

    def records(self) -> list[dict[str, Any]]:
        """One flat dict per model, with report A's numbers and our difference to them."""
        out = []
        for row in self.rows:
            d = asdict(row)
            d["loss_minus_report_a"] = _minus(row.test_loss_sum, row.report_a_loss_sum)
            d["accuracy_minus_report_a"] = _minus(row.test_accuracy, row.report_a_accuracy)
            out.append(d)
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "budget": asdict(self.budget),
            "budget_text": self.budget.describe(),
            "models": self.records(),
            "runs": [r.to_dict() for r in self.results],
        }

    def write(self, directory: Path | str) -> tuple[Path, Path]:
        """Write ``results.csv`` and ``results.json`` (every column, full precision) and
        ``results_table.csv`` (rounded, for people) into ``directory``; returns the first two."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        records = self.records()
        csv_path, json_path = directory / "results.csv", directory / "results.json"
        with csv_path.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(records[0]))
            writer.writeheader()
            writer.writerows(records)
        json_path.write_text(json.dumps(self.to_json(), indent=1))
        shown = display_rows(self)
        with (directory / "results_table.csv").open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(shown[0]))
            writer.writeheader()
            writer.writerows(shown)
        return csv_path, json_path

    def _repr_html_(self) -> str:
        return html_table(self)

    def __repr__(self) -> str:
        lines = [self.budget.describe()]
        for r in self.rows:
            lines.append(
                f"{r.model:<11} {r.params:>7,} params  test loss {r.test_loss_sum:8.2f} "
                f"± {r.test_loss_sum_std:6.2f}  accuracy {r.test_accuracy:.4f} "
                f"± {r.test_accuracy_std:.4f}"
            )
        return "\n".join(lines)


def _minus(ours: float, theirs: float | None) -> float | None:
    return None if theirs is None else ours - theirs


def _num(value: float | None, fmt: str) -> str:
    """``value`` formatted, a dash where there is none, a typographic minus."""
    if value is None or math.isnan(value):
        return "—"
    return format(value, fmt).replace("-", "−")


def display_rows(table: Table) -> list[dict[str, str]]:
    """The table as text for people: rounded, ``mean ± std`` (no ± with one seed)."""
    rows = []
    for d in table.records():
        spread = d["seeds"] > 1
        loss_std = f" ± {d['test_loss_sum_std']:.2f}" if spread else ""
        accuracy_std = f" ± {d['test_accuracy_std']:.4f}" if spread else ""
        rows.append(
            {
                "model": d["model"],
                "params": f"{d['params']:,}",
                "seeds": str(d["seeds"]),
                "test loss (sum)": f"{d['test_loss_sum']:,.2f}{loss_std}",
                "A's loss": _num(d["report_a_loss_sum"], ",.2f"),
                "loss − A's": _num(d["loss_minus_report_a"], "+,.2f"),
                "test accuracy": f"{d['test_accuracy']:.4f}{accuracy_std}",
                "A's accuracy": _num(d["report_a_accuracy"], ".4f"),
                "accuracy − A's": _num(d["accuracy_minus_report_a"], "+.4f"),
                "train time (s)": f"{d['train_seconds']:,.0f}",
            }
        )
    return rows


def html_table(table: Table) -> str:
    """The results as an HTML table: ours (mean ± std over seeds) beside report A's."""
    caption = f"Test results on the 10,000 MNIST test images, {table.budget.describe()}."
    return tables.html_table(display_rows(table), caption=caption)._repr_html_()


def run_grid(
    budget: Budget | None = None,
    *,
    seeds: int | None = None,
    epochs: int | None = None,
    data: MNIST | None = None,
    progress: str = "lines",
    workers: int | None = None,
) -> Table:
    """Train (or take from the cache) every model of the grid and aggregate over seeds.

    Models the cache lacks are trained in ``workers`` processes (default: one per core).
    """
    budget = budget or settings.budget()
    custom = replace(budget, seeds=seeds or budget.seeds, epochs=epochs or budget.epochs)
    if custom != budget:  # say so wherever the numbers appear
        budget = replace(custom, name=f"{budget.name}, custom")
    data = data or load_mnist()
    results = train_many(grid_configs(budget), data=data, progress=progress, workers=workers)
    rows = tuple(Row.aggregate(runs) for runs in by_model(results).values())
    return Table(budget, rows, tuple(results))


def findings(table: Table) -> str:
    """A few Markdown sentences on ``table``, every number taken from it."""
    rows = table.rows
    best = max(rows, key=lambda r: r.test_accuracy)
    worst = min(rows, key=lambda r: r.test_accuracy)
    cleared = sum(r.test_accuracy > 0.95 for r in rows)
    lines = [
        f"*Numbers from this build — {table.budget.describe()}.*",
        "",
        f"- Test accuracy ranges from {worst.test_accuracy:.2%} ({worst.model}) to "
        f"{best.test_accuracy:.2%} ({best.model}); {cleared} of {len(rows)} models clear the "
        "assignment's bar of 95%.",
    ]
    real, within = [], []
    for L, H in SHAPES:
        c = table.compare(f"gru-{L}x{H}", f"lstm-{L}x{H}")
        text = f"{L}×{H}: {c.difference * 100:+.2f} points"
        (real if c.exceeds_spread else within).append(text)
    seeds = min(r.seeds for r in rows)
    if seeds < 2:
        lines.append(
            "- GRU minus LSTM test accuracy, by shape: "
            + "; ".join(within)
            + ". With one seed per model there is no spread to judge these differences by."
        )
    else:
        if real:
            lines.append(
                "- GRU minus LSTM differences larger than the spread across "
                f"{seeds} seeds: " + "; ".join(real) + "."
            )
        if within:
            lines.append(
                "- GRU minus LSTM differences within the spread: " + "; ".join(within) + "."
            )
    single = sorted(H for L, H in SHAPES if L == 1)
    small, large = single[0], single[-1]
    for cell in CELLS:
        c = table.compare(f"{cell}-1x{large}", f"{cell}-1x{small}")
        verdict = "larger than" if c.exceeds_spread else "not larger than"
        lines.append(
            f"- {cell.upper()}: {large} units instead of {small} changes test accuracy by "
            f"{c.difference * 100:+.2f} points, {verdict} the spread across seeds."
        )
    lower = sum(
        r.report_a_loss_sum is not None and r.test_loss_sum < r.report_a_loss_sum for r in rows
    )
    lines.append(
        f"- Our mean summed test loss is below report A's for {lower} of {len(rows)} models."
    )
    given = [r for r in rows if r.report_a_accuracy is not None]
    higher = sum(r.report_a_accuracy > r.test_accuracy for r in given)
    beyond = sum(r.report_a_accuracy > r.test_accuracy + 2 * r.test_accuracy_std for r in given)
    if given and seeds > 1:
        text = (
            f"- Report A's single-run accuracy is above our mean for {higher} of the "
            f"{len(given)} models it gives one for, by more than twice our spread across "
            f"seeds for {beyond}"
        )
        if beyond > len(given) / 2:
            text += (
                ": more than the choice of seed explains, so its runs differ from ours in "
                "something the assignment does not fix (the order of the batches, the "
                "framework's arithmetic, or which of several runs was reported)"
            )
        lines.append(text + ".")
    return "\n".join(lines) + "\n"
