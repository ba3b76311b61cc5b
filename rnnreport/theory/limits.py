r"""Two facts every answer to Q1 leans on: gates reach 0 and 1 only in the limit (and
where float32 and float64 round them there anyway), and :math:`c = \tanh c` only at 0.

==========================  ==========================================================
function                    result
==========================  ==========================================================
:func:`gate_limits`         :math:`\sigma` reaches 0 and 1 only in the limit; where
                            float32 and float64 round it to exactly 0.0 and 1.0
:func:`tanh_fixed_point`    :math:`c = \tanh c` only at :math:`c = 0` (used by Q1.1
                            and Q1.3)
==========================  ==========================================================
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import sympy as sp
import torch

from .common import Latex, sigmoid, tex

# --------------------------------------------------------------------------------------
# Gate limits and what floating point does to them


@dataclass(frozen=True)
class FloatRounding:
    r"""Where ``torch.sigmoid`` in one dtype returns exactly 1.0 and exactly 0.0.

    Found by bisection over the dtype's values (the cell's own ``torch.sigmoid``), and
    explained: torch computes :math:`1 / (1 + e^{-x})`, so the sum rounds to 1 once
    :math:`e^{-x}` is at most half the spacing above 1, :math:`2^{-p}` (p significand
    bits), and :math:`e^{-x}` overflows to :math:`\infty` past the largest finite value.
    A correctly rounded sigmoid would reach 1.0 and 0.0 later (``*_correct``).
    """

    dtype: str
    one_from: float  # smallest x with sigmoid(x) == 1.0
    one_formula: sp.Expr  # p ln 2
    one_correct: sp.Expr  # ln(2^(p+1) - 1): sigma within half an ulp of 1
    zero_from: float  # the x closest to 0 with sigmoid(x) == 0.0 (negative)
    zero_formula: sp.Expr  # -ln(overflow threshold of exp)
    zero_correct: sp.Expr  # -ln(2^k - 1): sigma below half the smallest subnormal


@dataclass(frozen=True)
class GateLimits:
    x: sp.Symbol
    sigma: sp.Expr
    limit_minus: sp.Expr  # lim_{x -> -oo} sigma = 0
    limit_plus: sp.Expr  # lim_{x -> +oo} sigma = 1
    solutions_0: sp.Set  # {x real : sigma(x) = 0} = EmptySet
    solutions_1: sp.Set  # {x real : sigma(x) = 1} = EmptySet
    gap: sp.Expr  # 1 - sigma(x) = 1 / (1 + e^x), positive
    rounding: tuple[FloatRounding, ...]

    def math(self) -> Latex:
        x = self.x
        return Latex(
            rf"\sigma({tex(x)}) &= {tex(self.sigma)}",
            rf"\lim_{{x\to-\infty}} \sigma(x) &= {tex(self.limit_minus)}, \qquad "
            rf"\lim_{{x\to+\infty}} \sigma(x) = {tex(self.limit_plus)}",
            rf"\{{x \in \mathbb{{R}} : \sigma(x) = 0\}} &= {tex(self.solutions_0)}, \qquad "
            rf"\{{x \in \mathbb{{R}} : \sigma(x) = 1\}} = {tex(self.solutions_1)}",
            rf"1 - \sigma(x) &= {tex(self.gap)} > 0",
        )

    def rows(self) -> list[dict[str, object]]:
        """One row per dtype: where torch's sigmoid rounds to 1.0 and 0.0, and why."""
        return [
            {
                "dtype": r.dtype,
                "σ = 1.0 from x =": r.one_from,
                "p ln 2": float(r.one_formula),
                "correctly rounded: 1.0 from": float(r.one_correct),
                "σ = 0.0 from x =": r.zero_from,
                "−ln(overflow of exp)": float(r.zero_formula),
                "correctly rounded: 0.0 from": float(r.zero_correct),
            }
            for r in self.rounding
        ]


def _bits(dtype: torch.dtype) -> torch.dtype:
    return torch.int32 if dtype == torch.float32 else torch.int64


def first_float(predicate, lo: float, hi: float, dtype: torch.dtype) -> float:
    """The smallest ``dtype`` value in [lo, hi] (0 < lo < hi) where ``predicate`` holds.

    Bisection over the bit patterns: for positive floats their order is the integers'
    order, so this visits every representable value in principle and ~60 in practice.
    Requires ``predicate`` false at ``lo``, true at ``hi``, and monotone in between.
    """
    a = torch.tensor(lo, dtype=dtype).view(_bits(dtype)).item()
    b = torch.tensor(hi, dtype=dtype).view(_bits(dtype)).item()

    def at(bits: int) -> bool:
        return bool(predicate(torch.tensor(bits, dtype=_bits(dtype)).view(dtype)))

    if not 0 < lo < hi or at(a) or not at(b):
        raise ValueError(f"need 0 < lo < hi, predicate false at lo={lo} and true at hi={hi}")
    while b - a > 1:
        mid = (a + b) // 2
        a, b = (a, mid) if at(mid) else (mid, b)
    return torch.tensor(b, dtype=_bits(dtype)).view(dtype).item()


