"""The ablation family: its configs, its effects and the sentences made from them."""

from __future__ import annotations

from dataclasses import fields, replace

import matplotlib
import pytest

from rnnreport.experiments import ablations, grid, reports
from rnnreport.experiments.ablations import ABLATIONS, CHANGES, ablation_configs, change_of
from rnnreport.experiments.results import ResultsTable, Row
from rnnreport.inspection import plots
from rnnreport.model.classifier import ModelConfig
from rnnreport.settings import BUDGETS, Budget

from . import item, numbers

matplotlib.use("Agg")

FULL, SMOKE = BUDGETS["full"], BUDGETS["smoke"]
FULL_SEEDS = ablations.ablation_seeds(FULL)


def _moved(config: ModelConfig, base: ModelConfig) -> dict[str, object]:
    return {
        f.name: getattr(config, f.name)
        for f in fields(ModelConfig)
        if getattr(config, f.name) != getattr(base, f.name)
    }


def test_each_config_is_the_grid_setup_with_exactly_one_field_changed() -> None:
    configs = ablation_configs(FULL)
    grid_32 = [
        c for c in grid.grid_configs(replace(FULL, seeds=5)) if (c.layers, c.units) == (1, 32)
    ]
    bases = {(c.cell, c.seed): c for c in grid_32}
    changed = set()
    for config in configs:
        moved = _moved(config, bases[config.cell, config.seed])
        assert len(moved) <= 1, (config.name, moved)
        changed |= {(config.cell, *item) for item in moved.items()}
    expected = {(cell, c.field, c.value) for c in CHANGES for cell in c.cells}
    assert changed == expected
    # the baselines are the grid's own configs, so the grid's runs are reused
    assert {c for c in configs if not _moved(c, bases[c.cell, c.seed])} == set(bases.values())


def test_seeds_follow_the_stated_rule() -> None:
    assert ablations.ablation_seeds(SMOKE) == 1
    assert ablations.ablation_seeds(FULL) == max(5, FULL.seeds) == 5
    assert ablations.ablation_seeds(replace(FULL, seeds=7)) == 7
    for budget, seeds in ((FULL, 5), (SMOKE, 1)):
        configs = ablation_configs(budget)
        names = {c.name for c in configs}
        assert len(configs) == len(names) * seeds
        assert {c.epochs for c in configs} == {budget.epochs}
        assert {c.limit for c in configs} == {budget.limit}
    assert len({c.name for c in ablation_configs(FULL)}) == 2 + sum(len(c.cells) for c in CHANGES)


def test_change_of_names_the_one_change_and_refuses_two() -> None:
    base = ModelConfig(cell="lstm", units=32)
    assert change_of(base) is None
    assert change_of(replace(base, batch_norm="head")).what == "batch norm on the head's 64 units"
    with pytest.raises(ValueError, match="not one change"):
        change_of(replace(base, batch_norm="head", loss="mean"))
    with pytest.raises(ValueError, match="not one change"):
        change_of(replace(base, forget_bias=2.0))


# -- made-up rows ----------------------------------------------------------------------------


def _row(config: ModelConfig, loss: float, loss_std: float, accuracy: float, accuracy_std: float):
    row = Row(
        model=config.name,
        params=1,
        seeds=5 if loss_std else 1,
        epochs=10,
        test_loss_sum=loss,
        test_loss_sum_std=loss_std,
        test_loss=loss / 10_000,
        test_accuracy=accuracy,
        test_accuracy_std=accuracy_std,
        train_seconds=1.0,
    )
    row = replace(row, columns=ABLATIONS.columns(config))
    return replace(row, references=ABLATIONS.references(row))


def _table(numbers: dict[str, tuple[float, float, float, float]], budget: Budget) -> ResultsTable:
    """Every model of the family; ``numbers[name]`` overrides the default (1000, 20, .96, .002)."""
    configs = {c.name: c for c in ablation_configs(budget)}
    default = (1000.0, 20.0, 0.96, 0.002) if budget.seeds > 1 else (1000.0, 0.0, 0.96, 0.0)
    rows = tuple(_row(c, *numbers.get(name, default)) for name, c in configs.items())
    return ResultsTable(ABLATIONS, budget, rows, ())


def test_effects_are_differences_to_the_cells_baseline_judged_by_the_spread() -> None:
    table = _table(
        {
            "lstm-1x32-bn-head": (900.0, 10.0, 0.97, 0.001),
            "gru-1x32-mean": (1010.0, 5, 0.961, 0.002),
        },
        FULL,
    )
    found = {e.row.model: e for e in ablations.effects(table)}
    assert "lstm-1x32" not in found and len(found) == len(table.rows) - 2
    bn = found["lstm-1x32-bn-head"]
    assert bn.loss == pytest.approx(-100.0) and bn.loss_spread == pytest.approx(30.0)
    assert bn.accuracy == pytest.approx(0.01) and bn.accuracy_beyond and bn.loss_beyond
    mean = found["gru-1x32-mean"]
    assert not mean.accuracy_beyond and not mean.loss_beyond
    shown = ablations.effects_table(table)
    assert "+1.00 points" in repr(shown) and "−100.0" in repr(shown)
    assert ablations.figure_data(table)["loss_targets"] == {
        "lstm": pytest.approx(reports.report_a_loss_sum("lstm-1x32") - 1000.0),
        "gru": pytest.approx(reports.report_a_loss_sum("gru-1x32") - 1000.0),
    }


