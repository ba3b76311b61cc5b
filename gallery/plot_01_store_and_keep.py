r"""
Q1.1–Q1.2: can a gate store the input, or keep the state?
==========================================================

The assignment asks whether an LSTM or a GRU can (1) store the current input in its state
and (2) keep the previous state while ignoring the input. The two student reports answer
(1) differently: report A says no, because the state passes through tanh; report B says
yes, if the maps are invertible. Both are half right, and the
difference is between storing the *value* :math:`x_t` and storing the *information* in it.

Every result below is derived with SymPy (:mod:`rnnreport.theory.limits`,
:mod:`rnnreport.theory.store`, :mod:`rnnreport.theory.keep`) and then witnessed on
:class:`~rnnreport.model.cells.LSTMCell` and :class:`~rnnreport.model.cells.GRUCell`, the
cells we train, with weights set by hand.
"""

# %%
# Gates are never exactly 0 or 1
# ------------------------------
# Every answer to Q1 says "let the forget gate go to 0" or "to 1". A sigmoid gets there
# only in the limit: for every finite pre-activation it is strictly between 0 and 1.
from rnnreport.inspection import plots
from rnnreport.inspection.tables import html_table
from rnnreport.theory.keep import keep_state
from rnnreport.theory.limits import gate_limits, tanh_fixed_point
from rnnreport.theory.store import store_input

limits = gate_limits()
limits.math()

# %%
# Floating point is another matter. ``torch.sigmoid`` computes :math:`1/(1 + e^{-x})`:
# the sum rounds to 1 once :math:`e^{-x}` is below half the spacing of floats above 1,
# :math:`2^{-p}` for a format with p significand bits, so the gate *is* exactly 1.0
# from :math:`x = p \ln 2` on; and :math:`e^{-x}` overflows to infinity past the largest
# float, so the gate is exactly 0.0 from there. A correctly rounded sigmoid would hold out
# a little longer. The table gives the points the cells actually hit, found by bisection
# over every float, beside the formulas.
html_table(limits.rows(), caption="Where torch.sigmoid returns exactly 1.0 and 0.0")

# %%
# So "f = 1" is a limit in mathematics and a finite bias in float32: a trained gate
# whose pre-activation passes the float32 point is exactly open or shut.
#
# Storing the current input (Q1.1)
# --------------------------------
# With :math:`f \to 0, i \to 1` the LSTM's cell becomes its candidate; the candidate
# still sees :math:`h_{t-1} = o_{t-1}\tanh c_{t-1}`, which :math:`o \to 0` (or a zero
# recurrent weight) removes. The GRU needs :math:`z \to 0`, and :math:`r \to 0` to cut
# :math:`h_{t-1}` out of its candidate. Either way the state is :math:`\tanh` of an
# affine map of :math:`x_t`:
store = store_input()
store.math()

# %%
# Read the lines in order. The state lies in :math:`(-1, 1)` and :math:`\tanh y = 1` has
# no solution, so a pixel of value 1 is never *the* state: **report A is right about the
# value.** But :math:`\tanh` is injective, and the inverse line recovers :math:`x_t`
# from the state whenever the input map is invertible; for binary pixels, the sign alone
# does it: **report B is right about the information.** The fixed-point equation
# :math:`c = \tanh c` (the identity map, the only way the value could be the state for
# every input) has a single solution:
tanh_fixed_point().math()

# %%
# The witness: a random binary image, one row of 28 pixels per step, stored by a
# 28-unit LSTM and GRU whose gates sit at a finite bias (float64, so that no gate rounds
# to 0 or 1). The candidate weights map pixel 0 to :math:`-\tanh a` and pixel 1 to
# :math:`+\tanh a`. Left: the image; middle: the LSTM's cell :math:`c_t`; right: the
# pixels read back from :math:`\operatorname{sign}(c_t)`.
_ = plots.theory.stored_input(store.pixels, store.lstm_states, store.lstm_read_back)

