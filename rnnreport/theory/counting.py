r"""The converse of Q1.3: under finite precision an LSTM counts, a GRU cannot
:cite:p:`weiss2018practical`.

Claim: an LSTM with :math:`f = i = j = 1` adds one to its cell per step, without bound; in
exact arithmetic a GRU's state stays in (-1, 1) when it starts there (:class:`LstmCounts`).
Gates reach 1 only in floats, so the first half is a statement about finite precision; in
exact arithmetic a finite-weight LSTM cell is bounded too, and a GRU's leaky count is
one-to-one in t. What float32 and float64 make of both, and that a float GRU state can
be exactly :math:`\pm 1`, is measured in :class:`FinitePrecision`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp
import torch

from .common import Latex, blank_cell, set_gate, sigmoid, tex, unroll


@dataclass(frozen=True, eq=False)
class LstmCounts:
    r"""An LSTM with :math:`f = i = 1, j = 1` counts: :math:`c_t = c_{t-1} + 1 = t`; gates
    equal to 1 exist only in floats (:class:`FinitePrecision`). In exact arithmetic a
    GRU's state stays in (-1, 1) when it starts there, by induction on
    :math:`h_t \mp 1 = z_t (h_{t-1} \mp 1) + (1 - z_t)(\tilde h_t \mp 1)`; in floats it
    can round to exactly :math:`\pm 1`.

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
            rf"\text{{GRU: }} & {tex(self.gru_upper.lhs)}",
            rf"& \quad = {tex(self.gru_upper.rhs)}",
            r"& |h_{t-1}| < 1,\ 0 < z_t < 1,\ "
            rf"1 - \tanh u = {tex(self.candidate_gap)} > 0",
            r"& \Rightarrow\ -1 < h_t < 1",
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


# --------------------------------------------------------------------------------------
# What the counting result owes to finite precision


@dataclass(frozen=True, eq=False)
class FinitePrecision:
    r""" "An LSTM counts, a GRU cannot" is a statement about finite precision
    (:cite:t:`weiss2018practical` assume it). In exact arithmetic both sides change:

    * a finite-weight LSTM cell is bounded too: on bounded inputs its forget gate stays
      below some :math:`\sigma(A) < 1`, and :math:`|c_t| \le b_t` with
      :math:`b_t = \sigma(A)\,b_{t-1} + 1`, :math:`b_0 = 0`, so
      :math:`|c_t| < 1 / (1 - \sigma(A)) = 1 + e^{A}`;
    * a GRU's leaky count :math:`h_t = \tilde h (1 - z^t)` rises by
      :math:`\tilde h (1 - z) z^t > 0` at every step: it is one-to-one in t, so the state
      does encode the count.

    In floats the GRU's state stops changing once its step :math:`(1 - z) z^{t-1}`
    (candidate 1) is below half an ulp of the floats just below 1, :math:`2^{-(p+1)}` for p
    significand bits (24 in float32, 53 in float64): about at
    :math:`t^* = 1 + \ln(2^{-(p+1)} / (1 - z)) / \ln z`. From then on it cannot tell t
    from t + 1. The estimate ignores the rounding of the step's own terms; the measured
    steps come within about 1 % of it, at or before it. The LSTM's float count stops too,
    at :math:`2^p`, where adding 1 rounds away. And a GRU's state can round to exactly
    :math:`\pm 1`: in float32 its range is :math:`[-1, 1]`, not :math:`(-1, 1)`.

    Witnesses: GRU cells with update gates :math:`\sigma(b)` for ``update_biases`` and
    candidate :math:`\tanh 50` (exactly 1.0 in both formats) fed ones in float32 and
    float64, the step at which each state stops changing; a float32 GRU whose first state
    is exactly :math:`\pm 1`; LSTM cells started just below :math:`2^{24}` (float32) and
    :math:`2^{53}` (float64) that count on and stop.
    """

    lstm_bound: sp.Eq  # b_t = (1 - F^t) / (1 - F) for b_t = F b_{t-1} + 1, b_0 = 0
    lstm_bound_limit: sp.Expr  # 1 / (1 - sigma(A)) = 1 + e^A
    gru_step_gain: sp.Expr  # h_{t+1} - h_t for h_t = h~ (1 - z^t)
    gru_gain_positive: bool
    stop_estimate: sp.Expr  # 1 + ln(2^-(p+1) / (1 - z)) / ln z: step below half an ulp
    update_biases: tuple[float, ...]
    dtypes: tuple[str, ...]
    stop_step: np.ndarray  # (dtypes, K) first t with h_t == h_{t-1}; -1 if none
    stop_predicted: np.ndarray  # (dtypes, K) the estimate
    final_gap: np.ndarray  # (dtypes, K) 1 - h at the stop
    horizon: int
    exact_one_float32: np.ndarray  # (2,) the float32 GRU's first state: exactly +1, -1
    exact_one_float64: np.ndarray  # (2,) the same weights in float64: inside (-1, 1)
    lstm_stop: dict[str, tuple[float, np.ndarray]]  # dtype -> (c_0, c_1..c_n)

    def math(self) -> Latex:
        return Latex(
            r"f_t \le \sigma(A) < 1: \quad & |c_t| \le b_t, \quad "
            rf"{tex(self.lstm_bound)} < {tex(self.lstm_bound_limit)}",
            r"h_t = \tilde h (1 - z^t): \quad & h_{t+1} - h_t = "
            rf"{tex(self.gru_step_gain)} > 0",
            rf"\text{{float, p bits: }} & t^* \approx {tex(self.stop_estimate)}",
        )

    def rows(self) -> list[dict[str, object]]:
        return [
            {
                "dtype": dtype,
                "z": f"σ({b:g})",
                "GRU state stops changing at step": int(self.stop_step[d, k]),
                "estimate t*": float(self.stop_predicted[d, k]),
                "1 − h there": float(self.final_gap[d, k]),
            }
            for d, dtype in enumerate(self.dtypes)
            for k, b in enumerate(self.update_biases)
        ]