def _rounding(dtype: torch.dtype) -> FloatRounding:
    info = torch.finfo(dtype)
    p = -round(math.log2(info.eps)) + 1  # significand bits, the implicit one included
    e_max = round(math.log2(info.max))  # max = 2^e_max (1 - 2^-p)
    k = -round(math.log2(info.smallest_normal)) + p  # smallest subnormal is 2^-(k - 1)
    two = sp.Integer(2)
    return FloatRounding(
        dtype=str(dtype).removeprefix("torch."),
        one_from=first_float(lambda v: torch.sigmoid(v) == 1, 1.0, 1000.0, dtype),
        one_formula=p * sp.log(two),
        one_correct=sp.log(two ** (p + 1) - 1),
        zero_from=-first_float(lambda v: torch.sigmoid(-v) == 0, 1.0, 1000.0, dtype),
        # exp(y) rounds to inf once y >= 2^e_max (1 - 2^-(p+1)), the midpoint past max
        zero_formula=-sp.log(two**e_max - two ** (e_max - p - 1)),
        zero_correct=-sp.log(two**k - 1),
    )


def gate_limits() -> GateLimits:
    r"""Gates reach 0 and 1 only in the limit; floats get there at finite x.

    .. math::
        \lim_{x\to-\infty}\sigma(x) = 0, \quad \lim_{x\to+\infty}\sigma(x) = 1, \quad
        0 < \sigma(x) < 1 \ \text{for every real } x.

    Witness: for float32 and float64, the first x at which ``torch.sigmoid`` returns
    exactly 1.0 (and the x closest to zero with exactly 0.0), beside the formulas that
    predict them and the later points a correctly rounded sigmoid would give.
    """
    x = sp.Symbol("x", real=True)
    s = sigmoid(x)
    return GateLimits(
        x=x,
        sigma=s,
        limit_minus=sp.limit(s, x, -sp.oo),
        limit_plus=sp.limit(s, x, sp.oo),
        solutions_0=sp.solveset(sp.Eq(s, 0), x, sp.S.Reals),
        solutions_1=sp.solveset(sp.Eq(s, 1), x, sp.S.Reals),
        gap=sp.simplify(1 - s),
        rounding=(_rounding(torch.float32), _rounding(torch.float64)),
    )


# --------------------------------------------------------------------------------------
# The fixed point of tanh, used by Q1.1 and Q1.3


@dataclass(frozen=True)
class TanhFixedPoint:
    r""":math:`c = \tanh c` has the single real solution :math:`c = 0`.

    Proof: :math:`g(c) = c - \tanh c` has :math:`g'(c) = \tanh^2 c \ge 0`, zero only at
    :math:`c = 0`, so g is strictly increasing and has at most one zero; :math:`g(0) = 0`.
    """

    c: sp.Symbol
    g: sp.Expr  # c - tanh(c)
    g_prime: sp.Expr  # tanh(c)**2
    critical: sp.Set  # {0}: where g' vanishes
    g_at_0: sp.Expr  # 0
    solutions: sp.Set  # {0}

    def math(self) -> Latex:
        c = self.c
        return Latex(
            rf"g({tex(c)}) &= {tex(self.g)}, \qquad g'({tex(c)}) = {tex(self.g_prime)} \ge 0",
            rf"\{{c : g'(c) = 0\}} &= {tex(self.critical)}"
            r"\ \Rightarrow\ g \text{ strictly increasing}",
            rf"g(0) &= {tex(self.g_at_0)}\ \Rightarrow\ "
            rf"\{{c \in \mathbb{{R}} : c = \tanh c\}} = {tex(self.solutions)}",
        )


def tanh_fixed_point() -> TanhFixedPoint:
    """Solve ``c = tanh(c)`` over the reals, by the monotonicity argument (SymPy's
    ``solveset`` cannot solve this transcendental equation directly)."""
    c = sp.Symbol("c", real=True)
    g = c - sp.tanh(c)
    g_prime = sp.simplify(sp.diff(g, c))
    critical = sp.solveset(g_prime, c, sp.S.Reals)
    # g' >= 0 everywhere and = 0 on a finite set: g is strictly increasing, one zero at most
    if not (g_prime == sp.tanh(c) ** 2 and isinstance(critical, sp.FiniteSet)):
        raise ArithmeticError(f"unexpected derivative {g_prime} or critical set {critical}")
    g_at_0 = g.subs(c, 0)
    solutions = sp.FiniteSet(0) if g_at_0 == 0 else sp.S.EmptySet
    return TanhFixedPoint(c, g, g_prime, critical, g_at_0, solutions)
