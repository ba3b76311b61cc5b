"""The cells: their gate layout is TF1's and drives the gate of its name, TF1's
initialisation, the GRU resetting before equals an independent reference (TF1's GRUCell
written out), and the two GRU variants are different functions. (Where the math is the
same as torch.nn's, ``test_torch_weights.py`` proves them equal.)"""

from __future__ import annotations

import math

import pytest
import torch

from rnnreport.model.cells import GateLayout, GRUCell, LSTMCell
from rnnreport.model.rnn import RNN

TOL = 1e-5
T, B, D, H = 7, 5, 6, 4


def _max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a - b).abs().max().item()


def _reference_gru_reset_before(x, U, W, b):
    """An independent reset-before GRU: TF1's GRUCell on the concatenation [x, h], its
    kernel's columns in TF1's order [z | r | candidate] (test_gate_layout_is_tf1s)."""
    H = W.shape[0]
    kernel = torch.cat([U, W])  # (D + H, 3H) acting on [x, h]
    h = torch.zeros(x.shape[1], H, dtype=x.dtype)
    outputs = []
    for x_t in x:
        gates = torch.sigmoid(torch.cat([x_t, h], 1) @ kernel[:, : 2 * H] + b[: 2 * H])
        update, reset = gates[:, :H], gates[:, H:]
        candidate = torch.tanh(torch.cat([x_t, reset * h], 1) @ kernel[:, 2 * H :] + b[2 * H :])
        h = update * h + (1 - update) * candidate
        outputs.append(h)
    return torch.stack(outputs)


@pytest.mark.parametrize("init", ["tf1", "torch"])
def test_gru_reset_before_equals_reference(init: str) -> None:
    torch.manual_seed(3)
    rnn = RNN("gru", D, H, 1, init=init, reset="before")
    with torch.no_grad():  # make the biases non-trivial so that b's layout is checked too
        rnn.cells[0].b.add_(torch.randn(3 * H))
    x = torch.randn(T, B, D)
    y, _ = rnn(x)
    cell = rnn.cells[0]
    assert _max_diff(y, _reference_gru_reset_before(x, cell.U, cell.W, cell.b)) <= TOL


def test_reset_before_and_after_are_different_functions() -> None:
    torch.manual_seed(4)
    before = GRUCell(D, H, reset="before", init="torch")
    after = GRUCell(D, H, reset="after", init="torch")
    after.load_state_dict({**before.state_dict(), "b_hn": torch.zeros(H)})
    x, h = torch.randn(B, D), torch.randn(B, H)
    assert _max_diff(before(x, h)[0], after(x, h)[0]) > 1e-3


def test_tf1_initialisation() -> None:
    torch.manual_seed(0)
    lstm, gru = LSTMCell(28, 32), GRUCell(28, 32)
    assert lstm.forget_bias == 1.0 and torch.all(lstm.b == 0)
    gates, candidate = GRUCell.columns(32, "z", "r"), GRUCell.columns(32, "h_tilde")
    assert torch.all(gru.b[gates] == 1.0) and torch.all(gru.b[candidate] == 0.0)
    bound = (6 / (28 + 32 + 4 * 32)) ** 0.5
    assert lstm.U.abs().max() <= bound and lstm.U.abs().max() > 0.9 * bound
    assert LSTMCell(28, 32, init="torch").forget_bias == 0.0


def test_step_returns_gates_in_range() -> None:
    torch.manual_seed(1)
    (h, c), g = LSTMCell(D, H)(torch.randn(B, D))
    assert set(g) == {"i", "f", "j", "o", "c"}
    for name in "ifo":
        assert torch.all((g[name] > 0) & (g[name] < 1))
    assert torch.equal(g["c"], c) and torch.allclose(h, g["o"] * torch.tanh(c))


def test_bad_arguments_say_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="reset='middle'"):
        GRUCell(D, H, reset="middle")


def test_gate_layout_is_tf1s() -> None:
    # TF1's BasicLSTMCell splits its kernel's columns into i, j, f, o; its GRUCell keeps
    # the gate kernel [z | r] (it names them r, u but uses the first as the update) and then
    # the candidate kernel. Everything else reads the layout from the cells' `blocks`.
    assert LSTMCell.blocks == ("i", "j", "f", "o")
    assert GRUCell.blocks == ("z", "r", "h_tilde")
    assert GRUCell.columns(4, "z", "r") == slice(0, 8)
    assert LSTMCell.columns(4, "f") == slice(8, 12)


@pytest.mark.parametrize("cls", [LSTMCell, GRUCell])
def test_each_column_block_drives_the_gate_of_its_name(cls) -> None:
    """A bias in one block moves exactly the gate that the step reports under its name.

    The expected values come from the equations (sigmoid for gates, tanh for candidates),
    not from the cell; with zero weights and state every other gate sits at its zero value.
    """
    act = {"j": math.tanh, "h_tilde": math.tanh}
    for name in cls.blocks:
        cell = cls(2, 3, init="torch")
        with torch.no_grad():
            for p in (cell.U, cell.W, cell.b):
                p.zero_()
            cell.b[cls.columns(3, name)] = 0.7
        _, gates = cell(torch.zeros(1, 2))
        assert tuple(gates) == cls.gate_names
        for other in cls.blocks:
            value = (0.7 if other == name else 0.0) + (cell.forget_bias if other == "f" else 0.0)
            expected = act.get(other, lambda v: 1 / (1 + math.exp(-v)))(value)
            assert torch.allclose(gates[other], torch.full((1, 3), expected)), (name, other)


def test_gate_names_that_miss_a_block_fail_when_the_class_is_defined() -> None:
    with pytest.raises(TypeError, match="must list every column block"):

        class Bad(GateLayout):  # the candidate's block is not reported
            blocks = ("z", "r", "h_tilde")
            gate_names = ("z", "r", "h")

    with pytest.raises(TypeError, match="must list every column block"):

        class Twice(GateLayout):
            blocks = ("i", "j", "f", "o")
            gate_names = ("i", "f", "j", "o", "i")

    with pytest.raises(ValueError, match="not adjacent"):
        LSTMCell.columns(4, "i", "f")
