"""The explorer in headless Chromium: the page's JavaScript cells against the Python forward.

The build exports the grid's GRU-32 and LSTM-32 and the aⁿbⁿ counters as scripts the pages
load (``explorer_digits.js``, ``explorer_counters.js``), and the Python forward of the same
models on the same inputs beside them (``.npz``: float64, each cell's own equations; see
:mod:`rnnreport.experiments.explorer`). Here the page computes every state, gate and
probability for each exported test digit and counter string, and they must agree within
:data:`TOLERANCE`; a digit drawn with the mouse is predicted as the Python model (loaded from
the exported weights) predicts it; the slider and the string box are driven with keys and
clicks, and the panels are photographed at steps 5 and 28, at 1400 and 390 px. How long the
page takes to become interactive is printed (and written to the screenshots folder), not
asserted: it depends on the machine.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from rnnreport.data.views import binarize
from rnnreport.experiments import explorer

pytestmark = pytest.mark.browser

STEP_THROUGH = "auto_examples/plot_09_step_through.html"
COUNTER_PAGE = "auto_examples/plot_02a_converse_trained.html"
TOLERANCE = 1e-5
WEIGHTS_LIMIT = 300 * 1024  # bytes, both model scripts together
READY = "() => window.rnnreportExplorer && window.rnnreportExplorer.ready"
RUN = "([name, input]) => window.rnnreportExplorer.run(name, input)"
# How far anything inside the widget reaches past the widget's own box (0 when all fits).
WIDER_THAN_COLUMN = """() => {
  const widget = document.querySelector('.rnnreport-explorer');
  const edge = widget.getBoundingClientRect().right;
  const parts = Array.from(widget.querySelectorAll('*'), (e) => e.getBoundingClientRect().right);
  return Math.max(widget.scrollWidth - widget.clientWidth, ...parts.map((r) => r - edge));
}"""
SENTENCES = """() => Array.from(document.querySelectorAll('.explorer-model'), (f) => [
  f.dataset.model, f.querySelector('.explorer-sentence').textContent,
  f.querySelector('.explorer-sentence').dataset.prediction])"""


def _page_error(message: Any) -> bool:
    """An error the page logged (not the browser's own request for a favicon)."""
    return message.type == "error" and not message.location["url"].endswith("/favicon.ico")


def _open(context: Any, url: str, width: int = 1400) -> tuple[Any, list[str]]:
    """A new page at ``url``, the explorer started; the console errors it logs collect in
    the list returned beside it."""
    page = context.new_page()
    page.set_viewport_size({"width": width, "height": 900})
    errors: list[str] = []
    page.on("console", lambda m: _page_error(m) and errors.append(f"{m.text} @ {m.location}"))
    page.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))
    page.goto(url, wait_until="load")
    page.wait_for_function(READY, timeout=10_000)
    return page, errors


@pytest.fixture
def step_page(base_url: str, browser_context: Any) -> Iterator[Any]:
    page, errors = _open(browser_context, base_url + STEP_THROUGH)
    yield page
    page.close()
    assert not errors, errors


@pytest.fixture
def counter_page(base_url: str, browser_context: Any) -> Iterator[Any]:
    page, errors = _open(browser_context, base_url + COUNTER_PAGE)
    yield page
    page.close()
    assert not errors, errors


@pytest.fixture(scope="module")
def digits(site: Path) -> tuple[dict[str, Any], Any]:
    """The models and digits the page loads, and the Python forward on those digits."""
    script = site / explorer.DIGITS_SCRIPT
    return explorer.read_script(script), np.load(script.with_suffix(".npz"))


@pytest.fixture(scope="module")
def counters(site: Path) -> tuple[dict[str, Any], Any]:
    script = site / explorer.COUNTERS_SCRIPT
    return explorer.read_script(script), np.load(script.with_suffix(".npz"))


def _of_kind(models: dict[str, Any], kind: str) -> list[str]:
    return [name for name, m in models.items() if m["kind"] == kind]


