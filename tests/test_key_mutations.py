"""The cache key misses nothing on the training path, proved by mutation.

For each trainer (MNIST classifiers, counters):
- every function, class and constant in its fingerprint's closure is mutated, one at a
  time, and the fingerprint must change;
- a real training is traced, and every function of the package it runs must be in the
  closure, or run inside code the key deliberately leaves out (:func:`trainer_code`'s
  ``ignored``, each with its reason there);
- every global the closure reads but cannot see is listed here with the reason it cannot
  change a result.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import inspect
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

import rnnreport
from rnnreport import fingerprint as fp
from rnnreport.data import mnist
from rnnreport.model import compiled
from rnnreport.model.classifier import ModelConfig
from rnnreport.model.counter import CounterConfig
from rnnreport.training import counting
from rnnreport.training import mnist as classifiers

PACKAGE_DIR = Path(rnnreport.__file__).parent

TRAINERS = {
    "mnist": lambda: classifiers.trainer_code(ModelConfig),
    "counting": counting.trainer_code,
    "data": mnist.preparation,  # part of the store's key and of the data's digest
}

UNSEEN = {
    "rnnreport.model.compiled:SOURCE": (
        "where the kernel's C source lies; its bytes are in the key (compiled_steps)"
    ),
}
"""Globals the training code reads that the fingerprint cannot see, and why each cannot
change a result."""


_getsource = functools.cache(inspect.getsource)


@pytest.fixture(autouse=True)
def _sources_read_once(monkeypatch):
    """The package's files do not change during a test: read each object's source once
    (a fingerprint reads about a hundred, each a parse of its whole module for a class)."""
    monkeypatch.setattr(inspect, "getsource", _getsource)


def _digest(trainer: str) -> str:
    roots, ignore = TRAINERS[trainer]()
    return fp.fingerprint(roots, ignore=ignore)


def _closure(trainer: str) -> dict[str, str]:
    roots, ignore = TRAINERS[trainer]()
    return fp.closure(roots, ignore=ignore)


def _entries() -> list[tuple[str, str]]:
    return [(t, name) for t in TRAINERS for name in sorted(_closure(t))]


def _mutant(value: object) -> object:
    """A value of the same kind that differs from ``value``."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float | complex | np.ndarray | np.generic | torch.Tensor):
        return value + 1
    if isinstance(value, str | bytes):
        return value + value[:0].__class__("~" if isinstance(value, str) else b"~")
    if value is None:
        return 0
    if isinstance(value, tuple | list):
        return type(value)([*value, "~"])
    if isinstance(value, frozenset | set):
        return type(value)({*value, "~"})
    if isinstance(value, dict):
        return {**value, "~": 0}
    if isinstance(value, torch.device):
        return torch.device("meta")
    if isinstance(value, torch.dtype):
        return torch.float16 if value != torch.float16 else torch.float32
    if dataclasses.is_dataclass(value):
        first = dataclasses.fields(value)[0].name
        return dataclasses.replace(value, **{first: _mutant(getattr(value, first))})
    raise TypeError(f"no mutation for {type(value).__name__}: teach _mutant one")


def _owner(qualified: str) -> tuple[object, str]:
    """The module and attribute of a closure entry ``module.Name`` or ``module:NAME``."""
    if ":" in qualified:
        module, name = qualified.split(":")
    else:
        module, _, name = qualified.rpartition(".")
        while module not in sys.modules:  # a nested qualname: module.Outer.Inner
            module, _, outer = module.rpartition(".")
            name = f"{outer}.{name}"
    return sys.modules[module], name


@pytest.mark.parametrize(("trainer", "entry"), _entries())
def test_each_name_on_the_training_path_is_in_the_key(trainer, entry, monkeypatch):
    before = _digest(trainer)
    module, name = _owner(entry)
    if ":" in entry:  # a constant: change its value wherever it is imported under its name
        value = getattr(module, name)
        mutant = _mutant(value)
        for other in list(sys.modules.values()):
            if getattr(other, "__name__", "").startswith("rnnreport") and (
                getattr(other, name, None) is value
            ):
                monkeypatch.setattr(other, name, mutant)
    else:  # code: one statement more in its body
        target = inspect.unwrap(_attribute(module, name))
        real = inspect.getsource

        def getsource(obj):
            if obj is not target:
                return real(obj)
            tree = ast.parse(textwrap.dedent(real(obj)))
            tree.body[0].body.append(ast.parse("__mutant__ = 1").body[0])
            return ast.unparse(tree)

        monkeypatch.setattr(inspect, "getsource", getsource)
    assert _digest(trainer) != before, f"{entry} changed and the {trainer} key did not"


def _attribute(module: object, dotted: str) -> object:
    for part in dotted.split("."):
        module = getattr(module, part)
    return module


