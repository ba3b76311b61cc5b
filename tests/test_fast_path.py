"""The fast path (hand-written backward through time) equals the reference path (autograd
through every step of the cells) in outputs, final states and every gradient."""

from __future__ import annotations

import pytest
import torch

from rnnreport.model import compiled
from rnnreport.model.fast_backward import _GRUThroughTime, _LSTMThroughTime
from rnnreport.model.fast_forward import _tanh_from_sigmoid
from rnnreport.model.rnn import RNN

TOL = 1e-5
T, B, D, H = 6, 4, 5, 3

VARIANTS = {
    "lstm-tf1": ("lstm", {"init": "tf1"}),  # forget_bias = 1 inside the sigmoid
    "lstm-torch": ("lstm", {"init": "torch"}),
    "gru-before": ("gru", {"reset": "before"}),
    "gru-after": ("gru", {"reset": "after", "init": "torch"}),
}


def _flat(state) -> list[torch.Tensor]:
    return list(state) if isinstance(state, tuple) else [state]


def _make(variant: str, layers: int) -> RNN:
    cell, kwargs = VARIANTS[variant]
    torch.manual_seed(layers)
    rnn = RNN(cell, D, H, layers, **kwargs)
    with torch.no_grad():  # move every parameter off its initial value (zero biases, b_hn)
        for p in rnn.parameters():
            p.add_(0.5 * torch.randn_like(p))
    return rnn


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
    rnn = _make(variant, layers)
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
def test_observers_see_the_fast_path_and_its_gates_equal_the_cells(variant: str) -> None:
    """Recording changes no output (it watches the fast path); what it sees are the gates
    the cells' own steps compute, up to rounding."""
    rnn = _make(variant, 2)
    x = torch.randn(T, B, D, requires_grad=True)
    y, _ = rnn(x)
    assert "ThroughTime" in type(y.grad_fn).__name__

    def watch() -> tuple[torch.Tensor, dict[int, dict[str, torch.Tensor]]]:
        seen: dict[int, dict[str, torch.Tensor]] = {}
        handle = rnn.add_observer(lambda l, traces: seen.__setitem__(l, traces))
        try:
            return rnn(x)[0], seen
        finally:
            handle.remove()

    y_observed, seen = watch()
    assert "ThroughTime" in type(y_observed.grad_fn).__name__
    assert torch.equal(y_observed, y)
    rnn.fast = False
    y_reference, reference = watch()
    assert "ThroughTime" not in type(y_reference.grad_fn).__name__
    assert sorted(seen) == sorted(reference) == [0, 1]
    names = {"lstm": ["i", "f", "j", "o", "c", "h"], "gru": ["z", "r", "h_tilde", "h"]}
    for l in (0, 1):
        assert list(seen[l]) == list(reference[l]) == names[rnn.cell_name]
        for name, value in seen[l].items():
            assert value.shape == (T, B, H)
            assert (value - reference[l][name]).abs().max().item() <= TOL, (l, name)
    assert torch.equal(seen[1]["h"], y_observed)


def test_no_grad_gives_the_same_outputs() -> None:
    rnn = _make("lstm-tf1", 2)
    x = torch.randn(T, B, D)
    with torch.no_grad():
        y, finals = rnn(x)
    assert y.grad_fn is None
    y_fast, finals_fast = rnn(x.clone().requires_grad_())
    assert (y - y_fast).abs().max().item() <= TOL
    assert (finals[-1][1] - finals_fast[-1][1]).abs().max().item() <= TOL


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_hand_written_backward_passes_gradcheck(variant: str) -> None:
    """Finite differences in float64, on the autograd.Function itself."""
    rnn = _make(variant, 1).double()
    cell = rnn.cells[0]
    g = torch.Generator().manual_seed(3)
    x = torch.randn(4, 2, D, generator=g, dtype=torch.float64, requires_grad=True)
    projection = (x, cell.U, cell.b)
    h_0 = torch.randn(2, H, generator=g, dtype=torch.float64, requires_grad=True)
    if rnn.cell_name == "lstm":
        c_0 = torch.randn(2, H, generator=g, dtype=torch.float64, requires_grad=True)
        inputs = (*projection, cell.W, h_0, c_0)
        assert torch.autograd.gradcheck(lambda *a: _LSTMThroughTime.apply(cell, *a), inputs)
    else:
        b_hn = cell.b_hn
        if b_hn is None:
            inputs = (*projection, cell.W, h_0)
            fn = lambda x, U, b, W, h: _GRUThroughTime.apply(cell, x, U, b, W, None, h)  # noqa: E731
        else:
            inputs = (*projection, cell.W, b_hn, h_0)
            fn = lambda *a: _GRUThroughTime.apply(cell, *a)  # noqa: E731
        assert torch.autograd.gradcheck(fn, inputs)


def test_wrong_number_of_states_says_so() -> None:
    rnn = RNN("gru", D, H, 2)
    with pytest.raises(ValueError, match=r"one initial state per layer \(2\), got 1"):
        rnn(torch.randn(T, B, D), [torch.zeros(B, H)])


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
        rnn = _make(variant, 2)
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
    rnn = _make(variant, 2)
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
