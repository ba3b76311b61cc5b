"""Atomic writes: a file written through here is either the old one or the whole new one.

The new content goes to a temporary file in the target's directory (so the rename stays on
one file system), is flushed to disk (``fsync``), then renamed over the target with
``os.replace``, which POSIX and Windows make atomic. A reader, or a process killed in
the middle, never sees half a file. If writing fails, the temporary file is removed, the
target is untouched and the error propagates. The new file gets the permissions a plain
``open(path, "w")`` would give it (``0o666`` less the umask).
"""

from __future__ import annotations

import glob
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

__all__ = ["atomic_write", "replacing", "sweep"]


@contextmanager
def atomic_write(path: Path) -> Iterator[BinaryIO]:
    """A binary file to write ``path``'s new content to; it replaces ``path`` when the block
    ends without an error::

        with atomic_write(path) as file:
            torch.save(content, file)
    """
    with replacing(path) as temporary, temporary.open("wb") as file:
        yield file


@contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """A new, empty file beside ``path`` for a writer that wants a path (a compiler's
    ``-o``); what it holds when the block ends replaces ``path``. Missing parent directories
    are created."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = _create_beside(path)
    try:
        yield temporary
        _sync(temporary)
        os.replace(temporary, path)
    except OSError as error:  # a full disk, say: name the file, which the system may not
        temporary.unlink(missing_ok=True)
        if error.filename is None and error.errno is not None:
            raise OSError(error.errno, error.strerror, str(path)) from error
        raise
    except BaseException:  # an interrupt too: never leave the temporary file behind
        temporary.unlink(missing_ok=True)
        raise


def sweep(path: Path) -> list[Path]:
    """Remove the temporary files of ``path`` that writers killed mid-write (``kill -9``)
    left behind; the paths removed. Call it only while holding the lock that every writer
    of ``path`` holds, or a live writer's file goes too."""
    removed = []
    for temporary in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        temporary.unlink(missing_ok=True)
        removed.append(temporary)
    return removed


def _create_beside(path: Path) -> Path:
    """Create a hidden file with a fresh random name in ``path``'s directory, mode
    ``0o666`` less the umask (:func:`tempfile.mkstemp` would make it ``0o600``)."""
    while True:
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:  # astronomically rare: draw another name
            continue
        return temporary


def _sync(path: Path) -> None:
    """Flush ``path``'s content to the disk, so the rename never exposes an empty file
    after a crash."""
    descriptor = os.open(path, os.O_RDWR)  # Windows flushes only a file open for writing
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
