r"""The assignment's classifier and the frozen config that names it.

.. math::
    x_{1..28} \xrightarrow{\text{affine } 28 \to H} \text{RNN} \xrightarrow{\text{ReLU}}
    \text{FC } 64 \xrightarrow{\text{ReLU}} \text{FC } 10 \text{ (logits, last step)}

Each of the 28 rows of an MNIST image is one time step of 28 pixels: binarized, as the
assignment asks, or grey values p / 255 (``pixels="grey"``, one of the ablations).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from .cells import INITS, RESETS, GRUCell, glorot_uniform_
from .rnn import RNN

# An MNIST image is read as STEPS rows of PIXELS pixels; CLASSES digits; the head's hidden width.
STEPS, PIXELS, CLASSES, HEAD_UNITS = 28, 28, 10, 64

TRAIN_SEQUENCES = 55_000
"""The assignment's training split (MNIST's 60,000 less the first 5,000, kept for
validation): the most a ``limit`` can take; a limit of all of them is no limit."""
# Bounds far beyond the report's models (at most 128 units, 3 layers, 10 epochs, lr 1e-3)
# that keep a typo from allocating a hundred gigabytes or training for a month.
MAX_UNITS, MAX_LAYERS, MAX_EPOCHS, MAX_LR = 4096, 8, 1000, 10.0


@dataclass(frozen=True)
class ModelConfig:
    """Everything that determines a trained model. Equal configs give equal weights."""

    cell: str = "gru"  # "lstm" or "gru"
    units: int = 32  # H, the recurrent size
    layers: int = 1  # L stacked recurrent layers
    reset: str = "before"  # GRU only: reset gate before (TF1, the assignment) or after the matmul
    init: str = "tf1"  # "tf1": Glorot kernels, LSTM forget bias 1, GRU gate bias 1; or "torch"
    seed: int = 0  # seeds the initial weights and the order of the batches
    epochs: int = 10  # passes over the training set
    batch_size: int = 256  # sequences per Adam step
    lr: float = 1e-3  # Adam's learning rate (other Adam settings at their defaults)
    limit: int | None = None  # train on the first N training sequences only (quick checks)
    # What the assignment leaves open (see rnnreport.experiments.ablations); each default is
    # the assignment's setup, and a config left at the defaults computes the assignment's model.
    forget_bias: float | None = None  # LSTM only: the constant in f's sigmoid; None: init's
    gate_bias: float | None = None  # GRU only: z and r biases' start; None: init's
    batch_norm: str = "none"  # BatchNorm1d on "input", "output" (the RNN's) or "head" (its 64)
    loss: str = "sum"  # cross-entropy "sum"med over the batch (the course's) or its "mean"
    pixels: str = "binary"  # "binary" (p >= 26, the assignment's) or "grey" (p / 255)

    def __post_init__(self) -> None:
        problems = []
        problems += _ablation_problems(self)
        if self.cell not in ("lstm", "gru"):
            problems.append(f"cell must be 'lstm' or 'gru', not {self.cell!r}")
        if self.reset not in RESETS:
            problems.append(f"reset must be one of {RESETS}, not {self.reset!r}")
        if self.cell == "lstm" and self.reset != "before":
            problems.append("reset only applies to the GRU: leave it at 'before' for the LSTM")
        if self.init not in INITS:
            problems.append(f"init must be one of {INITS}, not {self.init!r}")
        problems += out_of_range(self, units=MAX_UNITS, layers=MAX_LAYERS)
        problems += training_problems(self)
        if problems:
            raise ValueError("invalid ModelConfig: " + "; ".join(problems))
        normalise_limit(self)
        for name in ("forget_bias", "gate_bias"):  # 0 and 0.0: one model, one name, one key
            if getattr(self, name) is not None:
                object.__setattr__(self, name, float(getattr(self, name)))

    @property
    def name(self) -> str:
        """Short stable name, e.g. ``gru-1x32`` (``gru-1x32-after`` for the torch GRU)."""
        suffix = "-after" if self.reset == "after" else ""
        return f"{self.cell}-{self.layers}x{self.units}{suffix}" + _ablation_suffix(self)

    @property
    def key(self) -> str:
        """Stable hash of every field: 12 hex digits, the same on every machine."""
        return config_key(self)

    def build(self) -> Classifier:
        """A fresh classifier for this config (seed the RNG first: see :func:`build_model`)."""
        return Classifier(self)


def training_problems(config: Any) -> list[str]:
    """What is wrong with the training fields every config shares (seed, epochs,
    batch_size, lr, limit), one phrase each: the checks of both configs' ``__post_init__``."""
    problems = out_of_range(config, epochs=MAX_EPOCHS, batch_size=TRAIN_SEQUENCES)
    if not (_whole(config.seed) and 0 <= config.seed < 2**63):
        problems.append(f"seed must be from 0 to 2**63 - 1 (torch's seeds), not {config.seed!r}")
    lr = config.lr
    if not (isinstance(lr, int | float) and math.isfinite(lr) and 0 < lr <= MAX_LR):
        problems.append(f"lr must be a finite number above 0 and at most {MAX_LR:g}, not {lr!r}")
    if config.limit is not None and not _whole(config.limit):
        problems.append(f"limit must be a whole number (or None for all), not {config.limit!r}")
    elif config.limit is not None and config.limit < 1:
        problems.append(f"limit must be at least 1 (or None for all), not {config.limit}")
    elif config.limit is not None and config.limit > TRAIN_SEQUENCES:
        problems.append(
            f"limit must be at most {TRAIN_SEQUENCES:,} (all the training sequences), not "
            f"{config.limit:,}: leave it out to train on all of them"
        )
    return problems


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def out_of_range(config: Any, **most: int) -> list[str]:
    """A phrase for each field named in ``most`` that is not a whole number from 1 to its bound."""
    problems = []
    for name, bound in most.items():
        value = getattr(config, name)
        if not _whole(value):
            problems.append(f"{name} must be a whole number, not {value!r}")
        elif value < 1:
            problems.append(f"{name} must be at least 1, not {value}")
        elif value > bound:
            problems.append(f"{name} must be at most {bound:,}, not {value:,}")
    return problems


