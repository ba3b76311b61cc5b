r"""Measures over images and recordings: ink, phases, how states move, saturation, saliency.

Images ``x`` are (N, 28, 28), row ``t`` read at step ``t`` (steps counted from 1, as in
:mod:`rnnreport.inspection.probes`); recorded states and gates are (T, N, H).

* The ink of each image: :func:`first_ink_rows`, :func:`last_ink_rows`,
  :func:`ink_by_row`, :func:`ink_so_far`, :func:`ink_to_come`.
* Where a step lies in its image (:data:`PHASES`: before, on, after the ink):
  :func:`phases`, :func:`phase_shares`; a recorded name averaged per phase or per step:
  :func:`mean_by_phase`, :func:`mean_by_step`.
* How a recorded state moves: :func:`state_statistics`, :func:`largest_spread`.
* How often each sigmoid gate is left-saturated (:math:`< 0.1`) or right-saturated
  (:math:`> 0.9`), per unit, after Karpathy, Johnson and Fei-Fei (2015):
  :func:`saturation_fractions`, :func:`gate_saturation`.
* :func:`row_saliency`: the size of the gradient of the true class's logit with respect to
  each input row; :func:`mean_row_saliency`, its mean over images.

Functions that take a model run it in batches through
:func:`~rnnreport.inspection.probes.traced_batches` and keep no trace.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from .probes import BATCH, batches, check_images, trace_names, traced_batches

SIGMOID_GATES = ("i", "f", "o", "z", "r")
"""Gates whose values lie in (0, 1): the LSTM's input, forget and output gates, the GRU's
update and reset gates. Saturation is counted for these."""

LOW, HIGH = 0.1, 0.9
"""Karpathy et al.'s thresholds: a gate below ``LOW`` is left-saturated, above ``HIGH``
right-saturated."""


# -- ink ------------------------------------------------------------------------------------


def _inked_rows(x: np.ndarray | Tensor) -> np.ndarray:
    """(N, rows) bool: whether each row of each image has any ink."""
    x = np.asarray(torch.as_tensor(x).cpu())
    if x.ndim != 3:
        raise ValueError(f"expected images shaped (N, rows, pixels), got {x.shape}")
    return (x > 0).any(axis=2)


def last_ink_rows(x: np.ndarray | Tensor) -> np.ndarray:
    """(N,): the row (1..28) of each image's lowest inked pixel; 0 for a blank image.

    Compared with :func:`~rnnreport.inspection.probes.decision_steps`: the row after which
    nothing new arrives.
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


# -- phases ---------------------------------------------------------------------------------


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
    check_images(x)
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
    check_images(x)
    T, N = x.shape[1], len(x)  # images (N, T, 28): step t reads row t
    steps = torch.arange(T).unsqueeze(1).expand(T, N)  # (T, N): each pair's own step
    return _mean_by(model, x, names, steps, T, batch_size)


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
    sums = {n: torch.zeros(k, dtype=torch.float64) for n in names}
    counts = torch.zeros(k, dtype=torch.float64)
    start = 0
    for trace in traced_batches(model, x, names, batch_size):
        size = trace[names[0]].shape[1]
        group = groups[:, start : start + size].flatten()  # (T·B,)
        start += size
        for name in names:
            per_pair = trace[name].double().mean(dim=2).cpu()  # (T, B): mean over units
            sums[name].index_add_(0, group, per_pair.flatten())
        counts.index_add_(0, group, torch.ones(group.numel(), dtype=torch.float64))
    return {n: (s / counts).numpy() for n, s in sums.items()}


# -- how a state moves ----------------------------------------------------------------------


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
    check_images(x)
    names = [n for n in trace_names(model) if n.split(".")[1] in SIGMOID_GATES]
    left: dict[str, Tensor] = {}
    right: dict[str, Tensor] = {}
    count = 0
    for trace in traced_batches(model, x, names, batch_size):
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
    check_images(x)
    labels = torch.as_tensor(y, dtype=torch.long)
    if len(labels) != len(x):
        raise ValueError(f"{len(x)} images but {len(labels)} labels")
    was_training = model.training
    model.eval()
    out = []
    start = 0
    try:
        for images in batches(model, x, batch_size):
            images.requires_grad_()
            yb = labels[start : start + len(images)].to(images.device)
            start += len(images)
            with torch.enable_grad():
                logits = model(images)  # (B, 10)
                true = logits.gather(1, yb[:, None]).sum()
                (grad,) = torch.autograd.grad(true, images)  # (B, 28, 28)
            out.append(grad.norm(dim=2).cpu())
    finally:
        model.train(was_training)
    return torch.cat(out).numpy()


def mean_row_saliency(
    model: nn.Module, x: np.ndarray | Tensor, y: np.ndarray | Tensor, batch_size: int = BATCH
) -> np.ndarray:
    """(28,): :func:`row_saliency` averaged over the images ``x``."""
    return row_saliency(model, x, y, batch_size).mean(axis=0)
