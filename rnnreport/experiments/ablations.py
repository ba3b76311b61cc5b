"""What the assignment leaves open: from its setup, change one thing at a time, and measure.

The assignment fixes the data, the model and the training, but not everything a port to
PyTorch must decide; report A also added batch normalisation without saying where. This
family starts from the assignment's setup as the grid trains it (TF1-faithful cells,
binarized pixels, the loss summed over the batch) for the LSTM-32 and the GRU-32, and
changes one field of :class:`~rnnreport.model.classifier.ModelConfig` at a time
(:data:`CHANGES`):

- initialisation: torch.nn's defaults instead of TF1's, and each TF1 bias alone (the
  LSTM's forget bias 0, the GRU's gate biases 0, Glorot kernels kept);
- the GRU's reset gate after the recurrent matmul (torch.nn.GRU's) instead of before;
- batch normalisation on the input projection, on the RNN output the head reads, or on
  the head's 64 units (batch statistics in training, running statistics at test);
- the loss averaged over the batch instead of summed;
- grey pixels p / 255 instead of binarized ones.

Seeds (:func:`ablation_seeds`): a budget of one seed (``smoke``) is a token run and trains one;
any other trains at least :data:`MIN_SEEDS` = 5 per model, enough for a difference of means
to be told from the spread across seeds. The setup's rows are the grid's own ``lstm-1x32``
and ``gru-1x32`` configs (:func:`assignment_setup`), so the grid's runs are reused from the
cache.

Only the 32-unit models. Every change acts on something that does not grow with the
recurrent size (a bias, a normalisation, the loss's scale, the input), a 128-unit run costs
several times a 32-unit one, and five seeds of each change would more than double the
family's cost; the 128-unit models are worth adding for a change whose effect on the
32-unit models is large, which the page's table shows first.

One family, kept in one module: its configs, its table, its figure's data and its findings.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

from .. import settings
from ..inspection.tables import Findings, Table, html_table
from ..model.cells import CELLS
from ..model.classifier import ModelConfig
from ..settings import Budget
from . import reports, results
from .results import ResultsTable, Row, compare, number

ABLATION_UNITS = 32
"""The recurrent size of every model the family trains."""
MIN_SEEDS = 5
"""Seeds per model on any budget of more than one seed."""


_BOTH = tuple(CELLS)  # the cells of a change that applies to either


@dataclass(frozen=True)
class Change:
    """One field of the config moved away from the assignment's setup, and what it means."""

    field: str  # a field of ModelConfig
    value: Any
    cells: tuple[str, ...]  # the cells it applies to
    what: str  # for people, e.g. "batch norm on the head's 64 units"
    group: str  # "initialisation", "GRU variant", "batch normalisation", "loss", "pixels"


CHANGES: tuple[Change, ...] = (
    Change("init", "torch", _BOTH, "torch.nn's initialisation", "initialisation"),
    Change("forget_bias", 0.0, ("lstm",), "forget bias 0, Glorot kept", "initialisation"),
    Change("gate_bias", 0.0, ("gru",), "gate biases start at 0, Glorot kept", "initialisation"),
    Change("reset", "after", ("gru",), "reset after the matmul, as torch.nn.GRU", "GRU variant"),
    Change("batch_norm", "input", _BOTH, "batch norm on the input projection", "batch norm"),
    Change("batch_norm", "output", _BOTH, "batch norm on the RNN output", "batch norm"),
    Change("batch_norm", "head", _BOTH, "batch norm on the head's 64 units", "batch norm"),
    Change("loss", "mean", _BOTH, "loss averaged over the batch", "loss"),
    Change("pixels", "grey", _BOTH, "grey pixels p / 255", "pixels"),
)
"""Every change the family measures, one field each, in the order the page shows them."""

ABLATED = tuple(dict.fromkeys(c.field for c in CHANGES))
"""The fields the family varies; every other field is the assignment's."""

SETUP = "the assignment's setup"
"""What the change column of a row of the assignment's setup says."""


def ablation_seeds(budget: Budget) -> int:
    """Seeds per model: 1 on a one-seed budget (a token run), else at least :data:`MIN_SEEDS`."""
    return 1 if budget.seeds == 1 else max(MIN_SEEDS, budget.seeds)


def assignment_setup(cell: str, budget: Budget, seed: int = 0) -> ModelConfig:
    """The assignment's ``{cell}-1x32`` under ``budget``: the grid's own config."""
    return ModelConfig(
        cell=cell, units=ABLATION_UNITS, seed=seed, epochs=budget.epochs, limit=budget.limit
    )


