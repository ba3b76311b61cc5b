"""The cache key: it changes with everything that determines a trained model, and only then.

No training here: the key is computed, not used (``tests/test_train.py`` sees the retrains).
"""

from __future__ import annotations

import importlib
import sys
import textwrap
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest
import torch

from rnnreport import train as train_module
from rnnreport.fingerprint import closure, fingerprint
from rnnreport.model.classifier import TRAIN_SEQUENCES, ModelConfig
from rnnreport.model.whole_image import BaselineConfig
from rnnreport.train import cache_path, code_digest

CONFIG = ModelConfig(cell="gru", units=8, epochs=1, limit=256)

ROOT = '''
SCALE = 3  # a constant the code reads: it enters by value


def root(x):
    """The function a fingerprint starts from."""
    return helper(x) * SCALE
'''
HELPER = """
def helper(x):
    return x + 1
"""


def _package(tmp_path: Path, name: str, files: dict[str, str]):
    """Write a package ``name`` with ``files`` and import its ``a`` module."""
    root = tmp_path / name
    root.mkdir()
    for file, text in {"__init__.py": "", **files}.items():
        (root / file).write_text(textwrap.dedent(text))
    sys.path.insert(0, str(tmp_path))
    try:
        return importlib.import_module(f"{name}.a")
    finally:
        sys.path.remove(str(tmp_path))


def _print(tmp_path: Path, name: str, files: dict[str, str]) -> str:
    module = _package(tmp_path, name, files)
    return fingerprint([module.root], package=name)


def test_fingerprint_follows_code_not_files(tmp_path) -> None:
    one_module = _print(tmp_path, "fp_one", {"a.py": HELPER + ROOT})
    # helper moved to another module, its comments and docstrings edited, blank lines added
    moved = _print(
        tmp_path,
        "fp_moved",
        {
            "a.py": "from .b import helper  # moved\n" + ROOT.replace("from", "\n\nfrom"),
            "b.py": '"""Helpers."""\n\n\n' + HELPER.replace("):", '):\n    """Add one."""'),
        },
    )
    assert moved == one_module
    # type hints change nothing either
    hinted = _print(tmp_path, "fp_hints", {"a.py": HELPER.replace("(x)", "(x: int) -> int") + ROOT})
    assert hinted == one_module
    # a changed line of code, in a function reached only through another, changes it
    edited = _print(tmp_path, "fp_edit", {"a.py": HELPER.replace("+ 1", "+ 2") + ROOT})
    assert edited != one_module
    # and so does a changed constant
    scaled = _print(tmp_path, "fp_const", {"a.py": HELPER + ROOT.replace("= 3", "= 4")})
    assert scaled != one_module


def test_fingerprint_ignores_what_the_code_does_not_use(tmp_path) -> None:
    base = _print(tmp_path, "fp_base", {"a.py": HELPER + ROOT})
    extra = "\n\ndef unused():\n    return 0\n\nOTHER = 5\n"
    assert _print(tmp_path, "fp_extra", {"a.py": HELPER + ROOT + extra}) == base


def test_the_closure_holds_the_defining_code_and_not_the_display() -> None:
    roots = (ModelConfig, train_module.build_model, train_module._fit, train_module.evaluate)
    names = set(closure(roots, ignore=(train_module._Progress,)))
    for defining in (
        "rnnreport.model.cells.LSTMCell",
        "rnnreport.model.cells.GRUCell",
        "rnnreport.model.rnn.RNN",
        "rnnreport.model.rnn._unroll",
        "rnnreport.model.fast_forward.fold",
        "rnnreport.model.fast_forward._lstm_forward",
        "rnnreport.model.fast_forward._gru_forward",
        "rnnreport.model.fast_backward._LSTMThroughTime",
        "rnnreport.model.fast_backward._GRUThroughTime",
        "rnnreport.model.fast_backward._lstm_deltas",
        "rnnreport.model.compiled.rows",
        "rnnreport.model.classifier.Classifier",
        "rnnreport.model.classifier.build_model",
        "rnnreport.train._fit",
        "rnnreport.train.evaluate",
        "rnnreport.train:EVAL_BATCH",
    ):
        assert defining in names, defining
    assert "rnnreport.train._Progress" not in names
    assert not any(".inspection." in name or ".experiments." in name for name in names)


