"""rnnreport.theory.special_case (Q1.3): the first-step bound for every LSTM, the closest
mapping and its three differences."""

from __future__ import annotations

import math
import re
from dataclasses import replace

import numpy as np
import pytest
import sympy as sp
import torch

from rnnreport.model.cells import GRUCell
from rnnreport.theory.common import blank_cell, set_gate, sigmoid, unroll
from rnnreport.theory.special_case import (
    COUNTEREXAMPLE,
    FirstStepBound,
    GruNotLstm,
    first_step_bound,
    gru_not_lstm,
    lstm_from_gru,
)


@pytest.fixture(scope="module")
def mapped() -> GruNotLstm:
    return gru_not_lstm()


@pytest.fixture(scope="module")
def first() -> FirstStepBound:
    return first_step_bound(sizes=(1, 8), scales=(1.0, 100.0), trials=3, ascent_steps=120)


# the closest mapping and its three differences -------------------------------------


def _scalar_gru(w: dict[str, float], xs) -> list[float]:
    """The GRU equations for one unit, written out here in Python floats."""
    sig = lambda v: 1 / (1 + math.exp(-v))  # noqa: E731
    h, out = 0.0, []
    for x in xs:
        z = sig(w["u_z"] * x + w["w_z"] * h + w["b_z"])
        r = sig(w["u_r"] * x + w["w_r"] * h + w["b_r"])
        h = z * h + (1 - z) * math.tanh(w["u_h"] * x + w["w_h"] * r * h + w["b_h"])
        out.append(h)
    return out


def _scalar_mapped_lstm(w: dict[str, float], xs) -> tuple[list[float], list[float]]:
    """The LSTM with f = z, i = 1 - z, o = 1, one unit: its gates read h = tanh(c)."""
    sig = lambda v: 1 / (1 + math.exp(-v))  # noqa: E731
    c, h, cs, hs = 0.0, 0.0, [], []
    for x in xs:
        f = sig(w["u_z"] * x + w["w_z"] * h + w["b_z"])
        c = f * c + (1 - f) * math.tanh(w["u_h"] * x + w["w_h"] * h + w["b_h"])
        h = math.tanh(c)
        cs.append(c)
        hs.append(h)
    return cs, hs


def test_mapping_differences_add_up_and_vanish_where_claimed(mapped: GruNotLstm) -> None:
    d_reset, d_input, d_output = mapped.differences
    s, r, c = sp.symbols("s r_t c_t", real=True)
    Z, H = sp.Function("Z"), sp.Function("H")
    # written out again here: the GRU's step and the mapped LSTM's output from state s
    gru = Z(s) * s + (1 - Z(s)) * H(r * s)
    cell = Z(sp.tanh(s)) * s + (1 - Z(sp.tanh(s))) * H(sp.tanh(s))
    gap = gru - sp.tanh(cell)
    assert sp.simplify(gap - (d_reset + d_input + d_output.subs(c, cell))) == 0
    assert d_reset.subs(r, 1) == 0  # reset held open
    assert d_input.subs(s, 0) == 0  # the first step, from the zero state
    assert d_output.subs(c, 0) == 0 and d_output.subs(c, 1) != 0
    assert mapped.fixed_point.solutions == sp.FiniteSet(0)
    # with the gate and candidate written in: no recurrence, no recurrent-input term
    x, v, uz, wz, bz, uh, wh, bh = sp.symbols("x v u_z w_z b_z u_h w_h b_h", real=True)
    concrete = {
        Z: sp.Lambda(v, sigmoid(x * uz + v * wz + bz)),
        H: sp.Lambda(v, sp.tanh(x * uh + v * wh + bh)),
    }
    term = d_input.replace(Z, concrete[Z]).replace(H, concrete[H])
    assert sp.simplify(term.subs({wz: 0, wh: 0})) == 0
    assert term.subs({x: 1, uz: 0, wz: 2, bz: 0, uh: 1, wh: 0, bh: 0, s: 1}).evalf() != 0


