"""The fast path's forward: its tanh within the documented rounding, its outputs equal to
the reference path's, and an input map folded into the first layer equal to one applied
first (gradients included)."""

from __future__ import annotations

import pytest
import torch

from rnnreport.model.fast_forward import _tanh_from_sigmoid

from .rnns import VARIANTS, B, D, H, T, make

TOL = 1e-5


def test_tanh_from_sigmoid_rounds_within_two_tenths_of_a_micro() -> None:
    """The fast path's tanh, 2σ(2a) - 1, against float64's tanh: the documented bound."""
    a = torch.linspace(-20, 20, 400_001)
    fast = _tanh_from_sigmoid(torch.sigmoid(2 * a)).double()
    assert (fast - torch.tanh(a.double())).abs().max().item() <= 2e-7
    assert torch.equal(
        _tanh_from_sigmoid(torch.tensor([0.5, 0.0, 1.0])), torch.tensor([0, -1, 1.0])
    )


def test_evaluation_runs_the_fast_forward_and_equals_the_reference() -> None:
    for variant in VARIANTS:
        rnn = make(variant, 2)
        x = torch.randn(T, B, D)
        with torch.no_grad():
            y_fast, _ = rnn(x)
            rnn.fast = False
            y_reference, _ = rnn(x)
        assert not torch.equal(y_fast, y_reference)  # two ways of rounding...
        assert (y_fast - y_reference).abs().max().item() <= TOL  # ...of one function


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_folding_an_input_map_equals_applying_it_first(variant: str, bias: bool) -> None:
    """The fast path multiplies the map into layer 0's projection; the reference applies it."""
    rnn = make(variant, 2)
    torch.manual_seed(3)
    input_map = torch.nn.Linear(7, D, bias=bias)
    x = torch.randn(T, B, 7)
    weights = torch.randn(T, B, H)
    runs = []
    for fast in (True, False):
        rnn.fast = fast
        for module in (rnn, input_map):
            module.zero_grad(set_to_none=True)
        y, _ = rnn(x, input_map=input_map)
        (y * weights).sum().backward()
        parameters = [*input_map.parameters(), *rnn.parameters()]
        runs.append([y.detach(), *(p.grad for p in parameters)])
    for a, b in zip(*runs, strict=True):
        assert a.shape == b.shape
        assert (a - b).abs().max().item() <= TOL
    assert all(g.abs().max() > 0 for g in runs[1][1:])
