r"""The two views of MNIST's images, binary and grey, and the split into train, validation, test.

Both are the assignment's data exactly as TensorFlow 1's ``read_data_sets`` prepared it. The
grey view is its float32 :math:`g = \mathrm{f32}(p) \cdot \mathrm{f32}(1/255) \in [0, 1]`
for the raw level :math:`p \in \{0, \dots, 255\}`; the binary view, the assignment's, keeps
a pixel where :math:`g > 0.1` (compared in float32):

.. math::

    b = \left[\, \mathrm{f32}(p) \cdot \mathrm{f32}(1/255) > 0.1 \,\right] \in \{0, 1\},

which keeps a pixel exactly when :math:`p \ge 26` (:math:`25/255 \approx 0.098`,
:math:`26/255 \approx 0.102`). The first 5,000 images of the official 60,000-image training
set are the validation split, the other 55,000 the training split, and the official 10,000
test images the test split. Each image is an array of shape (28, 28): 28 rows, read one per
time step, of 28 pixels each.

Each view has a stored form, the uint8 arrays :mod:`rnnreport.data.store` keeps (binary
pixels packed 8 a byte; grey as the raw levels, from which the float32 values follow), and a
sha256 digest of that form, the ``digest`` of :class:`~rnnreport.data.mnist.MNIST`, which
enters the training cache key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .checks import COLS, ROWS

VIEWS = ("binary", "grey")
"""The two views of the same images: binarized (the assignment's) and grey values."""
N_VALID = 5_000  # read_data_sets' default validation_size: the FIRST 5,000 training images
SPLITS = ("train", "valid", "test")

_GREY_SCALE = np.float32(1.0 / 255.0)  # read_data_sets' float32 scale
_THRESHOLD = np.float32(0.1)  # the assignment's: a pixel is ink where its grey value is above

Splits = dict[str, tuple[np.ndarray, np.ndarray]]
"""Per split name: (pixels (N, ...), labels (N,))."""


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
    of the 256 levels (:func:`grey`, then the threshold) and then looked up, which gives the
    same bits as evaluating it per pixel.
    """
    raw = np.asarray(raw)
    if not np.issubdtype(raw.dtype, np.integer):
        raise TypeError(f"binarize expects raw integer pixels 0..255, got dtype {raw.dtype}")
    if raw.size and (int(raw.min()) < 0 or int(raw.max()) > 255):
        raise ValueError(
            f"binarize expects raw pixels 0..255, got values {int(raw.min())}..{int(raw.max())}"
        )
    return _binary_table()[raw]


def binary_of_grey(x: np.ndarray) -> np.ndarray:
    """The binary view of grey values ``x`` (float32 in [0, 1]): uint8 ``x > 0.1``."""
    return (x > _THRESHOLD).astype(np.uint8)


def split(raw: tuple[np.ndarray, ...]) -> Splits:
    """The raw ``(train_x, train_y, test_x, test_y)`` as the three splits of raw pixels."""
    train_x, train_y, test_x, test_y = raw
    return {
        "train": (train_x[N_VALID:], train_y[N_VALID:]),
        "valid": (train_x[:N_VALID], train_y[:N_VALID]),
        "test": (test_x, test_y),
    }


def sizes(counts: tuple[int, int]) -> dict[str, int]:
    """The split sizes made from ``counts`` (training, test) official images."""
    return {"train": counts[0] - N_VALID, "valid": N_VALID, "test": counts[1]}


# --------------------------------------------------------------------------- stored forms


@dataclass(frozen=True)
class _Form:
    """How a view is stored and digested."""

    shape: tuple[int, ...]  # one image, stored as uint8
    store: Callable[[np.ndarray], np.ndarray]  # raw (N, 28, 28) -> stored (N, *shape)
    load: Callable[[np.ndarray], np.ndarray]  # stored -> the x of a Split
    preamble: Callable[[], bytes]  # what the digest hashes before the splits
    says: Callable[[], str]  # what the view holds, for MNIST.checks
    digest_of: str  # what the digest covers, in words


def _pack(raw: np.ndarray) -> np.ndarray:
    """(N, 28, 28) raw levels -> (N, 98) uint8: 784 binary pixels, 8 a byte, a row per image."""
    return np.packbits(binarize(raw).reshape(len(raw), ROWS * COLS), axis=1)


def _unpack(bits: np.ndarray) -> np.ndarray:
    """(N, 98) uint8 -> (N, 28, 28) uint8 in {0, 1}: the binary pixels :func:`_pack` stored."""
    return np.unpackbits(bits, axis=1).reshape(len(bits), ROWS, COLS)


def _binary_says() -> str:
    threshold = int(np.argmax(_binary_table()))  # the first raw level kept
    return (
        f"binarized with float32 p * (1/255) > {_THRESHOLD:g}, which keeps exactly the raw "
        f"levels p >= {threshold}"
    )


def _binary_preamble() -> bytes:
    return b"rnnreport.data binarized MNIST v1\n"


def _raw(raw: np.ndarray) -> np.ndarray:
    """The grey view stores the raw levels as they are."""
    return raw


def _grey_says() -> str:
    return "grey view: float32 p * (1/255) in [0, 1] from the raw pixels"


def _grey_preamble() -> bytes:
    # grey maps each pixel by its level alone, so the 256 grey levels and the raw pixels fix
    # every grey array: a change to the formula changes the digest.
    return b"rnnreport.data grey MNIST v1\n" + grey(np.arange(256, dtype=np.uint8)).tobytes()


_FORMS = {
    "binary": _Form(
        shape=(ROWS * COLS // 8,),
        store=_pack,
        load=_unpack,
        preamble=_binary_preamble,
        says=_binary_says,
        digest_of="the prepared arrays",
    ),
    "grey": _Form(
        shape=(ROWS, COLS),
        store=_raw,
        load=grey,
        preamble=_grey_preamble,
        says=_grey_says,
        digest_of="the raw pixels and labels",
    ),
}


def stored_shape(view: str) -> tuple[int, ...]:
    """The shape of one image of ``view`` as stored (uint8)."""
    return _FORMS[view].shape


def prepare(view: str, raw: tuple[np.ndarray, ...]) -> tuple[Splits, str, list[str]]:
    """The splits of ``view`` from the raw arrays, in their stored form; their digest; and
    what was done, in words."""
    stored = {name: (_FORMS[view].store(x), y) for name, (x, y) in split(raw).items()}
    found = digest(view, stored)
    n_train = len(raw[0])
    lines = [
        _FORMS[view].says(),
        f"split: train {len(stored['train'][1]):,} (official training images {N_VALID:,}.."
        f"{n_train - 1:,}), validation {len(stored['valid'][1]):,} (the first {N_VALID:,}), "
        f"test {len(stored['test'][1]):,}; each image is {ROWS} rows (time steps) of {COLS} "
        "pixels",
        f"sha256 of {_FORMS[view].digest_of}: {found}",
    ]
    return stored, found, lines


def restore(view: str, stored: np.ndarray) -> np.ndarray:
    """The pixels of ``view`` a :class:`~rnnreport.data.mnist.Split` holds, from their stored
    form: binary (N, 28, 28) uint8 in {0, 1}, or grey (N, 28, 28) float32 in [0, 1]."""
    return _FORMS[view].load(stored)


def digest(view: str, stored: Splits) -> str:
    """sha256 of ``view``'s splits in their stored form: the view's preamble, then each split's
    size, its uint8 pixel bytes and its labels as little-endian int64 (so the digest does not
    depend on their dtype).

    The binary form is one-to-one on arrays of {0, 1}, and the grey preamble holds the grey
    value of each level, so either digest fixes the arrays a model is trained on.
    """
    h = hashlib.sha256(_FORMS[view].preamble())
    for name in SPLITS:
        pixels, y = stored[name]
        h.update(f"{name} {len(y)} {ROWS} {COLS}\n".encode())
        h.update(np.ascontiguousarray(pixels, dtype=np.uint8).tobytes())
        h.update(np.asarray(y).astype("<i8").tobytes())
    return h.hexdigest()


def _binary_table() -> np.ndarray:
    """The binary value of each of the 256 raw levels: its grey value above the threshold."""
    return binary_of_grey(grey(np.arange(256, dtype=np.uint8)))
