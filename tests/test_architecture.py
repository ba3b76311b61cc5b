"""The package's import rules (README, "Architecture"): lower parts never import higher ones,
and model modules import no private names of each other but those the cache key binds."""

from __future__ import annotations

import ast
from pathlib import Path

import rnnreport

PACKAGE = Path(rnnreport.__file__).parent

EVERYWHERE = {"files"}
"""Parts every part may import: they import nothing of the package."""

ALLOWED = {
    "files": set(),
    "settings": set(),
    "model": {"model", "settings"},
    "inspection": {"inspection", "model", "settings"},
    "theory": {"theory", "model", "inspection"},
    "data": {"settings", "fingerprint"},
    "fingerprint": set(),
    "training": {"settings", "model", "data", "fingerprint"},
    "experiments": {"experiments", "settings", "model", "inspection", "data", "training"},
    "machine": {"model"},
    "phases": {"model", "training"},
}
"""Which parts each part may import besides :data:`EVERYWHERE`; parts not listed (``bench``,
``cli``) may import any; ``machine`` and ``phases`` serve the benchmark."""
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


def test_plots_draw_only_the_arrays_they_are_given() -> None:
    """``inspection/plots`` imports nothing of the package outside itself: no model, no
    probe, no measure."""
    wrong = []
    for path in sorted((PACKAGE / "inspection" / "plots").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                outside = node.level > 1 or (
                    not node.level
                    and (node.module or "").startswith("rnnreport")
                    and not (node.module or "").startswith("rnnreport.inspection.plots")
                )
            elif isinstance(node, ast.Import):
                outside = any(a.name.startswith("rnnreport") for a in node.names)
            else:
                continue
            if outside:
                wrong.append(f"{path.name} line {node.lineno}")
    assert not wrong, "plots import the package outside plots/: " + "; ".join(wrong)


def test_gallery_scripts_draw_and_measure_through_the_library() -> None:
    """Gallery scripts hold narrative and library calls: figures come from
    ``rnnreport.inspection.plots``, measurements from the library, so a script imports
    neither matplotlib nor the array libraries."""
    gallery = PACKAGE.parent / "gallery"
    scripts = sorted(gallery.glob("plot_*.py"))
    assert scripts, f"no gallery scripts in {gallery}"
    wrong = []
    for path in scripts:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            else:
                continue
            wrong += [
                f"{path.name} imports {n}"
                for n in names
                if n.split(".")[0] in {"matplotlib", "numpy", "torch", "sympy", "scipy"}
            ]
    assert not wrong, "; ".join(wrong)


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
        allowed = ALLOWED[part] | EVERYWHERE | {part}
        for imported in _imported_parts(module, path.read_text()) - allowed:
            wrong.append(f"{path.relative_to(PACKAGE)} imports {imported}")
    assert not wrong, "imports against the rules: " + "; ".join(wrong)


def test_the_checker_sees_relative_and_absolute_imports() -> None:
    module = ("inspection", "probes")
    assert _imported_parts(module, "from ..model.rnn import RNN") == {"model"}
    assert _imported_parts(module, "from .. import training, data") == {"training", "data"}
    assert _imported_parts(module, "from .tables import Table") == {"inspection"}
    assert _imported_parts(module, "from rnnreport.experiments import grid") == {"experiments"}
    assert _imported_parts(module, "import rnnreport.training.engine") == {"training"}
    assert _imported_parts(module, "import torch\nfrom torch import nn") == set()


def _private_imports(path: Path) -> set[tuple[str, str]]:
    """``(module, name)`` for every ``_name`` that ``path`` imports from the package."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        ours = isinstance(node, ast.ImportFrom) and (
            node.level or (node.module or "").split(".")[0] == "rnnreport"
        )
        if ours:
            for alias in node.names:
                if alias.name.startswith("_"):
                    found.add((path.relative_to(PACKAGE).as_posix(), alias.name))
    return found


def test_no_module_imports_another_modules_private_names() -> None:
    """What one module uses of another is public: the cells, the fast path and the kernel,
    the tasks, the store, the fitting and the queue meet through public names only."""
    found = set().union(*(_private_imports(p) for p in sorted(PACKAGE.rglob("*.py"))))
    assert not found, f"private names imported from another module: {sorted(found)}"


SHARED = {
    # the task interface: each trainer module (MNIST, counting) supplies its own
    "cache_key",
    "cache_path",
    "code_digest",
    "evaluate",
    "pending",
    "train_job",
    "train",
    "train_many",
    "trainer_code",
    # each family of experiments says what its numbers show
    "findings",
}
"""Public names that several modules define on purpose, each for its own task or family."""


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
        name: modules for name, modules in where.items() if len(modules) > 1 and name not in SHARED
    }
    assert not twice, f"defined in more than one module (import it instead, or rename): {twice}"


def test_the_name_check_sees_definitions_not_imports() -> None:
    source = "from x import A\nB = 1\nC: int = 2\n_D = 3\ndef e(): pass\nclass F: pass\n"
    assert _public_definitions(source) == {"B", "C", "e", "F"}
