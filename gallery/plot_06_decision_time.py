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
from rnnreport import settings
from rnnreport.data import load_mnist
from rnnreport.experiments import grid, reports
from rnnreport.inspection import measures, plots, probes, readings
from rnnreport.inspection.tables import html_table

budget = settings.budget()
print(f"Numbers from this build — {budget.describe()}.")
test = load_mnist().test
names = grid.model_names()
readouts = {}
for name in names:
    model, result = grid.grid_model(name)
    readouts[name] = probes.readout(model, test.x, test.y)

# %%
# Report B's five numbers, the test accuracies of its GRU from the last step backwards, as
# the report lists them:
REPORT_B = reports.report_b_last_five()
fig = plots.inside.accuracy_by_step(
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
readings.first_or_last(gru, "GRU-32")

# %%
# The table sets ours beside report B's.
html_table(
    readings.last_steps_rows(gru, ("report B", REPORT_B)),
    caption=f"GRU-32 readout at the last five steps ({budget.describe()}); "
    "report B's accuracies as it lists them",
)

# %%
# When each model decides
# -----------------------
# For each model: its accuracy at the last step, how many steps before the end it first
# comes within one point of it, and the share of its final accuracy already reached five
# steps before the end.
html_table(
    [readings.decision_row(n, r) for n, r in readouts.items()],
    caption=f"When the decision is made ({budget.name} budget)",
)

# %%
# The decision step of an image (:func:`rnnreport.inspection.probes.decision_steps`) is the
# first step after which its prediction stays correct to the end; images the model gets wrong at the
# last step have none. The median above is over the images each model gets right.
readings.decision_time(gru, "GRU-32")

# %%
# Decision time against the last ink
# ----------------------------------
# A digit cannot be known before enough of it has been read. For each digit class: when
# GRU-32's prediction settles (bars), beside the row of the digit's lowest ink (outline).
last_ink = measures.last_ink_rows(test.x)
fig = plots.inside.decision_histograms(
    gru.decision_steps(),
    last_ink,
    test.y,
    steps=gru.steps,
    title=f"GRU-32: decision step and last inked row per digit ({budget.name} budget)",
)

# %%
html_table(
    readings.class_rows(gru, last_ink),
    caption=f"GRU-32 decision steps by digit ({budget.name} budget)",
)

# %%
readings.decision_vs_ink(gru, last_ink, "GRU-32")

# sphinx_gallery_thumbnail_number = 1

# %%
# What made these numbers
# -----------------------
from rnnreport.experiments.provenance import made_by

made_by()
