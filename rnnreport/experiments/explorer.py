r"""What the site's explorer needs: trained models as ``.js`` files, and the Python forward
to hold the page's JavaScript to.

The explorer (``docs/_static/explorer/explorer.js``) runs the trained cells in the reader's
browser, one line of JavaScript per equation of :mod:`rnnreport.model.cells`. A page opened
from disk may not ``fetch`` a JSON file, so each model travels as a ``<script>`` that adds
itself to ``window.RNNREPORT_MODELS``: its weights (every tensor of its ``state_dict``, as
little-endian float32 in base64, the exact values the model holds), and what running it
needs, read from the model rather than restated: the cell's column blocks (``blocks``) and
what its step reports (``gate_names``), the GRU's reset variant, the LSTM's forget bias, the
lowest raw pixel level the binary view keeps as ink, the head, and the symbols a counter
reads and predicts.

* :func:`write_step_through` writes the grid's classifiers and a few test digits of each
  class (:func:`chosen_digits`) to ``explorer_digits.js``;
* :func:`write_counters` writes the trained aⁿbⁿ counters to ``explorer_counters.js``;
* each also writes, beside it, the Python forward of the same models on the same inputs
  (:func:`classifier_steps`, :func:`counter_steps`) into an ``.npz`` file the browser test
  compares the page with.

The Python forward is the reference path (``rnn.fast = False``: each cell's own ``step``)
in float64, through :func:`rnnreport.inspection.probes.record`: the same weights and the
same equations as the trained float32 model, rounded far below the test's tolerance (1e-5).
In float32 a counter's LSTM cell state, which grows with n, can drift from it by more than that
along aⁿbⁿ with n = 100; the page computes in float64 too.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .. import settings
from ..data import languages
from ..data.views import binarize
from ..files import atomic_write
from ..inspection.probes import record, trace_names
from ..model.classifier import CLASSES, PIXELS, STEPS, Classifier, ModelConfig
from ..model.counter import Counter, CounterConfig
from ..training import counting as tc
from . import counting

GLOBAL = "RNNREPORT_MODELS"
"""The ``window`` property every model script adds its models to."""
DIGITS_SCRIPT, COUNTERS_SCRIPT = "explorer_digits.js", "explorer_counters.js"
"""The scripts :func:`write_step_through` and :func:`write_counters` write."""
PER_DIGIT = 2
"""How many test images of each digit the page offers (the first ones of the test set)."""
COUNTER_CHECKS = (1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 100)
"""The n whose aⁿbⁿ strings the counters' reference covers, up to the test's n = 100."""
COUNTER_ODD_STRINGS = ("b", "aab", "abab", "aaabbbb", "aaaabb")
"""Strings outside aⁿbⁿ the reference covers too: a reader may type anything."""

_HEAD = "// Written by rnnreport.experiments.explorer: trained models for the site's explorer.\n"
_OPEN = f"window.{GLOBAL} = Object.assign(window.{GLOBAL} || {{}}, "
_CLOSE = ");\n"


# -- what a model needs to run in the page --------------------------------------------------


def tensor_text(tensor: torch.Tensor) -> dict[str, Any]:
    """``{"shape": [...], "float32": base64}``: the tensor's values, row-major, exactly."""
    values = tensor.detach().cpu().to(torch.float32).contiguous().numpy().astype("<f4")
    return {"shape": list(values.shape), "float32": base64.b64encode(values.tobytes()).decode()}


def tensor_of_text(entry: Mapping[str, Any]) -> torch.Tensor:
    """The inverse of :func:`tensor_text`."""
    values = np.frombuffer(base64.b64decode(entry["float32"]), dtype="<f4")
    return torch.from_numpy(values.reshape(entry["shape"]).copy())


def _cell_layout(model: nn.Module) -> dict[str, Any]:
    (cell,) = model.rnn.cells
    return {
        "cell": model.rnn.cell_name,
        "units": cell.hidden_size,
        "blocks": list(type(cell).blocks),
        "gate_names": list(type(cell).gate_names),
        "reset": getattr(cell, "reset", None),
        "forget_bias": getattr(cell, "forget_bias", None),
        "weights": {name: tensor_text(t) for name, t in model.state_dict().items()},
    }


