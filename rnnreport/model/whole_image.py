r"""The whole-image baselines of Q3.1: the course's Homework 1 models on the same data.

Question 3.1 of the assignment asks how the recurrent classifiers compare with the models of
the course's first homework, which see all 784 pixels at once. The homework (public in
``RylanSchaeffer/ucl-adv-dl-rl``, ``assignments/dl/DL_assignment_1``) fixed four models,
and this module builds them at the homework's sizes:

==========  =================================================================  ===========
kind        architecture (images (B, 28, 28) -> logits (B, 10))                 parameters
==========  =================================================================  ===========
softmax     flatten 784 -> FC 10                                                7,850
mlp1        flatten 784 -> FC 32, ReLU -> FC 10                                 25,450
mlp2        flatten 784 -> FC 32, ReLU -> FC 32, ReLU -> FC 10                  26,506
cnn         conv 3x3x8, ReLU, max-pool 2x2 -> conv 3x3x8, ReLU, max-pool 2x2    13,570
            -> flatten 392 -> FC 32, ReLU -> FC 10
==========  =================================================================  ===========

The convolutions pad by one pixel ("SAME" in TensorFlow's words, as the homework asked), so
the maps are 28x28 -> 14x14 -> 7x7. Kernels start Glorot-uniform and biases at zero: the
homework asked for Xavier initialisation, and that is also what ``tf.layers`` did, so the
baselines start the way the recurrent grid's TF1 layers do.

What is *not* the homework's: the training. The homework used plain SGD with batches of 100;
here every baseline is trained exactly like the recurrent grid (Adam with lr 1e-3, batches
of 256, cross-entropy summed over the batch, through :func:`rnnreport.training.mnist.train`), on the
same binarized images and the same split, under the same budget switch. The comparison then
differs only in the model.

The trainer's cache key covers this module's source (see
:func:`rnnreport.training.mnist.code_digest`): an edit here retrains the baselines, which is why
their results, tables and findings live in :mod:`rnnreport.experiments.baselines`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from torch import Tensor, nn
from torch.nn import functional as F

from .classifier import CLASSES, PIXELS, config_key, normalise_limit, training_problems

KINDS = ("softmax", "mlp1", "mlp2", "cnn")
"""The four whole-image models of the course's Homework 1, in its order."""

HIDDEN = 32  # the homework's hidden width, for both feed-forward nets and the CNN's FC layer
CHANNELS = 8  # the homework's CNN: 8 filters in each convolution
KERNEL = 3  # 3x3 filters, stride 1, padded to keep the size ("SAME")


def _glorot(layer: nn.Linear | nn.Conv2d) -> None:
    """Glorot-uniform kernel, zero bias: the homework's Xavier initialisation, as TF1 did it.

    For a convolution the fans are ``in_channels * k * k`` and ``out_channels * k * k``,
    which is what both torch's ``xavier_uniform_`` and TF1's ``glorot_uniform`` use.
    """
    nn.init.xavier_uniform_(layer.weight)
    nn.init.zeros_(layer.bias)


def _check_images(x: Tensor) -> None:
    if x.dim() != 3 or tuple(x.shape[1:]) != (PIXELS, PIXELS):
        raise ValueError(
            f"expected images shaped (B, {PIXELS}, {PIXELS}), got {tuple(x.shape)}: pass a "
            "batch of whole images, e.g. torch.from_numpy(data.test.x[:8]).float()"
        )


class FeedForward(nn.Module):
    r"""Softmax regression (no hidden layer) or an MLP with ReLU hidden layers.

    .. math::
        h_0 = \operatorname{vec}(x) \in \{0, 1\}^{784}, \qquad
        h_\ell = \operatorname{ReLU}(W_\ell h_{\ell-1} + b_\ell), \qquad
        z = W_{\text{out}} h_L + b_{\text{out}}

    with :math:`L` = ``len(hidden)`` hidden layers (0 for softmax regression, whose logits
    are affine in the pixels). ``forward`` maps images (B, 28, 28) to logits (B, 10).
    """

    def __init__(self, hidden: Sequence[int] = ()) -> None:
        super().__init__()
        sizes = [PIXELS * PIXELS, *hidden]
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in pairwise(sizes))
        self.out = nn.Linear(sizes[-1], CLASSES)
        for layer in (*self.hidden, self.out):
            _glorot(layer)

    def forward(self, x: Tensor) -> Tensor:
        _check_images(x)
        h = x.float().flatten(1)  # (B, 784): the whole image at once
        for layer in self.hidden:
            h = F.relu(layer(h))  # (B, 32)
        return self.out(h)  # (B, 10)


