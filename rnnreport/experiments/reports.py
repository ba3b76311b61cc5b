"""What the two 2018 student reports said, each number with where it comes from.

The reports themselves are not part of this repository; the site quotes their numbers and
sets ours beside them. Report A trained every model of the grid once and gave its test
losses (summed over the 10,000 test images) and some test accuracies; it also recalled the
accuracies of Homework 1's whole-image models. Report B gave the test accuracy of its GRU-32
read out at each of the last five steps. Nothing else in the package types in a number
from either report: tables, findings and figures take them from here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Cited:
    """A number a report gave, and where in the report it stands."""

    value: float
    where: str

    def __float__(self) -> float:
        return self.value


_A_TABLE = "report A, Question 2, its results table (Figure 1)"
_A_GRU_128 = "report A, Question 2, the text above its table ('an accuracy of 0.9864')"
_A_DL1 = "report A, Question 3 part 1, recalled from Homework 1 ('somewhere around', 'around')"


@dataclass(frozen=True)
class GridEntry:
    """Report A's numbers for one model of the grid; None where it gives none."""

    loss_sum: Cited
    accuracy: Cited | None


REPORT_A_GRID: dict[str, GridEntry] = {
    "lstm-1x32": GridEntry(Cited(877.76, _A_TABLE), Cited(0.9720, _A_TABLE)),
    "lstm-1x64": GridEntry(Cited(702.02, _A_TABLE), Cited(0.9790, _A_TABLE)),
    "lstm-1x128": GridEntry(Cited(510.28, _A_TABLE), Cited(0.9838, _A_TABLE)),
    "lstm-3x32": GridEntry(Cited(605.50, _A_TABLE), Cited(0.9812, _A_TABLE)),
    "gru-1x32": GridEntry(Cited(822.58, _A_TABLE), None),
    "gru-1x64": GridEntry(Cited(573.51, _A_TABLE), None),
    "gru-1x128": GridEntry(Cited(412.55, _A_TABLE), Cited(0.9864, _A_GRU_128)),
    "gru-3x32": GridEntry(Cited(539.20, _A_TABLE), None),
}
"""Report A's test loss (summed over the 10,000 test images, rounded to two decimals) and
test accuracy per model of the grid. Its table has no accuracy row for the GRUs; the text
gives GRU-128's."""

REPORT_A_BATCH_NORM = (
    "report A, Question 2: 'bar adding batch normalisation, I simply ran ... with parameters "
    "as asked'; it does not say where the normalisation went"
)
"""Report A's one change to the assignment's setup, in its own words (abridged)."""

REPORT_A_DL1: dict[str, Cited] = {
    "softmax": Cited(0.92, _A_DL1),
    "mlp1": Cited(0.965, _A_DL1),
    "mlp2": Cited(0.965, _A_DL1),
    "cnn": Cited(0.985, _A_DL1),
}
"""Report A's Homework 1 test accuracies, by whole-image kind, recalled from memory (≈ values,
one run each). It gives one number for "the feed-forward networks", so both carry it."""

REPORT_B_LAST_FIVE = tuple(
    Cited(v, "report B, Q3.3: its GRU's test accuracy at the last five steps, last first")
    for v in (0.9596, 0.9547, 0.9194, 0.8326, 0.7230)
)
"""Report B's GRU read out at steps T, T−1, …, T−4 on the test set (the order it lists)."""


def report_a_loss_sum(model: str) -> float | None:
    """Report A's summed test loss for grid model ``model`` (e.g. ``gru-1x32``), or None."""
    entry = REPORT_A_GRID.get(model)
    return None if entry is None else entry.loss_sum.value


def report_a_accuracy(model: str) -> float | None:
    """Report A's test accuracy for grid model ``model``, or None where it gives none."""
    entry = REPORT_A_GRID.get(model)
    return None if entry is None or entry.accuracy is None else entry.accuracy.value


def report_a_dl1_accuracy(kind: str) -> float | None:
    """Report A's recalled Homework 1 accuracy for a whole-image ``kind``, or None."""
    cited = REPORT_A_DL1.get(kind)
    return None if cited is None else cited.value


def report_b_last_five() -> list[float]:
    """Report B's readout accuracies, from the last step backwards."""
    return [c.value for c in REPORT_B_LAST_FIVE]