def normalise_limit(config: Any) -> None:
    """A limit of every training sequence is no limit: one model, one name and one key."""
    if config.limit == TRAIN_SEQUENCES:
        object.__setattr__(config, "limit", None)  # a frozen dataclass, still being made


BATCH_NORMS = ("none", "input", "output", "head")
"""Where :class:`Classifier` puts a ``BatchNorm1d``: nowhere (the assignment), on the input
projection (H), on the RNN output the head reads (H), or on the head's 64-unit layer."""

LOSSES = ("sum", "mean")
"""Cross-entropy over a batch: summed (the course's convention) or averaged."""

PIXELS_KINDS = ("binary", "grey")
"""The pixels a model reads: binarized (the assignment) or grey values p / 255."""


def _ablation_problems(config: ModelConfig) -> list[str]:
    """What is wrong with the fields the ablations vary (kept apart from the other checks)."""
    problems = []
    for name, choices in (("batch_norm", BATCH_NORMS), ("loss", LOSSES), ("pixels", PIXELS_KINDS)):
        if getattr(config, name) not in choices:
            problems.append(f"{name} must be one of {choices}, not {getattr(config, name)!r}")
    for name, cell in (("forget_bias", "lstm"), ("gate_bias", "gru")):
        value = getattr(config, name)
        if value is not None and config.cell != cell:
            problems.append(f"{name} only applies to the {cell.upper()}: leave it at None")
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if value is not None and not (number and math.isfinite(value)):
            problems.append(f"{name} must be a finite number (or None), not {value!r}")
    return problems


def _ablation_suffix(config: ModelConfig) -> str:
    """The name's suffix for every field away from the assignment's setup, e.g. ``-bn-head``."""
    parts = ["-init-torch" if config.init == "torch" else ""]
    if config.forget_bias is not None:
        parts.append(f"-fb{config.forget_bias:g}")
    if config.gate_bias is not None:
        parts.append(f"-gb{config.gate_bias:g}")
    if config.batch_norm != "none":
        parts.append(f"-bn-{config.batch_norm}")
    if config.loss != "sum":
        parts.append(f"-{config.loss}")
    if config.pixels != "binary":
        parts.append(f"-{config.pixels}")
    return "".join(parts)


