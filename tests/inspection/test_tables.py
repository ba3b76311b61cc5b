"""Tables and findings: what they print, in HTML and in a terminal."""

from __future__ import annotations

import pytest

from rnnreport.inspection.tables import Findings, format_cell, html_table


def test_format_cell() -> None:
    assert format_cell(0.123456789) == "0.123457"
    assert format_cell(0.123456789, digits=3) == "0.123"
    assert format_cell(1 - 1e-9, digits=12) == "0.999999999"
    assert format_cell(True) == "True" and format_cell(7) == "7" and format_cell("a") == "a"
    assert format_cell(float("nan")) == "nan" and format_cell(float("inf")) == "inf"


def test_html_table_escapes_and_aligns() -> None:
    rows = [{"model": "<lstm>", "accuracy": 0.98765432}, {"model": "gru", "accuracy": 0.5}]
    table = html_table(rows, caption="a & b")
    assert table.columns == ("model", "accuracy")
    assert table.cells == (("<lstm>", "0.987654"), ("gru", "0.5"))
    html = table._repr_html_()
    assert "<caption>a &amp; b</caption>" in html and "<td>&lt;lstm&gt;</td>" in html
    assert html.count("<tr>") == 3  # the head and two rows
    lines = repr(table).splitlines()
    assert lines[0] == "a & b"
    assert lines[1] == " model  accuracy" and lines[2] == "------  --------"
    assert lines[3] == "<lstm>  0.987654"


def test_formatters_and_digits() -> None:
    rows = [{"t": 1, "h": 0.99999999587, "c": 10.0}]
    assert html_table(rows).cells == (("1", "1", "10"),)
    assert html_table(rows, digits=12).cells == (("1", "0.99999999587", "10"),)
    table = html_table(rows, formatters={"c": "{:.1f}".format}, digits=3)
    assert table.cells == (("1", "1", "10.0"),)


def test_html_table_says_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="no rows"):
        html_table([])
    with pytest.raises(ValueError, match="row 1 has columns"):
        html_table([{"a": 1}, {"b": 2}])
    with pytest.raises(ValueError, match=r"unknown columns \['b'\]"):
        html_table([{"a": 1}], formatters={"b": str})


def test_findings_print_the_same_markdown_everywhere() -> None:
    findings = Findings("Heading", ("one", "two"))
    assert findings.markdown() == "*Heading*\n\n- one\n- two\n"
    assert repr(findings) == findings.markdown()
    assert findings._repr_html_().count("<li>") == 2
    with pytest.raises(ValueError, match="no items"):
        Findings("empty", ())
