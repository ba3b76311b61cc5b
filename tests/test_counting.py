"""The counting experiment: hand-set counters through the real cells, the trainer's
determinism, cache and resume, and the findings on made-up runs."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from rnnreport import settings
from rnnreport import train_counting as tc
from rnnreport.data import languages as L
from rnnreport.experiments import counting
from rnnreport.inspection.probes import record
from rnnreport.model.classifier import build_model
from rnnreport.model.counter import CounterConfig
from rnnreport.settings import BUDGETS
from rnnreport.theory.common import set_gate

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


# -- the trainer ----------------------------------------------------------------------------

TINY = CounterConfig(cell="gru", units=3, n_train=3, n_test=6, epochs=12, patience=100)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNREPORT_CACHE", str(tmp_path))
    return tmp_path


def _weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_same_config_same_weights(cache) -> None:
    a, result_a = tc.train(TINY, use_cache=False)
    b, result_b = tc.train(TINY, use_cache=False)
    assert _same(_weights(a), _weights(b)) and result_a == result_b
    c, _ = tc.train(replace(TINY, seed=1), use_cache=False)
    assert not _same(_weights(a), _weights(c))
    assert len(result_a.history) == TINY.epochs  # the cap: patience was never reached


def test_second_call_comes_from_the_cache(cache) -> None:
    model, result = tc.train(TINY)
    assert not result.cached and tc.cache_path(TINY).exists()
    assert str(tc.cache_path(TINY)).startswith(str(cache))
    again, cached = tc.train(TINY)
    assert cached.cached and cached == result
    assert _same(_weights(model), _weights(again))


def test_an_interrupted_training_resumes(cache) -> None:
    whole, _ = tc.train(TINY, use_cache=False)

    def stop(epoch) -> None:
        if epoch.epoch == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        tc.train(TINY, on_epoch=stop)
    assert tc.cache_path(TINY).with_suffix(".partial").exists()
    resumed, result = tc.train(TINY)
    assert _same(_weights(whole), _weights(resumed)) and len(result.history) == TINY.epochs


def test_training_stops_by_the_rule() -> None:
    history = [tc.Epoch(e, 0.1, 0.1, 1.0 if e > 3 else 0.5, 0.0) for e in range(1, 7)]
    assert tc._learned(history, 3) and not tc._learned(history[:5], 3)
    assert not tc._learned(history, 4)


def test_the_key_covers_the_config_and_the_data() -> None:
    a = tc.cache_key(TINY, tc.training_strings(TINY))
    b = tc.cache_key(replace(TINY, language="anbncn"), tc.training_strings(TINY))
    assert a["config"] != b["config"]
    assert a["data"] != tc.training_strings(replace(TINY, n_train=4)).digest


@pytest.mark.slow  # trains four token counters in worker processes
def test_the_family_runs_on_the_results_layer(cache) -> None:
    budget = replace(settings.BUDGETS["smoke"], name="smoke-test")
    table = counting.run_counting(budget, progress="off")
    assert {r.model for r in table.rows} == {
        f"{c}-{lang}-h{counting.UNITS}" for c in counting.CELLS for lang in counting.LANGUAGES
    }
    seeds = counting.measure(table)
    assert len(seeds) == len(table.results)
    assert all(len(s.recognised) == counting.plan(budget).n_test for s in seeds)
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
    text = " ".join(items)
    assert "aⁿbⁿ: LSTM ranges 40 to 100 (seeds: 40, 100); 2 of 2 seeds recognise beyond n = 10" in (
        text
    )
    assert "GRU ranges 10 to 11" in text and "1 every string up to n = 100" in text
    assert "LSTM 2 of 2, GRU 0 of 2: the direction Weiss, Goldberg and Yahav (2018) report" in text
    assert (
        "aⁿbⁿ: LSTM 60.0 ± 42.4, GRU 0.5 ± 0.7 (a difference larger than the spread across seeds)"
        in text
    )
    assert (
        "1 of the 2 LSTM runs that learned their training range recognise every string up to "
        "10 × N_train = 100" in text
    )
    assert "differ in range by up to 60" in text
    assert "reaches |h| ≥ 0.99 in 2 of 2 runs, at positions 9, 12" in text
    assert not any("smoke" in item for item in items)
    # the run that recognises every string up to n_test has no "recognition stops"
    assert (
        "On aⁿbⁿ, in 1 trained run that unit counts all the way (R² ≥ 0.99, up with each a and "
        "back with each b) while recognition stops at n = 40 to 40" in text
    )
    assert "1.000 to 1.000 per a and 0.985 to 0.985 back per b" in text
    assert "1 of them fail before n = 100, the earliest at n = 41, 31 past N_train." in text
    assert "LSTM run fails goes wrong first after the last b (1)" in text
    assert "GRU run fails goes wrong first after the last b (2)" in text
    assert "ends 3.0 to 3.0 away from where it started" in text
    assert "cap" not in text  # every made-up run learned its training range
    stuck = [*made_up, _seed("gru", "anbn", 2, 4, 0.1, 3)]
    text = " ".join(counting.findings(stuck, settings.BUDGETS["full"]).items)
    assert "1 of 5 runs reached the cap of 1000 epochs" in text and "GRU aⁿbⁿ seed 2" in text
    reversed_ = [
        replace(s, config=replace(s.config, cell="gru" if s.config.cell == "lstm" else "lstm"))
        for s in made_up
    ]
    assert "the opposite of what Weiss" in " ".join(
        counting.findings(reversed_, settings.BUDGETS["full"]).items
    )


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
