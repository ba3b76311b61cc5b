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
so :math:`|h_1| < \tanh 1`, a supremum no weights attain; a GRU's first state is
:math:`(1 - z_1)\tilde h_1`, which exceeds :math:`\tanh 1` as soon as its update gate is
biased shut and its candidate open (:math:`\sigma(\beta)\tanh\beta > \tanh 1` for
:math:`\beta` past the root SymPy finds, ``FirstStepBound.beta_threshold``). With
peepholes the bound and the proof are unchanged (at step 1 the peepholes read
:math:`c_0 = 0` or only move :math:`o_1` inside (0, 1)); without the output tanh,
:math:`h_1 = o_1 i_1 j_1` reaches up to 1 and this argument proves nothing.
In float arithmetic the LSTM's gates can round to exactly 1, and then :math:`h_1` is the
float nearest :math:`\tanh 1`: the bound holds as :math:`|h_1| \le \mathrm{fl}(\tanh 1)`,
with equality possible; the GRU's margin is far larger than any rounding.

This proves report A's reason (the squashed output), for every LSTM. Report B's reason,
the reset gate, is not proved to block every LSTM: the mapping below fails on it, but
other LSTM weights, a comparison through the cell :math:`c_t`, or a start from
:math:`c_0 \ne 0` are not ruled out. Report B's own counterexample (update gate 0,
candidate input weight and bias 0) stays at 0 from :math:`h_0 = 0`, as an LSTM with all
weights zero does, so under the definition above that LSTM matches it.

