r"""What the measurements say: the gallery's table rows and generated sentences.

Each function takes measurements made by :mod:`rnnreport.inspection.probes` and
:mod:`rnnreport.inspection.measures` (a recorded state, a
:class:`~rnnreport.inspection.probes.Readout`, ink rows, gate saturation, row saliency)
and returns either rows for :func:`~rnnreport.inspection.tables.html_table` (a list of
dicts of formatted cells) or :class:`~rnnreport.inspection.tables.Findings`,
sentences in which every number is read from the measurements. Nothing here runs a
model. The sentences speak of "test images": the gallery measures the 10,000 of the test
split.

Steps are counted from 1, as in :mod:`~rnnreport.inspection.probes`: index ``t - 1`` of a
per-step array is step ``t``.

* the state over time (Q3.2): :func:`step_rows`, :func:`first_steps`, :func:`last_steps`;
* decision time (Q3.3): :func:`first_or_last`, :func:`last_steps_rows`,
  :func:`decision_row`, :func:`decision_time`, :func:`class_rows`,
  :func:`decision_vs_ink`;
* the LSTM's gates by phase: :func:`phase_rows`, :func:`gates_by_phase`;
* saturation and saliency: :func:`saturation_panels`, :func:`saturation_rows`,
  :func:`saturation_findings`, :func:`saliency_rows`, :func:`saliency_findings`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from . import measures, probes
from .measures import GateSaturation
from .probes import Readout
from .tables import Findings

SETTLED = 1e-3
"""A mean change of the state below this, from one step to the next, counts as settled."""

_WORDS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def _count(n: int) -> str:
    """``n`` in words up to ten, else in digits: "the last five rows"."""
    return _WORDS[n] if 0 <= n < len(_WORDS) else str(n)


def display_name(name: str) -> str:
    """A grid name as the text writes it: ``"lstm-3x32"`` -> ``"LSTM-3x32"``."""
    cell, _, shape = name.partition("-")
    return f"{cell.upper()}-{shape}" if shape else cell.upper()


# -- the state over time --------------------------------------------------------------------


def step_rows(
    stats: Mapping[str, np.ndarray], readout: Readout, seen: np.ndarray, steps: Iterable[int]
) -> list[dict[str, object]]:
    """One table row per step in ``steps`` (counted from 1).

    ``stats`` from :func:`~rnnreport.inspection.measures.state_statistics`, ``seen`` from
    :func:`~rnnreport.inspection.measures.ink_so_far`; the readout accuracy is the
    classifier's when it reads that step as the last.
    """
    return [
        {
            "step t": t,
            "images with ink so far": f"{seen[t - 1]:.1%}",
            "spread of h_t": f"{stats['spread'][t - 1]:.4f}",
            "mean |h_t|": f"{stats['magnitude'][t - 1]:.3f}",
            "change from h_(t-1)": f"{stats['change'][t - 1]:.3f}",
            "readout accuracy": f"{readout.accuracy[t - 1]:.4f}",
        }
        for t in steps
    ]


def first_steps(
    h: np.ndarray,
    first_ink: np.ndarray,
    readout: Readout,
    name: str,
    early: int = 3,
    steps: int = 5,
) -> Findings:
    """What the first ``steps`` steps show: blank rows, one shared state, the first readout.

    ``h`` (T, N, H): the recorded output; ``first_ink`` (N,): each image's first inked row
    (:func:`~rnnreport.inspection.measures.first_ink_rows`, 0 for a blank image);
    ``readout``: the readout by step of the same images. ``early`` < ``steps`` is the
    shorter window also reported.
    """
    first_ink = np.asarray(first_ink)
    inked = first_ink[first_ink > 0]
    if not len(inked):
        raise ValueError("every image is blank: there is no first ink to speak of")
    items = []
    blank_early = (first_ink == 0) | (first_ink > early)  # (N,): no ink in rows 1..early
    blank = (first_ink == 0) | (first_ink > steps)  # (N,): no ink in rows 1..steps
    items.append(
        f"The first {int(inked.min()) - 1} row(s) are blank in every test image, and "
        f"{blank_early.mean():.1%} of images have no ink in rows 1-{early} ({blank.mean():.1%} "
        f"in rows 1-{steps})."
    )
    if blank.any():
        same = measures.largest_spread(h, blank, steps)
        state = (
            f"are in one and the same state at every step up to {steps} (the largest standard "
            f"deviation of any unit across them is {same:.2g}, below 1e-4): {name} knows "
            "nothing of them yet"
            if same < 1e-4
            else f"differ in their states (a standard deviation of up to {same:.2g} across them)"
        )
        items.append(f"The {blank.sum():,} images still blank at step {steps} {state}.")
    else:
        items.append(f"No image is still blank at step {steps}.")
    if blank_early.any():  # what blank rows alone do to the state, from h_0 = 0
        change = measures.state_statistics(np.asarray(h)[:early, blank_early])["change"]
        trend = "still moves" if change[-1] >= SETTLED else "has settled"
        items.append(
            f"On the {blank_early.sum():,} images with no ink in rows 1-{early}, the state "
            f"{trend} as blank rows come in: starting from h_0 = 0, the mean change of h_t is "
            f"{change[0]:.3f} at step 1 and {change[-1]:.3f} at step {early}."
        )
    predicted = np.unique(readout.predictions[0])
    if len(predicted) == 1:
        d = int(predicted[0])
        items.append(
            f"Reading h_1, the classifier predicts digit {d} for every image, so its accuracy "
            f"there, {readout.accuracy[0]:.4f}, is just the share of {d}s in the test set "
            f"({np.mean(readout.labels == d):.4f}), near chance (0.1)."
        )
    else:
        items.append(
            f"Reading h_1, the classifier makes {len(predicted)} different predictions; its "
            f"accuracy there is {readout.accuracy[0]:.4f} (chance: 0.1)."
        )
    return Findings(f"The first {_count(steps)} steps of {name}", tuple(items))


def last_steps(
    stats: Mapping[str, np.ndarray],
    readout: Readout,
    last_ink: np.ndarray,
    name: str,
    steps: int = 5,
) -> Findings:
    """What the last ``steps`` steps show, against the ``steps`` before them.

    ``stats`` from :func:`~rnnreport.inspection.measures.state_statistics` of the output,
    ``last_ink`` (N,) from :func:`~rnnreport.inspection.measures.last_ink_rows`.
    """
    T = readout.steps
    if not 1 <= steps <= T // 2:
        raise ValueError(f"steps must be between 1 and {T // 2}, got {steps}")
    late = stats["change"][-steps:].mean()
    middle = stats["change"][-2 * steps : -steps].mean()
    k = _count(steps)
    return Findings(
        f"The last {k} steps of {name}",
        (
            f"{np.mean(np.asarray(last_ink) <= T - steps):.1%} of test images have no ink in "
            f"the last {k} rows.",
            f"Over those steps the output changes by {late:.3f} per step on average, against "
            f"{middle:.3f} over the {k} steps before ({'less' if late < middle else 'more'}).",
            f"The spread across images is {stats['spread'][-1]:.3f} at the last step, against "
            f"{stats['spread'][T // 2 - 1]:.3f} at step {T // 2}.",
            f"The readout accuracy goes from {readout.accuracy[-steps]:.4f} at step "
            f"{T - steps + 1} to {readout.accuracy[-1]:.4f} at step {T}.",
        ),
    )


# -- decision time --------------------------------------------------------------------------


def first_or_last(readout: Readout, name: str, k: int = 5) -> Findings:
    """The readout accuracy at the first ``k`` steps (``[:k]``) and at the last ``k``
    (``[-k:]``, from the last backwards as report B lists them)."""
    T = readout.steps
    return Findings(
        f"{name}: the first {_count(k)} steps or the last {_count(k)}",
        (
            f"Readout accuracy at steps 1-{k} (what [:{k}] shows): "
            + ", ".join(f"{a:.4f}" for a in readout.accuracy[:k])
            + ".",
            f"At steps {T}, {T - 1}, ..., {T - k + 1} (the last {_count(k)}, [-{k}:], from the "
            "last as report B lists them): "
            + ", ".join(f"{a:.4f}" for a in readout.last_steps(k))
            + ".",
        ),
    )


def last_steps_rows(
    readout: Readout, reference: tuple[str, Sequence[float]]
) -> list[dict[str, object]]:
    """The readout at the last steps beside a cited list, ``reference = (label, values)``
    with ``values`` from the last step backwards; one row per value."""
    label, values = reference
    T = readout.steps
    return [
        {
            "step t": T - k,
            "steps before the last": k,
            "accuracy (this build)": f"{acc:.4f}",
            "mean confidence": f"{readout.mean_confidence[T - 1 - k]:.4f}",
            label: f"{cited:.4f}",
        }
        for k, (acc, cited) in enumerate(zip(readout.last_steps(len(values)), values, strict=True))
    ]


def decision_row(name: str, readout: Readout, before: int = 5) -> dict[str, object]:
    """When one model decides: its last-step accuracy, how many steps before the end it
    comes within one point of it (:meth:`~rnnreport.inspection.probes.Readout.steps_within`),
    the share of it reached ``before`` steps before the end, and the median decision step of
    the images it gets right."""
    T, accuracy = readout.steps, readout.accuracy
    decided = readout.decision_steps()[readout.correct[-1]]
    return {
        "model": name,
        f"accuracy at step {T}": f"{accuracy[-1]:.4f}",
        "steps before the end within 1 point": readout.steps_within(0.01),
        f"accuracy {before} steps before / at the end": (
            f"{accuracy[-1 - before] / accuracy[-1]:.1%}" if accuracy[-1] > 0 else "—"
        ),
        "median decision step": f"{np.median(decided):.0f}" if len(decided) else "—",
    }


def decision_time(readout: Readout, name: str, steps: int = 5) -> Findings:
    """How much reading an earlier step costs, and how many of the images the model gets
    right are decided in the last ``steps`` steps."""
    T, accuracy = readout.steps, readout.accuracy
    decided = readout.decision_steps()
    right = decided != probes.UNDECIDED
    first = T - steps + 1
    items = [
        f"Reading step {T - 1} instead of {T} changes the accuracy by "
        f"{(accuracy[-2] - accuracy[-1]) * 100:+.2f} points, reading step {first} by "
        f"{(accuracy[-steps] - accuracy[-1]) * 100:+.2f} points."
    ]
    if right.any():
        items.append(
            f"Of the {right.sum():,} test images it gets right, "
            f"{np.mean(decided[right] >= first):.1%} are decided in the last {_count(steps)} "
            f"steps ({first} to {T}) and {np.mean(decided[right] == T):.1%} only at the very "
            "last one."
        )
    else:
        items.append("It gets no test image right at the last step.")
    return Findings(f"When {name} decides", tuple(items))


def class_rows(readout: Readout, last_ink: np.ndarray) -> list[dict[str, object]]:
    """Per digit: how many images the model gets right, their median decision step, the
    median last inked row of the digit's images, and the share of the right ones decided
    before their last ink."""
    decided, labels, last_ink = readout.decision_steps(), readout.labels, np.asarray(last_ink)
    right = decided != probes.UNDECIDED
    rows = []
    for d in range(10):
        digit = labels == d
        mine = right & digit  # the images of digit d the model gets right
        rows.append(
            {
                "digit": d,
                "images right": f"{mine.sum():,} of {digit.sum():,}",
                "median decision step": f"{np.median(decided[mine]):.0f}" if mine.any() else "—",
                "median last ink row": f"{np.median(last_ink[digit]):.0f}" if digit.any() else "—",
                "decided before the last ink": (
                    f"{np.mean(decided[mine] < last_ink[mine]):.1%}" if mine.any() else "—"
                ),
            }
        )
    return rows


def decision_vs_ink(readout: Readout, last_ink: np.ndarray, name: str) -> Findings:
    """Where the decision falls against the row of the last ink, over the images the model
    gets right."""
    decided = readout.decision_steps()
    right = decided != probes.UNDECIDED
    heading = f"{name}: the decision against the last ink"
    if not right.any():
        return Findings(heading, (f"{name} gets no test image right at the last step.",))
    gap = decided[right] - np.asarray(last_ink)[right]  # rows from the last ink to the decision
    return Findings(
        heading,
        (
            f"Over all digits, {name} settles on the right answer before the row of the last "
            f"ink for {np.mean(gap < 0):.1%} of the images it gets right, on that row for "
            f"{np.mean(gap == 0):.1%}, and after it for {np.mean(gap > 0):.1%} (median: "
            f"{np.median(gap):+.0f} rows from the last ink).",
        ),
    )


# -- gates by phase -------------------------------------------------------------------------


def phase_rows(means: Mapping[str, np.ndarray], shares: np.ndarray) -> list[dict[str, object]]:
    """One row per recorded name (``layer0.f`` shown as ``f``) with its mean in each of
    :data:`~rnnreport.inspection.measures.PHASES`, then the share of steps in each phase.

    ``means`` from :func:`~rnnreport.inspection.measures.mean_by_phase`, ``shares`` from
    :func:`~rnnreport.inspection.measures.phase_shares`.
    """
    return [
        {"": name.split(".")[1]} | {p: f"{values[k]:.3f}" for k, p in enumerate(measures.PHASES)}
        for name, values in means.items()
    ] + [{"": "share of steps"} | {p: f"{shares[k]:.1%}" for k, p in enumerate(measures.PHASES)}]


def gates_by_phase(means: Mapping[str, np.ndarray], layer: int = 0) -> Findings:
    """Whether an LSTM layer writes on the ink and holds after it: its input and forget
    gates' means (from :func:`~rnnreport.inspection.measures.mean_by_phase`) in each phase."""
    i, f = means[f"layer{layer}.i"], means[f"layer{layer}.f"]
    before, on, after = range(len(measures.PHASES))
    writes, holds = i[on] > i[after], f[after] > f[on]
    return Findings(
        f"The input and forget gates of layer {layer + 1}, by phase",
        (
            f"Before the first ink, the forget gate averages {f[before]:.3f} and the input gate "
            f"{i[before]:.3f}; on the ink they average {f[on]:.3f} and {i[on]:.3f}, and after "
            f"the last ink {f[after]:.3f} and {i[after]:.3f}.",
            f"The input gate is {'higher' if writes else 'lower'} on the ink than after it, "
            f"and the forget gate {'higher' if holds else 'lower'} after the ink than on it: "
            + (
                "on average, the gates let more in while the digit arrives and keep more once "
                "the rows go blank (a statement about the gates' means over units and images, "
                "not about what any one unit stores)."
                if writes and holds
                else "the simple picture of writing on the ink and holding after it does not "
                "hold for this model."
            ),
        ),
    )


