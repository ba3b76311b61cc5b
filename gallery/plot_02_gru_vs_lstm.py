r"""
Q1.3: is a GRU a special case of an LSTM?
=========================================

The assignment asks whether the GRU's gates can be written through the LSTM's
(:math:`o_t, i_t, f_t`) for the same input. Both student reports say no; report A points
at the LSTM's squashed output, report B at the GRU's reset gate. Neither proves it. Report
A shows that one mapping of the gates fails, not that no LSTM weights could do the job.
Report B's counterexample is one GRU (update gate 0, candidate input weight and bias 0),
not a mapping, and from the zero state that GRU stays at 0 for ever, as an LSTM with all
its weights zero does: by the definition below, that LSTM matches it.

What "special case" means here: a GRU is a special case of an LSTM if some LSTM weights,
of any hidden size, make the LSTM's output :math:`h_t` equal the GRU's state :math:`h_t`
at every step, on every input sequence, both cells starting from the zero state. The LSTM
is the assignment's (TensorFlow 1's ``BasicLSTMCell``): no peepholes, and
:math:`h_t = o_t \odot \tanh c_t`. Below, SymPy proves the answer for every LSTM, by
report A's reason (the output tanh bounds the first step); report B's reason, that the
reset gate alone blocks every LSTM, is not proved here. The closest mapping shows where
the two cells differ, and a last section follows :cite:t:`weiss2018practical` the other
way: under finite precision an LSTM's cell counts, a GRU's state cannot.
"""

# %%
# No LSTM reaches the GRU's first step
# ------------------------------------
# From the zero state an LSTM's first output is :math:`o_1 \tanh(i_1 j_1)`, with the gates
# in (0, 1) and the candidate in (−1, 1), whatever the weights and however many units.
# SymPy derives the first output from the cell's equations, the ranges, and the two
# properties of tanh the bound needs; a GRU's first state, from its own equations, is not
# held by it:
from rnnreport.inspection import plots
from rnnreport.inspection.tables import html_table
from rnnreport.theory.counting import finite_precision, lstm_counts
from rnnreport.theory.special_case import first_step_bound, gru_not_lstm

first = first_step_bound()
first.math()

# %%
# So every LSTM's first output lies strictly inside :math:`(-\tanh 1, \tanh 1)`, and a
# GRU whose update gate is biased shut and whose candidate is biased open starts above
# it. The witness GRU below (float64, update bias :math:`-\beta` and
# candidate bias :math:`\beta`) gives the same first state on random binary rows, the
# number SymPy computes for :math:`\sigma(\beta)\tanh\beta`:
low, high = first.gru_h1_range
print(
    f"beta = {first.beta:g}: GRU h_1 from the cell, min and max over inputs and units: "
    f"{low:.15f}, {high:.15f}"
)
print(f"SymPy: sigma(beta) tanh(beta) = {float(first.gru_value):.15f}")
print(f"bound for every LSTM: tanh 1 = {float(first.bound):.15f}")

# %%
# The other side, searched: random LSTMs of several sizes with weights drawn at several
# scales, on binary and Gaussian inputs. Where the weights are large, the gates can round
# to 1.0 in float64 (see the previous example) and :math:`h_1` then becomes the float
# nearest :math:`\tanh 1`: the strict inequality is a fact of exact arithmetic, and in
# floats the bound reads :math:`|h_1| \le \mathrm{fl}(\tanh 1)`.
html_table(first.search_rows(), caption="Largest first output over random LSTMs (float64)")

# %%
# A random search may just miss the right weights, so the next one aims: gradient ascent
# on the weights of an LSTM, pushing its first output up, and the same ascent on a
# GRU of the same size as a control, which shows that the ascent can cross the bound on a
# cell that allows it. What both searches reached in this build:
first.search_findings()

# %%
_ = plots.theory.first_output_ascent(first.ascent_lstm, first.ascent_gru, first.bound)

# %%
# The argument uses only the *ranges* of the gates, not how they are computed. With
# peepholes (gates that also read the cell) the first step is unchanged: the input and
# forget gates read :math:`c_0 = 0`, and the output gate reads :math:`c_1` but is still a
# sigmoid in (0, 1), so the same bound holds. Without the output tanh the first output is
# :math:`o_1 i_1 j_1`, whose supremum is 1, as large as the GRU's: the first step then
# separates nothing, and this page does not settle whether that variant can imitate every
# GRU (a proof would have to look at later steps, where the reset gate acts).
first.variants()

# %%
# The closest mapping
# -------------------
# Set :math:`f_t = z_t`, :math:`i_t = 1 - z_t` (exact: :math:`\sigma(-a) = 1 - \sigma(a)`,
# the coupled input–forget gate of :cite:t:`greff2017lstm`) and :math:`o_t = 1` (a limit; the
# witnesses use a bias of 50, which rounds to exactly 1.0). The LSTM's cell then follows
# the GRU's update *form*. Write :math:`Z(v) = \sigma(x_t u_z + v\,w_z + b_z)` for the
# update gate and :math:`H(v) = \tanh(x_t u_h + v\,w_h + b_h)` for the candidate, as
# functions of what they read. Three differences remain, and from the same state
# :math:`s` SymPy splits the gap between the GRU's state and the LSTM's output into one
# term for each:
mapped = gru_not_lstm()
mapped.math()