@pytest.mark.parametrize("trainer", TRAINERS)
def test_every_global_the_key_cannot_see_is_harmless(trainer):
    roots, ignore = TRAINERS[trainer]()
    assert set(fp.unfollowed(roots, ignore=ignore)) <= set(UNSEEN)


def _trace(run, ignored: tuple[object, ...]) -> set[str]:
    """``module.qualname`` of every function of the package that ``run()`` runs, except
    those running inside ``ignored``."""
    skip = {
        inspect.unwrap(obj).__code__ for obj in ignored if hasattr(inspect.unwrap(obj), "__code__")
    }
    skip |= {
        f.__code__
        for obj in ignored
        if isinstance(obj, type)
        for f in vars(obj).values()
        if hasattr(f, "__code__")
    }
    ran: set[str] = set()

    def profile(frame, event, arg):
        if event != "call" or not frame.f_code.co_filename.startswith(str(PACKAGE_DIR)):
            return
        outer = frame
        while outer is not None:
            if outer.f_code in skip:
                return
            outer = outer.f_back
        module = frame.f_globals.get("__name__", "")
        ran.add(f"{module}.{frame.f_code.co_qualname}")

    sys.setprofile(profile)
    try:
        run()
    finally:
        sys.setprofile(None)
    return ran


def _covered(ran: str, closure: dict[str, str]) -> bool:
    """Whether the function ``ran`` (``module.qualname``) is in the closure: itself, or as
    a method, local function or comprehension of a class or function that is."""
    module_qualname = ran.replace(".<locals>", "").split(".<")[0]
    while module_qualname:
        if module_qualname in closure:
            return True
        module_qualname = module_qualname.rpartition(".")[0]
    return False


@pytest.mark.slow
@pytest.mark.parametrize("use_cache", [False, True])
def test_a_real_training_runs_only_code_in_the_key(use_cache, tmp_path, monkeypatch):
    """Without the cache, the compiled kernel is built or loaded inside the traced training;
    with it, the run also checkpoints after its epoch."""
    monkeypatch.setenv("RNNREPORT_CACHE", str(tmp_path))
    compiled._load.cache_clear()
    data = mnist.load_mnist()
    runs = {
        "mnist": lambda: classifiers.trained_model(
            ModelConfig(cell="lstm", units=8, epochs=1, limit=300, batch_size=100),
            data=data, progress="off", use_cache=use_cache,
        ),
        "counting": lambda: counting.train(
            CounterConfig(cell="gru", language="anbn", n_train=3, epochs=2), use_cache=use_cache
        ),
        "data": lambda: mnist.load_mnist(cache=use_cache).pixels("grey"),
    }  # fmt: skip
    for trainer, run in runs.items():
        roots, ignore = TRAINERS[trainer]()
        ran = _trace(run, ignore)
        closure = fp.closure(roots, ignore=ignore)
        assert ran and not {r for r in ran if not _covered(r, closure)}, trainer


@pytest.mark.slow
def test_the_key_does_not_depend_on_what_ran_before(tmp_path, monkeypatch):
    """No global the fingerprint reads changes while models train (a status line, say)."""
    monkeypatch.setenv("RNNREPORT_CACHE", str(tmp_path))
    before = {t: _digest(t) for t in TRAINERS}
    classifiers.trained_model(ModelConfig(cell="gru", units=8, epochs=1, limit=200), progress="off")
    counting.train(CounterConfig(cell="lstm", language="anbn", n_train=3, epochs=1))
    assert {t: _digest(t) for t in TRAINERS} == before


def _bindings(trainer: str) -> list[tuple[str, str, str]]:
    """``(trainer, module, name)`` for every global name that a function of the closure
    reads and that stands for another function of the closure."""
    roots, ignore = TRAINERS[trainer]()
    code = {}
    for entry in fp.closure(roots, ignore=ignore):
        if ":" not in entry:
            module, name = _owner(entry)
            obj = inspect.unwrap(_attribute(module, name))
            if inspect.isfunction(obj):
                code[id(obj)] = obj
    found = set()
    for function in code.values():
        namespace = function.__globals__
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
        for name in {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}:
            value = namespace.get(name)
            if inspect.isfunction(value) and id(inspect.unwrap(value)) in code:
                found.add((trainer, namespace["__name__"], name))
    return sorted(found)


@pytest.mark.parametrize(("trainer", "module", "name"), [b for t in TRAINERS for b in _bindings(t)])
def test_pointing_a_name_at_other_code_changes_the_key(trainer, module, name, monkeypatch):
    """The same code under other names is another program: a name that stands for one
    function of the closure, pointed at another (an import line edited), changes the key."""
    before = _digest(trainer)
    holder = sys.modules[module]
    others = [f for _, m, n in _bindings(trainer)
              if (f := getattr(sys.modules[m], n)) is not getattr(holder, name)]  # fmt: skip
    monkeypatch.setattr(holder, name, others[0])
    assert _digest(trainer) != before, f"{module}.{name} re-pointed and the key did not change"
