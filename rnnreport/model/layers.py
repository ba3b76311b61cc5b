r"""Unroll a cell over T time steps and stack L layers of it, fast enough to train.

:class:`RNN` is the recurrent part of the assignment's classifier. It projects all T
inputs of a layer at once (``x U + b`` for every step in one matmul), then runs the cell's
``step`` over time; layer ``l + 1`` reads the outputs of layer ``l``. The fast path makes
that projection inside its own forward, with the columns it rescales already rescaled in
``U`` and ``b`` (a few hundred numbers), so that the (T, B, nH) pre-activations are written
once instead of three times.

Two ways through time, one set of equations:

* the *reference* path calls the cell's own ``step`` at every step and lets autograd
  record every operation; it runs with ``rnn.fast = False``;
* the *fast* path (the default: training, evaluation, probes) computes the same equations
  with fewer passes over memory (:func:`_lstm_forward`, :func:`_gru_forward`), keeps the
  gates, and back-propagates through time with hand-written derivatives
  (``_LSTMThroughTime``, ``_GRUThroughTime``, their equations in their docstrings).
  Autograd would record a dozen operations per step and replay each backwards; the
  hand-written backward needs a few operations per step, computes every factor that
  depends only on the saved gates for all T steps at once, and gets the weight gradients
  of all T steps from one matmul over ``T·B`` rows at the end.

At 32 units a step's time goes to its number of operations more than to its matmul, so
the fast forward takes every sigmoid of a step in one call and computes tanh as
:math:`\tanh a = 2\sigma(2a) - 1` (:func:`_tanh_from_sigmoid`): torch's CPU ``tanh`` is
several times slower than its ``sigmoid``. The two paths are the same function; they
round differently, by less than 2e-7 per tanh (absolute).

An LSTM step's element-wise work (four gates, the cell, :math:`\tanh c`, the output;
backwards, every δa) is a dozen passes over a step's rows as torch operations. Where a C
compiler is present the fast path hands it instead to one call a step of a small compiled
kernel (:mod:`rnnreport.model.compiled`, the same equations in ``steps.c``) and keeps
the matmuls with torch; the GRU that resets before its matmul, whose step has a matmul in
the middle, takes two calls each way. With the kernel, each step also projects its own
input (``x_t U + b``, then ``+ h_{t-1} W`` into the same rows) rather than all T at once:
the step's rows are then in cache when the second matmul and the kernel read them, which
is faster from 32 units up. Elsewhere (no compiler, float64, a GPU, the GRU resetting
after) the fast path runs the torch operations below. The two round differently (the
kernel has its own exp), so trained models' cache keys name the kernel.

The classifier's embedding, an affine map of the 28 pixels to H values, reaches the RNN as
its ``input_map``. The fast path multiplies it into the first layer's input projection
(:func:`fold`): two affine maps in a row are one, and the first layer's products over all
T·B rows are then 28 wide instead of H wide: of the multiply-adds that take the pixels into
the first layer (forward and backward), about half at 32 units and a seventh at 128. The
reference path applies the map first.

``tests/test_fast_path.py`` checks that both paths give the same outputs, final states and
gradients.

Looking inside: :meth:`RNN.add_observer` registers a callback that receives every
layer's gate activations and outputs, stacked over time, from whichever path runs (so
that recording changes no output, not even its rounding). Probes use it
(:func:`rnnreport.inspection.probes.record`); with no observer, nothing is handed out.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import torch
from torch import Tensor, nn
from torch.autograd.function import FunctionCtx, once_differentiable

from . import compiled
from .cells import CELLS, GRUCell, LSTMCell

Observer = Callable[[int, dict[str, Tensor]], None]
"""``observer(layer_index, traces)`` with ``traces[name]`` shaped (T, B, H)."""

Cell = LSTMCell | GRUCell

_LSTM = {g: k for k, g in enumerate(LSTMCell.blocks)}
"""Each LSTM gate's slot among the column blocks, read from the cell: δa keeps its order."""
_GRU = {g: k for k, g in enumerate(GRUCell.blocks)}
"""Each GRU block's slot, read from the cell (the candidate's is ``h_tilde``)."""


class _Handle:
    """Removes an observer, like torch's ``RemovableHandle``."""

    def __init__(self, observers: list[Observer], observer: Observer) -> None:
        self._observers, self._observer = observers, observer

    def remove(self) -> None:
        if self._observer in self._observers:
            self._observers.remove(self._observer)


def _unroll(
    cell: Cell, a_x: Tensor, state: Any, keep_gates: bool = True
) -> tuple[Tensor, Any, dict[str, Tensor]]:
    """Run ``cell.step`` over time: ``a_x`` (T, B, nH) -> (h (T, B, H), final state, gates).

    ``gates[name]`` is stacked over time, (T, B, H); empty unless ``keep_gates``. Autograd
    records what this runs unless the caller turned it off.
    """
    hs, gates = [], []
    for a_t in a_x:  # (B, nH) per step
        state, g = cell.step(a_t, state)
        hs.append(state[0] if isinstance(cell, LSTMCell) else state)
        gates.append(g)
    names = gates[0] if keep_gates else ()
    return torch.stack(hs), state, {n: torch.stack([g[n] for g in gates]) for n in names}


def _d_sigmoid(grad: Tensor, y: Tensor, out: Tensor | None = None) -> Tensor:
    """``grad ⊙ y ⊙ (1 - y)``: a gradient carried back through ``y = σ(a)``.

    ATen's own kernel for it (the one autograd calls): one pass over memory and at most one
    new tensor, where the same algebra written out makes three. Memory traffic, not
    arithmetic, is what these element-wise steps cost.
    """
    if out is None:
        return torch.ops.aten.sigmoid_backward(grad, y)
    return torch.ops.aten.sigmoid_backward.grad_input(grad, y, grad_input=out)


