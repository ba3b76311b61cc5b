r"""
Q3.3: when is the decision made?
================================

The classifier only ever reads the recurrent output of the last step. The assignment asks
to feed it the output of each of the last five steps instead, as if that step were the
last, and to say when the decision is made. Report B did this for its GRU and listed five
test accuracies; report A plotted accuracy and confidence over every step. Here both are
computed for all eight models of the grid over the 10,000 test images, and, for each image,
the step after which its prediction stays right.
"""

# %%
# Readout at every step, for every model
# --------------------------------------
# ``model(x, every_step=True)`` applies the trained head (ReLU, FC 64, ReLU, FC 10) to the
# last layer's output at each step; :func:`rnnreport.inspection.probes.readout` turns the
# logits into per-step predictions and max-softmax confidences. The line below says which training
# budget stands behind the numbers.
import numpy as np

from rnnreport import settings
from rnnreport.data import load_mnist
from rnnreport.experiments import grid, reports
from rnnreport.inspection import plots, probes
from rnnreport.inspection.tables import html_table

budget = settings.budget()
print(f"Numbers from this build — {budget.describe()}.")
test = load_mnist().test
names = [f"{cell}-{L}x{H}" for cell in grid.CELLS for L, H in grid.SHAPES]
readouts = {}
for name in names:
    model, result = grid.grid_model(name)
    readouts[name] = probes.readout(model, test.x, test.y)

# %%
# Report B's five numbers, the test accuracies of its GRU from the last step backwards, as
# the report lists them:
REPORT_B = reports.report_b_last_five()
fig = plots.accuracy_by_step(
    {n: (r.accuracy, r.mean_confidence) for n, r in readouts.items()},
    reference=("report B's GRU", REPORT_B),
    title=f"Readout by step, 10,000 test images ({budget.name} budget)",
)

# %%
# Accuracy (left) and mean confidence (right) when the classifier reads step
# :math:`t` as the last. Blue lines are LSTMs, orange GRUs; the line style is the shape.
# The dotted line is chance, 0.1.
#
# The last five steps of GRU-32
# -----------------------------
# The assignment's question, in report B's order. A note on the assignment's notebook: its
# plotting cell sliced the outputs with ``[:5]``, the *first* five steps, where the text asks
# for the last five, ``[-5:]``. Taken literally, it would have shown the readout while the
# top of the frame, blank in most images, is read:
gru = readouts["gru-1x32"]
T = gru.steps
print(
    "GRU-32 readout accuracy at steps 1-5 (what [:5] shows): "
    + ", ".join(f"{a:.4f}" for a in gru.accuracy[:5])
    + f"; at steps {T}, {T - 1}, ..., {T - 4} (the last five, [-5:], from the last as report B "
    "lists them): " + ", ".join(f"{a:.4f}" for a in gru.last_steps(5))
)

# %%
# The table sets ours beside report B's.
html_table(
    [
        {
            "step t": T - k,
            "steps before the last": k,
            "accuracy (this build)": f"{acc:.4f}",
            "mean confidence": f"{gru.mean_confidence[T - 1 - k]:.4f}",
            "report B": f"{b:.4f}",
        }
        for k, (acc, b) in enumerate(zip(gru.last_steps(5), REPORT_B, strict=True))
    ],
    caption=f"GRU-32 readout at the last five steps ({budget.describe()}); "
    "report B's accuracies as it lists them",
)

# %%
# When each model decides
# -----------------------
# For each model: its accuracy at the last step, how many steps before the end it first
# comes within one point of it, and the share of its final accuracy already reached five
# steps before the end.


def within_one_point(r: probes.Readout) -> int:
    """How many steps before the last the accuracy first comes within 0.01 of its final value."""
    first = int(np.flatnonzero(r.accuracy >= r.accuracy[-1] - 0.01)[0]) + 1  # a step, 1..T
    return r.steps - first


rows = [
    {
        "model": n,
        "accuracy at step 28": f"{r.accuracy[-1]:.4f}",
        "steps before the end within 1 point": within_one_point(r),
        "accuracy 5 steps before / at the end": f"{r.accuracy[-6] / r.accuracy[-1]:.1%}",
        "median decision step": f"{np.median(r.decision_steps()[r.correct[-1]]):.0f}",
    }
    for n, r in readouts.items()
]
html_table(rows, caption=f"When the decision is made ({budget.name} budget)")

# %%
# The decision step of an image (:func:`rnnreport.inspection.probes.decision_steps`) is the
# first step after which its prediction stays correct to the end; images the model gets wrong at the
# last step have none. The median above is over the images each model gets right.
decided = gru.decision_steps()
right = decided != probes.UNDECIDED
print(
    f"GRU-32: reading step {T - 1} instead of {T} changes the accuracy by "
    f"{(gru.accuracy[-2] - gru.accuracy[-1]) * 100:+.2f} points, reading step {T - 4} by "
    f"{(gru.accuracy[-5] - gru.accuracy[-1]) * 100:+.2f} points. Of the "
    f"{right.sum():,} test images it gets right, {np.mean(decided[right] >= T - 4):.1%} are "
    f"decided in the last five steps ({T - 4} to {T}) and {np.mean(decided[right] == T):.1%} "
    "only at the very last one."
)

# %%
# Decision time against the last ink
# ----------------------------------
# A digit cannot be known before enough of it has been read. For each digit class: when
# GRU-32's prediction settles (bars), beside the row of the digit's lowest ink (outline).
last_ink = probes.last_ink_rows(test.x)
fig = plots.decision_histograms(
    decided,
    last_ink,
    test.y,
    steps=T,
    title=f"GRU-32: decision step and last inked row per digit ({budget.name} budget)",
)

# %%
gap = decided[right] - last_ink[right]


def class_row(d: int) -> dict[str, object]:
    mine = right & (test.y == d)  # the images of digit d that GRU-32 gets right
    return {
        "digit": d,
        "images right": f"{mine.sum():,} of {(test.y == d).sum():,}",
        "median decision step": f"{np.median(decided[mine]):.0f}" if mine.any() else "—",
        "median last ink row": f"{np.median(last_ink[test.y == d]):.0f}",
        "decided before the last ink": f"{np.mean(gap[test.y[right] == d] < 0):.1%}"
        if mine.any()
        else "—",
    }


per_class = [class_row(d) for d in range(10)]
html_table(per_class, caption=f"GRU-32 decision steps by digit ({budget.name} budget)")

# %%
print(
    f"Over all digits, GRU-32 settles on the right answer before the row of the last ink for "
    f"{np.mean(gap < 0):.1%} of the images it gets right, on that row for "
    f"{np.mean(gap == 0):.1%}, and after it for {np.mean(gap > 0):.1%} (median: "
    f"{np.median(gap):+.0f} rows from the last ink)."
)

# sphinx_gallery_thumbnail_number = 1
