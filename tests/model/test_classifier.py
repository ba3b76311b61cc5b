"""The assignment's classifier and its config, and the fields the ablations vary: at their
defaults nothing changes; each does one thing, has its own name and enters the key.

The witness for "nothing changes" is the assignment's model written out here by hand
(embed, RNN, FC 64, FC 10, TF1's dense initialisation, in that order from one seed): the
default config must give the same parameters, buffers and outputs, bit for bit. (The
embedding reaches the RNN as its ``input_map``, which the fast path folds into the first
layer: the witness rounds as the classifier does.)
"""

from __future__ import annotations

from dataclasses import fields, replace

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from rnnreport.model.cells import glorot_uniform_
from rnnreport.model.classifier import (
    BATCH_NORMS,
    HEAD_UNITS,
    Classifier,
    ModelConfig,
    build_model,
)
from rnnreport.model.rnn import RNN

ABLATION_FIELDS = ("forget_bias", "gate_bias", "batch_norm", "loss", "pixels")


def _images(n: int = 16, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n, 28, 28, generator=g) < 0.3).to(torch.uint8)


class _Assignment(nn.Module):
    """The assignment's model, nothing else: no field the ablations vary."""

    def __init__(self, cell: str, units: int, layers: int, reset: str) -> None:
        super().__init__()
        self.embed = nn.Linear(28, units)
        kwargs = {"reset": reset} if cell == "gru" else {}
        self.rnn = RNN(cell, units, units, layers, init="tf1", **kwargs)
        self.fc1 = nn.Linear(units, 64)
        self.fc2 = nn.Linear(64, 10)
        for dense in (self.embed, self.fc1, self.fc2):
            glorot_uniform_(dense.weight, dense.in_features, dense.out_features)
            nn.init.zeros_(dense.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y, _ = self.rnn(x.transpose(0, 1).float(), input_map=self.embed)  # embed, folded
        return self.fc2(F.relu(self.fc1(F.relu(y[-1]))))


@pytest.mark.parametrize(
    ("cell", "layers", "reset"), [("lstm", 1, "before"), ("gru", 1, "before"), ("gru", 2, "after")]
)
def test_the_default_config_computes_the_assignments_model(cell, layers, reset) -> None:
    config = ModelConfig(cell=cell, units=6, layers=layers, reset=reset, seed=4)
    ours = build_model(config)
    torch.manual_seed(config.seed)
    witness = _Assignment(cell, 6, layers, reset)
    assert ours.state_dict().keys() == witness.state_dict().keys()  # no other module, no buffer
    for name, value in witness.state_dict().items():
        assert torch.equal(ours.state_dict()[name], value), name
    x = _images()
    for mode in (True, False):
        ours.train(mode)
        assert torch.equal(ours(x), witness(x))


def test_default_names_are_the_grids_and_every_field_change_has_its_own() -> None:
    assert ModelConfig(cell="gru", units=32).name == "gru-1x32"
    assert ModelConfig(cell="lstm", units=32).name == "lstm-1x32"
    assert ModelConfig(cell="gru", units=32, reset="after").name == "gru-1x32-after"
    changes = {
        "lstm": [
            {"init": "torch"},
            {"forget_bias": 0.0},
            {"forget_bias": 2.0},
            *({"batch_norm": where} for where in BATCH_NORMS[1:]),
            {"loss": "mean"},
            {"pixels": "grey"},
        ],
        "gru": [{"gate_bias": 0.0}, {"reset": "after"}, {"init": "torch"}],
    }
    names = [
        ModelConfig(cell=cell, units=32, **change).name
        for cell, options in changes.items()
        for change in [{}, *options]
    ]
    assert len(set(names)) == len(names), names
    assert ModelConfig(cell="lstm", units=32, batch_norm="head").name == "lstm-1x32-bn-head"
    assert ModelConfig(cell="lstm", units=32, forget_bias=0.0).name == "lstm-1x32-fb0"
    assert ModelConfig(cell="gru", units=32, gate_bias=0.0).name == "gru-1x32-gb0"
    assert ModelConfig(cell="gru", units=32, init="torch").name == "gru-1x32-init-torch"
    assert (
        ModelConfig(cell="gru", units=32, loss="mean", pixels="grey").name == "gru-1x32-mean-grey"
    )


def test_every_new_field_enters_the_key() -> None:
    base = ModelConfig(cell="lstm", units=8)
    assert [f.name for f in fields(ModelConfig)][-len(ABLATION_FIELDS) :] == list(ABLATION_FIELDS)
    keys = {
        replace(base, **change).key
        for change in (
            {},
            {"forget_bias": 0.0},
            {"batch_norm": "head"},
            {"loss": "mean"},
            {"pixels": "grey"},
        )
    }
    assert len(keys) == 5
    assert replace(ModelConfig(cell="gru", units=8), gate_bias=0.0).key != base.key


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"cell": "gru", "forget_bias": 0.0}, "forget_bias only applies to the LSTM"),
        ({"cell": "lstm", "gate_bias": 0.0}, "gate_bias only applies to the GRU"),
        ({"batch_norm": "everywhere"}, "batch_norm must be one of"),
        ({"loss": "median"}, "loss must be one of"),
        ({"pixels": "colour"}, "pixels must be one of"),
        ({"cell": "lstm", "forget_bias": float("nan")}, "finite"),
    ],
)
def test_bad_values_are_refused_with_the_reason(change, says) -> None:
    with pytest.raises(ValueError, match=says):
        ModelConfig(**change)