def _d_tanh(grad: Tensor, y: Tensor, out: Tensor | None = None) -> Tensor:
    """``grad ⊙ (1 - y²)``: a gradient carried back through ``y = tanh(a)``, in one pass."""
    if out is None:
        return torch.ops.aten.tanh_backward(grad, y)
    return torch.ops.aten.tanh_backward.grad_input(grad, y, grad_input=out)


def _previous(first: Tensor, sequence: Tensor) -> Tensor:
    """``[first, sequence[0], …, sequence[T-2]]``: the value each step started from (T, B, H)."""
    return torch.cat([first.unsqueeze(0), sequence[:-1]])


def _projection_backward(
    x: Tensor, U: Tensor, da: Tensor, need: tuple[bool, ...]
) -> tuple[Tensor | None, Tensor | None, Tensor | None]:
    r"""``(δx, δU, δb)`` of :math:`a_t = x_t U + b` from ``da`` (T, B, nH), each None where
    ``need`` (for x, U, b) says no one asked: :math:`\delta x_t = \delta a_t U^\top`,
    :math:`\delta U = \sum_t x_t^\top \delta a_t`, :math:`\delta b = \sum_t \delta a_t`."""
    T, B, D = x.shape
    rows = da.reshape(T * B, -1)
    dx = (rows @ U.T).view(T, B, D) if need[0] else None
    dU = x.reshape(T * B, D).T @ rows if need[1] else None
    db = rows.sum(0) if need[2] else None
    return dx, dU, db


_ONE = torch.ones(())
"""1 as a tensor: an operation on a (B, H) row takes a Python number more slowly (torch
wraps it anew each call), and the fast path's steps are a few microseconds each."""


def _tanh_from_sigmoid(s: Tensor) -> Tensor:
    """``2s - 1`` in place: tanh(a) from ``s = σ(2a)``, since tanh a = 2σ(2a) - 1.

    The fast path's tanh: torch's CPU ``tanh`` is several times slower than its ``sigmoid``
    (``rnnreport bench`` measures both). Doubling a pre-activation is exact in floating
    point, so the only difference from ``torch.tanh`` is rounding: below 2e-7, absolute.
    ``s + s`` is ``2s`` exactly, and cheaper to ask for.
    """
    return s.add_(s).sub_(_ONE)


def _doubling(n: int, blocks: slice, like: Tensor) -> Tensor:
    """(n,) ones, and 2 over ``blocks``: scales the columns whose tanh is taken as σ(2a)."""
    scale = like.new_ones(n)
    scale[blocks] = 2
    return scale


