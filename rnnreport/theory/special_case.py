r"""Q1.3: is a GRU a special case of an LSTM, for the same input?

Claim: no. The closest gate mapping (:math:`f = z`, :math:`i = 1 - z`, :math:`o = 1`)
makes the LSTM's cell follow the GRU's update, and the differences that remain are
derived and witnessed by a counterexample (:func:`gru_not_lstm`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import sympy as sp
import torch

from rnnreport.model.cells import GRUCell, LSTMCell

from .common import Latex, blank_cell, get_gate, set_gate, tex, unroll
from .limits import TanhFixedPoint, tanh_fixed_point


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
