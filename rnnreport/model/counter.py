r"""A next-symbol predictor for the counting languages, and the frozen config that names it.

.. math::
    x_t \in \{^\wedge, a, b, c\} \text{ (one-hot)} \xrightarrow{} \text{RNN (1 layer, H units)}
    \xrightarrow{\text{affine } H \to 4} \sigma \text{ per symbol } (a, b, c, \$)

The recurrent layer is :class:`rnnreport.model.rnn.RNN`, the same LSTM and GRU cells as
the MNIST grid (TF1 flavour: LSTM forget bias 1, GRU reset before the matmul, Glorot-uniform
kernels). The output is multi-label, one sigmoid per symbol: at each step the network says
which symbols may come next (see :mod:`rnnreport.data.languages`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .cells import INITS, glorot_uniform_
from .classifier import MAX_EPOCHS, config_key, out_of_range, training_problems
from .rnn import RNN

SYMBOLS_IN, SYMBOLS_OUT = 4, 4
"""Sizes of :data:`rnnreport.data.languages.INPUTS` (``^ a b c``) and ``OUTPUTS`` (``a b c $``):
the model part may not import the data part, and a test checks that the two agree."""
LANGUAGE_NAMES = ("anbn", "anbncn")
LENGTHS = ("each", "uniform", "u-shaped")
"""How the training strings' n spread over 1 … n_train: every n once, or ``samples`` draws,
uniform or U-shaped (see :func:`rnnreport.data.languages.draw_lengths`)."""
LOSS_KINDS = ("bce", "mse")
"""Per symbol of each prediction: binary cross-entropy of its logit, or the squared error of
its sigmoid (see :mod:`rnnreport.training.counting`)."""
OPTIMIZERS = ("adam", "rmsprop")
MAX_N = 10_000  # strings of 30,000 symbols: far beyond anything this report trains on


@dataclass(frozen=True)
class CounterConfig:
    """Everything that determines a trained counter. Equal configs give equal weights.

    Training stops at the first epoch after which every training string (n = 1 …
    ``n_train``) has been recognised for ``patience`` epochs in a row, or after ``epochs``
    (see :mod:`rnnreport.training.counting`).
    """

    cell: str = "lstm"  # "lstm" or "gru"
    units: int = 4  # H, a small recurrent size: a counter needs one unit
    language: str = "anbn"  # "anbn" or "anbncn"
    n_train: int = 10  # trained on n = 1 … n_train, one string each
    n_test: int = 100  # recognition is measured for n = 1 … n_test
    init: str = "tf1"  # "tf1": Glorot kernels, LSTM forget bias 1, GRU gate bias 1; or "torch"
    seed: int = 0  # seeds the initial weights and the order of the batches
    epochs: int = 1000  # at most this many passes over the training strings
    patience: int = 20  # stop once every training string is recognised this many epochs running
    batch_size: int = 4  # strings per optimizer step
    lr: float = 0.01  # the optimizer's learning rate (its other settings at torch's defaults)
    lengths: str = "each"  # "each" n once, or `samples` n drawn "uniform" or "u-shaped"
    samples: int = 0  # how many training strings are drawn (from `seed`) when not "each"
    loss: str = "bce"  # "bce" (binary cross-entropy per symbol) or "mse" (of the sigmoids)
    optimizer: str = "adam"  # "adam" or "rmsprop"

    def __post_init__(self) -> None:
        problems = []
        if self.cell not in ("lstm", "gru"):
            problems.append(f"cell must be 'lstm' or 'gru', not {self.cell!r}")
        if self.language not in LANGUAGE_NAMES:
            problems.append(f"language must be one of {LANGUAGE_NAMES}, not {self.language!r}")
        if self.init not in INITS:
            problems.append(f"init must be one of {INITS}, not {self.init!r}")
        for field, allowed in (
            ("lengths", LENGTHS),
            ("loss", LOSS_KINDS),
            ("optimizer", OPTIMIZERS),
        ):
            if getattr(self, field) not in allowed:
                problems.append(f"{field} must be one of {allowed}, not {getattr(self, field)!r}")
        if self.lengths == "each" and self.samples != 0:
            problems.append(
                f"samples must be 0 with lengths='each' (every n once), not {self.samples!r}"
            )
        elif self.lengths != "each":
            problems += out_of_range(self, samples=MAX_N)
        problems += out_of_range(self, units=64, n_train=MAX_N, n_test=MAX_N, patience=MAX_EPOCHS)
        problems += training_problems(self)
        if problems:
            raise ValueError("invalid CounterConfig: " + "; ".join(problems))

    limit = None  # not a field: the MNIST configs' training subset, absent here

    @property
    def name(self) -> str:
        """Short stable name, e.g. ``lstm-anbn-h4``, or ``lstm-anbn-h3-u-shaped`` when the
        training lengths are drawn."""
        drawn = "" if self.lengths == "each" else f"-{self.lengths}"
        return f"{self.cell}-{self.language}-h{self.units}{drawn}"

    @property
    def key(self) -> str:
        """Stable hash of every field: 12 hex digits, the same on every machine."""
        return config_key(self)

    def build(self) -> Counter:
        """A fresh counter (seed the RNG first: see
        :func:`~rnnreport.model.classifier.build_model`)."""
        return Counter(self)


class Counter(nn.Module):
    """One-hot symbols (T, B, 4) → RNN → affine → logits (T, B, 4), one per next symbol.

    ``rnn`` is the recurrent layer (probes record it); ``forward`` returns logits, apply a
    sigmoid for the probability that each symbol may come next.
    """

    def __init__(self, config: CounterConfig) -> None:
        super().__init__()
        H = config.units
        self.rnn = RNN(config.cell, SYMBOLS_IN, H, 1, init=config.init)
        self.head = nn.Linear(H, SYMBOLS_OUT)
        if config.init == "tf1":  # TF1's dense layer: Glorot-uniform kernel, zero bias
            glorot_uniform_(self.head.weight, H, SYMBOLS_OUT)
            nn.init.zeros_(self.head.bias)

    def forward(self, x: Tensor) -> Tensor:
        T, B, D = x.shape
        y, _ = self.rnn(x)  # (T, B, H)
        return self.head(y)  # (T, B, 4)

    @torch.no_grad()
    def predict(self, x: Tensor) -> Tensor:
        """Probabilities (T, B, 4) that each symbol may come next."""
        return torch.sigmoid(self(x))
