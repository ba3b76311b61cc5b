"""Whole-image baselines as a family: configs, training through the cache, aggregation,
findings."""

from __future__ import annotations

import statistics
from dataclasses import replace

import matplotlib.pyplot as plt
import pytest
import torch

from rnnreport import settings
from rnnreport.data import load_mnist
from rnnreport.experiments import baselines, grid, reports
from rnnreport.experiments.results import ResultsTable, Row
from rnnreport.inspection import plots
from rnnreport.model import whole_image
from rnnreport.model.cells import CELLS
from rnnreport.model.classifier import ModelConfig, count_parameters
from rnnreport.model.whole_image import BaselineConfig
from rnnreport.settings import Budget
from rnnreport.training.mnist import cache_path, trained_model
from rnnreport.training.records import Result

TINY_BUDGET = Budget("tiny", epochs=1, seeds=2, limit=256)


# -- configs -------------------------------------------------------------------------------


def test_configs_follow_the_budget() -> None:
    configs = baselines.baseline_configs(TINY_BUDGET)
    assert [(c.kind, c.seed) for c in configs] == [
        (k, s) for k in whole_image.KINDS for s in range(TINY_BUDGET.seeds)
    ]
    assert {(c.epochs, c.limit, c.batch_size, c.lr) for c in configs} == {(1, 256, 256, 1e-3)}
    full = baselines.baseline_configs(settings.BUDGETS["full"])
    assert {(c.epochs, c.limit) for c in full} == {(10, None)}
    assert len(full) == 4 * settings.BUDGETS["full"].seeds


# -- aggregation ---------------------------------------------------------------------------


def _fake(config, accuracy: float, loss_sum: float, params: int = 100) -> Result:
    return Result(
        config=config,
        params=params,
        history=(),
        test_loss_sum=loss_sum,
        test_loss=loss_sum / 10_000,
        test_accuracy=accuracy,
        train_seconds=1.0,
    )


def test_aggregate_over_seeds() -> None:
    accuracies, losses = [0.95, 0.97, 0.96], [900.0, 700.0, 850.0]
    results = [
        _fake(BaselineConfig(kind="mlp2", seed=s), a, loss)
        for s, (a, loss) in enumerate(zip(accuracies, losses, strict=True))
    ]
    row = Row.aggregate(results, baselines.BASELINES)
    assert (row.model, row.kind, row.seeds) == ("mlp-2x32", "mlp2", 3)
    assert row.test_accuracy == pytest.approx(statistics.fmean(accuracies))
    assert row.test_accuracy_std == pytest.approx(statistics.stdev(accuracies))
    assert row.test_loss_sum_std == pytest.approx(statistics.stdev(losses))
    assert row.report_a_accuracy == reports.REPORT_A_DL1["mlp2"].value
    one = Row.aggregate(results[:1], baselines.BASELINES)
    assert one.test_accuracy_std == 0.0 and one.test_accuracy == accuracies[0]
    with pytest.raises(ValueError, match="one model at a time"):
        Row.aggregate([results[0], _fake(BaselineConfig(kind="cnn", seed=1), 0.9, 1.0)])
    with pytest.raises(ValueError, match="differ only in their seeds"):
        Row.aggregate([results[0], results[0]])
    with pytest.raises(ValueError, match="no runs"):
        Row.aggregate([])


def _tables(accuracy: dict[str, float], budget: Budget = TINY_BUDGET):
    """A baseline table and a grid table with one seed each and the given accuracies."""
    base = ResultsTable(
        baselines.BASELINES,
        budget,
        tuple(
            Row.aggregate(
                [_fake(BaselineConfig(kind=k), accuracy[k], 1.0, params=p)], baselines.BASELINES
            )
            for k, p in zip(whole_image.KINDS, (7850, 25450, 26506, 13570), strict=True)
        ),
        (),
    )
    rows = []
    for cell in CELLS:
        for layers, units in grid.SHAPES:
            config = ModelConfig(cell=cell, layers=layers, units=units)
            result = _fake(config, accuracy.get(config.name, 0.94), 500.0, params=units * 100)
            rows.append(Row.aggregate([result], grid.GRID))
    return base, ResultsTable(grid.GRID, budget, tuple(rows), ())


