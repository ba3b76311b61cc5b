r"""What the gates can and cannot do: SymPy derivations, each witnessed on our own cells.

Q1 of the assignment asks three theory questions. Each function below answers one part: it
derives the result with SymPy (the returned expressions are what the site renders as LaTeX)
and then *witnesses* it on :class:`~rnnreport.model.cells.LSTMCell` /
:class:`~rnnreport.model.cells.GRUCell`
— the very cells we train — with weights set by construction, so the numbers on the page
are the cells' outputs, not a re-implementation's.

==========================  ==========================================================
function                    result
==========================  ==========================================================
:func:`gate_limits`         :math:`\sigma` reaches 0 and 1 only in the limit; where
                            float32 and float64 round it to exactly 0.0 and 1.0
:func:`tanh_fixed_point`    :math:`c = \tanh c` only at :math:`c = 0` (used twice)
:func:`store_input`         Q1.1: the state can hold the *information* in
                            :math:`x_t`, never its *value*
:func:`keep_state`          Q1.2: the drift after T steps in closed form; the gate
                            bias that keeps it within :math:`\varepsilon`
:func:`gru_not_lstm`        Q1.3: the closest gate mapping, why it fails, a
                            counterexample with numbers
:func:`lstm_counts`         Q1.3, the converse: the LSTM counts without bound, the
                            GRU's state stays in (-1, 1) (Weiss et al. 2018)
==========================  ==========================================================

Each returns a frozen dataclass of SymPy objects and witness numbers (NumPy arrays where a
plot needs a series) with a ``math()`` method giving the derivation as :class:`Latex`.
Witnesses run in float64 where float32's rounding would blur the comparison with a
formula, and in float32 where the point is what float32 does; each field says which.

Weights follow the cells' layouts: LSTM columns ``[i | j | f | o]``, GRU ``[z | r | h]``.
The LSTM adds ``forget_bias`` inside the forget gate's sigmoid; :func:`set_gate` takes the
*total* pre-activation bias and subtracts it, so a witness means what it says.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import sympy as sp
import torch
from torch import Tensor

from rnnreport.model.cells import GRUCell, LSTMCell

Cell = LSTMCell | GRUCell

# --------------------------------------------------------------------------------------
# Rendering


class Latex:
    r"""Display math for the site and for a terminal.

    sphinx-gallery shows the ``_repr_html_`` of a block's last expression; wrapping it in
    ``<div class="math">`` is what Sphinx's MathJax setup typesets (it skips other page
    text). ``lines`` are joined into an ``aligned`` environment, one per row; use ``&`` to
    align.
    """

    def __init__(self, *lines: str) -> None:
        if not lines:
            raise ValueError("Latex needs at least one line of LaTeX")
        self.lines = lines

    @property
    def source(self) -> str:
        if len(self.lines) == 1:
            return self.lines[0]
        return r"\begin{aligned}" + r" \\ ".join(self.lines) + r"\end{aligned}"

    def _repr_html_(self) -> str:
        text = self.source.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        return f'<div class="math notranslate nohighlight">\\[{text}\\]</div>'

    def _repr_latex_(self) -> str:
        return f"$${self.source}$$"

    def __repr__(self) -> str:
        return "\n".join(self.lines)


def tex(expr: sp.Basic) -> str:
    """SymPy's LaTeX for ``expr``, logs written ``\\ln``."""
    return sp.latex(expr, ln_notation=True)


def sigmoid(x: sp.Expr) -> sp.Expr:
    r""":math:`\sigma(x) = 1 / (1 + e^{-x})` as a SymPy expression."""
    return 1 / (1 + sp.exp(-x))


# --------------------------------------------------------------------------------------
# Building cells with weights set by construction

_BLOCKS = {"lstm": ("i", "j", "f", "o"), "gru": ("z", "r", "h")}


def blank_cell(kind: str, input_size: int, hidden_size: int, dtype: torch.dtype) -> Cell:
    """A library cell (TF1 flavour, the assignment's) in ``dtype`` with all weights zero.

    The LSTM keeps its ``forget_bias`` of 1.0; :func:`set_gate` compensates for it.
    """
    if kind not in _BLOCKS:
        raise ValueError(f"kind={kind!r} is not a cell: use 'lstm' or 'gru'")
    cls = LSTMCell if kind == "lstm" else GRUCell
    cell = cls(input_size, hidden_size).to(dtype)
    with torch.no_grad():
        for p in (cell.U, cell.W, cell.b):
            p.zero_()
    return cell


def set_gate(
    cell: Cell,
    gate: str,
    *,
    U: Tensor | float | None = None,
    W: Tensor | float | None = None,
    b: Tensor | float | None = None,
) -> Cell:
    """Set one gate's column block of ``U`` (D, H), ``W`` (H, H) and ``b`` (H,).

    ``gate`` is one of ``i, j, f, o`` (LSTM) or ``z, r, h`` (GRU; ``h`` is the candidate).
    ``b`` is the gate's whole constant pre-activation: for the LSTM's ``f`` the cell's
    ``forget_bias`` is subtracted, so that ``f = sigmoid(x U_f + h W_f + b)`` exactly.
    """
    kind = "lstm" if isinstance(cell, LSTMCell) else "gru"
    if gate not in _BLOCKS[kind]:
        raise ValueError(f"gate={gate!r} is not a {kind} gate: use one of {_BLOCKS[kind]}")
    H = cell.hidden_size
    k = _BLOCKS[kind].index(gate)
    cols = slice(k * H, (k + 1) * H)
    if gate == "f" and b is not None:
        b = torch.as_tensor(b, dtype=cell.b.dtype) - cell.forget_bias
    with torch.no_grad():
        for param, value in ((cell.U, U), (cell.W, W), (cell.b, b)):
            if value is not None:
                param[..., cols] = torch.as_tensor(value, dtype=param.dtype)
    return cell