@dataclass(frozen=True)
class _Data:
    """Of the data, only the digest (:attr:`rnnreport.data.MNIST.digest`) of the view a
    config reads enters the key; these configs read the binarized pixels, this object."""

    digest: str

    def pixels(self, kind: str) -> _Data:
        assert kind == "binary", kind
        return self


@pytest.fixture
def data() -> _Data:
    return _Data("a" * 64)


@pytest.fixture(autouse=True)
def fresh_fingerprints(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNREPORT_CACHE", str(tmp_path / "cache"))
    code_digest.cache_clear()
    yield
    code_digest.cache_clear()


def test_the_key_is_stable(data) -> None:
    assert cache_path(CONFIG, data) == cache_path(replace(CONFIG), data)
    assert cache_path(CONFIG, data) == cache_path(CONFIG, data, "cpu")


def _sgd(config, device):  # as if the optimiser in train.py had been edited
    model = train_module.build_model(config).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr)
    return model, optimizer, torch.Generator().manual_seed(config.seed)


_CHANGES = {  # each input of the key, changed in turn: (object, attribute, new value)
    "the optimiser in train.py": (train_module, "_fresh", _sgd),
    "a constant the training reads": (train_module, "EVAL_BATCH", train_module.EVAL_BATCH + 1),
    "the torch version": (torch, "__version__", "2.99.0"),
    "the numpy version": (np, "__version__", "9.9.9"),
    "the CPU's instruction set": (torch.backends.cpu, "get_cpu_capability", lambda: "DEFAULT"),
}


def test_the_key_changes_with_each_input(data) -> None:
    before = cache_path(CONFIG, data).name
    assert cache_path(replace(CONFIG, units=9), data).name != before
    assert cache_path(CONFIG, replace(data, digest="b" * 64)).name != before
    for what, (owner, name, value) in _CHANGES.items():
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(owner, name, value)
            code_digest.cache_clear()
            assert cache_path(CONFIG, data).name != before, what
    code_digest.cache_clear()
    assert cache_path(CONFIG, data).name == before  # everything back: the same key


def test_a_gpu_trained_model_is_not_the_cpu_one(data, monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "NVIDIA H100")
    cpu, gpu = cache_path(CONFIG, data, "cpu"), cache_path(CONFIG, data, "cuda")
    assert cpu != gpu
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "NVIDIA A100")
    a100 = cache_path(CONFIG, data, "cuda")
    assert a100 != gpu
    # the same GPU with other libraries under the same torch release: another key
    monkeypatch.setattr(torch.version, "cuda", "0.0-other")
    other_cuda = cache_path(CONFIG, data, "cuda")
    assert other_cuda != a100
    monkeypatch.setattr(torch.backends.cudnn, "version", lambda: -1)
    assert cache_path(CONFIG, data, "cuda") != other_cuda


def test_model_code_changes_only_the_keys_it_defines(data, monkeypatch) -> None:
    recurrent, baseline = cache_path(CONFIG, data), cache_path(BaselineConfig(limit=256), data)
    from rnnreport.model import rnn

    monkeypatch.setattr(rnn, "_unroll", _sgd)  # any other function: an edited unroll
    code_digest.cache_clear()
    assert cache_path(CONFIG, data) != recurrent
    assert cache_path(BaselineConfig(limit=256), data) == baseline


@pytest.mark.parametrize("config_class", [ModelConfig, BaselineConfig])
def test_a_limit_of_all_the_data_is_no_limit(config_class, data) -> None:
    everything = config_class(limit=TRAIN_SEQUENCES)
    assert everything == config_class() and everything.limit is None
    assert cache_path(everything, data) == cache_path(config_class(), data)
    with pytest.raises(ValueError, match="limit must be at most 55,000"):
        config_class(limit=TRAIN_SEQUENCES + 1)


def test_the_limit_bound_is_the_training_split() -> None:
    from rnnreport.data import N_TRAIN_OFFICIAL, N_VALID

    assert TRAIN_SEQUENCES == N_TRAIN_OFFICIAL - N_VALID
