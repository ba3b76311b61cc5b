"""Tests of :mod:`rnnreport.experiments`, one module per module."""

from __future__ import annotations

import re

_NUMBER = re.compile(r"(?<!\w)[−-]?\d[\d,]*(?:\.\d+)?(?<!,)")  # LSTM-32: 32, not −32


def numbers(text: str) -> list[float]:
    """Every number in a generated sentence, in order (thousands separators and the
    typographic minus read), so that a test can check what a sentence is built from
    without holding it to its wording."""
    return [float(n.replace(",", "").replace("−", "-")) for n in _NUMBER.findall(text)]


def item(items: tuple[str, ...], phrase: str) -> str:
    """The one finding that contains ``phrase``."""
    (found,) = [i for i in items if phrase in i]
    return found