def unroll(cell: Cell, xs: Tensor, state=None) -> tuple[list, dict[str, Tensor]]:
    """Run ``cell`` over ``xs`` (T, B, D); return the T states and the gates stacked (T, B, H).

    The states are the cell's own: ``(h_t, c_t)`` tuples for the LSTM, ``h_t`` for the GRU.
    """
    states, gates = [], []
    with torch.no_grad():
        for x_t in xs:
            state, g = cell(x_t, state)
            states.append(state)
            gates.append(g)
    return states, {k: torch.stack([g[k] for g in gates]) for k in gates[0]}


# --------------------------------------------------------------------------------------
# 1. Gate limits and what floating point does to them


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


# --------------------------------------------------------------------------------------
# 2. Storing the current input (Q1.1)


@dataclass(frozen=True, eq=False)
class StoreInput:
    r"""Q1.1: with :math:`f \to 0, i \to 1` (LSTM) or :math:`z \to 0` (GRU) the state
    becomes :math:`\tanh(x_t U + b)`: the information in :math:`x_t`, not its value.

    Witness (float64, so that no gate rounds to exactly 0 or 1): a random binary
    "image" of T rows of D = H pixels, one row per step, stored by each cell with gate
    bias ``beta`` and candidate weights ``U = 2a I``, ``b = -a``, so the candidate is
    :math:`(2x - 1)\tanh a`; the sign of every state entry gives back every pixel.
    """

    # symbolic
    lstm_step: sp.Eq  # c_t = f c_{t-1} + i tanh(x u + h w + b)
    lstm_limit: sp.Eq  # f = 0, i = 1 (and o = 0 or w = 0): c_t = tanh(x u + b)
    gru_step: sp.Eq
    gru_limit: sp.Eq  # z = 0 (and r = 0 or w = 0): h_t = tanh(x u + b)
    tanh_range: sp.Set  # Interval.open(-1, 1): a state never equals a value outside it
    pixel_one: sp.Set  # {y : tanh(y) = 1} = EmptySet: the pixel value 1 is never stored
    inverse: sp.Eq  # x = (atanh(s) - b) / u: the information is all there
    sign_rule: sp.Eq  # sign(tanh(a (2x - 1))) = 2x - 1 for a > 0, x in {0, 1}
    # witness, float64
    beta: float
    a: float
    pixels: np.ndarray  # (T, D) in {0, 1}
    lstm_states: np.ndarray  # c_t, (T, H)
    gru_states: np.ndarray  # h_t, (T, H)
    lstm_recovered: int  # pixels whose sign(c_t) gives them back
    gru_recovered: int
    lstm_gap: float  # max |c_t - j_t|: how far the gates are from the limit
    lstm_gap_formula: float  # max |f (c_{t-1} - j_t)|, the same thing by the formula
    gru_gap: float
    gru_gap_formula: float
    gap_bound: float  # 2 sigma(-beta): |state| < 1 and |candidate| < 1
    closest_to_one: float  # the largest state entry where the pixel is 1: below 1
    # witness, float32: rounding does what the function cannot
    float32_value_stored: bool  # c_t == x_t exactly with f = sigma(-100), j = tanh(10 x)

    def math(self) -> Latex:
        return Latex(
            rf"\text{{LSTM: }} & {tex(self.lstm_step)} "
            rf"\ \xrightarrow{{f \to 0,\ i \to 1,\ o \to 0}}\ {tex(self.lstm_limit)}",
            rf"\text{{GRU: }} & {tex(self.gru_step)} "
            rf"\ \xrightarrow{{z \to 0,\ r \to 0}}\ {tex(self.gru_limit)}",
            rf"\text{{range: }} & \tanh(\mathbb{{R}}) = {tex(self.tanh_range)}, \qquad "
            rf"\{{y : \tanh y = 1\}} = {tex(self.pixel_one)}",
            rf"\text{{inverse: }} & {tex(self.inverse)}",
            rf"\text{{binary pixels: }} & {tex(self.sign_rule)} "
            r"\quad (a > 0,\ x \in \{0, 1\})",
        )

    def rows(self) -> list[dict[str, object]]:
        n = int(self.pixels.size)
        return [
            {
                "cell": name,
                "pixels recovered from the sign": f"{rec} / {n}",
                "max |state − candidate|": gap,
                "same, by the formula f·|s_{t−1} − j_t|": formula,
                "bound 2σ(−β)": self.gap_bound,
            }
            for name, rec, gap, formula in (
                ("LSTM (c_t)", self.lstm_recovered, self.lstm_gap, self.lstm_gap_formula),
                ("GRU (h_t)", self.gru_recovered, self.gru_gap, self.gru_gap_formula),
            )
        ]


def binary_image(rows: int, cols: int, seed: int = 0, p: float = 0.3) -> Tensor:
    """A random binary "image" (rows, cols) of 0.0 / 1.0, float64: a stand-in for a
    binarized MNIST digit (the derivations do not load data)."""
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(rows, cols, generator=g, dtype=torch.float64) < p).double()


