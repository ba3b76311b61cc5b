r"""The LSTM and GRU cells of the assignment, one line of code per equation.

Both cells follow the class notation (see the theory pages) and TensorFlow 1's
``BasicLSTMCell`` / ``GRUCell``, which is what the 2018 students trained. Each ``step``
returns the new state *and* a dict of its gate activations, so that probes can look inside.

A step takes ``a_x``, the input's contribution to every pre-activation, already computed
(``a_x = x_t U + b``). Splitting it off changes no arithmetic, and it lets a layer project
all T inputs with one matmul before the loop over time (see :mod:`rnnreport.model.rnn`).

Weights are stored so that ``x @ U`` works on row vectors ``x`` of shape ``(B, D)``, the
way TensorFlow stores its kernels; torch stores the transposes. The order of their column
blocks is written once, in each cell's ``blocks`` (:class:`GateLayout`): the cell's own
``step``, the fast path (:mod:`rnnreport.model.fast_forward`,
:mod:`rnnreport.model.fast_backward`), torch's weight map
(:mod:`rnnreport.model.torch_weights`), the theory modules and the tests all read it from there.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

INITS = ("tf1", "torch")
"""Weight initialisations: ``tf1`` (Glorot-uniform kernels, TF1 biases) or ``torch``."""

RESETS = ("before", "after")
"""Where the GRU applies its reset gate: before the recurrent matmul, or after it."""


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name}={value!r} is not supported: use one of {', '.join(choices)}")


def glorot_uniform_(tensor: Tensor, fan_in: int, fan_out: int) -> Tensor:
    """Fill ``tensor`` from U(-a, a), a = sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio 2010).

    The fans are passed explicitly because TF1 draws the recurrent kernel as *one* matrix
    of shape ``(D + H, n·H)`` acting on ``[x, h]``; we store its two row blocks apart.
    """
    a = math.sqrt(6.0 / (fan_in + fan_out))
    with torch.no_grad():
        return tensor.uniform_(-a, a)


def torch_uniform_(tensor: Tensor, hidden_size: int) -> Tensor:
    """Fill ``tensor`` from U(-1/sqrt(H), 1/sqrt(H)), torch.nn.LSTM/GRU's default."""
    k = 1.0 / math.sqrt(hidden_size)
    with torch.no_grad():
        return tensor.uniform_(-k, k)


def check_gate_layout(owner: str, blocks: tuple[str, ...], gate_names: tuple[str, ...]) -> None:
    """Raise unless ``gate_names`` lists each of ``blocks`` once, first, then other records.

    ``blocks`` names a cell's column blocks in order, by the gate each one feeds;
    ``gate_names`` names what its ``step`` reports. Run for every cell class when it is
    defined (:class:`GateLayout`), so that the two cannot disagree silently.
    """
    head, rest = gate_names[: len(blocks)], gate_names[len(blocks) :]
    if (
        not blocks
        or len(set(blocks)) != len(blocks)
        or len(set(gate_names)) != len(gate_names)
        or set(head) != set(blocks)
        or set(rest) & set(blocks)
    ):
        raise TypeError(
            f"{owner}: gate_names={gate_names} must list every column block of "
            f"blocks={blocks} exactly once, before any other recorded value"
        )


