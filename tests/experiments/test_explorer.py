"""The explorer's exports: the weights travel exactly, the layout is the model's, and the
Python forward the browser test compares the page with is the model's own function."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from rnnreport.data import languages
from rnnreport.data.views import binarize
from rnnreport.experiments import explorer
from rnnreport.model.cells import CELLS
from rnnreport.model.classifier import ModelConfig, build_model
from rnnreport.model.counter import CounterConfig


def _images(k: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.random((k, 28, 28)) < 0.2).astype(np.uint8)


@pytest.mark.parametrize(
    ("cell", "reset"), [("lstm", "before"), ("gru", "before"), ("gru", "after")]
)
def test_a_classifier_travels_exactly_with_its_layout(cell: str, reset: str) -> None:
    model = build_model(ModelConfig(cell=cell, units=8, reset=reset, seed=3)).eval()
    payload = explorer.classifier_payload(model, model.config.name)
    assert payload["blocks"] == list(CELLS[cell].blocks)
    assert payload["gate_names"] == list(CELLS[cell].gate_names)
    level = payload["first_ink_level"]
    assert binarize(np.array([level - 1, level], np.uint8)).tolist() == [0, 1]
    back = explorer.classifier_of_payload(payload)
    x = torch.from_numpy(_images(5)).float()
    with torch.no_grad():
        assert torch.equal(back(x, every_step=True), model(x, every_step=True))


def test_a_model_the_page_cannot_run_is_refused_with_the_reason() -> None:
    model = build_model(ModelConfig(cell="gru", units=8, layers=3))
    with pytest.raises(ValueError, match="3 layers.*gru-1x8"):
        explorer.classifier_payload(model, "gru-3x8")


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_the_reference_is_the_trained_models_function(cell: str) -> None:
    model = build_model(ModelConfig(cell=cell, units=8, seed=1)).eval()
    images = _images(4, seed=2)
    steps = explorer.classifier_steps(model, images)
    assert set(steps) == {*CELLS[cell].gate_names, "h", "p"}
    assert steps["h"].shape == (4, 28, 8) and steps["p"].dtype == np.float64
    with torch.no_grad():  # the float32 fast path, as trained and evaluated
        p32 = torch.softmax(model(torch.from_numpy(images).float(), every_step=True), -1)
    np.testing.assert_allclose(steps["p"], p32.transpose(0, 1).numpy(), atol=1e-5)
    np.testing.assert_allclose(steps["p"].sum(-1), 1.0, atol=1e-12)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_a_counters_reference_is_its_predictions(cell: str) -> None:
    config = CounterConfig(cell=cell, seed=2)
    model = build_model(config).eval()
    text = languages.string("anbn", 6)
    steps = explorer.counter_steps(model, text)
    x, _ = languages.encode("anbn", 6)
    p32 = model.predict(torch.from_numpy(x)[:, None])[:, 0].numpy()
    assert steps["p"].shape == (len(text) + 1, len(languages.OUTPUTS))
    np.testing.assert_allclose(steps["p"], p32, atol=1e-5)
    payload = explorer.counter_payload(model, config, counting_unit=1)
    assert payload["inputs"] == list(languages.INPUTS)
    assert payload["letters"] == "ab" and payload["counting_unit"] == 1


def test_a_script_reads_back_what_was_written(tmp_path: Path) -> None:
    models = {"m": {"kind": "x", "w": explorer.tensor_text(torch.tensor([[0.1, -2.5e-9]]))}}
    path = tmp_path / "models.js"
    size = explorer.write_script(path, models)
    assert size == path.stat().st_size
    assert path.read_text().count(f"window.{explorer.GLOBAL}") == 2
    back = explorer.read_script(path)
    assert torch.equal(explorer.tensor_of_text(back["m"]["w"]), torch.tensor([[0.1, -2.5e-9]]))
    (tmp_path / "other.js").write_text("var x = 1;\n")
    with pytest.raises(ValueError, match="not a model script"):
        explorer.read_script(tmp_path / "other.js")


def test_the_chosen_digits_are_the_first_of_each_class() -> None:
    labels = np.array([3, 1, 0, 1, 2, 9, 0, 3, 4, 5, 6, 7, 8, 9, 2, 4, 5, 6, 7, 8, 0, 1])
    picked = explorer.chosen_digits(labels)
    assert [int(labels[i]) for i in picked] == [d for d in range(10) for _ in range(2)]
    assert picked[:2] == [2, 6]  # the first two zeros, in order


def test_the_step_through_files_hold_the_digits_and_the_reference(tmp_path: Path) -> None:
    models = {
        name: build_model(ModelConfig(cell=cell, units=4)).eval()
        for name, cell in (("g", "gru"), ("l", "lstm"))
    }
    images = _images(3)
    written = explorer.write_step_through(models, images, [1, 2, 3], tmp_path)
    payload = explorer.read_script(written.script)
    assert payload["digits"]["labels"] == [1, 2, 3]
    rows = np.array([[list(map(int, row)) for row in image] for image in payload["digits"]["rows"]])
    assert np.array_equal(rows, images)
    reference = np.load(written.reference)
    assert reference["g/z"].shape == (3, 28, 4) and reference["l/c"].shape == (3, 28, 4)
    assert "KB" in str(written)
