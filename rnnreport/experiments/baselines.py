"""The whole-image baselines beside the recurrent grid (Q3.1): results, tables, findings.

:mod:`rnnreport.model.whole_image` defines the four models of the course's Homework 1; this module
trains them under the build's budget (exactly like the grid), aggregates them over seeds,
sets them beside the recurrent models of :mod:`rnnreport.experiments.grid`, and writes the sentences
that interpret the numbers. Kept apart from the models so that editing a sentence here does
not change the trainer's cache key for them.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from .. import settings
from ..data import MNIST, load_mnist
from ..inspection import tables
from ..model.whole_image import KINDS, BaselineConfig
from ..settings import Budget
from ..train import Result, train_many
from . import grid, reports
from .grid import Comparison, by_model, mean_std, one_model


def baseline_configs(budget: Budget) -> list[BaselineConfig]:
    """Every (kind, seed) under ``budget``: its epochs, seeds and training subset."""
    return [
        BaselineConfig(kind=kind, seed=seed, epochs=budget.epochs, limit=budget.limit)
        for kind in KINDS
        for seed in range(budget.seeds)
    ]


@dataclass(frozen=True)
class BaselineRow:
    """One baseline aggregated over seeds (``*_std``: sample std, 0 for one seed)."""

    model: str
    kind: str
    params: int
    seeds: int
    epochs: int
    test_loss_sum: float
    test_loss_sum_std: float
    test_accuracy: float
    test_accuracy_std: float
    train_seconds: float
    report_a_accuracy: float | None

    @classmethod
    def aggregate(cls, results: Sequence[Result]) -> BaselineRow:
        """Mean ± std over ``results``, runs of one baseline that differ only in the seed."""
        first = one_model(results)[0].config
        loss, loss_std = mean_std([r.test_loss_sum for r in results])
        accuracy, accuracy_std = mean_std([r.test_accuracy for r in results])
        return cls(
            model=first.name,
            kind=first.kind,
            params=results[0].params,
            seeds=len(results),
            epochs=first.epochs,
            test_loss_sum=loss,
            test_loss_sum_std=loss_std,
            test_accuracy=accuracy,
            test_accuracy_std=accuracy_std,
            train_seconds=statistics.fmean(r.train_seconds for r in results),
            report_a_accuracy=reports.report_a_dl1_accuracy(first.kind),
        )


@dataclass(frozen=True)
class BaselineTable:
    """The baselines' results: one :class:`BaselineRow` per model, and every run behind them."""

    budget: Budget
    rows: tuple[BaselineRow, ...]
    results: tuple[Result, ...]

    def row(self, model: str) -> BaselineRow:
        """The row of ``model`` (a name like ``cnn-2x8``, or a kind like ``cnn``)."""
        for row in self.rows:
            if model in (row.model, row.kind):
                return row
        raise KeyError(f"no baseline {model!r} in the table: have {[r.model for r in self.rows]}")

    def records(self) -> list[dict[str, Any]]:
        """One flat dict per baseline, with report A's recalled accuracy."""
        return [asdict(row) for row in self.rows]

    def _repr_html_(self) -> str:
        rows = [
            {
                "model": r.model,
                "parameters": f"{r.params:,}",
                "seeds": r.seeds,
                "test loss (sum)": f"{r.test_loss_sum:.2f} ± {r.test_loss_sum_std:.2f}",
                "test accuracy": f"{r.test_accuracy:.4f} ± {r.test_accuracy_std:.4f}",
                "report A (recalled)": _num(r.report_a_accuracy, ".3f"),
                "train time (s)": f"{r.train_seconds:.0f}",
            }
            for r in self.rows
        ]
        caption = f"Whole-image baselines on the 10,000 test images, {self.budget.describe()}."
        return tables.html_table(rows, caption=caption)._repr_html_()

    def __repr__(self) -> str:
        lines = [self.budget.describe()]
        for r in self.rows:
            lines.append(
                f"{r.model:<9} {r.params:>7,} params  test loss {r.test_loss_sum:8.2f} "
                f"± {r.test_loss_sum_std:6.2f}  accuracy {r.test_accuracy:.4f} "
                f"± {r.test_accuracy_std:.4f}"
            )
        return "\n".join(lines)


def _num(value: float | None, fmt: str) -> str:
    return "—" if value is None or math.isnan(value) else format(value, fmt)


