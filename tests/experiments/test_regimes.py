"""The papers' regimes: their configs, e₁ … e₅ on counters whose failing n are set by hand,
and the verdicts beside the papers on made-up runs."""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import pytest
import torch

from rnnreport.experiments import regimes
from rnnreport.model.counter import CounterConfig
from rnnreport.settings import BUDGETS
from rnnreport.training import counting as tc

FULL, SMOKE = BUDGETS["full"], BUDGETS["smoke"]


# -- the configs ---------------------------------------------------------------------------


def test_every_regime_is_tested_far_enough() -> None:
    for config in regimes.configs(FULL) + regimes.configs(SMOKE):
        assert config.n_test >= 10 * config.n_train
        if config.language == "anbn":
            assert config.n_test >= 1000


def test_the_full_budget_trains_five_seeds_of_weiss_lstm() -> None:
    weiss = regimes.WEISS.configs(FULL)
    lstm_anbn = [c for c in weiss if c.cell == "lstm" and c.language == "anbn"]
    assert sorted(c.seed for c in lstm_anbn) == [0, 1, 2, 3, 4]
    assert {c.n_train for c in weiss if c.language == "anbn"} == {100}
    assert {c.n_train for c in weiss if c.language == "anbncn"} == {50}
    assert {c.units for c in weiss} == {10}


def test_suzguns_regimes_draw_their_lengths() -> None:
    for lengths in ("uniform", "u-shaped"):
        (regime,) = [r for r in regimes.PAPERS if r.name == f"suzgun2019-{lengths}"]
        for c in regime.configs(FULL):
            assert (c.units, c.n_train, c.lengths, c.samples) == (3, 50, lengths, 1000)
            assert (c.loss, c.optimizer, c.lr) == ("mse", "rmsprop", 0.01)


def test_the_smoke_budget_is_a_token_run() -> None:
    smoke = [c for r in regimes.PAPERS for c in r.configs(SMOKE)]
    assert {c.seed for c in smoke} == {0} and {c.epochs for c in smoke} == {1}
    full = regimes.configs(FULL)
    assert len({(c.name, c.seed) for c in full}) == len(full)  # one cache entry each


def test_every_regime_states_every_choice() -> None:
    for regime in regimes.regimes(FULL):
        row = regime.row(FULL)
        assert all(row.values()), row
        assert "n ≤" in row["languages, cells, seeds"] and "lr" in row["optimiser"]


# -- e₁ … e₅ on counters whose failing n are known ------------------------------------------


class Stub(torch.nn.Module):
    """Predicts aⁿbⁿ's next-symbol sets from counts of what it read (not from the
    languages module), wrong at the end of the strings whose n is in ``fail``."""

    def __init__(self, fail: set[int]) -> None:
        super().__init__()
        self.fail = fail

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (T, B, 4) -> logits (T, B, 4)
        a = x[..., 1].cumsum(0)  # a's read so far
        b = x[..., 2].cumsum(0)
        start = x[..., 0] == 1
        allowed = torch.zeros(x.shape[:2] + (4,))  # a b c $
        in_a = (b == 0) & ~start
        allowed[..., 0] = (start | in_a).float()
        allowed[..., 1] = (in_a | ((b > 0) & (b < a))).float()
        done = (b > 0) & (b == a)
        wrong = torch.tensor([[int(k) in self.fail for k in row] for row in a.tolist()])
        allowed[..., 3] = (done & ~wrong).float()  # the end missed where n fails
        return allowed * 20 - 10


@pytest.mark.parametrize(
    ("fail", "errors", "range_"),
    [
        ({7, 9, 30, 31, 44, 60}, [7, 9, 30, 31, 44], 6),
        ({1}, [1], 0),
        (set(), [], 120),
        ({118, 119, 120}, [118, 119, 120], 117),
    ],
)
def test_first_five_errors_of_a_hand_set_counter(fail, errors, range_) -> None:
    ok = tc.recognition(Stub(fail), "anbn", 120)
    config = CounterConfig(units=3, n_train=12, n_test=120)
    outcome = regimes.Outcome("report", config, ok, 10, True)
    assert outcome.errors == errors and outcome.range == range_
    row = regimes.seed_rows([outcome], FULL)[0]
    shown = [row[f"e{k}"] for k in range(1, 6)]
    assert shown == [str(e) for e in errors] + ["> 120"] * (5 - len(errors))


