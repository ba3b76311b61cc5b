r"""How fast the library's cells train, next to torch.nn's fused LSTM and GRU.

For each config of the grid, :func:`benchmark` times one whole training step of the
assignment's classifier (forward, backward, Adam step on a batch of 256 sequences) twice:
with our :class:`~rnnreport.model.rnn.RNN`, and with the same classifier whose recurrent part
is ``torch.nn.LSTM`` / ``torch.nn.GRU``. The two are timed in the same run, interleaved
step by step, after a few warm-up steps; each figure is the median over the repeats, so a
burst of load from another process moves both and the *ratio* stays meaningful. The
fastest repeats give a second ratio, the one least disturbed by other processes.
``threads=1`` (``--threads 1``) measures what each of several training processes running
side by side gets; many small multi-threaded operations suffer most when other processes
hold the cores.

torch.nn.GRU resets after its recurrent matmul; the grid's GRU (TF1's) resets before. So
every GRU config is measured twice: as the grid trains it, and as ``…-after``, the same
function as torch's, for a like-for-like ratio.

Throughput is also set against the floating-point work. :func:`training_flops` counts the
multiply-adds of every matmul of one training step (2 FLOPs each), as the fast path runs
it: the embedding (28 → H) multiplied into the first layer's input projection
(:func:`~rnnreport.model.fast_forward.fold`), so that the first layer reads 28 pixels where the
model as written reads H embedded values:

.. math::
    F_\text{fwd} = 2TB\,(28\,nH + (L - 1)\,nH \cdot H + L\,nH \cdot H) + 2B\,(64H + 640)
        + 2 \cdot 28\,H \cdot nH,
    \qquad
    F_\text{step} = 3F_\text{fwd} - 2TB \cdot 28\,nH - L \cdot 2B\,H\,n_0H

with :math:`n = 4` (LSTM) or 3 (GRU) gate blocks: the backward pass does each matmul twice
(the gradient for its weight and for its input) except the input gradients nobody needs
(the pixels' and the zero initial state's; :math:`n_0 = n`, but 2 for the reset-before GRU,
whose :math:`r \odot h_0` still needs its gradient to reach :math:`r`); the last term of
:math:`F_\text{fwd}` is the fold's own product :math:`E^\top U`. To take one row of
pixels into the first layer, forward and backward together, the fold needs
:math:`56\,nH` multiply-adds where the model as written needs :math:`56H + 3\,nH^2`:
about half at 32 units, a seventh at 128 (more only below 14 units); the recurrent
products are the same. torch.nn's modules cannot fold; their count is ``folded=False``.
:func:`matmul_peak` measures what a large float32 matmul reaches on this machine in the
same run; ``F_step / seconds`` over that peak says how close a step comes to the
arithmetic limit.

At 32 units the matmuls are not what bounds a step: its element-wise work is. Every unit
of every layer takes, per time step, the cell's sigmoids and tanhs forward and one
derivative of each backward (:data:`NONLINEARITIES`: 3 σ and 2 tanh for the LSTM, 2 σ and
1 tanh for the GRU). :func:`elementwise_rates` measures, in the same run, how many
elements per second each of those kernels processes on a large tensor, and
:func:`elementwise_seconds` turns a config's counts into the least time they take: the
*element-wise limit*. A tanh is counted at the faster of torch's ``tanh`` and its
``sigmoid`` (tanh a = 2σ(2a) − 1, so a kernel need not pay more for it). The two limits
add, one thread doing both; the grid estimate scales the per-step times and both limits
up to the full grid's 10 epochs of 55,000 sequences (training steps only, no evaluation).

One benchmark, kept in one module: the timings, both limits and the table that sets them
side by side, headed by the machine that made it (:mod:`rnnreport.machine`: a ratio holds
for one kind of CPU); ``phases=True`` adds each LSTM's step phase by phase
(:mod:`rnnreport.phases`).
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from .experiments.grid import SHAPES
from .machine import Machine, this_machine
from .model import compiled
from .model.cells import CELLS
from .model.classifier import (
    CLASSES,
    HEAD_UNITS,
    PIXELS,
    STEPS,
    TRAIN_SEQUENCES,
    Classifier,
    ModelConfig,
    build_model,
)
from .phases import PhaseProfile, profile_all, training_step
from .training.engine import keep_freed_memory
from .training.records import default_device


def bench_configs() -> list[ModelConfig]:
    """The grid's 8 configs as trained, then the GRUs again resetting after (torch's math)."""
    grid = [ModelConfig(cell=c, layers=L, units=H) for c in CELLS for L, H in SHAPES]
    after = [ModelConfig(cell="gru", layers=L, units=H, reset="after") for L, H in SHAPES]
    return grid + after


def training_flops(
    config: ModelConfig, batch_size: int | None = None, *, folded: bool = True
) -> int:
    """Matmul FLOPs of one training step (forward + backward) of ``config``'s classifier.

    ``folded``: as the fast path runs it, the embedding multiplied into the first layer's
    input projection (:func:`~rnnreport.model.fast_forward.fold`); else as the model is written,
    which is what autograd on the reference path and torch.nn's modules run.
    """
    B, T, H, L = batch_size or config.batch_size, STEPS, config.units, config.layers
    n = 4 if config.cell == "lstm" else 3  # gate blocks per matmul
    n_0 = 2 if config.cell == "gru" and config.reset == "before" else n
    recurrent = L * 2 * T * B * H * n * H  # h W, every step, every layer
    head = 2 * B * (H * HEAD_UNITS + HEAD_UNITS * CLASSES)  # on the last step only
    h_0 = L * 2 * B * H * n_0 * H  # the zero initial states' gradients, asked by nobody
    if not folded:
        embed = 2 * T * B * PIXELS * H
        inputs = L * 2 * T * B * H * n * H  # x U, every layer
        return 3 * (embed + inputs + recurrent + head) - embed - h_0
    first = 2 * T * B * PIXELS * n * H  # pixels (E^T U), no gradient for the pixels
    above = (L - 1) * 2 * T * B * H * n * H  # x U of the layers above the first
    fold = 2 * PIXELS * H * n * H  # E^T U once per training step (e U, a vector: not counted)
    return 3 * (first + above + recurrent + head + fold) - first - h_0


NONLINEARITIES = {"lstm": {"sigmoid": 3, "tanh": 2}, "gru": {"sigmoid": 2, "tanh": 1}}
"""Sigmoids and tanhs per unit and time step of each cell's forward (i, f, o; j, tanh c —
z, r; h̃); its backward takes one derivative of each."""

ELEMENTWISE_KERNELS = ("sigmoid", "tanh", "sigmoid_backward", "tanh_backward")
"""The element-wise kernels whose throughput :func:`elementwise_rates` measures."""


def elementwise_counts(config: ModelConfig, batch_size: int | None = None) -> dict[str, int]:
    """Elements each of :data:`ELEMENTWISE_KERNELS` must process in one training step."""
    B, T, H, L = batch_size or config.batch_size, STEPS, config.units, config.layers
    per_step = NONLINEARITIES[config.cell]
    cells = L * T * B * H  # one per unit, layer, time step and sequence
    return {
        "sigmoid": per_step["sigmoid"] * cells,
        "tanh": per_step["tanh"] * cells,
        "sigmoid_backward": per_step["sigmoid"] * cells,
        "tanh_backward": per_step["tanh"] * cells,
    }


def elementwise_rates(
    device: torch.device | str | None = None, size: int = STEPS * 256 * 32, repeats: int = 5
) -> dict[str, float]:
    """Best elements per second of each of :data:`ELEMENTWISE_KERNELS` on ``size`` floats.

    The default size is one layer's gates at 32 units (T·B·H), a tensor that a training
    step really passes over.
    """
    device = torch.device(device or default_device())
    g = torch.Generator().manual_seed(0)
    a, y = (torch.randn(size, generator=g).to(device) for _ in range(2))
    out = torch.empty_like(a)
    aten = torch.ops.aten
    kernels = {
        "sigmoid": lambda: torch.sigmoid(a, out=out),
        "tanh": lambda: torch.tanh(a, out=out),
        "sigmoid_backward": lambda: aten.sigmoid_backward.grad_input(a, y, grad_input=out),
        "tanh_backward": lambda: aten.tanh_backward.grad_input(a, y, grad_input=out),
    }
    rates = {}
    for name, kernel in kernels.items():
        kernel()
        rates[name] = size / min(_time(kernel, device) for _ in range(repeats))
    return rates


def elementwise_seconds(counts: dict[str, int], rates: dict[str, float]) -> float:
    """The least time ``counts`` elements take at ``rates`` (a tanh at its cheaper of
    ``tanh`` and ``sigmoid``): the element-wise limit of one training step."""
    fastest = {**rates, "tanh": max(rates["tanh"], rates["sigmoid"])}
    return sum(n / fastest[name] for name, n in counts.items())


def matmul_peak(
    device: torch.device | str | None = None, size: int = 1024, repeats: int = 5
) -> float:
    """Best GFLOP/s of a float32 ``(size, size) @ (size, size)`` matmul on ``device``."""
    device = torch.device(device or default_device())
    g = torch.Generator().manual_seed(0)
    a, b = (torch.randn(size, size, generator=g).to(device) for _ in range(2))
    a @ b  # the first call pays for allocation and library start-up
    seconds = min(_time(lambda: a @ b, device) for _ in range(repeats))
    return 2 * size**3 / seconds / 1e9


@dataclass(frozen=True)
class Timing:
    """One config: median seconds per training step, ours and torch.nn's."""

    name: str  # the config's name, e.g. "gru-1x32" or "gru-1x32-after"
    reference: str  # "torch.nn.LSTM" or "torch.nn.GRU"
    same_math: bool  # whether our model computes the reference's function
    flops: int  # matmul FLOPs of one of our training steps (training_flops, folded)
    ours_s: float  # median over the repeats
    torch_s: float
    ours_best_s: float  # fastest repeat: what the machine does when nothing else disturbs it
    torch_best_s: float
    elements: dict[str, int] = field(default_factory=dict)  # elementwise_counts, per kernel
    torch_flops: int = 0  # torch.nn's (training_flops, not folded); 0: not counted

    @property
    def ratio(self) -> float:
        """Our median time over torch.nn's: below 1 means ours is faster."""
        return self.ours_s / self.torch_s

    @property
    def best_ratio(self) -> float:
        """The same for the fastest repeats, less sensitive to other processes' load."""
        return self.ours_best_s / self.torch_best_s


