r"""
Gate saturation and row saliency
================================

Two views of every trained model that go beyond the assignment's questions. Karpathy,
Johnson and Fei-Fei (2015) call a gate left-saturated when its value is below 0.1 (nearly
shut) and right-saturated above 0.9 (nearly open), and plot, for each unit, the fraction of
steps it spends in each regime. Row saliency asks the converse of the readout of
:ref:`sphx_glr_auto_examples_plot_06_decision_time.py`: not when the answer is known, but
which input rows the final answer depends on, measured by the size of the gradient of the
true class's logit with respect to each row.
"""

# %%
# Saturation, per unit
# --------------------
# :func:`rnnreport.inspection.probes.gate_saturation` counts, for each unit of each sigmoid gate of
# each layer, the share of its (step, image) pairs below 0.1 and above 0.9, over the
# 10,000 test images. First the two three-layer models, one point per unit, coloured by
# layer.
import numpy as np

from rnnreport import settings
from rnnreport.data import load_mnist
from rnnreport.experiments import grid
from rnnreport.inspection import plots, probes
from rnnreport.inspection.tables import html_table

budget = settings.budget()
print(f"Numbers from this build — {budget.describe()}.")
test = load_mnist().test
names = [f"{cell}-{L}x{H}" for cell in grid.CELLS for L, H in grid.SHAPES]
models = {name: grid.grid_model(name)[0] for name in names}
saturation = {name: probes.gate_saturation(m, test.x) for name, m in models.items()}


def by_gate(entries: list[probes.GateSaturation]) -> dict[str, list[tuple]]:
    """{gate: [(left, right) per layer]}, for
    :func:`rnnreport.inspection.plots.saturation_scatter`."""
    panels: dict[str, list[tuple]] = {}
    for s in entries:
        panels.setdefault(f"gate {s.gate}", []).append((s.left, s.right))
    return panels


fig = plots.saturation_scatter(
    by_gate(saturation["lstm-3x32"]), title=f"LSTM-3x32 gates ({budget.name} budget)"
)

# %%
fig = plots.saturation_scatter(
    by_gate(saturation["gru-3x32"]), title=f"GRU-3x32 gates ({budget.name} budget)"
)

# %%
# A point at the origin is a unit whose gate never saturates; a point on the dashed
# diagonal is always saturated, one way or the other; high up the y axis, almost always
# open. For all eight models: the mean over units (and layers) of each gate's share of
# steps left / right saturated, and the number of units saturated more than half the time.


def summary(entries: list[probes.GateSaturation]) -> dict[str, str]:
    out = {}
    for gate in probes.SIGMOID_GATES:
        mine = [s for s in entries if s.gate == gate]
        if not mine:
            out[gate] = "—"
            continue
        left = np.concatenate([s.left for s in mine])
        right = np.concatenate([s.right for s in mine])
        mostly = int(np.sum(left + right > 0.5))
        out[gate] = f"{left.mean():.2f} / {right.mean():.2f} ({mostly} of {len(left)})"
    return out


html_table(
    [{"model": name} | summary(entries) for name, entries in saturation.items()],
    caption="Mean share of steps left / right saturated (units saturated more than half the "
    f"time), 10,000 test images ({budget.name} budget)",
)

# %%
# In numbers from this build:
for cell, gates in (("lstm", "ifo"), ("gru", "zr")):
    entries = saturation[f"{cell}-3x32"]
    parts = []
    for gate in gates:
        layers = [s for s in entries if s.gate == gate]
        most = max(layers, key=lambda s: float(np.mean(s.left + s.right)))
        parts.append(
            f"{gate}: {np.mean([np.mean(s.left + s.right) for s in layers]):.1%} of steps "
            f"saturated on average, most in layer {most.layer + 1}"
        )
    print(f"{cell.upper()}-3x32 — " + "; ".join(parts) + ".")

# %%
# Row saliency
# ------------
# :func:`rnnreport.inspection.probes.row_saliency` gives, for each test image, the norm of the
# gradient of the true class's logit with respect to each of the 28 input rows. Averaged
# over the test set and scaled to sum to 1 per model, the curves say where in the image
# the final logit is sensitive. The gray bars are the share of test images with ink in
# each row. The pixels are 0 or 1, so the gradient is a local measure: how much the logit
# would move for a small change of a row, not what happens when a stroke is removed.
saliency = {name: probes.row_saliency(m, test.x, test.y).mean(axis=0) for name, m in models.items()}
ink = (test.x > 0).any(axis=2).mean(axis=0)  # (28,)
fig = plots.row_saliency(saliency, ink=ink)

# %%
T = len(ink)
thirds = [(1, 9), (10, 19), (20, T)]
html_table(
    [
        {
            "model": name,
            "row with the largest share": int(np.argmax(curve)) + 1,
            **{
                f"share in rows {a}-{b}": f"{curve[a - 1 : b].sum() / curve.sum():.1%}"
                for a, b in thirds
            },
        }
        for name, curve in saliency.items()
    ],
    caption=f"Where the gradient of the true logit lies ({budget.name} budget)",
)

# %%
late = {name: curve[19:].sum() / curve.sum() for name, curve in saliency.items()}
most, least = max(late, key=late.get), min(late, key=late.get)
print(
    f"Rows 20-{T} hold {late[least]:.1%} ({least}) to {late[most]:.1%} ({most}) of the "
    f"gradient's size. They are {(T - 19) / T:.0%} of the rows, and "
    f"{ink[19:].sum() / ink.sum():.1%} of the test set's inked rows (counted per image) lie "
    "there."
)

# sphinx_gallery_thumbnail_number = 1
