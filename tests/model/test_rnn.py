"""The public RNN: its arguments checked with the reason, one initial state per layer,
observers that see the path that runs (and change no output), and no_grad giving the
outputs of a recorded run."""

from __future__ import annotations

import pytest
import torch

from rnnreport.model.rnn import RNN

from .rnns import VARIANTS, B, D, H, T, make

TOL = 1e-5


def test_bad_arguments_say_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="cell='rnn'"):
        RNN("rnn", D, H)
    with pytest.raises(ValueError, match=r"\(T, B, D\)"):
        RNN("gru", D, H)(torch.randn(B, D))


def test_wrong_number_of_states_says_so() -> None:
    rnn = RNN("gru", D, H, 2)
    with pytest.raises(ValueError, match=r"one initial state per layer \(2\), got 1"):
        rnn(torch.randn(T, B, D), [torch.zeros(B, H)])


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_observers_see_the_fast_path_and_its_gates_equal_the_cells(variant: str) -> None:
    """Recording changes no output (it watches the fast path); what it sees are the gates
    the cells' own steps compute, up to rounding."""
    rnn = make(variant, 2)
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
    rnn = make("lstm-tf1", 2)
    x = torch.randn(T, B, D)
    with torch.no_grad():
        y, finals = rnn(x)
    assert y.grad_fn is None
    y_fast, finals_fast = rnn(x.clone().requires_grad_())
    assert (y - y_fast).abs().max().item() <= TOL
    assert (finals[-1][1] - finals_fast[-1][1]).abs().max().item() <= TOL
