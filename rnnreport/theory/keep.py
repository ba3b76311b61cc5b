r"""Q1.2: can an LSTM (a GRU) keep its previous state and ignore the current input?

Claim: with :math:`f \to 1, i \to 0` (LSTM) or :math:`z \to 1` (GRU) the state is copied;
at a finite keep-gate bias it drifts, by an amount derived here in closed form, and the
bias that keeps the drift within :math:`\varepsilon` over T steps grows like
:math:`\ln(T/\varepsilon)`. The assumptions of each bound are stated with it
(:class:`KeepState`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import sympy as sp
import torch
from torch import Tensor

from .common import Cell, Latex, binary_image, blank_cell, set_gate, sigmoid, tex, unroll


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
    set_gate(gru, "h_tilde", U=U_cand, b=b_cand)
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