# -- saturation and saliency ----------------------------------------------------------------


def saturation_panels(
    entries: Sequence[GateSaturation],
) -> dict[str, list[tuple[np.ndarray, np.ndarray]]]:
    """``{"gate f": [(left, right) per layer], ...}``, in the model's order, for
    :func:`~rnnreport.inspection.plots.inside.saturation_scatter`."""
    panels: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
    for s in entries:
        panels.setdefault(f"gate {s.gate}", []).append((s.left, s.right))
    return panels


def saturation_rows(saturation: Mapping[str, Sequence[GateSaturation]]) -> list[dict[str, object]]:
    """One row per model: for each of :data:`~rnnreport.inspection.measures.SIGMOID_GATES`,
    the mean over units (and layers) of the share of steps left / right saturated, and how
    many units are saturated more than half the time; "—" for a gate the model lacks."""
    rows = []
    for name, entries in saturation.items():
        row: dict[str, object] = {"model": name}
        for gate in measures.SIGMOID_GATES:
            mine = [s for s in entries if s.gate == gate]
            if not mine:
                row[gate] = "—"
                continue
            left = np.concatenate([s.left for s in mine])
            right = np.concatenate([s.right for s in mine])
            mostly = int(np.sum(left + right > 0.5))
            row[gate] = f"{left.mean():.2f} / {right.mean():.2f} ({mostly} of {len(left)})"
        rows.append(row)
    return rows