# %%
# 1. **The reset gate.** The GRU's candidate reads :math:`r_t h_{t-1}`, with :math:`r_t`
#    computed from the *current* input; the LSTM has no gate there. The term vanishes
#    with the reset held open (:math:`r_t = 1`), from a zero state
#    (:math:`h_{t-1} = 0`, so :math:`s = 0`), and when the candidate reads no state
#    (:math:`w_h = 0`).
# 2. **The recurrent input.** The LSTM's forget and input gates and its candidate read its
#    own output, :math:`h_{t-1} = o_{t-1} \tanh c_{t-1} = \tanh c_{t-1}`, where the GRU's
#    update gate and candidate read its state :math:`h_{t-1}`. The term vanishes when
#    nothing is read (:math:`w_z = w_h = 0`) or at :math:`s = 0`, which is why the two cells
#    agree at the first step.
# 3. **The output tanh.** The LSTM emits :math:`\tanh c_t` where the GRU emits its state;
#    the two agree only where :math:`c = \tanh c`, which SymPy solves (through the sign of
#    the derivative, as :math:`\tanh` makes the equation transcendental):
mapped.fixed_point.math()

# %%
# Each difference alone, on the cells: three one-unit variants of the counterexample below,
# each switching the other two differences off (float64). The reset row compares two GRUs
# that differ only in their reset gate: the mapping sends both to the *same* LSTM, so it
# cannot match both. The recurrent-input row holds the reset open and lets only the update
# gate read the state: the cells part from the second step. The last row reads nothing
# recurrently: the LSTM's cell equals the GRU's state exactly, and only the tanh on the
# output separates what they emit.
html_table(mapped.isolation_rows(), caption="Each difference of the mapping, seen alone")

# %%
# A counterexample in numbers
# ---------------------------
# One unit, binary inputs like our pixels. The GRU's update gate is fixed at 1/2; its
# reset gate is :math:`\sigma(6x_t - 3)`, nearly open on a 1 and nearly shut on a 0; its
# candidate is :math:`\tanh(x_t + 2 r_t h_{t-1} - 1/2)`:
print(mapped.weights)

# %%
# The mapped LSTM is built from those weights by
# :func:`rnnreport.theory.special_case.lstm_from_gru`
# (float64; its output gate's bias of 50 makes :math:`o_t` exactly 1.0 after rounding).
# The last column is the same GRU with its reset gate held open. The LSTM's cell
# :math:`c_t` equals the GRU's state at the first step (the recurrent-input term is zero
# at :math:`s = 0`, and the reset acts on :math:`h_0 = 0`), and the LSTM's output already
# differs there by the tanh.
html_table(mapped.rows(), caption="GRU vs the mapped LSTM on the same input")

# %%
_ = plots.theory.mapped_outputs(mapped.inputs, mapped.gru_h, mapped.lstm_h, mapped.gru_no_reset_h)

# %%
# On a 0 pixel the GRU shuts its reset gate, drops :math:`h_{t-1}` from its candidate and
# falls; the LSTM has no gate that does this at the current step, and neither does the
# GRU whose reset is held open. This shows where the *mapping* fails. That no LSTM
# weights at all can imitate every GRU is the first-step bound above, which rests on the
# output tanh; whether the reset gate alone would rule out every LSTM (say, one compared
# through its cell :math:`c_t`, or started from :math:`c_0 \ne 0`) is not settled here.
#
# The other way: an LSTM counts, a GRU cannot (in floats)
# -------------------------------------------------------
# With :math:`f = i = 1` and candidate 1 the LSTM's cell adds one per step, without bound;
# gates of exactly 1 exist only in floats, a point taken up below. A GRU's state is a
# convex combination of the previous state and a candidate in :math:`(-1, 1)`; the
# identity below and the signs of its terms (checked by SymPy under the assumptions
# :math:`z_t = \sigma(a) \in (0, 1)`, :math:`|h_{t-1}| < 1`, exact arithmetic) give
# :math:`|h_t| < 1` by induction from :math:`h_0 = 0`:
counts = lstm_counts()
counts.math()

# %%
print(f"SymPy: h_t - 1 < 0 given the hypotheses: {counts.gru_upper_negative}")
print(f"SymPy: h_t + 1 > 0 given the hypotheses: {counts.gru_lower_positive}")

# %%
# The witness: one LSTM unit with forget and input biases of 50 and a candidate input
# weight of 50 (the input is 1), gates and candidate that float32 and float64 both round
# to exactly 1.0, fed a 1 at every step; and GRUs with the
# same candidate and three update-gate biases. The LSTM's count is exact in both formats;
# in exact arithmetic the cell would fall short of the count by the amount printed, which
# is the price of gates that are never exactly 1.
print(f"LSTM float64 count after {len(counts.steps)} steps: {counts.lstm_c[-1]:g}")
print(f"LSTM float32 count after {len(counts.steps)} steps: {counts.lstm_c_float32[-1]:g}")
print(f"exact-arithmetic shortfall of the count: {counts.lstm_shortfall_exact:.3e}")

