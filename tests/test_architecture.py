"""The package's import rules (README, "Architecture"): lower parts never import higher ones."""

from __future__ import annotations

import ast
from pathlib import Path

import rnnreport

PACKAGE = Path(rnnreport.__file__).parent

ALLOWED = {
    "settings": set(),
    "model": {"model"},
    "inspection": {"inspection", "model", "settings"},
    "theory": {"theory", "model", "inspection"},
    "data": {"settings"},
    "languages": {"settings"},
    "fingerprint": set(),
    "train": {"settings", "model", "data", "fingerprint"},
    "train_counting": {"settings", "model", "languages", "fingerprint", "train"},
    "experiments": {
        "experiments",
        "settings",
        "model",
        "inspection",
        "data",
        "languages",
        "train",
        "train_counting",
    },
}
"""Which parts each part may import; parts not listed (``bench``, ``cli``) may import any."""
TOP = {"bench", "cli", "__main__", "__init__"}


def _part(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def _imported_parts(module: tuple[str, ...], source: str) -> set[str]:
    """The parts of rnnreport that ``source``, the module ``rnnreport.<module>``, imports."""
    parts = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the module's package
                base = list(module[: len(module) - node.level])
                target = [*base, *(node.module.split(".") if node.module else [])]
                names = [target] if target else [[a.name] for a in node.names]
            elif node.module and node.module.split(".")[0] == "rnnreport":
                target = node.module.split(".")[1:]
                names = [target] if target else [[a.name] for a in node.names]
            else:
                continue
            parts |= {n[0] for n in names}
        elif isinstance(node, ast.Import):
            parts |= {a.name.split(".")[1] for a in node.names if a.name.startswith("rnnreport.")}
    return parts


def test_every_part_is_classified() -> None:
    parts = {_part(p) for p in PACKAGE.rglob("*.py")}
    unknown = parts - set(ALLOWED) - TOP
    assert not unknown, f"add {sorted(unknown)} to ALLOWED here and to the README's table"


def test_no_part_imports_a_higher_one() -> None:
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        part = _part(path)
        if part in TOP:
            continue
        module = path.relative_to(PACKAGE).with_suffix("").parts
        for imported in _imported_parts(module, path.read_text()) - ALLOWED[part] - {part}:
            wrong.append(f"{path.relative_to(PACKAGE)} imports {imported}")
    assert not wrong, "imports against the rules: " + "; ".join(wrong)


def test_the_checker_sees_relative_and_absolute_imports() -> None:
    module = ("inspection", "probes")
    assert _imported_parts(module, "from ..model.layers import RNN") == {"model"}
    assert _imported_parts(module, "from .. import train, data") == {"train", "data"}
    assert _imported_parts(module, "from .tables import Table") == {"inspection"}
    assert _imported_parts(module, "from rnnreport.experiments import grid") == {"experiments"}
    assert _imported_parts(module, "import rnnreport.train") == {"train"}
    assert _imported_parts(module, "import torch\nfrom torch import nn") == set()


SHARED = {
    # the task interface: each trainer module (MNIST, counting) supplies its own
    "cache_key",
    "cache_path",
    "code_digest",
    "evaluate",
    "pending",
    "run_job",
    "train",
    "train_many",
    # each family of experiments says what its numbers show
    "findings",
}
"""Public names that several modules define on purpose, each for its own task or family."""
NOT_YET_ONE = {"Cell", "row_saliency"}
"""Public names still defined twice, in the model and inspection parts: remove each from
here once it has one meaning."""


def _public_definitions(source: str) -> set[str]:
    """The public names a module defines at its top level (functions, classes, constants)."""
    names = set()
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return {name for name in names if not name.startswith("_")}


def test_a_public_name_has_one_meaning() -> None:
    where: dict[str, list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for name in _public_definitions(path.read_text()):
            where.setdefault(name, []).append(str(path.relative_to(PACKAGE)))
    twice = {
        name: modules
        for name, modules in where.items()
        if len(modules) > 1 and name not in SHARED | NOT_YET_ONE
    }
    assert not twice, f"defined in more than one module (import it instead, or rename): {twice}"
    assert {name for name in NOT_YET_ONE if len(where.get(name, [])) > 1} == NOT_YET_ONE, (
        "a name in NOT_YET_ONE has one meaning now: remove it from NOT_YET_ONE"
    )


def test_the_name_check_sees_definitions_not_imports() -> None:
    source = "from x import A\nB = 1\nC: int = 2\n_D = 3\ndef e(): pass\nclass F: pass\n"
    assert _public_definitions(source) == {"B", "C", "e", "F"}
