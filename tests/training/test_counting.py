"""Training a counter: the model fits the alphabet, determinism, the cache, resuming, the
stopping rule and the key."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from rnnreport.data import languages as L
from rnnreport.experiments import regimes
from rnnreport.model import counter
from rnnreport.model.counter import CounterConfig
from rnnreport.settings import BUDGETS
from rnnreport.training import counting as tc


def test_the_model_sizes_match_the_alphabet() -> None:
    assert len(L.INPUTS) == counter.SYMBOLS_IN
    assert len(L.OUTPUTS) == counter.SYMBOLS_OUT
    assert set(counter.LANGUAGE_NAMES) == set(L.LANGUAGES)


TINY = CounterConfig(cell="gru", units=3, n_train=3, n_test=6, epochs=12, patience=100)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNREPORT_CACHE", str(tmp_path))
    return tmp_path


def _weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_same_config_same_weights(cache) -> None:
    a, result_a = tc.train(TINY, use_cache=False)
    b, result_b = tc.train(TINY, use_cache=False)
    assert _same(_weights(a), _weights(b)) and result_a == result_b
    c, _ = tc.train(replace(TINY, seed=1), use_cache=False)
    assert not _same(_weights(a), _weights(c))
    assert len(result_a.history) == TINY.epochs  # the cap: patience was never reached


def test_second_call_comes_from_the_cache(cache) -> None:
    model, result = tc.train(TINY)
    assert not result.cached and tc.cache_path(TINY).exists()
    assert str(tc.cache_path(TINY)).startswith(str(cache))
    again, cached = tc.train(TINY)
    assert cached.cached and cached == result
    assert _same(_weights(model), _weights(again))


def test_an_interrupted_training_resumes(cache) -> None:
    whole, _ = tc.train(TINY, use_cache=False)

    def stop(epoch) -> None:
        if epoch.epoch == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        tc.train(TINY, on_epoch=stop)
    assert tc.cache_path(TINY).with_suffix(".partial").exists()
    resumed, result = tc.train(TINY)
    assert _same(_weights(whole), _weights(resumed)) and len(result.history) == TINY.epochs


def test_training_stops_by_the_rule() -> None:
    history = [tc.Epoch(e, 0.1, 0.1, 1.0 if e > 3 else 0.5, 0.0) for e in range(1, 7)]
    assert tc._learned(history, 3) and not tc._learned(history[:5], 3)
    assert not tc._learned(history, 4)


def test_the_key_covers_the_config_and_the_data() -> None:
    a = tc.cache_key(TINY, tc.training_strings(TINY))
    b = tc.cache_key(replace(TINY, language="anbncn"), tc.training_strings(TINY))
    assert a["config"] != b["config"]
    assert a["data"] != tc.training_strings(replace(TINY, n_train=4)).digest


# -- the regimes' choices reach the trainer ----------------------------------------------------

DRAWN = replace(
    TINY,
    cell="lstm",
    n_train=6,
    samples=40,
    lengths="u-shaped",
    loss="mse",
    optimizer="rmsprop",
    batch_size=1,
    epochs=6,
)


@pytest.mark.parametrize("regime", regimes.regimes(BUDGETS["full"]), ids=lambda r: r.name)
def test_a_regimes_config_reaches_the_trainer_unchanged(regime, monkeypatch) -> None:
    configs = regime.configs(BUDGETS["full"])
    tasks = {t.language: t for t in regime.tasks}
    for c in configs:  # every choice the regime states, in every config it makes
        assert (c.units, c.lengths, c.samples, c.loss, c.optimizer) == (
            regime.units,
            regime.lengths,
            regime.samples,
            regime.loss,
            regime.optimizer,
        )
        assert (c.lr, c.batch_size, c.epochs, c.patience) == (
            regime.lr,
            regime.batch_size,
            regime.epochs,
            regime.patience,
        )
        assert c.n_train == tasks[c.language].n_train and c.cell in tasks[c.language].seeds
    # the trainer's loop receives the config itself, and the strings it names
    config = replace(
        configs[0], n_train=min(configs[0].n_train, 6), samples=configs[0].samples and 30
    )
    seen = {}

    def spy(config, data, run, after_epoch):
        seen.update(config=config, data=data, optimizer=tc._optimizer(config, run), model=run.model)
        raise KeyboardInterrupt  # enough: what the loop was given

    monkeypatch.setattr(tc, "_fit", spy)
    with pytest.raises(KeyboardInterrupt):
        tc.train(config, use_cache=False)
    assert seen["config"] is config
    assert seen["model"].head.in_features == config.units
    optimizer = seen["optimizer"]
    assert type(optimizer).__name__.lower() == config.optimizer
    assert optimizer.param_groups[0]["lr"] == config.lr
    n = seen["data"].n
    assert n.min() >= 1 and n.max() <= config.n_train
    if config.lengths == "each":
        assert n.tolist() == list(range(1, config.n_train + 1))
    else:
        assert len(n) == config.samples


def test_the_drawn_training_strings_follow_the_config() -> None:
    data = tc.training_strings(DRAWN)
    assert len(data.n) == DRAWN.samples and set(data.n) <= set(range(1, 7))
    assert np.mean((data.n == 1) | (data.n == 6)) > 0.4  # U-shaped: most at the two ends
    other = tc.training_strings(replace(DRAWN, seed=1))  # drawn from the seed
    assert data.digest != other.digest


def test_the_loss_the_config_names() -> None:
    torch.manual_seed(0)
    data = L.strings("anbn", 3)
    x, y, mask = (torch.from_numpy(a) for a in (data.x, data.y, data.mask))
    logits = torch.randn(y.shape)
    squared = ((torch.sigmoid(logits) - y) ** 2).sum(-1)[mask].sum()  # by hand
    p = torch.sigmoid(logits)
    cross = -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).sum(-1)[mask].sum()
    assert tc._loss(logits, y, mask, "mse").item() == pytest.approx(squared.item(), rel=1e-5)
    assert tc._loss(logits, y, mask, "bce").item() == pytest.approx(cross.item(), rel=1e-5)
    a, _ = tc.train(replace(DRAWN, epochs=2), use_cache=False)
    b, _ = tc.train(replace(DRAWN, epochs=2, loss="bce"), use_cache=False)
    assert not _same(_weights(a), _weights(b))


def test_an_rmsprop_training_resumes_bit_for_bit(cache) -> None:
    whole, whole_result = tc.train(DRAWN, use_cache=False)

    def stop(epoch) -> None:
        if epoch.epoch == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        tc.train(DRAWN, on_epoch=stop)
    resumed, result = tc.train(DRAWN)
    assert _same(_weights(whole), _weights(resumed))
    losses = lambda r: [(e.train_loss, e.valid_loss, e.valid_accuracy) for e in r.history]  # noqa: E731
    assert losses(result) == losses(whole_result) and not result.cached
