r"""Record inside a trained classifier as the rows arrive, and read its head at every step.

Everything here takes a trained :class:`~rnnreport.model.classifier.Classifier` (or, for
:func:`record`, its :class:`~rnnreport.model.rnn.RNN`) and images ``x`` (N, 28, 28), row
``t`` being the input at step ``t``. Steps are counted from 1, like the equations: step
``t`` is the state after reading rows ``1..t``, and "row ``t``" is the ``t``-th row from
the top.

* :func:`record` captures, per layer ``l``, the outputs :math:`h_t` and every gate
  activation (for the LSTM also the cell state :math:`c_t`) under stable names
  ``layer{l}.{name}``: ``i, f, j, o, c, h`` for the LSTM, ``z, r, h_tilde, h`` for the GRU.
  :func:`trace_dataset` does the same over a whole split; :func:`batches` and
  :func:`traced_batches` walk a split batch by batch for measures that keep no trace.
* :func:`readout` feeds every step's output into the trained head as if it were the last:
  per-step predictions and confidences (:class:`Readout`), from which
  :func:`decision_steps` finds when each prediction settles.
* :func:`first_of_each` picks an example image of each digit.

What is measured on these recordings (ink, phases, saturation, saliency) is
:mod:`rnnreport.inspection.measures`; what the measurements say, as table rows and
sentences, is :mod:`rnnreport.inspection.readings`.

Batches (``batch_size``, 1,000 by default) bound the memory: a full trace of the 10,000 test
images through a 128-unit LSTM would take close to a gigabyte.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from ..model.rnn import RNN

UNDECIDED = -1
"""The decision step of an image whose prediction at the last step is wrong."""

BATCH = 1000
"""Images per forward call when a function walks a whole split."""


# -- recording ------------------------------------------------------------------------------


def _rnn_of(model: nn.Module) -> RNN:
    if isinstance(model, RNN):
        return model
    rnn = getattr(model, "rnn", None)
    if isinstance(rnn, RNN):
        return rnn
    raise TypeError(
        f"cannot record {type(model).__name__}: pass a Classifier (a model with an `rnn` "
        "attribute that is an rnnreport.model.rnn.RNN) or the RNN itself"
    )


def trace_names(model: nn.Module) -> list[str]:
    """Every name :func:`record` can capture for ``model``, layer by layer.

    ``layer{l}.{gate}`` for each of the cell's gates (``i, f, j, o, c`` or
    ``z, r, h_tilde``), then ``layer{l}.h``.
    """
    rnn = _rnn_of(model)
    return [
        f"layer{l}.{name}"
        for l, cell in enumerate(rnn.cells)
        for name in (*type(cell).gate_names, "h")
    ]


class Trace(Mapping[str, Tensor]):
    """What :func:`record` captured: ``trace["layer0.f"]`` is a tensor (T, B, H).

    Several forward calls inside one ``with`` block are joined along the batch axis, in
    the order they ran. The tensors are detached copies: changing them changes nothing in
    the model, and the model changing later changes nothing here.
    """

    def __init__(self, names: Sequence[str]) -> None:
        self.names = tuple(names)  # what this trace keeps, in the model's order
        self._parts: dict[str, list[Tensor]] = {}
        self._joined: dict[str, Tensor] = {}

    def _add(self, name: str, value: Tensor) -> None:
        parts = self._parts.setdefault(name, [])
        if parts and parts[0].shape[0] != value.shape[0]:
            raise ValueError(
                f"{name}: a forward call with {value.shape[0]} steps after one with "
                f"{parts[0].shape[0]}; record sequences of one length per `with` block"
            )
        parts.append(value.detach().clone())
        self._joined.pop(name, None)

    def __getitem__(self, name: str) -> Tensor:
        if not self._parts:
            raise RuntimeError(
                "nothing was recorded: call the model inside the `with record(model) as "
                "trace:` block, then read the trace"
            )
        if name not in self._parts:
            raise KeyError(f"{name!r} was not recorded; this trace has {sorted(self._parts)}")
        if name not in self._joined:
            parts = self._parts[name]
            self._joined[name] = parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)
        return self._joined[name]

    def __contains__(self, name: object) -> bool:
        return name in self._parts

    def __iter__(self) -> Iterator[str]:
        return (n for n in self.names if n in self._parts)

    def __len__(self) -> int:
        return len(self._parts)

    def __repr__(self) -> str:
        shapes = ", ".join(f"{n}: {tuple(self[n].shape)}" for n in self)
        return f"Trace({shapes or 'nothing recorded'})"


@contextmanager
def record(model: nn.Module, names: Sequence[str] | None = None) -> Iterator[Trace]:
    """Capture states and gates of every forward call made inside the block.

    >>> with record(model) as trace:       # doctest: +SKIP
    ...     logits = model(x)               # x (B, 28, 28)
    >>> trace["layer0.f"].shape             # doctest: +SKIP
    torch.Size([28, B, H])

    ``names`` keeps only some of :func:`trace_names` (to save memory); all by default.
    While recording, the RNN runs as it does without it (its fast path unless
    ``rnn.fast`` is False) and hands the observer every layer's gates, so the outputs are
    unchanged, bit for bit. On leaving the block, normally or by an exception, the
    observer is removed and the model is exactly as it was: same parameters, same mode, no
    hooks.
    """
    rnn = _rnn_of(model)
    available = trace_names(rnn)
    wanted = list(available if names is None else names)
    unknown = [n for n in wanted if n not in available]
    if unknown:
        raise KeyError(f"cannot record {unknown} from this model: it has {available}")
    keep = set(wanted)
    trace = Trace(wanted)

    def observer(layer: int, traces: dict[str, Tensor]) -> None:
        for gate, value in traces.items():
            name = f"layer{layer}.{gate}"
            if name in keep:
                trace._add(name, value)

    handle = rnn.add_observer(observer)
    try:
        yield trace
    finally:
        handle.remove()


def check_images(x: np.ndarray | Tensor) -> None:
    """Raise unless ``x`` holds at least one image, shaped (N, rows, pixels)."""
    if len(x.shape) != 3 or len(x) == 0:
        raise ValueError(
            f"expected at least one image, shaped (N, rows, pixels): got {tuple(x.shape)}"
        )


def batches(model: nn.Module, x: np.ndarray | Tensor, batch_size: int = BATCH) -> Iterator[Tensor]:
    """Images ``x`` (N, 28, 28) in order, ``batch_size`` at a time, as float32 tensors
    (B, 28, 28) on ``model``'s device."""
    check_images(x)
    device = next(model.parameters()).device
    for start in range(0, len(x), batch_size):
        yield torch.as_tensor(x[start : start + batch_size]).to(device=device, dtype=torch.float32)


