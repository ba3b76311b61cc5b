"""The grid API on a tiny budget: the table's shape, aggregation over seeds, cache reuse."""

from __future__ import annotations

import csv
import json
import statistics

import pytest

from rnnreport import settings
from rnnreport.experiments import grid, results
from rnnreport.experiments.grid import ResultsTable, findings, grid_configs, grid_model, run_grid
from rnnreport.experiments.results import Row
from rnnreport.model.cells import CELLS
from rnnreport.model.classifier import ModelConfig
from rnnreport.settings import Budget

from .test_results import BUDGET, made_up_runs

TINY = Budget("tiny", epochs=1, seeds=2, limit=256)
SHAPES = ((1, 4), (1, 6), (2, 4))
GRID_SHAPES = grid.SHAPES  # the real grid, for the findings on made-up rows


@pytest.fixture(scope="module", autouse=True)
def tiny_grid(tmp_path_factory):
    """Small shapes and a cache of this module's own."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RNNREPORT_CACHE", str(tmp_path_factory.mktemp("cache")))
        mp.setattr(grid, "SHAPES", SHAPES)
        yield


@pytest.fixture(scope="module")
def table(tiny_grid) -> ResultsTable:
    return run_grid(TINY, progress="off")


def test_configs_follow_the_budget() -> None:
    configs = grid_configs(TINY)
    assert len(configs) == 2 * len(SHAPES) * TINY.seeds
    assert {(c.epochs, c.limit) for c in configs} == {(1, 256)}
    assert {c.reset for c in configs} == {"before"} and {c.init for c in configs} == {"tf1"}
    full = grid_configs(settings.BUDGETS["full"])
    assert {(c.epochs, c.limit, c.seed) for c in full} == {(10, None, s) for s in range(3)}


@pytest.mark.slow
def test_table_has_one_row_per_model_in_grid_order(table: ResultsTable) -> None:
    expected = [f"{cell}-{L}x{H}" for cell in CELLS for L, H in SHAPES]
    assert [row.model for row in table.rows] == expected == grid.model_names()
    assert len(table.results) == len(expected) * TINY.seeds
    assert all(row.seeds == TINY.seeds and row.epochs == 1 for row in table.rows)


@pytest.mark.slow
def test_rows_aggregate_their_seeds(table: ResultsTable) -> None:
    for row in table.rows:
        runs = [r for r in table.results if r.name == row.model]
        assert sorted(r.config.seed for r in runs) == [0, 1]
        accuracies = [r.test_accuracy for r in runs]
        assert row.test_accuracy == pytest.approx(statistics.fmean(accuracies))
        assert row.test_accuracy_std == pytest.approx(statistics.stdev(accuracies))
        losses = [r.test_loss_sum for r in runs]
        assert row.test_loss_sum == pytest.approx(statistics.fmean(losses))
        assert row.params == runs[0].params


@pytest.mark.slow
def test_comparison_needs_more_than_one_seed(table: ResultsTable) -> None:
    c = table.compare("gru-1x4", "lstm-1x4")
    a, b = table.row("gru-1x4"), table.row("lstm-1x4")
    assert c.difference == pytest.approx(a.test_accuracy - b.test_accuracy)
    assert c.exceeds_spread == (abs(c.difference) > a.test_accuracy_std + b.test_accuracy_std)
    one_seed = results.Comparison("a", "b", difference=0.5, spread=0.0, seeds=1)
    assert not one_seed.exceeds_spread
    with pytest.raises(KeyError, match="gru-9x9"):
        table.row("gru-9x9")


@pytest.mark.slow
def test_second_run_comes_from_the_cache(table: ResultsTable) -> None:
    again = run_grid(TINY, progress="off")
    assert all(r.cached for r in again.results)
    assert again.rows == table.rows
    model, result = grid_model("gru-2x4", seed=1, budget=TINY)
    assert result.cached and result.config.layers == 2 and model.rnn.num_layers == 2


@pytest.mark.slow
def test_written_files_and_findings(table: ResultsTable, tmp_path) -> None:
    csv_path, json_path = table.write(tmp_path)
    with csv_path.open() as f:
        rows = list(csv.DictReader(f))
    assert [r["model"] for r in rows] == [row.model for row in table.rows]
    data = json.loads(json_path.read_text())
    assert data["budget"]["name"] == "tiny" and len(data["runs"]) == len(table.results)
    with (tmp_path / "results_table.csv").open() as f:
        shown = list(csv.DictReader(f))
    assert [r["model"] for r in shown] == [row.model for row in table.rows]
    row = table.rows[0]
    assert shown[0]["test accuracy"] == f"{row.test_accuracy:.4f} ± {row.test_accuracy_std:.4f}"
    text = findings(table).markdown()
    assert "budget 'tiny'" in text
    best = max(table.rows, key=lambda r: r.test_accuracy)
    assert f"{best.test_accuracy:.2%} ({best.model})" in text
    assert "<table" in table._repr_html_() and "gru-2x4" in table._repr_html_()


@pytest.mark.slow
def test_overriding_seeds_or_epochs_is_labelled() -> None:
    budget = Budget("tiny", epochs=1, seeds=1, limit=64)
    table = run_grid(budget, epochs=2, progress="off")
    assert table.budget.name == "tiny, custom" and table.budget.epochs == 2
    assert "custom settings" in table.budget.describe()
    one_seed = table.display_rows()[0]
    assert "±" not in one_seed["test accuracy"] and "±" not in one_seed["test loss (sum)"]


def _grid_table(accuracy: float, std_seeds) -> ResultsTable:
    rows = []
    for cell in CELLS:
        for layers, units in grid.SHAPES:
            config = ModelConfig(cell=cell, layers=layers, units=units)
            rows.append(Row.aggregate(made_up_runs(config, std_seeds(accuracy)), grid.GRID))
    return ResultsTable(grid.GRID, BUDGET, tuple(rows), ())


def test_grid_findings_name_report_a_batch_normalisation_only_when_the_gap_is_real(
    monkeypatch,
) -> None:
    monkeypatch.setattr(grid, "SHAPES", GRID_SHAPES)
    far_below = _grid_table(0.95, lambda a: [a - 0.001, a, a + 0.001])
    text = grid.findings(far_below).markdown()
    assert "above our mean for 5 of the 5 models" in text and "batch normalisation" in text
    close = _grid_table(0.985, lambda a: [a - 0.01, a, a + 0.01])
    assert "batch normalisation" not in grid.findings(close).markdown()
