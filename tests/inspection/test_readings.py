"""Readings on small made-up measurements whose rows and sentences can be worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from rnnreport.inspection import measures, readings
from rnnreport.inspection.measures import GateSaturation
from rnnreport.inspection.probes import Readout
from rnnreport.inspection.tables import Findings


def _readout(correct: np.ndarray, labels: np.ndarray | None = None) -> Readout:
    """A readout right where ``correct`` (T, N) is true, wrong (the next digit) elsewhere."""
    correct = np.asarray(correct, dtype=bool)
    if labels is None:
        labels = np.arange(correct.shape[1]) % 10
    labels = np.asarray(labels, dtype=np.int64)
    predictions = np.where(correct, labels[None, :], (labels[None, :] + 1) % 10)
    return Readout(predictions, np.full(correct.shape, 0.5, dtype=np.float32), labels)


def _readout_with_accuracy(accuracy: list[float], n: int = 1000) -> Readout:
    """Image ``k`` is right at step ``t`` when ``k < accuracy[t] * n``."""
    right = np.round(np.asarray(accuracy) * n).astype(int)
    return _readout(np.arange(n)[None, :] < right[:, None])


def test_display_name() -> None:
    assert readings.display_name("lstm-3x32") == "LSTM-3x32"
    assert readings.display_name("gru-1x128") == "GRU-1x128"


# -- the state over time --------------------------------------------------------------------


def test_step_rows_read_step_t_at_index_t_minus_1() -> None:
    T = 6
    stats = {
        "spread": np.arange(T) / 1000,
        "magnitude": np.arange(T) / 100,
        "change": np.arange(T) / 10,
    }
    seen = np.linspace(0, 1, T)
    out = _readout_with_accuracy([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    rows = readings.step_rows(stats, out, seen, [3, 6])
    assert rows == [
        {
            "step t": 3,
            "images with ink so far": "40.0%",
            "spread of h_t": "0.0020",
            "mean |h_t|": "0.020",
            "change from h_(t-1)": "0.200",
            "readout accuracy": "0.3000",
        },
        {
            "step t": 6,
            "images with ink so far": "100.0%",
            "spread of h_t": "0.0050",
            "mean |h_t|": "0.050",
            "change from h_(t-1)": "0.500",
            "readout accuracy": "0.6000",
        },
    ]


def _first_steps_inputs() -> tuple[np.ndarray, np.ndarray]:
    """Four images over 6 steps: 0 and 2 still blank at step 5, 1 and 3 inked by then."""
    first_ink = np.array([0, 2, 6, 4])  # image 0 blank, image 2 inked only at row 6
    h = np.zeros((6, 4, 2), dtype=np.float32)
    h[:, :, 0] = np.arange(1, 7)[:, None]  # every image moves alike in unit 0: change 1/step
    h[1:, 1, 1] = 3.0  # image 1 leaves from step 2, where its ink starts
    h[3:, 3, 1] = -3.0  # image 3 from step 4
    h[5:, 2, 1] = 9.0  # image 2 only at step 6, after the window
    return h, first_ink


def test_first_steps_when_the_blank_images_share_a_state() -> None:
    h, first_ink = _first_steps_inputs()
    labels = np.array([4, 4, 3, 3])  # the wrong ones predict the next digit, 4 too
    out = _readout(np.array([[True, True, False, False]] * 6), labels)  # predicts 4 at step 1
    found = readings.first_steps(h, first_ink, out, "the model")
    assert isinstance(found, Findings)
    assert found.heading == "The first five steps of the model"
    blank, same, moves, first = found.items
    # blank rows 1..3: images 0, 2, 3; rows 1..5: images 0 and 2; row 1 blank everywhere
    assert blank == (
        "The first 1 row(s) are blank in every test image, and 75.0% of images have no ink "
        "in rows 1-3 (50.0% in rows 1-5)."
    )
    assert same.startswith("The 2 images still blank at step 5 are in one and the same state")
    assert "is 0, below 1e-4):" in same and same.endswith("the model knows nothing of them yet.")
    # |h_1 - h_0| = 1 for every image; h_3 - h_2 is 1 in unit 0 only
    assert moves.endswith("the mean change of h_t is 1.000 at step 1 and 1.000 at step 3.")
    assert first == (
        "Reading h_1, the classifier predicts digit 4 for every image, so its accuracy there, "
        "0.5000, is just the share of 4s in the test set (0.5000), near chance (0.1)."
    )


def test_first_steps_when_the_blank_images_differ() -> None:
    h, first_ink = _first_steps_inputs()
    h[4, 0, 1] = 1.0  # image 0 leaves the shared state at step 5: std of (1, 0) is 0.5
    out = _readout(np.eye(6, 4, dtype=bool))  # step 1 predicts 1, 2, 3, 4: four digits
    _, differ, moves, first = readings.first_steps(h, first_ink, out, "M").items
    assert differ == (
        "The 2 images still blank at step 5 differ in their states (a standard deviation of "
        "up to 0.5 across them)."
    )
    assert first == (
        "Reading h_1, the classifier makes 4 different predictions; its accuracy there is "
        "0.2500 (chance: 0.1)."
    )
    # with a shorter window the blank images are a different set: rows 1..2 leave 0, 2, 3
    blank, same, moves, _ = readings.first_steps(h, first_ink, out, "M", early=2, steps=3).items
    assert "75.0% of images have no ink in rows 1-2 (75.0% in rows 1-3)" in blank
    assert same.startswith("The 3 images still blank at step 3 are in one and the same state")
    # image 1, inked at row 2, moves by 3 more in unit 1 but is not one of the blank images
    assert moves == (
        "On the 3 images with no ink in rows 1-2, the state still moves as blank rows come in: "
        "starting from h_0 = 0, the mean change of h_t is 1.000 at step 1 and 1.000 at step 2."
    )


def test_first_steps_says_when_blank_rows_no_longer_move_the_state() -> None:
    h, first_ink = _first_steps_inputs()
    h[1:, :, 0] = 1.0  # unit 0 stays where step 1 took it
    out = _readout(np.eye(6, 4, dtype=bool))
    moves = readings.first_steps(h, first_ink, out, "M").items[2]
    assert "the state has settled as blank rows come in" in moves
    assert moves.endswith("is 1.000 at step 1 and 0.000 at step 3.")


def test_first_steps_without_blank_images() -> None:
    h, _ = _first_steps_inputs()
    out = _readout(np.ones((6, 4), dtype=bool))
    found = readings.first_steps(h, np.array([1, 2, 3, 4]), out, "M")
    assert found.items[0].startswith("The first 0 row(s) are blank in every test image")
    assert found.items[1] == "No image is still blank at step 5."
    with pytest.raises(ValueError, match="every image is blank"):
        readings.first_steps(h, np.zeros(4, dtype=int), out, "M")


def test_last_steps() -> None:
    T = 28
    change = np.ones(T)
    change[-5:] = 0.5  # slower over the last five steps
    spread = np.arange(T, dtype=float) / 100  # step t: (t - 1) / 100
    stats = {"spread": spread, "magnitude": np.zeros(T), "change": change}
    accuracy = (np.arange(T) + 50) / 100  # step t: (t + 49) / 100
    last_ink = np.array([20, 23, 24, 27, 0])  # 23 or less: no ink in rows 24..28
    found = readings.last_steps(stats, _readout_with_accuracy(list(accuracy)), last_ink, "M")
    assert found.heading == "The last five steps of M"
    assert found.items == (
        "60.0% of test images have no ink in the last five rows.",
        "Over those steps the output changes by 0.500 per step on average, against 1.000 over "
        "the five steps before (less).",
        "The spread across images is 0.270 at the last step, against 0.130 at step 14.",
        "The readout accuracy goes from 0.7300 at step 24 to 0.7700 at step 28.",
    )
    stats["change"] = 2 - change  # faster over the last five
    found = readings.last_steps(stats, _readout_with_accuracy(list(accuracy)), last_ink, "M", 3)
    assert "last three rows" in found.items[0] and "(more)" in found.items[1]
    assert "at step 26 to" in found.items[3]
    with pytest.raises(ValueError, match="between 1 and 14"):
        readings.last_steps(stats, _readout_with_accuracy(list(accuracy)), last_ink, "M", 15)


# -- decision time --------------------------------------------------------------------------


def test_first_or_last() -> None:
    out = _readout_with_accuracy([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7])
    found = readings.first_or_last(out, "M", k=3)
    assert found.items == (
        "Readout accuracy at steps 1-3 (what [:3] shows): 0.1000, 0.2000, 0.3000.",
        "At steps 7, 6, ..., 5 (the last three, [-3:], from the last as report B lists them): "
        "0.7000, 0.6000, 0.5000.",
    )


def test_last_steps_rows_pair_each_step_with_the_cited_value() -> None:
    out = _readout_with_accuracy([0.1, 0.2, 0.3, 0.4])
    rows = readings.last_steps_rows(out, ("report X", [0.9, 0.8]))
    assert [(r["step t"], r["steps before the last"]) for r in rows] == [(4, 0), (3, 1)]
    assert [(r["accuracy (this build)"], r["report X"]) for r in rows] == [
        ("0.4000", "0.9000"),
        ("0.3000", "0.8000"),
    ]
    assert rows[0]["mean confidence"] == "0.5000"
    with pytest.raises(ValueError):
        readings.last_steps_rows(out, ("report X", [0.9] * 5))  # more values than steps


def test_decision_row_against_a_direct_computation() -> None:
    rng = np.random.default_rng(1)
    correct = rng.random((8, 300)) < np.linspace(0.2, 0.9, 8)[:, None]
    out = _readout(correct)
    row = readings.decision_row("m", out, before=5)
    decided = []  # the first step after which each right image stays right
    for n in range(300):
        if correct[-1, n]:
            decided.append(min(t + 1 for t in range(8) if correct[t:, n].all()))
    accuracy = correct.mean(axis=1)
    within = min(t + 1 for t in range(8) if accuracy[t] >= accuracy[-1] - 0.01)
    assert row == {
        "model": "m",
        "accuracy at step 8": f"{accuracy[-1]:.4f}",
        "steps before the end within 1 point": 8 - within,
        "accuracy 5 steps before / at the end": f"{accuracy[2] / accuracy[-1]:.1%}",
        "median decision step": f"{np.median(decided):.0f}",
    }
    nothing = readings.decision_row("m", _readout(np.zeros((8, 3), dtype=bool)))
    assert nothing["median decision step"] == "—"
    assert nothing["accuracy 5 steps before / at the end"] == "—"


def test_decision_time() -> None:
    # 10 images over 6 steps: image k right from step k (k = 1..6), images 6..9 wrong at the end
    correct = np.zeros((6, 10), dtype=bool)
    for k in range(6):
        correct[k:, k] = True
    correct[:5, 8] = True  # right until step 5, wrong at the last: undecided
    found = readings.decision_time(_readout(correct), "M", steps=2)
    assert found.heading == "When M decides"
    # accuracy: step 6 is 6/10, step 5 is 6/10 (5 decided + image 8), so -0.00 and +0.00
    assert found.items == (
        "Reading step 5 instead of 6 changes the accuracy by +0.00 points, reading step 5 by "
        "+0.00 points.",
        "Of the 6 test images it gets right, 33.3% are decided in the last two steps (5 to 6) "
        "and 16.7% only at the very last one.",
    )
    found = readings.decision_time(_readout(np.zeros((6, 3), dtype=bool)), "M")
    assert found.items[1] == "It gets no test image right at the last step."


def test_class_rows_and_the_decision_against_the_ink() -> None:
    labels = np.array([0, 0, 0, 1, 1, 2])
    # decision steps 2, 5, undecided, 4, 4, undecided
    correct = np.zeros((6, 6), dtype=bool)
    correct[1:, 0] = correct[4:, 1] = correct[3:, 3] = correct[3:, 4] = True
    correct[:3, 2] = True  # right early, wrong at the end
    out = _readout(correct, labels)
    assert out.decision_steps().tolist() == [2, 5, -1, 4, 4, -1]
    last_ink = np.array([3, 5, 6, 2, 6, 4])
    rows = readings.class_rows(out, last_ink)
    assert len(rows) == 10
    assert rows[0] == {
        "digit": 0,
        "images right": "2 of 3",
        "median decision step": "4",  # median of 2 and 5 is 3.5, which rounds to even
        "median last ink row": "5",
        "decided before the last ink": "50.0%",  # step 2 before row 3; step 5 on row 5
    }
    assert rows[1]["decided before the last ink"] == "50.0%"  # 4 after 2, 4 before 6
    assert rows[2] == {
        "digit": 2,
        "images right": "0 of 1",
        "median decision step": "—",
        "median last ink row": "4",
        "decided before the last ink": "—",
    }
    assert rows[9]["images right"] == "0 of 0" and rows[9]["median last ink row"] == "—"
    # gaps over the 4 right images: 2-3, 5-5, 4-2, 4-6 = -1, 0, +2, -2
    (item,) = readings.decision_vs_ink(out, last_ink, "M").items
    assert item == (
        "Over all digits, M settles on the right answer before the row of the last ink for "
        "50.0% of the images it gets right, on that row for 25.0%, and after it for 25.0% "
        "(median: -0 rows from the last ink)."
    )
    nothing = readings.decision_vs_ink(_readout(np.zeros((6, 6), dtype=bool)), last_ink, "M")
    assert nothing.items == ("M gets no test image right at the last step.",)


# -- gates by phase -------------------------------------------------------------------------


def test_phase_rows() -> None:
    means = {"layer0.i": np.array([0.5, 0.25, 0.125]), "layer0.h": np.array([0.0, -0.5, 1.0])}
    rows = readings.phase_rows(means, np.array([0.1, 0.6, 0.3]))
    before, on, after = measures.PHASES
    assert rows == [
        {"": "i", before: "0.500", on: "0.250", after: "0.125"},
        {"": "h", before: "0.000", on: "-0.500", after: "1.000"},
        {"": "share of steps", before: "10.0%", on: "60.0%", after: "30.0%"},
    ]


@pytest.mark.parametrize(
    ("i", "f", "story"),
    [
        ([0.5, 0.7, 0.2], [0.8, 0.6, 0.9], "the gates let more in while the digit arrives"),
        ([0.5, 0.2, 0.7], [0.8, 0.6, 0.9], "does not hold for this model"),
        ([0.5, 0.7, 0.2], [0.8, 0.9, 0.6], "does not hold for this model"),
    ],
)
def test_gates_by_phase(i: list[float], f: list[float], story: str) -> None:
    means = {"layer1.i": np.array(i), "layer1.f": np.array(f)}
    numbers, verdict = readings.gates_by_phase(means, layer=1).items
    assert numbers == (
        f"Before the first ink, the forget gate averages {f[0]:.3f} and the input gate "
        f"{i[0]:.3f}; on the ink they average {f[1]:.3f} and {i[1]:.3f}, and after the last "
        f"ink {f[2]:.3f} and {i[2]:.3f}."
    )
    writes = "higher" if i[1] > i[2] else "lower"
    holds = "higher" if f[2] > f[1] else "lower"
    assert verdict.startswith(
        f"The input gate is {writes} on the ink than after it, and the forget gate {holds} "
        "after the ink than on it: "
    )
    assert story in verdict


# -- saturation and saliency ----------------------------------------------------------------


def _saturation() -> dict[str, list[GateSaturation]]:
    a = np.array
    return {
        "lstm-2x2": [
            GateSaturation(0, "i", a([0.1, 0.3]), a([0.5, 0.1])),  # units 0.6 and 0.4 saturated
            GateSaturation(0, "f", a([0.0, 0.0]), a([0.0, 0.2])),
            GateSaturation(1, "i", a([0.0, 0.0]), a([0.9, 0.9])),
            GateSaturation(1, "f", a([0.0, 0.0]), a([0.0, 0.0])),
        ],
        "gru-1x2": [
            GateSaturation(0, "z", a([0.2, 0.2]), a([0.2, 0.2])),
            GateSaturation(0, "r", a([0.0, 0.5]), a([0.0, 0.25])),
        ],
    }


def test_saturation_panels_group_layers_by_gate() -> None:
    entries = _saturation()["lstm-2x2"]
    panels = readings.saturation_panels(entries)
    assert list(panels) == ["gate i", "gate f"]
    assert [p[0] for p in panels["gate i"]] == [entries[0].left, entries[2].left]
    assert [p[1] for p in panels["gate f"]] == [entries[1].right, entries[3].right]


def test_saturation_rows() -> None:
    rows = readings.saturation_rows(_saturation())
    assert rows == [
        # i over 4 units: left mean 0.1, right mean 0.6; 0.6, 0.9, 0.9 above one half
        {"model": "lstm-2x2", "i": "0.10 / 0.60 (3 of 4)", "f": "0.00 / 0.05 (0 of 4)"}
        | {"o": "—", "z": "—", "r": "—"},
        {"model": "gru-1x2", "i": "—", "f": "—", "o": "—"}
        | {"z": "0.20 / 0.20 (0 of 2)", "r": "0.25 / 0.12 (1 of 2)"},
    ]
    assert list(rows[0]) == ["model", *measures.SIGMOID_GATES]


def test_saturation_findings() -> None:
    found = readings.saturation_findings(_saturation(), ["lstm-2x2", "gru-1x2"])
    # lstm i: layer 1 saturated 50% of steps, layer 2 90%; f: 10% and 0%
    assert found.items == (
        "LSTM-2x2 — i: 70.0% of steps saturated on average, most in layer 2; f: 5.0% of steps "
        "saturated on average, most in layer 1.",
        "GRU-1x2 — z: 40.0% of steps saturated on average, most in layer 1; r: 37.5% of steps "
        "saturated on average, most in layer 1.",
    )
    only = readings.saturation_findings(_saturation(), ["gru-1x2"])
    assert len(only.items) == 1


def test_saliency_rows_and_findings() -> None:
    saliency = {
        "a": np.array([1.0, 3.0, 2.0, 2.0]),  # rows 3-4 hold 4 of 8
        "b": np.array([0.0, 1.0, 0.0, 3.0]),  # rows 3-4 hold 3 of 4
        "c": np.array([4.0, 0.0, 0.0, 0.0]),  # none
    }
    rows = readings.saliency_rows(saliency, [(1, 2), (3, 4)])
    assert rows == [
        {"model": "a", "row with the largest share": 2}
        | {"share in rows 1-2": "50.0%", "share in rows 3-4": "50.0%"},
        {"model": "b", "row with the largest share": 4}
        | {"share in rows 1-2": "25.0%", "share in rows 3-4": "75.0%"},
        {"model": "c", "row with the largest share": 1}
        | {"share in rows 1-2": "100.0%", "share in rows 3-4": "0.0%"},
    ]
    ink = np.array([0.1, 0.5, 0.3, 0.1])  # rows 3-4 hold 0.4 of 1.0
    found = readings.saliency_findings(saliency, ink, from_row=3)
    assert found.heading == "The gradient in rows 3-4"
    assert found.items == (
        "Rows 3-4 hold 0.0% (c) to 75.0% (b) of the gradient's size.",
        "They are 50% of the rows, and 40.0% of the test set's inked rows (counted per image) "
        "lie there.",
    )