# %%
# Every pixel comes back, for both cells, and the state misses the candidate by exactly
# what the formula :math:`s_t - j_t = f_t\,(s_{t-1} - j_t)` predicts, within the bound
# :math:`2\sigma(-\beta)`:
html_table(store.rows(), caption=f"Storing the input at gate bias β = {store.beta:g}")

# %%
print(f"largest state where the pixel is 1: {store.closest_to_one:.12f} (never 1)")
print(f"float32, gates past the rounding points, c_t == x_t exactly: {store.float32_value_stored}")

# %%
# The second line is the float32 footnote to report A: with the gates biased past the
# points in the first table and a candidate weight past the point where float32's
# :math:`\tanh` returns 1.0, the float32 cell's state *equals* each binary pixel. That is
# rounding, not the function: in exact arithmetic the first line holds.
#
# Keeping the previous state (Q1.2)
# ---------------------------------
# With :math:`f \to 1, i \to 0` (LSTM) or :math:`z \to 1` (GRU) the state is copied and
# the input ignored. Both reports give the LSTM's setting; for the GRU only report B gives
# :math:`z_t \to 1`. Report A writes "we need :math:`z_t = 0`, then
# :math:`h_t = h_{t-1}`", but under the GRU equation it writes itself,
# :math:`h_t = (1 - z_t) \odot \tilde h_t + z_t \odot h_{t-1}`, :math:`z_t = 0` gives
# :math:`h_t = \tilde h_t`: it stores the candidate, report A's own Q1.1 setting. Keeping
# needs :math:`z_t \to 1`. The interesting part is the finite case. With
# keep gate :math:`s = \sigma(\beta)` and, for the LSTM, :math:`i = 1 - s`, the state
# moves towards the candidate by a factor :math:`1 - s` per step. SymPy solves the
# recurrence, bounds the drift after T steps, first for any starting state and (for the
# LSTM) input and forget gates that move freely, then for the coupled case, and solves
# for the bias that keeps the drift within :math:`\varepsilon`:
keep = keep_state()
keep.math()

# %%
# Read the assumptions off each line. For the LSTM with free gates the drift has two
# parts: the start leaking away, :math:`(1 - \varphi^T)|c_0|`, and what the input gate lets
# in, up to :math:`\iota` per step, with no cap: with :math:`f \to 1` this is the count of
# the next example, and an LSTM cell can sit anywhere. With coupled gates (every GRU, and
# an LSTM with :math:`i = 1 - f`) the state moves towards the candidate, and
# :math:`\Delta`, the largest distance between candidate and start, is below
# :math:`1 + |s_0|`. It is below 2 only when the state starts inside :math:`(-1, 1)`: true
# for a GRU started there (it never leaves), not for an LSTM cell. The bias needed grows
# like :math:`\ln(T\Delta/\varepsilon)`, so like :math:`\ln(T(1 + |c_0|)/\varepsilon)`.
#
# The witness: a one-unit GRU and a coupled LSTM start at :math:`h_0 = c_0 = -0.9`, and
# random binary rows drive their candidate. The markers are the cells' drift after T
# steps; the lines are the bound :math:`(1 - \sigma(\beta)^T)(1 + |h_0|)`. The drift
# equals the closed-form sum over the cells' own candidates to rounding (the table after
# the plot). With :math:`i = 1 - f` the LSTM's cell update is the GRU's, so each cross
# sits inside a circle. Random rows move the candidate back and forth, so the markers sit
# about three times below the lines; the bound itself is tight: a candidate held constant
# at :math:`j` drifts by exactly :math:`(1 - \sigma(\beta)^T)|j - h_0|`, which reaches
# the bound as :math:`j` goes to the far end of :math:`(-1, 1)` (the worst case in the
# bias table below meets it to the digits shown).
_ = plots.theory.keep_drift(
    keep.betas, keep.horizons, keep.drift_bound, keep.gru_drift, keep.lstm_drift
)

