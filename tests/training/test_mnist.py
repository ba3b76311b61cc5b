"""The MNIST task: determinism, metrics, the cache key and its inputs, divergence, and the
config fields that reach the fit."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

import numpy as np
import pytest
import torch

from rnnreport.cli import main
from rnnreport.model.classifier import TRAIN_SEQUENCES, ModelConfig, build_model
from rnnreport.model.whole_image import BaselineConfig
from rnnreport.training import fitting, mnist
from rnnreport.training.mnist import (
    cache_path,
    code_digest,
    load_cached,
    train,
    trained_model,
)
from rnnreport.training.records import TrainingDiverged

from .helpers import CONFIG, TINY


def _weights(model) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


@pytest.mark.slow
def test_same_config_same_weights_and_metrics(data) -> None:
    first_model, first = trained_model(TINY, data=data, use_cache=False)
    second_model, second = trained_model(TINY, data=data, use_cache=False)
    assert first == second  # every metric, epoch by epoch (wall times excluded)
    for name, value in _weights(first_model).items():
        assert torch.equal(value, second_model.state_dict()[name]), name
    other = train(ModelConfig(**{**TINY.__dict__, "seed": 1}), data=data, use_cache=False)
    assert other.test_loss_sum != first.test_loss_sum


@pytest.mark.slow
def test_metrics_are_consistent(data) -> None:
    result = train(TINY, data=data, use_cache=False)
    assert len(result.history) == TINY.epochs
    assert result.test_loss == pytest.approx(result.test_loss_sum / len(data.test.y))
    assert 0.0 <= result.test_accuracy <= 1.0
    H = TINY.units
    embed, gru, fc1, fc2 = 28 * H + H, 2 * H * 3 * H + 3 * H, H * 64 + 64, 64 * 10 + 10
    assert result.params == embed + gru + fc1 + fc2
    assert result.history[-1].train_loss < result.history[0].train_loss


@pytest.mark.slow
def test_cache_reuses_the_stored_result(data) -> None:
    trained = train(TINY, data=data)
    assert not trained.cached and cache_path(TINY, data).exists()
    model, again = trained_model(TINY, data=data)
    assert again.cached and again == trained
    assert not model.training
    cached = load_cached(TINY, data)
    assert cached is not None and cached[1] == trained


@pytest.mark.slow
def test_each_input_of_the_key_retrains(data) -> None:
    """Change what determines a trained model, one thing at a time: each is trained anew."""
    config = ModelConfig(cell="gru", units=4, epochs=1, limit=256)
    first = train(config, data=data, progress="off")
    assert train(config, data=data).cached
    changes = {
        "a constant of training/mnist.py": (mnist, "EVAL_BATCH", mnist.EVAL_BATCH // 2),
        "the torch version": (torch, "__version__", "2.99.0"),
        "the numpy version": (np, "__version__", "9.9.9"),
        "the device": (torch.backends.cpu, "get_cpu_capability", lambda: "DEFAULT"),
    }
    for what, (owner, name, value) in changes.items():
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(owner, name, value)
            code_digest.cache_clear()
            again = train(config, data=data, progress="off")
            assert not again.cached, what
            assert again.test_loss_sum == pytest.approx(first.test_loss_sum), what
    code_digest.cache_clear()
    assert not train(replace(config, units=5), data=data, progress="off").cached
    assert not train(config, data=replace(data, digest="0" * 64), progress="off").cached
    assert train(config, data=data).cached  # all back as it was: the first entry again


@dataclass(frozen=True)
class _Exploding(BaselineConfig):
    """Softmax regression whose first logit is NaN: every loss is NaN."""

    def build(self) -> torch.nn.Module:
        model = super().build()
        with torch.no_grad():
            model.out.bias[0] = float("nan")
        return model


@pytest.mark.slow
def test_a_diverged_training_says_so_and_is_not_cached(data) -> None:
    config = _Exploding(epochs=2, limit=256)
    with pytest.raises(TrainingDiverged, match=r"softmax seed 0 diverged: .* nan in epoch 1"):
        train(config, data=data)
    path = cache_path(config, data)
    assert not path.exists() and not path.with_suffix(".partial").exists()


@pytest.mark.slow
def test_ablation_fields_reach_the_trainer(data, monkeypatch, capsys) -> None:
    """loss="mean" divides every gradient by the batch size; pixels="grey" trains and tests on
    grey values under a cache key of their own; the CLI passes the fields through."""
    first_grads: dict[str, list[torch.Tensor]] = {}
    step = torch.optim.Adam.step

    def recording_step(self, *args, **kwargs):
        first_grads.setdefault(recording, [p.grad.clone() for p in self.param_groups[0]["params"]])
        return step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", recording_step)
    base = ModelConfig(cell="lstm", units=8, epochs=1, limit=256, batch_size=128)
    for recording in ("sum", "mean"):
        train(replace(base, loss=recording), data=data, use_cache=False)
    for summed, averaged in zip(first_grads["sum"], first_grads["mean"], strict=True):
        torch.testing.assert_close(summed / 128, averaged, rtol=1e-5, atol=1e-9)

    inputs: list[torch.Tensor] = []
    build = fitting.build_model

    def recording_build(config):
        model = build(config)
        model.register_forward_pre_hook(lambda m, args: inputs.append(args[0].detach()))
        return model

    monkeypatch.setattr(fitting, "build_model", recording_build)
    grey = replace(base, pixels="grey")
    result = train(grey, data=data)
    seen = torch.cat([x.flatten() for x in inputs])
    assert seen.min() >= 0 and seen.max() <= 1 and ((seen > 0) & (seen < 1)).any()
    assert cache_path(grey, data) != cache_path(base, data)
    assert grey.name in cache_path(grey, data).name and train(grey, data=data).cached
    assert result.test_loss_sum != train(base, data=data, use_cache=False).test_loss_sum

    args = ["train", "--cell", "lstm", "--units", "8", "--epochs", "1", "--limit", "256"]
    assert main([*args, "--batch-norm", "head", "--loss", "mean", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["name"] == "lstm-1x8-bn-head-mean"
    assert printed["config"]["batch_norm"] == "head" and printed["config"]["loss"] == "mean"
    assert main([*args, "--gate-bias", "0"]) == 2
    assert "gate_bias only applies to the GRU" in capsys.readouterr().err


# -- the cache key, computed and not used: no training -------------------------------------


def test_the_key_is_stable(fake_data) -> None:
    assert cache_path(CONFIG, fake_data) == cache_path(replace(CONFIG), fake_data)
    assert cache_path(CONFIG, fake_data) == cache_path(CONFIG, fake_data, "cpu")


def _sgd(config, device):  # as if the optimiser in fitting.py had been edited
    model = build_model(config).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr)
    return model, optimizer, torch.Generator().manual_seed(config.seed)


_CHANGES = {  # each input of the key, changed in turn: (object, attribute, new value)
    "the optimiser in training/fitting.py": (fitting, "fresh", _sgd),
    "a constant the training reads": (mnist, "EVAL_BATCH", mnist.EVAL_BATCH + 1),
    "the torch version": (torch, "__version__", "2.99.0"),
    "the numpy version": (np, "__version__", "9.9.9"),
    "the CPU's instruction set": (torch.backends.cpu, "get_cpu_capability", lambda: "DEFAULT"),
}


def test_the_key_changes_with_each_input(fake_data) -> None:
    before = cache_path(CONFIG, fake_data).name
    assert cache_path(replace(CONFIG, units=9), fake_data).name != before
    assert cache_path(CONFIG, replace(fake_data, digest="b" * 64)).name != before
    for what, (owner, name, value) in _CHANGES.items():
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(owner, name, value)
            code_digest.cache_clear()
            assert cache_path(CONFIG, fake_data).name != before, what
    code_digest.cache_clear()
    assert cache_path(CONFIG, fake_data).name == before  # everything back: the same key


def test_model_code_changes_only_the_keys_it_defines(fake_data, monkeypatch) -> None:
    recurrent = cache_path(CONFIG, fake_data)
    baseline = cache_path(BaselineConfig(limit=256), fake_data)
    from rnnreport.model import rnn

    monkeypatch.setattr(rnn, "_unroll", _sgd)  # any other function: an edited unroll
    code_digest.cache_clear()
    assert cache_path(CONFIG, fake_data) != recurrent
    assert cache_path(BaselineConfig(limit=256), fake_data) == baseline


@pytest.mark.parametrize("config_class", [ModelConfig, BaselineConfig])
def test_a_limit_of_all_the_data_is_no_limit(config_class, fake_data) -> None:
    everything = config_class(limit=TRAIN_SEQUENCES)
    assert everything == config_class() and everything.limit is None
    assert cache_path(everything, fake_data) == cache_path(config_class(), fake_data)
    with pytest.raises(ValueError, match="limit must be at most 55,000"):
        config_class(limit=TRAIN_SEQUENCES + 1)


def test_the_limit_bound_is_the_training_split() -> None:
    from rnnreport.data import N_TRAIN_OFFICIAL, N_VALID

    assert TRAIN_SEQUENCES == N_TRAIN_OFFICIAL - N_VALID