def ablation_configs(budget: Budget) -> list[ModelConfig]:
    """Per cell, the assignment's setup and each change that applies to it, each over the seeds."""
    return [
        replace(
            assignment_setup(cell, budget, seed),
            **({change.field: change.value} if change else {}),
        )
        for cell in CELLS
        for change in (None, *(c for c in CHANGES if cell in c.cells))
        for seed in range(ablation_seeds(budget))
    ]


def change_of(config: ModelConfig) -> Change | None:
    """The change ``config`` makes to the assignment's setup; None for the setup itself.

    A ValueError when it changes more than one ablated field, or one the family lacks.
    """
    defaults = {f.name: f.default for f in fields(ModelConfig) if f.name in ABLATED}
    moved = {
        name: getattr(config, name) for name in ABLATED if getattr(config, name) != defaults[name]
    }
    if not moved:
        return None
    found = [c for c in CHANGES if moved == {c.field: c.value} and config.cell in c.cells]
    if len(found) != 1:
        raise ValueError(f"{config.name} is not one change of the ablation family: {moved}")
    return found[0]


def _columns(config: ModelConfig) -> dict[str, Any]:
    change = change_of(config)
    return {
        "cell": config.cell,
        "field": change.field if change else "",
        "value": change.value if change else "",
        "change": change.what if change else SETUP,
        "group": change.group if change else "",
    }


def _report_a(row: Row) -> dict[str, float | None]:
    """Report A's summed test loss for the row's cell at 1×32, and our difference to it."""
    theirs = reports.report_a_loss_sum(f"{row.cell}-1x{ABLATION_UNITS}")
    return {
        "report_a_loss_sum": theirs,
        "loss_minus_report_a": None if theirs is None else row.test_loss_sum - theirs,
    }


def _beside(row: Row) -> dict[str, dict[str, str]]:
    return {
        "model": {"change": row.change},
        "test loss (sum)": {"loss − A's": number(row.loss_minus_report_a, "+,.2f")},
    }


ABLATIONS = results.Family(
    name="ablations",
    label="row by row",
    caption="What the assignment leaves open: one change at a time, on the 10,000 test images",
    configs=ablation_configs,
    columns=_columns,
    references=_report_a,
    beside=_beside,
)
"""The ablations as a family of the results layer."""


def run_ablations(budget: Budget | None = None, **options: Any) -> ResultsTable:
    """Train (or take from the cache) every ablation and aggregate over seeds.

    The table's budget carries the seeds actually trained (:func:`ablation_seeds`), so its
    caption says so; ``options`` are those of :func:`rnnreport.experiments.results.run`.
    """
    budget = budget or settings.budget()
    return results.run(ABLATIONS, replace(budget, seeds=ablation_seeds(budget)), **options)


# -- effects: each change against its cell's setup ------------------------------------------


@dataclass(frozen=True)
class Effect:
    """One change's effect: its row minus its cell's setup row, with their spreads.

    A difference is larger than the spread when ``|Δ| > std_a + std_b`` (the two ranges
    mean ± std do not overlap), the rule of :class:`~rnnreport.experiments.results.Comparison`;
    with one seed nothing is.
    """

    row: Row
    base: Row  # its cell's row of the assignment's setup
    accuracy: float  # difference of mean test accuracies
    accuracy_spread: float
    loss: float  # difference of mean summed test losses
    loss_spread: float
    seeds: int

    @property
    def cell(self) -> str:
        return self.row.cell

    @property
    def change(self) -> str:
        return self.row.change

    @property
    def accuracy_beyond(self) -> bool:
        return results.beyond(self.accuracy, self.accuracy_spread, self.seeds)

    @property
    def loss_beyond(self) -> bool:
        return results.beyond(self.loss, self.loss_spread, self.seeds)

    def accuracy_text(self) -> str:
        return number(self.accuracy * 100, "+.2f") + " points"

    def loss_text(self) -> str:
        return number(self.loss, "+,.1f")


def effects(table: ResultsTable) -> list[Effect]:
    """Every change of ``table`` against its cell's setup, in the table's order."""
    bases = {row.cell: row for row in table.rows if not row.field}
    out = []
    for row in table.rows:
        if not row.field:
            continue
        base = bases[row.cell]
        accuracy = compare(row, base)
        out.append(
            Effect(
                row=row,
                base=base,
                accuracy=accuracy.difference,
                accuracy_spread=accuracy.spread,
                loss=row.test_loss_sum - base.test_loss_sum,
                loss_spread=row.test_loss_sum_std + base.test_loss_sum_std,
                seeds=accuracy.seeds,
            )
        )
    return out


def _verdict(beyond: bool, seeds: int) -> str:
    return "—" if seeds < 2 else ("yes" if beyond else "no")


