"""rnnreport: LSTM vs GRU on row-by-row binarized MNIST, an executable report.

Modules, from the bottom up: :mod:`~rnnreport.cells` (the equations), :mod:`~rnnreport.layers`
(unrolling and stacking), :mod:`~rnnreport.models` (the assignment's classifier),
:mod:`~rnnreport.data` (offline MNIST), :mod:`~rnnreport.train` (training and its cache).
"""

__version__ = "0.1.0"
