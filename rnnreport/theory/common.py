r"""What every theory module uses: LaTeX for the site, SymPy's sigmoid, and the library's
cells with weights set by construction.

The theory modules answer Q1 of the assignment, one question each
(:mod:`~rnnreport.theory.store`, :mod:`~rnnreport.theory.keep`,
:mod:`~rnnreport.theory.special_case`, :mod:`~rnnreport.theory.counting`, on the facts
of :mod:`~rnnreport.theory.limits`). Each derives its result with SymPy (the returned
expressions are what the site renders as LaTeX) and then *witnesses* it on
:class:`~rnnreport.model.cells.LSTMCell` / :class:`~rnnreport.model.cells.GRUCell` — the
very cells we train — with weights set by the helpers below, so the numbers on the page
are the cells' outputs, not a re-implementation's.

Each returns a frozen dataclass of SymPy objects and witness numbers (NumPy arrays where a
plot needs a series) with a ``math()`` method giving the derivation as :class:`Latex`.
Witnesses run in float64 where float32's rounding would blur the comparison with a
formula, and in float32 where the point is what float32 does; each field says which.

Weights follow the cells' layouts, read from the cells (``LSTMCell.blocks``, columns
``[i | j | f | o]``; ``GRUCell.blocks``, ``[z | r | h_tilde]``, the last the candidate's).
The LSTM adds ``forget_bias`` inside the forget gate's sigmoid; :func:`set_gate` takes the
*total* pre-activation bias and subtracts it, so a witness means what it says.
"""

from __future__ import annotations

import sympy as sp
import torch
from torch import Tensor

from rnnreport.model.cells import CELLS, Cell

# --------------------------------------------------------------------------------------
# Rendering


class Latex:
    r"""Display math for the site and for a terminal.

    sphinx-gallery shows the ``_repr_html_`` of a block's last expression; wrapping it in
    ``<div class="math">`` is what Sphinx's MathJax setup typesets (it skips other page
    text). ``lines`` are joined into an ``aligned`` environment, one per row; use ``&`` to
    align.
    """

    def __init__(self, *lines: str) -> None:
        if not lines:
            raise ValueError("Latex needs at least one line of LaTeX")
        self.lines = lines

    @property
    def source(self) -> str:
        if len(self.lines) == 1:
            return self.lines[0]
        return r"\begin{aligned}" + r" \\ ".join(self.lines) + r"\end{aligned}"

    def _repr_html_(self) -> str:
        text = self.source.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        return f'<div class="math notranslate nohighlight">\\[{text}\\]</div>'

    def _repr_latex_(self) -> str:
        return f"$${self.source}$$"

    def __repr__(self) -> str:
        return "\n".join(self.lines)


def tex(expr: sp.Basic) -> str:
    """SymPy's LaTeX for ``expr``, logs written ``\\ln``."""
    return sp.latex(expr, ln_notation=True)


def sigmoid(x: sp.Expr) -> sp.Expr:
    r""":math:`\sigma(x) = 1 / (1 + e^{-x})` as a SymPy expression."""
    return 1 / (1 + sp.exp(-x))


# --------------------------------------------------------------------------------------
# Building cells with weights set by construction


def blank_cell(kind: str, input_size: int, hidden_size: int, dtype: torch.dtype) -> Cell:
    """A library cell (TF1 flavour, the assignment's) in ``dtype`` with all weights zero.

    The LSTM keeps its ``forget_bias`` of 1.0; :func:`set_gate` compensates for it.
    """
    if kind not in CELLS:
        raise ValueError(f"kind={kind!r} is not a cell: use one of {', '.join(CELLS)}")
    cell = CELLS[kind](input_size, hidden_size).to(dtype)
    with torch.no_grad():
        for p in (cell.U, cell.W, cell.b):
            p.zero_()
    return cell


def set_gate(
    cell: Cell,
    gate: str,
    *,
    U: Tensor | float | None = None,
    W: Tensor | float | None = None,
    b: Tensor | float | None = None,
) -> Cell:
    """Set one gate's column block of ``U`` (D, H), ``W`` (H, H) and ``b`` (H,).

    ``gate`` is one of the cell's ``blocks``: ``i, j, f, o`` (LSTM) or ``z, r, h_tilde``
    (GRU; ``h_tilde`` is the candidate). ``b`` is the gate's whole constant pre-activation:
    for the LSTM's ``f`` the cell's ``forget_bias`` is subtracted, so that
    ``f = sigmoid(x U_f + h W_f + b)`` exactly.
    """
    cols = _columns(cell, gate)
    if gate == "f" and b is not None:
        b = torch.as_tensor(b, dtype=cell.b.dtype) - cell.forget_bias
    with torch.no_grad():
        for param, value in ((cell.U, U), (cell.W, W), (cell.b, b)):
            if value is not None:
                param[..., cols] = torch.as_tensor(value, dtype=param.dtype)
    return cell


def get_gate(cell: Cell, gate: str) -> dict[str, Tensor]:
    """One gate's column block, detached: ``{"U": (D, H), "W": (H, H), "b": (H,)}``.

    ``b`` is the stored bias (the LSTM's ``forget_bias`` is not added): what
    :func:`set_gate` would need for the same gate of a cell without it.
    """
    cols = _columns(cell, gate)
    return {name: getattr(cell, name)[..., cols].detach() for name in ("U", "W", "b")}


def _columns(cell: Cell, gate: str) -> slice:
    if gate not in cell.blocks:
        raise ValueError(
            f"gate={gate!r} is not a {type(cell).__name__} block: use one of {cell.blocks}"
        )
    return cell.columns(cell.hidden_size, gate)


def unroll(cell: Cell, xs: Tensor, state=None) -> tuple[list, dict[str, Tensor]]:
    """Run ``cell`` over ``xs`` (T, B, D); return the T states and the gates stacked (T, B, H).

    The states are the cell's own: ``(h_t, c_t)`` tuples for the LSTM, ``h_t`` for the GRU.
    """
    states, gates = [], []
    with torch.no_grad():
        for x_t in xs:
            state, g = cell(x_t, state)
            states.append(state)
            gates.append(g)
    return states, {k: torch.stack([g[k] for g in gates]) for k in gates[0]}


def binary_image(rows: int, cols: int, seed: int = 0, p: float = 0.3) -> Tensor:
    """A random binary "image" (rows, cols) of 0.0 / 1.0, float64: a stand-in for a
    binarized MNIST digit (the derivations do not load data)."""
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(rows, cols, generator=g, dtype=torch.float64) < p).double()