def test_counterexample_outputs_match_formulas_and_differ(mapped: GruNotLstm) -> None:
    inputs, w = mapped.inputs, mapped.weights
    np.testing.assert_allclose(mapped.gru_h, _scalar_gru(w, inputs), atol=1e-14)
    np.testing.assert_allclose(mapped.gru_h, mapped.gru_h_formula, atol=1e-14)
    lstm_c, lstm_h = _scalar_mapped_lstm(w, inputs)
    np.testing.assert_allclose(mapped.lstm_c, lstm_c, atol=1e-14)
    np.testing.assert_allclose(mapped.lstm_c, mapped.lstm_c_formula, atol=1e-14)
    np.testing.assert_allclose(mapped.lstm_h, lstm_h, atol=1e-14)
    assert mapped.lstm_c[0] == pytest.approx(mapped.gru_h[0], abs=1e-15)  # same first update
    assert abs(mapped.lstm_h[0] - mapped.gru_h[0]) > 1e-3  # ... but tanh of it is emitted
    assert np.abs(mapped.gru_h - mapped.lstm_h).max() > 0.5
    assert np.abs(mapped.gru_h - mapped.gru_no_reset_h).max() > 0.5  # the reset matters


def test_each_difference_is_witnessed_alone(mapped: GruNotLstm) -> None:
    rows = {row["difference"]: row for row in mapped.isolated}
    assert set(rows) == {"reset gate", "recurrent input", "output tanh"}
    reset = rows["reset gate"]  # two different GRUs, one and the same mapped LSTM
    assert reset["same mapped LSTM"] and reset["max |GRU h − GRU h (r = 1)|"] > 0.5
    # the update gate reads h where the forget gate reads tanh c: cells part from step 2
    w = dict(mapped.weights) | {"u_r": 0.0, "w_r": 0.0, "b_r": 50.0}
    w |= {"w_z": 2.0, "w_h": 0.0, "u_h": 3.0, "b_h": -1.5}
    gru = np.asarray(_scalar_gru(w, mapped.inputs))
    cell, _ = _scalar_mapped_lstm(w, mapped.inputs)
    gap = np.abs(gru - np.asarray(cell))
    assert gap[0] == 0 and gap.max() > 0.01
    assert rows["recurrent input"]["max |GRU h − LSTM c|"] == pytest.approx(gap.max(), rel=1e-9)
    # no recurrence: the cells agree, and only the output tanh separates the outputs
    out = rows["output tanh"]
    assert out["max |GRU h − LSTM c|"] <= 1e-15 and out["max |GRU h − LSTM h|"] > 0.01


def test_mapping_is_exact_without_reset_or_recurrent_candidate() -> None:
    plain = dict(COUNTEREXAMPLE) | {"w_h": 0.0}
    result = gru_not_lstm(plain)
    np.testing.assert_allclose(result.lstm_c, result.gru_h, atol=1e-15)


def test_lstm_from_gru_refuses_reset_after() -> None:
    gru = GRUCell(1, 1, reset="after")
    with pytest.raises(ValueError, match="reset='after'"):
        lstm_from_gru(gru)


# every LSTM: the first-step bound -------------------------------------------------------


def test_first_step_bound_derivation(first: FirstStepBound) -> None:
    o, i, j = sp.symbols("o_1 i_1 j_1", real=True)
    s, t, y = sp.symbols("s t y", positive=True)
    assert sp.simplify(first.lstm_first.rhs - o * sp.tanh(i * j)) == 0
    assert first.gate_range == sp.Interval.open(0, 1)
    assert first.candidate_range == sp.Interval.open(-1, 1)
    assert sp.simplify(first.cell_margin - (1 - 1 / ((1 + s) * (1 + t)))) == 0
    assert first.cell_margin_positive and first.tanh_slope_positive and first.tanh_odd
    y_real = sp.Symbol("y", real=True)
    assert sp.simplify(first.tanh_slope - (1 - sp.tanh(y_real) ** 2).rewrite(sp.exp)) == 0
    assert first.bound == sp.tanh(1) and first.supremum == sp.tanh(1)
    assert first.no_tanh_supremum == 1 and first.gru_supremum == 1


def test_first_step_bound_numerically_over_the_gate_box() -> None:
    # independent of SymPy: o tanh(i j) over a grid of the open box stays below tanh 1,
    # and comes within 1e-6 of it near the corner (the supremum, never reached)
    g = np.random.default_rng(0)
    o, i = g.uniform(0, 1, 10**5), g.uniform(0, 1, 10**5)
    j = g.uniform(-1, 1, 10**5)
    assert np.abs(o * np.tanh(i * j)).max() < math.tanh(1)
    corner = 1 - 1e-9
    assert math.tanh(1) - corner * math.tanh(corner * corner) < 1e-6
    # dropping the output gate or the tanh would break the bound: o i j reaches past it
    assert (o * i * j).max() > math.tanh(1)


