r"""Unroll a cell over T time steps and stack L layers of it.

:class:`RNN` is the recurrent part of the assignment's classifier. It projects all T
inputs of a layer at once (``x U + b`` for every step in one matmul), then runs the cell's
``step`` over time; layer ``l + 1`` reads the outputs of layer ``l``.

Looking inside: :meth:`RNN.add_observer` registers a callback that receives every
layer's gate activations and outputs, stacked over time. Probes use it
(:func:`rnnreport.probes.record`); with no observer, nothing is kept.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import torch
from torch import Tensor, nn

from .cells import CELLS, GRUCell, LSTMCell

Observer = Callable[[int, dict[str, Tensor]], None]
"""``observer(layer_index, traces)`` with ``traces[name]`` shaped (T, B, H)."""


class _Handle:
    """Removes an observer, like torch's ``RemovableHandle``."""

    def __init__(self, observers: list[Observer], observer: Observer) -> None:
        self._observers, self._observer = observers, observer

    def remove(self) -> None:
        if self._observer in self._observers:
            self._observers.remove(self._observer)


class RNN(nn.Module):
    """L stacked LSTM or GRU cells unrolled over time.

    Input ``x`` (T, B, D); output ``(y, states)`` with ``y`` (T, B, H), the last layer's
    ``h_t`` at every step, and ``states`` one final state per layer (``(h, c)`` for the
    LSTM, ``h`` for the GRU). Keyword arguments go to each cell (``init``, ``reset``,
    ``forget_bias``).
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
        self._observers: list[Observer] = []

    def add_observer(self, observer: Observer) -> _Handle:
        """Call ``observer(l, traces)`` after layer ``l`` runs; returns a handle to remove it."""
        self._observers.append(observer)
        return _Handle(self._observers, observer)

    def forward(self, x: Tensor, states: list[Any] | None = None) -> tuple[Tensor, list[Any]]:
        if x.dim() != 3:
            raise ValueError(f"RNN expects input shaped (T, B, D), got {tuple(x.shape)}")
        T, B, _ = x.shape
        finals = []
        for l, cell in enumerate(self.cells):
            state = states[l] if states is not None else cell.initial_state(B, x)
            a_x = cell.project_input(x)  # (T, B, nH): all steps in one matmul
            hs, gates = [], []
            for t in range(T):
                state, g = cell.step(a_x[t], state)
                hs.append(state[0] if isinstance(cell, LSTMCell) else state)
                gates.append(g)
            x = torch.stack(hs)  # (T, B, H): the next layer's input
            finals.append(state)
            if self._observers:
                traces = {name: torch.stack([g[name] for g in gates]) for name in gates[0]}
                traces["h"] = x
                for observer in self._observers:
                    observer(l, traces)
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
    # torch's gate rows under our names, and the order we keep them in
    names, order = ("ifjo", "ijfo") if cell == "lstm" else ("rzh", "zrh")
    reorder = partial(_reorder, size=H, names=names, order=order)
    if cell == "lstm":
        bias = bias_ih + bias_hh
    else:  # b_hn stays out of the sum: it is multiplied by r
        bias = torch.cat([bias_ih[: 2 * H] + bias_hh[: 2 * H], bias_ih[2 * H :]])
    ours = {"U": reorder(weight_ih).T, "W": reorder(weight_hh).T, "b": reorder(bias)}
    if cell == "gru":
        ours["b_hn"] = bias_hh[2 * H :]
    return ours


def _reorder(w: Tensor, size: int, names: str, order: str) -> Tensor:
    """Split ``w``'s rows into blocks of ``size`` named by ``names``; stack them in ``order``."""
    blocks = dict(zip(names, w.split(size, dim=0), strict=True))
    return torch.cat([blocks[name] for name in order])