def finite_precision(
    update_biases: tuple[float, ...] = (2.0, 4.0, 6.0), horizon: int = 16000
) -> FinitePrecision:
    """Derive what exact arithmetic says and measure what floats do
    (see :class:`FinitePrecision`)."""
    t = sp.Symbol("t", integer=True, nonnegative=True)
    F, zs, hc = sp.symbols("F z \\tilde{h}", positive=True)
    A = sp.Symbol("A", real=True)
    p = sp.Symbol("p", positive=True)
    bf = sp.Function("b")
    bound = sp.simplify(sp.rsolve(bf(t + 1) - F * bf(t) - 1, bf(t), {bf(0): 0}))
    limit = sp.simplify(1 / (1 - sigmoid(A)))
    closed = hc * (1 - zs**t)
    gain = sp.factor(sp.expand(closed.subs(t, t + 1) - closed))
    q = sp.Symbol("q", positive=True)  # z = 1 / (1 + q) = sigma(-ln q): z in (0, 1)
    gain_positive = bool(sp.simplify(gain.subs(zs, 1 / (1 + q))).is_positive)
    estimate = 1 + sp.log(2 ** -(p + 1) / (1 - zs)) / sp.log(zs)  # step < half an ulp

    # the GRU's leaky count in both formats: one unit per update bias, fed ones
    dtypes = (torch.float32, torch.float64)
    stop = np.full((2, len(update_biases)), -1)
    predicted = np.zeros((2, len(update_biases)))
    gap = np.zeros((2, len(update_biases)))
    for d, dtype in enumerate(dtypes):
        gru = blank_cell("gru", 1, len(update_biases), dtype)
        set_gate(gru, "z", b=torch.tensor(update_biases))
        set_gate(gru, "h_tilde", U=50.0)
        states, gates = unroll(gru, torch.ones(horizon, 1, 1, dtype=dtype))
        h = torch.stack(states)[:, 0].double().numpy()  # (T, K)
        bits = -round(np.log2(torch.finfo(dtype).eps)) + 1
        for k in range(len(update_biases)):
            same = np.nonzero(h[1:, k] == h[:-1, k])[0]
            if len(same):
                stop[d, k] = same[0] + 2  # steps count from 1; h[s + 1] == h[s]
                gap[d, k] = 1 - h[same[0], k]
            z = float(gates["z"][0, 0, k])
            predicted[d, k] = float(estimate.subs({p: bits, zs: z}))

    # exactly +-1 in float32: z = sigma(-20), candidate tanh(+-10)
    def first_state(dtype: torch.dtype) -> np.ndarray:
        gru = blank_cell("gru", 1, 2, dtype)
        set_gate(gru, "z", b=-20.0)
        set_gate(gru, "h_tilde", b=torch.tensor([10.0, -10.0]))
        states, _ = unroll(gru, torch.ones(1, 1, 1, dtype=dtype))
        return states[0][0].double().numpy()

    # the LSTM's float count: from just below 2^p, adding 1 per step until it rounds away
    lstm_stop = {}
    for dtype, bits in ((torch.float32, 24), (torch.float64, 53)):
        lstm = blank_cell("lstm", 1, 1, dtype)
        set_gate(lstm, "f", b=50.0)
        set_gate(lstm, "i", b=50.0)
        set_gate(lstm, "j", U=50.0)
        c0 = float(2**bits - 3)
        start = torch.full((1, 1), c0, dtype=dtype)
        states, _ = unroll(lstm, torch.ones(6, 1, 1, dtype=dtype), (torch.zeros_like(start), start))
        counts = torch.stack([c for _, c in states]).flatten().double().numpy()
        lstm_stop[str(dtype).removeprefix("torch.")] = (c0, counts)

    return FinitePrecision(
        lstm_bound=sp.Eq(bf(t), bound),
        lstm_bound_limit=limit,
        gru_step_gain=gain,
        gru_gain_positive=gain_positive,
        stop_estimate=estimate,
        update_biases=tuple(update_biases),
        dtypes=tuple(str(dt).removeprefix("torch.") for dt in dtypes),
        stop_step=stop,
        stop_predicted=predicted,
        final_gap=gap,
        horizon=horizon,
        exact_one_float32=first_state(torch.float32),
        exact_one_float64=first_state(torch.float64),
        lstm_stop=lstm_stop,
    )