def first_ink_level() -> int:
    """The lowest raw pixel level (0…255) the binary view keeps as ink: its grey value
    p / 255 is above the threshold (:func:`rnnreport.data.views.binarize`)."""
    return int(np.argmax(binarize(np.arange(256, dtype=np.uint8))))


def classifier_payload(model: Classifier, name: str) -> dict[str, Any]:
    """What the page needs to run ``model``: weights, gate layout, input rule and head."""
    config = model.config
    plain = ModelConfig(cell=config.cell, units=config.units, reset=config.reset)
    if (config.layers, config.batch_norm, config.pixels) != (1, "none", "binary"):
        raise ValueError(
            f"{name}: the explorer runs one-layer models on binary pixels without batch "
            f"norm; this one has {config.layers} layers, batch_norm={config.batch_norm!r}, "
            f"pixels={config.pixels!r}: pick a model like {plain.name}"
        )
    return {
        "kind": "classifier",
        "name": name,
        **_cell_layout(model),
        "steps": STEPS,
        "pixels": PIXELS,
        "classes": CLASSES,
        "first_ink_level": first_ink_level(),
        "head": ["relu", "fc1", "relu", "fc2", "softmax"],
        "init": config.init,
    }


def counter_payload(model: Counter, config: CounterConfig, counting_unit: int) -> dict[str, Any]:
    """What the page needs to run a counter: weights, gate layout, symbols, language."""
    return {
        "kind": "counter",
        "name": config.name,
        **_cell_layout(model),
        "inputs": list(languages.INPUTS),
        "outputs": list(languages.OUTPUTS),
        "language": config.language,
        "letters": languages.LANGUAGES[config.language],
        "title": languages.TITLES[config.language],
        "n_train": config.n_train,
        "counting_unit": counting_unit,
        "head": ["head", "sigmoid"],
    }


def classifier_of_payload(payload: Mapping[str, Any]) -> Classifier:
    """The classifier a :func:`classifier_payload` describes, its weights loaded (eval mode)."""
    config = ModelConfig(
        cell=payload["cell"],
        units=payload["units"],
        reset=payload["reset"] or "before",
        init=payload["init"],
    )
    model = config.build()
    model.load_state_dict({k: tensor_of_text(v) for k, v in payload["weights"].items()})
    return model.eval()


# -- the scripts -----------------------------------------------------------------------------


def write_script(path: Path, models: Mapping[str, Any]) -> int:
    """Write ``models`` (JSON-able) as a script adding them to ``window.RNNREPORT_MODELS``;
    returns its size in bytes."""
    text = _HEAD + _OPEN + json.dumps(models, separators=(",", ":")) + _CLOSE
    with atomic_write(path) as file:
        file.write(text.encode())
    return len(text.encode())


def read_script(path: Path) -> dict[str, Any]:
    """The models a script of :func:`write_script` holds."""
    text = Path(path).read_text()
    if not (text.startswith(_HEAD + _OPEN) and text.endswith(_CLOSE)):
        raise ValueError(f"{path} is not a model script written by write_script")
    return json.loads(text[len(_HEAD + _OPEN) : -len(_CLOSE)])


