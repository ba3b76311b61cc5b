"""Fixtures of the training tests: an empty cache for every test, MNIST read once,
and a stand-in for the data where only the cache key is computed."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from rnnreport.data import load_mnist
from rnnreport.training import counting, mnist


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Every test gets an empty cache (the compact MNIST is shared to keep tests fast) and
    computes the code's fingerprint afresh: one computed while a test patched the code
    would name other entries than the workers' and the next tests'."""
    monkeypatch.setenv("RNNREPORT_CACHE", str(tmp_path / "cache"))
    mnist.code_digest.cache_clear()
    counting.code_digest.cache_clear()
    yield tmp_path / "cache"
    mnist.code_digest.cache_clear()
    counting.code_digest.cache_clear()


@pytest.fixture(scope="session")
def data(tmp_path_factory):
    """MNIST through a compact cache of these tests' own, never the user's."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RNNREPORT_CACHE", str(tmp_path_factory.mktemp("data-cache")))
        mp.delenv("RNNREPORT_MNIST", raising=False)
        return load_mnist()


@dataclass(frozen=True)
class _Data:
    """Of the data, only the digest (:attr:`rnnreport.data.MNIST.digest`) of the view a
    config reads enters the key; these configs read the binarized pixels, this object."""

    digest: str

    def pixels(self, kind: str) -> _Data:
        assert kind == "binary", kind
        return self


@pytest.fixture
def fake_data() -> _Data:
    return _Data("a" * 64)
