"""What the terminal shows while models train.

A bar or a line per epoch for one model
(:class:`Progress`), and for a batch of models how many are trained and left, with an
estimate of the time remaining (:class:`Tally`). None of it changes a trained model, so
none of it enters the cache key.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from ..model.classifier import TRAIN_SEQUENCES, build_model, count_parameters
from .records import Epoch, TrainConfig

PROGRESS = ("auto", "bar", "lines", "off")
"""How one training shows its progress (:class:`Progress`)."""


class Progress:
    """A tqdm bar in a terminal, one line per epoch on request, or nothing."""

    def __init__(self, mode: str, name: str, total: int) -> None:
        if mode not in PROGRESS:
            raise ValueError(f"progress={mode!r} is not supported: use one of {PROGRESS}")
        if mode == "auto":
            mode = "bar" if sys.stderr.isatty() else "off"
        self.mode, self.name, self.bar = mode, name, None
        if mode == "bar":
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc=name, unit="batch", leave=False, file=sys.stderr)

    def batch(self, loss: float) -> None:
        if self.bar is not None:
            self.bar.update()
            self.bar.set_postfix(loss=f"{loss:.3f}", refresh=False)

    def epoch(self, e: Epoch, epochs: int) -> None:
        text = (
            f"{self.name}: epoch {e.epoch}/{epochs} train loss {e.train_loss:.4f} "
            f"valid loss {e.valid_loss:.4f} valid acc {e.valid_accuracy:.4f} ({e.seconds:.0f} s)"
        )
        if self.bar is not None:
            self.bar.write(text, file=sys.stderr)
        elif self.mode == "lines":
            line(text)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class Tally:
    """Models trained and left while a batch of them trains, with an estimate of the time left.

    The estimate assumes that a model's training time grows in proportion to its size (its
    parameters, and a fixed cost per recurrent layer) times the sequences it sees
    (:meth:`cost_of`), at the pace of the models of its kind (its
    config class: an MNIST model, a whole-image baseline, a counter) trained so far, or of all
    trained so far while none of its kind is: the unit means different work for each kind.
    """

    def __init__(self, configs: list[TrainConfig], workers: int) -> None:
        self.cost = {c: self.cost_of(c) for c in configs}
        self.workers = workers
        self.done: dict[TrainConfig, float] = {}  # seconds each trained model took
        self.failures: set[TrainConfig] = set()  # not trained: left to their tasks

    LAYER_COST = 10_000
    """What a recurrent layer's steps cost beyond its parameters, in parameters' worth: at
    32 units a step's time goes to its number of operations as much as to its arithmetic.
    On one core a grid model's 10 epochs take about (parameters + 10,000 per layer) ×
    0.68 ms, within 9 % for all eight, from 12 s (gru-1x32) to 102 s (lstm-1x128). Only the
    ratios matter: the pace itself is measured as models finish."""

    @classmethod
    def cost_of(cls, config: TrainConfig) -> float:
        """(Parameters + :data:`LAYER_COST` per recurrent layer) x sequences seen: the unit
        of the estimate."""
        sequences = config.limit or TRAIN_SEQUENCES
        size = count_parameters(build_model(config)) + cls.LAYER_COST * getattr(config, "layers", 0)
        return size * sequences * config.epochs

    def remaining(self, running: dict[TrainConfig, float]) -> float:
        """Seconds until all are trained; ``running``: those under way, and their seconds so far."""
        gone = self.done.keys() | self.failures | running.keys()
        waiting = [c for c in self.cost if c not in gone]
        work = sum(self.pace(c) * self.cost[c] for c in waiting)
        work += sum(max(self.pace(c) * self.cost[c] - s, 0.0) for c, s in running.items())
        return work / min(self.workers, len(waiting) + len(running))

    def pace(self, config: TrainConfig) -> float:
        """Seconds per unit of cost of the trained models of ``config``'s kind (all trained
        models while none of its kind is)."""
        kind = [c for c in self.done if type(c) is type(config)] or list(self.done)
        return sum(self.done[c] for c in kind) / sum(self.cost[c] for c in kind)

    def trained(
        self, config: TrainConfig, seconds: float, running: dict[TrainConfig, float]
    ) -> None:
        """Note that ``config`` took ``seconds``, and say where the batch is on stderr."""
        self.done[config] = seconds
        done, total, failed = len(self.done), len(self.cost), len(self.failures)
        text = f"rnnreport: {done} of {total} models trained, {total - done - failed} left"
        if failed:
            text += f", {failed} failed"
        if done + failed < total:
            text += f", about {duration(self.remaining(running))} remaining (an estimate)"
        say(text)

    def failed(self, config: TrainConfig) -> None:
        """Note that ``config`` was not trained: it is neither left nor counted in the pace."""
        self.failures.add(config)


_forward: ContextVar[Callable[[str], None] | None] = ContextVar("forward", default=None)
"""Where :func:`line` sends its lines in this thread, when not to stderr."""


def line(text: str) -> None:
    """A line about one training (an epoch, a trained counter, a resumed run): on stderr, or,
    on a worker of the Dask queue, sent to the client that shows it (:func:`forwarded`)."""
    if (send := _forward.get()) is not None:
        send(text)
    else:
        print(text, file=sys.stderr, flush=True)


@contextmanager
def forwarded(send: Callable[[str], None]) -> Iterator[None]:
    """Within the block, and in this thread only, :func:`line` hands its lines to ``send``."""
    token = _forward.set(send)
    try:
        yield
    finally:
        _forward.reset(token)


def say(text: str) -> None:
    """A line on where a batch of trainings is, for the terminal that runs the build.

    Written to the process's own stderr (``sys.__stderr__``), not to ``sys.stderr``:
    sphinx-gallery captures the latter into the page of the example that trains, and the
    progress of a build belongs in the build's terminal, not on the site.
    """
    print(text, file=sys.__stderr__ or sys.stderr, flush=True)


def duration(seconds: float) -> str:
    if seconds < 60:
        return "less than a minute"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"
