"""What a trained classifier does over the rows: states and gates beside the image, the
readout by step, when decisions settle, gate saturation, row saliency.

Steps are counted from 1; step ``t`` is drawn level with (or at) row ``t`` of the image.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from .style import LineStyles, cell_color


def rows_beside_images(
    images: np.ndarray,
    panels: Mapping[str, np.ndarray],
    labels: Sequence[str] | None = None,
    ranges: Mapping[str, tuple[float, float]] | None = None,
    cmaps: Mapping[str, str] | None = None,
    title: str | None = None,
) -> Figure:
    """Each image (K, rows, pixels) beside time-by-unit maps of what the network did.

    ``panels[name]`` is (T, K, H), as recorded: one map per image with step ``t`` on the
    vertical axis, level with the image row read at that step, and the H units across.
    ``ranges`` fixes a panel's colour limits (default: symmetric around 0 for signed values,
    else 0..1); ``cmaps`` its colour map. ``labels`` names each image's row of panels.
    """
    images = np.asarray(images)
    K, rows, pixels = images.shape
    names = list(panels)
    ranges, cmaps = dict(ranges or {}), dict(cmaps or {})
    # a thin last row holds the colour bars: bars attached to a column of axes would leave
    # a gap under the images in a constrained layout
    fig, axes = plt.subplots(
        K + 1,
        1 + len(names),
        figsize=(2.0 + 2.6 * len(names), 1.9 * K + 0.8),
        layout="constrained",
        squeeze=False,
        gridspec_kw={
            "width_ratios": [1.0] + [1.4] * len(names),
            "height_ratios": [1.0] * K + [0.06],
        },
    )
    axes[K, 0].set_visible(False)
    extent_y = (rows + 0.5, 0.5)  # step t level with row t, both counted from 1 at the top
    ticks = [t for t in (1, 7, 14, 21, 28) if t <= rows]
    for k in range(K):
        ax = axes[k, 0]
        # aspect "auto": a fixed aspect would leave the rows of maps and images unequal
        ax.imshow(
            images[k],
            cmap="gray_r",
            vmin=0,
            vmax=1,
            aspect="auto",
            extent=(0.5, pixels + 0.5, *extent_y),
        )
        ax.set(xticks=[], ylabel=labels[k] if labels is not None else f"image {k}")
        ax.set_yticks(ticks)
    for p, name in enumerate(names):
        maps = np.asarray(panels[name]).transpose(1, 0, 2)  # (K, T, H)
        low, high = ranges.get(name) or _default_range(maps)
        cmap = cmaps.get(name, "RdBu_r" if low < 0 else "viridis")
        for k in range(K):
            ax = axes[k, 1 + p]
            im = ax.imshow(
                maps[k],
                aspect="auto",
                cmap=cmap,
                vmin=low,
                vmax=high,
                interpolation="nearest",
                extent=(0.5, maps.shape[2] + 0.5, *extent_y),
            )
            ax.set_yticks(ticks, labels=[])
            if k < K - 1:
                ax.set_xticks([])
        axes[0, 1 + p].set_title(name)
        axes[K - 1, 1 + p].set_xlabel("unit")
        fig.colorbar(im, cax=axes[K, 1 + p], orientation="horizontal")
    axes[0, 0].set_title("input (step = row)")
    if title:
        fig.suptitle(title)
    return fig


def _default_range(values: np.ndarray) -> tuple[float, float]:
    if values.min() < 0:
        top = float(np.abs(values).max()) or 1.0
        return -top, top
    return 0.0, max(1.0, float(values.max()))


def state_over_time(
    stats: Mapping[str, np.ndarray],
    accuracy: np.ndarray,
    ink_so_far: np.ndarray,
    ink_to_come: np.ndarray,
    name: str,
) -> Figure:
    """How a recorded state moves (left) beside what has been seen and what is known (right).

    ``stats``: ``spread``, ``magnitude`` and ``change``, each (T,), as
    :func:`~rnnreport.inspection.measures.state_statistics` gives them; ``accuracy`` (T,):
    the readout accuracy after each step; ``ink_so_far`` and ``ink_to_come`` (T,): the
    shares of images with ink in rows 1..t and below row t. ``name`` titles the left panel.
    """
    steps = np.arange(1, len(accuracy) + 1)
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), layout="constrained")
    axes[0].plot(steps, stats["spread"], "o-", ms=3, label="spread across images")
    axes[0].plot(steps, stats["magnitude"], "s-", ms=3, label="mean $|h_t|$")
    axes[0].plot(steps, stats["change"], "^-", ms=3, label=r"mean $\|h_t - h_{t-1}\|$")
    axes[0].set(xlabel="step t", title=f"{name} output over time")
    axes[1].plot(steps, accuracy, "k.-", label="readout accuracy")
    axes[1].plot(steps, ink_so_far, color="tab:green", label="images with ink so far")
    axes[1].plot(steps, ink_to_come, color="tab:purple", label="images with ink still to come")
    axes[1].set(xlabel="step t", ylim=(0, 1.02), title="What has been seen, what is known")
    for ax in axes:
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    return fig


def gates_over_time(means: Mapping[str, Sequence[float]], title: str | None = None) -> Figure:
    """One line per gate: ``means[label]`` (T,), its mean over units and images at each
    step (:func:`~rnnreport.inspection.measures.mean_by_step`), on a 0..1 axis."""
    fig, ax = plt.subplots(figsize=(7, 3.5), layout="constrained")
    for label, values in means.items():
        ax.plot(np.arange(1, len(values) + 1), values, ".-", label=label)
    ax.set(xlabel="step t", ylabel="mean over units and images", ylim=(0, 1))
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def accuracy_by_step(
    curves: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    reference: tuple[str, Sequence[float]] | None = None,
    chance: float = 0.1,
    title: str | None = None,
) -> Figure:
    """Accuracy (left) and mean max-softmax confidence (right) after each step, per model.

    ``curves[model] = (accuracy (T,), confidence (T,))``. ``reference = (label, values)``
    marks a cited accuracy at the last steps, ``values`` from the last step backwards.
    """
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained", sharex=True)
    styles = LineStyles()
    T = 0
    for model, (accuracy, confidence) in curves.items():
        style, color = styles(model), cell_color(model)
        steps = np.arange(1, len(accuracy) + 1)
        T = max(T, len(accuracy))
        axes[0].plot(steps, accuracy, style, color=color, label=model)
        axes[1].plot(steps, confidence, style, color=color, label=model)
    if reference is not None:
        label, values = reference
        axes[0].plot(T - np.arange(len(values)), values, "kD", ms=5, label=label)
    for ax in axes:
        ax.axhline(chance, color="0.6", lw=0.8, ls=":")
        ax.set_xlim(0.5, T + 0.5)
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        ax.set_xlabel("step t (rows read)")
    axes[0].set(ylabel="test accuracy", title="Accuracy when step t is read as the last")
    axes[1].set(ylabel="mean max-softmax", title="Confidence when step t is read as the last")
    axes[0].legend(fontsize=8, ncols=2, loc="upper left")
    if title:
        fig.suptitle(title)
    return fig


def decision_histograms(
    decision: np.ndarray,
    last_ink: np.ndarray,
    labels: np.ndarray,
    steps: int = 28,
    title: str | None = None,
) -> Figure:
    """Per digit class: when the prediction settles, beside the row of the last ink.

    ``decision`` (N,): the decision step of each image (values below 1 are left out, e.g.
    images never decided); ``last_ink`` (N,): the row of its lowest inked pixel;
    ``labels`` (N,): its digit. Bars count decisions, the outline counts last-ink rows.
    """
    decision, last_ink, labels = (np.asarray(a) for a in (decision, last_ink, labels))
    classes = np.unique(labels)
    cols = 5
    fig, axes = plt.subplots(
        -(-len(classes) // cols),
        cols,
        figsize=(12, 2.3 * -(-len(classes) // cols) + 0.6),
        layout="constrained",
        sharex=True,
        squeeze=False,
    )
    bins = np.arange(0.5, steps + 1.5)
    for ax, digit in zip(axes.flat, classes, strict=False):
        mine = labels == digit
        decided = decision[mine & (decision >= 1)]
        ax.hist(decided, bins=bins, color="tab:green", alpha=0.7, label="decision step")
        ax.hist(last_ink[mine], bins=bins, histtype="step", color="black", label="last ink row")
        ax.set_title(f"digit {digit}: {len(decided)} of {mine.sum()} decided", fontsize=9)
        ax.grid(alpha=0.3)
    for ax in axes.flat[len(classes) :]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("step / row")
    axes[0, 0].legend(fontsize=7, loc="upper left")
    if title:
        fig.suptitle(title)
    return fig


def saturation_scatter(
    panels: Mapping[str, Sequence[tuple[np.ndarray, np.ndarray]]],
    title: str | None = None,
) -> Figure:
    """Karpathy et al. (2015)'s gate-saturation plot: one point per unit.

    ``panels[gate] = [(left (H,), right (H,)) for each layer]``: the fraction of steps the
    unit's gate spends below 0.1 (x) and above 0.9 (y). Colour is the layer. Points near
    the origin are never saturated; on the diagonal ``x + y = 1``, always saturated.
    """
    names = list(panels)
    fig, axes = plt.subplots(
        1, len(names), figsize=(2.9 * len(names) + 0.4, 3.3), layout="constrained", squeeze=False
    )
    colors = plt.get_cmap("plasma")
    for ax, name in zip(axes[0], names, strict=True):
        layers = panels[name]
        for l, (left, right) in enumerate(layers):
            color = colors(0.15 + 0.7 * l / max(1, len(layers) - 1))
            ax.scatter(left, right, s=14, alpha=0.75, color=color, label=f"layer {l + 1}")
        ax.plot([0, 1], [1, 0], color="0.6", lw=0.8, ls="--")
        ax.set(xlim=(-0.02, 1.02), ylim=(-0.02, 1.02), aspect="equal", title=name)
        ax.set_xlabel("fraction < 0.1 (left)")
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("fraction > 0.9 (right)")
    if any(len(layers) > 1 for layers in panels.values()):
        axes[0, -1].legend(fontsize=7, loc="upper right")
    if title:
        fig.suptitle(title)
    return fig


def saliency_curves(
    curves: Mapping[str, np.ndarray],
    ink: np.ndarray | None = None,
    title: str = "Which rows the decision depends on",
) -> Figure:
    """Mean gradient size per input row, one line per model, each scaled to sum to 1.

    ``curves[model]`` (rows,): the mean over images of the row's gradient norm. ``ink``
    (rows,), if given: the fraction of images with ink in each row, as gray bars behind.
    """
    fig, ax = plt.subplots(figsize=(9, 4), layout="constrained")
    if ink is not None:
        back = ax.twinx()
        rows = np.arange(1, len(ink) + 1)
        back.bar(rows, ink, color="0.85", width=0.9, zorder=0)
        back.set_ylabel("fraction of images with ink in the row", color="0.45")
        back.set_ylim(0, 1)
        ax.set_zorder(back.get_zorder() + 1)
        ax.patch.set_visible(False)
    styles = LineStyles()
    for model, curve in curves.items():
        curve = np.asarray(curve, dtype=float)
        rows = np.arange(1, len(curve) + 1)
        ax.plot(
            rows,
            curve / curve.sum(),
            styles(model),
            color=cell_color(model),
            marker=".",
            label=model,
        )
    ax.set(xlabel="input row t", ylabel="share of the gradient size", title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncols=2, loc="upper left")
    return fig
