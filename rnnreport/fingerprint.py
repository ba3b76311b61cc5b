"""A fingerprint of the code that defines a trained model, for the training cache's key.

Start from a few *roots* (a config class, the function that builds its model, the training
function) and follow the names their code uses: every function or class of the package
that such a name resolves to (in the module's globals, or as ``module.name`` of one of the
package's modules) joins the closure, and so does every module-level constant it reads
(numbers, strings and containers of them, by value). Each function or class enters as its
syntax tree with docstrings and type annotations removed, so comments, docstrings, type
hints and formatting never change the fingerprint, and neither does moving a function to
another module; a changed line of code, default or constant does. Third-party code (torch,
numpy) is not followed: the cache key carries their versions instead.

The closure follows names, not types: code reached only through an attribute of an object
(``self.cell.step``) is covered when its class is, i.e. when some name in the closure
refers to that class. A module-level object that is neither code nor a constant (an
instance, say) is not followed: keep what shapes training in functions, classes and
constants. ``tests/test_fingerprint.py`` checks that the closure of the real trainer holds the
cells, the layers, the classifier and the training loop.
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import inspect
import sys
import textwrap
from collections.abc import Iterable
from types import BuiltinFunctionType, FunctionType, ModuleType

import numpy as np

PACKAGE = "rnnreport"
"""Whose code is followed; other code is covered by the versions in the cache key."""

_CONSTANTS = (int, float, complex, str, bytes, bool, type(None))


def fingerprint(
    roots: Iterable[object], *, ignore: Iterable[object] = (), package: str = PACKAGE
) -> str:
    """sha256 over the :func:`closure` of ``roots``: 64 hex digits."""
    h = hashlib.sha256()
    for text in sorted(closure(roots, ignore=ignore, package=package).values()):
        h.update(text.encode())
        h.update(b"\0")
    return h.hexdigest()


def closure(
    roots: Iterable[object], *, ignore: Iterable[object] = (), package: str = PACKAGE
) -> dict[str, str]:
    """Every function, class and constant of ``package`` that ``roots`` use, directly or
    through each other: ``{qualified name: canonical text}``.

    ``ignore``: objects not followed, wherever they are used (code that cannot change a
    result, such as a progress display).
    """
    return _walk(roots, ignore, package)[0]


def unfollowed(
    roots: Iterable[object], *, ignore: Iterable[object] = (), package: str = PACKAGE
) -> dict[str, str]:
    """The global names the code of the closure reads whose values the fingerprint cannot
    see: ``{module:name: type name}`` for objects that are neither the package's code, nor
    constants, nor modules, nor third-party functions and classes (e.g. an open file, a
    lock, a loaded library). A value like that must not change a result."""
    return _walk(roots, ignore, package)[1]


def _walk(
    roots: Iterable[object], ignore: Iterable[object], package: str
) -> tuple[dict[str, str], dict[str, str]]:
    ignore = list(ignore)
    skip = {id(obj) for obj in ignore} | {id(inspect.unwrap(obj)) for obj in ignore}  # type: ignore[arg-type]
    found: dict[str, str] = {}
    opaque: dict[str, str] = {}
    todo = [inspect.unwrap(root) for root in roots]
    seen: set[int] = set()
    while todo:
        obj = todo.pop()
        if id(obj) in seen or id(obj) in skip:
            continue
        seen.add(id(obj))
        label = f"{obj.__module__}.{obj.__qualname__}"
        if "<lambda>" in label:  # lambdas share a name: tell them apart by their line
            label += f"@{obj.__code__.co_firstlineno}"  # type: ignore[attr-defined]
        try:
            tree = _canonical_tree(obj)
        except (OSError, TypeError, SyntaxError) as error:  # no source to read as code
            opaque[label] = f"{type(obj).__name__} whose source cannot be read ({error})"
            continue
        namespace = vars(sys.modules[obj.__module__])
        bindings = set()  # what each name the code reads stands for
        for name, value in _references(tree, namespace, package):
            if _is_ours(value, package):
                target = inspect.unwrap(value)  # type: ignore[arg-type]
                todo.append(target)
                bindings.add(f"{name} -> {target.__qualname__}")
            elif (text := _constant(value, todo, package)) is not None:
                found[f"{obj.__module__}:{name}"] = f"{name} = {text}"
                bindings.add(f"{name} = {text}")
            elif not _third_party(value, package):
                opaque[f"{obj.__module__}:{name}"] = type(value).__qualname__
        short = obj.__qualname__.rpartition(".")[2]
        found[label] = f"{short}: {ast.dump(tree)} | {'; '.join(sorted(bindings))}"
    return found, opaque


def _third_party(value: object, package: str) -> bool:
    """A module, a class, or a function defined outside ``package``: covered by the versions
    in the cache key, not by the fingerprint. Other objects, even callable ones (a partial,
    a torch module), are not code: the fingerprint cannot see what they hold."""
    if isinstance(value, ModuleType | type):
        return True
    if isinstance(value, FunctionType | BuiltinFunctionType):
        return (getattr(value, "__module__", None) or "").partition(".")[0] != package
    return False


def _is_ours(value: object, package: str) -> bool:
    """A function or class defined in ``package``, or one wrapped by a decorator
    (``functools.cache``, ``contextmanager``): the wrapped code is followed."""
    if not isinstance(value, FunctionType | type) and hasattr(value, "__wrapped__"):
        value = inspect.unwrap(value)  # type: ignore[arg-type]
    if isinstance(value, FunctionType | type):
        return getattr(value, "__module__", "").partition(".")[0] == package
    return False


def _constant(value: object, todo: list[object], package: str, inside: bool = False) -> str | None:
    """``value`` as text when it is a constant (the package's functions and classes inside
    containers are followed and named), else None (third-party objects, modules)."""
    if isinstance(value, _CONSTANTS):
        return repr(value)
    if _is_ours(value, package):
        value = inspect.unwrap(value)  # type: ignore[arg-type]
        todo.append(value)
        return f"<{value.__qualname__}>"  # type: ignore[attr-defined]
    if (array := _array(value)) is not None:
        return array
    if inside and _third_party(
        value, package
    ):  # a torch or ctypes class in a table, say: by its name
        name = getattr(value, "__qualname__", getattr(value, "__name__", None))
        return f"<{getattr(value, '__module__', '')}.{name}>" if name else None
    if dataclasses.is_dataclass(value) and _is_ours(type(value), package):
        todo.append(type(value))
        try:
            fields = [(f.name, _constant(getattr(value, f.name), todo, package, inside=True))
                      for f in dataclasses.fields(value)]  # fmt: skip
        except AttributeError:  # a field never set
            return None
        if any(text is None for _, text in fields):
            return None
        return f"{type(value).__qualname__}({', '.join(f'{k}={v}' for k, v in fields)})"
    if isinstance(value, tuple | list | frozenset | set):
        items = [_constant(v, todo, package, inside=True) for v in value]
        if None in items:
            return None
        if isinstance(value, frozenset | set):
            items.sort()
        return f"{type(value).__name__}({', '.join(items)})"  # type: ignore[arg-type]
    if isinstance(value, dict):
        pairs = [
            (_constant(k, todo, package, inside=True), _constant(v, todo, package, inside=True))
            for k, v in value.items()
        ]
        if any(k is None or v is None for k, v in pairs):
            return None
        return "{" + ", ".join(f"{k}: {v}" for k, v in pairs) + "}"
    return None


def _array(value: object) -> str | None:
    """A tensor, array, numpy scalar, dtype or device as text that changes with its value:
    type, dtype, shape and a hash of its bytes; None for anything else, and for arrays
    whose bytes are not their value (object arrays hold pointers; a meta tensor, none)."""
    torch = sys.modules.get("torch")  # a tensor exists only where torch was imported
    if isinstance(value, np.dtype) or (
        torch is not None and isinstance(value, torch.dtype | torch.device)
    ):
        return repr(value)
    if torch is not None and isinstance(value, torch.Tensor):
        try:
            kind = str(value.dtype)
            value = value.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy()
        except (RuntimeError, TypeError, NotImplementedError):
            return None
        return f"tensor({kind}, {hashlib.sha256(value.tobytes()).hexdigest()[:16]})"
    if isinstance(value, np.ndarray | np.generic):
        if np.asarray(value).dtype.hasobject:
            return None
        digest = hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest()[:16]
        return f"array({value.dtype}, {np.shape(value)}, {digest})"
    return None


def _canonical_tree(obj: object) -> ast.AST:
    """The syntax tree of ``obj``'s source without docstrings and annotations."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(obj)))
    return _Canonical().visit(tree)