def _write_reference(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    with atomic_write(path) as file:
        np.savez_compressed(file, **arrays)


# -- the Python forward the page is held to ----------------------------------------------------


def _float64_reference(model: nn.Module) -> nn.Module:
    reference = copy.deepcopy(model).double().eval()
    reference.rnn.fast = False  # each cell's own step: the equations the page mirrors
    return reference


@torch.no_grad()
def classifier_steps(model: Classifier, images: np.ndarray) -> dict[str, np.ndarray]:
    """Per image and step, every state and gate and the ten class probabilities:
    ``{"h": (K, T, H), …, "p": (K, T, 10)}`` for images (K, 28, 28), in float64."""
    reference = _float64_reference(model)
    x = torch.as_tensor(np.asarray(images), dtype=torch.float64).transpose(0, 1)  # (T, K, 28)
    with record(reference.rnn) as trace:
        y, _ = reference.rnn(x, input_map=reference.embed)
    steps = {name.split(".", 1)[1]: trace[name].transpose(0, 1).numpy() for name in trace}
    steps["p"] = torch.softmax(reference.head(y), dim=-1).transpose(0, 1).numpy()
    return steps


@torch.no_grad()
def counter_steps(model: Counter, text: str) -> dict[str, np.ndarray]:
    """Along ``^`` + ``text``: every state and gate (T, H) and the probability of each next
    symbol (T, 4), in float64."""
    reference = _float64_reference(model)
    x = torch.zeros(len(text) + 1, 1, len(languages.INPUTS), dtype=torch.float64)
    for t, symbol in enumerate("^" + text):
        x[t, 0, languages.INPUTS.index(symbol)] = 1
    with record(reference) as trace:
        p = torch.sigmoid(reference(x))
    steps = {name.split(".", 1)[1]: trace[name][:, 0].numpy() for name in trace_names(reference)}
    steps["p"] = p[:, 0].numpy()
    return steps


# -- what the pages call ---------------------------------------------------------------------------


def chosen_digits(labels: np.ndarray, per_digit: int = PER_DIGIT) -> list[int]:
    """The first ``per_digit`` test images of each digit 0…9, digit by digit."""
    labels = np.asarray(labels)
    return [int(i) for d in range(CLASSES) for i in np.flatnonzero(labels == d)[:per_digit]]


@dataclass(frozen=True)
class Written:
    """What a ``write_*`` call left in the output directory: the script the page loads and
    its size, and the reference the browser test reads."""

    script: Path
    size: int
    reference: Path

    def __str__(self) -> str:
        return f"{self.script.name}: {self.size / 1024:.0f} KB of weights and inputs for the page"


def write_step_through(
    models: Mapping[str, Classifier],
    images: np.ndarray,
    labels: Sequence[int],
    directory: Path | None = None,
) -> Written:
    """Write ``models`` (by name) and the test ``images`` (K, 28, 28) with their ``labels``
    to :data:`DIGITS_SCRIPT` in ``directory`` (default: the site's output directory,
    :func:`rnnreport.settings.output_dir`), and their Python forward beside it."""
    images = np.asarray(images)
    payload: dict[str, Any] = {name: classifier_payload(m, name) for name, m in models.items()}
    payload["digits"] = {
        "kind": "digits",
        "labels": [int(y) for y in labels],
        "rows": [["".join(str(int(v)) for v in row) for row in image] for image in images],
    }
    reference = {"images": images.astype(np.uint8)}
    for name, model in models.items():
        for record_name, values in classifier_steps(model, images).items():
            reference[f"{name}/{record_name}"] = values
    script = Path(directory or settings.output_dir()) / DIGITS_SCRIPT
    size = write_script(script, payload)
    _write_reference(script.with_suffix(".npz"), reference)
    return Written(script, size, script.with_suffix(".npz"))


def counter_strings() -> list[str]:
    """The strings the counters' reference covers: aⁿbⁿ for each of :data:`COUNTER_CHECKS`,
    then :data:`COUNTER_ODD_STRINGS`."""
    return [languages.string("anbn", n) for n in COUNTER_CHECKS] + list(COUNTER_ODD_STRINGS)


def write_counters(
    seeds: Sequence[counting.Seed], directory: Path | None = None, seed: int = 0
) -> Written:
    """Write the aⁿbⁿ counters of ``seeds`` with seed ``seed`` (one per cell) to
    :data:`COUNTERS_SCRIPT` in ``directory`` (default: the site's output directory), and
    their Python forward beside it."""
    payload, reference = {}, {}
    strings = counter_strings()
    for s in seeds:
        config = s.config
        if config.language != "anbn" or config.seed != seed:
            continue
        model, _ = tc.train(config)
        payload[config.name] = counter_payload(model, config, s.inside.unit)
        reference[f"{config.name}/strings"] = np.array(strings)
        n_max = max(COUNTER_CHECKS)
        reference[f"{config.name}/recognised"] = tc.recognition(model, config.language, n_max)
        for k, text in enumerate(strings):
            for record_name, values in counter_steps(model, text).items():
                reference[f"{config.name}/{k}/{record_name}"] = values
    if not payload:
        raise ValueError(f"no aⁿbⁿ counter with seed {seed} among the {len(seeds)} runs given")
    script = Path(directory or settings.output_dir()) / COUNTERS_SCRIPT
    size = write_script(script, payload)
    _write_reference(script.with_suffix(".npz"), reference)
    return Written(script, size, script.with_suffix(".npz"))
