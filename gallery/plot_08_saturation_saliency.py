r"""
Gate saturation and row saliency
================================

Two views of every trained model that go beyond the assignment's questions: how often
its gates saturate, and which input rows its answer depends on.

:cite:t:`karpathy2015visualizing` call a gate left-saturated when its value is below 0.1
(nearly shut) and right-saturated above 0.9 (nearly open), and plot, for each unit, the
fraction of steps it spends in each regime. Row saliency asks the converse of the readout of
:ref:`sphx_glr_auto_examples_plot_06_decision_time.py`: not when the answer is known, but
which input rows the final answer depends on, measured by the size of the gradient of the
true class's logit with respect to each row.
"""

# %%
# Saturation, per unit
# --------------------
# :func:`rnnreport.inspection.measures.gate_saturation` counts, for each unit of each sigmoid
# gate of each layer, the share of its (step, image) pairs below 0.1 and above 0.9, over
# the 10,000 test images. First the two three-layer models, one point per unit, coloured
# by layer.
from rnnreport import settings
from rnnreport.data import load_mnist
from rnnreport.experiments import grid
from rnnreport.inspection import measures, plots, readings
from rnnreport.inspection.tables import html_table

budget = settings.budget()
print(f"Numbers from this build — {budget.describe()}.")
test = load_mnist().test
names = grid.model_names()
models = {name: grid.grid_model(name)[0] for name in names}
saturation = {name: measures.gate_saturation(m, test.x) for name, m in models.items()}

fig = plots.inside.saturation_scatter(
    readings.saturation_panels(saturation["lstm-3x32"]),
    title=f"LSTM-3x32 gates ({budget.name} budget)",
)

# %%
fig = plots.inside.saturation_scatter(
    readings.saturation_panels(saturation["gru-3x32"]),
    title=f"GRU-3x32 gates ({budget.name} budget)",
)

# %%
# A point at the origin is a unit whose gate never saturates; a point on the dashed
# diagonal is always saturated, one way or the other; high up the y axis, almost always
# open. For all eight models: the mean over units (and layers) of each gate's share of
# steps left / right saturated, and the number of units saturated more than half the time.
html_table(
    readings.saturation_rows(saturation),
    caption="Mean share of steps left / right saturated (units saturated more than half the "
    f"time), 10,000 test images ({budget.name} budget)",
)

# %%
# In numbers from this build
# (:func:`rnnreport.inspection.readings.saturation_findings`):
readings.saturation_findings(saturation, ["lstm-3x32", "gru-3x32"])

# %%
# Row saliency
# ------------
# :func:`rnnreport.inspection.measures.row_saliency` gives, for each test image, the norm of
# the gradient of the true class's logit with respect to each of the 28 input rows.
# Averaged over the test set (:func:`~rnnreport.inspection.measures.mean_row_saliency`) and
# scaled to sum to 1 per model, the curves say where in the image the final logit is
# sensitive. The gray bars are the share of test images with ink in each row. The pixels
# are 0 or 1, so the gradient is a local measure: how much the logit would move for a
# small change of a row, not what happens when a stroke is removed.
saliency = {name: measures.mean_row_saliency(m, test.x, test.y) for name, m in models.items()}
ink = measures.ink_by_row(test.x)  # (28,): the share of test images with ink in each row
fig = plots.inside.saliency_curves(saliency, ink=ink)

# %%
html_table(
    readings.saliency_rows(saliency, [(1, 9), (10, 19), (20, len(ink))]),
    caption=f"Where the gradient of the true logit lies ({budget.name} budget)",
)

# %%
readings.saliency_findings(saliency, ink, from_row=20)

# sphinx_gallery_thumbnail_number = 1

# %%
# What made these numbers
# -----------------------
from rnnreport.experiments.provenance import made_by

made_by()
