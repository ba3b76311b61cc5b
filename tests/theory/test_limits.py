"""rnnreport.theory.limits: sigmoid limits, where floats round them, the fixed point of tanh."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
import torch

from rnnreport.theory.common import sigmoid
from rnnreport.theory.limits import GateLimits, first_float, gate_limits, tanh_fixed_point


@pytest.fixture(scope="module")
def limits() -> GateLimits:
    return gate_limits()


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
