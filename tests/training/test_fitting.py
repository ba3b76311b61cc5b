"""What every training goes through: an interrupted run resumes to the same result, and a
checkpoint that fails its check, or was kept for another config, is not resumed."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from rnnreport.model.classifier import ModelConfig
from rnnreport.training.mnist import cache_path, train, trained_model

from .helpers import TINY


def _interrupt_after(epoch: int, config, data) -> None:
    """Train ``config`` into the cache and stop it, as Ctrl-C would, after ``epoch``."""

    def stop(finished) -> None:
        if finished.epoch == epoch:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(config, data=data, on_epoch=stop)


def _flip_bytes_of(tensor: torch.Tensor, path: Path) -> None:
    """Flip a few bytes of ``tensor`` where it is stored in the file at ``path``."""
    raw = bytearray(path.read_bytes())
    stored = tensor.numpy().tobytes()
    at = raw.find(stored)
    assert at >= 0 and raw.find(stored, at + 1) < 0  # found, once
    for k in range(at + 8, at + 16):
        raw[k] ^= 0x10
    path.write_bytes(bytes(raw))


@pytest.mark.slow
def test_an_interrupted_run_resumes_to_the_same_result(data) -> None:
    config = ModelConfig(**{**TINY.__dict__, "epochs": 3})
    uninterrupted_model, uninterrupted = trained_model(config, data=data, use_cache=False)

    _interrupt_after(1, config, data)
    path = cache_path(config, data)
    assert not path.exists()  # nothing that looks valid
    assert path.with_suffix(".partial").exists()  # but the finished epoch is kept
    model, resumed = trained_model(config, data=data)
    assert resumed == uninterrupted
    for name, value in uninterrupted_model.state_dict().items():
        assert torch.equal(value, model.state_dict()[name]), name
    assert not path.with_suffix(".partial").exists()


@pytest.mark.slow
def test_a_corrupted_checkpoint_is_discarded_and_training_starts_over(data, capsys) -> None:
    config = replace(TINY, epochs=3)
    uninterrupted = train(config, data=data, use_cache=False)

    _interrupt_after(2, config, data)
    partial = cache_path(config, data).with_suffix(".partial")
    weights = torch.load(partial, weights_only=True)["content"]["model"]["rnn.cells.0.W"]
    _flip_bytes_of(weights, partial)
    capsys.readouterr()
    result = train(config, data=data)
    err = capsys.readouterr().err
    assert f"ignoring bad checkpoint {partial.name}: " in err and "checksum" in err
    assert "training from the start" in err and "resuming" not in err
    assert not result.cached and result == uninterrupted  # flipped weights did not leak in
    assert train(config, data=data).cached


def test_a_checkpoint_resumes_only_the_config_it_was_kept_for(data, capsys) -> None:
    """A checkpoint copied to another config's name (another lr) is not resumed there."""
    kept, other = replace(TINY, epochs=3), replace(TINY, epochs=3, lr=0.002)
    uninterrupted = train(other, data=data, use_cache=False)

    _interrupt_after(2, kept, data)
    source = cache_path(kept, data).with_suffix(".partial")
    target = cache_path(other, data).with_suffix(".partial")
    target.write_bytes(source.read_bytes())
    capsys.readouterr()
    result = train(other, data=data)
    err = capsys.readouterr().err
    assert f"ignoring bad checkpoint {target.name}: it was kept for {source.name}" in err
    assert "resuming" not in err and result == uninterrupted
