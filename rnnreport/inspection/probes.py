r"""Look inside a trained classifier as the rows arrive: states, gates, readout, saliency.

Everything here takes a trained :class:`~rnnreport.model.classifier.Classifier` (or, for
:func:`record`, its :class:`~rnnreport.model.rnn.RNN`) and images ``x`` (N, 28, 28), row
``t`` being the input at step ``t``. Steps are counted from 1, like the equations: step
``t`` is the state after reading rows ``1..t``, and "row ``t``" is the ``t``-th row from
the top.

* :func:`record` captures, per layer ``l``, the outputs :math:`h_t` and every gate
  activation (for the LSTM also the cell state :math:`c_t`) under stable names
  ``layer{l}.{name}``: ``i, f, j, o, c, h`` for the LSTM, ``z, r, h_tilde, h`` for the GRU.
  :func:`trace_dataset` does the same over a whole split, in batches.
* :func:`readout` feeds every step's output into the trained head as if it were the last:
  per-step predictions and confidences (:class:`Readout`), from which
  :func:`decision_steps` finds when each prediction settles.
* :func:`gate_saturation` counts, per unit, how often each sigmoid gate is left-saturated
  (:math:`< 0.1`) or right-saturated (:math:`> 0.9`), after Karpathy, Johnson and Fei-Fei
  (2015).
* :func:`row_saliency` is the size of the gradient of the true class's logit with respect
  to each input row.
* :func:`state_statistics`, :func:`largest_spread`, :func:`phases`, :func:`phase_shares`,
  :func:`mean_by_phase` and :func:`mean_by_step` summarise a state or a gate over time: how
  far apart the images' states are, and what a gate does before, on and after the ink of
  each digit.
* The ink itself: :func:`first_ink_rows`, :func:`last_ink_rows`, :func:`ink_by_row`,
  :func:`ink_so_far`, :func:`ink_to_come`; :func:`first_of_each` picks an example image of
  each digit.

What these measurements say, as table rows and sentences, is
:mod:`rnnreport.inspection.readings`.

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

SIGMOID_GATES = ("i", "f", "o", "z", "r")
"""Gates whose values lie in (0, 1): the LSTM's input, forget and output gates, the GRU's
update and reset gates. Saturation is counted for these."""

LOW, HIGH = 0.1, 0.9
"""Karpathy et al.'s thresholds: a gate below ``LOW`` is left-saturated, above ``HIGH``
right-saturated."""

UNDECIDED = -1
"""The decision step of an image whose prediction at the last step is wrong."""

BATCH = 1000


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
    unchanged, bit for bit. On leaving the block,
    normally or by an exception, the observer is removed and the model is exactly as
    before: same parameters, same mode, no hooks.
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


def _device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def _check_images(x: np.ndarray | Tensor) -> None:
    if len(x.shape) != 3 or len(x) == 0:
        raise ValueError(
            f"expected at least one image, shaped (N, rows, pixels): got {tuple(x.shape)}"
        )


def _images(x: np.ndarray | Tensor, device: torch.device) -> Tensor:
    """(N, 28, 28) as float32 on ``device``."""
    _check_images(x)
    x = torch.as_tensor(x)
    return x.to(device=device, dtype=torch.float32)


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
    _check_images(x)
    device = _device(model)
    with record(model, names) as trace:
        for start in range(0, len(x), batch_size):
            model(_images(x[start : start + batch_size], device))
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
    _check_images(x)
    labels = np.asarray(torch.as_tensor(y).cpu(), dtype=np.int64)
    if len(labels) != len(x):
        raise ValueError(f"{len(x)} images but {len(labels)} labels")
    device = _device(model)
    was_training = model.training
    model.eval()
    predictions, confidence = [], []
    try:
        for start in range(0, len(x), batch_size):
            logits = model(_images(x[start : start + batch_size], device), every_step=True)
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


def _inked_rows(x: np.ndarray | Tensor) -> np.ndarray:
    """(N, rows) bool: whether each row of each image has any ink."""
    x = np.asarray(torch.as_tensor(x).cpu())
    if x.ndim != 3:
        raise ValueError(f"expected images shaped (N, rows, pixels), got {x.shape}")
    return (x > 0).any(axis=2)


def last_ink_rows(x: np.ndarray | Tensor) -> np.ndarray:
    """(N,): the row (1..28) of each image's lowest inked pixel; 0 for a blank image.

    Compared with :func:`decision_steps`: the row after which nothing new arrives.
    """
    inked = _inked_rows(x)  # (N, rows)
    last = inked.shape[1] - np.argmax(inked[:, ::-1], axis=1)  # (N,) 1-based
    return np.where(inked.any(axis=1), last, 0)


def first_ink_rows(x: np.ndarray | Tensor) -> np.ndarray:
    """(N,): the row (1..28) of each image's highest inked pixel; 0 for a blank image."""
    inked = _inked_rows(x)  # (N, rows)
    return np.where(inked.any(axis=1), np.argmax(inked, axis=1) + 1, 0)


