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
from rnnreport.inspection import plots, probes
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
digits = [0, 2, 4, 7, 9]
picked = [int(np.flatnonzero(test.y == d)[0]) for d in digits]
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
stats = probes.state_statistics(h)
first_ink = probes.first_ink_rows(test.x)
out = probes.readout(model, test.x, test.y)
T = h.shape[0]


def step_row(t: int) -> dict[str, object]:
    return {
        "step t": t,
        "images with ink so far": f"{np.mean((first_ink >= 1) & (first_ink <= t)):.1%}",
        "spread of h_t": f"{stats['spread'][t - 1]:.4f}",
        "mean |h_t|": f"{stats['magnitude'][t - 1]:.3f}",
        "change from h_(t-1)": f"{stats['change'][t - 1]:.3f}",
        "readout accuracy": f"{out.accuracy[t - 1]:.4f}",
    }


html_table(
    [step_row(t) for t in range(1, 6)],
    caption=f"GRU-32 over the first five steps, 10,000 test images ({budget.name} budget)",
)

# %%
# What the first steps show, in numbers from this build:
blank_everywhere = int(first_ink[first_ink > 0].min()) - 1  # rows blank in every image
blank_at_5 = (first_ink == 0) | (first_ink > 5)  # (N,): no ink in rows 1..5
same = max(float(h[t][blank_at_5].std(axis=0).max()) for t in range(5))
state = (
    f"are in one and the same state at every step up to 5, up to float32 rounding (the "
    f"largest standard deviation of any unit across them is {same:.2g}): the GRU knows "
    "nothing of them yet"
    if same < 1e-4
    else f"differ in their states (a standard deviation of up to {same:.2g} across them)"
)
print(
    f"The first {blank_everywhere} row(s) are blank in every test image, and "
    f"{np.mean((first_ink == 0) | (first_ink > 3)):.1%} of images have no ink in rows 1-3 "
    f"({blank_at_5.mean():.1%} in rows 1-5). The {blank_at_5.sum():,} images still blank at "
    f"step 5 {state}. The state still moves, from h_0 = 0 towards the state that blank rows "
    f"lead to: the mean change of h_t is {stats['change'][0]:.3f} at step 1 and "
    f"{stats['change'][2]:.3f} at step 3."
)
first_predictions = np.unique(out.predictions[0])
if len(first_predictions) == 1:
    d = int(first_predictions[0])
    print(
        f"Reading h_1, the classifier predicts digit {d} for every image, so its accuracy "
        f"there, {out.accuracy[0]:.4f}, is just the share of {d}s in the test set "
        f"({np.mean(test.y == d):.4f}), near chance (0.1)."
    )
else:
    print(
        f"Reading h_1, the classifier makes {len(first_predictions)} different predictions; "
        f"its accuracy there is {out.accuracy[0]:.4f} (chance: 0.1)."
    )

# %%
# The last steps
# --------------
# At the bottom of the frame the rows are blank again for most digits. The same measures
# over the last five steps:
html_table(
    [step_row(t) for t in range(T - 4, T + 1)],
    caption=f"GRU-32 over the last five steps, 10,000 test images ({budget.name} budget)",
)

# %%
last_ink = probes.last_ink_rows(test.x)
late, middle = stats["change"][-5:].mean(), stats["change"][-10:-5].mean()
print(
    f"{np.mean(last_ink <= T - 5):.1%} of test images have no ink in the last five rows. Over "
    f"those steps the output changes by {late:.3f} per step on average, against "
    f"{middle:.3f} over the five steps before ({'less' if late < middle else 'more'}); the "
    f"spread across images is {stats['spread'][-1]:.3f} at the last step, against "
    f"{stats['spread'][T // 2 - 1]:.3f} at step {T // 2}. The readout accuracy goes from "
    f"{out.accuracy[-5]:.4f} at step {T - 4} to {out.accuracy[-1]:.4f} at step {T}."
)

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
seen = [np.mean((first_ink >= 1) & (first_ink <= t)) for t in steps]
_ = axes[1].plot(steps, seen, color="tab:green", label="images with ink so far")
_ = axes[1].plot(steps, [np.mean(last_ink > t) for t in steps], color="tab:purple",
                 label="images with ink still to come")  # fmt: skip
_ = axes[1].set(xlabel="step t", ylim=(0, 1.02), title="What has been seen, what is known")
_ = axes[1].legend(fontsize=8)
for ax in axes:
    ax.grid(alpha=0.3)

# sphinx_gallery_thumbnail_number = 1