def traced_batches(
    model: nn.Module,
    x: np.ndarray | Tensor,
    names: Sequence[str] | None = None,
    batch_size: int = BATCH,
) -> Iterator[Trace]:
    """Run ``model`` over images ``x`` batch by batch and yield each batch's :class:`Trace`.

    Only one batch's trace is alive at a time: for measures that reduce as they go.
    """
    for images in batches(model, x, batch_size):
        with record(model, names) as trace, torch.no_grad():
            model(images)
        yield trace


@torch.no_grad()
def trace_dataset(
    model: nn.Module,
    x: np.ndarray | Tensor,
    names: Sequence[str] | None = None,
    batch_size: int = BATCH,
) -> dict[str, np.ndarray]:
    """:func:`record` over all of ``x`` (N, 28, 28) in batches: ``{name: (T, N, H)}`` arrays.

    Name only what you need: every name costs ``4·T·N·H`` bytes.
    """
    check_images(x)
    with record(model, names) as trace:
        for images in batches(model, x, batch_size):
            model(images)
        return {name: trace[name].cpu().numpy() for name in trace}


# -- readout by step ------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Readout:
    r"""The head applied to every step's output, as if that step were the last.

    With :math:`y_t` the last layer's output at step :math:`t` and
    :math:`p_t = \operatorname{softmax}(\text{head}(y_t))`, ``predictions[t-1]`` is
    :math:`\arg\max p_t` and ``confidence[t-1]`` is :math:`\max p_t`, for each image.
    """

    predictions: np.ndarray  # (T, N) int64: the predicted digit after each step
    confidence: np.ndarray  # (T, N) float32: the largest softmax probability after each step
    labels: np.ndarray  # (N,) int64: the true digits

    @property
    def steps(self) -> int:
        return self.predictions.shape[0]

    @property
    def correct(self) -> np.ndarray:
        """(T, N) bool: whether each step's prediction is the true digit."""
        return self.predictions == self.labels[None, :]

    @property
    def accuracy(self) -> np.ndarray:
        """(T,): the fraction of images predicted correctly after each step."""
        return self.correct.mean(axis=1)

    @property
    def mean_confidence(self) -> np.ndarray:
        """(T,): the mean over images of the largest softmax probability after each step."""
        return self.confidence.mean(axis=1)

    def last_steps(self, k: int = 5) -> np.ndarray:
        """Accuracy at the last ``k`` steps, from the last backwards: steps T, T-1, ….

        The order of report B's list. (The assignment's plotting cell took ``[:5]``, the
        *first* five steps, where it meant these, ``[-5:]``.)
        """
        if not 1 <= k <= self.steps:
            raise ValueError(f"k must be between 1 and {self.steps}, got {k}")
        return self.accuracy[::-1][:k].copy()

    def decision_steps(self) -> np.ndarray:
        """(N,): :func:`decision_steps` of :attr:`correct`."""
        return decision_steps(self.correct)

    def steps_within(self, tolerance: float = 0.01) -> int:
        """How many steps before the last the accuracy first comes within ``tolerance`` of
        its value at the last step (0: only at the last step).

        "First": a later dip below the band does not count against it.
        """
        first = int(np.flatnonzero(self.accuracy >= self.accuracy[-1] - tolerance)[0]) + 1
        return self.steps - first  # first is a step, 1..T


