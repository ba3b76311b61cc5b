"""Training a counter: the model fits the alphabet, determinism, the cache, resuming, the
stopping rule and the key."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from rnnreport.data import languages as L
from rnnreport.model import counter
from rnnreport.model.counter import CounterConfig
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