def test_the_gap_names_the_batch_norm_that_reaches_report_a() -> None:
    a_lstm, a_gru = reports.report_a_loss_sum("lstm-1x32"), reports.report_a_loss_sum("gru-1x32")
    # every row at 1,000 ± 20 but LSTM-32's batch norm on the head, 5 above report A's ± 10
    table = _table({"lstm-1x32-bn-head": (a_lstm + 5.0, 10.0, 0.972, 0.001)}, FULL)
    items = ablations.report_a_gap(table).items
    setup = item(items, "With the assignment's setup")
    assert numbers(setup)[:11] == pytest.approx(
        [FULL_SEEDS, 32, 1000, 20, 1000 - a_lstm, a_lstm, 32, 1000, 20, 1000 - a_gru, a_gru],
        abs=0.05,
    )
    assert reports.REPORT_A_BATCH_NORM in setup
    # the head comes closest; the change and its spread (20 + 10, 20 + 20), each cell's gap
    closest = item(items, "comes closest")
    assert "on the head's 64 units comes closest" in closest
    assert numbers(closest) == pytest.approx(
        [64, a_lstm + 5 - 1000, 32, 30, 1000 - a_lstm, 0, 32, 40, 1000 - a_gru], abs=0.05
    )
    assert "more than 30.0" in closest and "within 40.0" in closest
    # it reaches report A's for the LSTM (within its std), not for the GRU
    reached = item(items, "Batch normalisation on the head")
    assert numbers(reached) == [64, 32, a_lstm + 5, 10, a_lstm, 32, 1000, 20, a_gru]
    assert "but within one standard deviation" in reached and "by more than one" in reached
    # the other placements, and the other open choices, do not
    others = item(items, "The other placements")
    assert "on the input projection" in others and "on the RNN output" in others
    assert numbers(others)[:1] == [FULL_SEEDS]
    assert not any(i.startswith("No placement") for i in items)
    assert item(items, "No other open choice")


def test_the_gap_says_at_or_below_when_the_mean_is() -> None:
    table = _table(
        {
            "lstm-1x32-bn-output": (870.0, 10.0, 0.97, 0.001),
            "gru-1x32-bn-output": (800, 9, 0.97, 0),
        },
        FULL,
    )
    (sentence,) = [i for i in ablations.report_a_gap(table).items if i.startswith("Batch norm")]
    assert sentence == (
        "Batch normalisation on the RNN output: LSTM-32 870.00 ± 10.00, at or below report A's "
        "877.76; GRU-32 800.00 ± 9.00, at or below report A's 822.58."
    )


def test_the_gap_says_what_was_ruled_out_when_nothing_reaches() -> None:
    table = _table({}, FULL)
    text = " ".join(ablations.report_a_gap(table).items)
    assert "No placement of batch normalisation brings our summed test loss to report A's" in text
    assert f"(above it by more than one standard deviation across our {FULL_SEEDS} seeds;" in text
    assert "ruled out" not in text  # one standard deviation of a few seeds rules nothing out
    for place in ("on the input projection", "on the RNN output", "on the head's 64 units"):
        assert place in text
    assert "No other open choice measured here brings it there" in text and "grey pixels" in text
    one_seed = " ".join(ablations.report_a_gap(_table({}, SMOKE)).items)
    assert "not reached in this one-seed run" in one_seed and "rule nothing out" in one_seed


def test_findings_are_made_from_the_numbers() -> None:
    table = _table({"gru-1x32-after": (980.0, 10.0, 0.955, 0.001)}, FULL)
    items = ablations.findings(table).items
    assert items[0] == (
        "Changes that move test accuracy by more than the spread across 5 seeds: "
        "GRU, reset after the matmul, as torch.nn.GRU: −0.50 points."
    )
    assert items[1].startswith("Those are the changes worth repeating at 128 units")
    assert "each would need 5 runs" in items[1]
    assert any("averaging the loss" in item and "within the spread" in item for item in items)
    nothing = ablations.findings(_table({}, FULL)).items
    assert nothing[0].startswith("No change moves") and numbers(nothing[0]) == [FULL_SEEDS]
    assert not any("worth repeating" in item for item in nothing)
    token = ablations.findings(_table({}, SMOKE)).items
    assert token[0].startswith("One seed per model: a token run")


@pytest.mark.slow
def test_the_family_runs_through_the_results_layer(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("RNNREPORT_CACHE", str(tmp_path / "cache"))
    tiny = Budget("tiny", epochs=1, seeds=1, limit=256)
    table = ablations.run_ablations(tiny, progress="off", workers=2)
    assert len(table.rows) == 2 + sum(len(c.cells) for c in CHANGES)
    assert table.budget.seeds == 1 and "1 seed" in table.html().caption
    assert {r.change for r in table.rows} >= {
        "batch norm on the head's 64 units",
        "grey pixels p / 255",
    }
    figure = plots.results.effect_bars(**ablations.figure_data(table))
    assert len(figure.axes) == 2
    assert ablations.report_a_gap(table).items


def test_closest_means_nearest_report_a_not_lowest() -> None:
    a_lstm = reports.report_a_loss_sum("lstm-1x32")
    a_gru = reports.report_a_loss_sum("gru-1x32")
    table = _table(
        {
            "lstm-1x32-bn-input": (a_lstm - 300.0, 10.0, 0.97, 0.001),
            "gru-1x32-bn-input": (a_gru - 300.0, 10.0, 0.97, 0.001),
            "lstm-1x32-bn-head": (a_lstm + 5.0, 10.0, 0.97, 0.001),
            "gru-1x32-bn-head": (a_gru + 5.0, 10.0, 0.97, 0.001),
        },
        FULL,
    )
    (closest,) = [i for i in ablations.report_a_gap(table).items if "comes closest" in i]
    assert "on the head's 64 units comes closest" in closest
