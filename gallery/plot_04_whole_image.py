r"""
Whole-image models beside the recurrent ones (Q3.1)
====================================================

Question 3.1 asks how the recurrent classifiers compare with the models of the course's
first homework, which see all 784 pixels at once: softmax regression, feed-forward nets
with one and two hidden layers, and a small convolutional net. Report A answers from
memory (about 92% for softmax regression, 96.5% for the feed-forward nets and 98.5% for
the CNN). Here the four models are trained in this build, on the same binarized images and
the same split, with the same optimizer, batches and budget as the recurrent grid, so that
the two families differ only in how they look at an image.
"""

# %%
# The four baselines
# ------------------
# :mod:`rnnreport.model.whole_image` builds them at the homework's sizes: hidden layers of 32
# units, and two 3×3 convolutions of 8 filters with 2×2 max-pooling before a layer of 32.
# Their parameter counts follow from the architecture alone.
from rnnreport import settings
from rnnreport.experiments import baselines, grid
from rnnreport.inspection import plots
from rnnreport.model import whole_image
from rnnreport.model.classifier import build_model, count_parameters

for kind in whole_image.KINDS:
    config = whole_image.BaselineConfig(kind=kind)
    print(f"{config.name:<9} {count_parameters(build_model(config)):>7,} parameters")

# %%
# Train them
# ----------
# :func:`rnnreport.experiments.baselines.run_baselines` trains what the cache does not
# hold yet, under the same budget (``RNNREPORT_BUDGET``) as the grid: the line below says which one.
table = baselines.run_baselines()
print(table.budget.describe())

# %%
# Test loss is the cross-entropy summed over the 10,000 test images, each entry the mean ±
# standard deviation over seeds; report A's recalled accuracy stands beside ours.
table

# %%
# Beside the recurrent grid
# -------------------------
# The grid comes from the cache filled by the results example. The baselines' report A
# column holds the accuracies it recalls from Homework 1; the recurrent models' column
# holds its own runs, where it gives them.
recurrent = grid.run_grid()
entries = baselines.side_by_side(table, recurrent)
baselines.side_by_side_table(entries, table.budget)

# %%
# What the numbers say
# --------------------
# Generated from the two tables. A difference counts as real only when it is larger than
# the two models' spreads across seeds combined, as on the results page.
baselines.findings(table, recurrent)

# %%
# Test accuracy by model
# ----------------------
# Gray bars are the whole-image baselines, blue the LSTMs and orange the GRUs (error bars:
# the standard deviation over seeds); diamonds are report A's numbers.
rows = [e.row for e in entries]
_ = plots.results.accuracy_by_model(
    [r.model for r in rows],
    [r.test_accuracy for r in rows],
    [r.test_accuracy_std for r in rows],
    reference=[r.report_a_accuracy for r in rows],
    reference_label="report A (baselines: recalled)",
    title="Whole-image baselines and recurrent models: test accuracy",
)

# %%
# Accuracy against size
# ---------------------
# The same numbers against the number of trainable parameters: squares see the whole
# image, circles read it row by row.
figure = plots.results.accuracy_vs_parameters(
    [r.model for r in rows],
    [r.params for r in rows],
    [r.test_accuracy for r in rows],
    [r.test_accuracy_std for r in rows],
    [e.family for e in entries],
    reference=[r.report_a_accuracy for r in rows],
    reference_label="report A (baselines: recalled)",
)

# %%
# Why they differ
# ---------------
# The models differ in what they assume about images (their inductive bias) more than in
# their size. Each point below states its mechanism and checks it against this build's
# numbers.
baselines.explanation(table, recurrent)

# %%
# The figure for the site
# -----------------------
out = settings.output_dir()
out.mkdir(parents=True, exist_ok=True)
figure.savefig(out / "whole_image.png", dpi=120)
print(f"wrote whole_image.png to {out}")

# sphinx_gallery_thumbnail_number = 2

# %%
# What made these numbers
# -----------------------
from rnnreport.experiments.provenance import made_by

made_by()