def ink_by_row(x: np.ndarray | Tensor) -> np.ndarray:
    """(rows,): the share of images with ink in each row."""
    return _inked_rows(x).mean(axis=0)


def ink_so_far(x: np.ndarray | Tensor) -> np.ndarray:
    """(T,): after each step ``t``, the share of images that have shown ink in rows 1..t."""
    first = first_ink_rows(x)  # (N,)
    t = np.arange(1, np.asarray(x).shape[1] + 1)[:, None]  # (T, 1)
    return ((first[None, :] >= 1) & (first[None, :] <= t)).mean(axis=1)


def ink_to_come(x: np.ndarray | Tensor) -> np.ndarray:
    """(T,): after each step ``t``, the share of images with ink in rows below ``t``."""
    last = last_ink_rows(x)  # (N,)
    t = np.arange(1, np.asarray(x).shape[1] + 1)[:, None]  # (T, 1)
    return (last[None, :] > t).mean(axis=1)


def first_of_each(labels: np.ndarray | Tensor, digits: Sequence[int]) -> list[int]:
    """The index of the first image of each of ``digits`` in ``labels`` (N,), in order."""
    labels = np.asarray(torch.as_tensor(labels).cpu())
    missing = [d for d in digits if not np.any(labels == d)]
    if missing:
        raise ValueError(f"no image of digit(s) {missing} among {len(labels)} labels")
    return [int(np.flatnonzero(labels == d)[0]) for d in digits]


# -- gate saturation ------------------------------------------------------------------------


def saturation_fractions(
    gate: np.ndarray | Tensor, low: float = LOW, high: float = HIGH
) -> tuple[np.ndarray, np.ndarray]:
    """Per unit, the fraction of (step, image) pairs with the gate below ``low`` and above
    ``high``: ``gate`` (T, B, H) -> ``(left (H,), right (H,))``."""
    g = torch.as_tensor(gate)
    if g.dim() != 3:
        raise ValueError(f"expected gate values shaped (T, B, H), got {tuple(g.shape)}")
    n = g.shape[0] * g.shape[1]
    left = (g < low).sum(dim=(0, 1)).double() / n
    right = (g > high).sum(dim=(0, 1)).double() / n
    return left.cpu().numpy(), right.cpu().numpy()


@dataclass(frozen=True, eq=False)
class GateSaturation:
    """How often one gate of one layer saturates, per unit (Karpathy et al. 2015)."""

    layer: int
    gate: str  # "i", "f", "o" (LSTM) or "z", "r" (GRU)
    left: np.ndarray  # (H,): fraction of steps below LOW
    right: np.ndarray  # (H,): fraction of steps above HIGH

    @property
    def name(self) -> str:
        return f"layer{self.layer}.{self.gate}"


