r"""
Q1.3: is a GRU a special case of an LSTM?
=========================================

The assignment asks whether the GRU's gates can be written through the LSTM's
(:math:`o_t, i_t, f_t`) for the same input. Both student reports say no; report A points
at the LSTM's squashed output, report B at the GRU's reset gate. Both
reasons are real. Below, SymPy derives each, a one-unit counterexample shows them in
numbers, and the converse direction (an LSTM that no GRU can imitate) follows Weiss,
Goldberg and Yahav (2018): the LSTM can count, the GRU cannot.
"""

# %%
# The closest mapping
# -------------------
# Set :math:`f_t = z_t`, :math:`i_t = 1 - z_t` (exact: :math:`\sigma(-a) = 1 - \sigma(a)`,
# the coupled input–forget gate of Greff et al. 2017) and :math:`o_t = 1`. The LSTM's cell
# then follows the GRU's update. Two differences remain, and SymPy writes them out:
import matplotlib.pyplot as plt
import numpy as np

from rnnreport.inspection.tables import html_table
from rnnreport.theory.counting import lstm_counts
from rnnreport.theory.special_case import gru_not_lstm

mapped = gru_not_lstm()
mapped.math()

# %%
# First, the LSTM emits :math:`\tanh c_t` where the GRU emits its state, and the two
# agree only where :math:`c = \tanh c`, which SymPy solves (through the sign of the
# derivative, as :math:`\tanh` makes the equation transcendental):
mapped.fixed_point.math()

# %%
# Second, from the same state :math:`s`, the updates differ inside the candidate: the
# GRU scales :math:`h_{t-1}` by :math:`r_t`, computed from the *current* input, while the
# LSTM's candidate sees :math:`\tanh c_{t-1}`, scaled by an output gate from the step
# before. The difference vanishes for every input only if the recurrent candidate weight
# is zero or :math:`r_t s = \tanh s` (a reset gate that is not free).
#
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
# The last column is the same GRU with its reset gate held open, which separates the two
# effects: the LSTM's cell :math:`c_t` equals the GRU's state at the first step, and the
# LSTM's output already differs there by the tanh.
html_table(mapped.rows(), caption="GRU vs the mapped LSTM on the same input")

# %%
fig, ax = plt.subplots(figsize=(6, 3.5))
t = np.arange(1, len(mapped.inputs) + 1)
_ = ax.step(t, mapped.inputs, where="mid", color="0.7", label="input $x_t$")
_ = ax.plot(t, mapped.gru_h, "o-", label="GRU $h_t$")
_ = ax.plot(t, mapped.lstm_h, "s-", label=r"mapped LSTM $h_t = \tanh c_t$")
_ = ax.plot(t, mapped.gru_no_reset_h, "^--", label="GRU with $r = 1$")
_ = ax.set(xlabel="step t", ylabel="output", title="Same weights, same input, other outputs")
_ = ax.legend(fontsize=8)
fig.tight_layout()

# %%
# On a 0 pixel the GRU shuts its reset gate, drops :math:`h_{t-1}` from its candidate and
# falls; the LSTM has no gate that does this at the current step, and neither does the
# GRU whose reset is held open. This shows the *mapping* fails, not that no LSTM weights
# of any kind could imitate this GRU; the general statement goes the other way, below.
#
# The converse: an LSTM counts, a GRU cannot
# ------------------------------------------
# With :math:`f = i = 1` and candidate 1 the LSTM's cell adds one per step, without bound.
# A GRU's state is a convex combination of the previous state and a candidate in
# :math:`(-1, 1)`; the identity below and the signs of its terms (checked by SymPy under
# the assumptions :math:`z_t = \sigma(a) \in (0, 1)`, :math:`|h_{t-1}| < 1`) give
# :math:`|h_t| < 1` by induction from :math:`h_0 = 0`:
counts = lstm_counts()
counts.math()

# %%
print(f"SymPy: h_t - 1 < 0 given the hypotheses: {counts.gru_upper_negative}")
print(f"SymPy: h_t + 1 > 0 given the hypotheses: {counts.gru_lower_positive}")

# %%
# The witness: one LSTM unit with forget, input and candidate biases of 50, which
# float32 and float64 both round to exactly 1.0, fed a 1 at every step; and GRUs with the
# same candidate and three update-gate biases. The LSTM's count is exact in both formats;
# in exact arithmetic the cell would fall short of the count by the amount printed, which
# is the price of gates that are never exactly 1.
print(f"LSTM float64 count after {len(counts.steps)} steps: {counts.lstm_c[-1]:g}")
print(f"LSTM float32 count after {len(counts.steps)} steps: {counts.lstm_c_float32[-1]:g}")
print(f"exact-arithmetic shortfall of the count: {counts.lstm_shortfall_exact:.3e}")

# %%
fig, ax = plt.subplots(figsize=(6, 4))
_ = ax.loglog(counts.steps, counts.lstm_c, lw=2, label="LSTM cell $c_t$")
_ = ax.loglog(counts.steps, counts.lstm_h, lw=1, ls=":", label="LSTM output $h_t$")
for b, h in zip(counts.update_biases, counts.gru_h, strict=True):
    _ = ax.loglog(counts.steps, h, label=f"GRU $h_t$, $z = \\sigma({b:g})$")
_ = ax.axhline(1.0, color="0.5", lw=0.8, ls="--")
_ = ax.set(xlabel="step t", ylabel="state", title="Counting to 1,000: LSTM cell vs GRU state")
_ = ax.legend(fontsize=8)
fig.tight_layout()

# %%
# A GRU with update gate :math:`z` does count, leakily: :math:`h_t = \tilde h (1 - z^t)`
# rises like :math:`t(1 - z)` for the first few :math:`1/(1 - z)` steps, then saturates
# below 1. The table gives values at a few steps, with the closed form matching the cells
# to rounding (checked in the tests). Note the LSTM's *output* :math:`o_t \tanh c_t` is
# bounded too: the count lives in the cell, where the next step (through the gates) and
# the next layer (through the output's sign or the output gate) can use it.
html_table(
    counts.rows(),
    caption="LSTM count vs GRU state (float64)",
    formatters={k: "{:.12g}".format for k in counts.rows()[0] if k.startswith("GRU")},
)

# %%
# Answer in plain words
# ---------------------
# **Q1.3.** No. The closest mapping (f = z, i = 1 − z, o = 1) makes the LSTM's cell
# follow the GRU's update rule, but the LSTM then emits tanh of its cell, which equals
# the cell only at 0, and it has nothing like the reset gate, which decides from the
# current input how much of the old state enters the candidate. The counterexample above
# puts numbers on both. Nor is the LSTM a special case of the GRU: an LSTM cell can count
# without bound, while a GRU's state never leaves (−1, 1).

# sphinx_gallery_thumbnail_number = 2
