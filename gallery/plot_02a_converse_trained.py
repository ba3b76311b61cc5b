r"""
The converse, trained: do an LSTM and a GRU learn to count?
===========================================================

The page before this one sets weights by hand: an LSTM cell with its gates at 1 counts,
one per step, while a GRU state stays inside (−1, 1) in exact arithmetic (within [−1, 1]
in float32, which can round it to ±1 exactly) and, in floats, stops moving. That
says what the cells *can* do. Whether gradient descent *finds* the counting solution is
another question, which neither 2018 report touches.

The literature is split. :cite:t:`weiss2018practical` trained LSTMs on aⁿbⁿ that
generalised far beyond their training lengths, and GRUs that did not;
:cite:t:`suzgun2019evaluating` found that generalisation depends on the training regime;
:cite:t:`elnaggar2022exploring` found LSTM, GRU and ReLU networks all failing to count on
Dyck-1 strings much longer than those they were trained on.

Here the library's own cells (the same :class:`~rnnreport.model.cells.LSTMCell` and
:class:`~rnnreport.model.cells.GRUCell` as the MNIST grid, one layer of a few units) learn
the usual next-symbol task on aⁿbⁿ and aⁿbⁿcⁿ (:mod:`rnnreport.data.languages`): after each
symbol, predict the set of symbols that may come next, the end of the string included. A
string is *recognised* when every prediction along it is right. Each cell is trained on
n = 1 … N_train from several seeds and tested on every n up to 10 × N_train (aⁿbⁿ to
n = 1000). The same cells are then trained in the papers' own regimes and set beside them.
"""

# %%
# Train the counters
# ------------------
# :func:`rnnreport.experiments.counting.run_counting` trains what the cache lacks, on one
# CPU thread per run, and stops each run by a stated rule: once every training string has
# been recognised for a number of epochs in a row (or at a cap). The lines below say which
# budget made these numbers and what the training cost.
from rnnreport.experiments import counting, explorer, regimes
from rnnreport.inspection import plots

table = counting.run_counting()
plan = counting.plan(table.budget)
print(counting.describe(table.budget))
print(counting.cost(table))

# %%
# The generalisation range of each seed
# -------------------------------------
# The range is the largest n such that every string up to n is recognised. Every run
# below recognised its whole training range (n ≤ N_train) unless its epochs say "cap";
# what matters is how far past N_train it goes. The last columns give the best unit's fit
# to a straight line in n (see the figure of the units below).
seeds = counting.measure(table)
counting.range_table(seeds, table.budget)

# %%
# What the runs say, beside the papers
# ------------------------------------
# The sentences are generated from the runs above; they say which way our runs fall
# beside :cite:t:`weiss2018practical`, :cite:t:`suzgun2019evaluating` and
# :cite:t:`elnaggar2022exploring`, and how much the seeds vary.
counting.findings(seeds, table.budget)

# %%
# Recognition against n
# ---------------------
# Each row is one run, each column one n; a dark cell is a string recognised. Left of the
# dashed line is what the run was trained on. A counter that generalises stays dark to the
# right; one that learned only the training lengths turns light soon after the line.
_ = plots.counting.recognition_by_n(counting.recognition_panels(seeds), plan.n_train)

# %%
# Inside: does a unit count?
# --------------------------
# For each cell, the run with the largest range on aⁿbⁿ, read along the longest test
# string (n = 10 × N_train): every LSTM cell unit :math:`c_t` and every GRU state unit
# :math:`h_t` against the position in the string, the a's shaded. A unit that counts
# climbs by a constant step per a (a straight line, R² near 1) and comes back down over
# the b's; the findings above say whether the LSTM's does, and by how much its steps up and
# down differ. A GRU unit cannot climb without bound: its state stays within ±1 (dotted
# lines at ±0.99), so whatever count it keeps has to be squeezed into ever smaller steps
# near the bound, and the findings say where its units get there.
_ = plots.counting.counting_units(counting.unit_panels(seeds))

# %%
# Read a string yourself
# ----------------------
# .. raw:: html
#
#    <link rel="stylesheet" href="../_static/explorer/explorer.css">
#    <div class="rnnreport-explorer" data-explorer="counter"></div>
#    <noscript><p class="explorer-static-note">With JavaScript on, you can type a string of
#    a's and b's here (or choose n) and watch the trained LSTM and GRU counters of seed 0
#    read it: every unit's state along the string, the counting unit in bold, the
#    next-symbol predictions at every step, and whether the string is recognised. Without
#    it, the figure above shows the same units on the longest test string.</p></noscript>
#    <script src="../explorer_counters.js"></script>
#    <script src="../_static/explorer/explorer.js"></script>
#
# The same trained counters (seed 0, aⁿbⁿ) run in this page, one line of JavaScript per
# equation of the cells; the bold line is the unit that fits a straight line best above.
# Below each chart, the probability of each next symbol after every position (dark: no,
# yellow: yes), with a white dot where the symbol is allowed. Find the n where each breaks.
print(explorer.write_counters(seeds))

# %%
# In the papers' own regimes
# --------------------------
# Our regime is not the papers'. The same family also trains the counters in the regimes
# of :cite:t:`weiss2018practical` and :cite:t:`suzgun2019evaluating`, each named after its
# source and stating every choice: units, training range, how the lengths spread over it,
# loss, optimiser, batch, stopping rule and seeds. Where a paper leaves a choice open, or
# where we changed one to keep the build's cost down, the last column says what we chose.
outcomes = regimes.measure_regimes(table, table.budget)
print(regimes.costs(table.results, table.budget))
regimes.regime_table(table.budget)

# %%
# Each run, to the cap: range and e₁ … e₅
# ----------------------------------------
# Every run is tested on every n up to its cap: at least 10 × N_train, and at least
# n = 1000 for aⁿbⁿ, so that a success at n = 256 would show. Beside its range, each run
# gives e₁ … e₅, the first five n it fails, the measure of :cite:t:`suzgun2019evaluating`:
# a run that fails at one n and recovers shows it here.
regimes.seed_table(outcomes, table.budget)

# %%
# Beside the papers
# -----------------
# One row per regime, cell and language: our ranges over seeds next to what the paper
# reports, and whether that is reproduced. The sentences below are generated from the
# table, with where each paper's figure comes from.
regimes.comparison_table(outcomes, table.budget)

# %%
regimes.findings(outcomes, table.budget)

# %%
# Recognition against n, to the cap
# ---------------------------------
# As the figure above, for every regime: one panel per regime and language, one row per
# run, each column one n up to the cap; the dashed line is the end of the training range.
panels, n_train = regimes.regime_panels(outcomes, table.budget)
_ = plots.counting.recognition_by_n(panels, n_train)

# %%
# What this does and does not show
# --------------------------------
# The claims above hold for these cells (TF1 flavour: LSTM forget bias 1, GRU reset
# before the matmul, Glorot-uniform initial kernels), a few units, float32, one string per
# n in training and the stopping rule stated above; a longer training range, longer
# training past the rule, or another distribution of lengths can change them, which is
# the point of :cite:t:`suzgun2019evaluating`. The papers' regimes above are ours as far as
# we could read theirs: the table of regimes says which choices each paper leaves open,
# which we changed to keep the build's cost down, and where each paper's figure comes from.

# sphinx_gallery_thumbnail_number = 2

# %%
# What made these numbers
# -----------------------
from rnnreport.experiments.provenance import made_by

made_by()