def _records(reference: Any, prefix: str, k: int | None = None) -> dict[str, np.ndarray]:
    """The reference arrays under ``prefix`` by record name (of image ``k`` when given)."""
    found = {
        key.removeprefix(prefix): reference[key] if k is None else reference[key][k]
        for key in reference.files
        if key.startswith(prefix) and "/" not in key.removeprefix(prefix)
    }
    assert found, f"no reference records under {prefix!r}"
    return found


def _mismatches(js_steps: list[dict[str, list[float]]], want: dict[str, np.ndarray]) -> list[str]:
    """Each record the page computed against the Python one: where they differ."""
    wrong = []
    for record, values in want.items():
        ours = np.array([step[record] for step in js_steps])
        gap = float(np.abs(ours - values).max()) if ours.shape == values.shape else np.inf
        if not gap <= TOLERANCE:
            wrong.append(f"{record}: {ours.shape} vs {values.shape}, gap {gap:.3g}")
    return wrong


def test_the_model_scripts_stay_small(site: Path) -> None:
    sizes = {
        n: (site / n).stat().st_size for n in (explorer.DIGITS_SCRIPT, explorer.COUNTERS_SCRIPT)
    }
    assert sum(sizes.values()) < WEIGHTS_LIMIT, sizes


def test_the_page_computes_what_python_computes_on_every_exported_digit(
    step_page: Any, digits: tuple[dict[str, Any], Any]
) -> None:
    models, reference = digits
    rows = models["digits"]["rows"]
    assert len(rows) >= 20, f"the build exported {len(rows)} digits; the page promises about 20"
    names = _of_kind(models, "classifier")
    assert sorted(names) == ["gru-1x32", "lstm-1x32"]
    wrong = []
    for name in names:
        for k, image in enumerate(rows):
            pixels = [[int(v) for v in row] for row in image]
            assert np.array_equal(pixels, reference["images"][k])
            steps = step_page.evaluate(RUN, [name, pixels])
            want = _records(reference, f"{name}/", k)
            wrong += [f"{name}, digit {k}: {w}" for w in _mismatches(steps, want)]
    assert not wrong, wrong


def test_the_widget_shows_the_python_prediction_of_a_picked_digit(
    step_page: Any, digits: tuple[dict[str, Any], Any]
) -> None:
    models, reference = digits
    for k in (3, 17):
        step_page.locator(".explorer-digit").nth(k).click()
        for name, text, shown in step_page.evaluate(SENTENCES):
            p = reference[f"{name}/p"][k, -1]
            assert int(shown) == int(np.argmax(p))
            assert text == f"after row 28: {np.argmax(p)}, p = {p.max():.2f}"


def test_the_counters_compute_what_python_computes(
    counter_page: Any, counters: tuple[dict[str, Any], Any]
) -> None:
    models, reference = counters
    names = _of_kind(models, "counter")
    assert {models[n]["cell"] for n in names} == {"lstm", "gru"}
    wrong = []
    for name in names:
        strings = [str(s) for s in reference[f"{name}/strings"]]
        assert max(len(s) for s in strings) == 200  # aⁿbⁿ with n = 100
        for k, text in enumerate(strings):
            steps = counter_page.evaluate(RUN, [name, text])
            want = _records(reference, f"{name}/{k}/")
            wrong += [f"{name} on {text[:12]}…: {w}" for w in _mismatches(steps, want)]
        verdicts = counter_page.evaluate(
            "(name) => Array.from({length: 100}, (_, k) => "
            "window.rnnreportExplorer.verdict(name, 'a'.repeat(k + 1) + 'b'.repeat(k + 1)))",
            name,
        )
        ours = [v["recognised"] for v in verdicts]
        assert all(v["member"] for v in verdicts)
        assert ours == reference[f"{name}/recognised"].tolist(), name
    assert not wrong, wrong


