r"""Where an LSTM training step's time goes, phase by phase, on the fast path's compiled steps.

:func:`lstm_phases` runs the training step of the assignment's classifier (forward,
backward, Adam, as :mod:`rnnreport.bench` times it) operation by operation as the fast path
runs it with the compiled kernel (:func:`~rnnreport.model.fast_forward.lstm_forward`,
``LSTMThroughTime.backward``), and reads a clock between operations. Each interval goes to
the phase of the operation it ends with, so the phases add up to the whole step:

* **input projection**: :math:`x_t U + b` of every step, the fold of the embedding into
  the first layer (:func:`~rnnreport.model.fast_forward.fold`) and, backward,
  :math:`\partial L/\partial U`, :math:`\partial L/\partial b`, the upper layers'
  :math:`\delta x` and the fold's gradient;
* **recurrent matmul**: :math:`h_{t-1} W` of every step and, backward,
  :math:`\delta a_t W^\top` of every step and :math:`\partial L/\partial W`;
* **element-wise forward** and **backward**: the kernel's calls (``steps.c``), each with
  the Python call that makes it;
* **head**: ReLU, FC 64, ReLU, FC 10 and the loss, forward and backward (autograd);
* **Adam**: the optimizer's step;
* **rest**: what lies between (scaling the weights, allocating the step's buffers, the
  gradient's zeros, ``zero_grad``).

A replay, not a hook: the fast path has no timers in it (its code is part of every trained
model's cache key). ``tests/test_phases.py`` holds the replay to the model's own training
step: the same gradients and the same weights after Adam, bit for bit. The replayed step
and the model's own are timed interleaved in the same run, so the two totals show what the
clock costs. Each phase is reported at its fastest over the repeats: where other processes
share the cores, a slice of time they take lands in one phase or another of a step, and the
fastest of each is the least disturbed (their sum is below the fastest whole step by what
no step escaped). :func:`phase_flops` splits
:func:`rnnreport.bench.training_flops` the same way, which gives each matmul phase its
GFLOP/s.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from .model import compiled
from .model.cells import LSTMCell
from .model.classifier import CLASSES, HEAD_UNITS, PIXELS, STEPS, ModelConfig, build_model
from .model.fast_forward import fold, rows_like
from .training.fitting import adam

STEP_PHASES = (
    "input projection",
    "recurrent matmul",
    "element-wise forward",
    "element-wise backward",
    "head",
    "Adam",
    "rest",
)
"""The phases of a training step, in the order :meth:`PhaseProfile.table` lists them."""


@dataclass(frozen=True)
class PhaseProfile:
    """One LSTM config: each phase's fastest seconds over the repeats, and the fastest and
    median whole steps, replayed and the model's own."""

    name: str  # the config's name, e.g. "lstm-1x32"
    seconds: dict[str, float]  # phase -> its fastest over the repeats, seconds per step
    flops: dict[str, int]  # phase -> matmul FLOPs per step (phase_flops)
    replayed_s: float  # the fastest replayed step, clock included
    step_s: float  # the fastest of the model's own training steps, timed interleaved
    replayed_median_s: float  # the medians of both over the repeats
    step_median_s: float
    repeats: int

    def table(self, peak_gflops: float = 0.0) -> str:
        """The phases as plain-text rows: ms, share of their sum, GFLOP/s and, given the
        matmul peak, its share."""
        total = sum(self.seconds.values())
        lines = [
            f"{self.name}: where a training step's time goes, each phase's fastest of"
            f" {self.repeats}: {total * 1e3:.2f} ms in all; whole steps, fastest (median):"
            f" replayed {self.replayed_s * 1e3:.2f} ({self.replayed_median_s * 1e3:.2f}) ms,"
            f" the model's own {self.step_s * 1e3:.2f} ({self.step_median_s * 1e3:.2f}) ms",
            f"  {'phase':<22} {'ms':>7} {'share':>6} {'GFLOP/s':>8} {'of peak':>8}",
        ]
        for phase in STEP_PHASES:
            seconds, flops = self.seconds[phase], self.flops.get(phase, 0)
            rate = flops / seconds / 1e9 if flops and seconds else 0.0
            of_peak = f"{rate / peak_gflops:8.0%}" if peak_gflops else ""
            lines.append(
                f"  {phase:<22} {seconds * 1e3:7.2f} {seconds / total:6.0%} "
                + (f"{rate:8.1f} {of_peak}" if rate else "")
            )
        return "\n".join(line.rstrip() for line in lines)