def test_gru_first_state_exceeds_every_lstm(first: FirstStepBound) -> None:
    u_h, b_h, x, z = sp.symbols("u_h b_h x_1 z_1", real=True)
    assert sp.simplify(first.gru_first.rhs - (1 - z) * sp.tanh(u_h * x + b_h)) == 0
    expected = math.tanh(first.beta) / (1 + math.exp(-first.beta))  # sigma(beta) tanh(beta)
    np.testing.assert_allclose(first.gru_h1, expected, rtol=1e-15)
    assert float(first.gru_value) == pytest.approx(expected, rel=1e-15)
    assert first.gru_h1.min() > math.tanh(1) + 0.2
    assert first.gru_h1_range == (first.gru_h1.min(), first.gru_h1.max())
    thr = first.beta_threshold
    assert math.tanh(thr) / (1 + math.exp(-thr)) == pytest.approx(math.tanh(1), rel=1e-12)


def test_no_lstm_found_crosses_the_bound(first: FirstStepBound) -> None:
    # in float64 the gates can round to exactly 1, so tanh(1.0) itself can be reached
    assert first.search_max.max() <= math.tanh(1.0)
    assert (first.search_max[:, -1] == math.tanh(1.0)).all()  # large weights: reached in floats
    assert first.search_cell_max <= 1.0
    assert first.ascent_lstm.max() <= math.tanh(1.0)
    assert first.ascent_lstm[-1] > 0.7  # the ascent did push towards the bound
    # the control: the same ascent on a GRU's weights crosses it
    assert first.ascent_gru.max() > math.tanh(1) + 0.2


def _decimals(text: str) -> list[float]:
    return [float(v) for v in re.findall(r"\d+\.\d+", text)]


def _integers(text: str) -> list[int]:
    return [int(v) for v in re.findall(r"(?<![\d.])\d+(?![\d.])", text)]


def test_the_search_findings_state_the_arrays_numbers(first: FirstStepBound) -> None:
    search, ascent = first.search_findings().items
    bound = math.tanh(1.0)
    top, nearest = _decimals(search)[:2]
    assert top == pytest.approx(first.search_max.max(), abs=1e-15)
    assert nearest == pytest.approx(bound, abs=1e-15)
    reached = int((first.search_max == bound).sum())
    assert f" {reached} of {first.search_max.size} " in search
    lstm, tanh1, gru_end = _decimals(ascent)
    assert lstm == pytest.approx(first.ascent_lstm[-1], abs=1e-6)
    assert tanh1 == pytest.approx(bound, abs=1e-6)
    assert gru_end == pytest.approx(first.ascent_gru[-1], abs=1e-6)
    crossed = int(np.flatnonzero(first.ascent_gru > bound)[0]) + 1
    assert {len(first.ascent_lstm), crossed} <= set(_integers(ascent))
    assert "not above" in ascent  # the LSTM's ascent stays under the bound
    # with the bound broken and the control failed, the sentences say so
    broken = replace(first, search_max=first.search_max + 0.5, ascent_gru=first.ascent_gru * 0)
    search, ascent = broken.search_findings().items
    assert _decimals(search)[0] == pytest.approx(first.search_max.max() + 0.5, abs=1e-15)
    assert "broken" in search and "control failed" in ascent


# report B's counterexample ---------------------------------------------------------------


def test_report_b_counterexample_stays_at_zero_as_an_all_zero_lstm_does() -> None:
    # report B's GRU: update gate 0 (f1 = 0; here sigma(-50)), candidate input weight and
    # bias 0 (W2 = b2 = 0); its recurrent candidate weight and reset gate are arbitrary
    g = torch.Generator().manual_seed(0)
    H, D = 4, 3
    gru = blank_cell("gru", D, H, torch.float64)
    set_gate(gru, "z", b=-50.0)
    set_gate(gru, "r", U=torch.randn(D, H, generator=g, dtype=torch.float64))
    set_gate(gru, "r", W=torch.randn(H, H, generator=g, dtype=torch.float64))
    set_gate(gru, "h_tilde", W=3 * torch.randn(H, H, generator=g, dtype=torch.float64))
    lstm = blank_cell("lstm", D, H, torch.float64)  # every weight and bias zero
    xs = (torch.rand(20, 5, D, generator=g, dtype=torch.float64) < 0.5).double()
    gru_states, _ = unroll(gru, xs)
    lstm_states, _ = unroll(lstm, xs)
    assert all((h == 0).all() for h in gru_states)  # from h_0 = 0 it never moves
    assert all((h == 0).all() for h, _ in lstm_states)  # the LSTM's output is 0 too
    # ... and the same GRU started elsewhere does move: the zero start is what matches
    moved, _ = unroll(gru, xs, torch.full((5, H), 0.5, dtype=torch.float64))
    assert (moved[-1] != 0.5).any()
