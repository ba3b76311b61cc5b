r"""Q1.3: is a GRU a special case of an LSTM, for the same input?

What the question means. A GRU is a special case of an LSTM if there are LSTM weights, of
any hidden size, such that on *every* input sequence, both cells starting from the zero
state (:math:`h_0 = 0`; :math:`h_0 = c_0 = 0`), the GRU's state :math:`h_t` equals the
LSTM's output :math:`h_t` (unit by unit, on some H of its units) at every step. GRUs are a
special case of LSTMs if every GRU is. The LSTM is the assignment's: TF1's
``BasicLSTMCell``, no peepholes, :math:`h_t = o_t \odot \tanh c_t`.

Claim: no, for every choice of LSTM weights and every hidden size
(:func:`first_step_bound`). From the zero state an LSTM's first output is
:math:`h_1 = o_1 \tanh(i_1 j_1)` with :math:`o_1, i_1 \in (0, 1)`, :math:`j_1 \in (-1, 1)`,
so :math:`|h_1| < \tanh 1 \approx 0.7616`, a supremum no weights attain; a GRU's first
state is :math:`(1 - z_1)\tilde h_1`, which exceeds :math:`\tanh 1` as soon as its update
gate is biased shut and its candidate open (:math:`\sigma(\beta)\tanh\beta > \tanh 1` for
:math:`\beta > 1.58`). With peepholes the bound and the proof are unchanged (at step 1 the
peepholes read :math:`c_0 = 0` or only move :math:`o_1` inside (0, 1)); without the
output tanh, :math:`h_1 = o_1 i_1 j_1` reaches up to 1 and this argument proves nothing.
In float arithmetic the LSTM's gates can round to exactly 1, and :math:`|h_1| \le \tanh 1`
holds with equality possible; the GRU's margin is far larger than any rounding.

Then the closest gate mapping (:math:`f = z`, :math:`i = 1 - z`, :math:`o = 1`): it makes
the LSTM's cell follow the GRU's update, and the differences that remain are derived and
witnessed by a counterexample (:func:`gru_not_lstm`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import sympy as sp
import torch

from rnnreport.model.cells import GRUCell, LSTMCell

from .common import Latex, binary_image, blank_cell, get_gate, set_gate, sigmoid, tex, unroll
from .limits import TanhFixedPoint, tanh_fixed_point

# --------------------------------------------------------------------------------------
# No LSTM reaches the GRU's first step


@dataclass(frozen=True, eq=False)
class FirstStepBound:
    r"""From the zero state every LSTM's first output lies in
    :math:`(-\tanh 1, \tanh 1)`; a GRU's first state can lie above it, so no LSTM imitates
    that GRU, whatever its weights and hidden size.

    Proof (each step derived by SymPy below): :math:`h_1 = o_1 \tanh c_1` with
    :math:`c_1 = i_1 j_1`; the gates range over :math:`\sigma(\mathbb{R}) = (0, 1)` and
    the candidate over :math:`\tanh(\mathbb{R}) = (-1, 1)`, so :math:`|c_1| < 1`; tanh is
    odd and strictly increasing, so :math:`|h_1| = o_1 \tanh|c_1| < \tanh 1`. The proof
    uses only the ranges of the gates, not how they are computed, which is why peepholes
    change nothing. The supremum :math:`\tanh 1` is the limit at the corner
    :math:`o_1, i_1, j_1 \to 1`, never attained in exact arithmetic.

    Witnesses: a GRU (float64) with update bias :math:`-\beta` and candidate bias
    :math:`\beta`, whose first state on random binary inputs equals SymPy's
    :math:`\sigma(\beta)\tanh\beta`; random LSTMs over hidden sizes and weight scales, and
    gradient ascent on an LSTM's weights, none of which crosses :math:`\tanh 1`; the same
    ascent on a GRU, which does (the search can find a crossing where one exists).
    """

    # symbolic
    lstm_first: sp.Eq  # h_1 = o_1 tanh(i_1 j_1), from the cell's equations at h_0 = c_0 = 0
    gate_range: sp.Set  # sigma(R) = (0, 1)
    candidate_range: sp.Set  # tanh(R) = (-1, 1)
    cell_margin: sp.Expr  # 1 - i |j| with i = 1/(1 + s), |j| = 1/(1 + t), s, t > 0
    cell_margin_positive: bool
    tanh_slope: sp.Expr  # d tanh(y)/dy, written with exponentials
    tanh_slope_positive: bool
    tanh_odd: bool  # tanh(-y) = -tanh(y)
    bound: sp.Expr  # tanh(1)
    supremum: sp.Expr  # lim of o tanh(i j) at the corner o, i, j -> 1 (one-sided)
    peephole_first: sp.Eq  # h_1 with peepholes p_i, p_f on c_0 and p_o on c_1
    no_tanh_supremum: sp.Expr  # sup of o i j: 1, as large as the GRU's
    gru_first: sp.Eq  # h_1 = (1 - z_1) tanh(x U_h + b_h), from the cell's equations at h_0 = 0
    gru_supremum: sp.Expr  # lim_{beta -> oo} sigma(beta) tanh(beta) = 1
    beta: float
    gru_value: sp.Expr  # sigma(beta) tanh(beta), exact
    beta_threshold: float  # sigma(beta) tanh(beta) = tanh 1
    # witness, float64
    gru_h1: np.ndarray  # (B, H) the GRU cell's first state on random binary inputs
    search_sizes: tuple[int, ...]
    search_scales: tuple[float, ...]
    search_max: np.ndarray  # (sizes, scales) max |h_1| over random LSTMs and inputs
    search_cell_max: float  # max |c_1| over the same: below 1
    ascent_lstm: np.ndarray  # (steps,) best max |h_1| so far, gradient ascent on an LSTM
    ascent_gru: np.ndarray  # (steps,) the same ascent on a GRU

    def math(self) -> Latex:
        return Latex(
            rf"\text{{LSTM}},\ h_0 = c_0 = 0: \quad & {tex(self.lstm_first)}",
            rf"& o_1, i_1 \in {tex(self.gate_range)}, \quad j_1 \in {tex(self.candidate_range)}",
            r"i_1 = \tfrac{1}{1 + s},\ |j_1| = \tfrac{1}{1 + t}\ (s, t > 0): \quad & "
            rf"1 - |c_1| = {tex(self.cell_margin)} > 0",
            rf"& \tanh'(y) = {tex(self.tanh_slope)} > 0, \quad \tanh(-y) = -\tanh y",
            rf"\Rightarrow\ & |h_1| = o_1 \tanh|c_1| < {tex(self.bound)} \approx "
            rf"{float(self.bound):.4f}, \quad "
            rf"\lim_{{o_1, i_1, j_1 \to 1^-}} o_1 \tanh(i_1 j_1) = {tex(self.supremum)}",
            rf"\text{{GRU}},\ h_0 = 0: \quad & {tex(self.gru_first)}",
            rf"z_1 = \sigma(-\beta),\ \tilde h_1 = \tanh\beta: \quad & h_1 = "
            rf"\sigma(\beta)\tanh\beta \xrightarrow{{\beta \to \infty}} "
            rf"{tex(self.gru_supremum)}, \quad "
            rf"h_1 > \tanh 1 \iff \beta > {self.beta_threshold:.4f}",
        )

    def variants(self) -> Latex:
        """The two variants the assignment's LSTM is not: with peepholes, without the
        output tanh."""
        return Latex(
            rf"\text{{peepholes}}\ (p_i, p_f \text{{ on }} c_0,\ p_o \text{{ on }} c_1): "
            rf"\quad & {tex(self.peephole_first)}",
            r"\text{no output tanh}: \quad & h_1 = o_1 i_1 j_1, \quad "
            rf"\lim_{{o_1, i_1, j_1 \to 1^-}} o_1 i_1 j_1 = {tex(self.no_tanh_supremum)}",
        )

    def search_rows(self) -> list[dict[str, object]]:
        return [
            {
                "hidden size": H,
                "weight scale": scale,
                "max |h_1| over random LSTMs": float(self.search_max[k, n]),
                "bound tanh 1": float(self.bound),
            }
            for k, H in enumerate(self.search_sizes)
            for n, scale in enumerate(self.search_scales)
        ]


def _first_outputs(cell, xs: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """The cell's first output (and cell state, for the LSTM) from the zero state."""
    state, _ = cell(xs)
    return state if isinstance(state, tuple) else (state,)


