r"""
Q3.2: the GRU's outputs over time
=================================

The assignment asks us to plot, for the GRU with 32 units, the recurrent outputs over the
28 steps beside the input image, and to say what happens in the first few steps. Report A
showed one digit and described its outputs as dark early and strong late. Here the same
picture is drawn for several digits, and the claims about the first and last steps are
measured over all 10,000 test images.
"""

# %%
# The model
# ---------
# The grid's GRU-32 (reset before the recurrent matmul, as in TensorFlow 1), taken from the
# cache or trained now. The budget line says how much training stands behind the numbers.
from rnnreport import settings
from rnnreport.data import load_mnist
from rnnreport.experiments import grid
from rnnreport.inspection import measures, plots, probes, readings
from rnnreport.inspection.tables import html_table

budget = settings.budget()
print(f"Numbers from this build — {budget.describe()}.")
model, result = grid.grid_model("gru-1x32")
test = load_mnist().test
print(f"{result.name}: test accuracy {result.test_accuracy:.4f}")

# %%
# Outputs beside the image
# ------------------------
# :func:`rnnreport.inspection.probes.trace_dataset` records :math:`h_t` for every test image, shaped
# (T, N, H) = (28, 10000, 32). Each map below has the step on the vertical axis, level with
# the image row the GRU read at that step, and the 32 units across; the first test image of
# five different digits is shown.
h = probes.trace_dataset(model, test.x, names=["layer0.h"])["layer0.h"]  # (28, N, 32)
picked = probes.first_of_each(test.y, [0, 2, 4, 7, 9])
fig = plots.inside.rows_beside_images(
    test.x[picked],
    {"GRU output $h_t$": h[:, picked]},
    labels=[f"test image {i}: digit {test.y[i]}" for i in picked],
    ranges={"GRU output $h_t$": (-1.0, 1.0)},
)

# %%
# The first steps
# ---------------
# MNIST digits sit in the middle of their 28 × 28 frame, so the top rows are blank. Every
# image that has shown no ink yet has fed the GRU the same zeros, so it is in the same state:
# the spread of :math:`h_t` across the test set is exactly zero until the first ink arrives.
# The table measures this per step: the share of images with ink so far, the spread across
# images (standard deviation, averaged over units), the mean size :math:`|h_t|`, the mean
# change :math:`\lVert h_t - h_{t-1} \rVert`, and the accuracy of the classifier when it
# reads :math:`h_t` as if it were the last output.
stats = measures.state_statistics(h)
seen = measures.ink_so_far(test.x)  # (28,)
out = probes.readout(model, test.x, test.y)
T = h.shape[0]
html_table(
    readings.step_rows(stats, out, seen, range(1, 6)),
    caption=f"GRU-32 over the first five steps, 10,000 test images ({budget.name} budget)",
)

# %%
# What the first steps show, in numbers from this build
# (:func:`rnnreport.inspection.readings.first_steps`):
readings.first_steps(h, measures.first_ink_rows(test.x), out, "GRU-32")

# %%
# The last steps
# --------------
# At the bottom of the frame the rows are blank again for most digits. The same measures
# over the last five steps:
html_table(
    readings.step_rows(stats, out, seen, range(T - 4, T + 1)),
    caption=f"GRU-32 over the last five steps, 10,000 test images ({budget.name} budget)",
)

# %%
readings.last_steps(stats, out, measures.last_ink_rows(test.x), "GRU-32")

# %%
# The whole picture
# -----------------
# All four measures over all 28 steps, with the share of images that have shown ink so far
# and the share that still have ink to come. The next example
# (:ref:`sphx_glr_auto_examples_plot_06_decision_time.py`) asks the assignment's last
# question: at which step is the decision made?
fig = plots.inside.state_over_time(
    stats, out.accuracy, seen, measures.ink_to_come(test.x), name="GRU-32"
)

# sphinx_gallery_thumbnail_number = 1

# %%
# What made these numbers
# -----------------------
from rnnreport.experiments.provenance import made_by

made_by()
