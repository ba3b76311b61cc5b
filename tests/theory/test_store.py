"""rnnreport.theory.store (Q1.1): storing the input, derived and witnessed."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from rnnreport.theory.store import StoreInput, store_input


@pytest.fixture(scope="module")
def store() -> StoreInput:
    return store_input()


def _sigmoid_np(x):
    return 1 / (1 + np.exp(-x))


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
