"""rnnreport.theory.common: LaTeX for the site, cells with weights set by construction."""

from __future__ import annotations

import math

import pytest
import sympy as sp
import torch

from rnnreport.inspection.tables import html_table
from rnnreport.theory.common import Latex, blank_cell, get_gate, set_gate, tex, tex_terms, unroll


def test_latex_renders_one_line_or_an_aligned_block() -> None:
    one = Latex(r"a < b")
    assert one.source == "a < b"
    assert one._repr_html_() == '<div class="math notranslate nohighlight">\\[a &lt; b\\]</div>'
    block = Latex(r"x &= 1", r"y &= 2")
    assert block.source == r"\begin{aligned}x &= 1 \\ y &= 2\end{aligned}"
    assert "&amp;= 1" in block._repr_html_() and block._repr_latex_().startswith("$$")
    with pytest.raises(ValueError, match="at least one line"):
        Latex()


def test_html_table_escapes_and_checks_its_rows() -> None:
    table = html_table([{"dtype": "float32"}, {"dtype": "float64"}], caption="rounding <points>")
    assert "<caption>rounding &lt;points&gt;</caption>" in table._repr_html_()
    assert "float32" in repr(table) and "float64" in repr(table)
    with pytest.raises(ValueError, match="row 1 has columns"):
        html_table([{"a": 1}, {"b": 2}])


def test_set_gate_sets_the_whole_pre_activation() -> None:
    # the LSTM's forget gate: set_gate takes the total bias, the cell adds forget_bias 1
    lstm = blank_cell("lstm", 1, 1, torch.float64)
    set_gate(lstm, "f", b=-2.0)
    set_gate(lstm, "i", U=3.0)
    _, gates = unroll(lstm, torch.ones(1, 1, 1, dtype=torch.float64))
    assert float(gates["f"][0]) == pytest.approx(1 / (1 + math.exp(2.0)), rel=1e-15)
    assert float(gates["i"][0]) == pytest.approx(1 / (1 + math.exp(-3.0)), rel=1e-15)
    assert float(get_gate(lstm, "f")["b"][0]) == -2.0 - lstm.forget_bias
    # a blank cell's other gates read nothing: sigma(0) = 1/2, tanh(0) = 0
    assert float(gates["o"][0]) == 0.5 and float(gates["j"][0]) == 0.0


def test_gate_names_and_kinds_are_checked() -> None:
    with pytest.raises(ValueError, match="is not a cell"):
        blank_cell("rnn", 1, 1, torch.float64)
    gru = blank_cell("gru", 1, 1, torch.float64)
    with pytest.raises(ValueError, match="is not a GRUCell block"):
        set_gate(gru, "f", b=1.0)


def test_tex_terms_cuts_a_sum_into_lines_that_read_as_the_sum() -> None:
    x, y, z = sp.symbols("x y z")
    total = x * (y - z) + (1 - x) * y - (1 - z) * sp.tanh(y)
    for rows in (1, 2, 3):
        pieces = tex_terms(total, rows)
        assert len(pieces) == rows
        assert " ".join(pieces) == tex(total)  # the same LaTeX, only cut
    assert tex_terms(-x + y, 2)[0].startswith("- ")  # a leading minus is kept
    with pytest.raises(ValueError, match="cannot cut a sum of 3 terms"):
        tex_terms(total, 4)
