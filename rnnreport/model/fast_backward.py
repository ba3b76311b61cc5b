r"""The fast path's backward: back-propagation through time with hand-written derivatives.

:class:`LSTMThroughTime` and :class:`GRUThroughTime` are autograd Functions for one layer
over T steps: their forward is :mod:`rnnreport.model.fast_forward`'s, their backward takes
the gradient of the layer's outputs (and final state) back to its inputs, weights and initial
state. Each Function's docstring states a step's derivatives, one line each;
:class:`~rnnreport.model.rnn.RNN` applies them on its fast path.

Autograd would record a dozen operations a step and replay each backwards. By hand a step
needs a few: every factor that depends only on the saved gates is computed for all T steps
at once before the loop (σ's and tanh's derivatives through ATen's own one-pass kernels,
:func:`_d_sigmoid`, :func:`_d_tanh`), and the weight gradients of all T steps come from one
matmul over ``T·B`` rows after it. Where the compiled kernel runs the forward, it runs each
step's element-wise work backwards too (:func:`_lstm_deltas_compiled`,
:func:`_gru_before_backward_compiled`); the matmuls stay with torch.

``tests/model/test_fast_backward.py`` checks every gradient against autograd through the
cells' own steps, and against finite differences in float64.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch.autograd.function import FunctionCtx, once_differentiable

from . import compiled
from .cells import GRUCell, LSTMCell

# Private names of another module: the cache key's fingerprint knows code by its names
# (rnnreport.fingerprint), and renaming these would retrain every recurrent model.
from .fast_forward import gru_forward, kernel_for, lstm_forward, rows_like

_LSTM = {g: k for k, g in enumerate(LSTMCell.blocks)}
"""Each LSTM gate's slot among the column blocks, read from the cell: δa keeps its order."""
_GRU = {g: k for k, g in enumerate(GRUCell.blocks)}
"""Each GRU block's slot, read from the cell (the candidate's is ``h_tilde``)."""


class LSTMThroughTime(torch.autograd.Function):
    r"""One LSTM layer over T steps: :func:`~rnnreport.model.fast_forward.lstm_forward`,
    and a hand-written backward.

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
        h, g, c, tanh_c = lstm_forward(cell, x, U, b, W, h_0, c_0)
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
        lstm_deltas = _lstm_deltas if kernel_for(g) is None else _lstm_deltas_compiled
        da, dc = lstm_deltas(W.T, g, c_0, c, tanh_c, dy, dc_T)  # (T, B, 4H), (B, H)
        need = ctx.needs_input_grad
        dh_0 = da[0] @ W.T if need[5] else None
        dW = _previous(h_0, h).reshape(T * B, H).T @ da.view(T * B, 4 * H) if need[4] else None
        dx, dU, db = _projection_backward(x, U, da, need[1:4])
        return None, dx, dU, db, dW, dh_0, dc if need[6] else None, None


def _lstm_deltas(
    W_T: Tensor, g: Tensor, c_0: Tensor, c: Tensor, tanh_c: Tensor, dy: Tensor, dc_T: Tensor
) -> tuple[Tensor, Tensor]:
    """``(δa, δc_0)``: :class:`LSTMThroughTime`'s equations back through time, as torch
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
    c_0 = rows_like(c_0, c)
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


class GRUThroughTime(torch.autograd.Function):
    r"""One GRU layer over T steps: :func:`~rnnreport.model.fast_forward.gru_forward`,
    and a hand-written backward.

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
        h, zr, h_tilde, n2 = gru_forward(cell, x, U, b, W, b_hn, h_0)
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
        if ctx.reset == "before" and kernel_for(h) is not None:
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


def _previous(first: Tensor, sequence: Tensor) -> Tensor:
    """``[first, sequence[0], …, sequence[T-2]]``: the value each step started from (T, B, H)."""
    return torch.cat([first.unsqueeze(0), sequence[:-1]])


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
