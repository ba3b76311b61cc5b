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
import numpy as np

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
fig = plots.rows_beside_images(
    test.x[picked],
    {"GRU output $h_t$": h[:, picked].transpose(1, 0, 2)},
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
import matplotlib.pyplot as plt

steps = np.arange(1, T + 1)
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), layout="constrained")
_ = axes[0].plot(steps, stats["spread"], "o-", ms=3, label="spread across images")
_ = axes[0].plot(steps, stats["magnitude"], "s-", ms=3, label="mean $|h_t|$")
_ = axes[0].plot(steps, stats["change"], "^-", ms=3, label=r"mean $\|h_t - h_{t-1}\|$")
_ = axes[0].set(xlabel="step t", title="GRU-32 output over time")
_ = axes[0].legend(fontsize=8)
_ = axes[1].plot(steps, out.accuracy, "k.-", label="readout accuracy")
_ = axes[1].plot(steps, seen, color="tab:green", label="images with ink so far")
_ = axes[1].plot(steps, measures.ink_to_come(test.x), color="tab:purple",
                 label="images with ink still to come")  # fmt: skip
_ = axes[1].set(xlabel="step t", ylim=(0, 1.02), title="What has been seen, what is known")
_ = axes[1].legend(fontsize=8)
for ax in axes:
    ax.grid(alpha=0.3)

# sphinx_gallery_thumbnail_number = 1
