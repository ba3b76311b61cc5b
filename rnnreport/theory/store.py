r"""Q1.1: can an LSTM (a GRU) store the current input in its state?

Claim: with :math:`f \to 0, i \to 1` (LSTM, and :math:`o \to 0` or no recurrent
candidate weight) or :math:`z \to 0` (GRU, and :math:`r \to 0` or no recurrent candidate
weight) the state becomes :math:`\tanh(x_t U + b)`: it can hold the *information* in
:math:`x_t` (tanh is one-to-one), never its *value* (the state lies in (-1, 1) and
:math:`c = \tanh c` only at 0). Assumptions: exact arithmetic; in float32 rounding can make
a binary pixel's value the state (witnessed below).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp
import torch

from .common import Latex, binary_image, blank_cell, set_gate, tex, unroll


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

    @property
    def lstm_read_back(self) -> np.ndarray:
        r"""(T, H): the pixels read back from the LSTM's cell,
        :math:`(1 + \mathrm{sign}\, c_t)/2`."""
        return (np.sign(self.lstm_states) + 1) / 2

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
    set_gate(gru, "h_tilde", U=2 * a * eye, b=-a)
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
