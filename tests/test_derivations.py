"""Every derivation checked symbolically, every witness checked against its formula."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import sympy as sp
import torch

from rnnreport.inspection.tables import html_table
from rnnreport.model.cells import GRUCell
from rnnreport.theory.common import Latex, sigmoid
from rnnreport.theory.counting import FinitePrecision, LstmCounts, finite_precision, lstm_counts
from rnnreport.theory.keep import KeepState, keep_state
from rnnreport.theory.limits import GateLimits, first_float, gate_limits, tanh_fixed_point
from rnnreport.theory.special_case import (
    COUNTEREXAMPLE,
    FirstStepBound,
    GruNotLstm,
    first_step_bound,
    gru_not_lstm,
    lstm_from_gru,
)
from rnnreport.theory.store import StoreInput, store_input


@pytest.fixture(scope="module")
def limits() -> GateLimits:
    return gate_limits()


@pytest.fixture(scope="module")
def store() -> StoreInput:
    return store_input()


@pytest.fixture(scope="module")
def keep() -> KeepState:
    return keep_state(betas=(0.0, 2.0, 5.0, 9.0, 13.0), horizons=(5, 28))


@pytest.fixture(scope="module")
def mapped() -> GruNotLstm:
    return gru_not_lstm()


@pytest.fixture(scope="module")
def first() -> FirstStepBound:
    return first_step_bound(sizes=(1, 8), scales=(1.0, 100.0), trials=3, ascent_steps=120)


@pytest.fixture(scope="module")
def precision() -> FinitePrecision:
    return finite_precision(update_biases=(2.0, 4.0), horizon=2000)


@pytest.fixture(scope="module")
def counts() -> LstmCounts:
    return lstm_counts(T=300)


def _sigmoid_np(x):
    return 1 / (1 + np.exp(-x))


# 1. gate limits -------------------------------------------------------------------------


def test_sigmoid_limits_are_0_and_1_and_never_reached(limits: GateLimits) -> None:
    assert limits.limit_minus == 0
    assert limits.limit_plus == 1
    assert limits.solutions_0 == sp.S.EmptySet
    assert limits.solutions_1 == sp.S.EmptySet
    assert sp.simplify(limits.gap - (1 - limits.sigma)) == 0
    assert limits.gap.is_positive


@pytest.mark.parametrize("k", [0, 1])
def test_float_rounding_points_are_where_torch_rounds(limits: GateLimits, k: int) -> None:
    r = limits.rounding[k]
    dtype = getattr(torch, r.dtype)
    one = torch.tensor(r.one_from, dtype=dtype)
    zero = torch.tensor(r.zero_from, dtype=dtype)
    # the witness is the first value where it happens: its predecessor does not round
    assert torch.sigmoid(one) == 1 and torch.sigmoid(torch.nextafter(one, one - 1)) < 1
    assert torch.sigmoid(zero) == 0 and torch.sigmoid(torch.nextafter(zero, zero + 1)) > 0
    # ... and it is the first dtype value at or past the formula that explains it
    for witness, formula in ((one, r.one_formula), (zero, r.zero_formula)):
        value = sp.Float(sp.N(formula, 40), 40)
        below = torch.nextafter(witness, torch.tensor(0.0, dtype=dtype)).item()
        assert abs(sp.Float(witness.item(), 40)) >= abs(value) > abs(sp.Float(below, 40))


@pytest.mark.parametrize("k", [0, 1])
def test_correct_rounding_points_solve_their_equations(limits: GateLimits, k: int) -> None:
    r = limits.rounding[k]
    info = torch.finfo(getattr(torch, r.dtype))
    p = -round(math.log2(info.eps)) + 1
    half_ulp_below_1 = sp.Integer(2) ** -(p + 1)
    half_smallest = sp.Integer(2) ** sp.Integer(round(math.log2(info.smallest_normal)) - p)
    assert sp.simplify(sigmoid(r.one_correct) - (1 - half_ulp_below_1)) == 0
    assert sp.simplify(sigmoid(r.zero_correct) - half_smallest) == 0
    # torch's sigmoid rounds earlier than a correctly rounded one would
    assert r.one_from < float(r.one_correct) and r.zero_from > float(r.zero_correct)


def test_first_float_rejects_a_bad_bracket() -> None:
    with pytest.raises(ValueError, match="predicate false at lo"):
        first_float(lambda v: v > 0, 1.0, 2.0, torch.float32)


# the fixed point of tanh ----------------------------------------------------------------


def test_tanh_has_the_single_fixed_point_zero() -> None:
    fp = tanh_fixed_point()
    c = fp.c
    assert fp.solutions == sp.FiniteSet(0)
    assert sp.simplify(fp.g_prime - sp.diff(c - sp.tanh(c), c)) == 0
    assert fp.critical == sp.FiniteSet(0)
    # independent numeric check: c - tanh c has the sign of c on a grid away from 0
    grid = np.concatenate([-np.logspace(-3, 2, 200), np.logspace(-3, 2, 200)])
    assert np.array_equal(np.sign(grid - np.tanh(grid)), np.sign(grid))


# 2. storing the current input -----------------------------------------------------------


def test_store_input_limits_range_and_inverse(store: StoreInput) -> None:
    x, u, b = sp.symbols("x_t u b", real=True)
    assert store.lstm_limit.rhs == sp.tanh(x * u + b)
    assert store.gru_limit.rhs == sp.tanh(x * u + b)
    assert store.tanh_range == sp.Interval.open(-1, 1)
    assert store.pixel_one == sp.S.EmptySet
    s = sp.Symbol("s", real=True)
    round_trip = store.inverse.rhs.subs({s: sp.tanh(x * u + b)})
    value = round_trip.subs({x: sp.Rational(3, 10), u: 2, b: sp.Rational(-1, 2)})
    assert sp.N(value - sp.Rational(3, 10)) == pytest.approx(0, abs=1e-12)


def test_store_input_witness_matches_its_formula(store: StoreInput) -> None:
    x = store.pixels  # (T, D)
    i, f = _sigmoid_np(store.beta), _sigmoid_np(-store.beta)
    j = np.tanh(store.a * (2 * x - 1))
    c = np.zeros(x.shape[1])
    for t in range(x.shape[0]):
        c = f * c + i * j[t]  # the LSTM with i = sigma(beta), f = sigma(-beta)
        np.testing.assert_allclose(store.lstm_states[t], c, atol=1e-14)
    h = np.zeros(x.shape[1])
    for t in range(x.shape[0]):
        h = f * h + (1 - f) * j[t]  # the GRU with z = sigma(-beta)
        np.testing.assert_allclose(store.gru_states[t], h, atol=1e-14)
    assert store.lstm_recovered == store.gru_recovered == x.size
    assert store.lstm_gap == pytest.approx(store.lstm_gap_formula, rel=1e-10)
    assert store.gru_gap == pytest.approx(store.gru_gap_formula, rel=1e-10)
    assert 0 < store.lstm_gap <= store.gap_bound and store.gru_gap <= store.gap_bound
    assert store.closest_to_one < 1
    assert store.float32_value_stored


def test_sign_recovery_fails_when_the_gates_are_far_from_the_limit() -> None:
    # forget gate near 1: the old state dominates and the sign no longer tells the pixel
    weak = store_input(beta=-4.0)
    assert weak.lstm_recovered < weak.pixels.size


# 3. keeping the previous state ----------------------------------------------------------


def test_recurrence_solution_and_bias_bound(keep: KeepState) -> None:
    sy = keep.symbols
    T, beta, eps, Delta = sy["T"], sy["beta"], sy["epsilon"], sy["Delta"]
    f, i, j = sy["f"], sy["i"], sy["j"]
    c_T = keep.recurrence_solution.rhs
    c0 = sp.Symbol("c_0", positive=True)
    assert sp.simplify(c_T.subs(T, T + 1) - f * c_T - i * j) == 0
    assert sp.simplify(c_T.subs(T, 0) - c0) == 0
    assert sp.simplify((1 - keep.keep_gate_needed**T) * Delta - eps) == 0
    assert keep.bias_bound_asymptote == 1
    for values in ({T: 28, eps: 0.01, Delta: 2}, {T: 5, eps: 0.3, Delta: 1.5}):
        at_bound = keep.drift.subs(beta, keep.bias_bound).subs(values)
        assert float(sp.N(at_bound, 30)) == pytest.approx(float(values[eps]), rel=1e-12)
    beta_28 = float(keep.bias_bound.subs({T: 28, eps: sp.Rational(1, 100), Delta: 2}))
    assert beta_28 == pytest.approx(math.log(28 * 2 / 0.01), abs=0.05)  # the asymptote


def test_drift_witness_matches_formula_and_bound(keep: KeepState) -> None:
    np.testing.assert_allclose(keep.gru_drift, keep.gru_drift_formula, rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(keep.lstm_drift, keep.lstm_drift_formula, rtol=1e-9, atol=1e-15)
    assert (keep.gru_drift <= keep.drift_bound).all()
    assert (keep.lstm_drift <= keep.drift_bound).all()
    # more bias, less drift; longer horizon, more drift (at a bias that keeps)
    assert keep.gru_drift[:, -1].max() < keep.gru_drift[:, 2].min()
    assert keep.gru_drift[0, -1] < keep.gru_drift[1, -1]


def test_bias_needed_keeps_the_worst_case_within_epsilon(keep: KeepState) -> None:
    sy = keep.symbols
    for eps, beta, drift in zip(
        keep.epsilons, keep.bias_needed, keep.worst_drift_at_bias, strict=True
    ):
        expected = float(keep.bias_bound.subs({sy["T"]: 28, sy["epsilon"]: eps, sy["Delta"]: 2}))
        assert beta == pytest.approx(expected, rel=1e-12)
        # Delta = 2 tanh(10) is just under 2: the drift is just under epsilon
        assert drift == pytest.approx(eps * math.tanh(10.0), rel=1e-6)
        assert drift <= eps


def test_general_keep_bound_symbolically(keep: KeepState) -> None:
    T = keep.symbols["T"]
    c0 = sp.Symbol("c_0", real=True)
    phi, iota = sp.symbols("varphi iota", positive=True)
    assert keep.general_step and keep.coupled_step
    assert sp.simplify(keep.general_drift - ((1 - phi**T) * sp.Abs(c0) + iota * T)) == 0
    assert sp.simplify(keep.delta_bound - (1 + sp.Abs(c0))) == 0
    assert sp.simplify(keep.general_bias_asymptote - T * (1 + sp.Abs(c0))) == 0


def test_general_keep_bound_numerically_from_any_start() -> None:
    # independent of the library: the LSTM recurrence in NumPy with free gates in their
    # allowed ranges, starts up to 1000; the bound holds, the old "< 2" one does not
    g = np.random.default_rng(1)
    T, phi, iota = 28, 0.95, 0.05
    for c0 in (-1000.0, -3.0, -0.5, 0.0, 0.7, 5.0, 1000.0):
        for _ in range(200):
            f = g.uniform(phi, 1, T)
            i = g.uniform(0, iota, T)
            j = g.uniform(-1, 1, T)
            c = c0
            for t in range(T):
                c = f[t] * c + i[t] * j[t]
            assert abs(c - c0) <= (1 - phi**T) * abs(c0) + iota * T
    # the |c_0| term is needed: forget gate at phi, input gate shut
    drift = (1 - phi**T) * 1000.0
    assert drift > 2 * (1 - phi**T) + iota * T


def test_keep_witness_across_starts(keep: KeepState) -> None:
    np.testing.assert_allclose(keep.start_gru_drift, keep.start_gru_formula, rtol=1e-9)
    np.testing.assert_allclose(keep.start_lstm_drift, keep.start_lstm_formula, rtol=1e-9)
    assert (keep.start_gru_drift <= keep.start_gru_bound).all()
    assert (keep.start_lstm_drift <= keep.start_lstm_bound).all()
    starts = np.asarray(keep.starts)
    large = np.abs(starts) >= 10
    assert large.any() and (np.abs(starts) <= 1).any()
    # from a large start the cells drift far past the old bound 2 (1 - s^T)
    assert (keep.start_gru_drift[large] > keep.start_old_bound[large]).all()
    assert (keep.start_lstm_drift[large] > keep.start_old_bound[large]).all()
    assert keep.start_lstm_drift.max() > 100


def test_lstm_output_moves_while_its_cell_is_kept(keep: KeepState) -> None:
    assert keep.caveat_c_change < 1e-3
    assert keep.caveat_h_range > 0.1
    assert keep.caveat_h_formula_error < 1e-14


# 4. a GRU is not a special case of an LSTM ----------------------------------------------


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


# 4b. ... for every LSTM: the first-step bound -------------------------------------------


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


# 5. the LSTM counts, the GRU cannot -----------------------------------------------------


def test_counting_and_gru_bound_symbolically(counts: LstmCounts) -> None:
    t = sp.Symbol("t", integer=True, nonnegative=True)
    T = sp.Symbol("T", integer=True, positive=True)
    f, i, j = sp.symbols("f i j", positive=True)
    assert counts.lstm_count.rhs == t
    finite = counts.lstm_finite.rhs
    assert sp.simplify(finite.subs(T, T + 1) - f * finite - i * j) == 0
    assert sp.simplify(counts.lstm_finite_limit - i * j * T) == 0
    lhs, rhs = counts.gru_upper.lhs, counts.gru_upper.rhs
    assert sp.expand(lhs - rhs) == 0
    assert counts.gru_upper_negative and counts.gru_lower_positive
    assert counts.candidate_gap.is_positive
    h = counts.gru_closed.rhs
    z, h_tilde = sp.symbols("z \\tilde{h}", positive=True)
    assert sp.simplify(h.subs(t, t + 1) - z * h - (1 - z) * h_tilde) == 0
    assert h.subs(t, 0) == 0


def test_counting_witness(counts: LstmCounts) -> None:
    assert np.array_equal(counts.lstm_c, counts.steps.astype(float))
    assert np.array_equal(counts.lstm_c_float32, counts.steps.astype(np.float32))
    assert 0 < counts.lstm_shortfall_exact < 1e-12
    assert np.abs(counts.lstm_h).max() < 1
    np.testing.assert_allclose(counts.gru_h, counts.gru_closed_form, atol=1e-12)
    assert counts.gru_h.max() < 1 and counts.gru_h.min() > -1


def test_exact_arithmetic_lstm_is_bounded_and_gru_count_one_to_one(
    precision: FinitePrecision,
) -> None:
    t = sp.Symbol("t", integer=True, nonnegative=True)
    F, z, h = sp.symbols("F z \\tilde{h}", positive=True)
    A = sp.Symbol("A", real=True)
    b = precision.lstm_bound.rhs
    assert sp.simplify(b.subs(t, t + 1) - F * b - 1) == 0 and sp.simplify(b.subs(t, 0)) == 0
    assert sp.simplify(precision.lstm_bound_limit - (1 + sp.exp(A))) == 0
    assert sp.simplify(precision.gru_step_gain - h * (1 - z) * z**t) == 0
    assert precision.gru_gain_positive
    # independent: the exact bound from sigma(A) = 1 / (1 + e^-A), in Python floats
    a = 3.0
    assert 1 / (1 - 1 / (1 + math.exp(-a))) == pytest.approx(1 + math.exp(a), rel=1e-12)


def test_float_gru_states_stop_changing_near_the_estimate(precision: FinitePrecision) -> None:
    assert precision.dtypes == ("float32", "float64")
    assert (precision.stop_step > 0).all()  # every state stopped within the horizon
    assert (precision.stop_step[0] < precision.stop_step[1]).all()  # float32 first
    np.testing.assert_allclose(precision.stop_step, precision.stop_predicted, rtol=0.1)
    # independent of the cell: the same recurrence in NumPy's float32 and float64
    for d, dtype in enumerate((np.float32, np.float64)):
        for k, bias in enumerate(precision.update_biases):
            z = dtype(1 / (1 + math.exp(-bias)))
            h, t = dtype(0), 0
            while True:
                t += 1
                new = (dtype(1) - z) * dtype(1) + z * h
                if new == h:
                    break
                h = new
            assert abs(t - precision.stop_step[d, k]) <= 0.05 * t


def test_float_gru_state_reaches_exactly_one(precision: FinitePrecision) -> None:
    assert precision.exact_one_float32.tolist() == [1.0, -1.0]
    assert (np.abs(precision.exact_one_float64) < 1).all()


def test_float_lstm_count_stops_at_two_to_the_p(precision: FinitePrecision) -> None:
    for dtype, bits in (("float32", 24), ("float64", 53)):
        c0, c = precision.lstm_stop[dtype]
        assert c0 == 2.0**bits - 3
        assert c[:3].tolist() == [2.0**bits - 2, 2.0**bits - 1, 2.0**bits]
        assert (c[2:] == 2.0**bits).all()


# rendering helpers ----------------------------------------------------------------------


def test_latex_and_tables_render(limits: GateLimits) -> None:
    html = limits.math()._repr_html_()
    assert html.startswith('<div class="math') and r"\[" in html and "aligned" in html
    with pytest.raises(ValueError, match="at least one line"):
        Latex()
    table = html_table(limits.rows(), caption="rounding <points>")
    assert "<caption>rounding &lt;points&gt;</caption>" in table._repr_html_()
    assert "float32" in repr(table) and "float64" in repr(table)
    with pytest.raises(ValueError, match="row 1 has columns"):
        html_table([{"a": 1}, {"b": 2}])


def test_the_search_findings_say_what_the_arrays_hold(first: FirstStepBound) -> None:
    search, ascent = first.search_findings().items
    bound = math.tanh(1.0)
    assert f"over the random LSTMs is {first.search_max.max():.15f}, at most" in search
    reached = int((first.search_max == bound).sum())
    assert f"It equals that float for {reached} of {first.search_max.size} settings" in search
    crossed = int(np.flatnonzero(first.ascent_gru > bound)[0]) + 1
    assert f"output is {first.ascent_lstm[-1]:.6f} (not above tanh 1" in ascent
    assert f"the same ascent on the GRU passes it at step {crossed} and ends at" in ascent
    broken = replace(first, search_max=first.search_max + 0.5, ascent_gru=first.ascent_gru * 0)
    search, ascent = broken.search_findings().items
    assert "the bound is broken" in search and "No setting reaches it" in search
    assert "this run's control failed" in ascent