def config_key(config: object) -> str:
    """Stable hash of a config dataclass's class name and fields (12 hex digits)."""
    text = json.dumps([type(config).__name__, asdict(config)], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


class Classifier(nn.Module):
    """Affine 28 → H per step, L-layer RNN, ReLU, FC 64, ReLU, FC 10 on the last step.

    ``forward(x)`` takes images (B, 28, 28), rows as time steps, and returns logits
    (B, 10) from the last step; ``forward(x, every_step=True)`` returns (T, B, 10), the
    head applied to each step's RNN output as if it were the last.

    With ``config.batch_norm`` set, one ``BatchNorm1d`` (torch's defaults: momentum 0.1,
    eps 1e-5, a learned scale and shift) normalises each unit over the batch: ``"input"``
    the input projection (H units, statistics over every step of every sequence),
    ``"output"`` the RNN output the head reads (H units, before the head's first ReLU),
    ``"head"`` the head's 64 units (between FC 64 and its ReLU, where :cite:t:`ioffe2015batch`
    put it). In training it uses the batch's statistics, in eval mode its running averages.
    Without it the module has exactly the parameters and buffers it always had.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        H, L = config.units, config.layers
        self.config = config
        self.embed = nn.Linear(PIXELS, H)
        cell_kwargs = {"reset": config.reset} if config.cell == "gru" else {}
        if config.forget_bias is not None:
            cell_kwargs["forget_bias"] = config.forget_bias
        self.rnn = RNN(config.cell, H, H, L, init=config.init, **cell_kwargs)
        self.fc1 = nn.Linear(H, HEAD_UNITS)
        self.fc2 = nn.Linear(HEAD_UNITS, CLASSES)
        if config.init == "tf1":  # tf.layers.dense: Glorot-uniform kernel, zero bias
            for dense in (self.embed, self.fc1, self.fc2):
                glorot_uniform_(dense.weight, dense.in_features, dense.out_features)
                nn.init.zeros_(dense.bias)
        if config.gate_bias is not None:  # after every random draw: the weights stay the same
            with torch.no_grad():
                for cell in self.rnn.cells:
                    cell.b[GRUCell.columns(H, "z", "r")].fill_(config.gate_bias)
        sizes = {"input": H, "output": H, "head": HEAD_UNITS}
        self.norm = nn.BatchNorm1d(sizes[config.batch_norm]) if config.batch_norm in sizes else None

    def _normed(self, where: str, a: Tensor) -> Tensor:
        """``a`` (..., C) through the batch norm if it sits at ``where``, else unchanged."""
        if self.norm is None or self.config.batch_norm != where:
            return a
        return self.norm(a.reshape(-1, a.shape[-1])).view(a.shape)  # every leading index a sample

    def head(self, y: Tensor) -> Tensor:
        """ReLU, FC 64, ReLU, FC 10: RNN outputs (..., H) -> logits (..., 10)."""
        y = self._normed("output", y)
        return self.fc2(F.relu(self._normed("head", self.fc1(F.relu(y)))))

    def forward(self, x: Tensor, every_step: bool = False) -> Tensor:
        if x.dim() != 3 or x.shape[-1] != PIXELS:
            raise ValueError(f"expected images shaped (B, T, {PIXELS}), got {tuple(x.shape)}")
        x = x.transpose(0, 1).float()  # (T, B, 28): rows are time steps
        if self.config.batch_norm == "input":  # a batch norm between: nothing to fold
            y, _ = self.rnn(self._normed("input", self.embed(x)))  # (T, B, H)
        else:  # the fast path multiplies the affine map into the first layer's projection
            y, _ = self.rnn(x, input_map=self.embed)
        return self.head(y if every_step else y[-1])


def build_model(config: ModelConfig) -> nn.Module:
    """``config.build()`` with its initial weights drawn from ``config.seed`` alone.

    Works for any config with ``seed`` and ``build()`` (the whole-image baselines too).
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        return config.build()


def count_parameters(model: nn.Module) -> int:
    """Number of trainable scalars."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
