"""The fingerprint follows code, not files: moved code, comments, docstrings and hints
change nothing; a changed line or constant does; the real trainer's closure holds the code
that defines a model and not its display."""

from __future__ import annotations

import importlib
import sys
import textwrap
from pathlib import Path

from rnnreport.fingerprint import closure, fingerprint
from rnnreport.model.classifier import ModelConfig
from rnnreport.training import mnist
from rnnreport.training.progress import Progress

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
    roots = (ModelConfig, mnist.build_model, mnist._fit, mnist.evaluate)
    names = set(closure(roots, ignore=(Progress,)))
    for defining in (
        "rnnreport.model.cells.LSTMCell",
        "rnnreport.model.cells.GRUCell",
        "rnnreport.model.rnn.RNN",
        "rnnreport.model.rnn._unroll",
        "rnnreport.model.fast_forward.fold",
        "rnnreport.model.fast_forward.lstm_forward",
        "rnnreport.model.fast_forward.gru_forward",
        "rnnreport.model.fast_backward.LSTMThroughTime",
        "rnnreport.model.fast_backward.GRUThroughTime",
        "rnnreport.model.fast_backward._lstm_deltas",
        "rnnreport.model.compiled.rows",
        "rnnreport.model.classifier.Classifier",
        "rnnreport.model.classifier.build_model",
        "rnnreport.training.mnist._fit",
        "rnnreport.training.mnist.evaluate",
        "rnnreport.training.mnist:EVAL_BATCH",
    ):
        assert defining in names, defining
    assert "rnnreport.training.progress.Progress" not in names
    assert not any(".inspection." in name or ".experiments." in name for name in names)
