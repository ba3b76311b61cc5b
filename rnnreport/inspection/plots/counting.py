"""The trained counters: which strings they recognise, and their units along one string."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure


def recognition_by_n(
    panels: Mapping[str, Mapping[str, Sequence[Sequence[bool]]]],
    n_train: int | Mapping[str, int],
) -> Figure:
    """Which strings each trained counter recognises, against n: one panel per language
    (or per regime and language).

    ``panels[panel][cell]`` lists, per seed, whether the string with n = 1, 2, … is
    recognised; each seed is one row (dark: recognised). The dashed line is ``n_train``
    (one for every panel, or one per panel), the end of the training range.
    """
    fig, axes = plt.subplots(
        len(panels),
        1,
        figsize=(9, 1.2 + 1.1 * len(panels) * 2),
        layout="constrained",
        squeeze=False,
    )
    for ax, (language, cells) in zip(axes[:, 0], panels.items(), strict=True):
        rows, labels = [], []
        for cell, seeds in cells.items():
            for seed, ok in enumerate(seeds):
                rows.append(np.asarray(ok, dtype=float))
                labels.append(f"{cell} seed {seed}")
        image = np.stack(rows)  # (cells x seeds, n)
        n = image.shape[1]
        ax.imshow(
            image,
            aspect="auto",
            cmap="Greys",
            vmin=0,
            vmax=1.25,
            interpolation="nearest",
            extent=(0.5, n + 0.5, len(rows) - 0.5, -0.5),
        )
        end = n_train if isinstance(n_train, int) else n_train[language]
        ax.axvline(end + 0.5, color="tab:red", linestyle="--", label=f"n_train = {end}")
        ax.set_yticks(range(len(rows)), labels, fontsize=8)
        ax.set(xlabel="n", title=f"{language}: strings recognised (dark) against n")
        ax.legend(loc="upper right", fontsize=8)
    return fig


def counting_units(
    panels: Mapping[str, tuple[np.ndarray, int, int, bool]], saturated: float = 0.99
) -> Figure:
    """Recurrent units along one long string: one panel per model.

    ``panels[title] = (states, unit, n, bounded)``: ``states`` (T, H) after each symbol of
    ``^ aⁿ bⁿ …`` (position 0 is after ``^``), ``unit`` the one drawn thick (the best
    counter), ``n`` the length of the a-block (shaded); where ``bounded`` (a GRU state,
    in [-1, 1]) dotted lines mark ±``saturated``.
    """
    fig, axes = plt.subplots(
        1, len(panels), figsize=(5 * len(panels), 3.6), layout="constrained", squeeze=False
    )
    for ax, (title, (states, unit, n, bounded)) in zip(axes[0], panels.items(), strict=True):
        t = np.arange(len(states))
        ax.axvspan(0.5, n + 0.5, color="0.9", label="the a's")
        for k in range(states.shape[1]):
            thick = k == unit
            ax.plot(
                t,
                states[:, k],
                lw=2.2 if thick else 0.8,
                alpha=1 if thick else 0.6,
                label=f"unit {k}" + (" (best fit)" if thick else ""),
            )
        for level in (saturated, -saturated) if bounded else ():
            ax.axhline(level, color="k", linestyle=":", lw=0.8)
        ax.set(xlabel="position in the string", title=title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return fig