def run_baselines(
    budget: Budget | None = None, *, data: MNIST | None = None, progress: str = "lines"
) -> BaselineTable:
    """Train (or take from the cache) every baseline under ``budget`` and aggregate over seeds.

    ``budget`` defaults to :func:`rnnreport.settings.budget`, so the
    baselines get the same epochs, seeds and training subset as the recurrent grid of the
    same build.
    """
    budget = budget or settings.budget()
    data = data or load_mnist()
    results = train_many(baseline_configs(budget), data=data, progress=progress)
    rows = tuple(BaselineRow.aggregate(runs) for runs in by_model(results).values())
    return BaselineTable(budget, rows, tuple(results))


# -- beside the recurrent grid -------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One model of either family, as the side-by-side table and figure need it."""

    model: str
    family: str  # "whole image" or "row by row"
    params: int
    seeds: int
    test_accuracy: float
    test_accuracy_std: float
    report_a_accuracy: float | None


def side_by_side(baselines: BaselineTable, recurrent: grid.Table) -> list[Entry]:
    """The baselines and the recurrent grid in one list, baselines first."""
    whole = [
        Entry(
            r.model,
            "whole image",
            r.params,
            r.seeds,
            r.test_accuracy,
            r.test_accuracy_std,
            r.report_a_accuracy,
        )
        for r in baselines.rows
    ]
    rows = [
        Entry(
            r.model,
            "row by row",
            r.params,
            r.seeds,
            r.test_accuracy,
            r.test_accuracy_std,
            r.report_a_accuracy,
        )
        for r in recurrent.rows
    ]
    return whole + rows


def side_by_side_table(entries: Sequence[Entry], budget: Budget) -> tables.Table:
    """An HTML table of :func:`side_by_side`'s entries."""
    rows = [
        {
            "model": e.model,
            "sees the image": e.family,
            "parameters": f"{e.params:,}",
            "test accuracy": f"{e.test_accuracy:.4f} ± {e.test_accuracy_std:.4f}",
            "report A": _num(e.report_a_accuracy, ".4f"),
        }
        for e in entries
    ]
    caption = (
        f"Whole-image baselines and the recurrent grid, {budget.describe()}. Report A's "
        "baseline numbers are recalled from Homework 1; its recurrent numbers are its own runs."
    )
    return tables.html_table(rows, caption=caption)


def _compare(a: Entry, b: Entry) -> Comparison:
    return Comparison(
        a.model,
        b.model,
        a.test_accuracy - b.test_accuracy,
        a.test_accuracy_std + b.test_accuracy_std,
        min(a.seeds, b.seeds),
    )


def _points(c: Comparison) -> str:
    """``+1.23 points (larger than the spread across 3 seeds)`` and the like."""
    text = f"{c.difference * 100:+.2f} points"
    if c.seeds < 2:
        return text + " (one seed each: no spread to judge it by)"
    verdict = "larger than" if c.exceeds_spread else "within"
    return f"{text} ({verdict} the spread across {c.seeds} seeds)"


def findings(baselines: BaselineTable, recurrent: grid.Table) -> tables.Findings:
    """Sentences comparing the two families, every number taken from the two tables."""
    _same_budget(baselines, recurrent)
    entries = side_by_side(baselines, recurrent)
    by_name = {e.model: e for e in entries}
    whole = [e for e in entries if e.family == "whole image"]
    rows = [e for e in entries if e.family == "row by row"]
    best_whole = max(whole, key=lambda e: e.test_accuracy)
    best_rnn = max(rows, key=lambda e: e.test_accuracy)
    smallest_rnn = min(rows, key=lambda e: e.params)
    softmax, cnn = by_name[baselines.row("softmax").model], by_name[baselines.row("cnn").model]
    ranking = ", ".join(
        f"{e.model} {e.test_accuracy:.2%}"
        for e in sorted(whole, key=lambda e: e.test_accuracy, reverse=True)
    )
    items = [
        f"Whole-image baselines, best first: {ranking}.",
        f"The best whole-image model ({best_whole.model}) minus the best recurrent model "
        f"({best_rnn.model}): {_points(_compare(best_whole, best_rnn))}.",
        f"{cnn.model} ({cnn.params:,} parameters) minus {smallest_rnn.model} "
        f"({smallest_rnn.params:,} parameters), the smallest recurrent model: "
        f"{_points(_compare(cnn, smallest_rnn))}.",
        f"Softmax regression minus {smallest_rnn.model}: "
        f"{_points(_compare(softmax, smallest_rnn))}.",
    ]
    beaten = [e.model for e in rows if e.test_accuracy > best_whole.test_accuracy]
    if beaten:
        verb = "beats" if len(beaten) == 1 else "beat"
        items.append(
            f"{len(beaten)} of {len(rows)} recurrent models {verb} every whole-image baseline "
            f"on mean test accuracy: {', '.join(beaten)}."
        )
    else:
        items.append(
            f"None of the {len(rows)} recurrent models beats the best whole-image baseline "
            f"({best_whole.model}) on mean test accuracy."
        )
    largest = max(entries, key=lambda e: e.params)
    verdict = "is also" if largest is max(entries, key=lambda e: e.test_accuracy) else "is not"
    items.append(
        f"The largest model, {largest.model} ({largest.params:,} parameters), {verdict} the "
        "most accurate of all."
    )
    recalled = "; ".join(
        f"{r.model} {(r.test_accuracy - r.report_a_accuracy) * 100:+.2f} points"
        for r in baselines.rows
        if r.report_a_accuracy is not None
    )
    items.append(
        "Our baselines minus the Homework 1 accuracies report A recalls from memory "
        f"(≈ values, from SGD on grey-level images): {recalled}."
    )
    heading = f"Numbers from this build — {baselines.budget.describe()}."
    return tables.Findings(heading, tuple(items))