def store_input(beta: float = 5.0, a: float = 3.0, size: int = 28, seed: int = 0) -> StoreInput:
    """Derive Q1.1 and witness it on a ``size`` x ``size`` binary image (:class:`StoreInput`)."""
    x, u, w, b, h, cp, f, i, o, z, r = sp.symbols(
        "x_t u w b h_{t-1} c_{t-1} f_t i_t o_{t-1} z_t r_t", real=True
    )
    c_t, h_t, s, y = sp.symbols("c_t h_t s y", real=True)
    # the LSTM's recurrent input is h_{t-1} = o_{t-1} tanh(c_{t-1})
    lstm_rhs = f * cp + i * sp.tanh(x * u + o * sp.tanh(cp) * w + b)
    gru_rhs = z * h + (1 - z) * sp.tanh(x * u + r * h * w + b)
    a_pos, x_bin = sp.Symbol("a", positive=True), sp.Symbol("x", integer=True)
    stored = sp.tanh(a_pos * (2 * x_bin - 1))
    sign_ok = all(
        sp.sign(stored.subs(x_bin, v)) == 2 * v - 1 for v in (0, 1)
    )  # sympy knows tanh(a) > 0 for a > 0
    if not sign_ok:
        raise ArithmeticError("sign rule failed symbolically")
    # tanh is injective with inverse atanh on (-1, 1): solve s = tanh(x u + b) for x
    # (sp.solve returns the same root written through logs and square roots)
    inverse = (sp.atanh(s) - b) / u
    if sp.simplify(sp.tanh(x * u + b).subs(x, inverse) - s) != 0:
        raise ArithmeticError(f"{inverse} does not invert tanh(x u + b)")

    # witness in float64: gates by bias alone, recurrent weights zero
    pixels = binary_image(size, size, seed)  # (T, D)
    xs = pixels[:, None, :]  # (T, B=1, D)
    eye = torch.eye(size, dtype=torch.float64)
    lstm = blank_cell("lstm", size, size, torch.float64)
    set_gate(lstm, "i", b=beta)
    set_gate(lstm, "f", b=-beta)
    set_gate(lstm, "j", U=2 * a * eye, b=-a)
    gru = blank_cell("gru", size, size, torch.float64)
    set_gate(gru, "z", b=-beta)
    set_gate(gru, "r", b=-beta)
    set_gate(gru, "h", U=2 * a * eye, b=-a)
    lstm_states, lstm_gates = unroll(lstm, xs)
    gru_states, gru_gates = unroll(gru, xs)
    c = torch.stack([c for _, c in lstm_states])[:, 0]  # (T, H)
    hg = torch.stack(gru_states)[:, 0]  # (T, H)
    j, fg = lstm_gates["j"][:, 0], lstm_gates["f"][:, 0]
    ht, zg = gru_gates["h_tilde"][:, 0], gru_gates["z"][:, 0]
    c_prev = torch.cat([torch.zeros_like(c[:1]), c[:-1]])
    h_prev = torch.cat([torch.zeros_like(hg[:1]), hg[:-1]])
    target = 2 * pixels - 1

    # float32 with gates past the rounding points: sigma(100) = 1.0, sigma(-100) = 0.0,
    # tanh(10) = 1.0, so the cell's arithmetic stores the value of each binary pixel exactly
    lstm32 = blank_cell("lstm", size, size, torch.float32)
    set_gate(lstm32, "i", b=100.0)
    set_gate(lstm32, "f", b=-100.0)
    set_gate(lstm32, "j", U=10 * torch.eye(size))
    states32, _ = unroll(lstm32, pixels.float()[:, None, :])
    c32 = torch.stack([c for _, c in states32])[:, 0]

    return StoreInput(
        lstm_step=sp.Eq(c_t, lstm_rhs),
        lstm_limit=sp.Eq(c_t, lstm_rhs.subs({f: 0, i: 1, o: 0})),
        gru_step=sp.Eq(h_t, gru_rhs),
        gru_limit=sp.Eq(h_t, gru_rhs.subs({z: 0, r: 0})),
        tanh_range=sp.calculus.util.function_range(sp.tanh(y), y, sp.S.Reals),
        pixel_one=sp.solveset(sp.Eq(sp.tanh(y), 1), y, sp.S.Reals),
        inverse=sp.Eq(x, inverse),
        sign_rule=sp.Eq(sp.sign(stored), 2 * x_bin - 1),
        beta=beta,
        a=a,
        pixels=pixels.numpy(),
        lstm_states=c.numpy(),
        gru_states=hg.numpy(),
        lstm_recovered=int((torch.sign(c) == target).sum()),
        gru_recovered=int((torch.sign(hg) == target).sum()),
        lstm_gap=float((c - j).abs().max()),
        lstm_gap_formula=float((fg * (c_prev - j)).abs().max()),
        gru_gap=float((hg - ht).abs().max()),
        gru_gap_formula=float((zg * (h_prev - ht)).abs().max()),
        gap_bound=2 * float(torch.sigmoid(torch.tensor(-beta, dtype=torch.float64))),
        closest_to_one=float(torch.cat([c[pixels == 1], hg[pixels == 1]]).max()),
        float32_value_stored=bool(torch.equal(c32, pixels.float())),
    )


# --------------------------------------------------------------------------------------
# 3. Keeping the previous state (Q1.2)