@torch.no_grad()
def gate_saturation(
    model: nn.Module,
    x: np.ndarray | Tensor,
    low: float = LOW,
    high: float = HIGH,
    batch_size: int = BATCH,
) -> list[GateSaturation]:
    """:func:`saturation_fractions` of every sigmoid gate of every layer over images ``x``.

    Counted over all steps of all images, in batches, without keeping the gates. One entry
    per (layer, gate), in the model's order.
    """
    _check_images(x)
    names = [n for n in trace_names(model) if n.split(".")[1] in SIGMOID_GATES]
    device = _device(model)
    left: dict[str, Tensor] = {}
    right: dict[str, Tensor] = {}
    count = 0
    for start in range(0, len(x), batch_size):
        with record(model, names) as trace:
            model(_images(x[start : start + batch_size], device))
        for name in names:
            g = trace[name]
            left[name] = left.get(name, 0) + (g < low).sum(dim=(0, 1)).double()
            right[name] = right.get(name, 0) + (g > high).sum(dim=(0, 1)).double()
        count += g.shape[0] * g.shape[1]
    out = []
    for name in names:
        layer, gate = name.split(".")
        out.append(
            GateSaturation(
                int(layer.removeprefix("layer")),
                gate,
                (left[name] / count).cpu().numpy(),
                (right[name] / count).cpu().numpy(),
            )
        )
    return out


# -- saliency -------------------------------------------------------------------------------


def row_saliency(
    model: nn.Module, x: np.ndarray | Tensor, y: np.ndarray | Tensor, batch_size: int = BATCH
) -> np.ndarray:
    r"""Per image and row, the size of the true-class logit's gradient with respect to it.

    .. math::
        s_{n,t} = \left\lVert \frac{\partial\, \text{logit}_{y_n}(x_n)}{\partial x_{n,t}}
        \right\rVert_2

    where :math:`x_{n,t}` is row :math:`t` of image :math:`n` (28 pixels). The pixels are
    0 or 1; the gradient says how much the logit would move for a small change of the
    row, a local measure of how much the decision still depends on it. Returns (N, 28);
    average over images for the test-set curve. Parameter gradients are left untouched.
    """
    _check_images(x)
    labels = torch.as_tensor(y, dtype=torch.long)
    if len(labels) != len(x):
        raise ValueError(f"{len(x)} images but {len(labels)} labels")
    device = _device(model)
    was_training = model.training
    model.eval()
    out = []
    try:
        for start in range(0, len(x), batch_size):
            xb = _images(x[start : start + batch_size], device).requires_grad_()
            yb = labels[start : start + batch_size].to(device)
            with torch.enable_grad():
                logits = model(xb)  # (B, 10)
                true = logits.gather(1, yb[:, None]).sum()
                (grad,) = torch.autograd.grad(true, xb)  # (B, 28, 28)
            out.append(grad.norm(dim=2).cpu())
    finally:
        model.train(was_training)
    return torch.cat(out).numpy()


# -- summaries over time --------------------------------------------------------------------


def state_statistics(h: np.ndarray | Tensor) -> dict[str, np.ndarray]:
    r"""How a recorded state (T, N, H) moves over time, summarised per step.

    * ``spread`` (T,): the standard deviation across the N images, averaged over units:
      0 when every image has put the network in the same state;
    * ``magnitude`` (T,): the mean of :math:`|h_{t,n,k}|` over images and units;
    * ``change`` (T,): the mean over images of :math:`\lVert h_t - h_{t-1} \rVert_2`, with
      :math:`h_0 = 0`.
    """
    h = np.asarray(torch.as_tensor(h).cpu(), dtype=np.float64)
    if h.ndim != 3:
        raise ValueError(f"expected a state shaped (T, N, H), got {h.shape}")
    previous = np.concatenate([np.zeros_like(h[:1]), h[:-1]])
    return {
        "spread": h.std(axis=1).mean(axis=1),
        "magnitude": np.abs(h).mean(axis=(1, 2)),
        "change": np.linalg.norm(h - previous, axis=2).mean(axis=1),
    }


