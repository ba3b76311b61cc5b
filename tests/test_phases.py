"""The phase profile replays the fast path's training step exactly, and splits its work right."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from rnnreport.bench import training_flops
from rnnreport.model import compiled
from rnnreport.model.classifier import ModelConfig, build_model
from rnnreport.phases import STEP_PHASES, Replay, lstm_phases, phase_flops
from rnnreport.training.fitting import adam

needs_kernel = pytest.mark.skipif(compiled.kernel() is None, reason="no compiled kernel here")

CONFIGS = [ModelConfig(cell="lstm", units=6, layers=3), ModelConfig(cell="lstm", units=5)]


@needs_kernel
@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.name)
def test_the_replay_is_the_models_training_step_bit_for_bit(config: ModelConfig) -> None:
    """The same gradients and, after two Adam steps, the same weights as the model's own
    step (forward, autograd backward through the fast path, Adam)."""
    g = torch.Generator().manual_seed(1)
    x = (torch.rand(9, 28, 28, generator=g) > 0.5).float()
    y = torch.randint(0, 10, (9,), generator=g)
    own, replayed = build_model(config), build_model(config)
    own_optimizer, replay = adam(own, lr=1e-2), Replay(replayed, adam(replayed, lr=1e-2))
    for _ in range(2):
        loss = F.cross_entropy(own(x), y, reduction="sum")
        own_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        own_optimizer.step()
        seconds = replay.step(x, y)
        assert set(seconds) == set(STEP_PHASES) and all(s > 0 for s in seconds.values())
        for (name, a), b in zip(own.named_parameters(), replayed.parameters(), strict=True):
            assert torch.equal(a.grad, b.grad), name
            assert torch.equal(a, b), name


@pytest.mark.parametrize("config", [*CONFIGS, ModelConfig(cell="lstm", units=128)])
def test_phase_flops_add_up_to_the_benchmarks_count(config: ModelConfig) -> None:
    flops = phase_flops(config, batch_size=7)
    assert set(flops) <= set(STEP_PHASES) and all(f > 0 for f in flops.values())
    assert sum(flops.values()) == training_flops(config, batch_size=7)


@needs_kernel
def test_the_profile_reports_every_phase() -> None:
    profile = lstm_phases(ModelConfig(cell="lstm", units=4), batch_size=8, warmup=0, repeats=2)
    assert set(profile.seconds) == set(STEP_PHASES)
    assert profile.replayed_s > 0 and profile.step_s > 0
    assert 0 < sum(profile.seconds.values()) <= profile.replayed_s  # each phase's fastest
    assert (
        profile.replayed_s <= profile.replayed_median_s and profile.step_s <= profile.step_median_s
    )
    table = profile.table(peak_gflops=50.0)
    assert all(phase in table for phase in STEP_PHASES) and "lstm-1x4" in table


def test_the_profile_is_of_the_lstm() -> None:
    with pytest.raises(ValueError, match="LSTM"):
        lstm_phases(ModelConfig(cell="gru"))