def test_forget_bias_changes_the_constant_and_nothing_drawn() -> None:
    default = build_model(ModelConfig(cell="lstm", units=5, seed=2))
    zero = build_model(ModelConfig(cell="lstm", units=5, seed=2, forget_bias=0.0))
    assert default.rnn.cells[0].forget_bias == 1.0 and zero.rnn.cells[0].forget_bias == 0.0
    for name, value in default.state_dict().items():
        assert torch.equal(zero.state_dict()[name], value), name
    assert not torch.equal(default(_images()), zero(_images()))


def test_gate_bias_sets_the_z_and_r_biases_and_nothing_else() -> None:
    H = 5
    default = build_model(ModelConfig(cell="gru", units=H, layers=2, seed=2))
    zero = build_model(ModelConfig(cell="gru", units=H, layers=2, seed=2, gate_bias=0.0))
    for l in range(2):
        assert torch.equal(default.rnn.cells[l].b[: 2 * H], torch.ones(2 * H))  # TF1: 1
        assert torch.equal(zero.rnn.cells[l].b[: 2 * H], torch.zeros(2 * H))
    for name, value in default.state_dict().items():
        if not name.endswith(".b"):
            assert torch.equal(zero.state_dict()[name], value), name
        else:
            assert torch.equal(zero.state_dict()[name][2 * H :], value[2 * H :]), name


@pytest.mark.parametrize("where", BATCH_NORMS)
def test_batch_norm_sits_only_where_asked(where) -> None:
    H = 6
    model = Classifier(ModelConfig(cell="gru", units=H, batch_norm=where))
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm1d)]
    if where == "none":
        assert norms == [] and model.norm is None
        return
    (norm,) = norms
    assert norm.num_features == {"input": H, "output": H, "head": HEAD_UNITS}[where]
    # the module sees what it should: record its input's shape in a forward pass
    seen = []
    handle = norm.register_forward_hook(lambda m, args, out: seen.append(tuple(args[0].shape)))
    model(_images(n=4))
    handle.remove()
    assert seen == [{"input": (28 * 4, H), "output": (4, H), "head": (4, HEAD_UNITS)}[where]]


@pytest.mark.parametrize("where", BATCH_NORMS[1:])
def test_batch_norm_uses_the_batch_in_training_and_running_statistics_in_eval(where) -> None:
    torch.manual_seed(0)
    model = Classifier(ModelConfig(cell="lstm", units=6, batch_norm=where))
    x = _images(n=12)
    model.train()
    before = model.norm.running_mean.clone()
    together = model(x)[:4]
    alone = model(x[:4])
    assert not torch.allclose(together, alone)  # training: each sample depends on its batch
    assert not torch.equal(model.norm.running_mean, before)  # and the running mean moves
    model.eval()
    frozen = model.norm.running_mean.clone()
    assert torch.allclose(model(x)[:4], model(x[:4]), atol=1e-6)  # eval: running statistics
    assert torch.equal(model.norm.running_mean, frozen)


@pytest.mark.parametrize("where", BATCH_NORMS)
def test_every_step_readout_works_with_batch_norm(where) -> None:
    torch.manual_seed(1)
    model = Classifier(ModelConfig(cell="gru", units=5, batch_norm=where)).eval()
    x = _images(n=3)
    with torch.no_grad():
        steps = model(x, every_step=True)
        assert steps.shape == (28, 3, 10)
        torch.testing.assert_close(steps[-1], model(x))  # the last step is the usual readout


def test_a_bias_given_as_an_int_is_the_same_config_as_its_float() -> None:
    from rnnreport.model.classifier import ModelConfig

    assert (
        ModelConfig(cell="lstm", forget_bias=0).key == ModelConfig(cell="lstm", forget_bias=0.0).key
    )
    assert ModelConfig(cell="gru", gate_bias=1).name == ModelConfig(cell="gru", gate_bias=1.0).name
    with pytest.raises(ValueError, match="forget_bias must be a finite number .* not 'x'"):
        ModelConfig(cell="lstm", forget_bias="x")


def test_the_pixel_views_a_config_names_are_the_data_views() -> None:
    """``model`` may not import ``data``: the two lists of views are kept equal here."""
    from rnnreport.data import VIEWS
    from rnnreport.model.classifier import PIXELS_KINDS

    assert PIXELS_KINDS == VIEWS
