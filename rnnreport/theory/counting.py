r"""The converse of Q1.3: an LSTM counts, a GRU cannot (Weiss, Goldberg, Yahav 2018).

Claim: an LSTM with :math:`f = i = j = 1` adds one to its cell per step, without bound; a
GRU's state stays in (-1, 1) when it starts there. Assumptions are stated with each
result (:class:`LstmCounts`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp
import torch

from .common import Latex, blank_cell, set_gate, sigmoid, tex, unroll


@dataclass(frozen=True, eq=False)
class LstmCounts:
    r"""An LSTM with :math:`f = i = 1, j = 1` counts: :math:`c_t = c_{t-1} + 1 = t`.
    A GRU's state stays in (-1, 1) when it starts there, by induction on
    :math:`h_t \mp 1 = z_t (h_{t-1} \mp 1) + (1 - z_t)(\tilde h_t \mp 1)`.

    Witness: f, i and j saturated by a bias (and input weight) of ``bias``; in float32 and
    float64 alike these round to exactly 1.0
    (:func:`~rnnreport.theory.limits.gate_limits`), so the cell's count is exact, while
    the exact-arithmetic cell falls short by ``lstm_shortfall_exact``.
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
        set_gate(gru, "h_tilde", U=bias)
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