# %%
html_table(keep.drift_rows(most=12), caption="Drift: cells, closed form, bound")

# %%
# The bias that guarantees drift below :math:`\varepsilon` over the assignment's 28 rows,
# from SymPy's solution, and the drift a GRU shows at that bias in the worst case it can
# get near (start :math:`-\tanh 10`, candidate :math:`\tanh 10`, so :math:`\Delta` just
# under 2): it meets :math:`\varepsilon` to the digits shown.
html_table(
    keep.bias_rows(), caption="Gate bias to keep a state started in (−1, 1) within ε for T = 28"
)

# %%
# From any start
# --------------
# The same cells at keep bias 4, now with keep gates that the input moves a little, and
# an LSTM whose input gate is free (not :math:`1 - f`), started from :math:`-1000` to
# :math:`1000`. The drift equals the unrolled sum on the cells' own gates (checked in the
# tests) and stays under the general bounds, with :math:`\varphi` and :math:`s` the
# smallest keep gate and :math:`\iota` the largest input gate the cells recorded. The
# last column is :math:`2(1 - s^T)`, the bound for a state started inside
# :math:`(-1, 1)`: from a start outside it the cells drift far past it.
html_table(keep.start_rows(), caption=f"Drift over T = {keep.start_horizon} steps by start")

# %%
# The LSTM caveat
# ---------------
# The LSTM keeps :math:`c_t`, but what it emits is :math:`h_t = o_t \odot \tanh c_t`.
# With a kept cell and an output gate that reads the input, the cell barely moves while
# the output follows :math:`o_t`: it copies only if :math:`o_t` stays constant.
print(f"LSTM cell change over 28 steps:   {keep.caveat_c_change:.2e}")
print(f"LSTM output range over 28 steps:  {keep.caveat_h_range:.3f}")
print(f"max |h_t - o_t tanh(c_t)|:        {keep.caveat_h_formula_error:.1e}")

# %%
# Answers in plain words
# ----------------------
# **Q1.1.** With the gates that store (below), neither cell can make its state *equal* the
# input in exact arithmetic: the state is then tanh of an affine map, confined to (−1, 1),
# and equal to its argument only at 0 (in float32, rounding can make it equal a binary
# pixel, as shown above). Both can make the state *carry* the input: tanh is one-to-one,
# so an invertible input map loses nothing, and for binary pixels the sign of each unit
# gives the pixel back, even with gates well short of 0 and 1. The gates: LSTM f → 0,
# i → 1 (and o → 0 or no recurrent candidate weight); GRU z → 0 (and r → 0 or no
# recurrent candidate weight).
#
# **Q1.2.** Yes, both: LSTM f → 1, i → 0; GRU z → 1 (report A's z = 0 for the GRU stores
# the candidate instead). At a finite bias the state drifts.
# For a GRU started inside (−1, 1), or an LSTM with i = 1 − f, keep gate σ(β) and a cell
# started inside (−1, 1), the drift over T steps is at most :math:`2(1 - \sigma(\beta)^T)`;
# from a start :math:`s_0` anywhere it is at most :math:`(1 - \sigma(\beta)^T)(1 + |s_0|)`;
# both are tight, approached by a candidate held at the far end of (−1, 1). For an LSTM
# whose input gate is free it is at most :math:`(1 - \varphi^T)|c_0| + \iota T` (keep
# gate at least :math:`\varphi`, input gate at most :math:`\iota`): the cell is
# unbounded, so this grows with the start and with T. The bias needed to stay within ε
# grows like :math:`\ln(T(1 + |s_0|)/\varepsilon)` (tables above). For the LSTM the *cell*
# is kept; its output is kept only when the output gate is constant.

# sphinx_gallery_thumbnail_number = 2

# %%
# What made these numbers
# -----------------------
# This page trains nothing: its numbers come from the equations and the cells alone.
from rnnreport.experiments.provenance import made_by

made_by(uses_budget=False)