# %%
_ = plots.theory.lstm_count_vs_gru(
    counts.steps, counts.lstm_c, counts.lstm_h, counts.update_biases, counts.gru_h
)

# %%
# A GRU with update gate :math:`z` does count, leakily: :math:`h_t = \tilde h (1 - z^t)`
# rises like :math:`t(1 - z)` for the first few :math:`1/(1 - z)` steps, then saturates
# below 1. The table gives values at a few steps, with the closed form matching the cells
# to rounding (checked in the tests). Note the LSTM's *output* :math:`o_t \tanh c_t` is
# bounded too: its output gate reads nothing, :math:`o_t = \sigma(0) = 1/2`, so as
# :math:`\tanh c_t \to 1` the LSTM :math:`h_t` column tends to 0.5. The count lives in
# the cell, where the next step (through the gates) and the next layer (through the
# output's sign or the output gate) can use it.
html_table(
    counts.rows(),
    caption="LSTM count vs GRU state (float64)",
    digits=12,
)

# %%
# What finite precision does
# --------------------------
# :cite:t:`weiss2018practical` state their result for finite precision, and it needs it. In
# exact arithmetic a gate is never 1: on bounded inputs a finite-weight LSTM's forget gate
# stays below some :math:`\sigma(A) < 1`, and its cell is bounded too, by
# :math:`1 + e^{A}` (astronomically large for the bias above, but finite). And the
# GRU's leaky count rises at every step, so its state is a one-to-one function of t:
precision = finite_precision()
precision.math()

# %%
# In floats the GRU's state stops changing once its step falls below half an ulp of the
# floats just below 1, :math:`2^{-(p+1)}` (the estimate :math:`t^*` above); from then on
# it cannot tell t from t + 1. The same GRUs, fed ones in both formats: the step at which
# each state stops changing, beside the estimate, and how far below 1 it stops. A
# downstream layer can read the count only over the first of those steps, and in practice
# over far fewer, where the differences are still large.
html_table(
    precision.rows(),
    caption=f"Where the GRU's leaky count stops, by format ({precision.horizon} steps run)",
)

# %%
# The LSTM's float count stops too, at :math:`2^p`: started three below :math:`2^{24}`
# (float32) and :math:`2^{53}` (float64), it counts on and then adding 1 rounds away.
# And a float GRU state can be *exactly* :math:`\pm 1`: with its update gate at
# :math:`\sigma(-20)` and candidate :math:`\tanh(\pm 10)`, the float32 cell's first state
# is exactly :math:`\pm 1` (the same weights in float64 stay inside). In float32 a GRU's
# range is :math:`[-1, 1]`, not :math:`(-1, 1)`.
for dtype, (c0, c) in precision.lstm_stop.items():
    print(f"LSTM {dtype} from c_0 = {c0:.0f}: {', '.join(f'{v:.0f}' for v in c)}")
print(f"GRU first state, float32: {precision.exact_one_float32.tolist()}")
print(f"GRU first state, float64: {precision.exact_one_float64.tolist()}")

# %%
# Answer in plain words
# ---------------------
# **Q1.3.** No, for every choice of LSTM weights and every hidden size. Started from the
# zero state on the same input, the assignment's LSTM (no peepholes, tanh on the output)
# emits a first output below tanh 1 in size, while a GRU with its update gate biased shut
# starts at up to nearly 1; so that GRU's state is never the LSTM's output. This is
# report A's reason, the squashed output, proved for every LSTM. Peepholes change nothing
# in this; without the output tanh the first step proves nothing and the question stays
# open here. Report B's reason, the reset gate, is not proved here to rule out every
# LSTM; its counterexample (a GRU with z = 0 and candidate input weight and bias 0) stays
# at 0 from the zero state, and so does an LSTM with all weights zero, which therefore
# matches it. The closest mapping (f = z, i = 1 − z, o = 1) makes the
# LSTM's cell follow the GRU's update rule and leaves three differences: it has nothing
# like the reset gate, which decides from the current input how much of the old state
# enters the candidate; its gates and candidate read tanh of its cell where the GRU's read
# the state; and it emits tanh of its cell, which equals the cell only at 0. Each is shown
# alone above. The other way round, in floats an LSTM's cell counts (up to 2^p for p
# significand bits) while a GRU's state stays in [−1, 1] and stops changing after a finite
# number of steps (the table above); in exact arithmetic both are bounded and the GRU's
# leaky count is one-to-one. That compares the LSTM's *cell* with the GRU's state: both
# outputs are bounded, so whether some GRU imitates every LSTM's output is not settled
# here.

# sphinx_gallery_thumbnail_number = 3

# %%
# What made these numbers
# -----------------------
# This page trains nothing: its numbers come from the equations and the cells alone.
from rnnreport.experiments.provenance import made_by

made_by(uses_budget=False)