def explanation(baselines: BaselineTable, recurrent: grid.Table) -> tables.Findings:
    """Why the families differ, each claim chosen by what this build's numbers show."""
    _same_budget(baselines, recurrent)
    entries = {e.model: e for e in side_by_side(baselines, recurrent)}
    softmax = entries[baselines.row("softmax").model]
    cnn = entries[baselines.row("cnn").model]
    mlp = max(
        (entries[baselines.row(k).model] for k in ("mlp1", "mlp2")),
        key=lambda e: e.test_accuracy,
    )
    best_rnn = max(
        (e for e in entries.values() if e.family == "row by row"), key=lambda e: e.test_accuracy
    )
    leader = max(entries.values(), key=lambda e: e.test_accuracy)
    sizes = sorted({r.units for r in recurrent.rows})
    units = str(sizes[0]) if len(sizes) == 1 else f"{sizes[0]} to {sizes[-1]}"
    items = []
    if all(softmax.test_accuracy < e.test_accuracy for e in entries.values() if e is not softmax):
        items.append(
            f"Softmax regression is linear, and it comes last ({softmax.test_accuracy:.2%}): "
            "its logits are affine in the 784 pixels, one template per class, and one "
            "template cannot cover every way a digit is written."
        )
    else:
        items.append(
            f"Softmax regression is linear (its logits are affine in the pixels), yet here "
            f"it reaches {softmax.test_accuracy:.2%} and is not last: the models that could "
            "do better have not been trained enough to show it."
        )
    if leader is cnn:
        items.append(
            f"The CNN leads ({cnn.test_accuracy:.2%}) with {cnn.params:,} parameters, fewer "
            f"than {mlp.model}'s {mlp.params:,}: its small filters are shared over the whole "
            "image, so a stroke is detected wherever it lies (translation equivariance), and "
            "pooling tolerates small shifts. That prior suits digits; a fully connected net "
            "has to learn every position separately."
        )
    else:
        items.append(
            f"The CNN does not lead here ({cnn.test_accuracy:.2%}; {leader.model} has "
            f"{leader.test_accuracy:.2%}): its shared local filters are a good prior for "
            "digits, but a prior pays only once the filters have been trained."
        )
    items.append(
        f"The recurrent models read one row at a time (best here: {best_rnn.model}, "
        f"{best_rnn.test_accuracy:.2%}). What they need from the top of a digit must survive "
        f"in a state of {units} numbers per layer until the last row, where the classifier "
        "reads it, while a whole-image model sees every pixel when it decides. The recurrence "
        "shares its weights along the rows only: nothing in it says that a stroke shifted "
        "sideways is the same stroke."
    )
    items.append(
        "Binarization throws away the grey levels along the edges of the strokes, which "
        "carry some of their shape. Both families here see the same binary images, but the "
        "Homework 1 numbers report A recalls were measured on grey-level ones, so part of "
        "any gap to them is the data, not the model."
    )
    items.append(
        f"Training budget: every model here gets {_epochs(baselines.budget.epochs)} of Adam "
        "on the same images, while the homework trained its models with SGD for its own "
        "numbers of epochs; neither family's numbers are the best it could reach."
    )
    heading = "Why the two families differ, read against this build's numbers."
    return tables.Findings(heading, tuple(items))


def _same_budget(baselines: BaselineTable, recurrent: grid.Table) -> None:
    if baselines.budget != recurrent.budget:
        raise ValueError(
            f"the baselines ({baselines.budget.describe()}) and the grid "
            f"({recurrent.budget.describe()}) were trained under different budgets: run both "
            "with the same one"
        )


def _epochs(n: int) -> str:
    return "1 epoch" if n == 1 else f"{n} epochs"
