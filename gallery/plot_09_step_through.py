r"""
Step through the cells
======================

Every other figure on this site shows a few digits the build chose. Here the reader drives:
pick one of twenty test digits, or draw one, and watch the grid's GRU-32 and LSTM-32 read
it row by row. The two models run in this page, in JavaScript, one line per equation of
:mod:`rnnreport.model.cells`, from the weights this build trained; the browser test holds
every state, gate and probability they compute here to the Python forward within 1e-5.

.. raw:: html

   <link rel="stylesheet" href="../_static/explorer/explorer.css">
   <div class="rnnreport-explorer" data-explorer="step-through"></div>
   <noscript><p class="explorer-static-note">With JavaScript on, this page runs the trained
   GRU-32 and LSTM-32 on a test digit you pick or a digit you draw on a 28 × 28 grid, and
   shows, step by step, their states, their gates and the ten class probabilities, with a
   slider over the 28 steps. Without it, the figure at the end of the page shows the same
   maps for two test digits.</p></noscript>
   <script src="../explorer_digits.js"></script>
   <script src="../_static/explorer/explorer.js"></script>

What the panels show, for each model: on the left the rows of the image as the model reads
them (binarized: a pixel is ink where its grey value is above 0.1, as in training); then
one map per recorded quantity, with step :math:`t` going down, level with row :math:`t`, and
one column per unit: the output :math:`h_t` (blue negative, red positive), the LSTM's cell
state :math:`c_t` (scaled to its largest value on this digit), the gates in (0, 1) (dark to
yellow: the LSTM's input, forget and output gates :math:`i_t, f_t, o_t`; the GRU's update
and reset gates :math:`z_t, r_t`); and last the ten class probabilities read through the
trained head after every step, as if the image ended there (report B's last-five-steps
experiment, for any image). The slider (drag it, or focus it and use the arrow keys) marks
step :math:`t` in every map, veils the steps after it, and says what each model would
answer if the image ended at row :math:`t`. Drawing on the pad adds ink to the digit shown;
"clear" starts from a blank one.
"""

# %%
# The models and the digits
# -------------------------
# The grid's GRU-32 and LSTM-32 of seed 0, from the cache (they are trained for the
# results grid), and the first two test images of each digit.
# :func:`rnnreport.experiments.explorer.write_step_through` writes their weights, the gate
# layout and the input rule to a script the page loads, and the Python forward of both on
# the twenty digits beside it, for the browser test.
from rnnreport import settings
from rnnreport.data import load_mnist
from rnnreport.experiments import explorer, grid
from rnnreport.inspection import plots, probes

budget = settings.budget()
print(f"Models from this build — {budget.describe()}.")
models = {name: grid.grid_model(name)[0] for name in ("gru-1x32", "lstm-1x32")}
test = load_mnist().test
picked = explorer.chosen_digits(test.y)
print(explorer.write_step_through(models, test.x[picked], test.y[picked]))

# %%
# The same maps, drawn in the build
# ---------------------------------
# For readers without JavaScript: the outputs :math:`h_t` of both models on two of the
# digits above, drawn by :func:`rnnreport.inspection.plots.inside.rows_beside_images` from
# the same models.
two = picked[8:10]
traces = {
    f"{name.split('-')[0].upper()}-32 $h_t$": probes.trace_dataset(
        model, test.x[two], names=["layer0.h"]
    )["layer0.h"]
    for name, model in models.items()
}
fig = plots.inside.rows_beside_images(
    test.x[two],
    traces,
    labels=[f"test image {i}: digit {test.y[i]}" for i in two],
    ranges={title: (-1.0, 1.0) for title in traces},
)

# %%
# What made these numbers
# -----------------------
from rnnreport.experiments.provenance import made_by

made_by()
