"""The results layer on made-up runs: aggregation, records, comparisons, text, findings."""

from __future__ import annotations

import csv
import json
import statistics
from dataclasses import replace

import pytest

from rnnreport.data import load_mnist
from rnnreport.experiments import baselines, grid, results
from rnnreport.experiments.results import Comparison, ResultsTable, Row, compare
from rnnreport.inspection.tables import Findings
from rnnreport.model.classifier import ModelConfig
from rnnreport.settings import Budget
from rnnreport.training.records import Result

BUDGET = Budget("tiny", epochs=1, seeds=3, limit=256)
TINY = ModelConfig(cell="gru", units=8, epochs=2, limit=512, batch_size=128)


def _run(config, accuracy: float, loss_sum: float = 900.0) -> Result:
    return Result(
        config=config,
        params=1234,
        history=(),
        test_loss_sum=loss_sum,
        test_loss=loss_sum / 10_000,
        test_accuracy=accuracy,
        train_seconds=2.0,
    )


def made_up_runs(name_config: ModelConfig, accuracies, losses=None) -> list[Result]:
    losses = losses or [900.0] * len(accuracies)
    return [
        _run(replace(name_config, seed=s), a, loss)
        for s, (a, loss) in enumerate(zip(accuracies, losses, strict=True))
    ]


def test_row_aggregates_and_carries_the_family_columns() -> None:
    runs = made_up_runs(
        ModelConfig(cell="lstm", units=32), [0.96, 0.97, 0.98], [800.0, 900.0, 1000.0]
    )
    row = Row.aggregate(runs, grid.GRID)
    assert row.test_accuracy == pytest.approx(0.97)
    assert row.test_accuracy_std == pytest.approx(statistics.stdev([0.96, 0.97, 0.98]))
    assert row.test_loss_sum_std == pytest.approx(100.0)
    assert (row.cell, row.layers, row.units) == ("lstm", 1, 32)
    # report A gave lstm-1x32 a loss of 877.76: the difference is ours minus theirs
    assert row.loss_minus_report_a == pytest.approx(900.0 - row.report_a_loss_sum)
    assert row.accuracy_minus_report_a == pytest.approx(0.97 - row.report_a_accuracy)
    record = row.record()
    assert list(record)[:5] == ["model", "cell", "layers", "units", "params"]
    assert list(record)[-1] == "accuracy_minus_report_a"
    with pytest.raises(AttributeError, match="no column 'kind'"):
        _ = row.kind


def test_a_gru_without_report_a_accuracy_has_none() -> None:
    row = Row.aggregate(made_up_runs(ModelConfig(cell="gru", units=32), [0.97]), grid.GRID)
    assert row.report_a_accuracy is None and row.accuracy_minus_report_a is None
    assert row.report_a_loss_sum is not None
    shown = results.display(row, grid.GRID.beside(row))
    assert shown["A's accuracy"] == "—" and "±" not in shown["test accuracy"]
    assert list(shown) == [
        "model", "params", "seeds",
        "test loss (sum)", "A's loss", "loss − A's",
        "test accuracy", "A's accuracy", "accuracy − A's",
        "train time (s)",
    ]  # fmt: skip
    with pytest.raises(ValueError, match=r"no column \['loss'\] to show beside"):
        results.display(row, {"loss": {"x": "1"}})


def test_comparison_against_the_spread() -> None:
    a = Row.aggregate(made_up_runs(ModelConfig(cell="gru"), [0.97, 0.98, 0.99]))
    b = Row.aggregate(made_up_runs(ModelConfig(cell="lstm"), [0.90, 0.91, 0.92]))
    c = compare(a, b)
    assert c.difference == pytest.approx(0.07) and c.seeds == 3
    assert c.exceeds_spread and c.text() == "+7.00 points (larger than the spread across 3 seeds)"
    close = compare(a, Row.aggregate(made_up_runs(ModelConfig(cell="lstm"), [0.96, 0.98, 0.99])))
    assert not close.exceeds_spread and "within the spread across 3 seeds" in close.text()
    alone = Comparison("a", "b", difference=0.5, spread=0.0, seeds=1)
    assert not alone.exceeds_spread and "one seed each" in alone.text()