def phase_flops(config: ModelConfig, batch_size: int | None = None) -> dict[str, int]:
    """Matmul FLOPs per phase of one training step (2 per multiply-add), the phases of
    :data:`STEP_PHASES` that have any; they add up to ``bench.training_flops(config)``."""
    B, T, H, L = batch_size or config.batch_size, STEPS, config.units, config.layers
    n = 4 * H  # an LSTM's gate columns
    # forward x U, backward dU, and δx for the layers above the first; the fold E^T U
    # forward, and its two gradients
    first, above = 2 * T * B * PIXELS * n, 2 * T * B * H * n
    inputs = 2 * first + (L - 1) * 3 * above + 3 * 2 * PIXELS * H * n
    # forward h W at every step, backward δa W^T at every step but the first (no one asks
    # for h_0's gradient), and dW
    recurrent = L * (3 * T - 1) * 2 * B * H * n
    head = 3 * 2 * B * (H * HEAD_UNITS + HEAD_UNITS * CLASSES)  # forward, weights', inputs'
    return {"input projection": inputs, "recurrent matmul": recurrent, "head": head}


def lstm_phases(
    config: ModelConfig,
    *,
    batch_size: int = 256,
    warmup: int = 3,
    repeats: int = 10,
    threads: int | None = None,
) -> PhaseProfile:
    """Time each phase of ``config``'s training step (an LSTM; on the CPU, with the
    compiled kernel), the replay and the model's own step interleaved.

    :func:`rnnreport.bench.benchmark` calls it with ``phases=True`` after setting the
    process's allocator to keep freed memory, as the training workers do; called alone, it
    leaves the allocator as it is, and a step may pay page faults for fresh buffers.
    """
    if config.cell != "lstm":
        raise ValueError(f"the phase profile is of the LSTM's step, got {config.name}")
    if compiled.kernel() is None:
        raise RuntimeError(f"the phase profile times the compiled steps: {compiled.status()}")
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        return _profile(config, batch_size, warmup, repeats)
    finally:
        torch.set_num_threads(before)


def _profile(config: ModelConfig, batch_size: int, warmup: int, repeats: int) -> PhaseProfile:
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(batch_size, STEPS, PIXELS, generator=g) > 0.5).float()
    y = torch.randint(0, CLASSES, (batch_size,), generator=g)
    replayed, own = build_model(config), build_model(config)
    replay = Replay(replayed, adam(replayed, lr=1e-3))
    own_step = training_step(own, x, y)
    laps: list[dict[str, float]] = []
    own_s: list[float] = []
    for r in range(warmup + repeats):
        for k in (0, 1) if r % 2 == 0 else (1, 0):  # neither always on a warmer cache
            start = time.perf_counter()
            seconds = replay.step(x, y) if k == 0 else own_step()
            if r >= warmup and seconds is not None:
                laps.append(seconds)
            elif r >= warmup:
                own_s.append(time.perf_counter() - start)
    totals = [sum(lap.values()) for lap in laps]
    return PhaseProfile(
        name=config.name,
        seconds={phase: min(lap[phase] for lap in laps) for phase in STEP_PHASES},
        flops=phase_flops(config, batch_size),
        replayed_s=min(totals),
        step_s=min(own_s),
        replayed_median_s=statistics.median(totals),
        step_median_s=statistics.median(own_s),
        repeats=repeats,
    )


def training_step(model: nn.Module, x: Tensor, y: Tensor) -> Callable[[], None]:
    """One Adam step on ``(x, y)`` with the training's loss (cross-entropy summed): the
    model's own step, as the benchmark times it and as the replay is held to."""
    optimizer = adam(model, lr=1e-3)
    model.train()

    def step() -> None:
        loss = F.cross_entropy(model(x), y, reduction="sum")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


class _Clock:
    """Seconds per phase: :meth:`lap` gives the time since the last lap to a phase."""

    def __init__(self) -> None:
        self.seconds = dict.fromkeys(STEP_PHASES, 0.0)
        self.last = time.perf_counter()

    def lap(self, phase: str) -> None:
        now = time.perf_counter()
        self.seconds[phase] += now - self.last
        self.last = now


