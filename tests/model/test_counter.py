"""The counter: its sizes are the counting languages' alphabets, its config refuses bad
values with the reason, and it gives one logit per next symbol at every step."""

from __future__ import annotations

import pytest
import torch

from rnnreport.data import languages as L
from rnnreport.model import counter


def test_the_model_sizes_match_the_alphabet() -> None:
    assert len(L.INPUTS) == counter.SYMBOLS_IN
    assert len(L.OUTPUTS) == counter.SYMBOLS_OUT
    assert set(counter.LANGUAGE_NAMES) == set(L.LANGUAGES)


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"cell": "rnn"}, "cell must be 'lstm' or 'gru', not 'rnn'"),
        ({"language": "anbm"}, "language must be one of .* not 'anbm'"),
        ({"init": "xavier"}, "init must be one of .* not 'xavier'"),
        ({"units": 0}, "units must be"),
        ({"n_train": counter.MAX_N + 1}, "n_train must be"),
    ],
)
def test_bad_configs_are_refused_with_the_reason(change, says) -> None:
    with pytest.raises(ValueError, match="invalid CounterConfig: .*" + says):
        counter.CounterConfig(**change)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_one_logit_per_next_symbol_at_every_step(cell: str) -> None:
    torch.manual_seed(0)
    config = counter.CounterConfig(cell=cell, units=3)
    model = config.build()
    x = torch.eye(counter.SYMBOLS_IN)[torch.randint(0, counter.SYMBOLS_IN, (9, 2))]  # (T, B, 4)
    logits = model(x)
    assert logits.shape == (9, 2, counter.SYMBOLS_OUT)
    p = model.predict(x)
    assert torch.equal(p, torch.sigmoid(logits.detach()))
    assert not model.head.bias.any()  # TF1's dense layer starts with a zero bias
    assert config.name == f"{cell}-anbn-h3"