def largest_spread(h: np.ndarray | Tensor, among: np.ndarray, steps: int) -> float:
    """The largest standard deviation of any unit across the images ``among`` (N,) bool,
    over the first ``steps`` steps of a recorded state ``h`` (T, N, H).

    0 when those images share one state at every one of those steps.
    """
    h = np.asarray(torch.as_tensor(h).cpu())
    among = np.asarray(among, dtype=bool)
    if h.ndim != 3 or among.shape != (h.shape[1],):
        raise ValueError(f"expected h (T, N, H) and among (N,): got {h.shape} and {among.shape}")
    if not among.any():
        raise ValueError("no image selected: `among` is all False")
    return max(float(h[t][among].std(axis=0).max()) for t in range(steps))


PHASES = ("before the ink", "on the ink", "after the ink")
"""Where a step lies in its image: above the first inked row, between the first and the last
inked rows (both included), below the last one."""


def phases(x: np.ndarray | Tensor) -> np.ndarray:
    """(T, N) int: the index into :data:`PHASES` of each step of each image (N, T, pixels).

    A blank image is all "before the ink".
    """
    first, last = first_ink_rows(x), last_ink_rows(x)
    T = np.asarray(x).shape[1]
    t = np.arange(1, T + 1)[:, None]  # (T, 1)
    blank = first == 0
    before = blank[None, :] | (t < first[None, :])
    after = ~blank[None, :] & (t > last[None, :])
    return np.where(before, 0, np.where(after, 2, 1))


def phase_shares(x: np.ndarray | Tensor) -> np.ndarray:
    """(len(PHASES),): the share of (step, image) pairs of images ``x`` in each phase."""
    where = phases(x)
    return np.array([np.mean(where == k) for k in range(len(PHASES))])


def mean_by_phase(
    model: nn.Module,
    x: np.ndarray | Tensor,
    names: Sequence[str],
    batch_size: int = BATCH,
) -> dict[str, np.ndarray]:
    """For each recorded name, its mean over units and (step, image) pairs in each phase.

    Returns ``{name: (len(PHASES),)}``; NaN for a phase no step falls in. Computed in
    batches, without keeping the trace.
    """
    _check_images(x)
    return _mean_by(model, x, names, torch.as_tensor(phases(x)), len(PHASES), batch_size)


def mean_by_step(
    model: nn.Module,
    x: np.ndarray | Tensor,
    names: Sequence[str],
    batch_size: int = BATCH,
) -> dict[str, np.ndarray]:
    """For each recorded name, its mean over units and images at each step: ``{name: (T,)}``.

    Computed in batches, without keeping the trace.
    """
    _check_images(x)
    T, N = x.shape[1], len(x)  # images (N, T, 28): step t reads row t
    steps = torch.arange(T).unsqueeze(1).expand(T, N)  # (T, N): each pair's own step
    return _mean_by(model, x, names, steps, T, batch_size)


@torch.no_grad()
def _mean_by(
    model: nn.Module,
    x: np.ndarray | Tensor,
    names: Sequence[str],
    groups: Tensor,
    k: int,
    batch_size: int,
) -> dict[str, np.ndarray]:
    """Per name, the mean over units and (step, image) pairs of each of ``k`` groups;
    ``groups`` (T, N) gives each pair's group. Runs in batches, keeping no trace."""
    device = _device(model)
    sums = {n: torch.zeros(k, dtype=torch.float64) for n in names}
    counts = torch.zeros(k, dtype=torch.float64)
    for start in range(0, len(x), batch_size):
        with record(model, names) as trace:
            model(_images(x[start : start + batch_size], device))
        group = groups[:, start : start + batch_size].flatten()  # (T·B,)
        for name in names:
            per_pair = trace[name].double().mean(dim=2).cpu()  # (T, B): mean over units
            sums[name].index_add_(0, group, per_pair.flatten())
        counts.index_add_(0, group, torch.ones(group.numel(), dtype=torch.float64))
    return {n: (s / counts).numpy() for n, s in sums.items()}