Then the closest gate mapping (:math:`f = z`, :math:`i = 1 - z`, :math:`o = 1`): it makes
the LSTM's cell follow the GRU's update form, and leaves three differences: the reset
gate, the recurrent input (the LSTM's gates and candidate read its output
:math:`\tanh c_{t-1}`, the GRU's read its state), and the output tanh. Each is derived and
witnessed alone, and together in a counterexample (:func:`gru_not_lstm`).

One question, Q1.3, kept in one module past the usual size: each difference's derivation
and witness read against the others.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp
import torch

from rnnreport.inspection.tables import Findings
from rnnreport.model.cells import GRUCell, LSTMCell

from .common import (
    Latex,
    binary_image,
    blank_cell,
    get_gate,
    set_gate,
    sigmoid,
    tex,
    tex_terms,
    unroll,
)
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
    ascent on a GRU, which does (so the ascent can cross the bound on a cell that allows
    it; that it does not on the LSTM is evidence beside the proof, not the proof).
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

    @property
    def gru_h1_range(self) -> tuple[float, float]:
        """The witness GRU's first state, smallest and largest over inputs and units."""
        return float(self.gru_h1.min()), float(self.gru_h1.max())

    def math(self) -> Latex:
        return Latex(
            rf"\text{{LSTM}},\ h_0 = c_0 = 0: \quad & {tex(self.lstm_first)}",
            rf"& o_1, i_1 \in {tex(self.gate_range)}, \quad j_1 \in {tex(self.candidate_range)}",
            r"& i_1 = \tfrac{1}{1 + s},\ |j_1| = \tfrac{1}{1 + t}\ (s, t > 0):",
            rf"& \quad 1 - |c_1| = {tex(self.cell_margin)} > 0",
            rf"& \tanh'(y) = {tex(self.tanh_slope)} > 0,",
            r"& \tanh(-y) = -\tanh y",
            rf"\Rightarrow\ & |h_1| = o_1 \tanh|c_1| < {tex(self.bound)} \approx "
            rf"{float(self.bound):.4f}",
            rf"& \lim_{{o_1, i_1, j_1 \to 1^-}} o_1 \tanh(i_1 j_1) = {tex(self.supremum)}",
            rf"\text{{GRU}},\ h_0 = 0: \quad & {tex(self.gru_first)}",
            rf"z_1 = \sigma(-\beta),\ \tilde h_1 = \tanh\beta: \quad & h_1 = "
            rf"\sigma(\beta)\tanh\beta \xrightarrow{{\beta \to \infty}} "
            rf"{tex(self.gru_supremum)}",
            rf"& h_1 > \tanh 1 \iff \beta > {self.beta_threshold:.4f}",
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

    def search_findings(self) -> Findings:
        r"""What the random search and the two ascents reached, against :math:`\tanh 1`, in
        sentences made from this run's numbers. A float64 tanh may round up: a value one
        float above the float nearest :math:`\tanh 1` is not called a crossing."""
        bound = float(self.bound)  # the float nearest tanh 1
        above = float(np.nextafter(bound, 2.0))  # what a crossing must pass
        top = float(self.search_max.max())
        at = [
            f"{H} unit{'s' * (H != 1)} at scale {scale:g}"
            for k, H in enumerate(self.search_sizes)
            for n, scale in enumerate(self.search_scales)
            if self.search_max[k, n] == bound
        ]
        search = f"The largest first output over the random LSTMs is {top:.15f}, " + (
            "above the float nearest tanh 1: the bound is broken."
            if top > bound
            else f"at most the float nearest tanh 1, {bound:.15f}."
        )
        if at:
            search += (
                f" It equals that float for {len(at)} of {self.search_max.size} settings "
                f"({', '.join(at)}), as happens when the gates round to 1.0 in float64."
            )
        else:
            search += " No setting reaches it."
        lstm, gru = float(self.ascent_lstm[-1]), float(self.ascent_gru[-1])
        crossed = np.flatnonzero(self.ascent_gru > above)
        control = (
            f"passes it at step {crossed[0] + 1} and ends at {gru:.6f}"
            if crossed.size
            else f"ends at {gru:.6f} without passing it either: this run's control failed"
        )
        ascent = (
            f"After {len(self.ascent_lstm)} steps of gradient ascent the LSTM's best first "
            f"output is {lstm:.6f} ({'above' if lstm > above else 'not above'} tanh 1 = "
            f"{bound:.6f}); the same ascent on the GRU {control}."
        )
        return Findings("The search, from this run's numbers", (search, ascent))

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
    :func:`~rnnreport.theory.limits.gate_limits`). The reset gate has no counterpart and is
    dropped. Three differences remain (:class:`GruNotLstm`): the reset gate; the recurrent
    input (the LSTM's gates and candidate read :math:`\tanh c_{t-1}`, the GRU's read
    :math:`h_{t-1}`); and the tanh on the LSTM's output.
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


DIFFERENCES = ("reset gate", "recurrent input", "output tanh")
"""The three differences the mapping leaves, in the order of ``GruNotLstm.differences``."""


@dataclass(frozen=True, eq=False)
class GruNotLstm:
    r"""The closest mapping, :math:`f = z, i = 1 - z, o = 1`, and the three differences it
    leaves. Write :math:`Z(v) = \sigma(x u_z + v w_z + b_z)` and
    :math:`H(v) = \tanh(x u_h + v w_h + b_h)` for the GRU's update gate and candidate as
    functions of what they read. From the same state :math:`s` (the GRU's :math:`h_{t-1}`,
    the LSTM's :math:`c_{t-1}`), the GRU steps to :math:`Z(s)\,s + (1 - Z(s))\,H(r s)` and
    the mapped LSTM's cell to :math:`Z(\tanh s)\,s + (1 - Z(\tanh s))\,H(\tanh s)`, then
    emits :math:`\tanh c_t`. The gap between the GRU's state and the LSTM's output is the
    sum of three terms, each zero exactly when one difference is removed:

    1. the reset gate: the GRU's candidate reads :math:`r_t \odot h_{t-1}`, with
       :math:`r_t` computed from the current input; the LSTM has no such gate (zero at
       :math:`r = 1`);
    2. the recurrent input: the LSTM's forget and input gates and its candidate read its
       output :math:`o_{t-1} \tanh c_{t-1} = \tanh c_{t-1}`, where the GRU's update gate
       and candidate read the state :math:`h_{t-1}` itself (zero when
       :math:`w_z = w_h = 0`, or at :math:`s = 0`, so the two agree at the first step);
    3. the output tanh: the LSTM emits :math:`\tanh c_t`, equal to :math:`c_t` only at
       :math:`c_t = 0`.

    Witnesses (float64, one unit, :data:`COUNTEREXAMPLE_INPUT`): the GRU
    :data:`COUNTEREXAMPLE` and its mapped LSTM, beside the recurrences SymPy derived
    (evaluated in Python floats, not through the cells); and one variant per difference
    that switches the other two off, so that each is seen alone.
    """

    gru_step: sp.Eq  # h_t = Z(s) s + (1 - Z(s)) H(r s)
    lstm_step: sp.Eq  # the mapped LSTM's cell update
    lstm_output: sp.Eq  # its output tanh(c_t)
    differences: tuple[sp.Expr, ...]  # the three terms, in DIFFERENCES' order
    step_difference: sp.Eq  # GRU state - LSTM output = the sum of the three
    fixed_point: TanhFixedPoint
    weights: dict[str, float]
    inputs: np.ndarray  # (T,)
    gru_h: np.ndarray  # (T,) from GRUCell
    gru_h_formula: np.ndarray  # SymPy's GRU step, iterated in Python floats
    lstm_h: np.ndarray  # (T,) from the mapped LSTMCell: tanh(c_t)
    lstm_c: np.ndarray
    lstm_c_formula: np.ndarray  # SymPy's mapped-LSTM step, iterated in Python floats
    gru_no_reset_h: np.ndarray  # the GRU with r = 1
    isolated: tuple[dict[str, object], ...]  # one variant per difference, see isolate()

    def math(self) -> Latex:
        names = ("reset", "input", "output")
        # long sums go on two lines, so that the system fits a desktop column whole
        first, rest = tex_terms(self.lstm_step.rhs, 2)
        deltas = []
        for n, d in zip(names, self.differences, strict=True):
            head, *tail = tex_terms(d, 2) if len(sp.Add.make_args(d)) > 2 else [tex(d)]
            deltas.append(rf"\Delta_{{\text{{{n}}}}} &= {head}")
            deltas += [rf"& \qquad {t}" for t in tail]
        return Latex(
            rf"\text{{GRU: }} & {tex(self.gru_step)}",
            rf"\text{{LSTM, }} f = z,\ i = 1 - z,\ o = 1: & {tex(self.lstm_step.lhs)} = {first}",
            rf"& \qquad {rest},",
            rf"& {tex(self.lstm_output)}",
            rf"\text{{same state }} s: & {tex(self.step_difference)}",
            *deltas,
            rf"\Delta_{{\text{{output}}}} = 0 \iff & c_t = \tanh c_t \iff "
            rf"c_t \in {tex(self.fixed_point.solutions)}",
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

    def isolation_rows(self) -> list[dict[str, object]]:
        return [dict(row) for row in self.isolated]


def _one_unit_gru(w: dict[str, float]) -> GRUCell:
    gru = blank_cell("gru", 1, 1, torch.float64)
    for g, key in (("z", "z"), ("r", "r"), ("h_tilde", "h")):
        set_gate(gru, g, U=w[f"u_{key}"], W=w[f"w_{key}"], b=w[f"b_{key}"])
    return gru


def _iterate(step, xs) -> np.ndarray:
    """``s_t = step(x_t, s_{t-1})`` from ``s_0 = 0``, in Python floats."""
    state, out = 0.0, []
    for x in xs:
        state = float(step(float(x), state))
        out.append(state)
    return np.asarray(out)


_OPEN = {"u_r": 0.0, "w_r": 0.0, "b_r": 50.0}  # r = sigma(50), exactly 1.0 in float64


def gru_not_lstm(
    weights: dict[str, float] | None = None, inputs: tuple[float, ...] = COUNTEREXAMPLE_INPUT
) -> GruNotLstm:
    """Derive the mapping's three differences; witness them (see :class:`GruNotLstm`)."""
    w = dict(COUNTEREXAMPLE if weights is None else weights)
    x, s, r, v = sp.symbols("x_t s r_t v", real=True)
    h, c = sp.symbols("h_{t-1} c_{t-1}", real=True)
    h_t, c_t, hl_t = sp.symbols("h_t c_t h^{LSTM}_t", real=True)
    sym = {k: sp.Symbol(k, real=True) for k in COUNTEREXAMPLE}
    Z, H = sp.Function("Z"), sp.Function("H")

    def gru(state, reset):
        return Z(state) * state + (1 - Z(state)) * H(reset * state)

    def lstm_cell(state):
        return Z(sp.tanh(state)) * state + (1 - Z(sp.tanh(state))) * H(sp.tanh(state))

    c_new = sp.Symbol("c_t", real=True)  # the LSTM's new cell, lstm_cell(s)
    d_reset = (1 - Z(s)) * (H(r * s) - H(s))
    d_input = (Z(s) - Z(sp.tanh(s))) * s + (1 - Z(s)) * H(s) - (1 - Z(sp.tanh(s))) * H(sp.tanh(s))
    d_output = c_new - sp.tanh(c_new)
    total = gru(s, r) - sp.tanh(lstm_cell(s))
    if sp.expand(gru(s, r) - gru(s, 1) - d_reset) != 0:
        raise ArithmeticError("the reset term is not the GRU's change with r")
    if sp.expand(gru(s, 1) - lstm_cell(s) - d_input) != 0:
        raise ArithmeticError("the recurrent-input term is not the two updates' gap")
    parts = d_reset + d_input + d_output.subs(c_new, lstm_cell(s))
    if sp.simplify(total - parts) != 0:
        raise ArithmeticError("the three differences do not add up to the gap")
    # what Z and H are, to check when each term vanishes
    gates = {
        Z: sp.Lambda(v, sigmoid(x * sym["u_z"] + v * sym["w_z"] + sym["b_z"])),
        H: sp.Lambda(v, sp.tanh(x * sym["u_h"] + v * sym["w_h"] + sym["b_h"])),
    }
    if d_reset.subs(r, 1) != 0:
        raise ArithmeticError(f"the reset term {d_reset} does not vanish at r = 1")
    no_recurrence = {sym["w_z"]: 0, sym["w_h"]: 0}
    if sp.simplify(d_input.replace(Z, gates[Z]).replace(H, gates[H]).subs(no_recurrence)) != 0:
        raise ArithmeticError("the recurrent-input term does not vanish without recurrence")
    if d_input.subs(s, 0) != 0:
        raise ArithmeticError("the recurrent-input term does not vanish at s = 0")

    # the recurrences, from SymPy to Python floats: the path the cells are checked against
    r_of = sigmoid(x * sym["u_r"] + s * sym["w_r"] + sym["b_r"])

    def steps(wv: dict[str, float]):
        concrete = {Z: gates[Z].subs(sym_values(wv)), H: gates[H].subs(sym_values(wv))}
        gru_expr = gru(s, r_of.subs(sym_values(wv))).replace(Z, concrete[Z])
        gru_expr = gru_expr.replace(H, concrete[H])
        lstm_expr = lstm_cell(s).replace(Z, concrete[Z]).replace(H, concrete[H])
        return sp.lambdify((x, s), gru_expr, "math"), sp.lambdify((x, s), lstm_expr, "math")

    def sym_values(wv: dict[str, float]) -> dict[sp.Symbol, float]:
        return {sym[k]: val for k, val in wv.items()}

    xs = torch.tensor(inputs, dtype=torch.float64)[:, None, None]  # (T, 1, 1)
    flat = lambda ts: torch.stack(ts).flatten().numpy()  # noqa: E731

    def run(wv: dict[str, float]) -> dict[str, np.ndarray]:
        gru_cell = _one_unit_gru(wv)
        gru_states, _ = unroll(gru_cell, xs)
        lstm_states, _ = unroll(lstm_from_gru(gru_cell), xs)
        gru_step, lstm_step = steps(wv)
        return {
            "gru_h": flat(gru_states),
            "lstm_h": flat([hh for hh, _ in lstm_states]),
            "lstm_c": flat([cc for _, cc in lstm_states]),
            "gru_h_formula": _iterate(gru_step, inputs),
            "lstm_c_formula": _iterate(lstm_step, inputs),
        }

    main = run(w)
    no_reset = run(w | _OPEN)
    isolated = []
    variants = (
        ("reset gate", w, w | _OPEN),  # two GRUs, one mapped LSTM
        ("recurrent input", w | _OPEN | {"w_z": 2.0, "w_h": 0.0, "u_h": 3.0, "b_h": -1.5}, None),
        ("output tanh", w | _OPEN | {"w_z": 0.0, "w_h": 0.0}, None),
    )
    for name, wv, other in variants:
        got = run(wv)
        row: dict[str, object] = {"difference": name, "w_z": wv["w_z"], "w_h": wv["w_h"]}
        row["u_h, b_h"] = f"{wv['u_h']:g}, {wv['b_h']:g}"
        row["reset"] = "held at 1" if wv["b_r"] == _OPEN["b_r"] else "free"
        row["max |GRU h − LSTM c|"] = float(np.abs(got["gru_h"] - got["lstm_c"]).max())
        row["max |GRU h − LSTM h|"] = float(np.abs(got["gru_h"] - got["lstm_h"]).max())
        row["max |GRU h − GRU h (r = 1)|"], row["same mapped LSTM"] = "—", "—"
        if other is not None:  # the reset: the mapping forgets it, so two GRUs, one LSTM
            alt = run(other)
            row["max |GRU h − GRU h (r = 1)|"] = float(np.abs(got["gru_h"] - alt["gru_h"]).max())
            row["same mapped LSTM"] = bool(np.array_equal(got["lstm_h"], alt["lstm_h"]))
        isolated.append(row)

    return GruNotLstm(
        gru_step=sp.Eq(h_t, gru(h, r)),
        lstm_step=sp.Eq(c_t, lstm_cell(c)),
        lstm_output=sp.Eq(hl_t, sp.tanh(c_t)),
        differences=(d_reset, d_input, d_output),
        step_difference=sp.Eq(
            sp.Symbol("h_t - h^{LSTM}_t"),
            sp.Symbol(r"\Delta_{\text{reset}}")
            + sp.Symbol(r"\Delta_{\text{input}}")
            + sp.Symbol(r"\Delta_{\text{output}}"),
            evaluate=False,
        ),
        fixed_point=tanh_fixed_point(),
        weights=w,
        inputs=np.asarray(inputs, dtype=float),
        gru_h=main["gru_h"],
        gru_h_formula=main["gru_h_formula"],
        lstm_h=main["lstm_h"],
        lstm_c=main["lstm_c"],
        lstm_c_formula=main["lstm_c_formula"],
        gru_no_reset_h=no_reset["gru_h"],
        isolated=tuple(isolated),
    )
