"""rnnreport.theory.counting: an LSTM counts, a GRU cannot (in floats), and what finite
precision does to both."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp

from rnnreport.theory.counting import FinitePrecision, LstmCounts, finite_precision, lstm_counts


@pytest.fixture(scope="module")
def precision() -> FinitePrecision:
    return finite_precision(update_biases=(2.0, 4.0, 6.0), horizon=16000)


@pytest.fixture(scope="module")
def counts() -> LstmCounts:
    return lstm_counts(T=300)


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


@pytest.mark.parametrize("dtype, bits", [("float32", 24), ("float64", 53)])
def test_float_gru_states_stop_where_the_step_falls_below_half_an_ulp(
    precision: FinitePrecision, dtype: str, bits: int
) -> None:
    d = precision.dtypes.index(dtype)
    assert precision.update_biases == (2.0, 4.0, 6.0)
    assert (precision.stop_step[d] > 0).all()  # every state stopped within the horizon
    for k, bias in enumerate(precision.update_biases):
        # the estimate, written out here: the step (1 - z) z^(t-1) falls below half an ulp
        # of the floats just below 1, 2^-(p+1)
        z = float(getattr(np, dtype)(1 / (1 + math.exp(-bias))))
        estimate = 1 + math.log(2.0 ** -(bits + 1) / (1 - z)) / math.log(z)
        # (float32's sigmoid may be an ulp off the correctly rounded z: 1e-4 covers it)
        assert precision.stop_predicted[d, k] == pytest.approx(estimate, rel=1e-4)
        # the measured step: at or before the estimate, and within 1.5 % of it (a threshold
        # of a whole ulp, 2^-p, would put the estimate 2 to 5 % early)
        stop = precision.stop_step[d, k]
        assert estimate - 0.015 * estimate <= stop <= estimate
        assert precision.final_gap[d, k] > 0  # it stops below 1, not at it


def test_float_gru_states_stop_as_the_recurrence_does_in_numpy(
    precision: FinitePrecision,
) -> None:
    assert precision.dtypes == ("float32", "float64")
    assert (precision.stop_step[0] < precision.stop_step[1]).all()  # float32 first
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
            assert abs(t - precision.stop_step[d, k]) <= 0.01 * t
            assert precision.final_gap[d, k] == pytest.approx(1 - float(h), rel=0.05)


def test_float_gru_state_reaches_exactly_one(precision: FinitePrecision) -> None:
    assert precision.exact_one_float32.tolist() == [1.0, -1.0]
    assert (np.abs(precision.exact_one_float64) < 1).all()


def test_float_lstm_count_stops_at_two_to_the_p(precision: FinitePrecision) -> None:
    for dtype, bits in (("float32", 24), ("float64", 53)):
        c0, c = precision.lstm_stop[dtype]
        assert c0 == 2.0**bits - 3
        assert c[:3].tolist() == [2.0**bits - 2, 2.0**bits - 1, 2.0**bits]
        assert (c[2:] == 2.0**bits).all()
