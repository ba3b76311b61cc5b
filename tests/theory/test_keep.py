"""rnnreport.theory.keep (Q1.2): keeping the state, its drift and the bias it needs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp

from rnnreport.theory.keep import KeepState, keep_state


@pytest.fixture(scope="module")
def keep() -> KeepState:
    return keep_state(betas=(0.0, 2.0, 5.0, 9.0, 13.0), horizons=(5, 28))


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


def test_drift_rows_thinned_evenly(keep: KeepState) -> None:
    every = keep.drift_rows()
    assert len(every) == len(keep.horizons) * len(keep.betas)
    some = keep.drift_rows(most=12)
    step = max(1, len(every) // 12)
    assert some == every[::step] and some[0] == every[0] and len(some) <= 2 * 12
