"""Matplotlib figures drawn from the arrays they are given; nothing here trains or loads.

Each function returns its ``Figure`` so that scripts can save it or let sphinx-gallery
capture it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

CELL_COLORS = {"lstm": "tab:blue", "gru": "tab:orange"}
SHAPE_STYLES = ("-", "--", ":", "-.")


def _cell(name: str) -> str:
    return name.split("-")[0]


def learning_curves(curves: Mapping[str, Mapping[str, Sequence[Sequence[float]]]]) -> Figure:
    """Validation accuracy and training loss per epoch, one line per model.

    ``curves[model]["valid_accuracy"]`` and ``["train_loss"]`` are lists over seeds of lists
    over epochs; the line is the mean over seeds and the band its min-max range.
    """
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
    styles: dict[str, str] = {}
    for model, series in curves.items():
        shape = model.split("-", 1)[1]
        style = styles.setdefault(shape, SHAPE_STYLES[len(styles) % len(SHAPE_STYLES)])
        for ax, key in zip(axes, ("valid_accuracy", "train_loss"), strict=True):
            values = np.asarray(series[key], dtype=float)  # (seeds, epochs)
            epochs = np.arange(1, values.shape[1] + 1)
            color = CELL_COLORS.get(_cell(model), "gray")
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
    colors = [CELL_COLORS.get(_cell(m), "gray") for m in models]
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
            color=CELL_COLORS.get(_cell(model), "dimgray"),
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


# -- probes: what the trained networks do over time (gallery plot_05 .. plot_08) ---------------


def rows_beside_images(
    images: np.ndarray,
    panels: Mapping[str, np.ndarray],
    labels: Sequence[str] | None = None,
    ranges: Mapping[str, tuple[float, float]] | None = None,
    cmaps: Mapping[str, str] | None = None,
    title: str | None = None,
) -> Figure:
    """Each image (K, rows, pixels) beside time-by-unit maps of what the network did.

    ``panels[name]`` is (K, T, H): one map per image with step ``t`` on the vertical axis,
    level with the image row read at that step, and the H units across. ``ranges`` fixes a
    panel's colour limits (default: symmetric around 0 for signed values, else 0..1);
    ``cmaps`` its colour map. ``labels`` names each image's row of panels.
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
        maps = np.asarray(panels[name])  # (K, T, H)
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
    styles: dict[str, str] = {}
    T = 0
    for model, (accuracy, confidence) in curves.items():
        shape = model.split("-", 1)[1] if "-" in model else model
        style = styles.setdefault(shape, SHAPE_STYLES[len(styles) % len(SHAPE_STYLES)])
        color = CELL_COLORS.get(_cell(model), "gray")
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
    """The gate-saturation plot of :cite:t:`karpathy2015visualizing`: one point per unit.

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


def row_saliency(
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
    styles: dict[str, str] = {}
    for model, curve in curves.items():
        curve = np.asarray(curve, dtype=float)
        shape = model.split("-", 1)[1] if "-" in model else model
        style = styles.setdefault(shape, SHAPE_STYLES[len(styles) % len(SHAPE_STYLES)])
        rows = np.arange(1, len(curve) + 1)
        color = CELL_COLORS.get(_cell(model), "gray")
        ax.plot(rows, curve / curve.sum(), style, color=color, marker=".", label=model)
    ax.set(xlabel="input row t", ylabel="share of the gradient size", title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncols=2, loc="upper left")
    return fig


def recognition_by_n(
    panels: Mapping[str, Mapping[str, Sequence[Sequence[bool]]]], n_train: int
) -> Figure:
    """Which strings each trained counter recognises, against n: one panel per language.

    ``panels[language][cell]`` lists, per seed, whether the string with n = 1, 2, … is
    recognised; each seed is one row (dark: recognised). The dashed line is ``n_train``,
    the end of the training range.
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
        ax.axvline(n_train + 0.5, color="tab:red", linestyle="--", label=f"n_train = {n_train}")
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
