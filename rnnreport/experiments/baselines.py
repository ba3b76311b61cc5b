"""The whole-image baselines beside the recurrent grid (Q3.1): a family, tables, findings.

:mod:`rnnreport.model.whole_image` defines the four models of the course's Homework 1; this
module trains them as a family of the results layer, under the build's budget (exactly like
the grid), sets them beside the recurrent models of :mod:`rnnreport.experiments.grid`, and
writes the sentences that interpret the numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..inspection import tables
from ..model.whole_image import KINDS, BaselineConfig
from ..settings import Budget
from . import reports, results
from .results import ResultsTable, Row, compare, number, same_budget


def baseline_configs(budget: Budget) -> list[BaselineConfig]:
    """Every (kind, seed) under ``budget``: its epochs, seeds and training subset."""
    return [
        BaselineConfig(kind=kind, seed=seed, epochs=budget.epochs, limit=budget.limit)
        for kind in KINDS
        for seed in range(budget.seeds)
    ]


def _columns(config: BaselineConfig) -> dict[str, Any]:
    return {"kind": config.kind}


def _recalled(row: Row) -> dict[str, float | None]:
    return {"report_a_accuracy": reports.report_a_dl1_accuracy(row.kind)}


def _beside_recalled(row: Row) -> dict[str, dict[str, str]]:
    return {"test accuracy": {"report A (recalled)": number(row.report_a_accuracy, ".3f")}}


BASELINES = results.Family(
    name="baselines",
    label="whole image",
    caption="Whole-image baselines on the 10,000 test images",
    configs=baseline_configs,
    columns=_columns,
    references=_recalled,
    beside=_beside_recalled,
)
"""The course's Homework 1 models as a family of the results layer."""


def run_baselines(budget: Budget | None = None, **options: Any) -> ResultsTable:
    """Train (or take from the cache) every baseline under ``budget`` and aggregate over seeds.

    ``budget`` defaults to the build's (:func:`rnnreport.settings.budget`), so the
    baselines get the same epochs, seeds and training subset as the recurrent grid;
    ``options`` are those of :func:`rnnreport.experiments.results.run`.
    """
    return results.run(BASELINES, budget, **options)


def kind_row(baselines: ResultsTable, kind: str) -> Row:
    """The row of the baseline of ``kind`` (``softmax``, ``mlp1``, ``mlp2`` or ``cnn``)."""
    for row in baselines.rows:
        if row.kind == kind:
            return row
    raise KeyError(f"no baseline of kind {kind!r}: have {[r.kind for r in baselines.rows]}")


# -- beside the recurrent grid -------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One model of either family: how it sees the image, and its row."""

    family: str  # the family's label: "whole image" or "row by row"
    row: Row


def side_by_side(baselines: ResultsTable, recurrent: ResultsTable) -> list[Entry]:
    """The baselines and the recurrent grid in one list, baselines first."""
    same_budget(baselines, recurrent)
    return [Entry(t.family.label, row) for t in (baselines, recurrent) for row in t.rows]


def side_by_side_table(entries: list[Entry], budget: Budget) -> tables.Table:
    """An HTML table of :func:`side_by_side`'s entries."""
    rows = [
        {
            "model": e.row.model,
            "sees the image": e.family,
            "parameters": f"{e.row.params:,}",
            "test accuracy": e.row.accuracy_text(),
            "report A": number(e.row.report_a_accuracy, ".4f"),
        }
        for e in entries
    ]
    caption = (
        f"Whole-image baselines and the recurrent grid, {budget.describe()}. Report A's "
        "baseline numbers are recalled from Homework 1; its recurrent numbers are its own runs."
    )
    return tables.html_table(rows, caption=caption)


def findings(baselines: ResultsTable, recurrent: ResultsTable) -> tables.Findings:
    """Sentences comparing the two families, every number taken from the two tables."""
    same_budget(baselines, recurrent)
    whole, rows = baselines.rows, recurrent.rows
    best_whole = max(whole, key=lambda r: r.test_accuracy)
    best_rnn = max(rows, key=lambda r: r.test_accuracy)
    smallest_rnn = min(rows, key=lambda r: r.params)
    softmax, cnn = kind_row(baselines, "softmax"), kind_row(baselines, "cnn")
    ranking = ", ".join(
        f"{r.model} {r.test_accuracy:.2%}"
        for r in sorted(whole, key=lambda r: r.test_accuracy, reverse=True)
    )
    items = [
        f"Whole-image baselines, best first: {ranking}.",
        f"The best whole-image model ({best_whole.model}) minus the best recurrent model "
        f"({best_rnn.model}): {compare(best_whole, best_rnn).text()}.",
        f"{cnn.model} ({cnn.params:,} parameters) minus {smallest_rnn.model} "
        f"({smallest_rnn.params:,} parameters), the smallest recurrent model: "
        f"{compare(cnn, smallest_rnn).text()}.",
        f"Softmax regression minus {smallest_rnn.model}: {compare(softmax, smallest_rnn).text()}.",
    ]
    beaten = [r.model for r in rows if r.test_accuracy > best_whole.test_accuracy]
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
    everything = (*whole, *rows)
    largest = max(everything, key=lambda r: r.params)
    verdict = "is also" if largest is max(everything, key=lambda r: r.test_accuracy) else "is not"
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


def explanation(baselines: ResultsTable, recurrent: ResultsTable) -> tables.Findings:
    """Why the families differ, each claim chosen by what this build's numbers show."""
    same_budget(baselines, recurrent)
    everything = (*baselines.rows, *recurrent.rows)
    softmax, cnn = kind_row(baselines, "softmax"), kind_row(baselines, "cnn")
    mlp = max((kind_row(baselines, k) for k in ("mlp1", "mlp2")), key=lambda r: r.test_accuracy)
    best_rnn = max(recurrent.rows, key=lambda r: r.test_accuracy)
    leader = max(everything, key=lambda r: r.test_accuracy)
    sizes = sorted({r.units for r in recurrent.rows})
    units = str(sizes[0]) if len(sizes) == 1 else f"{sizes[0]} to {sizes[-1]}"
    items = []
    if all(softmax.test_accuracy < r.test_accuracy for r in everything if r is not softmax):
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


def _epochs(n: int) -> str:
    return "1 epoch" if n == 1 else f"{n} epochs"
