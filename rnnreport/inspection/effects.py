"""A figure of effects: each change's difference to a baseline, with its spread.

Like :mod:`rnnreport.inspection.plots`, it draws the arrays it is given and nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from .plots import CELL_COLORS


def effects_figure(
    labels: Sequence[str],
    cells: Sequence[str],
    accuracy: Sequence[float],
    accuracy_spread: Sequence[float],
    loss: Sequence[float],
    loss_spread: Sequence[float],
    loss_targets: Mapping[str, float] | None = None,
) -> Figure:
    """Two panels, one line per change: Δ test accuracy (points) and Δ summed test loss.

    Each change is a dot at its difference to its cell's baseline, with a bar of ± the
    spread (the two rows' standard deviations added): a bar that crosses zero is an effect
    the seeds cannot tell from nothing. ``loss_targets[cell]``, where given, is the Δ loss
    that would bring the cell's baseline to a reference (report A's), drawn as a dashed line.
    """
    n = len(labels)
    fig, axes = plt.subplots(1, 2, figsize=(10, 0.9 + 0.38 * n), sharey=True, layout="constrained")
    y = np.arange(n)[::-1]  # the first change on top
    colors = [CELL_COLORS.get(cell, "gray") for cell in cells]
    panels = (
        (accuracy, accuracy_spread, "Δ test accuracy (points)"),
        (loss, loss_spread, "Δ summed test loss"),
    )
    for ax, (values, spread, xlabel) in zip(axes, panels, strict=True):
        ax.axvline(0, color="black", linewidth=0.8)
        for k in range(n):
            ax.errorbar(values[k], y[k], xerr=spread[k], fmt="o", color=colors[k], capsize=3)
        ax.set(xlabel=xlabel)
        ax.grid(axis="x", alpha=0.3)
    for cell, target in (loss_targets or {}).items():
        axes[1].axvline(
            target,
            color=CELL_COLORS.get(cell, "gray"),
            linestyle="--",
            label=f"{cell.upper()}: down to report A's loss",
        )
    if loss_targets:
        fig.legend(loc="outside lower right", fontsize="small", ncols=len(loss_targets))
    axes[0].set_yticks(
        y, [f"{cell.upper()}: {label}" for cell, label in zip(cells, labels, strict=True)]
    )
    return fig
