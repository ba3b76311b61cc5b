"""Small tables and generated sentences that render as HTML on the site and as text in a
terminal.

A gallery script that wants a table builds a list of dicts and returns
``html_table(rows)`` as the last expression of a block; sentences come as
:class:`Findings`. sphinx-gallery shows an object's ``_repr_html_``;
``python gallery/script.py`` or a REPL shows its ``__repr__``.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Formatter = Callable[[Any], str]


def format_cell(value: Any, digits: int = 6) -> str:
    """A cell as text: floats to ``digits`` significant digits, everything else through
    ``str``."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        return f"{value:.{digits}g}"
    return str(value)


@dataclass(frozen=True)
class Table:
    """Rows of equal keys, with an optional caption. Build it with :func:`html_table`."""

    columns: tuple[str, ...]
    cells: tuple[tuple[str, ...], ...]  # already formatted, one tuple per row
    caption: str | None = None

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in self.columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in row) + "</tr>"
            for row in self.cells
        )
        caption = f"<caption>{html.escape(self.caption)}</caption>" if self.caption else ""
        return (
            f'<table class="table rnnreport-table">{caption}'
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        )

    def __repr__(self) -> str:
        widths = [
            max(len(c), *(len(row[k]) for row in self.cells)) if self.cells else len(c)
            for k, c in enumerate(self.columns)
        ]
        lines = [self.caption] if self.caption else []
        lines.append("  ".join(c.rjust(w) for c, w in zip(self.columns, widths, strict=True)))
        lines.append("  ".join("-" * w for w in widths))
        lines += [
            "  ".join(v.rjust(w) for v, w in zip(row, widths, strict=True)) for row in self.cells
        ]
        return "\n".join(lines)


def html_table(
    rows: Sequence[Mapping[str, Any]],
    caption: str | None = None,
    formatters: Mapping[str, Formatter] | None = None,
    digits: int = 6,
) -> Table:
    """A :class:`Table` from ``rows``, a list of dicts that all have the same keys.

    ``formatters`` maps a column name to a function turning its values into text; other
    columns go through :func:`format_cell` (floats to ``digits`` significant digits).
    """
    if not rows:
        raise ValueError("html_table got no rows: pass at least one dict")
    columns = tuple(rows[0])
    for k, row in enumerate(rows):
        if tuple(row) != columns:
            raise ValueError(
                f"row {k} has columns {list(row)}, but row 0 has {list(columns)}: "
                "give every row the same keys in the same order"
            )
    formatters = dict(formatters or {})
    unknown = set(formatters) - set(columns)
    if unknown:
        raise ValueError(f"formatters for unknown columns {sorted(unknown)}: columns are {columns}")

    def text(column: str, value: Any) -> str:
        if column in formatters:
            return formatters[column](value)
        return format_cell(value, digits)

    cells = tuple(tuple(text(c, row[c]) for c in columns) for row in rows)
    return Table(columns, cells, caption)


@dataclass(frozen=True)
class Findings:
    """Sentences generated from numbers: a heading and bullet items.

    The one type every generated interpretation returns. It renders as an HTML list in a
    gallery page (``_repr_html_``), as Markdown for the landing page (:meth:`markdown`) and
    as the same Markdown in a terminal (``repr``). Items are plain text.
    """

    heading: str
    items: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.items:
            raise ValueError(f"Findings {self.heading!r} has no items: say at least one thing")

    def markdown(self) -> str:
        """The heading in italics, then one Markdown bullet per item."""
        return f"*{self.heading}*\n\n" + "".join(f"- {item}\n" for item in self.items)

    def __repr__(self) -> str:
        return self.markdown()

    def _repr_html_(self) -> str:
        items = "".join(f"<li>{html.escape(item)}</li>" for item in self.items)
        return (
            f'<div class="rnnreport-findings"><p><em>{html.escape(self.heading)}</em></p>'
            f"<ul>{items}</ul></div>"
        )