@torch.no_grad()
def readout(
    model: nn.Module, x: np.ndarray | Tensor, y: np.ndarray | Tensor, batch_size: int = BATCH
) -> Readout:
    """Per-step predictions of ``model`` on images ``x`` (N, 28, 28) with labels ``y`` (N,).

    Uses ``model(x, every_step=True)``, the trained head on each step's output, so the
    last step's prediction is the model's own.
    """
    check_images(x)
    labels = np.asarray(torch.as_tensor(y).cpu(), dtype=np.int64)
    if len(labels) != len(x):
        raise ValueError(f"{len(x)} images but {len(labels)} labels")
    was_training = model.training
    model.eval()
    predictions, confidence = [], []
    try:
        for images in batches(model, x, batch_size):
            logits = model(images, every_step=True)
            p, k = torch.softmax(logits, dim=-1).max(dim=-1)  # (T, B) each
            predictions.append(k.cpu())
            confidence.append(p.cpu())
    finally:
        model.train(was_training)
    return Readout(
        torch.cat(predictions, dim=1).numpy().astype(np.int64),
        torch.cat(confidence, dim=1).numpy(),
        labels,
    )


def decision_steps(correct: np.ndarray) -> np.ndarray:
    r"""The first step after which each prediction stays correct.

    ``correct`` (T, N) bool. For image ``n`` the result is the smallest :math:`t \ge 1`
    with ``correct[s-1, n]`` true for every :math:`s \ge t`, or :data:`UNDECIDED` when the
    last step is wrong. A decision at step 1 means right from the first row on.
    """
    correct = np.asarray(correct, dtype=bool)
    if correct.ndim != 2:
        raise ValueError(f"expected correct shaped (T, N), got {correct.shape}")
    # stays[t, n]: steps t+1..T are all correct (a running AND from the end)
    stays = np.logical_and.accumulate(correct[::-1], axis=0)[::-1]
    first = np.argmax(stays, axis=0) + 1  # argmax finds the first True
    return np.where(stays[-1], first, UNDECIDED)


def first_of_each(labels: np.ndarray | Tensor, digits: Sequence[int]) -> list[int]:
    """The index of the first image of each of ``digits`` in ``labels`` (N,), in order."""
    labels = np.asarray(torch.as_tensor(labels).cpu())
    missing = [d for d in digits if not np.any(labels == d)]
    if missing:
        raise ValueError(f"no image of digit(s) {missing} among {len(labels)} labels")
    return [int(np.flatnonzero(labels == d)[0]) for d in digits]
