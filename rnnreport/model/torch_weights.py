r"""torch.nn.LSTM's and torch.nn.GRU's weights in our cells' layout.

:func:`copy_from_torch` copies a torch module's weights into an :class:`~rnnreport.model.rnn.RNN`
of the same sizes; :func:`torch_to_ours` maps one layer's tensors, and, the map being linear,
their gradients too. The tests compare the two modules through this map, gradients included.

torch stores ``weight_ih_l{k}`` as (nH, D) with gate rows ``[i|f|g|o]`` (LSTM) or
``[r|z|n]`` (GRU); the cells store ``U`` as (D, nH) with columns ``[i|j|f|o]`` or
``[z|r|h_tilde]`` (``LSTMCell.blocks``, ``GRUCell.blocks``): torch's ``g`` is our ``j``, its
``n`` our ``h_tilde``. torch's two biases are summed, except the GRU's ``b_hn``, which sits
inside the reset (:math:`r \odot (h W_h + b_{hn})`) and is a parameter of its own here. The
functions agree only for the LSTM with ``forget_bias=0`` and the GRU with ``reset="after"``.
"""

from __future__ import annotations

from functools import partial

import torch
from torch import Tensor, nn

from .cells import CELLS, GRUCell, LSTMCell
from .rnn import RNN


def copy_from_torch(rnn: RNN, reference: nn.LSTM | nn.GRU) -> RNN:
    """Copy a torch.nn.LSTM / torch.nn.GRU's weights into ``rnn`` (same sizes, same number
    of layers, time first, one direction, with biases); returns ``rnn``.

    Only where the functions agree: the LSTM with ``forget_bias=0``, the GRU with
    ``reset="after"``; anything else is refused with the reason. Each layer's tensors go
    through :func:`torch_to_ours`.
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
        tensors = (getattr(reference, f"{n}_l{l}").detach() for n in TORCH_NAMES)
        with torch.no_grad():
            for name, value in torch_to_ours(rnn.cell_name, *tensors).items():
                getattr(cell, name).copy_(value)
    return rnn


TORCH_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
"""A torch layer's tensors (``weight_ih_l{k}``, …) without the layer suffix, in the order
:func:`torch_to_ours` takes them."""


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