def test_findings_follow_the_numbers() -> None:
    cnn_first = {"softmax": 0.92, "mlp1": 0.96, "mlp2": 0.965, "cnn": 0.99}
    base, rnn = _tables(cnn_first)
    notes = baselines.findings(base, rnn)
    text = notes.markdown()
    assert "best first: cnn-2x8 99.00%, mlp-2x32 96.50%, mlp-1x32 96.00%, softmax 92.00%" in text
    assert "None of the 8 recurrent models beats" in text
    assert f"softmax {(0.92 - reports.REPORT_A_DL1['softmax'].value) * 100:+.2f} points" in text
    assert "<li>" in notes._repr_html_() and TINY_BUDGET.describe() in text
    why = baselines.explanation(base, rnn).markdown()
    assert "The CNN leads (99.00%)" in why and "it comes last (92.00%)" in why

    base, rnn = _tables({**cnn_first, "cnn": 0.95, "gru-1x128": 0.995})
    text = baselines.findings(base, rnn).markdown()
    assert "1 of 8 recurrent models beats every whole-image baseline" in text
    assert "gru-1x128" in text
    why = baselines.explanation(base, rnn).markdown()
    assert "The CNN does not lead here (95.00%; gru-1x128 has 99.50%)" in why

    other, _ = _tables(cnn_first, budget=replace(TINY_BUDGET, epochs=2))
    with pytest.raises(ValueError, match="different budgets"):
        baselines.findings(other, rnn)


def test_side_by_side_table_and_figure() -> None:
    base, rnn = _tables({"softmax": 0.9, "mlp1": 0.95, "mlp2": 0.96, "cnn": 0.98})
    entries = baselines.side_by_side(base, rnn)
    assert [e.family for e in entries] == ["whole image"] * 4 + ["row by row"] * 8
    html = baselines.side_by_side_table(entries, base.budget)._repr_html_()
    assert html.count("<tr>") == 1 + 12 and "cnn-2x8" in html and "gru-3x32" in html
    rows = [e.row for e in entries]
    fig = plots.results.accuracy_vs_parameters(
        [r.model for r in rows],
        [r.params for r in rows],
        [r.test_accuracy for r in rows],
        [r.test_accuracy_std for r in rows],
        [e.family for e in entries],
        reference=[r.report_a_accuracy for r in rows],
    )
    ax = fig.axes[0]
    assert len(ax.containers) == 12 and len(ax.texts) == 12
    plt.close(fig)
    with pytest.raises(ValueError, match="one value per model"):
        plots.results.accuracy_vs_parameters(["a"], [1, 2], [0.5], [0.0], ["whole image"])


# -- training through the cache ------------------------------------------------------------


@pytest.fixture()
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNREPORT_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.mark.slow
def test_tiny_training_caches_and_reloads(private_cache) -> None:
    data = load_mnist()
    config = BaselineConfig(kind="cnn", epochs=1, limit=256)
    model, first = trained_model(config, data=data, progress="off")
    assert not first.cached and cache_path(config, data).exists()
    assert first.params == count_parameters(model) and len(first.history) == 1
    assert first.to_dict()["config_class"] == "rnnreport.model.whole_image:BaselineConfig"
    again_model, again = trained_model(config, data=data, progress="off")
    assert again.cached and again == first and again.config == config
    for name, value in model.state_dict().items():
        assert torch.equal(value, again_model.state_dict()[name]), name
    assert not again_model.training


@pytest.mark.slow
def test_run_baselines_aggregates_seeds(private_cache) -> None:
    data = load_mnist()
    table = baselines.run_baselines(TINY_BUDGET, data=data, progress="off")
    assert [r.model for r in table.rows] == ["softmax", "mlp-1x32", "mlp-2x32", "cnn-2x8"]
    assert len(table.results) == 4 * TINY_BUDGET.seeds
    for row in table.rows:
        runs = [r for r in table.results if r.name == row.model]
        assert sorted(r.config.seed for r in runs) == [0, 1]
        accuracies = [r.test_accuracy for r in runs]
        assert row.seeds == 2 and row.test_accuracy == pytest.approx(statistics.fmean(accuracies))
        assert row.test_accuracy_std == pytest.approx(statistics.stdev(accuracies))
        assert accuracies[0] != accuracies[1]  # the seed changes the initial weights
    assert "cnn-2x8" in table._repr_html_() and TINY_BUDGET.describe() in repr(table)
    again = baselines.run_baselines(TINY_BUDGET, data=data, progress="off")
    assert all(r.cached for r in again.results) and again.rows == table.rows