def _ascend(cell, xs: torch.Tensor, steps: int, lr: float) -> np.ndarray:
    """Gradient ascent on ``cell``'s weights towards a large first output; the best
    max |h_1| after each step."""
    opt = torch.optim.Adam(cell.parameters(), lr=lr)
    best, out = 0.0, []
    for _ in range(steps):
        h1 = _first_outputs(cell, xs)[0]
        best = max(best, float(h1.detach().abs().max()))
        out.append(best)
        opt.zero_grad()
        (-h1.mean()).backward()
        opt.step()
    return np.asarray(out)


def first_step_bound(
    beta: float = 4.0,
    sizes: tuple[int, ...] = (1, 8, 64),
    scales: tuple[float, ...] = (1.0, 10.0, 100.0),
    trials: int = 10,
    ascent_steps: int = 100,
    seed: int = 0,
) -> FirstStepBound:
    """Prove that no LSTM imitates every GRU and witness it (see :class:`FirstStepBound`)."""
    x, u, u_h, b_h, z1 = sp.symbols("x_1 u u_h b_h z_1", real=True)
    a = {g: sp.Symbol(f"a_{g}", real=True) for g in "ijfoz"}  # input + bias pre-activations
    o, i, j, y, beta_s = sp.symbols("o_1 i_1 j_1 y beta", real=True)
    s, t = sp.symbols("s t", positive=True)
    h0, c0, h1, c1 = sp.symbols("h_0 c_0 h_1 c_1", real=True)
    w = {g: sp.Symbol(f"w_{g}", real=True) for g in "ijfozrh"}  # recurrent weights
    # the LSTM's equations (one unit suffices: the bound is per unit), then the zero state
    gate = {g: sigmoid(a[g] + h0 * w[g]) for g in "ifo"}
    cand = sp.tanh(a["j"] + h0 * w["j"])
    c_next = gate["f"] * c0 + gate["i"] * cand
    h_next = (gate["o"] * sp.tanh(c_next)).subs({h0: 0, c0: 0})
    named = {sigmoid(a["o"]): o, sigmoid(a["i"]): i, sp.tanh(a["j"]): j}
    lstm_first = h_next.subs(named)
    if sp.simplify(lstm_first - o * sp.tanh(i * j)) != 0:
        raise ArithmeticError(f"unexpected first LSTM output {lstm_first}")
    gate_range = sp.calculus.util.function_range(sigmoid(y), y, sp.S.Reals)
    candidate_range = sp.calculus.util.function_range(sp.tanh(y), y, sp.S.Reals)
    margin = sp.factor(sp.together(1 - 1 / (1 + s) / (1 + t)))
    slope = sp.simplify(sp.diff(sp.tanh(y), y).rewrite(sp.exp))
    odd = sp.simplify(sp.tanh(-y) + sp.tanh(y)) == 0
    # the corner limit, one variable at a time (each gate has its own bias, so they are
    # free in their ranges); SymPy 1.14's limit of sigma(a) tanh(sigma(a) tanh a) at
    # a -> oo returns 1, which is wrong, so the limit is not taken through one bias
    supremum = sp.limit(sp.limit(sp.limit(o * sp.tanh(i * j), o, 1, "-"), i, 1, "-"), j, 1, "-")
    p = {g: sp.Symbol(f"p_{g}", real=True) for g in "ifo"}
    peep_c1 = (sigmoid(a["f"] + p["f"] * c0) * c0 + sigmoid(a["i"] + p["i"] * c0) * cand).subs(
        {h0: 0, c0: 0}
    )
    peephole_first = sp.Eq(h1, sigmoid(a["o"] + p["o"] * c1) * sp.tanh(c1)).subs(c1, peep_c1)
    peephole_first = peephole_first.subs({sigmoid(a["i"]): i, sp.tanh(a["j"]): j})
    if sp.simplify(peephole_first.rhs - sigmoid(a["o"] + p["o"] * i * j) * sp.tanh(i * j)) != 0:
        raise ArithmeticError(f"unexpected first output with peepholes {peephole_first}")
    # shown with sigma named: o_1 is still a sigmoid, c_1 = i_1 j_1 is unchanged
    sigma = sp.Function("sigma")
    peephole_first = sp.Eq(h1, sigma(a["o"] + p["o"] * i * j) * sp.tanh(i * j))
    no_tanh = sp.limit(sp.limit(sp.limit(o * i * j, o, 1, "-"), i, 1, "-"), j, 1, "-")
    # the GRU's equations at h_0 = 0
    z = sigmoid(a["z"] + h0 * w["z"])
    r = sigmoid(u + h0 * w["r"])
    gru_next = z * h0 + (1 - z) * sp.tanh(x * u_h + r * h0 * w["h"] + b_h)
    gru_first = gru_next.subs(h0, 0).subs(sigmoid(a["z"]), z1)
    gru_value_expr = sigmoid(beta_s) * sp.tanh(beta_s)
    gru_sup = sp.limit(gru_value_expr, beta_s, sp.oo)
    threshold = float(sp.nsolve(gru_value_expr - sp.tanh(1), beta_s, 1.5))

    # witness: the GRU, on random binary rows
    D, H_gru = 28, 4
    xs = binary_image(64, D, seed)  # (B, D), float64
    gru = blank_cell("gru", D, H_gru, torch.float64)
    set_gate(gru, "z", b=-beta)
    set_gate(gru, "h_tilde", b=beta)
    with torch.no_grad():
        gru_h1 = _first_outputs(gru, xs)[0]

    # witness: random LSTMs of several sizes and weight scales, binary and Gaussian inputs
    g = torch.Generator().manual_seed(seed)
    inputs = torch.cat([xs, torch.randn(64, D, generator=g, dtype=torch.float64)])
    search = np.zeros((len(sizes), len(scales)))
    cell_max = 0.0
    for k, H in enumerate(sizes):
        for n, scale in enumerate(scales):
            for _ in range(trials):
                lstm = LSTMCell(D, H).to(torch.float64)
                with torch.no_grad():
                    for param in (lstm.U, lstm.W, lstm.b):
                        param.copy_(scale * torch.randn(param.shape, generator=g))
                    h, c = _first_outputs(lstm, scale * inputs)
                search[k, n] = max(search[k, n], float(h.abs().max()))
                cell_max = max(cell_max, float(c.abs().max()))

    # witness: gradient ascent on the weights, the LSTM's and (the control) a GRU's
    torch.manual_seed(seed)
    rows = xs[:16]  # a few inputs keep each step cheap; the bound is per input anyway
    ascent_lstm = _ascend(LSTMCell(D, 16).to(torch.float64), rows, ascent_steps, 0.1)
    ascent_gru = _ascend(GRUCell(D, 16).to(torch.float64), rows, ascent_steps, 0.1)

    return FirstStepBound(
        lstm_first=sp.Eq(h1, lstm_first),
        gate_range=gate_range,
        candidate_range=candidate_range,
        cell_margin=margin,
        cell_margin_positive=bool(margin.is_positive),
        tanh_slope=slope,
        tanh_slope_positive=bool(slope.is_positive),
        tanh_odd=odd,
        bound=sp.tanh(1),
        supremum=supremum,
        peephole_first=peephole_first,
        no_tanh_supremum=no_tanh,
        gru_first=sp.Eq(h1, gru_first),
        gru_supremum=gru_sup,
        beta=beta,
        gru_value=gru_value_expr.subs(beta_s, sp.Float(beta)),
        beta_threshold=threshold,
        gru_h1=gru_h1.numpy(),
        search_sizes=tuple(sizes),
        search_scales=tuple(scales),
        search_max=search,
        search_cell_max=cell_max,
        ascent_lstm=ascent_lstm,
        ascent_gru=ascent_gru,
    )


# --------------------------------------------------------------------------------------
# The closest mapping, and why it fails


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
    lstm = blank_cell("lstm", gru.input_size, gru.hidden_size, gru.U.dtype)
    z = get_gate(gru, "z")
    set_gate(lstm, "f", **z)
    set_gate(lstm, "i", **{k: -v for k, v in z.items()})
    set_gate(lstm, "j", **get_gate(gru, "h_tilde"))
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
    for g, key in (("z", "z"), ("r", "r"), ("h_tilde", "h")):
        set_gate(gru, g, U=w[f"u_{key}"], W=w[f"w_{key}"], b=w[f"b_{key}"])
    return gru


def gru_not_lstm(
    weights: dict[str, float] | None = None, inputs: tuple[float, ...] = COUNTEREXAMPLE_INPUT
) -> GruNotLstm:
    """Derive why the mapping fails; witness it with a counterexample (:class:`GruNotLstm`)."""
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
