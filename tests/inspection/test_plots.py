"""Every figure drawn once on small arrays, and checked for what it must show."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402

from rnnreport.inspection.plots import counting, inside, results, style, theory  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _labels(ax) -> list[str]:
    return [line.get_label() for line in ax.get_lines() if not line.get_label().startswith("_")]


def _same_color(a, b) -> bool:
    return to_rgba(a) == to_rgba(b)


# -- style ----------------------------------------------------------------------------------


def test_a_colour_per_cell_and_a_style_per_shape() -> None:
    assert style.cell_color("lstm-1x32") == style.CELL_COLORS["lstm"]
    assert style.cell_color("gru") == style.CELL_COLORS["gru"]
    assert style.cell_color("cnn-2x8") == "gray"
    assert style.cell_color("mlp1", other="dimgray") == "dimgray"
    styles = style.LineStyles()
    first, second = styles("lstm-1x32"), styles("lstm-3x32")
    assert first != second
    assert styles("gru-1x32") == first and styles("gru-3x32") == second
    for k in range(len(style.SHAPE_STYLES)):  # wraps around after the last style
        styles(f"lstm-shape{k}")
    assert styles("lstm-shape2") == first


# -- results --------------------------------------------------------------------------------


def test_learning_curves_draw_the_mean_over_seeds_and_its_range() -> None:
    curves = {
        "lstm-1x32": {
            "valid_accuracy": [[0.90, 0.95, 0.96], [0.92, 0.93, 0.98]],
            "train_loss": [[1.0, 0.5, 0.25], [3.0, 0.5, 0.25]],
        },
        "gru-1x32": {"valid_accuracy": [[0.91, 0.94, 0.97]], "train_loss": [[2.0, 1.0, 0.1]]},
    }
    fig = results.learning_curves(curves)
    accuracy, loss = fig.axes
    assert accuracy.get_title() == "Validation accuracy" and loss.get_title() == "Training loss"
    assert accuracy.get_ylabel() == "validation accuracy" and loss.get_yscale() == "log"
    assert _labels(accuracy) == ["lstm-1x32", "gru-1x32"]
    lstm, gru = accuracy.get_lines()
    np.testing.assert_array_equal(lstm.get_xdata(), [1, 2, 3])
    np.testing.assert_allclose(lstm.get_ydata(), [0.91, 0.94, 0.97])
    np.testing.assert_allclose(loss.get_lines()[0].get_ydata(), [2.0, 0.5, 0.25])
    assert _same_color(lstm.get_color(), "tab:blue") and _same_color(gru.get_color(), "tab:orange")
    assert lstm.get_linestyle() == gru.get_linestyle()  # one shape, one style
    assert len(accuracy.collections) == 1  # the min-max band, for the model with two seeds
    assert accuracy.get_legend() is not None


def test_accuracy_by_model_bars_and_reference() -> None:
    fig = results.accuracy_by_model(
        ["lstm-1x32", "gru-1x32", "cnn"],
        [0.97, 0.98, 0.99],
        [0.001, 0.002, 0.0],
        reference=[0.96, None, 0.985],
        title="Test",
    )
    (ax,) = fig.axes
    bars = ax.patches
    assert [round(b.get_height(), 6) for b in bars] == [0.97, 0.98, 0.99]
    assert _same_color(bars[0].get_facecolor()[:3], "tab:blue")  # alpha aside
    assert [t.get_text() for t in ax.get_xticklabels()] == ["lstm-1x32", "gru-1x32", "cnn"]
    (reference,) = [line for line in ax.get_lines() if line.get_label() == "report A"]
    np.testing.assert_array_equal(reference.get_xdata(), [0, 2])  # None is left out
    np.testing.assert_allclose(reference.get_ydata(), [0.96, 0.985])
    np.testing.assert_allclose(ax.get_ylim(), (0.95, 1.0))  # just below the lowest value
    assert ax.get_title() == "Test" and ax.get_ylabel() == "test accuracy"


def test_accuracy_vs_parameters_places_each_model_on_a_log_axis() -> None:
    models = ["softmax", "cnn-2x8", "lstm-1x32", "gru-1x32"]
    params = [7850, 50000, 5000, 4000]
    fig = results.accuracy_vs_parameters(
        models,
        params,
        [0.92, 0.99, 0.97, 0.98],
        [0.0, 0.001, 0.002, 0.003],
        ["whole image", "whole image", "row by row", "row by row"],
        reference=[0.92, None, 0.96, None],
    )
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_ylabel() == "test accuracy"
    assert sorted(t.get_text() for t in ax.texts) == sorted(models)
    assert len(ax.containers) == 4  # one error bar per model
    markers = [c.lines[0].get_marker() for c in ax.containers]
    assert markers == ["s", "s", "o", "o"]
    (legend,) = fig.legends
    assert sorted(t.get_text() for t in legend.get_texts()) == [
        "report A",
        "row by row",
        "whole image",
    ]
    with pytest.raises(ValueError, match="one value per model"):
        results.accuracy_vs_parameters(["a"], [1, 2], [0.5], [0.0], ["whole image"])


def test_effects_put_the_first_change_on_top() -> None:
    fig = results.effect_bars(
        labels=["init", "grey"],
        cells=["lstm", "gru"],
        accuracy=[0.5, -0.2],
        accuracy_spread=[0.1, 0.3],
        loss=[-40.0, 10.0],
        loss_spread=[5.0, 8.0],
        loss_targets={"lstm": -60.0},
    )
    accuracy, loss = fig.axes
    labels, ticks = accuracy.get_yticklabels(), accuracy.get_yticks()
    ticks = {t.get_text(): y for t, y in zip(labels, ticks, strict=True)}
    assert ticks == {"LSTM: init": 1, "GRU: grey": 0}
    assert accuracy.get_xlabel() == "Δ test accuracy (points)"
    assert loss.get_xlabel() == "Δ summed test loss"
    first = accuracy.containers[0].lines[0]  # the first change: its point and height
    assert first.get_xdata()[0] == 0.5 and first.get_ydata()[0] == 1
    targets = [line for line in loss.get_lines() if line.get_linestyle() == "--"]
    assert [line.get_xdata()[0] for line in targets] == [-60.0]
    assert len(fig.legends) == 1
    plain = results.effect_bars(["a"], ["lstm"], [0.1], [0.1], [1.0], [1.0])
    assert not plain.legends


# -- inside ---------------------------------------------------------------------------------


def test_rows_beside_images_puts_each_recorded_map_beside_its_image() -> None:
    rng = np.random.default_rng(0)
    K, T, H = 2, 28, 5
    images = (rng.random((K, 28, 28)) < 0.3).astype(np.uint8)
    signed = rng.normal(size=(T, K, H))  # (T, K, H), as recorded
    gate = rng.random((T, K, H))
    fig = inside.rows_beside_images(
        images,
        {"state": signed, "gate": torch.as_tensor(gate)},
        labels=["first", "second"],
        ranges={"gate": (0.0, 1.0)},
        cmaps={"gate": "magma"},
        title="maps",
    )
    axes = np.array(fig.axes).reshape(K + 1, 3)
    assert not axes[K, 0].get_visible()  # the colour-bar row has no image column
    assert [ax.get_title() for ax in axes[0]] == ["input (step = row)", "state", "gate"]
    assert [axes[k, 0].get_ylabel() for k in range(K)] == ["first", "second"]
    for k in range(K):
        np.testing.assert_array_equal(axes[k, 0].images[0].get_array(), images[k])
        state, gate_map = axes[k, 1].images[0], axes[k, 2].images[0]
        np.testing.assert_allclose(state.get_array(), signed[:, k, :])  # step down, units across
        np.testing.assert_allclose(gate_map.get_array(), gate[:, k, :])
        assert state.get_extent()[2:] == [28.5, 0.5]  # step t level with row t
    top = np.abs(signed).max()
    np.testing.assert_allclose(axes[0, 1].images[0].get_clim(), (-top, top))  # symmetric
    assert axes[0, 1].images[0].get_cmap().name == "RdBu_r"
    assert axes[0, 2].images[0].get_clim() == (0.0, 1.0)
    assert axes[0, 2].images[0].get_cmap().name == "magma"
    assert axes[K - 1, 1].get_xlabel() == "unit"
    assert fig.get_suptitle() == "maps"


def test_state_over_time_draws_the_statistics_and_what_is_known() -> None:
    T = 6
    stats = {"spread": np.arange(T) / 10, "magnitude": np.ones(T), "change": np.full(T, 0.5)}
    accuracy, seen, to_come = np.linspace(0.1, 0.9, T), np.linspace(0, 1, T), np.zeros(T)
    fig = inside.state_over_time(stats, accuracy, seen, to_come, name="GRU-32")
    state, known = fig.axes
    assert state.get_title() == "GRU-32 output over time"
    assert known.get_title() == "What has been seen, what is known"
    assert [ax.get_xlabel() for ax in fig.axes] == ["step t", "step t"]
    drawn = [line.get_ydata() for line in state.get_lines()]
    for got, key in zip(drawn, ("spread", "magnitude", "change"), strict=True):
        np.testing.assert_allclose(got, stats[key])
    np.testing.assert_array_equal(state.get_lines()[0].get_xdata(), np.arange(1, T + 1))
    assert _labels(known) == [
        "readout accuracy",
        "images with ink so far",
        "images with ink still to come",
    ]
    np.testing.assert_allclose(known.get_lines()[0].get_ydata(), accuracy)
    np.testing.assert_allclose(known.get_ylim(), (0, 1.02))


def test_gates_over_time_one_line_per_gate() -> None:
    means = {"input gate i": [0.2, 0.4, 0.6], "forget gate f": [0.9, 0.8, 0.7]}
    fig = inside.gates_over_time(means, title="gates")
    (ax,) = fig.axes
    assert _labels(ax) == list(means) and ax.get_title() == "gates"
    np.testing.assert_array_equal(ax.get_lines()[1].get_xdata(), [1, 2, 3])
    np.testing.assert_allclose(ax.get_lines()[1].get_ydata(), means["forget gate f"])
    assert ax.get_ylim() == (0, 1) and ax.get_ylabel() == "mean over units and images"


def test_accuracy_by_step_marks_the_cited_last_steps() -> None:
    T = 5
    curves = {
        "lstm-1x32": (np.linspace(0.1, 0.9, T), np.linspace(0.2, 0.95, T)),
        "gru-1x32": (np.linspace(0.1, 0.95, T), np.linspace(0.3, 0.99, T)),
    }
    fig = inside.accuracy_by_step(curves, reference=("report B", [0.9, 0.8]), title="readout")
    accuracy, confidence = fig.axes
    assert _labels(accuracy) == ["lstm-1x32", "gru-1x32", "report B"]
    (cited,) = [line for line in accuracy.get_lines() if line.get_label() == "report B"]
    np.testing.assert_array_equal(cited.get_xdata(), [T, T - 1])  # from the last step back
    np.testing.assert_allclose(confidence.get_lines()[1].get_ydata(), curves["gru-1x32"][1])
    for ax in fig.axes:
        assert ax.get_xlim() == (0.5, T + 0.5) and ax.get_ylim() == (0, 1.02)
        chance = [line for line in ax.get_lines() if line.get_linestyle() == ":"]
        assert [line.get_ydata()[0] for line in chance] == [0.1]
    assert fig.get_suptitle() == "readout"


def test_decision_histograms_one_panel_per_digit() -> None:
    labels = np.array([0, 0, 0, 1, 1, 7])
    decision = np.array([3, -1, 5, 2, 2, 28])  # one image of digit 0 never decided
    last_ink = np.array([20, 21, 22, 19, 19, 25])
    fig = inside.decision_histograms(decision, last_ink, labels, steps=28, title="when")
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(fig.axes) == 5 and len(visible) == 3  # one row of five, two left empty
    assert [ax.get_title() for ax in visible] == [
        "digit 0: 2 of 3 decided",
        "digit 1: 2 of 2 decided",
        "digit 7: 1 of 1 decided",
    ]
    bars = [p for p in visible[0].patches if p.get_fill()]
    assert sum(b.get_height() for b in bars) == 2  # the undecided image is left out
    assert visible[0].get_xlabel() == "step / row" and fig.get_suptitle() == "when"


def test_saturation_scatter_one_point_per_unit_and_layer() -> None:
    layers = [(np.array([0.1, 0.2]), np.array([0.5, 0.0])), (np.array([0.9]), np.array([0.05]))]
    fig = inside.saturation_scatter({"gate i": layers, "gate f": layers[:1]}, title="gates")
    i, f = fig.axes
    assert [i.get_title(), f.get_title()] == ["gate i", "gate f"]
    np.testing.assert_allclose(i.collections[0].get_offsets(), [[0.1, 0.5], [0.2, 0.0]])
    np.testing.assert_allclose(i.collections[1].get_offsets(), [[0.9, 0.05]])
    assert len(f.collections) == 1
    assert i.get_xlim() == (-0.02, 1.02) and i.get_ylim() == (-0.02, 1.02)
    assert i.get_ylabel() == "fraction > 0.9 (right)" and f.get_ylabel() == ""
    assert f.get_legend() is not None  # more than one layer somewhere: layers are named


def test_saliency_curves_scale_each_model_to_one() -> None:
    curves = {"lstm-1x32": np.array([1.0, 3.0, 4.0]), "gru-1x32": np.array([2.0, 2.0, 4.0])}
    fig = inside.saliency_curves(curves, ink=np.array([0.1, 0.5, 0.9]))
    ax, back = fig.axes
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), [0.125, 0.375, 0.5])
    assert _labels(ax) == list(curves)
    assert [round(b.get_height(), 6) for b in back.patches] == [0.1, 0.5, 0.9]
    assert back.get_ylim() == (0, 1)
    assert len(inside.saliency_curves(curves).axes) == 1  # no ink, no bars


# -- counting -------------------------------------------------------------------------------


def test_recognition_by_n_one_row_per_seed() -> None:
    ok = [True, True, False, False]
    panels = {
        "aⁿbⁿ": {"lstm": [ok, [True] * 4], "gru": [[False] * 4]},
        "aⁿbⁿcⁿ": {"lstm": [ok], "gru": [ok]},
    }
    fig = counting.recognition_by_n(panels, n_train=2)
    first, second = fig.axes
    assert first.get_title() == "aⁿbⁿ: strings recognised (dark) against n"
    np.testing.assert_array_equal(first.images[0].get_array(), [ok, [1] * 4, [0] * 4])
    assert [t.get_text() for t in first.get_yticklabels()] == [
        "lstm seed 0",
        "lstm seed 1",
        "gru seed 0",
    ]
    (end,) = first.get_lines()
    assert end.get_xdata()[0] == 2.5  # the end of the training range
    assert len(second.images) == 1


def test_counting_units_draws_every_unit_and_the_best_thick() -> None:
    states = np.linspace(-1, 1, 7 * 3).reshape(7, 3)
    fig = counting.counting_units({"LSTM": (states, 1, 3, False), "GRU": (states, 2, 3, True)})
    lstm, gru = fig.axes
    assert [lstm.get_title(), gru.get_title()] == ["LSTM", "GRU"]
    widths = [line.get_linewidth() for line in lstm.get_lines()]
    assert widths == [0.8, 2.2, 0.8]
    np.testing.assert_allclose(lstm.get_lines()[1].get_ydata(), states[:, 1])
    bounds = [line.get_ydata()[0] for line in gru.get_lines()[3:]]
    assert bounds == [0.99, -0.99] and len(lstm.get_lines()) == 3  # only the bounded state
    assert len(lstm.patches) == 1  # the shaded a-block


# -- theory ---------------------------------------------------------------------------------


def test_stored_input_shows_the_cell_on_its_own_scale() -> None:
    pixels = np.eye(4)
    states = np.tanh(3 * (2 * pixels - 1))
    read_back = (np.sign(states) + 1) / 2
    fig = theory.stored_input(pixels, states, read_back)
    assert len(fig.axes) == 4  # three panels and a colour bar
    panels = fig.axes[:3]
    assert [ax.get_title() for ax in panels][:2] == ["input pixels $x_t$", "LSTM cell $c_t$"]
    for ax, image in zip(panels, (pixels, states, read_back), strict=True):
        np.testing.assert_allclose(ax.images[0].get_array(), image)
    assert panels[0].get_ylabel() == "step t (row)"
    assert panels[1].images[0].colorbar is not None  # the bar belongs to the cell's panel
    assert panels[1].images[0].colorbar.mappable.get_clim() == (-1, 1)
    assert panels[1].images[0].get_cmap().name == "RdBu_r"


def test_keep_drift_a_bound_line_and_two_markers_per_horizon() -> None:
    betas = np.array([1.0, 2.0, 4.0])
    bound = np.array([[0.5, 0.2, 0.05], [0.9, 0.5, 0.1]])
    fig = theory.keep_drift(betas, (10, 100), bound, bound / 2, bound / 3)
    (ax,) = fig.axes
    lines = ax.get_lines()
    assert len(lines) == 6 and ax.get_yscale() == "log"
    np.testing.assert_allclose(lines[3].get_ydata(), bound[1])
    assert [line.get_marker() for line in lines[:3]] == ["None", "o", "x"]
    assert _same_color(lines[0].get_color(), lines[2].get_color())  # one colour per horizon
    assert _labels(ax) == ["bound, T = 10", "T = 10", "bound, T = 100", "T = 100"]


def test_first_output_ascent_against_the_bound() -> None:
    fig = theory.first_output_ascent([0.1, 0.5, 0.7], [0.2, 0.8, 0.95], bound=np.tanh(1.0))
    (ax,) = fig.axes
    lstm, gru, bound = ax.get_lines()
    np.testing.assert_allclose(gru.get_ydata(), [0.2, 0.8, 0.95])
    assert bound.get_ydata()[0] == pytest.approx(np.tanh(1.0)) and bound.get_linestyle() == "--"
    assert ax.get_ylim() == (0, 1.05) and ax.get_xlabel() == "ascent step"


def test_mapped_outputs_draw_the_input_and_three_outputs() -> None:
    x = np.array([1.0, 0.0, 1.0, 1.0])
    fig = theory.mapped_outputs(x, x / 2, x / 3, x / 4)
    (ax,) = fig.axes
    assert len(ax.get_lines()) == 4
    np.testing.assert_array_equal(ax.get_lines()[0].get_xdata(), [1, 2, 3, 4])
    np.testing.assert_allclose(ax.get_lines()[2].get_ydata(), x / 3)
    assert ax.get_title() == "Same weights, same input, other outputs"


def test_lstm_count_vs_gru_on_log_axes() -> None:
    steps = np.arange(1, 1001)
    gru = np.vstack([1 - 0.9**steps, 1 - 0.99**steps])
    fig = theory.lstm_count_vs_gru(steps, steps.astype(float), np.tanh(steps), (2.0, 4.0), gru)
    (ax,) = fig.axes
    assert ax.get_xscale() == ax.get_yscale() == "log"
    assert _labels(ax) == [
        "LSTM cell $c_t$",
        "LSTM output $h_t$",
        "GRU $h_t$, $z = \\sigma(2)$",
        "GRU $h_t$, $z = \\sigma(4)$",
    ]
    assert ax.get_lines()[-1].get_ydata()[0] == 1.0  # the GRU's bound
    assert ax.get_title() == "Counting to 1,000: LSTM cell vs GRU state"
