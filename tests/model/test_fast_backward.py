"""The hand-written backward through time equals autograd through every step of the cells
(the reference path) in outputs, final states and every gradient, with torch operations and
with the compiled kernel; and finite differences in float64."""

from __future__ import annotations

import pytest
import torch

from rnnreport.model import compiled
from rnnreport.model.fast_backward import GRUThroughTime, LSTMThroughTime
from rnnreport.model.rnn import RNN

from .rnns import VARIANTS, B, D, H, T, make

TOL = 1e-5


def _flat(state) -> list[torch.Tensor]:
    return list(state) if isinstance(state, tuple) else [state]


def _initial_states(cell: str, layers: int) -> list:
    g = torch.Generator().manual_seed(11)

    def state() -> torch.Tensor:
        return (0.5 * torch.randn(B, H, generator=g)).requires_grad_()

    return [(state(), state()) if cell == "lstm" else state() for _ in range(layers)]


def _run(rnn: RNN, fast: bool, with_states: bool) -> list[torch.Tensor]:
    """Outputs, finals and every gradient of a loss that uses all of them."""
    rnn.fast = fast
    rnn.zero_grad(set_to_none=True)
    x = torch.randn(T, B, D, generator=torch.Generator().manual_seed(5)).requires_grad_()
    states = _initial_states(rnn.cell_name, rnn.num_layers) if with_states else None
    y, finals = rnn(x, states)
    weights = torch.randn(T, B, H, generator=torch.Generator().manual_seed(6))
    loss = (y * weights).sum()
    for k, tensor in enumerate(t for state in finals for t in _flat(state)):
        loss = loss + (k + 1) * (tensor * tensor).sum()  # the final states get gradients too
    loss.backward()
    inputs = [x] + ([t for s in states for t in _flat(s)] if states is not None else [])
    finals_flat = [t.detach() for s in finals for t in _flat(s)]
    return [
        y.detach(),
        *finals_flat,
        *(t.grad for t in inputs),
        *(p.grad for p in rnn.parameters()),
    ]


PATHS = [(v, "torch") for v in VARIANTS] + [(v, "compiled") for v in VARIANTS if v != "gru-after"]
"""Each variant with each way the fast path can take its step's element-wise work: torch
operations and, but for the GRU resetting after, the compiled kernel
(:mod:`rnnreport.model.compiled`)."""


def _use(step: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if step == "torch":
        monkeypatch.setattr(compiled, "kernel", lambda: None)
    elif compiled.kernel() is None:
        pytest.skip(f"no compiled steps here: {compiled.status()}")


@pytest.mark.parametrize("with_states", [False, True])
@pytest.mark.parametrize("layers", [1, 3])
@pytest.mark.parametrize(("variant", "step"), PATHS)
def test_fast_path_equals_reference(
    variant: str, step: str, layers: int, with_states: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    _use(step, monkeypatch)
    rnn = make(variant, layers)
    fast = _run(rnn, fast=True, with_states=with_states)
    reference = _run(rnn, fast=False, with_states=with_states)
    assert len(fast) == len(reference)
    for a, b in zip(fast, reference, strict=True):
        assert a is not None and b is not None
        assert a.shape == b.shape
        assert (a - b).abs().max().item() <= TOL
    # and the gradients are not all zero, so the comparison compared something
    assert all(g.abs().max() > 0 for g in reference[-len(list(rnn.parameters())) :])


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_hand_written_backward_passes_gradcheck(variant: str) -> None:
    """Finite differences in float64, on the autograd.Function itself."""
    rnn = make(variant, 1).double()
    cell = rnn.cells[0]
    g = torch.Generator().manual_seed(3)
    x = torch.randn(4, 2, D, generator=g, dtype=torch.float64, requires_grad=True)
    projection = (x, cell.U, cell.b)
    h_0 = torch.randn(2, H, generator=g, dtype=torch.float64, requires_grad=True)
    if rnn.cell_name == "lstm":
        c_0 = torch.randn(2, H, generator=g, dtype=torch.float64, requires_grad=True)
        inputs = (*projection, cell.W, h_0, c_0)
        assert torch.autograd.gradcheck(lambda *a: LSTMThroughTime.apply(cell, *a), inputs)
    else:
        b_hn = cell.b_hn
        if b_hn is None:
            inputs = (*projection, cell.W, h_0)
            fn = lambda x, U, b, W, h: GRUThroughTime.apply(cell, x, U, b, W, None, h)  # noqa: E731
        else:
            inputs = (*projection, cell.W, b_hn, h_0)
            fn = lambda *a: GRUThroughTime.apply(cell, *a)  # noqa: E731
        assert torch.autograd.gradcheck(fn, inputs)
