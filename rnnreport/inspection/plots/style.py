"""What the figures share: a colour per cell, a line style per model shape."""

from __future__ import annotations

CELL_COLORS = {"lstm": "tab:blue", "gru": "tab:orange"}
SHAPE_STYLES = ("-", "--", ":", "-.")


def cell_color(model: str, other: str = "gray") -> str:
    """The colour of a model's cell (``"lstm-1x32"``: the LSTM's); ``other`` for the rest."""
    return CELL_COLORS.get(model.split("-")[0], other)


class LineStyles:
    """One line style per model shape (``"1x32"`` in ``"lstm-1x32"``), in order of first
    use, so that models of one shape share a style across cells."""

    def __init__(self) -> None:
        self._styles: dict[str, str] = {}

    def __call__(self, model: str) -> str:
        shape = model.split("-", 1)[-1]
        return self._styles.setdefault(shape, SHAPE_STYLES[len(self._styles) % len(SHAPE_STYLES)])