def test_recognition_to_n_1000_is_one_cheap_batch() -> None:
    model = CounterConfig(units=10).build().eval()
    start = time.perf_counter()
    ok = tc.recognition(model, "anbn", 1000)
    assert ok.shape == (1000,) and time.perf_counter() - start < 30


# -- the verdicts, on made-up runs ----------------------------------------------------------


def _outcomes(regime: str, cell: str, language: str, ranges: list[int], cap: int = 1000):
    config = CounterConfig(cell=cell, language=language, units=10, n_train=100, n_test=cap)
    return [
        regimes.Outcome(regime, replace(config, seed=s), np.arange(1, cap + 1) <= r, 50, True)
        for s, r in enumerate(ranges)
    ]


def test_verdicts_against_a_figure() -> None:
    (about_256,) = [r for r in regimes.REPORTED if r.reaches == 256]
    reached = _outcomes("weiss2018", "lstm", "anbn", [150, 200, 300])  # median 200 >= 192
    assert regimes.verdict(reached, about_256)[0] == "reproduced"
    some = _outcomes("weiss2018", "lstm", "anbn", [130, 140, 260])  # only one reaches 192
    word, why = regimes.verdict(some, about_256)
    assert word == "partly reproduced" and why.startswith("1 of 3 seeds reach n = 192")
    none = _outcomes("weiss2018", "lstm", "anbn", [120, 133, 150])
    assert regimes.verdict(none, about_256)[0] == "not reproduced"
    short = _outcomes("weiss2018", "lstm", "anbn", [100], cap=150)
    assert regimes.verdict(short, about_256) == (
        "not comparable",
        "tested only to n = 150, below n = 192",
    )
    assert regimes.verdict(reached, about_256, quick=True)[0] == "not comparable"
    assert regimes.verdict(reached, None)[0] == "not comparable"


def test_verdict_of_a_gru_against_the_lstm() -> None:
    (claim,) = [r for r in regimes.REPORTED if r.below_lstm and r.language == "anbn"]
    lstm = _outcomes("weiss2018", "lstm", "anbn", [150, 200, 300])
    below = _outcomes("weiss2018", "gru", "anbn", [70, 90, 110])
    assert regimes.verdict(below, claim, lstm) == (
        "reproduced",
        "median range 90 against the LSTM's 200",
    )
    above = _outcomes("weiss2018", "gru", "anbn", [250, 260, 270])
    assert regimes.verdict(above, claim, lstm)[0] == "not reproduced"
    assert regimes.verdict(below, claim, [])[0] == "not comparable"


def test_the_table_and_sentences_beside_the_papers() -> None:
    made_up = [
        *_outcomes("weiss2018", "lstm", "anbn", [150, 200, 300, 120, 260]),
        *_outcomes("weiss2018", "gru", "anbn", [70, 90, 110]),
        *_outcomes("suzgun2019-uniform", "lstm", "anbn", [80, 95]),
    ]
    rows = regimes.comparison_rows(made_up, FULL)
    lstm, gru, suzgun = rows
    assert (lstm["range, median"], lstm["range, min–max"]) == ("200", "120–300")
    assert lstm["seeds (met the rule)"] == "5 (5)" and lstm["verdict"] == "reproduced"
    assert lstm["the paper"] == "correct up to about n = 256"
    assert gru["verdict"] == "reproduced" and suzgun["verdict"] == "not comparable"
    items = regimes.findings(made_up, FULL).items
    assert items[0].startswith("Weiss, Goldberg & Yahav (2018), LSTM on aⁿbⁿ: our ranges 200")
    assert any("unverified" in i for i in items)  # where the quoted figures come from
    panels, n_train = regimes.regime_panels(made_up, FULL)
    assert (
        n_train == dict.fromkeys(panels, 100)
        and len(panels["Weiss, Goldberg & Yahav (2018): aⁿbⁿ"]["LSTM"]) == 5
    )
