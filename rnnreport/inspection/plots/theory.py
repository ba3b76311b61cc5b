r"""The witnesses of Q1's derivations (``rnnreport.theory``): cells with hand-set weights.

Each function takes the arrays a derivation's witness computed and draws them; what the
arrays mean is documented on the derivation's result.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure


def stored_input(pixels: np.ndarray, states: np.ndarray, read_back: np.ndarray) -> Figure:
    """Q1.1: a binary image (T, D), the LSTM cell that stored it row by row (T, H), and
    the pixels read back from the cell's sign (T, H), side by side."""
    fig, axes = plt.subplots(1, 3, figsize=(9, 3.2), sharey=True)
    panels = [
        (pixels, "input pixels $x_t$", "gray_r", (0, 1)),
        (states, "LSTM cell $c_t$", "RdBu_r", (-1, 1)),
        (read_back, r"$(1 + \mathrm{sign}\, c_t)/2$", "gray_r", (0, 1)),
    ]
    shown = []
    for ax, (image, title, cmap, (lo, hi)) in zip(axes, panels, strict=True):
        shown.append(ax.imshow(image, cmap=cmap, vmin=lo, vmax=hi))
        ax.set(title=title, xlabel="unit / pixel")
    axes[0].set(ylabel="step t (row)")
    fig.colorbar(shown[1], ax=axes[1], fraction=0.046)  # the cell's scale, beside the cell
    fig.tight_layout()
    return fig


def keep_drift(
    betas: np.ndarray,
    horizons: Sequence[int],
    bound: np.ndarray,
    gru_drift: np.ndarray,
    lstm_drift: np.ndarray,
) -> Figure:
    r"""Q1.2: the drift after T steps against the keep gate's bias :math:`\beta`, one colour
    per horizon: the bound as a line, the GRU as circles, the coupled LSTM as crosses.

    ``bound``, ``gru_drift`` and ``lstm_drift`` are (len(horizons), len(betas)).
    """
    fig, ax = plt.subplots(figsize=(6, 4))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k, (T, color) in enumerate(zip(horizons, colors, strict=False)):
        ax.semilogy(betas, bound[k], color=color, label=f"bound, T = {T}")
        ax.semilogy(betas, gru_drift[k], "o", color=color, mfc="none", ms=6)
        ax.semilogy(betas, lstm_drift[k], "x", color=color, ms=4, label=f"T = {T}")
    ax.set(xlabel=r"keep-gate pre-activation $\beta$", ylabel=r"drift $|h_T - h_0|$")
    ax.set_title("Drift after T steps (o GRU, x LSTM) and its bound")
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    return fig


def first_output_ascent(lstm: Sequence[float], gru: Sequence[float], bound: float) -> Figure:
    r"""Q1.3: the largest first output that gradient ascent reached after each step, for an
    LSTM and a GRU, beside the bound :math:`\tanh 1` that holds for every LSTM."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(lstm, label="LSTM: best max $|h_1|$")
    ax.plot(gru, label="GRU: best max $|h_1|$")
    ax.axhline(float(bound), color="0.5", lw=0.8, ls="--", label=r"$\tanh 1$")
    ax.set(xlabel="ascent step", ylabel="largest first output", ylim=(0, 1.05))
    ax.set_title("Gradient ascent on the weights, from the zero state")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def mapped_outputs(
    inputs: np.ndarray, gru_h: np.ndarray, lstm_h: np.ndarray, gru_no_reset_h: np.ndarray
) -> Figure:
    r"""Q1.3: one unit's outputs on the same inputs (T,): the GRU, the LSTM the closest
    mapping builds from it, and the GRU with its reset gate held open."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    t = np.arange(1, len(inputs) + 1)
    ax.step(t, inputs, where="mid", color="0.7", label="input $x_t$")
    ax.plot(t, gru_h, "o-", label="GRU $h_t$")
    ax.plot(t, lstm_h, "s-", label=r"mapped LSTM $h_t = \tanh c_t$")
    ax.plot(t, gru_no_reset_h, "^--", label="GRU with $r = 1$")
    ax.set(xlabel="step t", ylabel="output", title="Same weights, same input, other outputs")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def lstm_count_vs_gru(
    steps: np.ndarray,
    lstm_c: np.ndarray,
    lstm_h: np.ndarray,
    update_biases: Sequence[float],
    gru_h: np.ndarray,
) -> Figure:
    r"""The converse of Q1.3: an LSTM cell that counts (T,) and its bounded output (T,),
    beside GRU states (len(update_biases), T) fed the same ones, on log-log axes."""
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.loglog(steps, lstm_c, lw=2, label="LSTM cell $c_t$")
    ax.loglog(steps, lstm_h, lw=1, ls=":", label="LSTM output $h_t$")
    for b, h in zip(update_biases, gru_h, strict=True):
        ax.loglog(steps, h, label=f"GRU $h_t$, $z = \\sigma({b:g})$")
    ax.axhline(1.0, color="0.5", lw=0.8, ls="--")
    ax.set(xlabel="step t", ylabel="state")
    ax.set_title(f"Counting to {len(steps):,}: LSTM cell vs GRU state")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