def test_aggregate_refuses_mixed_runs() -> None:
    runs = made_up_runs(ModelConfig(cell="gru"), [0.97, 0.98])
    with pytest.raises(ValueError, match="one model at a time"):
        Row.aggregate([runs[0], _run(ModelConfig(cell="lstm"), 0.9)])
    with pytest.raises(ValueError, match="differ only in their seeds"):
        Row.aggregate([runs[0], runs[0]])
    with pytest.raises(ValueError, match="no runs"):
        Row.aggregate([])


def test_table_writes_every_column_and_a_rounded_copy(tmp_path) -> None:
    runs = made_up_runs(ModelConfig(cell="gru", units=32), [0.97, 0.98, 0.99])
    table = ResultsTable(grid.GRID, BUDGET, (Row.aggregate(runs, grid.GRID),), tuple(runs))
    csv_path, json_path = table.write(tmp_path, stem="x")
    with csv_path.open() as f:
        (record,) = list(csv.DictReader(f))
    assert float(record["test_accuracy"]) == table.rows[0].test_accuracy
    data = json.loads(json_path.read_text())
    assert data["family"] == "grid" and len(data["runs"]) == 3
    with (tmp_path / "x_table.csv").open() as f:
        (shown,) = list(csv.DictReader(f))
    assert shown["test accuracy"] == "0.9800 ± 0.0100"
    assert "budget &#x27;tiny&#x27;" in table._repr_html_() and "gru-1x32" in repr(table)


def test_tables_of_different_budgets_are_not_mixed() -> None:
    runs = made_up_runs(ModelConfig(cell="gru"), [0.97])
    a = ResultsTable(grid.GRID, BUDGET, (Row.aggregate(runs, grid.GRID),), ())
    b = ResultsTable(baselines.BASELINES, replace(BUDGET, epochs=2), (), ())
    with pytest.raises(ValueError, match="different budgets .*grid: .*baselines: "):
        results.same_budget(a, b)
    assert results.same_budget(a, replace(a)) == BUDGET


def test_number_and_spread_text() -> None:
    assert results.number(None, ".2f") == "—" and results.number(float("nan"), ".2f") == "—"
    assert results.number(-1.5, "+.2f") == "−1.50"
    assert results.with_spread(0.5, 0.01, 1, ".2f") == "0.50"
    assert results.with_spread(0.5, 0.01, 2, ".2f") == "0.50 ± 0.01"


def test_findings_render_as_a_list_and_as_markdown() -> None:
    findings = Findings("Numbers <here>.", ("one & two", "three"))
    assert findings.markdown() == "*Numbers <here>.*\n\n- one & two\n- three\n"
    html = findings._repr_html_()
    assert html.count("<li>") == 2 and "one &amp; two" in html and "&lt;here&gt;" in html
    with pytest.raises(ValueError, match="no items"):
        Findings("empty", ())


@pytest.mark.slow
def test_families_train_together_in_one_queue_and_then_read_the_cache(
    tmp_path, monkeypatch, capfd
) -> None:
    """Two MNIST families sharing a model and a counting family: one batch of workers,
    the shared model queued once, largest first; every family's run then reads the cache."""
    from rnnreport.experiments import results
    from rnnreport.model.counter import CounterConfig
    from rnnreport.settings import BUDGETS
    from rnnreport.training.counting import pending
    from rnnreport.training.counting import train_many as train_counters

    lstm = replace(TINY, cell="lstm", units=16)
    columns = lambda config: {"cell": config.cell}  # noqa: E731
    first = results.Family("first", "row by row", "first", lambda b: [TINY, lstm], columns)
    second = results.Family("second", "row by row", "second", lambda b: [TINY], columns)
    counter = CounterConfig(cell="gru", units=3, n_train=3, n_test=6, epochs=3, patience=100)
    counters = results.Family(
        "counters",
        "next symbol",
        "counters",
        lambda b: [counter],
        columns,
        train=train_counters,
        pending=pending,
    )
    monkeypatch.setenv("RNNREPORT_CACHE", str(tmp_path))
    data = load_mnist()
    budget = BUDGETS["smoke"]
    assert results.train_together((first, second, counters), budget, workers=2) == (3, 0)
    err = capfd.readouterr().err
    assert err.count("training 3 models on 2 Dask workers") == 1
    assert "rnnreport: 3 of 3 models trained, 0 left\n" in err
    for family in (first, second, counters):
        table = results.run(family, budget, data=data, progress="off")
        assert all(r.cached for r in table.results)
    assert results.train_together((first, second, counters), budget, workers=2) == (0, 0)
