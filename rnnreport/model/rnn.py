r"""L stacked LSTM or GRU cells unrolled over T time steps: :class:`~rnnreport.model.rnn.RNN`.

Layer ``l + 1`` reads the outputs of layer ``l``; each layer projects its inputs
(``x U + b``) and runs its cell's equations (:mod:`rnnreport.model.cells`) over time. Two
ways through time, one set of equations:

* the *fast* path (the default: training, evaluation, probes) runs a layer's T steps in
  few passes over memory (:mod:`rnnreport.model.fast_forward`) and back-propagates through
  time with hand-written derivatives (:mod:`rnnreport.model.fast_backward`);
* the *reference* path (``rnn.fast = False``) calls the cell's own ``step`` at every step
  (:func:`_unroll`) and lets autograd record every operation.

They are the same function and round differently: the fast path takes tanh as
:math:`2\sigma(2a) - 1`, sums the input projection in another order and, where a C compiler
is present, runs each step's element-wise work in a compiled kernel
(:mod:`rnnreport.model.compiled`). ``tests/model/test_fast_backward.py`` checks that the
two give the same outputs, final states and gradients.

The classifier's embedding, an affine map of the 28 pixels to H values, reaches the RNN as
its ``input_map``: the reference path applies it first, the fast path multiplies it into the
first layer's input projection (:func:`~rnnreport.model.fast_forward.fold`).

Looking inside: :meth:`RNN.add_observer` registers a callback that receives every layer's
gate activations and outputs, stacked over time, from whichever path runs (so recording
changes no output, not even its rounding). Probes use it
(:func:`rnnreport.inspection.probes.record`); with no observer, nothing is handed out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from .cells import CELLS, Cell, LSTMCell

# Private names of another module: the cache key's fingerprint knows code by its names
# (rnnreport.fingerprint), and renaming these would retrain every recurrent model.
from .fast_backward import GRUThroughTime, LSTMThroughTime
from .fast_forward import fold

Observer = Callable[[int, dict[str, Tensor]], None]
"""``observer(layer_index, traces)`` with ``traces[name]`` shaped (T, B, H)."""


class RNN(nn.Module):
    r"""L stacked LSTM or GRU cells unrolled over time.

    .. math::
        h^{(0)}_t = x_t, \qquad
        \big(h^{(l)}_t, s^{(l)}_t\big) = \mathrm{cell}_l\big(h^{(l-1)}_t, s^{(l)}_{t-1}\big),
        \quad l = 1, \dots, L, \quad t = 1, \dots, T

    where :math:`s^{(l)}_t` is layer l's state (:math:`(h, c)` for the LSTM, :math:`h` for
    the GRU; zeros at :math:`t = 0` unless given) and :math:`\mathrm{cell}_l` the equations
    of :class:`~rnnreport.model.cells.LSTMCell` or :class:`~rnnreport.model.cells.GRUCell`.

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
        fast path multiplies it into the first layer's input projection
        (:func:`~rnnreport.model.fast_forward.fold`)."""
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
                    x, c_T = LSTMThroughTime.apply(cell, x, U, b, cell.W, *state, gates)
                    state = (x[-1], c_T)
                else:
                    x = GRUThroughTime.apply(cell, x, U, b, cell.W, cell.b_hn, state, gates)
                    state = x[-1]
            for observer in self._observers:
                observer(l, {**gates, "h": x})
            finals.append(state)
        return x, finals


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