class Replay:
    """A classifier's LSTM training step (forward, backward, Adam) op by op as the fast path
    runs it with the compiled kernel, with a clock read between the operations."""

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer) -> None:
        kernel = compiled.kernel()
        if kernel is None or model.config.cell != "lstm":
            raise ValueError("a replay is of an LSTM classifier's step on the compiled kernel")
        self.model, self.optimizer, self.kernel = model, optimizer, kernel

    def step(self, images: Tensor, labels: Tensor) -> dict[str, float]:
        """One training step on ``(images, labels)``; returns the seconds of each phase."""
        clock = _Clock()
        model, cells = self.model, self.model.rnn.cells
        x = images.transpose(0, 1).float()  # (T, B, 28): rows are time steps
        saved = []
        for l, cell in enumerate(cells):
            U, b = fold(model.embed if l == 0 else None, cell.U, cell.b)
            clock.lap("input projection")
            with torch.no_grad():
                h, g, c, tanh_c = self._forward(cell, x, U, b, clock)
            saved.append((x, U, b, h, g, c, tanh_c))
            x = h
        last = x[-1].detach().requires_grad_()  # (B, H): what the head reads
        clock.lap("rest")
        loss = F.cross_entropy(model.head(last), labels, reduction="sum")
        clock.lap("head")
        self.optimizer.zero_grad(set_to_none=True)
        clock.lap("rest")
        loss.backward()
        clock.lap("head")
        dy = torch.zeros_like(x)  # (T, B, H): only the last step reaches the head
        dy[-1] = last.grad
        clock.lap("rest")
        for l in range(len(cells) - 1, -1, -1):
            dy = self._backward(cells[l], *saved[l], dy, first=l == 0, clock=clock)
        self.optimizer.step()
        clock.lap("Adam")
        return clock.seconds

    def _forward(
        self, cell: LSTMCell, x: Tensor, U: Tensor, b: Tensor, clock: _Clock
    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """``lstm_forward`` with the kernel: (h, g, c, tanh_c), each step's ops timed."""
        (T, B, _), n = x.shape, U.shape[1]
        H = n // 4
        I, J, F_, O = (cell.columns(H, gate) for gate in "ijfo")
        scale = U.new_ones(n)  # the j block doubled: tanh a = 2σ(2a) - 1
        scale[J] = 2
        shift = U.new_zeros(n)
        shift[F_] = cell.forget_bias
        b_hat = torch.addcmul(shift, b, scale)
        U_hat, W_hat = U * scale, cell.W * scale
        h, c, tanh_c = (x.new_empty(T, B, H) for _ in range(3))
        g = x.new_empty(T, B, n)
        h_0, c_0 = cell.initial_state(B, x)
        c_0 = rows_like(c_0, h)
        blocks = (I.start, J.start, F_.start, O.start)
        rows, x_rows, h_rows = g.unbind(), x.unbind(), h.unbind()
        g_at, c_at, tanh_c_at, h_at = (compiled.rows(v) for v in (g, c, tanh_c, h))
        c_prev_at = [c_0.data_ptr(), *c_at[:-1]]
        h_t = h_0
        clock.lap("rest")
        for t in range(T):
            torch.addmm(b_hat, x_rows[t], U_hat, out=rows[t])
            clock.lap("input projection")
            rows[t].addmm_(h_t, W_hat)
            clock.lap("recurrent matmul")
            self.kernel.lstm_forward(
                B, H, *blocks, g_at[t], c_prev_at[t], c_at[t], tanh_c_at[t], h_at[t]
            )
            clock.lap("element-wise forward")
            h_t = h_rows[t]
        return h, g, c, tanh_c

    def _backward(
        self,
        cell: LSTMCell,
        x: Tensor,
        U: Tensor,
        b: Tensor,
        h: Tensor,
        g: Tensor,
        c: Tensor,
        tanh_c: Tensor,
        dy: Tensor,
        *,
        first: bool,
        clock: _Clock,
    ) -> Tensor:
        """``LSTMThroughTime.backward`` with the kernel: sets the layer's gradients (the
        first layer's through the fold) and returns δx, the gradient of its input."""
        T, B, H = h.shape
        D = x.shape[-1]
        h_0, c_0 = cell.initial_state(B, h)
        c_0 = rows_like(c_0, c)
        blocks = tuple(LSTMCell.blocks.index(gate) * H for gate in "ijfo")
        da = c.new_empty(T, B, 4 * H)
        dh, dc = dy[T - 1].contiguous(), c.new_zeros(B, H)  # δh_t, δc_t from T - 1 down
        da_rows, dy_rows = da.unbind(), dy.unbind()
        g_at, tanh_c_at, da_at = (compiled.rows(v) for v in (g, tanh_c, da))
        c_prev_at = [c_0.data_ptr(), *compiled.rows(c)[:-1]]
        W_T = cell.W.T
        clock.lap("rest")
        for t in range(T - 1, -1, -1):
            dh_at, dc_at = dh.data_ptr(), dc.data_ptr()
            self.kernel.lstm_backward(
                B, H, *blocks, g_at[t], c_prev_at[t], tanh_c_at[t], dh_at, dc_at, da_at[t]
            )
            clock.lap("element-wise backward")
            if t > 0:
                dh = torch.addmm(dy_rows[t - 1], da_rows[t], W_T)
                clock.lap("recurrent matmul")
        h_prev = torch.cat([h_0.unsqueeze(0), h[:-1]])  # (T, B, H): each step's h_{t-1}
        clock.lap("rest")
        rows = da.view(T * B, 4 * H)
        cell.W.grad = h_prev.reshape(T * B, H).T @ rows
        clock.lap("recurrent matmul")
        dx = None if first else (rows @ U.T).view(T, B, D)
        dU, db = x.reshape(T * B, D).T @ rows, rows.sum(0)
        if first:  # through the fold to the embedding and the layer's own U, b
            torch.autograd.backward((U, b), (dU, db))
        else:
            cell.U.grad, cell.b.grad = dU, db
        clock.lap("input projection")
        return dx


def profile_all(configs: Sequence[ModelConfig], **settings: int | None) -> tuple[PhaseProfile, ...]:
    """:func:`lstm_phases` of every LSTM among ``configs`` (keyword settings passed on)."""
    return tuple(lstm_phases(c, **settings) for c in configs if c.cell == "lstm")
