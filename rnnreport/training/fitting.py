"""What every task's training goes through, whatever the task.

The cache is looked up first, then a lock, a resumed or fresh run, a checkpoint after
every epoch, and the entry stored (:func:`cached_training`).

A task supplies its *fit*: a function that trains a :class:`Run` (model, optimizer, the
generator of the batches' order, the finished epochs) from its last finished epoch to the
end, calling back after every epoch. The initial run is drawn from ``config.seed``
(:func:`fresh`), the optimizer is Adam (:func:`adam`), torch works on
:data:`~rnnreport.training.records.CPU_THREADS` threads (:func:`cpu_threads`), so the same
config gives the same weights and metrics on the same machine. An interrupted training
resumes from its last finished epoch, bit for bit as if it had not stopped; a checkpoint that
fails its check is set aside with a note, and training starts over.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from ..files import sweep
from ..model.classifier import build_model
from .progress import line
from .records import CPU_THREADS, Epoch, Result, TrainConfig
from .store import (
    Unusable,
    check_cache,
    first_line,
    load_checked,
    locked,
    read_entry,
    save_checked,
    write_entry,
)

Fit = Callable[["Run", Callable[["Run"], None]], Result]
"""Trains a :class:`Run` to the end, calling its second argument after every epoch."""


def cached_training(
    path: Path | None,
    config: TrainConfig,
    device: torch.device,
    fit: Fit,
    on_epoch: Callable[[Epoch], None] | None = None,
    keep: bool = True,
) -> tuple[torch.nn.Module, Result]:
    """The model and result cached at ``path``, or ``fit`` run and stored there.

    The entry is used only if it passes its check. Otherwise a lock beside it makes a
    second process wait for the first (and then use its entry), and the training resumes
    from the epoch checkpoint kept beside the entry, keeps one after every epoch, and is
    stored atomically. ``path`` None trains without the cache. ``keep`` False (a worker
    of the queue, whose client stores what it sends back): the same, but the trained
    model is returned, not stored, and its checkpoint removed. Every trainer of the
    package goes through here, so every kind of model gets the same guarantees.
    """
    if path is None:
        return _train(config, fit, device, None, on_epoch)
    path = check_cache(path)
    if (hit := read_entry(path, config, locked=False)) is not None:
        return hit
    with locked(path, config):
        if (hit := read_entry(path, config)) is not None:  # trained meanwhile by another process
            return hit
        partial = path.with_suffix(".partial")
        for file in (path, partial):  # left by a process killed while writing them
            if os.name == "posix":  # under a real lock only: elsewhere both may be writing
                sweep(file)
        model, result = _train(config, fit, device, partial, on_epoch)
        if keep:
            write_entry(path, model.state_dict(), result)
        partial.unlink(missing_ok=True)
    return model, result


def _train(
    config: TrainConfig,
    fit: Fit,
    device: torch.device,
    partial: Path | None,
    on_epoch: Callable[[Epoch], None] | None,
) -> tuple[torch.nn.Module, Result]:
    """Train ``config`` on :data:`~rnnreport.training.records.CPU_THREADS` threads,
    resuming from the epoch checkpoint at ``partial`` and keeping one there after every
    epoch (None: no checkpoints)."""

    def after_epoch(run: Run) -> None:
        if partial is not None:
            _checkpoint(partial, run)
        if on_epoch is not None:
            on_epoch(run.history[-1])

    with cpu_threads(CPU_THREADS):
        run = (partial is not None and _resume(partial, config, device)) or fresh(config, device)
        result = fit(run, after_epoch)
    return run.model.cpu().eval(), result


@dataclass
class Run:
    """A training under way: what an epoch checkpoint holds."""

    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    order: torch.Generator  # draws the order of the batches
    history: list[Epoch] = field(default_factory=list)  # the finished epochs
    spent: float = 0.0  # seconds of training so far


def adam(model: torch.nn.Module, lr: float) -> torch.optim.Adam:
    """The training's optimizer: Adam at ``lr``, its other settings at torch's defaults.

    torch's fused implementation: one kernel per parameter where the default makes a dozen
    small ones, the same update rounded in another order, a few per cent of a training
    step at 32 units. ``rnnreport bench`` times its steps with this optimizer too.
    """
    return torch.optim.Adam(model.parameters(), lr=lr, fused=True)


def fresh(config: TrainConfig, device: torch.device) -> Run:
    """Initial model, optimizer and batch-order generator, all from ``config.seed``."""
    model = build_model(config).to(device)
    optimizer = adam(model, config.lr)
    order = torch.Generator().manual_seed(config.seed)  # batch order, drawn on the CPU everywhere
    return Run(model, optimizer, order)


@contextmanager
def cpu_threads(n: int) -> Iterator[None]:
    """Run torch's CPU work on ``n`` threads, then restore the previous count."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


_CHECKPOINT = ("entry", "model", "optimizer", "order", "history", "spent")


def _checkpoint(path: Path, run: Run) -> None:
    """Keep ``run`` at ``path``, checked like a cache entry
    (:func:`~rnnreport.training.store.save_checked`), with the file name it was kept under:
    the entry's name, which carries its key's hash."""
    state = {
        "entry": path.name,
        "model": {k: v.detach().cpu() for k, v in run.model.state_dict().items()},
        "optimizer": run.optimizer.state_dict(),
        "order": run.order.get_state(),
        "history": json.dumps([asdict(e) for e in run.history]),
        "spent": run.spent,
    }
    save_checked(state, path)


def _resume(path: Path, config: TrainConfig, device: torch.device) -> Run | None:
    """The run an interrupted training of ``config`` kept at ``path``; None when there is
    none, or when it fails its check (a note says why, the file goes, training starts over)."""
    if not path.exists():
        return None
    run = fresh(config, device)
    try:
        state = load_checked(path, _CHECKPOINT)
        if state["entry"] != path.name:
            raise Unusable(f"it was kept for {state['entry']}, another config or key")
        try:
            run.model.load_state_dict(state["model"], strict=True)
            run.optimizer.load_state_dict(state["optimizer"])
            run.order.set_state(state["order"])
            run.history = [Epoch(**e) for e in json.loads(state["history"])]
            run.spent = float(state["spent"])
        except (RuntimeError, ValueError, KeyError, TypeError) as error:
            raise Unusable(f"it does not fit {config.name}: {first_line(error)}") from None
    except Unusable as why:
        line(f"rnnreport: ignoring bad checkpoint {path.name}: {why}; training from the start")
        path.unlink(missing_ok=True)
        return None
    line(f"rnnreport: resuming {path.stem} after epoch {len(run.history)}")
    return run