def _draw_seven(page: Any) -> None:
    """A 7 on the pad with mouse events: a bar across the top, a stroke down to the left."""
    box = page.locator(".explorer-pad").bounding_box()
    at = lambda x, y: (box["x"] + box["width"] * x / 28, box["y"] + box["height"] * y / 28)  # noqa: E731
    for stroke in (((7, 6), (21, 6)), ((21, 6), (12, 23))):
        page.mouse.move(*at(*stroke[0]))
        page.mouse.down()
        for s in range(1, 11):
            x = stroke[0][0] + (stroke[1][0] - stroke[0][0]) * s / 10
            y = stroke[0][1] + (stroke[1][1] - stroke[0][1]) * s / 10
            page.mouse.move(*at(x, y))
        page.mouse.up()


def test_a_drawn_digit_is_predicted_as_python_predicts_it(
    step_page: Any, digits: tuple[dict[str, Any], Any]
) -> None:
    models, _ = digits
    step_page.get_by_role("button", name="clear").click()
    _draw_seven(step_page)
    widget = "window.rnnreportExplorer.widgets['step-through']"
    levels = np.array(step_page.evaluate(f"() => {widget}.levels()"), dtype=np.uint8)
    pixels = binarize(levels.reshape(28, 28))
    assert 20 < pixels.sum() < 300, "the stroke left too little or too much ink"
    assert np.array_equal(step_page.evaluate(f"() => {widget}.pixels()"), pixels)
    for name, text, shown in step_page.evaluate(SENTENCES):
        model = explorer.classifier_of_payload(models[name])
        with torch.no_grad():
            p = torch.softmax(model(torch.from_numpy(pixels[None]).float()), -1)[0]
        assert int(shown) == int(p.argmax()), f"{name}: page {text!r}, Python {p.tolist()}"
        assert text.startswith(f"after row 28: {int(p.argmax())}, p = ")


@pytest.mark.parametrize("width", [1400, 390])
def test_the_slider_moves_with_keys_and_every_panel_follows(
    width: int, base_url: str, browser_context: Any, digits: Any, screenshots: Path
) -> None:
    page, errors = _open(browser_context, base_url + STEP_THROUGH, width)
    _, reference = digits
    slider = page.locator(".explorer-slider")
    slider.focus()
    page.keyboard.press("Home")
    for _ in range(4):
        page.keyboard.press("ArrowRight")
    for step in (5, 28):
        if step == 28:
            page.keyboard.press("End")
        assert slider.input_value() == str(step)
        for name, text, shown in page.evaluate(SENTENCES):
            p = reference[f"{name}/p"][0, step - 1]  # the page opens on the first digit
            assert int(shown) == int(np.argmax(p))
            assert text == f"after row {step}: {np.argmax(p)}, p = {p.max():.2f}"
        markers = page.evaluate(
            "() => Array.from(document.querySelectorAll('.explorer-marker'), (m) => m.style.top)"
        )
        assert set(markers) == {f"{(step - 1) * 6}px"}
        widget = page.locator(".rnnreport-explorer").first
        widget.screenshot(path=str(screenshots / f"explorer-step-{step:02d}-{width}.png"))
    overflow = page.evaluate(WIDER_THAN_COLUMN)
    assert overflow <= 0, f"the widget is {overflow} px wider than its column at {width} px"
    page.close()
    assert not errors, errors