def effects_table(table: ResultsTable) -> Table:
    """Each change's effect on test accuracy and summed test loss, for people."""
    rows = []
    for e in effects(table):
        rows.append(
            {
                "cell": e.cell.upper(),
                "change": e.change,
                "test accuracy": e.row.accuracy_text(),
                "Δ accuracy": e.accuracy_text(),
                "beyond spread": _verdict(e.accuracy_beyond, e.seeds),
                "test loss (sum)": e.row.loss_text(),
                "Δ loss": e.loss_text(),
                "beyond spread ": _verdict(e.loss_beyond, e.seeds),
                "loss − A's": number(e.row.loss_minus_report_a, "+,.1f"),
            }
        )
    caption = (
        f"Each change against the assignment's setup of the same cell (Δ: change minus "
        f"setup; beyond spread: |Δ| larger than the two rows' standard deviations added), "
        f"{table.budget.describe()}."
    )
    return html_table(rows, caption=caption)


def figure_data(table: ResultsTable) -> dict[str, Any]:
    """The arrays :func:`rnnreport.inspection.plots.results.effect_bars` draws."""
    found = effects(table)
    bases = {e.cell: e.base for e in found}
    return {
        "labels": [e.change for e in found],
        "cells": [e.cell for e in found],
        "accuracy": [e.accuracy * 100 for e in found],
        "accuracy_spread": [e.accuracy_spread * 100 for e in found],
        "loss": [e.loss for e in found],
        "loss_spread": [e.loss_spread for e in found],
        "loss_targets": {
            cell: -base.loss_minus_report_a
            for cell, base in bases.items()
            if base.loss_minus_report_a is not None
        },
    }


# -- findings ----------------------------------------------------------------------------------


def _seeds(table: ResultsTable) -> int:
    return min(row.seeds for row in table.rows)


def _listing(found: Sequence[Effect], text) -> str:
    return "; ".join(f"{e.cell.upper()}, {e.change}: {text(e)}" for e in found)


def findings(table: ResultsTable) -> Findings:
    """What each change does, every number taken from ``table``."""
    found = effects(table)
    seeds = _seeds(table)
    heading = f"Numbers from this build — {table.budget.describe()}."
    if seeds < 2:
        biggest = max(found, key=lambda e: abs(e.accuracy))
        return Findings(
            heading,
            (
                "One seed per model: a token run with no spread across seeds, so no change can "
                "be told from the luck of one run. Train with more seeds (the full budget "
                f"trains {MIN_SEEDS}) to measure the effects.",
                f"The largest difference in this run: {biggest.cell.upper()}, "
                f"{biggest.change}, {biggest.accuracy_text()} of test accuracy.",
            ),
        )
    items = []
    real = [e for e in found if e.accuracy_beyond]
    within = [e for e in found if not e.accuracy_beyond]
    if real:
        items.append(
            f"Changes that move test accuracy by more than the spread across {seeds} seeds: "
            + _listing(real, Effect.accuracy_text)
            + "."
        )
        items.append(
            "Those are the changes worth repeating at 128 units; this build does not train "
            f"them there (each would need {seeds} runs of a model several times as costly as "
            "a 32-unit one), so whether their effects hold at 128 units is not measured here."
        )
    else:
        items.append(f"No change moves test accuracy by more than the spread across {seeds} seeds.")
    if within:
        items.append(
            "Within the spread: "
            + _listing(
                within, lambda e: f"{e.accuracy_text()} (spread {e.accuracy_spread * 100:.2f})"
            )
            + "."
        )
    loss_real = [e for e in found if e.loss_beyond]
    if loss_real:
        items.append(
            "Summed test loss moved by more than the spread: "
            + _listing(loss_real, lambda e: f"{e.loss_text()} (spread {e.loss_spread:,.1f})")
            + "."
        )
    for e in found:
        if e.row.field == "loss":
            accuracy = "larger than" if e.accuracy_beyond else "within"
            loss = "larger than" if e.loss_beyond else "within"
            items.append(
                f"{e.cell.upper()}: averaging the loss instead of summing it divides each "
                "batch's gradient by that batch's size (all batches but an epoch's last have "
                f"{ModelConfig.batch_size}), a scale Adam's normalisation undoes up to its epsilon "
                "when it stays the same from step to step; the measured effect on accuracy "
                f"({e.accuracy_text()}) is {accuracy} the spread across seeds, on the summed "
                f"loss ({e.loss_text()}) {loss} it."
            )
    return Findings(heading, tuple(items))


def _against_spread(effect: Effect) -> str:
    """Whether a change of the summed loss exceeds the two rows' spreads, in words."""
    if effect.seeds < 2:
        return "one seed: no spread to judge it by"
    spread = number(effect.loss_spread, ",.1f")
    if effect.loss_beyond:
        return f"more than {spread}, the sum of the two rows' standard deviations"
    return f"within {spread}, the sum of the two rows' standard deviations"


