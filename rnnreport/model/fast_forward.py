r"""The fast path's forward: one LSTM or GRU layer over T steps, in few passes over memory.

:func:`lstm_forward` and :func:`gru_forward` compute the cells' equations
(:mod:`rnnreport.model.cells`) for all T steps of a layer and keep what the backward needs
(the gates; the cell and :math:`\tanh c`; :math:`2 n_t` for the GRU resetting after). The
autograd Functions of :mod:`rnnreport.model.fast_backward` call them. :func:`fold` makes one
input projection of an affine map before the first layer and that layer's own.

Fewer operations a step: at 32 units a step's time goes to its number of operations more
than to its matmuls, so a step takes every sigmoid of its gates in one call, and tanh as
:math:`\tanh a = 2\sigma(2a) - 1` (:func:`_tanh_from_sigmoid`): torch's CPU ``tanh`` is
several times slower than its ``sigmoid``. The columns whose tanh is taken are doubled in
``U``, ``b`` and ``W`` once a call (doubling is exact), so the (T, B, nH) pre-activations
are written once. The result differs from ``torch.tanh``'s by rounding only: below 2e-7
per tanh, absolute.

The compiled kernel: an LSTM step's element-wise work (four gates, the cell,
:math:`\tanh c`, the output) is a dozen passes over the step's rows as torch operations.
Where a C compiler is present it is one call a step of the kernel of
:mod:`rnnreport.model.compiled` (the same equations, ``steps.c``), the matmuls staying with
torch; the GRU resetting before, whose step has a matmul in the middle, takes two calls.
With the kernel each step projects its own input (``x_t U + b``, then ``+ h_{t-1} W`` into
the same rows) rather than all T at once, so that the rows are in cache when the second
matmul and the kernel read them (faster from 32 units up). Elsewhere (no compiler, float64,
a GPU, the GRU resetting after) the loops run torch operations; :func:`kernel_for` decides.
The two round differently (the kernel has its own exp), so a trained model's cache key
names the kernel.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from . import compiled
from .cells import GRUCell, LSTMCell


def fold(input_map: nn.Linear | None, U: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    r"""One input projection from two affine maps in a row: ``(U, b)`` unchanged without
    ``input_map``, else :math:`(E^\top U,\ e U + b)` for ``input_map`` :math:`x \mapsto x
    E^\top + e`, since

    .. math::
        (x E^\top + e)\, U + b = x\, (E^\top U) + (e U + b).

    The classifier's first layer reads 28 pixels through a 28 → H affine map; folded, the
    fast path's products over all T·B rows are 28 wide instead of H wide (forward: one
    (T·B, 28) @ (28, nH) instead of embedding, then projecting; backward: one
    (28, T·B) @ (T·B, nH) for :math:`\partial L/\partial (E^\top U)` instead of three
    matmuls, and no gradient for the pixels), and the (T, B, H) embedding is never formed.
    Of the multiply-adds that take the pixels into the first layer, forward and backward,
    that is about half at 32 units and a seventh at 128. Autograd takes the gradient back
    through the two small products to :math:`E, e, U, b`. The function is the same; its
    rounding is not (the products are summed in another order).
    """
    if input_map is None:
        return U, b
    E_T = input_map.weight.T  # (D_in, D)
    if input_map.bias is None:
        return E_T @ U, b
    return E_T @ U, torch.addmv(b, U.T, input_map.bias)


def lstm_forward(
    cell: LSTMCell, x: Tensor, U: Tensor, b: Tensor, W: Tensor, h_0: Tensor, c_0: Tensor
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    r"""The LSTM's equations over T steps in few passes: ``(h, g, c, tanh_c)``, over time.

    ``h``, ``c`` and ``tanh_c`` are (T, B, H); ``g`` (T, B, 4H) holds :math:`i, j, f, o`
    in the cell's column order. A step is ten operations, no tanh among them: one matmul,
    one sigmoid over all four blocks, eight cheap passes (one more sigmoid among them),
    where :meth:`~rnnreport.model.cells.LSTMCell.step` makes twelve, two of them torch's slow tanh:

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
    if (kernel := kernel_for(x)) is not None:  # the step's element-wise work in C
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
    """:func:`lstm_forward`'s loop with the element-wise work in the compiled kernel:
    fills ``g`` (i, j, f, o at the column offsets ``blocks``), ``c``, ``tanh_c`` and ``h``
    (contiguous). Each step projects its own input (``x_t Û + b̂``, j doubled) just before
    its recurrent matmul adds to the same rows, while they are in cache."""
    T, B, H = h.shape
    c_0 = rows_like(c_0, h)  # the kernel reads (B, H) floats from it
    rows, x_rows, h_rows = g.unbind(), x.unbind(), h.unbind()
    g_at, c_at, tanh_c_at, h_at = (compiled.rows(v) for v in (g, c, tanh_c, h))
    c_prev_at = [c_0.data_ptr(), *c_at[:-1]]
    h_t = h_0
    for t in range(T):
        torch.addmm(b_hat, x_rows[t], U_hat, out=rows[t]).addmm_(h_t, W_hat)  # a_t
        kernel.lstm_forward(B, H, *blocks, g_at[t], c_prev_at[t], c_at[t], tanh_c_at[t], h_at[t])
        h_t = h_rows[t]


def gru_forward(
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
    if b_hn is None and (kernel := kernel_for(x)) is not None:  # element-wise work in C
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
    """:func:`gru_forward`'s loop, resetting before, with the element-wise work in the
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


def kernel_for(like: Tensor) -> compiled.Kernel | None:
    """The compiled steps when they can run on ``like``'s tensors (float32 on the CPU)."""
    if like.device.type != "cpu" or like.dtype != torch.float32:
        return None
    return compiled.kernel()


def rows_like(state: Tensor, like: Tensor) -> Tensor:
    """``state`` as the compiled kernel reads it: (B, H) contiguous, of ``like``'s dtype,
    broadcast as torch's operations would broadcast it (an error where they could not)."""
    return state.to(like.dtype).expand(like.shape[-2:]).contiguous()


def _doubling(n: int, blocks: slice, like: Tensor) -> Tensor:
    """(n,) ones, and 2 over ``blocks``: scales the columns whose tanh is taken as σ(2a)."""
    scale = like.new_ones(n)
    scale[blocks] = 2
    return scale


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