@dataclass(frozen=True, eq=False)
class KeepState:
    r"""Q1.2: with :math:`f \to 1, i \to 0` (LSTM) or :math:`z \to 1` (GRU) the state is
    copied. For a finite keep-gate pre-activation :math:`\beta` it drifts.

    With keep gate :math:`s = \sigma(\beta)` (the GRU's z; the LSTM's f, with
    :math:`i = \sigma(-\beta) = 1 - s`), the state obeys
    :math:`h_t = s\,h_{t-1} + (1 - s)\,\tilde h_t`, so
    :math:`h_T - h_0 = \sum_{t=1}^{T} s^{T-t}(1 - s)(\tilde h_t - h_0)` and
    :math:`|h_T - h_0| \le (1 - s^T)\,\Delta` with :math:`\Delta = \max_t|\tilde h_t - h_0|
    < 2`. Equality holds when the candidate is constant.
    """

    # symbolic
    recurrence_solution: sp.Eq  # c_T for constant f, i, j (SymPy's rsolve)
    drift: sp.Expr  # (1 - sigma(beta)^T) Delta
    bias_bound: sp.Expr  # beta*(T, eps, Delta), solved by SymPy
    keep_gate_needed: sp.Expr  # s* = sigma(beta*) = (1 - eps / Delta)^(1 / T)
    bias_bound_asymptote: sp.Expr  # lim_{eps -> 0} T Delta (1 - s*) / eps = 1
    symbols: dict[str, sp.Symbol]
    # witness 1 (float64): drift against bias for several T, random binary input
    betas: np.ndarray  # (K,)
    horizons: tuple[int, ...]
    gru_drift: np.ndarray  # (len(horizons), K) |h_T - h_0| from the cell
    lstm_drift: np.ndarray  # |c_T - c_0| from the cell
    gru_drift_formula: np.ndarray  # the sum formula on the cell's own candidates
    lstm_drift_formula: np.ndarray
    drift_bound: np.ndarray  # (1 - sigma(beta)^T) * 2
    # witness 2 (float64): the bias bound for T = 28, worst-case start
    epsilons: tuple[float, ...]
    bias_needed: tuple[float, ...]  # beta*(28, eps, 2)
    worst_drift_at_bias: tuple[float, ...]  # GRU drift at beta*, h_0 = -tanh 10, h~ = tanh 10
    # witness 3 (float64): the LSTM caveat, c kept but h follows o_t
    caveat_c_change: float  # max_t |c_t - c_0|
    caveat_h_range: float  # max_t h_t - min_t h_t
    caveat_h_formula_error: float  # max |h_t - o_t tanh(c_t)|

    def math(self) -> Latex:
        sy = self.symbols
        return Latex(
            rf"c_{{t+1}} = f c_t + i j \ \Rightarrow\ & {tex(self.recurrence_solution)}",
            rf"i = 1 - f,\ f = \sigma(\beta)\ \Rightarrow\ & |h_T - h_0| \le {tex(self.drift)}",
            rf"{tex(self.drift)} = {tex(sy['epsilon'])} \ \Rightarrow\ & "
            rf"\beta^* = {tex(self.bias_bound)}",
            rf"\sigma(\beta^*) = s^* = {tex(self.keep_gate_needed)},\ & "
            rf"\lim_{{\varepsilon \to 0}} \frac{{T\Delta\,(1 - s^*)}}{{\varepsilon}} = "
            rf"{tex(self.bias_bound_asymptote)} \ \Rightarrow\ "
            r"\beta^* = \ln\frac{T\Delta}{\varepsilon} + o(1)",
        )

    def bias_rows(self) -> list[dict[str, object]]:
        return [
            {
                "T": 28,
                "ε": eps,
                "bias needed β* (Δ = 2)": beta,
                "σ(β*)": 1 / (1 + math.exp(-beta)),
                "GRU drift at β*, worst start": drift,
            }
            for eps, beta, drift in zip(
                self.epsilons, self.bias_needed, self.worst_drift_at_bias, strict=True
            )
        ]

    def drift_rows(self) -> list[dict[str, object]]:
        return [
            {
                "T": T,
                "β": float(beta),
                "GRU drift": float(self.gru_drift[k, n]),
                "LSTM drift": float(self.lstm_drift[k, n]),
                "formula (GRU)": float(self.gru_drift_formula[k, n]),
                "bound (1 − σ(β)^T)·2": float(self.drift_bound[k, n]),
            }
            for k, T in enumerate(self.horizons)
            for n, beta in enumerate(self.betas)
        ]


def _keep_cells(beta: float, D: int, U_cand: Tensor, b_cand: float) -> tuple[Cell, Cell]:
    """A GRU with z = sigma(beta) and an LSTM with f = sigma(beta), i = sigma(-beta), both
    with the candidate ``tanh(x U_cand + b_cand)`` and no recurrent weights (float64)."""
    gru = blank_cell("gru", D, 1, torch.float64)
    set_gate(gru, "z", b=beta)
    set_gate(gru, "h", U=U_cand, b=b_cand)
    lstm = blank_cell("lstm", D, 1, torch.float64)
    set_gate(lstm, "f", b=beta)
    set_gate(lstm, "i", b=-beta)
    set_gate(lstm, "j", U=U_cand, b=b_cand)
    return gru, lstm


def _drift_by_formula(s: Tensor, candidate: Tensor, start: float) -> float:
    r""":math:`|\sum_t s_t^{(T-t)} (1 - s)(\tilde h_t - h_0)|` from the gate and candidate
    series the cell recorded; ``s`` (T,) keep gate, ``candidate`` (T,)."""
    T = len(candidate)
    powers = torch.stack([s[t + 1 :].prod() for t in range(T)])  # s^{T-t}, gates may vary
    return float((powers * (1 - s) * (candidate - start)).sum().abs())


