"""Our RNN equals torch.nn.LSTM / torch.nn.GRU where the math is the same (the LSTM without
forget bias, the GRU resetting after), through the explicit weight map: outputs, final
states and the gradients of the input and of every weight; and the map refuses the variants
torch does not have."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from rnnreport.model.rnn import RNN
from rnnreport.model.torch_weights import TORCH_NAMES, copy_from_torch, torch_to_ours

TOL = 1e-5
T, B, D, H = 7, 5, 6, 4


def _max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a - b).abs().max().item()


def _pair(cell: str, layers: int, seed: int):
    torch.manual_seed(seed)
    if cell == "lstm":
        reference = nn.LSTM(D, H, layers)
        ours = RNN("lstm", D, H, layers, init="torch", forget_bias=0.0)
    else:
        reference = nn.GRU(D, H, layers)
        ours = RNN("gru", D, H, layers, init="torch", reset="after")
    return copy_from_torch(ours, reference), reference


@pytest.mark.parametrize("layers", [1, 3])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("seed", [0, 1])
def test_equals_torch_outputs_states_and_gradients(cell: str, layers: int, seed: int) -> None:
    ours, reference = _pair(cell, layers, seed)
    x = torch.randn(T, B, D, generator=torch.Generator().manual_seed(100 + seed))
    x_ours, x_ref = x.clone().requires_grad_(), x.clone().requires_grad_()

    y, finals = ours(x_ours)
    y_ref, state_ref = reference(x_ref)
    assert y.shape == (T, B, H)
    assert _max_diff(y, y_ref) <= TOL
    if cell == "lstm":
        h_n, c_n = state_ref
        assert _max_diff(torch.stack([h for h, _ in finals]), h_n) <= TOL
        assert _max_diff(torch.stack([c for _, c in finals]), c_n) <= TOL
    else:
        assert _max_diff(torch.stack(finals), state_ref) <= TOL

    # the same scalar loss through both: gradients w.r.t. the input and every weight
    weights = torch.randn(T, B, H, generator=torch.Generator().manual_seed(7))
    (y * weights).sum().backward()
    (y_ref * weights).sum().backward()
    assert _max_diff(x_ours.grad, x_ref.grad) <= TOL
    for l, c in enumerate(ours.cells):
        grad = {n: getattr(reference, f"{n}_l{l}").grad for n in TORCH_NAMES}
        expected = torch_to_ours(cell, *grad.values())  # a linear map: it carries gradients
        assert _max_diff(c.U.grad, expected["U"]) <= TOL
        assert _max_diff(c.W.grad, expected["W"]) <= TOL
        # torch's two biases get the same gradient each; our one bias gets that gradient once
        no_bias = torch.zeros_like(grad["bias_hh"])
        expected_b = torch_to_ours(cell, *list(grad.values())[:3], no_bias)["b"]
        assert _max_diff(c.b.grad, expected_b) <= TOL
        if cell == "gru":
            assert _max_diff(c.b_hn.grad, grad["bias_hh"][2 * H :]) <= TOL


def test_variants_torch_does_not_have_are_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match="forget_bias=0"):
        copy_from_torch(RNN("lstm", D, H), nn.LSTM(D, H))
    with pytest.raises(ValueError, match="reset='after'"):
        copy_from_torch(RNN("gru", D, H, reset="before"), nn.GRU(D, H))
    with pytest.raises(ValueError, match="expected a GRU with 1 layers"):
        copy_from_torch(RNN("gru", D, H, reset="after"), nn.LSTM(D, H))