class _Canonical(ast.NodeTransformer):
    """Drops what cannot change behaviour: docstrings and type annotations."""

    def _body(self, node: ast.AST) -> ast.AST:
        self.generic_visit(node)
        body = node.body  # type: ignore[attr-defined]
        first = body[0].value if body and isinstance(body[0], ast.Expr) else None
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            node.body = body[1:] or [ast.Pass()]  # type: ignore[attr-defined]
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        node.returns = None
        return self._body(node)

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]
    visit_ClassDef = _body  # type: ignore[assignment]
    visit_Module = _body  # type: ignore[assignment]

    def visit_arg(self, node: ast.arg) -> ast.AST:
        node.annotation = None
        return node

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AST:
        # a dataclass field keeps its name and default; its declared type goes
        node.annotation = ast.Constant(None)
        self.generic_visit(node)
        return node


def _references(
    tree: ast.AST, namespace: dict[str, object], package: str
) -> Iterable[tuple[str, object]]:
    """``(name, value)`` for every global name the code reads, and for ``module.attr``
    where ``module`` is one of ``package``'s modules."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in namespace:
            yield node.id, namespace[node.id]
        elif isinstance(node, ast.Attribute):
            base = _module(node.value, namespace, package)
            if base is not None and hasattr(base, node.attr):
                yield node.attr, getattr(base, node.attr)


def _module(node: ast.AST, namespace: dict[str, object], package: str) -> ModuleType | None:
    """``package``'s module that ``node`` (a name or a dotted chain of names) stands for."""
    if isinstance(node, ast.Name):
        value = namespace.get(node.id)
    elif isinstance(node, ast.Attribute):
        parent = _module(node.value, namespace, package)
        value = getattr(parent, node.attr, None) if parent is not None else None
    else:
        return None
    if isinstance(value, ModuleType) and value.__name__.partition(".")[0] == package:
        return value
    return None
