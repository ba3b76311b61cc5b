"""The counting experiment: its measurements on hand-set counters through the real cells,
the family trained on the results layer, and the findings on made-up runs."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from rnnreport import settings
from rnnreport.data import languages as L
from rnnreport.experiments import counting, regimes, results
from rnnreport.inspection.probes import record
from rnnreport.model.cells import CELLS
from rnnreport.model.classifier import build_model
from rnnreport.model.counter import CounterConfig
from rnnreport.settings import BUDGETS
from rnnreport.theory.common import set_gate
from rnnreport.training import counting as tc

from . import item, numbers

BIG = 50.0  # saturates a gate: sigmoid(50) and tanh(50) are exactly 1.0 in float32
N_TRAIN = 10  # what the report trains on; the hand-set counters are judged beyond it


def _zero(cell: torch.nn.Module) -> None:
    with torch.no_grad():
        for p in (cell.U, cell.W, cell.b):
            p.zero_()


def _counting_lstm() -> torch.nn.Module:
    """The theory pages' counting LSTM (f = i = o = 1 by saturated biases), reading aⁿbⁿ:
    unit 1 adds j = +1 per a and -1 per b (c₁ = #a - #b), unit 2 counts the b's. Rows of U:
    ^ a b c."""
    model = build_model(CounterConfig(cell="lstm", units=2))
    cell = model.rnn.cells[0]
    _zero(cell)
    set_gate(cell, "f", b=BIG)
    set_gate(cell, "o", b=BIG)
    set_gate(cell, "i", U=torch.tensor([[BIG, -BIG], [BIG, -BIG], [BIG, BIG], [BIG, -BIG]]))
    set_gate(cell, "j", U=torch.tensor([[0.0, 0.0], [BIG, 0.0], [-BIG, BIG], [0.0, 0.0]]))
    with torch.no_grad():  # outputs a, b, c, $ from h = tanh(c); tanh(1) = 0.76
        model.head.weight.copy_(torch.tensor([[0, -10], [10, 0], [0, 0], [-10, 10.0]]))
        model.head.bias.copy_(torch.tensor([3.8, -3.8, -10, -3.8]))
    return model


def _leaky_gru() -> torch.nn.Module:
    """A GRU that counts as far as float32 lets it: unit 1 moves halfway to 1 per a
    (h = 1 - 2⁻ᵏ after k a's, z = 1/2) and holds during the b's, unit 2 does the same per b,
    unit 3 is 1 once an a was read. The end is predicted where h₂ = h₁ (the readout resolves
    2⁻²² at most), b where h₁ > h₂, a before any b."""
    model = build_model(CounterConfig(cell="gru", units=3))
    cell = model.rnn.cells[0]
    _zero(cell)
    z = [[-BIG, -BIG, -BIG], [0.0, -BIG, -BIG], [BIG, 0.0, BIG], [BIG, BIG, BIG]]
    h_tilde = [[0.0, 0.0, 0.0], [BIG, 0.0, BIG], [0.0, BIG, 0.0], [0.0, 0.0, 0.0]]
    set_gate(cell, "z", U=torch.tensor(z))
    set_gate(cell, "h_tilde", U=torch.tensor(h_tilde))
    K, margin = 2.0**16, 2.0**-7  # a power of two: K h is exact, K (h₂ - h₁) too
    with torch.no_grad():
        model.head.weight.copy_(torch.tensor([[0, -1, 0], [K, -K, 0], [0, 0, 0], [-K, K, 1]]))
        model.head.bias.copy_(torch.tensor([0.25, -margin, -1.0, margin - 1]))
    return model


def _states(model: torch.nn.Module, name: str, n: int) -> np.ndarray:
    x, _ = L.encode("anbn", n)
    with torch.no_grad(), record(model, [name]) as trace:
        model(torch.from_numpy(x)[:, None])
    return trace[name][:, 0].numpy()


def test_the_counting_lstm_is_recognised_far_beyond_n_train() -> None:
    ok = tc.recognition(_counting_lstm(), "anbn", 50 * N_TRAIN)
    assert ok.all() and L.generalisation_range(ok) == 50 * N_TRAIN
    inside = counting.inside(_counting_lstm(), CounterConfig(cell="lstm", units=2), 300)
    assert inside.unit == 0 and inside.best_r2 == pytest.approx(1.0)
    assert inside.slope[0] == pytest.approx(1.0)  # one per a: it counts


def test_a_gru_fails_where_its_state_saturates() -> None:
    model = _leaky_gru()
    ok = tc.recognition(model, "anbn", 60)
    h = _states(model, "layer0.h", 60)
    saturated = counting.first_saturated(h[:, :1], level=1.0)[0]  # h₁ == 1.0 after ^ a^k
    assert saturated == 25  # 1 - 2⁻²⁵ rounds to 1 in float32
    # it counts beyond the training range, and fails before its state saturates ...
    assert N_TRAIN < L.generalisation_range(ok) < saturated
    # ... and from there on it must: a^n and a^(n+1) leave it in the same state, so at
    # most one of a^n b^n, a^(n+1) b^(n+1) can be recognised; here neither is
    assert (h[saturated:61, 0] == 1.0).all()
    assert not ok[saturated - 1 :].any()


def test_inside_measures_a_saturating_unit() -> None:
    model = _leaky_gru()
    inside = counting.inside(model, CounterConfig(cell="gru", units=3), 60)
    assert inside.saturates_at[0] == counting.first_saturated(_states(model, "layer0.h", 60))[0]
    assert 0 < inside.saturates_at[0] < 60  # |h| >= 0.99 after 7 a's
    assert inside.best_r2 < 0.9  # 1 - 2^-k is no straight line in k


def test_first_error() -> None:
    model = _leaky_gru()  # recognises n <= 22 (test above)
    assert counting.first_error(model, "anbn", 20) is None
    assert counting.first_error(model, "anbn", 30) == "inside the b's"  # the end comes early


def test_linear_fit() -> None:
    k = np.arange(1, 11, dtype=float)
    r2, slope = counting.linear_fit(np.stack([2 * k + 1, np.ones(10), np.exp(k)], 1))
    assert r2[0] == pytest.approx(1.0) and slope[0] == pytest.approx(2.0)
    assert r2[1] == 0.0 and 0 < r2[2] < 1


# -- the family, trained ---------------------------------------------------------------------


@pytest.mark.slow  # trains four token counters in worker processes
def test_the_family_runs_on_the_results_layer(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("RNNREPORT_CACHE", str(tmp_path))
    budget = replace(settings.BUDGETS["smoke"], name="smoke-test")
    table = counting.run_counting(budget, progress="off")
    assert (
        {r.model for r in table.rows}
        == {c.name for r in regimes.regimes(budget) for c in r.configs(budget)}
        >= {f"{c}-{lang}-h{regimes.COUNTER_UNITS}" for c in CELLS for lang in L.LANGUAGES}
    )
    seeds = counting.measure(table)  # the report's own regime
    assert [s.config for s in seeds] == counting.report_configs(budget)
    assert all(len(s.recognised) == s.config.n_test for s in seeds)
    assert {s.config.n_test for s in seeds if s.config.language == "anbn"} == {1000}
    outcomes = regimes.measure_regimes(table, budget)  # every regime, to its cap
    assert [o.config for o in outcomes] == [r.config for r in table.results]
    assert all(len(o.recognised) == o.config.n_test for o in outcomes)
    rows = regimes.comparison_rows(outcomes, budget)
    assert {r["verdict"] for r in rows} == {"not comparable"}  # a token run
    assert len(regimes.seed_rows(outcomes, budget)) == len(outcomes)
    rows = counting.range_rows(seeds)
    assert [r["cell"] for r in rows] == ["LSTM", "GRU"] and "aⁿbⁿcⁿ range" in rows[0]
    assert "smoke" in counting.findings(seeds, budget).items[0]


# -- the findings, on made-up runs -----------------------------------------------------------


def _seed(cell: str, language: str, seed: int, good_up_to: int, r2: float, sat: int) -> object:
    config = CounterConfig(cell=cell, language=language, seed=seed, n_train=10, n_test=100)
    ok = np.arange(1, 101) <= good_up_to
    states = np.zeros((201, 4))
    states[200, 0] = 3.0  # up 1 per a, down 0.985 per b
    up, down, units = np.ones(4), np.full(4, -0.985), np.array([r2, 0, 0, 0])
    inside = counting.Inside(100, states, units, up, down, 0, np.array([sat, -1, -1, -1]))
    error = "after the last b" if good_up_to < 100 else None
    return counting.Seed(config, 300, good_up_to >= 10, ok, inside, error)


def test_findings_on_made_up_runs() -> None:
    made_up = [
        _seed("lstm", "anbn", 0, 100, 0.999, -1),
        _seed("lstm", "anbn", 1, 40, 0.99, -1),
        _seed("gru", "anbn", 0, 11, 0.5, 12),
        _seed("gru", "anbn", 1, 10, 0.6, 9),
    ]
    items = counting.findings(made_up, settings.BUDGETS["full"]).items
    # the one snapshot of the wording: ranges, beyond N_train = 10, up to n_test = 100
    assert items[0] == (
        "aⁿbⁿ: LSTM ranges 40 to 100 (seeds: 40, 100); 2 of 2 seeds recognise beyond n = 10, "
        "1 every string up to n = 100; GRU ranges 10 to 11 (seeds: 10, 11); 1 of 2 seeds "
        "recognise beyond n = 10, 0 every string up to n = 100."
    )
    assert not any(i.startswith("aⁿbⁿcⁿ") for i in items)  # no runs on it: no line
    # at least twice N_train (n >= 20): both LSTMs (100, 40), neither GRU (11, 10)
    twice = item(items, "at least twice")
    assert numbers(twice) == [20, 2, 2, 0, 2, 2018] and "the direction Weiss" in twice
    # past N_train: the LSTMs by 90 and 30, the GRUs by 1 and 0, mean ± sample std
    (lm, ls), (gm, gs) = results.mean_std([90, 30]), results.mean_std([1, 0])
    past = item(items, "How far past N_train")
    assert numbers(past) == pytest.approx([lm, ls, gm, gs], abs=0.05)
    assert "larger than the spread" in past  # 60 - 0.5 > 42.4 + 0.7
    # every string up to n_test: 1 of 2 LSTMs; the other fails at 41 = N_train + 31
    assert numbers(item(items, "El-Naggar")) == [1, 2, 100, 2022, 1, 1, 41, 31]  # Dyck-1
    # the seeds' ranges differ by 100 - 40; patience as configured
    spread = item(items, "differ in range")
    assert numbers(spread) == [60, 2019, 10, CounterConfig().patience]
    # inside: R² of the best units, the counting LSTM (range 40 < 100, up 1, down 0.985,
    # ending 3.0 away), the GRUs' saturation positions, and where the first failure goes wrong
    lstm = item(items, "LSTM cell c_t")
    assert numbers(lstm) == [100, 0.99, 0.999, 1, 0.99, 40, 40, 1, 1, 0.985, 0.985, 100, 3, 3, 1]
    gru = item(items, "GRU state h_t")
    assert numbers(gru) == [100, 0.5, 0.6, 0.99, 2, 2, 9, 12, 2]
    assert "after the last b" in lstm and "after the last b" in gru
    assert not any("smoke" in i or "cap" in i for i in items)  # every run learned its range
    stuck = [*made_up, _seed("gru", "anbn", 2, 4, 0.1, 3)]
    capped = item(counting.findings(stuck, settings.BUDGETS["full"]).items, "cap")
    assert numbers(capped) == [1, 5, 1000, 2] and "GRU aⁿbⁿ seed" in capped
    reversed_ = [
        replace(s, config=replace(s.config, cell="gru" if s.config.cell == "lstm" else "lstm"))
        for s in made_up
    ]
    twice = item(counting.findings(reversed_, settings.BUDGETS["full"]).items, "at least twice")
    assert numbers(twice) == [20, 0, 2, 2, 2, 2018] and "the opposite of what Weiss" in twice


def test_findings_with_one_seed_and_no_learned_lstm() -> None:
    made_up = [_seed("lstm", "anbn", 0, 4, 0.5, -1), _seed("gru", "anbn", 0, 4, 0.5, -1)]
    text = " ".join(counting.findings(made_up, settings.BUDGETS["smoke"]).items)
    assert text.startswith("These are token runs")
    assert "One seed per cell and language: no spread across seeds to report" in text
    assert "No LSTM run learned its training range, so none tests the claim" in text
    assert "How far past N_train" not in text  # no run learned its range: nothing to compare


def test_the_caption_says_when_a_custom_budget_asks_for_epochs_that_do_not_apply() -> None:
    full = BUDGETS["full"]
    assert "do not apply" not in counting.describe(full)
    assert "do not apply" not in counting.describe(replace(full, name="full, custom", seeds=5))
    custom = replace(full, name="full, custom", epochs=3)
    assert "(the budget's 3 epochs are MNIST's and do not apply here)" in counting.describe(custom)
    assert "at most 1000 epochs" in counting.describe(custom)  # the plan's, unchanged