def _lstm_forward(
    cell: LSTMCell, x: Tensor, U: Tensor, b: Tensor, W: Tensor, h_0: Tensor, c_0: Tensor
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    r"""The LSTM's equations over T steps in few passes: ``(h, g, c, tanh_c)``, over time.

    ``h``, ``c`` and ``tanh_c`` are (T, B, H); ``g`` (T, B, 4H) holds :math:`i, j, f, o`
    in the cell's column order. A step is ten operations, no tanh among them: one matmul,
    one sigmoid over all four blocks, eight cheap passes (one more sigmoid among them),
    where :meth:`LSTMCell.step` makes twelve, two of them torch's slow tanh:

    .. math::
        s_t = \sigma(\hat a_t + h_{t-1} \hat W), \quad
        c_t = f_t \odot c_{t-1} + 2\, i_t \odot s^j_t - i_t, \quad
        h_t = o_t \odot (2\sigma(2c_t) - 1)

    with :math:`\hat a_t = x_t \hat U + \hat b` and :math:`\hat W` the pre-activation's
    two parts with the :math:`j` block doubled (in :math:`\hat U, \hat b, \hat W`: doubling is
    exact) and the forget bias added to :math:`\hat b` (before the matmul, so it rounds
    differently from the cell's order), so that :math:`s^j_t = \sigma(2 a^j_t)` and
    :math:`i_t \odot j_t = i_t \odot (2 s^j_t - 1)`; :math:`j = 2 s^j - 1` itself is taken
    for all steps at once after the loop. The loop indexes lists of views made once
    (``unbind``): at 32 units a step's time is its number of operations, each with a fixed
    cost, more than their arithmetic.
    """
    (T, B, D), n = x.shape, U.shape[1]
    H = n // 4
    I, J, F, O = (cell.columns(H, g) for g in "ijfo")
    scale = _doubling(n, J, U)
    shift = U.new_zeros(n)
    shift[F] = cell.forget_bias
    b_hat = torch.addcmul(shift, b, scale)
    U_hat, W = U * scale, W * scale
    h, c, tanh_c = (x.new_empty(T, B, H) for _ in range(3))
    if (kernel := _kernel_for(x)) is not None:  # the step's element-wise work in C
        g = x.new_empty(T, B, n)
        blocks = (I.start, J.start, F.start, O.start)
        _lstm_compiled(kernel, blocks, x, U_hat, b_hat, W, h_0, c_0, g, c, tanh_c, h)
        return h, g, c, tanh_c
    g = torch.addmm(b_hat, x.reshape(T * B, D), U_hat).view(T, B, n)  # â, then the gates
    rows, h_rows, c_rows, tanh_c_rows = g.unbind(), h.unbind(), c.unbind(), tanh_c.unbind()
    i_rows, s_j_rows, f_rows, o_rows = (g[..., k].unbind() for k in (I, J, F, O))
    h_t, c_t = h_0, c_0
    for t in range(T):
        rows[t].addmm_(h_t, W).sigmoid_()  # (B, 4H): σ of every block
        i, s_j, f, o = i_rows[t], s_j_rows[t], f_rows[t], o_rows[t]
        c_t = torch.mul(f, c_t, out=c_rows[t]).addcmul_(i, s_j, value=2).sub_(i)
        tanh_c_t = _tanh_from_sigmoid(torch.add(c_t, c_t, out=tanh_c_rows[t]).sigmoid_())
        h_t = torch.mul(o, tanh_c_t, out=h_rows[t])
    _tanh_from_sigmoid(g[..., J])  # j_t = 2 s^j_t - 1, every step at once
    return h, g, c, tanh_c


def _lstm_compiled(
    kernel: compiled.Kernel,
    blocks: tuple[int, int, int, int],
    x: Tensor,
    U_hat: Tensor,
    b_hat: Tensor,
    W_hat: Tensor,
    h_0: Tensor,
    c_0: Tensor,
    g: Tensor,
    c: Tensor,
    tanh_c: Tensor,
    h: Tensor,
) -> None:
    """:func:`_lstm_forward`'s loop with the element-wise work in the compiled kernel:
    fills ``g`` (i, j, f, o at the column offsets ``blocks``), ``c``, ``tanh_c`` and ``h``
    (contiguous). Each step projects its own input (``x_t Û + b̂``, j doubled) just before
    its recurrent matmul adds to the same rows, while they are in cache."""
    T, B, H = h.shape
    c_0 = _rows_like(c_0, h)  # the kernel reads (B, H) floats from it
    rows, x_rows, h_rows = g.unbind(), x.unbind(), h.unbind()
    g_at, c_at, tanh_c_at, h_at = (compiled.rows(v) for v in (g, c, tanh_c, h))
    c_prev_at = [c_0.data_ptr(), *c_at[:-1]]
    h_t = h_0
    for t in range(T):
        torch.addmm(b_hat, x_rows[t], U_hat, out=rows[t]).addmm_(h_t, W_hat)  # a_t
        kernel.lstm_forward(B, H, *blocks, g_at[t], c_prev_at[t], c_at[t], tanh_c_at[t], h_at[t])
        h_t = h_rows[t]


def _gru_forward(
    cell: GRUCell,
    x: Tensor,
    U: Tensor,
    b: Tensor,
    W: Tensor,
    b_hn: Tensor | None,
    h_0: Tensor,
) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
    r"""The GRU's equations over T steps in few passes: ``(h, zr, h_tilde, n2)``, over time.

    ``h`` and ``h_tilde`` are (T, B, H); ``zr`` (T, B, 2H) holds :math:`z, r`. The
    candidate's columns are doubled in :math:`U, b, W` (its tanh is
    :math:`2\sigma(2a) - 1`; doubling is exact), and the new state is one ``lerp``:

    .. math::
        h_t = \tilde h_t + z_t \odot (h_{t-1} - \tilde h_t)
            = (1 - z_t) \odot \tilde h_t + z_t \odot h_{t-1}

    Reset after takes :math:`h_{t-1} W` for all three blocks in one matmul, with
    :math:`b_{hn}` added inside it, and keeps ``n2`` (T, B, H), :math:`2 n_t` with
    :math:`n_t = h_{t-1} W_h + b_{hn}`, for the backward (None when resetting before).
    """
    (T, B, D), n = x.shape, U.shape[1]
    H = n // 3
    gates, candidate = cell.columns(H, "z", "r"), cell.columns(H, "h_tilde")
    scale = _doubling(n, candidate, U)
    U, b, W = U * scale, b * scale, W * scale  # Û, b̂, Ŵ
    W_zr, W_h = W[:, gates], W[:, candidate]
    zr, h_tilde, h = x.new_empty(T, B, 2 * H), x.new_empty(T, B, H), x.new_empty(T, B, H)
    if b_hn is None and (kernel := _kernel_for(x)) is not None:  # element-wise work in C
        U_zr, U_h, b_zr, b_h = U[:, gates], U[:, candidate], b[gates], b[candidate]
        _gru_before_compiled(kernel, x, U_zr, U_h, b_zr, b_h, W_zr, W_h, h_0, zr, h_tilde, h)
        return h, zr, h_tilde, None
    a_x = torch.addmm(b, x.reshape(T * B, D), U).view(T, B, n)  # x Û + b̂
    if b_hn is not None:  # reset after: b_hn sits inside the candidate's matmul
        b_h = a_x.new_zeros(n)
        b_h[candidate] = 2 * b_hn
        hW_all = a_x.new_empty(T, B, n)  # h_{t-1} W of every step: the backward needs n_t
        hW_rows = hW_all.unbind()
    # per-step views made once: the loop below runs only arithmetic
    a_zr_rows, a_h_rows = a_x[..., gates].unbind(), a_x[..., candidate].unbind()
    zr_rows, h_tilde_rows, h_rows = zr.unbind(), h_tilde.unbind(), h.unbind()
    z_rows, r_rows = (zr[..., k].unbind() for k in (slice(0, H), slice(H, 2 * H)))  # z, then r
    h_t = h_0
    for t in range(T):
        z, r = z_rows[t], r_rows[t]
        if b_hn is None:  # reset before
            torch.addmm(a_zr_rows[t], h_t, W_zr, out=zr_rows[t]).sigmoid_()
            torch.addmm(a_h_rows[t], r * h_t, W_h, out=h_tilde_rows[t])
        else:
            hW = torch.addmm(b_h, h_t, W, out=hW_rows[t])  # (B, 3H): h_{t-1} W (+ 2 b_hn)
            torch.add(a_zr_rows[t], hW[:, gates], out=zr_rows[t]).sigmoid_()
            torch.addcmul(a_h_rows[t], r, hW[:, candidate], out=h_tilde_rows[t])
        h_tilde_t = _tanh_from_sigmoid(h_tilde_rows[t].sigmoid_())
        h_t = torch.lerp(h_tilde_t, h_t, z, out=h_rows[t])
    n2 = None if b_hn is None else hW_all[..., candidate]
    return h, zr, h_tilde, n2


def _gru_before_compiled(
    kernel: compiled.Kernel,
    x: Tensor,
    U_zr: Tensor,
    U_h: Tensor,
    b_zr: Tensor,
    b_h: Tensor,
    W_zr: Tensor,
    W_h: Tensor,
    h_0: Tensor,
    zr: Tensor,
    h_tilde: Tensor,
    h: Tensor,
) -> None:
    """:func:`_gru_forward`'s loop, resetting before, with the element-wise work in the
    compiled kernel: fills ``zr``, ``h_tilde`` and ``h`` (contiguous). Each step projects
    its own input (``x_t Û + b̂``, the candidate's columns doubled) just before its matmul
    adds to it, while the row is in cache."""
    T, B, H = h.shape
    h_0 = h_0.contiguous()
    s = h.new_empty(B, H)  # r_t ⊙ h_{t-1}: the candidate's matmul reads it
    x_rows, zr_rows, h_tilde_rows, h_rows = x.unbind(), zr.unbind(), h_tilde.unbind(), h.unbind()
    zr_at, h_tilde_at, h_at = (compiled.rows(v) for v in (zr, h_tilde, h))
    h_prev_at = [h_0.data_ptr(), *h_at[:-1]]
    h_t = h_0
    for t in range(T):
        torch.addmm(b_zr, x_rows[t], U_zr, out=zr_rows[t]).addmm_(h_t, W_zr)  # a^z, a^r
        kernel.gru_gates(B, H, zr_at[t], h_prev_at[t], s.data_ptr())  # z, r, s
        torch.addmm(b_h, x_rows[t], U_h, out=h_tilde_rows[t]).addmm_(s, W_h)  # ã (doubled)
        kernel.gru_state(B, H, h_tilde_at[t], zr_at[t], h_prev_at[t], h_at[t])  # h̃, h_t
        h_t = h_rows[t]


class _LSTMThroughTime(torch.autograd.Function):
    r"""One LSTM layer over T steps: :func:`_lstm_forward`, and a hand-written backward.

    Inputs: ``x`` (T, B, D), ``U`` (D, 4H), ``b`` (4H,), ``W`` (H, 4H), ``h_0``, ``c_0``
    (B, H). Outputs: ``h`` (T, B, H) and ``c_T`` (B, H).

    With :math:`\delta h_t` the gradient reaching :math:`h_t` (from the output and from
    step t+1) and :math:`\delta c_t` the gradient reaching :math:`c_t`, the step's
    derivatives, one line each, with :math:`a_t = x_t U + b + h_{t-1} W` the pre-activation:

    .. math::
        \begin{aligned}
        \delta h_t &= \partial L / \partial y_t + \delta a_{t+1} W^\top \\
        \delta c_t &= \delta c_{t+1} \odot f_{t+1} + \delta h_t \odot o_t \odot (1 - \tanh^2 c_t) \\
        \delta a^i_t &= \delta c_t \odot j_t \odot i_t (1 - i_t) \\
        \delta a^j_t &= \delta c_t \odot i_t \odot (1 - j_t^2) \\
        \delta a^f_t &= \delta c_t \odot c_{t-1} \odot f_t (1 - f_t) \\
        \delta a^o_t &= \delta h_t \odot \tanh c_t \odot o_t (1 - o_t) \\
        \partial L / \partial W &= \textstyle\sum_t h_{t-1}^\top \delta a_t, \quad
        \partial L / \partial U = \textstyle\sum_t x_t^\top \delta a_t, \quad
        \partial L / \partial b = \textstyle\sum_t \delta a_t, \quad
        \partial L / \partial x_t = \delta a_t U^\top
        \end{aligned}

    The factors that multiply :math:`\delta c_t` and :math:`\delta h_t` depend only on the
    saved gates, so they are computed for all T steps at once before the loop.
    ``forget_bias`` is a constant: it shifts :math:`a^f` and has no gradient.
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: FunctionCtx,
        cell: LSTMCell,
        x: Tensor,
        U: Tensor,
        b: Tensor,
        W: Tensor,
        h_0: Tensor,
        c_0: Tensor,
        gates: dict[str, Tensor] | None = None,
    ) -> tuple[Tensor, Tensor]:
        h, g, c, tanh_c = _lstm_forward(cell, x, U, b, W, h_0, c_0)
        ctx.save_for_backward(x, U, W, h_0, c_0, h, g, c, tanh_c)
        if gates is not None:  # for observers: {i, f, j, o, c}, each (T, B, H)
            named = {**LSTMCell.split(g), "c": c}
            gates.update({name: named[name] for name in LSTMCell.gate_names})
        return h, c[-1]

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, dy: Tensor, dc_T: Tensor) -> tuple[Tensor | None, ...]:
        x, U, W, h_0, c_0, h, g, c, tanh_c = ctx.saved_tensors
        T, B, H = h.shape
        lstm_deltas = _lstm_deltas if _kernel_for(g) is None else _lstm_deltas_compiled
        da, dc = lstm_deltas(W.T, g, c_0, c, tanh_c, dy, dc_T)  # (T, B, 4H), (B, H)
        need = ctx.needs_input_grad
        dh_0 = da[0] @ W.T if need[5] else None
        dW = _previous(h_0, h).reshape(T * B, H).T @ da.view(T * B, 4 * H) if need[4] else None
        dx, dU, db = _projection_backward(x, U, da, need[1:4])
        return None, dx, dU, db, dW, dh_0, dc if need[6] else None, None


def _lstm_deltas(
    W_T: Tensor, g: Tensor, c_0: Tensor, c: Tensor, tanh_c: Tensor, dy: Tensor, dc_T: Tensor
) -> tuple[Tensor, Tensor]:
    """``(δa, δc_0)``: :class:`_LSTMThroughTime`'s equations back through time, as torch
    operations; δa (T, B, 4H) in the cell's column order, δc_0 (B, H) what reaches c_0."""
    T, B, H = c.shape
    I, J, F, O = (_LSTM[name] for name in "ijfo")
    i, j, f, o = (g.view(T, B, 4, H)[:, :, k] for k in (I, J, F, O))
    k_c = _d_tanh(o, tanh_c)  # δh -> δc: o ⊙ (1 - tanh² c)
    # the factors δc -> δa^i, δa^j, δa^f and δh -> δa^o, in the cell's order; the loop
    # multiplies them by δc_t and δh_t in place, turning them into δa_t
    da = c.new_empty(T, B, 4, H)
    _d_sigmoid(tanh_c, o, out=da[:, :, O])  # tanh c ⊙ o (1 - o)
    _d_sigmoid(j, i, out=da[:, :, I])
    _d_tanh(i, j, out=da[:, :, J])
    _d_sigmoid(c[:-1], f[1:], out=da[1:, :, F])  # c_{t-1} ⊙ f (1 - f)
    _d_sigmoid(c_0, f[0], out=da[0, :, F])
    # per-step views made once: the loop below runs only arithmetic
    da_i, da_j, da_f, da_o = (da[:, :, k].unbind() for k in (I, J, F, O))
    da_rows = da.view(T, B, 4 * H).unbind()
    k_c_rows, f_rows, dy_rows = k_c.unbind(), f.unbind(), dy.unbind()
    dh, dc = dy_rows[T - 1], dc_T.clone()  # δh_t and δc_t, from t = T - 1 down
    for t in range(T - 1, -1, -1):
        dc.addcmul_(dh, k_c_rows[t])
        # three products, not one broadcast over (B, 3, H): torch's broadcast loop
        # takes twice as long for these small rows
        da_i[t].mul_(dc)
        da_j[t].mul_(dc)
        da_f[t].mul_(dc)
        da_o[t].mul_(dh)
        dc.mul_(f_rows[t])  # the part of δc_{t-1} that flows through c_t
        if t > 0:
            dh = torch.addmm(dy_rows[t - 1], da_rows[t], W_T)
    return da.view(T, B, 4 * H), dc


def _lstm_deltas_compiled(
    W_T: Tensor, g: Tensor, c_0: Tensor, c: Tensor, tanh_c: Tensor, dy: Tensor, dc_T: Tensor
) -> tuple[Tensor, Tensor]:
    """:func:`_lstm_deltas` with each step's element-wise work in one call of the compiled
    kernel (:mod:`rnnreport.model.compiled`); the matmul that takes δa_t back to
    δh_{t-1} stays with torch."""
    T, B, H = c.shape
    kernel = compiled.kernel()
    assert kernel is not None
    blocks = tuple(_LSTM[name] * H for name in "ijfo")
    c_0 = _rows_like(c_0, c)
    da = c.new_empty(T, B, 4 * H)
    dh, dc = dy[T - 1].contiguous(), dc_T.contiguous().clone()  # δh_t, δc_t from T - 1 down
    da_rows, dy_rows = da.unbind(), dy.unbind()
    g_at, tanh_c_at, da_at = (compiled.rows(v) for v in (g, tanh_c, da))
    c_prev_at = [c_0.data_ptr(), *compiled.rows(c)[:-1]]
    dc_at = dc.data_ptr()
    for t in range(T - 1, -1, -1):
        kernel.lstm_backward(
            B, H, *blocks, g_at[t], c_prev_at[t], tanh_c_at[t], dh.data_ptr(), dc_at, da_at[t]
        )
        if t > 0:
            dh = torch.addmm(dy_rows[t - 1], da_rows[t], W_T)
    return da, dc


def _rows_like(state: Tensor, like: Tensor) -> Tensor:
    """``state`` as the compiled kernel reads it: (B, H) contiguous, of ``like``'s dtype,
    broadcast as torch's operations would broadcast it (an error where they could not)."""
    return state.to(like.dtype).expand(like.shape[-2:]).contiguous()


def _kernel_for(like: Tensor) -> compiled.Kernel | None:
    """The compiled steps when they can run on ``like``'s tensors (float32 on the CPU)."""
    if like.device.type != "cpu" or like.dtype != torch.float32:
        return None
    return compiled.kernel()


class _GRUThroughTime(torch.autograd.Function):
    r"""One GRU layer over T steps: :func:`_gru_forward`, and a hand-written backward.

    Inputs: ``x`` (T, B, D), ``U`` (D, 3H), ``b`` (3H,), ``W`` (H, 3H), ``b_hn`` (H,) or
    None, ``h_0`` (B, H). Output: ``h`` (T, B, H).

    With :math:`\delta h_t` the gradient reaching :math:`h_t` and
    :math:`\delta\tilde a_t = \delta h_t \odot (1 - z_t) \odot (1 - \tilde h_t^2)` the one
    reaching the candidate's pre-activation, the step's derivatives, one line each:

    .. math::
        \begin{aligned}
        \delta a^z_t &= \delta h_t \odot (h_{t-1} - \tilde h_t) \odot z_t (1 - z_t) \\
        \text{before: } \delta s_t &= \delta\tilde a_t W_h^\top, \quad
            \delta a^r_t = \delta s_t \odot h_{t-1} \odot r_t (1 - r_t) \\
        \text{after: } \delta n_t &= \delta\tilde a_t \odot r_t, \quad
            \delta a^r_t = \delta\tilde a_t \odot n_t \odot r_t (1 - r_t) \\
        \text{before: } \delta h_{t-1} &= \delta h_t \odot z_t + \delta s_t \odot r_t
            + [\delta a^z_t, \delta a^r_t] W_{zr}^\top + \partial L / \partial y_{t-1} \\
        \text{after: } \delta h_{t-1} &= \delta h_t \odot z_t
            + [\delta a^z_t, \delta a^r_t, \delta n_t] W^\top + \partial L / \partial y_{t-1}
        \end{aligned}

    where :math:`s_t = r_t \odot h_{t-1}` (reset before) and
    :math:`n_t = h_{t-1} W_h + b_{hn}` (reset after, kept by the forward). Weight
    gradients sum over steps in one matmul each:
    :math:`\partial L/\partial W_{zr} = \sum_t h_{t-1}^\top [\delta a^z_t, \delta a^r_t]`;
    :math:`\partial L/\partial W_h = \sum_t s_t^\top \delta\tilde a_t` (before) or
    :math:`\sum_t h_{t-1}^\top \delta n_t` (after), and
    :math:`\partial L/\partial b_{hn} = \sum_t \delta n_t`; the input projection's, from
    :math:`\delta a_t = [\delta a^z_t, \delta a^r_t, \delta\tilde a_t]`, as the LSTM's.
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: FunctionCtx,
        cell: GRUCell,
        x: Tensor,
        U: Tensor,
        b: Tensor,
        W: Tensor,
        b_hn: Tensor | None,
        h_0: Tensor,
        gates: dict[str, Tensor] | None = None,
    ) -> Tensor:
        h, zr, h_tilde, n2 = _gru_forward(cell, x, U, b, W, b_hn, h_0)
        ctx.reset = cell.reset
        ctx.save_for_backward(x, U, W, n2, h_0, h, zr, h_tilde)
        if gates is not None:  # for observers: {z, r, h_tilde}, each (T, B, H)
            z, r = zr.chunk(2, dim=-1)
            gates.update({"z": z, "r": r, "h_tilde": h_tilde})
        return h

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, dy: Tensor) -> tuple[Tensor | None, ...]:
        x, U, W, n2, h_0, h, zr, h_tilde = ctx.saved_tensors
        h_prev = _previous(h_0, h)  # (T, B, H)
        need = ctx.needs_input_grad
        db_hn = None
        if ctx.reset == "before" and _kernel_for(h) is not None:
            da_x, dW, dh_0 = _gru_before_backward_compiled(dy, W, h_prev, zr, h_tilde, need[6])
        else:
            z, r = zr.chunk(2, dim=-1)
            k_h = _d_tanh(1 - z, h_tilde)  # δh -> δã: (1 - z) ⊙ (1 - h̃²)
            k_z = _d_sigmoid(h_prev - h_tilde, z)  # δh -> δa^z: (h_{t-1} - h̃) ⊙ z (1 - z)
            if ctx.reset == "after":
                da_x, dW, db_hn, dh_0 = _gru_after_backward(
                    dy, W, n2, h_prev, z, r, k_h, k_z, need[6]
                )
            else:
                da_x, dW, dh_0 = _gru_before_backward(dy, W, h_prev, z, r, k_h, k_z, need[6])
        dx, dU, db = _projection_backward(x, U, da_x, need[1:4])
        return (
            None,
            dx,
            dU,
            db,
            dW if need[4] else None,
            db_hn if need[5] else None,
            dh_0 if need[6] else None,
            None,
        )


def _gru_after_backward(
    dy: Tensor,
    W: Tensor,
    n2: Tensor,
    h_prev: Tensor,
    z: Tensor,
    r: Tensor,
    k_h: Tensor,
    k_z: Tensor,
    need_h_0: bool,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Reset after: every δ of step t is δh_t times a factor known before the loop."""
    T, B, H = h_prev.shape
    Z, R, N = _GRU["z"], _GRU["r"], _GRU["h_tilde"]
    candidate = GRUCell.columns(H, "h_tilde")
    n = n2 * 0.5  # (T, B, H): n_t, kept by the forward as 2 n_t (halving is exact)
    k = h_prev.new_empty(T, B, 3, H)  # δh -> δa^z, δa^r, δn, in the cell's order
    k[:, :, Z] = k_z
    _d_sigmoid(n.mul_(k_h), r, out=k[:, :, R])  # δã ⊙ n_t ⊙ r (1 - r)
    torch.mul(k_h, r, out=k[:, :, N])
    dg = h_prev.new_empty(T, B, 3, H)  # δa^z, δa^r, δn per step, in the cell's order
    dh = torch.empty_like(h_prev)  # δh_t for every step
    dh[T - 1] = dy[T - 1]
    W_T = W.T
    # per-step views made once: the loop below runs only arithmetic
    k_rows, dg_blocks, dg_rows = k.unbind(), dg.unbind(), dg.view(T, B, 3 * H).unbind()
    dh_blocks, dh_rows, dy_rows, z_rows = (
        dh.unsqueeze(2).unbind(),
        dh.unbind(),
        dy.unbind(),
        z.unbind(),
    )
    for t in range(T - 1, -1, -1):
        torch.mul(k_rows[t], dh_blocks[t], out=dg_blocks[t])
        if t > 0:
            direct = torch.addcmul(dy_rows[t - 1], dh_rows[t], z_rows[t])
            torch.addmm(direct, dg_rows[t], W_T, out=dh_rows[t - 1])
    dh_0 = torch.addmm(dh[0] * z[0], dg_rows[0], W_T) if need_h_0 else None
    dg = dg.view(T, B, 3 * H)
    dW = h_prev.reshape(T * B, H).T @ dg.reshape(T * B, 3 * H)
    db_hn = dg[..., candidate].sum((0, 1))
    torch.mul(dh, k_h, out=dg[..., candidate])  # δa_x: the candidate's δ is δã, not δn = δã ⊙ r
    return dg, dW, db_hn, dh_0


def _gru_before_backward(
    dy: Tensor,
    W: Tensor,
    h_prev: Tensor,
    z: Tensor,
    r: Tensor,
    k_h: Tensor,
    k_z: Tensor,
    need_h_0: bool,
) -> tuple[Tensor, Tensor, Tensor]:
    """Reset before: δa^r_t needs δs_t = δã_t W_h^T first, so two matmuls per step."""
    T, B, H = h_prev.shape
    k_r = _d_sigmoid(h_prev, r)  # δs -> δa^r: h_{t-1} ⊙ r (1 - r)
    da = h_prev.new_empty(T, B, 3 * H)  # δa^z, δa^r, δã per step, in the cell's order
    z_, r_, zr = (GRUCell.columns(H, *g) for g in (("z",), ("r",), ("z", "r")))
    candidate = GRUCell.columns(H, "h_tilde")
    W_zr_T, W_h_T = W[:, zr].T, W[:, candidate].T
    # per-step views made once: the loop below runs only arithmetic
    da_z, da_r, da_zr, da_h = (da[..., cols].unbind() for cols in (z_, r_, zr, candidate))
    k_h_rows, k_z_rows, k_r_rows = k_h.unbind(), k_z.unbind(), k_r.unbind()
    z_rows, r_rows = z.unbind(), r.unbind()
    dy_rows = [*dy[:-1].unbind(), torch.zeros_like(h_prev[0])]  # [-1]: none reaches h_0
    dh = dy[T - 1]
    for t in range(T - 1, -1, -1):
        ds = torch.mul(k_h_rows[t], dh, out=da_h[t]) @ W_h_T
        torch.mul(k_z_rows[t], dh, out=da_z[t])
        torch.mul(k_r_rows[t], ds, out=da_r[t])
        if t > 0 or need_h_0:  # δh_{t-1}; h_0's only when asked for
            direct = torch.addcmul(dy_rows[t - 1], dh, z_rows[t])
            dh = torch.addmm(direct.addcmul_(ds, r_rows[t]), da_zr[t], W_zr_T)
    return da, _gru_before_dW(da, h_prev, r), dh


def _gru_before_dW(da: Tensor, h_prev: Tensor, r: Tensor) -> Tensor:
    r"""∂L/∂W (H, 3H), resetting before, from every step's δa (T, B, 3H): the gates' rows
    read :math:`h_{t-1}`, the candidate's :math:`s_t = r_t \odot h_{t-1}`."""
    T, B, H = h_prev.shape
    zr, candidate = GRUCell.columns(H, "z", "r"), GRUCell.columns(H, "h_tilde")
    rows = da.reshape(T * B, 3 * H)
    dW = da.new_empty(H, 3 * H)
    dW[:, zr] = h_prev.reshape(T * B, H).T @ rows[:, zr]
    dW[:, candidate] = (r * h_prev).reshape(T * B, H).T @ rows[:, candidate]
    return dW


def _gru_before_backward_compiled(
    dy: Tensor, W: Tensor, h_prev: Tensor, zr: Tensor, h_tilde: Tensor, need_h_0: bool
) -> tuple[Tensor, Tensor, Tensor | None]:
    r""":func:`_gru_before_backward` with each step's element-wise work in two calls of the
    compiled kernel, around torch's matmul :math:`\delta s_t = \delta\tilde a_t W_h^\top`."""
    T, B, H = h_prev.shape
    kernel = compiled.kernel()
    assert kernel is not None
    da = h_prev.new_empty(T, B, 3 * H)  # δa^z, δa^r, δã per step, in the cell's order
    zr_cols, candidate = GRUCell.columns(H, "z", "r"), GRUCell.columns(H, "h_tilde")
    W_zr_T, W_h_T = W[:, zr_cols].T, W[:, candidate].T
    dy = dy.contiguous()
    dh, dh_prev, ds = dy[T - 1].clone(), h_prev.new_empty(B, H), h_prev.new_empty(B, H)
    no_output = h_prev.new_zeros(B, H)  # nothing reaches h_0 from an output
    da_zr_rows, da_h_rows = da[..., zr_cols].unbind(), da[..., candidate].unbind()
    zr_at, h_tilde_at, h_prev_at, da_at = (compiled.rows(v) for v in (zr, h_tilde, h_prev, da))
    dy_prev_at = [no_output.data_ptr(), *compiled.rows(dy)[:-1]]
    Z, R, N = (_GRU[name] * H for name in ("z", "r", "h_tilde"))
    for t in range(T - 1, -1, -1):
        kernel.gru_backward_candidate(
            B, H, Z, N, zr_at[t], h_tilde_at[t], h_prev_at[t], dh.data_ptr(), da_at[t]
        )  # δã, δa^z
        torch.mm(da_h_rows[t], W_h_T, out=ds)  # δs_t
        kernel.gru_backward_reset(
            B,
            H,
            R,
            zr_at[t],
            h_prev_at[t],
            ds.data_ptr(),
            dh.data_ptr(),
            dy_prev_at[t],
            da_at[t],
            dh_prev.data_ptr(),
        )  # δa^r, and δh_{t-1} but for the gates' matmul
        if t > 0 or need_h_0:
            dh_prev.addmm_(da_zr_rows[t], W_zr_T)
            dh, dh_prev = dh_prev, dh
    r = zr[..., H:]
    return da, _gru_before_dW(da, h_prev, r), dh if need_h_0 else None


def fold(input_map: nn.Linear | None, U: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    r"""One input projection from two affine maps in a row: ``(U, b)`` unchanged without
    ``input_map``, else :math:`(E^\top U,\ e U + b)` for ``input_map`` :math:`x \mapsto x
    E^\top + e`, since

    .. math::
        (x E^\top + e)\, U + b = x\, (E^\top U) + (e U + b).

    The classifier's first layer reads 28 pixels through a 28 → H affine map; folded, the
    fast path's products over all T·B rows are 28 wide instead of H wide (forward: one
    (T·B, 28) @ (28, nH) where two matmuls were; backward: one (28, T·B) @ (T·B, nH) for
    :math:`\partial L/\partial (E^\top U)` where three were, and no gradient for the
    pixels), and the (T, B, H) embedding is never formed. Autograd takes the gradient back
    through the two small products to :math:`E, e, U, b`. The function is the same; its
    rounding is not (the products are summed in another order).
    """
    if input_map is None:
        return U, b
    E_T = input_map.weight.T  # (D_in, D)
    if input_map.bias is None:
        return E_T @ U, b
    return E_T @ U, torch.addmv(b, U.T, input_map.bias)


class RNN(nn.Module):
    """L stacked LSTM or GRU cells unrolled over time.

    Input ``x`` (T, B, D); output ``(y, states)`` with ``y`` (T, B, H), the last layer's
    ``h_t`` at every step, and ``states`` one final state per layer (``(h, c)`` for the
    LSTM, ``h`` for the GRU). Keyword arguments go to each cell (``init``, ``reset``,
    ``forget_bias``).

    ``fast`` (default True) runs the fused forward and back-propagates with the
    hand-written derivatives; set it to False to step the cells and let autograd record
    every step instead (the reference the fast path is tested against).
    """

    def __init__(
        self, cell: str, input_size: int, hidden_size: int, num_layers: int = 1, **cell_kwargs: Any
    ) -> None:
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"cell={cell!r} is not supported: use one of {', '.join(CELLS)}")
        if num_layers < 1 or hidden_size < 1:
            raise ValueError(
                f"need at least one layer of one unit, got {num_layers} x {hidden_size}"
            )
        self.cell_name, self.hidden_size, self.num_layers = cell, hidden_size, num_layers
        sizes = [input_size] + [hidden_size] * (num_layers - 1)
        self.cells = nn.ModuleList(CELLS[cell](d, hidden_size, **cell_kwargs) for d in sizes)
        self.fast = True
        self._observers: list[Observer] = []

    def add_observer(self, observer: Observer) -> _Handle:
        """Call ``observer(l, traces)`` after layer ``l`` runs; returns a handle to remove it."""
        self._observers.append(observer)
        return _Handle(self._observers, observer)

    def forward(
        self, x: Tensor, states: list[Any] | None = None, input_map: nn.Linear | None = None
    ) -> tuple[Tensor, list[Any]]:
        """``input_map``, an affine map applied to every step of ``x`` before the first
        layer (``x`` is then (T, B, its input size)): the reference path applies it, the
        fast path multiplies it into the first layer's input projection (:func:`fold`)."""
        if x.dim() != 3 or x.shape[0] == 0:
            raise ValueError(
                f"RNN expects input shaped (T, B, D) with T >= 1, got {tuple(x.shape)}"
            )
        if states is not None and len(states) != self.num_layers:
            raise ValueError(
                f"expected one initial state per layer ({self.num_layers}), got {len(states)}"
            )
        T, B, _ = x.shape
        if input_map is not None and not self.fast:  # the fast path folds it into layer 0
            x = input_map(x)
        finals = []
        for l, cell in enumerate(self.cells):
            state = states[l] if states is not None else cell.initial_state(B, x)
            gates: dict[str, Tensor] = {}  # filled for observers, from whichever path runs
            if not self.fast:  # x (T, B, H): the next layer's input
                a_x = cell.project_input(x)  # (T, B, nH): all steps in one matmul
                x, state, gates = _unroll(cell, a_x, state, keep_gates=bool(self._observers))
            else:
                U, b = fold(input_map if l == 0 else None, cell.U, cell.b)
                if isinstance(cell, LSTMCell):
                    x, c_T = _LSTMThroughTime.apply(cell, x, U, b, cell.W, *state, gates)
                    state = (x[-1], c_T)
                else:
                    x = _GRUThroughTime.apply(cell, x, U, b, cell.W, cell.b_hn, state, gates)
                    state = x[-1]
            for observer in self._observers:
                observer(l, {**gates, "h": x})
            finals.append(state)
        return x, finals


def copy_from_torch(rnn: RNN, reference: nn.LSTM | nn.GRU) -> RNN:
    """Copy a torch.nn.LSTM / torch.nn.GRU's weights into ``rnn`` (same sizes); returns ``rnn``.

    Only where the functions agree: the LSTM with ``forget_bias=0`` and the GRU with
    ``reset="after"``. torch stores ``weight_ih_l{k}`` as (nH, D) with gate rows
    ``[i|f|g|o]`` (LSTM) or ``[r|z|n]`` (GRU); we store (D, nH) with ``[i|j|f|o]`` or
    ``[z|r|h]``. torch's two biases are summed except the GRU's ``b_hn``, which sits
    inside the reset and has its own parameter here.
    """
    want = nn.LSTM if rnn.cell_name == "lstm" else nn.GRU
    if not isinstance(reference, want) or reference.num_layers != rnn.num_layers:
        raise ValueError(f"expected a {want.__name__} with {rnn.num_layers} layers")
    if reference.batch_first or reference.bidirectional or not reference.bias:
        raise ValueError("only time-first, one-directional modules with biases can be copied")
    for l, cell in enumerate(rnn.cells):
        if isinstance(cell, LSTMCell) and cell.forget_bias != 0.0:
            raise ValueError("torch.nn.LSTM has no forget bias: build the cell with forget_bias=0")
        if isinstance(cell, GRUCell) and cell.reset != "after":
            raise ValueError("torch.nn.GRU resets after the matmul: build with reset='after'")
        tensors = (getattr(reference, f"{n}_l{l}").detach() for n in _TORCH_NAMES)
        with torch.no_grad():
            for name, value in torch_to_ours(rnn.cell_name, *tensors).items():
                getattr(cell, name).copy_(value)
    return rnn


_TORCH_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def torch_to_ours(
    cell: str, weight_ih: Tensor, weight_hh: Tensor, bias_ih: Tensor, bias_hh: Tensor
) -> dict[str, Tensor]:
    """One torch layer's tensors in our layout: ``{"U", "W", "b"}`` (+ ``"b_hn"`` for the GRU).

    The map is linear, so it carries gradients too (pass zero biases to map only weights).
    """
    H = weight_hh.shape[1]
    # torch's gate rows under our names; the order we keep them in is the cell's
    names = _TORCH_ROWS[cell]
    reorder = partial(_reorder, size=H, names=names, order=CELLS[cell].blocks)
    if cell == "lstm":
        bias = bias_ih + bias_hh
    else:  # b_hn stays out of the sum: it is multiplied by r
        bias = torch.cat([bias_ih[: 2 * H] + bias_hh[: 2 * H], bias_ih[2 * H :]])
    ours = {"U": reorder(weight_ih).T, "W": reorder(weight_hh).T, "b": reorder(bias)}
    if cell == "gru":
        ours["b_hn"] = bias_hh[2 * H :]
    return ours


_TORCH_ROWS = {"lstm": ("i", "f", "j", "o"), "gru": ("r", "z", "h_tilde")}
"""torch.nn.LSTM's and torch.nn.GRU's gate rows (``[i|f|g|o]``, ``[r|z|n]``) under our names."""


def _reorder(w: Tensor, size: int, names: tuple[str, ...], order: tuple[str, ...]) -> Tensor:
    """Split ``w``'s rows into blocks of ``size`` named by ``names``; stack them in ``order``."""
    blocks = dict(zip(names, w.split(size, dim=0), strict=True))
    return torch.cat([blocks[name] for name in order])