class GateLayout:
    """The column layout of a cell's weights ``U``, ``W`` and ``b``, written once per cell.

    ``blocks`` names the column blocks in order, each ``hidden_size`` wide, by the gate each
    one feeds; ``gate_names`` names what ``step`` reports (and probes record): each block's
    gate once, then any other value recorded beside them (the LSTM's ``c``). The two are
    checked against each other when a cell class is defined.
    """

    blocks: ClassVar[tuple[str, ...]]
    gate_names: ClassVar[tuple[str, ...]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        check_gate_layout(cls.__name__, cls.blocks, cls.gate_names)

    @classmethod
    def columns(cls, hidden_size: int, *names: str) -> slice:
        """The columns of the adjacent blocks ``names``, in this order: for the GRU,
        ``columns(H, "z", "r")`` is ``slice(0, 2 * H)``."""
        k = cls.blocks.index(names[0]) if names and names[0] in cls.blocks else -1
        if k < 0 or cls.blocks[k : k + len(names)] != names:
            raise ValueError(f"{names} are not adjacent blocks of {cls.__name__}: {cls.blocks}")
        return slice(k * hidden_size, (k + len(names)) * hidden_size)

    @classmethod
    def split(cls, a: Tensor) -> dict[str, Tensor]:
        """``a`` (..., nH) cut into its column blocks: {name: (..., H)}, in ``blocks`` order."""
        return dict(zip(cls.blocks, a.chunk(len(cls.blocks), dim=-1), strict=True))


class LSTMCell(GateLayout, nn.Module):
    r"""The LSTM cell of TensorFlow 1's ``BasicLSTMCell`` (Hochreiter & Schmidhuber 1997,
    with the forget gate of Gers et al. 2000 and no peepholes).

    .. math::
        \begin{aligned}
        i_t &= \sigma(x_t U_i + h_{t-1} W_i + b_i) \\
        f_t &= \sigma(x_t U_f + h_{t-1} W_f + b_f + b_{\text{forget}}) \\
        j_t &= \tanh(x_t U_j + h_{t-1} W_j + b_j) \\
        o_t &= \sigma(x_t U_o + h_{t-1} W_o + b_o) \\
        c_t &= f_t \odot c_{t-1} + i_t \odot j_t \\
        h_t &= o_t \odot \tanh(c_t)
        \end{aligned}

    where :math:`i_t, f_t, o_t` are the input, forget and output gates, :math:`j_t` the
    candidate, :math:`c_t` the cell state and :math:`h_t` the output. The class notation
    writes :math:`\sigma(i_t)` where we write :math:`i_t`: here a gate's name is its value.

    Shapes: ``x_t`` (B, D); ``h, c`` (B, H). Parameters: ``U`` (D, 4H), ``W`` (H, 4H),
    ``b`` (4H,), column blocks in TF1's order ``[i | j | f | o]`` (``blocks``). torch.nn.LSTM
    orders its rows ``[i | f | g | o]`` (its ``g`` is our ``j``) and keeps two biases that
    only ever appear summed; :func:`rnnreport.model.torch_weights.copy_from_torch` maps one onto
    the other.

    .. note::
        ``forget_bias`` is a constant added inside the forget gate's sigmoid, not a
        parameter: TF1 adds 1.0 so that a fresh cell starts out remembering
        (Jozefowicz et al. 2015). With ``init="torch"`` it defaults to 0, and the cell
        computes exactly torch.nn.LSTM's function.
    """

    blocks = ("i", "j", "f", "o")
    """The column blocks of ``U``, ``W`` and ``b``, in TF1's order."""
    gate_names = ("i", "f", "j", "o", "c")
    """What ``step`` reports: the gates in the equations' order, then the cell state."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        *,
        init: str = "tf1",
        forget_bias: float | None = None,
    ) -> None:
        super().__init__()
        _check_choice("init", init, INITS)
        D, H = input_size, hidden_size
        self.input_size, self.hidden_size, self.init = D, H, init
        self.forget_bias = float(forget_bias if forget_bias is not None else init == "tf1")
        self.U = nn.Parameter(torch.empty(D, 4 * H))
        self.W = nn.Parameter(torch.empty(H, 4 * H))
        self.b = nn.Parameter(torch.empty(4 * H))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        D, H = self.input_size, self.hidden_size
        if self.init == "tf1":  # one Glorot kernel over [x, h], zero biases
            glorot_uniform_(self.U, D + H, 4 * H)
            glorot_uniform_(self.W, D + H, 4 * H)
            nn.init.zeros_(self.b)
        else:
            for p in (self.U, self.W, self.b):
                torch_uniform_(p, H)

    def initial_state(self, batch_size: int, like: Tensor) -> tuple[Tensor, Tensor]:
        """Zero ``(h_0, c_0)``, each (B, H), on ``like``'s device and dtype."""
        zeros = like.new_zeros(batch_size, self.hidden_size)
        return zeros, zeros.clone()

    def project_input(self, x: Tensor) -> Tensor:
        """``x U + b`` for any leading shape: (..., D) -> (..., 4H)."""
        return x @ self.U + self.b

    def step(
        self, a_x: Tensor, state: tuple[Tensor, Tensor]
    ) -> tuple[tuple[Tensor, Tensor], dict[str, Tensor]]:
        """One time step. ``a_x`` = x_t U + b (B, 4H); ``state`` = (h_{t-1}, c_{t-1}).

        Returns ``((h_t, c_t), gates)`` with ``gates`` = {i, f, j, o, c}, each (B, H).
        """
        h_prev, c_prev = state
        a = self.split(a_x + h_prev @ self.W)  # pre-activations {i, j, f, o}, each (B, H)
        i = torch.sigmoid(a["i"])
        f = torch.sigmoid(a["f"] + self.forget_bias)
        j = torch.tanh(a["j"])
        o = torch.sigmoid(a["o"])
        c = f * c_prev + i * j
        h = o * torch.tanh(c)
        return (h, c), {"i": i, "f": f, "j": j, "o": o, "c": c}

    def forward(
        self, x_t: Tensor, state: tuple[Tensor, Tensor] | None = None
    ) -> tuple[tuple[Tensor, Tensor], dict[str, Tensor]]:
        """One step from the raw input ``x_t`` (B, D); zero state when ``state`` is None."""
        if state is None:
            state = self.initial_state(x_t.shape[0], x_t)
        return self.step(self.project_input(x_t), state)


class GRUCell(GateLayout, nn.Module):
    r"""The GRU cell (Cho et al. 2014), reset gate before or after the recurrent matmul.

    .. math::
        \begin{aligned}
        z_t &= \sigma(x_t U_z + h_{t-1} W_z + b_z) \\
        r_t &= \sigma(x_t U_r + h_{t-1} W_r + b_r) \\
        \tilde h_t &= \tanh(x_t U_h + (r_t \odot h_{t-1}) W_h + b_h)
            && \text{reset before (default)} \\
        \tilde h_t &= \tanh(x_t U_h + b_h + r_t \odot (h_{t-1} W_h + b_{hn}))
            && \text{reset after} \\
        h_t &= (1 - z_t) \odot \tilde h_t + z_t \odot h_{t-1}
        \end{aligned}

    where :math:`z_t` is the update gate (1 keeps the old state), :math:`r_t` the reset
    gate and :math:`\tilde h_t` the candidate.

    Shapes: ``x_t`` (B, D); ``h`` (B, H). Parameters: ``U`` (D, 3H), ``W`` (H, 3H),
    ``b`` (3H,), column blocks ``[z | r | h_tilde]`` (``blocks``; the last feeds the
    candidate); with ``reset="after"`` also ``b_hn`` (H,).

    .. note::
        ``reset="before"`` is Cho et al.'s arXiv v3 and TensorFlow 1's ``GRUCell``: the
        assignment's cell. ``reset="after"`` is what cuDNN and torch.nn.GRU compute
        (their ``n_t``); it has a second candidate bias inside the reset, and is a
        different function of the same weights. With ``init="tf1"`` the gate biases
        start at 1.0 (TF1's ``GRUCell``) and the candidate bias at 0.
    """

    blocks = ("z", "r", "h_tilde")
    """The column blocks of ``U``, ``W`` and ``b``, in TF1's order (gates, then candidate)."""
    gate_names = ("z", "r", "h_tilde")
    """What ``step`` reports: the gates and the candidate."""

    def __init__(
        self, input_size: int, hidden_size: int, *, reset: str = "before", init: str = "tf1"
    ) -> None:
        super().__init__()
        _check_choice("reset", reset, RESETS)
        _check_choice("init", init, INITS)
        D, H = input_size, hidden_size
        self.input_size, self.hidden_size, self.reset, self.init = D, H, reset, init
        self.U = nn.Parameter(torch.empty(D, 3 * H))
        self.W = nn.Parameter(torch.empty(H, 3 * H))
        self.b = nn.Parameter(torch.empty(3 * H))
        self.b_hn = nn.Parameter(torch.empty(H)) if reset == "after" else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        D, H = self.input_size, self.hidden_size
        gates, candidate = self.columns(H, "z", "r"), self.columns(H, "h_tilde")
        if self.init == "tf1":  # TF1 draws the gate kernel and the candidate kernel apart
            glorot_uniform_(self.U[:, gates], D + H, 2 * H)
            glorot_uniform_(self.W[:, gates], D + H, 2 * H)
            glorot_uniform_(self.U[:, candidate], D + H, H)
            glorot_uniform_(self.W[:, candidate], D + H, H)
            with torch.no_grad():
                self.b[gates].fill_(1.0)
                self.b[candidate].zero_()
            if self.b_hn is not None:
                nn.init.zeros_(self.b_hn)
        else:
            for p in (self.U, self.W, self.b, self.b_hn):
                if p is not None:
                    torch_uniform_(p, H)

    def initial_state(self, batch_size: int, like: Tensor) -> Tensor:
        """Zero ``h_0`` (B, H) on ``like``'s device and dtype."""
        return like.new_zeros(batch_size, self.hidden_size)

    def project_input(self, x: Tensor) -> Tensor:
        """``x U + b`` for any leading shape: (..., D) -> (..., 3H)."""
        return x @ self.U + self.b

    def step(self, a_x: Tensor, h_prev: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """One time step. ``a_x`` = x_t U + b (B, 3H); ``h_prev`` = h_{t-1} (B, H).

        Returns ``(h_t, gates)`` with ``gates`` = {z, r, h_tilde}, each (B, H).
        """
        H = self.hidden_size
        gates, candidate = self.columns(H, "z", "r"), self.columns(H, "h_tilde")
        W_zr, W_h = self.W[:, gates], self.W[:, candidate]
        a_zr, a_h = a_x[:, gates], a_x[:, candidate]
        z, r = torch.sigmoid(a_zr + h_prev @ W_zr).chunk(2, dim=-1)  # each (B, H)
        if self.reset == "before":
            h_tilde = torch.tanh(a_h + (r * h_prev) @ W_h)
        else:
            h_tilde = torch.tanh(a_h + r * (h_prev @ W_h + self.b_hn))
        h = (1 - z) * h_tilde + z * h_prev
        return h, {"z": z, "r": r, "h_tilde": h_tilde}

    def forward(
        self, x_t: Tensor, h_prev: Tensor | None = None
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """One step from the raw input ``x_t`` (B, D); zero state when ``h_prev`` is None."""
        if h_prev is None:
            h_prev = self.initial_state(x_t.shape[0], x_t)
        return self.step(self.project_input(x_t), h_prev)


CELLS = {"lstm": LSTMCell, "gru": GRUCell}
"""Cell classes by the names used in configs and on the command line."""

Cell = LSTMCell | GRUCell
"""Either cell."""