def saturation_findings(
    saturation: Mapping[str, Sequence[GateSaturation]], names: Sequence[str]
) -> Findings:
    """For each model in ``names``: each gate's share of steps saturated (either way),
    averaged over its layers, and the layer where it saturates most."""
    items = []
    for name in names:
        entries = saturation[name]
        parts = []
        for gate in dict.fromkeys(s.gate for s in entries):  # the model's order
            layers = [s for s in entries if s.gate == gate]
            share = [float(np.mean(s.left + s.right)) for s in layers]
            most = layers[int(np.argmax(share))]
            parts.append(
                f"{gate}: {np.mean(share):.1%} of steps saturated on average, most in layer "
                f"{most.layer + 1}"
            )
        items.append(f"{display_name(name)} — " + "; ".join(parts) + ".")
    return Findings("How often the gates saturate", tuple(items))


def saliency_rows(
    saliency: Mapping[str, np.ndarray], bands: Sequence[tuple[int, int]]
) -> list[dict[str, object]]:
    """One row per model: the row with the largest mean gradient size and the share of it
    in each band of rows ``(first, last)``, both included, counted from 1.

    ``saliency[model]`` (rows,): the mean over images of
    :func:`~rnnreport.inspection.measures.row_saliency`.
    """
    return [
        {
            "model": name,
            "row with the largest share": int(np.argmax(curve)) + 1,
            **{
                f"share in rows {a}-{b}": f"{curve[a - 1 : b].sum() / curve.sum():.1%}"
                for a, b in bands
            },
        }
        for name, curve in saliency.items()
    ]


def saliency_findings(
    saliency: Mapping[str, np.ndarray], ink: np.ndarray, from_row: int = 20
) -> Findings:
    """How much of each model's gradient size lies in rows ``from_row`` to the last,
    against how much of the rows and of the ink lie there.

    ``ink`` (rows,) from :func:`~rnnreport.inspection.measures.ink_by_row`.
    """
    ink = np.asarray(ink)
    T = len(ink)
    late = {name: curve[from_row - 1 :].sum() / curve.sum() for name, curve in saliency.items()}
    most, least = max(late, key=late.get), min(late, key=late.get)
    return Findings(
        f"The gradient in rows {from_row}-{T}",
        (
            f"Rows {from_row}-{T} hold {late[least]:.1%} ({least}) to {late[most]:.1%} ({most}) "
            "of the gradient's size.",
            f"They are {(T - from_row + 1) / T:.0%} of the rows, and "
            f"{ink[from_row - 1 :].sum() / ink.sum():.1%} of the test set's inked rows (counted "
            "per image) lie there.",
        ),
    )
