r"""
Bonus: the LSTM's gates over time
=================================

The assignment's bonus question asks for the LSTM's gates over time: the input gate
:math:`i_t`, the forget gate :math:`f_t` and the output gate :math:`o_t`. Report B drew
them as images for two test digits. Here they are drawn for a few digits beside the cell state
:math:`c_t`, and their mean values are measured over the test set in three phases of each
image: before its first inked row, on the ink, and after its last inked row.
"""

# %%
# The model
# ---------
# The grid's LSTM-32 (TensorFlow 1's cell, forget bias 1), from the cache or trained now.
from rnnreport import settings
from rnnreport.data import load_mnist
from rnnreport.experiments import grid
from rnnreport.inspection import measures, plots, probes, readings
from rnnreport.inspection.tables import html_table

budget = settings.budget()
print(f"Numbers from this build — {budget.describe()}.")
model, result = grid.grid_model("lstm-1x32")
test = load_mnist().test
print(f"{result.name}: test accuracy {result.test_accuracy:.4f}")

# %%
# Gates and cell state beside the image
# -------------------------------------
# :func:`rnnreport.inspection.probes.record` captures every gate of every layer while the
# model runs, under names such as ``layer0.f``, each shaped (T, B, H). Step :math:`t` is level with
# row :math:`t` of the image; the 32 units go across. The gates lie in (0, 1); the cell
# state is unbounded, and its colour scale is symmetric around 0.
picked = probes.first_of_each(test.y, [1, 3, 8])
with probes.record(model) as trace:
    for images in probes.batches(model, test.x[picked]):
        model(images)
print(trace)

# %%
panels = {
    "input gate $i_t$": "layer0.i",
    "forget gate $f_t$": "layer0.f",
    "output gate $o_t$": "layer0.o",
    "cell state $c_t$": "layer0.c",
}
fig = plots.inside.rows_beside_images(
    test.x[picked],
    {title: trace[name] for title, name in panels.items()},
    labels=[f"digit {test.y[i]}" for i in picked],
    ranges={title: (0.0, 1.0) for title in list(panels)[:3]},
    cmaps={title: "magma" for title in list(panels)[:3]},
)

# %%
# Gates by phase, over the whole test set
# ---------------------------------------
# :func:`rnnreport.inspection.measures.mean_by_phase` averages each gate over the units and over the
# (step, image) pairs of each phase, for all 10,000 test images, in batches.
names = ["layer0.i", "layer0.f", "layer0.o", "layer0.c", "layer0.h"]
means = measures.mean_by_phase(model, test.x, names)
html_table(
    readings.phase_rows(means, measures.phase_shares(test.x)),
    caption=f"LSTM-32: mean gate values by phase, 10,000 test images ({budget.name} budget)",
)

# %%
# What the table says, in numbers from this build
# (:func:`rnnreport.inspection.readings.gates_by_phase`):
readings.gates_by_phase(means)

# %%
# Over time, averaged
# -------------------
# The same gates averaged over units and test images at each step
# (:func:`rnnreport.inspection.measures.mean_by_step`). Averages hide units
# that open while others close (see the maps above); the saturation plots of the next
# example look at units one by one.
by_step = measures.mean_by_step(model, test.x, names[:3])  # each (28,)
fig = plots.inside.gates_over_time(
    {
        "input gate i": by_step["layer0.i"],
        "forget gate f": by_step["layer0.f"],
        "output gate o": by_step["layer0.o"],
    },
    title=f"LSTM-32 gates over time, 10,000 test images ({budget.name} budget)",
)

# sphinx_gallery_thumbnail_number = 1

# %%
# What made these numbers
# -----------------------
from rnnreport.experiments.provenance import made_by

made_by()