def test_the_string_box_and_n_drive_the_counters(
    counter_page: Any, counters: tuple[dict[str, Any], Any], screenshots: Path
) -> None:
    _, reference = counters
    box = counter_page.locator(".explorer-text")
    box.fill("")
    box.press_sequentially("aaxbb b")  # what is not a or b is dropped
    assert box.input_value() == "aabbb"
    sentences = counter_page.locator(".explorer-sentence")
    assert sentences.count() == 2
    assert all(t.startswith("not a string of") for t in sentences.all_text_contents())
    box.press("Backspace")  # aabb: n = 2
    for k in range(sentences.count()):
        model = counter_page.locator(".explorer-model").nth(k).get_attribute("data-model")
        shown = sentences.nth(k).get_attribute("data-recognised")
        assert shown == str(bool(reference[f"{model}/recognised"][1])).lower()
        assert "with n = 2" in sentences.nth(k).text_content()
    n = counter_page.locator(".explorer-n")
    n.fill("7")
    n.press("Enter")
    assert box.input_value() == "a" * 7 + "b" * 7
    assert "with n = 7" in sentences.first.text_content()
    for width in (1400, 390):
        counter_page.set_viewport_size({"width": width, "height": 900})
        counter_page.evaluate("() => window.dispatchEvent(new Event('resize'))")
        overflow = counter_page.evaluate(WIDER_THAN_COLUMN)
        assert overflow <= 0, f"the widget is {overflow} px wider than its column at {width} px"
        counter_page.locator(".rnnreport-explorer").first.screenshot(
            path=str(screenshots / f"explorer-counter-n7-{width}.png")
        )


def test_the_explorer_opens_from_disk(site: Path, browser_context: Any) -> None:
    for page_path in (STEP_THROUGH, COUNTER_PAGE):
        page, errors = _open(browser_context, (site / page_path).as_uri())
        assert page.locator(".explorer-sentence").count() >= 2
        page.close()
        assert not errors, errors


def test_time_to_interactive_is_reported(
    base_url: str, site: Path, browser_context: Any, screenshots: Path
) -> None:
    lines = []
    for where, url in (("http", base_url + STEP_THROUGH), ("file", (site / STEP_THROUGH).as_uri())):
        page, _ = _open(browser_context, url)
        ms = page.evaluate("() => window.rnnreportExplorer.readyAt")
        page.close()
        assert ms > 0
        lines.append(f"step-through page over {where}: interactive {ms:.0f} ms after navigation")
    (screenshots / "explorer-timing.txt").write_text("\n".join(lines) + "\n")
    print("\n" + "\n".join(lines))


def test_without_javascript_the_page_says_what_the_widget_does(
    base_url: str, browser_context: Any
) -> None:
    page = browser_context.new_page()
    cdp = browser_context.new_cdp_session(page)
    cdp.send("Emulation.setScriptExecutionDisabled", {"value": True})
    page.goto(base_url + STEP_THROUGH, wait_until="load")
    note = page.locator(".explorer-static-note")
    assert note.is_visible()
    assert "draw" in note.text_content()
    assert page.locator("img.sphx-glr-single-img, img.sphx-glr-multi-img").count() >= 1
    assert page.locator(".explorer-sentence").count() == 0
    page.close()


def test_a_finger_draws_on_the_pad_at_phone_width(base_url: str, browser_context: Any) -> None:
    page, errors = _open(browser_context, base_url + STEP_THROUGH, width=390)
    page.get_by_role("button", name="clear").click()
    cdp = browser_context.new_cdp_session(page)
    cdp.send("Emulation.setTouchEmulationEnabled", {"enabled": True, "maxTouchPoints": 1})
    box = page.locator(".explorer-pad").bounding_box()
    scrolled = page.evaluate("() => window.scrollY")
    points = [(box["x"] + box["width"] * f, box["y"] + box["height"] / 2) for f in (0.2, 0.5, 0.8)]
    for kind, (x, y) in zip(("touchStart", "touchMove", "touchMove"), points, strict=True):
        cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": [{"x": x, "y": y}]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    pixels = np.array(
        page.evaluate("() => window.rnnreportExplorer.widgets['step-through'].pixels()")
    )
    inked = np.flatnonzero(pixels.any(axis=1))
    assert len(inked) and set(inked) <= {12, 13, 14, 15}, "a stroke across the middle rows"
    assert pixels[13:15].sum(axis=1).min() >= 14, "the stroke runs from 20% to 80% of the width"
    assert page.evaluate("() => window.scrollY") == scrolled, "drawing scrolled the page"
    page.close()
    assert not errors, errors