class SmallCNN(nn.Module):
    r"""The homework's CNN: two 3x3 convolutions of 8 filters, each with ReLU and 2x2
    max-pooling, then FC 32 with ReLU and FC 10.

    .. math::
        a_1 = \operatorname{pool}(\operatorname{ReLU}(K_1 * x + b_1)) \in \mathbb{R}^{8 \times 14
        \times 14}, \quad
        a_2 = \operatorname{pool}(\operatorname{ReLU}(K_2 * a_1 + b_2)) \in \mathbb{R}^{8 \times 7
        \times 7},

    .. math::
        z = W_4 \operatorname{ReLU}(W_3 \operatorname{vec}(a_2) + b_3) + b_4

    Each filter is applied at every position (weights shared over the image), so a shifted
    stroke gives a shifted response: the translation equivariance the fully connected
    baselines lack. ``forward`` maps images (B, 28, 28) to logits (B, 10).
    """

    def __init__(self) -> None:
        super().__init__()
        pad = KERNEL // 2  # keeps 28x28 before the first pooling ("SAME")
        self.conv1 = nn.Conv2d(1, CHANNELS, KERNEL, padding=pad)
        self.conv2 = nn.Conv2d(CHANNELS, CHANNELS, KERNEL, padding=pad)
        self.fc = nn.Linear(CHANNELS * (PIXELS // 4) ** 2, HIDDEN)
        self.out = nn.Linear(HIDDEN, CLASSES)
        for layer in (self.conv1, self.conv2, self.fc, self.out):
            _glorot(layer)

    def forward(self, x: Tensor) -> Tensor:
        _check_images(x)
        a = x.float().unsqueeze(1)  # (B, 1, 28, 28): one input channel
        a = F.max_pool2d(F.relu(self.conv1(a)), 2)  # (B, 8, 14, 14)
        a = F.max_pool2d(F.relu(self.conv2(a)), 2)  # (B, 8, 7, 7)
        return self.out(F.relu(self.fc(a.flatten(1))))  # (B, 10)


@dataclass(frozen=True)
class BaselineConfig:
    """Everything that determines a trained baseline (a
    :class:`~rnnreport.training.records.TrainConfig`).

    Equal configs give equal weights and metrics on the same machine.
    """

    kind: str = "softmax"  # one of KINDS
    seed: int = 0  # seeds the initial weights and the order of the batches
    epochs: int = 10  # passes over the training set
    batch_size: int = 256  # images per Adam step
    lr: float = 1e-3  # Adam's learning rate (other Adam settings at their defaults)
    limit: int | None = None  # train on the first N training images only (quick checks)

    def __post_init__(self) -> None:
        problems = []
        if self.kind not in KINDS:
            problems.append(f"kind must be one of {KINDS}, not {self.kind!r}")
        problems += training_problems(self)
        if problems:
            raise ValueError("invalid BaselineConfig: " + "; ".join(problems))
        normalise_limit(self)

    @property
    def name(self) -> str:
        """Short stable name: ``softmax``, ``mlp-1x32``, ``mlp-2x32`` or ``cnn-2x8``."""
        return {
            "softmax": "softmax",
            "mlp1": f"mlp-1x{HIDDEN}",
            "mlp2": f"mlp-2x{HIDDEN}",
            "cnn": f"cnn-2x{CHANNELS}",
        }[self.kind]

    @property
    def key(self) -> str:
        """Stable hash of every field: 12 hex digits, the same on every machine."""
        return config_key(self)

    def build(self) -> nn.Module:
        """A fresh model (seed the RNG first: see
        :func:`rnnreport.model.classifier.build_model`)."""
        if self.kind == "cnn":
            return SmallCNN()
        return FeedForward({"softmax": (), "mlp1": (HIDDEN,), "mlp2": (HIDDEN, HIDDEN)}[self.kind])