def keep_state(
    betas: tuple[float, ...] = tuple(float(b) for b in np.arange(0.0, 14.5, 0.5)),
    horizons: tuple[int, ...] = (7, 28, 112),
    epsilons: tuple[float, ...] = (1e-1, 1e-2, 1e-3, 1e-4),
    start: float = -0.9,
    seed: int = 0,
) -> KeepState:
    """Derive Q1.2 and witness it (see :class:`KeepState`). ``start`` is h_0 = c_0."""
    T, t = sp.symbols("T t", integer=True, positive=True)
    beta = sp.Symbol("beta", real=True)
    eps, Delta = sp.symbols("varepsilon Delta", positive=True)
    f, i, j, c0, s = sp.symbols("f i j c_0 s", positive=True)
    c = sp.Function("c")
    solution = sp.rsolve(c(t + 1) - f * c(t) - i * j, c(t), {c(0): c0}).subs(t, T)
    drift = (1 - sigmoid(beta) ** T) * Delta
    # solve for the keep gate s = sigma(beta), then for beta: two steps SymPy can do
    (s_star,) = sp.solve(sp.Eq((1 - s**T) * Delta, eps), s)
    (beta_of_s,) = sp.solve(sp.Eq(sigmoid(beta), s), beta)
    bias_bound = sp.simplify(beta_of_s.subs(s, s_star))
    # beta* = ln s* - ln(1 - s*) with ln s* -> 0, so beta* = ln(T Delta / eps) + o(1) as soon
    # as T Delta (1 - s*) / eps -> 1; SymPy takes that limit in y = eps / Delta quickly
    y = sp.Symbol("y", positive=True)
    s_star_y = sp.powsimp(sp.cancel(s_star.subs(eps, y * Delta)))
    asymptote = sp.limit(T * (1 - s_star_y) / y, y, 0)

    # witness 1: drift against bias, random binary rows driving the candidate
    D = 28
    g = torch.Generator().manual_seed(seed)
    U_cand = torch.randn(D, 1, generator=g, dtype=torch.float64)
    T_max = max(horizons)
    xs = binary_image(T_max, D, seed + 1)[:, None, :]  # (T, 1, D)
    h0 = torch.full((1, 1), start, dtype=torch.float64)
    shape = (len(horizons), len(betas))
    out = {k: np.zeros(shape) for k in ("gru", "lstm", "gru_f", "lstm_f", "bound")}
    for n, b in enumerate(betas):
        gru, lstm = _keep_cells(b, D, U_cand, 1.0)
        hs, gg = unroll(gru, xs, h0)  # one run to the longest horizon, read at each T
        cs, lg = unroll(lstm, xs, (h0, h0.clone()))
        zg, hg = gg["z"][:, 0, 0], gg["h_tilde"][:, 0, 0]
        fl, il, jl = lg["f"][:, 0, 0], lg["i"][:, 0, 0], lg["j"][:, 0, 0]
        for k, H in enumerate(horizons):
            out["gru"][k, n] = float((hs[H - 1] - h0).abs())
            out["lstm"][k, n] = float((cs[H - 1][1] - h0).abs())
            out["gru_f"][k, n] = _drift_by_formula(zg[:H], hg[:H], start)
            # LSTM: c_T - c_0 = sum_t f^{T-t} (i_t j_t - (1 - f_t) c_0), the cell's own gates
            powers = torch.stack([fl[t + 1 : H].prod() for t in range(H)])
            lstm_sum = (powers * (il[:H] * jl[:H] - (1 - fl[:H]) * start)).sum()
            out["lstm_f"][k, n] = float(lstm_sum.abs())
            out["bound"][k, n] = (1 - (1 / (1 + math.exp(-b))) ** H) * 2

    # witness 2: the bias bound for T = 28 with the worst start the cell can get near
    needed, worst = [], []
    extreme = math.tanh(10.0)  # h_0 = -tanh 10, candidate tanh 10: Delta = 2 tanh 10 ~ 2
    for e in epsilons:
        b_star = float(bias_bound.subs({T: 28, eps: e, Delta: 2}))
        gru, _ = _keep_cells(b_star, D, torch.zeros(D, 1), 10.0)
        hs, _ = unroll(gru, xs[:28], torch.full((1, 1), -extreme, dtype=torch.float64))
        needed.append(b_star)
        worst.append(float((hs[-1] + extreme).abs()))

    # witness 3: the LSTM caveat: keep c, but let the input drive the output gate
    b_keep = 12.0
    lstm = blank_cell("lstm", D, 1, torch.float64)
    set_gate(lstm, "f", b=b_keep)
    set_gate(lstm, "i", b=-b_keep)
    set_gate(lstm, "o", U=U_cand)
    c_start = torch.full((1, 1), 0.8, dtype=torch.float64)
    states, gates = unroll(lstm, xs[:28], (torch.zeros_like(c_start), c_start))
    hh = torch.stack([h for h, _ in states]).flatten()
    cc = torch.stack([c for _, c in states]).flatten()
    oo = gates["o"].flatten()

    return KeepState(
        recurrence_solution=sp.Eq(sp.Symbol("c_T"), sp.simplify(solution)),
        drift=drift,
        bias_bound=bias_bound,
        keep_gate_needed=s_star,
        bias_bound_asymptote=asymptote,
        symbols={"T": T, "beta": beta, "epsilon": eps, "Delta": Delta, "f": f, "i": i, "j": j},
        betas=np.asarray(betas, dtype=float),
        horizons=tuple(horizons),
        gru_drift=out["gru"],
        lstm_drift=out["lstm"],
        gru_drift_formula=out["gru_f"],
        lstm_drift_formula=out["lstm_f"],
        drift_bound=out["bound"],
        epsilons=tuple(epsilons),
        bias_needed=tuple(needed),
        worst_drift_at_bias=tuple(worst),
        caveat_c_change=float((cc - c_start.item()).abs().max()),
        caveat_h_range=float(hh.max() - hh.min()),
        caveat_h_formula_error=float((hh - oo * torch.tanh(cc)).abs().max()),
    )


# --------------------------------------------------------------------------------------
# 4. Is a GRU a special case of an LSTM? (Q1.3)


