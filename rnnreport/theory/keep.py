r"""Q1.2: can an LSTM (a GRU) keep its previous state and ignore the current input?

Claim: with :math:`f \to 1, i \to 0` (LSTM) or :math:`z \to 1` (GRU) the state is copied;
at a finite keep-gate bias it drifts, by an amount derived here in closed form for any
starting state and, for the LSTM, input and forget gates that move freely. With the keep
gate at least :math:`\varphi` and (LSTM) the input gate at most :math:`\iota`:

* GRU, and LSTM with coupled gates :math:`i_t = 1 - f_t`:
  :math:`|s_T - s_0| \le (1 - \varphi^T)\,\max_t|\tilde s_t - s_0|
  < (1 - \varphi^T)(1 + |s_0|)`, which is below :math:`2(1 - \varphi^T)` only when the
  state starts inside (-1, 1);
* LSTM, gates free: :math:`|c_T - c_0| \le (1 - \varphi^T)|c_0| + \iota T`; the second
  term is the LSTM's count (:mod:`~rnnreport.theory.counting`): its cell is unbounded.

The bias that keeps the drift within :math:`\varepsilon` over T steps grows like
:math:`\ln(T(1 + |c_0|)/\varepsilon)` (:class:`KeepState`).
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

    LSTM, any gates, any :math:`c_0`: unrolling :math:`c_t = f_t c_{t-1} + i_t j_t` gives
    :math:`c_T - c_0 = -(1 - F_0)\,c_0 + \sum_{t=1}^{T} F_t\, i_t j_t` with
    :math:`F_t = \prod_{u > t} f_u` (checked by SymPy as an induction step). With
    :math:`f_t \ge \varphi`, :math:`i_t \le \iota`, :math:`|j_t| < 1` and
    :math:`F_t \le 1`: :math:`|c_T - c_0| \le (1 - \varphi^T)|c_0| + \iota T`.

    Coupled gates (the GRU: :math:`h_t = z_t h_{t-1} + (1 - z_t)\tilde h_t`; the LSTM with
    :math:`i_t = 1 - f_t`): the same unrolling gives
    :math:`s_T - s_0 = \sum_t F_t (1 - f_t)(\tilde s_t - s_0)`, whose weights are
    non-negative and sum to :math:`1 - F_0 \le 1 - \varphi^T` (telescoping, checked by
    SymPy), so :math:`|s_T - s_0| \le (1 - \varphi^T)\,\Delta` with
    :math:`\Delta = \max_t|\tilde s_t - s_0| < 1 + |s_0|`. Equality holds for a constant
    keep gate and candidate. :math:`\Delta < 2` needs :math:`|s_0| < 1`: true for a GRU
    started in (-1, 1) (it stays there), not for an LSTM cell, which can be anywhere.
    """

    # symbolic
    recurrence_solution: sp.Eq  # c_T for constant f, i, j (SymPy's rsolve)
    general_step: bool  # the unrolled LSTM drift passes the induction step
    coupled_step: bool  # the coupled weights telescope: sum_t F_t (1 - f_t) = 1 - F_0
    general_drift: sp.Expr  # (1 - phi^T) |c_0| + iota T, any c_0, gates free
    delta_bound: sp.Expr  # 1 + |c_0|: the largest Delta from a start c_0
    general_bias_asymptote: sp.Expr  # lim e^beta [(1 - s^T)|c_0| + T sigma(-beta)] = T(1 + |c_0|)
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
    drift_bound: np.ndarray  # (1 - sigma(beta)^T) (1 + |h_0|)
    # witness 2 (float64): the bias bound for T = 28, worst-case start
    epsilons: tuple[float, ...]
    bias_needed: tuple[float, ...]  # beta*(28, eps, 2)
    worst_drift_at_bias: tuple[float, ...]  # GRU drift at beta*, h_0 = -tanh 10, h~ = tanh 10
    # witness 3 (float64): starts across (-1000, 1000), gates moved by the input
    starts: tuple[float, ...]
    start_beta: float
    start_horizon: int
    start_gru_drift: np.ndarray  # (len(starts),) |h_T - h_0| from the cell
    start_gru_formula: np.ndarray  # the coupled sum on the cell's gates
    start_gru_bound: np.ndarray  # (1 - s^T) (1 + |h_0|), s = min_t z_t
    start_lstm_drift: np.ndarray  # |c_T - c_0|, input and forget gates free
    start_lstm_formula: np.ndarray  # the general sum on the cell's gates
    start_lstm_bound: np.ndarray  # (1 - phi^T) |c_0| + iota T, phi = min f, iota = max i
    start_old_bound: np.ndarray  # (1 - s^T) 2: what the drift was said to stay under
    # witness 4 (float64): the LSTM caveat, c kept but h follows o_t
    caveat_c_change: float  # max_t |c_t - c_0|
    caveat_h_range: float  # max_t h_t - min_t h_t
    caveat_h_formula_error: float  # max |h_t - o_t tanh(c_t)|

    def math(self) -> Latex:
        sy = self.symbols
        return Latex(
            rf"c_{{t+1}} = f c_t + i j \ \Rightarrow\ & {tex(self.recurrence_solution)}",
            r"\text{LSTM, any } c_0,\ f_t \ge \varphi,\ i_t \le \iota:\ & "
            rf"|c_T - c_0| \le {tex(self.general_drift)}",
            r"\text{coupled } (z_t \text{ or } i_t = 1 - f_t) \ge \varphi:\ & "
            r"|s_T - s_0| \le (1 - \varphi^T)\,\Delta,",
            rf"& \Delta = \max_t |\tilde s_t - s_0| < {tex(self.delta_bound)}",
            rf"\text{{constant }} f = \sigma(\beta),\ i = 1 - f:\ & |h_T - h_0| \le "
            rf"{tex(self.drift)}",
            rf"{tex(self.drift)} = {tex(sy['epsilon'])} \ \Rightarrow\ & "
            rf"\beta^* = {tex(self.bias_bound)}",
            rf"\sigma(\beta^*) = s^* = {tex(self.keep_gate_needed)},\ & "
            rf"\lim_{{\varepsilon \to 0}} \frac{{T\Delta\,(1 - s^*)}}{{\varepsilon}} = "
            rf"{tex(self.bias_bound_asymptote)} \ \Rightarrow\ "
            r"\beta^* = \ln\frac{T\Delta}{\varepsilon} + o(1)",
            r"f = \sigma(\beta),\ i = \sigma(-\beta):\ & \lim_{\beta\to\infty} e^{\beta}"
            r"\left[(1 - \sigma(\beta)^T)|c_0| + T\sigma(-\beta)\right]",
            rf"& \quad = {tex(self.general_bias_asymptote)}",
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

    def drift_rows(self, most: int | None = None) -> list[dict[str, object]]:
        """The drift table's rows, horizon by horizon; ``most``: about that many, evenly
        spaced."""
        rows = self._drift_rows()
        return rows if most is None else rows[:: max(1, len(rows) // most)]

    def _drift_rows(self) -> list[dict[str, object]]:
        return [
            {
                "T": T,
                "β": float(beta),
                "GRU drift": float(self.gru_drift[k, n]),
                "LSTM drift": float(self.lstm_drift[k, n]),
                "formula (GRU)": float(self.gru_drift_formula[k, n]),
                "bound (1 − σ(β)^T)(1 + |h_0|)": float(self.drift_bound[k, n]),
            }
            for k, T in enumerate(self.horizons)
            for n, beta in enumerate(self.betas)
        ]

    def start_rows(self) -> list[dict[str, object]]:
        T = self.start_horizon
        return [
            {
                "start h_0 = c_0": c0,
                "GRU drift": float(self.start_gru_drift[n]),
                "GRU bound (1 − s^T)(1 + |h_0|)": float(self.start_gru_bound[n]),
                "LSTM drift (gates free)": float(self.start_lstm_drift[n]),
                "LSTM bound (1 − φ^T)|c_0| + ιT": float(self.start_lstm_bound[n]),
                f"old bound (1 − s^T)·2 (T = {T})": float(self.start_old_bound[n]),
            }
            for n, c0 in enumerate(self.starts)
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
    starts: tuple[float, ...] = (-1000.0, -10.0, -2.0, -0.9, 0.0, 0.9, 2.0, 10.0, 1000.0),
    start_beta: float = 4.0,
    start_horizon: int = 28,
    seed: int = 0,
) -> KeepState:
    """Derive Q1.2 and witness it (see :class:`KeepState`). ``start`` is h_0 = c_0 for the
    drift against bias; ``starts`` are the starting states of the witness across starts,
    run at keep bias ``start_beta`` with gates the input moves."""
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

    # any gates, any start: induction steps for the unrolled drift, with F = prod_u f_u
    # (F_0 over all T steps), S = sum_t F_t i_t j_t, W = sum_t F_t (1 - f_t), and the next
    # step's gates f', i', j' (candidate s' for the coupled form)
    F, S, W, D_T, fn, i_n, j_n, sn = sp.symbols("F S W D_T f' i' j' s'", real=True)
    c0r = sp.Symbol("c_0", real=True)
    general = -(1 - F) * c0r + S  # c_T - c_0
    general_next = -(1 - fn * F) * c0r + (fn * S + i_n * j_n)
    general_step = sp.expand(fn * (c0r + general) + i_n * j_n - c0r - general_next) == 0
    coupled_step = (
        # hypothesis W = 1 - F; the next weights are f' W + (1 - f'), the next F is f' F
        sp.expand((fn * W + (1 - fn)).subs(W, 1 - F) - (1 - fn * F)) == 0
        and sp.expand(fn * (c0r + D_T) + (1 - fn) * sn - c0r - (fn * D_T + (1 - fn) * (sn - c0r)))
        == 0
    )
    if not (general_step and coupled_step) or general.subs({F: 1, S: 0}) != 0:
        raise ArithmeticError("the unrolled drift fails its induction step or its base case")
    phi, iota = sp.symbols("varphi iota", positive=True)
    general_drift = (1 - phi**T) * sp.Abs(c0r) + iota * T
    size = sp.Symbol("C", nonnegative=True)  # |c_0|
    symmetric = ((1 - sigmoid(beta) ** T) * size + T * sigmoid(-beta)) * sp.exp(beta)
    general_asymptote = sp.factor(sp.limit(symmetric, beta, sp.oo)).subs(size, sp.Abs(c0r))

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
            out["bound"][k, n] = (1 - (1 / (1 + math.exp(-b))) ** H) * (1 + abs(start))

    # witness 2: the bias bound for T = 28 with the worst start the cell can get near
    needed, worst = [], []
    extreme = math.tanh(10.0)  # h_0 = -tanh 10, candidate tanh 10: Delta = 2 tanh 10 ~ 2
    for e in epsilons:
        b_star = float(bias_bound.subs({T: 28, eps: e, Delta: 2}))
        gru, _ = _keep_cells(b_star, D, torch.zeros(D, 1), 10.0)
        hs, _ = unroll(gru, xs[:28], torch.full((1, 1), -extreme, dtype=torch.float64))
        needed.append(b_star)
        worst.append(float((hs[-1] + extreme).abs()))

    # witness 3: starts from -1000 to 1000, keep gates moved by the input around start_beta,
    # the LSTM's input gate free (not 1 - f); bounds from the gates the cells recorded
    T28 = start_horizon
    u = {k: 0.1 * torch.randn(D, 1, generator=g, dtype=torch.float64) for k in "zfi"}
    gru = blank_cell("gru", D, 1, torch.float64)
    set_gate(gru, "z", U=u["z"], b=start_beta)
    set_gate(gru, "h_tilde", U=U_cand, b=1.0)
    lstm = blank_cell("lstm", D, 1, torch.float64)
    set_gate(lstm, "f", U=u["f"], b=start_beta)
    set_gate(lstm, "i", U=u["i"], b=-start_beta)
    set_gate(lstm, "j", U=U_cand, b=1.0)
    by_start = {k: [] for k in ("gd", "gf", "gb", "ld", "lf", "lb", "old")}
    for c0 in starts:
        s0 = torch.full((1, 1), c0, dtype=torch.float64)
        hs, gg = unroll(gru, xs[:T28], s0)
        cs, lg = unroll(lstm, xs[:T28], (torch.zeros_like(s0), s0.clone()))
        zg, hg = gg["z"][:, 0, 0], gg["h_tilde"][:, 0, 0]
        fl, il, jl = lg["f"][:, 0, 0], lg["i"][:, 0, 0], lg["j"][:, 0, 0]
        s_min, phi_v, iota_v = float(zg.min()), float(fl.min()), float(il.max())
        by_start["gd"].append(float((hs[-1] - s0).abs()))
        by_start["gf"].append(_drift_by_formula(zg, hg, c0))
        by_start["gb"].append((1 - s_min**T28) * (1 + abs(c0)))
        by_start["ld"].append(float((cs[-1][1] - s0).abs()))
        powers = torch.stack([fl[t + 1 :].prod() for t in range(T28)])
        by_start["lf"].append(float((powers * (il * jl - (1 - fl) * c0)).sum().abs()))
        by_start["lb"].append((1 - phi_v**T28) * abs(c0) + iota_v * T28)
        by_start["old"].append((1 - s_min**T28) * 2)

    # witness 4: the LSTM caveat: keep c, but let the input drive the output gate
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

    arr = {k: np.asarray(v) for k, v in by_start.items()}
    return KeepState(
        recurrence_solution=sp.Eq(sp.Symbol("c_T"), sp.simplify(solution)),
        general_step=general_step,
        coupled_step=coupled_step,
        general_drift=general_drift,
        delta_bound=1 + sp.Abs(c0r),
        general_bias_asymptote=general_asymptote,
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
        starts=tuple(starts),
        start_beta=start_beta,
        start_horizon=start_horizon,
        start_gru_drift=arr["gd"],
        start_gru_formula=arr["gf"],
        start_gru_bound=arr["gb"],
        start_lstm_drift=arr["ld"],
        start_lstm_formula=arr["lf"],
        start_lstm_bound=arr["lb"],
        start_old_bound=arr["old"],
        caveat_c_change=float((cc - c_start.item()).abs().max()),
        caveat_h_range=float(hh.max() - hh.min()),
        caveat_h_formula_error=float((hh - oo * torch.tanh(cc)).abs().max()),
    )