def reaches_report_a(row: Row) -> bool:
    """Whether report A's summed test loss is within or above our range (mean − std)."""
    theirs = row.report_a_loss_sum
    return theirs is not None and row.test_loss_sum - row.test_loss_sum_std <= theirs


def _loss_against_a(row: Row) -> str:
    return f"{row.cell.upper()}-32 {row.loss_text()} (A's {row.report_a_loss_sum:,.2f})"


def _verdict_against_a(row: Row) -> str:
    """``LSTM-32 868.03 ± 77.46, at or below report A's 877.76`` and the like."""
    theirs = f"report A's {row.report_a_loss_sum:,.2f}"
    if row.test_loss_sum <= row.report_a_loss_sum:
        where = f"at or below {theirs}"
    elif reaches_report_a(row):
        where = f"above {theirs} but within one standard deviation of it"
    elif row.seeds > 1:
        where = f"above {theirs} by more than one standard deviation"
    else:
        where = f"above {theirs}"
    return f"{row.cell.upper()}-32 {row.loss_text()}, {where}"


def report_a_gap(table: ResultsTable) -> Findings:
    """The landing page's account of report A's lower losses, from the ablations' numbers.

    Says which placement of batch normalisation comes closest to report A's summed test
    loss and by how much it lowers ours; for each placement that brings a cell's loss to
    report A's (its mean at or below it, or report A's within one standard deviation of it),
    the numbers; and which placements and other open choices were ruled out.
    """
    seeds = _seeds(table)
    bases = {row.cell: row for row in table.rows if not row.field}
    items = [
        f"With the assignment's setup, over {seeds} seed{'s' * (seeds != 1)}, our summed test "
        "losses are "
        + "; ".join(
            f"{row.cell.upper()}-32 {row.loss_text()}, {number(row.loss_minus_report_a, '+,.1f')} "
            f"from report A's {row.report_a_loss_sum:,.2f}"
            for row in bases.values()
        )
        + f". Report A's one stated change to the setup: {reports.REPORT_A_BATCH_NORM}."
    ]
    norms = [row for row in table.rows if row.field == "batch_norm"]
    places: dict[str, list[Row]] = {}
    for row in norms:
        places.setdefault(row.change.removeprefix("batch norm "), []).append(row)
    if places:
        best = min(
            places,
            key=lambda p: abs(statistics.fmean(r.loss_minus_report_a for r in places[p])),
        )
        moved = {e.row.model: e for e in effects(table)}
        items.append(
            f"Of the placements of batch normalisation, {best} comes closest to report A's "
            "losses: it changes our mean summed test loss by "
            + " and ".join(
                f"{moved[r.model].loss_text()} ({r.cell.upper()}-32, "
                f"{_against_spread(moved[r.model])}; its gap to report A's is "
                f"{number(bases[r.cell].loss_minus_report_a, '+,.1f')})"
                for r in places[best]
            )
            + "."
        )
    reached = {place: rows for place, rows in places.items() if any(map(reaches_report_a, rows))}
    short = (
        f"above it by more than one standard deviation across our {seeds} seeds; report A's "
        "is one run"
        if seeds > 1
        else "not reached in this one-seed run"
    )
    for place, rows in reached.items():
        items.append(
            f"Batch normalisation {place}: " + "; ".join(map(_verdict_against_a, rows)) + "."
        )
    missed = [place for place in places if place not in reached]
    if missed:
        opening = (
            "The other placements of batch normalisation leave both cells above report A's loss"
            if reached
            else "No placement of batch normalisation brings our summed test loss to report A's"
        )
        items.append(
            f"{opening} ({short}): "
            + "; ".join(
                f"{place}: " + ", ".join(_loss_against_a(r) for r in places[place])
                for place in missed
            )
            + "."
        )
    others = [row for row in table.rows if row.field and row.field != "batch_norm"]
    other_reached = [row for row in others if reaches_report_a(row)]
    if other_reached:
        items.append(
            "Of the other open choices, these bring it there: "
            + "; ".join(f"{r.change}: {_loss_against_a(r)}" for r in other_reached)
            + "."
        )
    elif others:
        closest = min(others, key=lambda r: r.test_loss_sum - (r.report_a_loss_sum or 0.0))
        items.append(
            "No other open choice measured here brings it there ("
            + "; ".join(dict.fromkeys(r.change for r in others))
            + f"); the closest is {closest.change}: {_loss_against_a(closest)}."
        )
    if seeds < 2:
        items.append(
            "One seed per model: these numbers come from a token run and rule nothing out."
        )
    heading = f"Report A's lower losses, measured — {table.budget.describe()}."
    return Findings(heading, tuple(items))
