r"""
The grid: LSTM vs GRU on row-by-row MNIST
==========================================

The assignment asks for eight models — an LSTM and a GRU, each with one layer of 32, 64 or
128 units or three stacked layers of 32 — trained for 10 epochs with Adam on binarized
MNIST read one row of 28 pixels per time step, and for their test loss and accuracy.
Report A trained each model once. Here every model is trained with several seeds, in this
build (or taken from its cache), so that we can tell which differences are real.
"""

# %%
# Train the grid
# --------------
# :func:`rnnreport.experiments.grid.run_grid` trains what the cache does not hold yet. The budget
# (``RNNREPORT_BUDGET``) decides how much: the line below says which one made these numbers.
from rnnreport import settings
from rnnreport.experiments import grid
from rnnreport.inspection import plots

table = grid.run_grid()
print(table.budget.describe())

# %%
# The results
# -----------
# Test loss is the cross-entropy summed over the 10,000 test images, as the course
# reported it; each entry is the mean ± standard deviation over seeds. Report A's numbers
# stand beside ours (it gives accuracies for only some of its GRUs).
table

# %%
# What the table says
# -------------------
# The sentences below are generated from the table above. A difference between two models
# counts as real only when it is larger than the two models' spreads across seeds combined.
findings = grid.findings(table)
findings

# %%
# Learning curves
# ---------------
# Validation accuracy after each epoch (left) and the mean training loss per image (right),
# averaged over seeds; the band around each line is the range over seeds.
_ = plots.results.learning_curves(table.curves())

# %%
# Test accuracy, ours and report A's
# ----------------------------------
# Bars are our mean test accuracy (error bars: the standard deviation over seeds); diamonds
# are report A's single runs, where it reports them.
key_figure = plots.results.accuracy_by_model(
    [r.model for r in table.rows],
    [r.test_accuracy for r in table.rows],
    [r.test_accuracy_std for r in table.rows],
    reference=[r.report_a_accuracy for r in table.rows],
)

# %%
# Files for the site
# ------------------
# The table goes next to the built pages as CSV and JSON; the landing page shows the
# findings and the figure.
out = settings.output_dir()
table.write(out)
(out / "findings.md").write_text(findings.markdown())
key_figure.savefig(out / "key_figure.png", dpi=240)  # twice the pixels shown: sharp on HiDPI
print(f"wrote results.csv, results.json, findings.md and key_figure.png to {out}")

# sphinx_gallery_thumbnail_number = 2

# %%
# What made these numbers
# -----------------------
from rnnreport.experiments.provenance import made_by

made_by()