@dataclass(frozen=True)
class Benchmark:
    """A benchmark run: the rows, the measured matmul peak, what it ran on, and where each
    LSTM's step spends its time if asked for."""

    rows: tuple[Timing, ...]
    peak_gflops: float
    device: str
    threads: int
    batch_size: int
    warmup: int
    repeats: int
    torch_version: str = field(default=torch.__version__)
    elementwise_rates: dict[str, float] = field(default_factory=dict)  # elements/s, measured
    steps: str = field(default_factory=compiled.status)  # how our steps' element-wise work ran
    machine: Machine = field(default_factory=this_machine)
    phases: tuple[PhaseProfile, ...] = ()  # rnnreport.phases.lstm_phases, LSTM configs only

    def seq_per_s(self, seconds: float) -> float:
        return self.batch_size / seconds

    def gflops(self, row: Timing, seconds: float) -> float:
        """Our matmul FLOPs per second at ``seconds`` a step."""
        return row.flops / seconds / 1e9

    def flop_limit_s(self, row: Timing) -> float:
        """Seconds of ``row``'s matmul FLOPs at the measured peak."""
        return row.flops / (self.peak_gflops * 1e9)

    def elementwise_limit_s(self, row: Timing) -> float:
        """Seconds of ``row``'s sigmoids, tanhs and derivatives at the measured rates
        (0 where either was not measured)."""
        if not row.elements or not self.elementwise_rates:
            return 0.0
        return elementwise_seconds(row.elements, self.elementwise_rates)

    def grid_minutes(self) -> dict[str, float] | None:
        """Minutes to train the grid once (10 epochs): ours, torch's, at the peak FLOP/s
        (``flop_limit``), at the element-wise rates (``elementwise_limit``) and both in turn
        (``limit``, what one thread needs at least); and at the peak FLOP/s for the model as
        written, not folded (``flop_limit_as_written``: torch.nn's work).

        None unless all 8 of the grid's configs were measured.
        """
        names = {c.name for c in bench_configs() if c.reset == "before"}
        grid = [r for r in self.rows if r.name in names]
        if {r.name for r in grid} != names:
            return None
        steps = 10 * TRAIN_SEQUENCES / self.batch_size  # 10 epochs of training steps
        flop_limit = steps * sum(r.flops for r in grid) / (self.peak_gflops * 1e9) / 60
        as_written = steps * sum(r.torch_flops for r in grid) / (self.peak_gflops * 1e9) / 60
        elementwise_limit = steps * sum(self.elementwise_limit_s(r) for r in grid) / 60
        return {
            "ours": steps * sum(r.ours_s for r in grid) / 60,
            "torch": steps * sum(r.torch_s for r in grid) / 60,
            "flop_limit": flop_limit,
            "elementwise_limit": elementwise_limit,
            "limit": flop_limit + elementwise_limit,
            "flop_limit_as_written": as_written,
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the run's settings, each row with its derived figures, the grid estimate."""
        rows = []
        for r in self.rows:
            rows.append(
                {
                    **asdict(r),
                    "ratio": r.ratio,
                    "best_ratio": r.best_ratio,
                    "ours_seq_per_s": self.seq_per_s(r.ours_s),
                    "torch_seq_per_s": self.seq_per_s(r.torch_s),
                    "ours_gflops": self.gflops(r, r.ours_s),
                    "torch_gflops": r.torch_flops / r.torch_s / 1e9 if r.torch_flops else None,
                    "ours_of_peak": self.gflops(r, r.ours_s) / self.peak_gflops,
                    "flop_limit_s": self.flop_limit_s(r),
                    "elementwise_limit_s": self.elementwise_limit_s(r),
                }
            )
        settings = {k: v for k, v in asdict(self).items() if k != "rows"}
        return {**settings, "rows": rows, "grid_minutes": self.grid_minutes()}

    def table(self) -> str:
        """The rows as a plain-text table, then the grid estimate."""
        head = (
            f"{'config':<16} {'ours ms':>8} {'torch ms':>9} {'ratio':>6} {'best':>5} "
            f"{'ours seq/s':>11} {'torch seq/s':>12} {'ours GFLOP/s':>13} {'of peak':>8} "
            f"{'FLOP lim ms':>11} {'elem lim ms':>11} {'ours/lim':>8}"
        )
        lines = [
            f"training step (forward, backward, Adam) of the classifier, batch {self.batch_size},"
            f" on {self.device} with {self.threads} thread(s), torch {self.torch_version};"
            f" median of {self.repeats} after {self.warmup} warm-up steps",
            f"float32 matmul peak measured in this run: {self.peak_gflops:.1f} GFLOP/s;"
            " ratio: ours / torch.nn of the median times, best: of the fastest times",
            _rates_line(self.elementwise_rates),
            f"our steps' element-wise work: {self.steps}",
            *self.machine.lines(),
            "",
            head,
            "-" * len(head),
        ]
        for r in self.rows:
            mark = "" if r.same_math else " *"
            ours_gflops = self.gflops(r, r.ours_s)
            lines.append(
                f"{r.name + mark:<16} {r.ours_s * 1e3:8.1f} {r.torch_s * 1e3:9.1f} {r.ratio:6.2f} "
                f"{r.best_ratio:5.2f} {self.seq_per_s(r.ours_s):11.0f} "
                f"{self.seq_per_s(r.torch_s):12.0f} "
                f"{ours_gflops:13.1f} {ours_gflops / self.peak_gflops:8.0%} "
                f"{self.flop_limit_s(r) * 1e3:11.1f} {self.elementwise_limit_s(r) * 1e3:11.1f} "
                f"{r.ours_s / (self.flop_limit_s(r) + self.elementwise_limit_s(r)):8.2f}"
            )
        lines += [
            "",
            "* resets before its matmul (the grid's GRU); torch.nn.GRU resets after: a different"
            " function, shown for the build's speed",
        ]
        if (m := self.grid_minutes()) is not None:
            lines.append(
                f"grid, 10 epochs of {TRAIN_SEQUENCES:,} sequences, training steps only: ours"
                f" {m['ours']:.1f} min, torch.nn {m['torch']:.1f} min, FLOP limit"
                f" {m['flop_limit']:.1f} min (ours at {m['ours'] / m['flop_limit']:.2f}x the limit)"
            )
            lines.append(
                f"element-wise limit {m['elementwise_limit']:.1f} min; both limits in turn"
                f" {m['limit']:.1f} min (ours at {m['ours'] / m['limit']:.2f}x)"
            )
            if m["flop_limit_as_written"]:
                lines.append(
                    f"FLOP limit of the model as written (not folded, torch.nn's work)"
                    f" {m['flop_limit_as_written']:.1f} min"
                    f" (ours at {m['ours'] / m['flop_limit_as_written']:.2f}x)"
                )
        lines += [line for p in self.phases for line in ("", p.table(self.peak_gflops))]
        return "\n".join(lines)

    def write(self, path: Path | str) -> Path:
        """Write :meth:`to_dict` as JSON to ``path`` (folders created); returns the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        return path


def _rates_line(rates: dict[str, float]) -> str:
    if not rates:
        return "element-wise rates not measured"
    measured = ", ".join(f"{name} {rate / 1e9:.2f}" for name, rate in rates.items())
    return f"element-wise kernels measured in this run, Gelem/s: {measured}"


class _TorchRNN(nn.Module):
    """torch.nn.LSTM / torch.nn.GRU behind :class:`~rnnreport.model.rnn.RNN`'s call signature."""

    def __init__(self, cell: str, hidden_size: int, num_layers: int) -> None:
        super().__init__()
        module = nn.LSTM if cell == "lstm" else nn.GRU
        self.module = module(hidden_size, hidden_size, num_layers)

    def forward(self, x: Tensor, input_map: nn.Linear | None = None) -> tuple[Tensor, Any]:
        """torch.nn's modules take the embedded input: they cannot fold ``input_map``."""
        return self.module(x if input_map is None else input_map(x))


def torch_classifier(config: ModelConfig) -> Classifier:
    """``config``'s classifier with torch.nn.LSTM / torch.nn.GRU as its recurrent part."""
    model = build_model(config)
    model.rnn = _TorchRNN(config.cell, config.units, config.layers)  # type: ignore[assignment]
    return model


def benchmark(
    configs: Sequence[ModelConfig] | None = None,
    *,
    batch_size: int = 256,
    warmup: int = 3,
    repeats: int = 10,
    device: torch.device | str | None = None,
    threads: int | None = None,
    on_row: Callable[[Timing], None] | None = None,
    phases: bool = False,
) -> Benchmark:
    """Time a training step of each config, ours against torch.nn's, in this one run;
    with ``phases``, then time each LSTM's step phase by phase (:mod:`rnnreport.phases`).

    ``threads`` sets torch's CPU threads for the run (default: leave them as they are), to
    see what one process of several running side by side gets. Like a training worker, it
    first sets the process's allocator to keep freed memory
    (:func:`rnnreport.training.engine.keep_freed_memory`), for the rest of the process.
    """
    if warmup < 0 or repeats < 1 or batch_size < 1 or (threads is not None and threads < 1):
        raise ValueError(
            f"need warmup >= 0, repeats >= 1, batch_size >= 1 and threads >= 1, got {warmup}, "
            f"{repeats}, {batch_size}, {threads}"
        )
    configs = list(configs) if configs is not None else bench_configs()
    if phases and torch.device(device or default_device()).type != "cpu":
        raise ValueError("the phase profile times the compiled steps: run it on the CPU")
    keep_freed_memory()  # as the training workers do
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        result = _benchmark(configs, batch_size, warmup, repeats, device, on_row)
        if not phases:
            return result
        timed = profile_all(configs, batch_size=batch_size, warmup=warmup, repeats=repeats)
        return replace(result, phases=timed)
    finally:
        torch.set_num_threads(before)


def _benchmark(
    configs: list[ModelConfig],
    batch_size: int,
    warmup: int,
    repeats: int,
    device: torch.device | str | None,
    on_row: Callable[[Timing], None] | None,
) -> Benchmark:
    device = torch.device(device or default_device())
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(batch_size, STEPS, PIXELS, generator=g) > 0.5).float().to(device)
    y = torch.randint(0, CLASSES, (batch_size,), generator=g).to(device)
    peak, rates = matmul_peak(device), elementwise_rates(device)
    rows = []
    for config in configs:
        ours, theirs = build_model(config).to(device), torch_classifier(config).to(device)
        steps = [training_step(model, x, y) for model in (ours, theirs)]
        times: list[list[float]] = [[], []]
        for r in range(warmup + repeats):
            order = (0, 1) if r % 2 == 0 else (1, 0)  # neither always runs on a warmer cache
            for k in order:
                seconds = _time(steps[k], device)
                if r >= warmup:
                    times[k].append(seconds)
        row = Timing(
            name=config.name,
            reference="torch.nn.LSTM" if config.cell == "lstm" else "torch.nn.GRU",
            same_math=config.cell == "lstm" or config.reset == "after",
            flops=training_flops(config, batch_size),
            torch_flops=training_flops(config, batch_size, folded=False),
            ours_s=statistics.median(times[0]),
            torch_s=statistics.median(times[1]),
            ours_best_s=min(times[0]),
            torch_best_s=min(times[1]),
            elements=elementwise_counts(config, batch_size),
        )
        rows.append(row)
        if on_row is not None:
            on_row(row)
        # the peak and the rates again after every config: the best are the least disturbed
        peak = max(peak, matmul_peak(device, repeats=3))
        again = elementwise_rates(device, repeats=3)
        rates = {name: max(rate, again[name]) for name, rate in rates.items()}
    return Benchmark(
        rows=tuple(rows),
        peak_gflops=peak,
        device=str(device),
        threads=torch.get_num_threads(),
        batch_size=batch_size,
        warmup=warmup,
        repeats=repeats,
        elementwise_rates=rates,
    )


def _time(fn: Callable[[], Any], device: torch.device) -> float:
    """Wall-clock seconds of one call, waiting for the GPU where there is one."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start
