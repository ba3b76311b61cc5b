"""Trained models side by side: learning curves, test accuracy, model size, effects."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from .style import LineStyles, cell_color


def learning_curves(curves: Mapping[str, Mapping[str, Sequence[Sequence[float]]]]) -> Figure:
    """Validation accuracy and training loss per epoch, one line per model.

    ``curves[model]["valid_accuracy"]`` and ``["train_loss"]`` are lists over seeds of lists
    over epochs; the line is the mean over seeds and the band its min-max range.
    """
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
    styles = LineStyles()
    for model, series in curves.items():
        style = styles(model)
        for ax, key in zip(axes, ("valid_accuracy", "train_loss"), strict=True):
            values = np.asarray(series[key], dtype=float)  # (seeds, epochs)
            epochs = np.arange(1, values.shape[1] + 1)
            color = cell_color(model)
            ax.plot(epochs, values.mean(0), style, color=color, label=model, marker=".")
            if len(values) > 1:
                ax.fill_between(epochs, values.min(0), values.max(0), color=color, alpha=0.15)
    axes[0].set(xlabel="epoch", ylabel="validation accuracy", title="Validation accuracy")
    axes[1].set(xlabel="epoch", ylabel="training loss per image", title="Training loss")
    axes[1].set_yscale("log")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.xaxis.get_major_locator().set_params(integer=True)
    axes[0].legend(fontsize=8, ncols=2)
    return fig


def accuracy_by_model(
    models: Sequence[str],
    mean: Sequence[float],
    std: Sequence[float],
    reference: Sequence[float | None] | None = None,
    reference_label: str = "report A",
    title: str = "Test accuracy",
) -> Figure:
    """Test accuracy per model: ours (mean, error bar = std over seeds) and a reference."""
    fig, ax = plt.subplots(figsize=(8, 3.6), layout="constrained")
    x = np.arange(len(models))
    colors = [cell_color(m) for m in models]
    ax.bar(x, mean, yerr=std, color=colors, alpha=0.8, capsize=4, label="this report")
    if reference is not None:
        ref_x = [i for i, v in enumerate(reference) if v is not None]
        ref_y = [v for v in reference if v is not None]
        ax.plot(ref_x, ref_y, "kD", label=reference_label)
    low = min([*mean, *(v for v in (reference or []) if v is not None)])
    ax.set_ylim(max(0.0, low - 0.01), 1.0)
    ax.set_xticks(x, models, rotation=30, ha="right")
    ax.set(ylabel="test accuracy", title=title)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="upper left", ncols=2)  # above the bars: the axis starts near the lowest
    return fig


FAMILY_MARKERS = {"whole image": "s", "row by row": "o"}


def accuracy_vs_parameters(
    models: Sequence[str],
    params: Sequence[int],
    mean: Sequence[float],
    std: Sequence[float],
    families: Sequence[str],
    reference: Sequence[float | None] | None = None,
    reference_label: str = "report A",
    title: str = "Test accuracy against model size",
) -> Figure:
    """Test accuracy (mean, error bar = std over seeds) against the number of parameters.

    One point per model, its marker chosen by ``families`` (``"whole image"``: square,
    ``"row by row"``: circle, else a triangle), its colour by the cell for the recurrent
    models (gray otherwise); ``reference`` values are hollow diamonds at the same size.
    """
    lengths = {len(models), len(params), len(mean), len(std), len(families)}
    if reference is not None:
        lengths.add(len(reference))
    if len(lengths) != 1:
        raise ValueError(f"every sequence needs one value per model, got lengths {lengths}")
    fig, ax = plt.subplots(figsize=(9, 4.2), layout="constrained")
    # Neighbours in size get their labels on alternate sides, so that close points stay legible.
    above = {k: rank % 2 == 0 for rank, k in enumerate(np.argsort(params, kind="stable"))}
    seen: set[str] = set()
    for k, model in enumerate(models):
        family = families[k]
        label = family if family not in seen else None
        seen.add(family)
        ax.errorbar(
            params[k],
            mean[k],
            yerr=std[k],
            fmt=FAMILY_MARKERS.get(family, "^"),
            color=cell_color(model, other="dimgray"),
            markersize=7,
            capsize=3,
            label=label,
        )
        ax.annotate(
            model,
            (params[k], mean[k]),
            xytext=(4, 4 if above[k] else -4),
            textcoords="offset points",
            va="bottom" if above[k] else "top",
            fontsize=7,
        )
    if reference is not None:
        ref = [(params[k], v) for k, v in enumerate(reference) if v is not None]
        if ref:
            xs, ys = zip(*ref, strict=True)
            ax.plot(xs, ys, "D", mfc="none", mec="black", label=reference_label)
    ax.set_xscale("log")
    ax.set(xlabel="trainable parameters (log scale)", ylabel="test accuracy", title=title)
    ax.grid(alpha=0.3, which="both")
    fig.legend(loc="outside lower center", ncols=3, fontsize=8)  # points may lie anywhere
    return fig


def effect_bars(
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
    colors = [cell_color(cell) for cell in cells]
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
            color=cell_color(cell),
            linestyle="--",
            label=f"{cell.upper()}: down to report A's loss",
        )
    if loss_targets:
        fig.legend(loc="outside lower right", fontsize="small", ncols=len(loss_targets))
    axes[0].set_yticks(
        y, [f"{cell.upper()}: {label}" for cell, label in zip(cells, labels, strict=True)]
    )
    return fig