def lstm_from_gru(gru: GRUCell, output_bias: float = 50.0) -> LSTMCell:
    r"""The closest LSTM to ``gru``: :math:`f = z`, :math:`i = 1 - z`, :math:`o = 1`,
    candidate weights copied.

    :math:`i = 1 - z` is exact: :math:`\sigma(-a) = 1 - \sigma(a)`, so the i block gets
    the z block negated. :math:`o = 1` is not reachable; ``o = sigmoid(output_bias)``,
    which rounds to exactly 1.0 in float32 and float64 for the default 50 (see
    :func:`gate_limits`). The reset gate has no counterpart and is dropped.
    """
    if gru.reset != "before":
        raise ValueError(f"lstm_from_gru maps the reset-before GRU; got reset={gru.reset!r}")
    H = gru.hidden_size
    z_cols, h_cols = slice(0, H), slice(2 * H, 3 * H)
    lstm = blank_cell("lstm", gru.input_size, H, gru.U.dtype)
    z = {"U": gru.U[:, z_cols], "W": gru.W[:, z_cols], "b": gru.b[z_cols]}
    set_gate(lstm, "f", **{k: v.detach() for k, v in z.items()})
    set_gate(lstm, "i", **{k: -v.detach() for k, v in z.items()})
    set_gate(lstm, "j", U=gru.U[:, h_cols].detach(), W=gru.W[:, h_cols].detach())
    set_gate(lstm, "j", b=gru.b[h_cols].detach())
    set_gate(lstm, "o", b=output_bias)
    return lstm


COUNTEREXAMPLE = {
    "u_z": 0.0, "w_z": 0.0, "b_z": 0.0,  # update gate
    "u_r": 6.0, "w_r": 0.0, "b_r": -3.0,  # reset gate
    "u_h": 1.0, "w_h": 2.0, "b_h": -0.5,  # candidate
}  # fmt: skip
"""A one-unit GRU: z = 1/2 always; r = sigma(6x - 3), near 1 on a 1 pixel and near 0 on a 0
pixel; candidate tanh(x + 2 r h - 1/2)."""

COUNTEREXAMPLE_INPUT = (1.0, 1.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
"""Binary pixels, as in our data."""


@dataclass(frozen=True, eq=False)
class GruNotLstm:
    r"""Q1.3: no. Under :math:`f = z, i = 1 - z, o = 1` the LSTM's cell follows the GRU's
    update form, but (1) it emits :math:`\tanh c_t` where the GRU emits :math:`h_t`, equal
    only where :math:`c = \tanh c`, i.e. :math:`c = 0`; (2) its recurrent input is
    :math:`\tanh c_{t-1}` where the GRU's candidate sees :math:`r_t \odot h_{t-1}`, with
    :math:`r_t` computed from the *current* input.

    Witness (float64): the one-unit GRU :data:`COUNTEREXAMPLE` on
    :data:`COUNTEREXAMPLE_INPUT`, its mapped LSTM, and the same GRU with the reset gate
    held at 1 (bias 50), which isolates the tanh-output effect from the reset effect.
    """

    gru_step: sp.Eq
    lstm_step: sp.Eq  # the mapped LSTM's cell update
    lstm_output: sp.Eq  # its output tanh(c_t)
    step_difference: sp.Eq  # GRU state - LSTM cell after one step from the same s
    fixed_point: TanhFixedPoint
    weights: dict[str, float]
    inputs: np.ndarray  # (T,)
    gru_h: np.ndarray  # (T,) from GRUCell
    gru_h_formula: np.ndarray  # the scalar recurrence, evaluated in Python floats
    lstm_h: np.ndarray  # (T,) from the mapped LSTMCell: tanh(c_t)
    lstm_c: np.ndarray
    lstm_h_formula: np.ndarray
    gru_no_reset_h: np.ndarray  # the GRU with r = 1

    def math(self) -> Latex:
        return Latex(
            rf"\text{{GRU: }} & {tex(self.gru_step)}",
            rf"\text{{LSTM, }} f = z,\ i = 1 - z,\ o = 1: & {tex(self.lstm_step)}, "
            rf"\quad {tex(self.lstm_output)}",
            rf"\text{{same state }} s: & {tex(self.step_difference)}",
            rf"\text{{outputs agree only where }} & c = \tanh c \iff "
            rf"c \in {tex(self.fixed_point.solutions)}",
        )

    def rows(self) -> list[dict[str, object]]:
        return [
            {
                "t": t + 1,
                "x_t": int(self.inputs[t]),
                "GRU h_t": float(self.gru_h[t]),
                "mapped LSTM h_t = tanh(c_t)": float(self.lstm_h[t]),
                "mapped LSTM c_t": float(self.lstm_c[t]),
                "GRU with r = 1": float(self.gru_no_reset_h[t]),
            }
            for t in range(len(self.inputs))
        ]


def _scalar_gru(w: dict[str, float], xs, reset: bool = True) -> list[float]:
    """The GRU equations for one unit, in Python floats: the formula the cell must match."""
    sig = lambda v: 1 / (1 + math.exp(-v))  # noqa: E731
    h, out = 0.0, []
    for x in xs:
        z = sig(w["u_z"] * x + w["w_z"] * h + w["b_z"])
        r = sig(w["u_r"] * x + w["w_r"] * h + w["b_r"]) if reset else 1.0
        h = z * h + (1 - z) * math.tanh(w["u_h"] * x + w["w_h"] * r * h + w["b_h"])
        out.append(h)
    return out


def _scalar_mapped_lstm(w: dict[str, float], xs) -> list[float]:
    """The mapped LSTM (f = z, i = 1 - z, o = 1) for one unit, in Python floats."""
    sig = lambda v: 1 / (1 + math.exp(-v))  # noqa: E731
    c, h, out = 0.0, 0.0, []
    for x in xs:
        z = sig(w["u_z"] * x + w["w_z"] * h + w["b_z"])
        c = z * c + (1 - z) * math.tanh(w["u_h"] * x + w["w_h"] * h + w["b_h"])
        h = math.tanh(c)
        out.append(h)
    return out


def _one_unit_gru(w: dict[str, float]) -> GRUCell:
    gru = blank_cell("gru", 1, 1, torch.float64)
    for g in ("z", "r", "h"):
        set_gate(gru, g, U=w[f"u_{g}"], W=w[f"w_{g}"], b=w[f"b_{g}"])
    return gru


def gru_not_lstm(
    weights: dict[str, float] | None = None, inputs: tuple[float, ...] = COUNTEREXAMPLE_INPUT
) -> GruNotLstm:
    """Derive Q1.3 and witness it with a counterexample (see :class:`GruNotLstm`)."""
    w = dict(COUNTEREXAMPLE if weights is None else weights)
    x, u, wh, b, z, r, s = sp.symbols("x_t u w b z_t r_t s", real=True)
    h, c = sp.symbols("h_{t-1} c_{t-1}", real=True)
    h_t, c_t, hl_t = sp.symbols("h_t c_t h^{LSTM}_t", real=True)
    gru_rhs = z * h + (1 - z) * sp.tanh(x * u + r * h * wh + b)
    lstm_rhs = z * c + (1 - z) * sp.tanh(x * u + sp.tanh(c) * wh + b)
    # from the same state s, the two updates differ only inside the candidate's tanh
    diff = (1 - z) * (sp.tanh(x * u + r * s * wh + b) - sp.tanh(x * u + sp.tanh(s) * wh + b))
    if sp.simplify(gru_rhs.subs(h, s) - lstm_rhs.subs(c, s) - diff) != 0:
        raise ArithmeticError(f"the one-step difference is not {diff}")

    xs = torch.tensor(inputs, dtype=torch.float64)[:, None, None]  # (T, 1, 1)
    gru = _one_unit_gru(w)
    gru_states, _ = unroll(gru, xs)
    lstm_states, _ = unroll(lstm_from_gru(gru), xs)
    no_reset = _one_unit_gru(w | {"u_r": 0.0, "w_r": 0.0, "b_r": 50.0})  # r rounds to 1.0
    no_reset_states, _ = unroll(no_reset, xs)
    flat = lambda ts: torch.stack(ts).flatten().numpy()  # noqa: E731
    return GruNotLstm(
        gru_step=sp.Eq(h_t, gru_rhs),
        lstm_step=sp.Eq(c_t, lstm_rhs),
        lstm_output=sp.Eq(hl_t, sp.tanh(c_t)),
        step_difference=sp.Eq(h_t - c_t, diff, evaluate=False),
        fixed_point=tanh_fixed_point(),
        weights=w,
        inputs=np.asarray(inputs, dtype=float),
        gru_h=flat(gru_states),
        gru_h_formula=np.asarray(_scalar_gru(w, inputs)),
        lstm_h=flat([hh for hh, _ in lstm_states]),
        lstm_c=flat([cc for _, cc in lstm_states]),
        lstm_h_formula=np.asarray(_scalar_mapped_lstm(w, inputs)),
        gru_no_reset_h=flat(no_reset_states),
    )


# --------------------------------------------------------------------------------------
# 5. The converse: the LSTM counts, the GRU cannot (Weiss, Goldberg, Yahav 2018)


@dataclass(frozen=True, eq=False)
class LstmCounts:
    r"""An LSTM with :math:`f = i = 1, j = 1` counts: :math:`c_t = c_{t-1} + 1 = t`.
    A GRU's state stays in (-1, 1) when it starts there, by induction on
    :math:`h_t \mp 1 = z_t (h_{t-1} \mp 1) + (1 - z_t)(\tilde h_t \mp 1)`.

    Witness: f, i and j saturated by a bias (and input weight) of ``bias``; in float32 and
    float64 alike these round to exactly 1.0 (:func:`gate_limits`), so the cell's count
    is exact, while the exact-arithmetic cell falls short by ``lstm_shortfall_exact``.
    GRUs with the same candidate and update biases ``update_biases`` follow
    :math:`h_t = \tilde h (1 - z^t)` (float64) and never pass 1.
    """

    lstm_count: sp.Eq  # c_t = t (rsolve)
    lstm_finite: sp.Eq  # c_T for constant gates f, i, j (rsolve)
    lstm_finite_limit: sp.Expr  # lim_{f -> 1} c_T = i j T
    gru_upper: sp.Eq  # h_t - 1 = z (h_{t-1} - 1) + (1 - z)(h~ - 1), verified identity
    gru_upper_negative: bool  # SymPy: negative when z = sigma(a), h_{t-1} < 1, h~ = tanh(.)
    gru_lower_positive: bool  # SymPy: h_t + 1 > 0 likewise
    candidate_gap: sp.Expr  # 1 - tanh(u) = 2 / (e^{2u} + 1) > 0
    gru_closed: sp.Eq  # h_t = h~ (1 - z^t), h_0 = 0 (rsolve)
    steps: np.ndarray  # 1..T
    bias: float
    lstm_c: np.ndarray  # (T,) float64, the count
    lstm_h: np.ndarray  # (T,) float64, the output o tanh(c): bounded too
    lstm_c_float32: np.ndarray  # (T,) float32
    lstm_shortfall_exact: float  # T - c_T for the exact sigmoid(bias), tanh(bias)
    update_biases: tuple[float, ...]
    gru_h: np.ndarray  # (K, T) from GRUCell, float64
    gru_closed_form: np.ndarray  # (K, T) h~ (1 - z^t)

    def math(self) -> Latex:
        return Latex(
            rf"f = i = j = 1: \quad & {tex(self.lstm_count)}",
            rf"\text{{constant }} f, i, j: \quad & {tex(self.lstm_finite)} "
            rf"\xrightarrow{{f \to 1}} {tex(self.lstm_finite_limit)}",
            rf"\text{{GRU: }} & {tex(self.gru_upper)}",
            r"& |h_{t-1}| < 1,\ 0 < z_t < 1,\ "
            rf"1 - \tanh u = {tex(self.candidate_gap)} > 0 \ \Rightarrow\ "
            r"-1 < h_t < 1",
            rf"\text{{constant }} z, \tilde h,\ h_0 = 0: \quad & {tex(self.gru_closed)}",
        )

    def rows(self, at: tuple[int, ...] = (1, 10, 100, 1000)) -> list[dict[str, object]]:
        rows = []
        for t in (t for t in at if t <= len(self.steps)):
            row: dict[str, object] = {"t": t, "LSTM c_t": float(self.lstm_c[t - 1])}
            row["LSTM h_t"] = float(self.lstm_h[t - 1])
            for k, b in enumerate(self.update_biases):
                row[f"GRU h_t (z = σ({b:g}))"] = float(self.gru_h[k, t - 1])
            rows.append(row)
        return rows


def lstm_counts(
    T: int = 1000, bias: float = 50.0, update_biases: tuple[float, ...] = (2.0, 4.0, 6.0)
) -> LstmCounts:
    """Derive the counting result and the GRU bound; witness both (see :class:`LstmCounts`)."""
    t = sp.Symbol("t", integer=True, nonnegative=True)
    Ts = sp.Symbol("T", integer=True, positive=True)
    f, i, j, zs, hc = sp.symbols("f i j z \\tilde{h}", positive=True)
    cf, hf = sp.Function("c"), sp.Function("h")
    count = sp.rsolve(cf(t + 1) - cf(t) - 1, cf(t), {cf(0): 0})
    finite = sp.simplify(sp.rsolve(cf(t + 1) - f * cf(t) - i * j, cf(t), {cf(0): 0}).subs(t, Ts))
    gru_closed = sp.factor(sp.rsolve(hf(t + 1) - zs * hf(t) - (1 - zs) * hc, hf(t), {hf(0): 0}))

    # the induction step: h_{t-1} = 1 - p (p > 0 is the hypothesis h_{t-1} < 1), the
    # candidate tanh(u) = 1 - q with q > 0, z = sigma(a) in (0, 1)
    a, u = sp.symbols("a u", real=True)
    p, q = sp.symbols("p q", positive=True)
    hp, ht, zz = sp.symbols("h_{t-1} \\tilde{h}_t z_t", real=True)
    z_of_a = sigmoid(a)
    upper = sp.simplify(z_of_a * (1 - p) + (1 - z_of_a) * (1 - q) - 1)
    lower = sp.simplify(z_of_a * (-1 + p) + (1 - z_of_a) * (-1 + q) + 1)
    identity = zz * (hp - 1) + (1 - zz) * (ht - 1)
    if sp.expand(identity - (zz * hp + (1 - zz) * ht - 1)) != 0:
        raise ArithmeticError("the induction identity does not hold")
    gap = sp.simplify((1 - sp.tanh(u)).rewrite(sp.exp))

    # witness: LSTM counting the 1s of an all-ones input
    ones = torch.ones(T, 1, 1, dtype=torch.float64)
    runs = {}
    for dtype in (torch.float64, torch.float32):
        lstm = blank_cell("lstm", 1, 1, dtype)
        set_gate(lstm, "f", b=bias)
        set_gate(lstm, "i", b=bias)
        set_gate(lstm, "j", U=bias)
        states, _ = unroll(lstm, ones.to(dtype))
        runs[dtype] = states
    c64 = torch.stack([c for _, c in runs[torch.float64]]).flatten()
    h64 = torch.stack([h for h, _ in runs[torch.float64]]).flatten()
    c32 = torch.stack([c for _, c in runs[torch.float32]]).flatten()
    exact = {f: sigmoid(sp.Integer(int(bias))), i: sigmoid(sp.Integer(int(bias)))}
    exact[j] = sp.tanh(sp.Integer(int(bias)))
    shortfall = sp.N(T - finite.subs(exact).subs(Ts, T), 30)

    gru_h, closed = [], []
    steps = np.arange(1, T + 1)
    for b in update_biases:
        gru = blank_cell("gru", 1, 1, torch.float64)
        set_gate(gru, "z", b=b)
        set_gate(gru, "h", U=bias)
        states, gates = unroll(gru, ones)
        gru_h.append(torch.stack(states).flatten().numpy())
        zv, hv = float(gates["z"][0]), float(gates["h_tilde"][0])
        closed.append(hv * (1 - zv**steps))

    return LstmCounts(
        lstm_count=sp.Eq(cf(t), count),
        lstm_finite=sp.Eq(cf(Ts), finite),
        lstm_finite_limit=sp.limit(finite, f, 1),
        gru_upper=sp.Eq(zz * hp + (1 - zz) * ht - 1, identity),
        gru_upper_negative=bool(upper.is_negative),
        gru_lower_positive=bool(lower.is_positive),
        candidate_gap=gap,
        gru_closed=sp.Eq(hf(t), gru_closed),
        steps=steps,
        bias=bias,
        lstm_c=c64.numpy(),
        lstm_h=h64.numpy(),
        lstm_c_float32=c32.numpy(),
        lstm_shortfall_exact=float(shortfall),
        update_biases=tuple(update_biases),
        gru_h=np.stack(gru_h),
        gru_closed_form=np.stack(closed),
    )
