"""Train one counter (:class:`~rnnreport.model.counter.CounterConfig`) on a counting
language, with the cache and the guarantees every task has (:mod:`rnnreport.training.fitting`).

Training: ``config.optimizer`` (Adam or RMSprop at ``config.lr``, other settings at torch's
defaults) on the training strings (:func:`training_strings`: every n = 1 … ``config.n_train``
once, or ``config.samples`` strings whose n are drawn from ``config.seed``, uniform or
U-shaped), in batches of ``config.batch_size`` strings drawn in an order from
``config.seed``; the loss (``config.loss``) is binary cross-entropy of each symbol's logit, or
the squared error of its sigmoid, averaged over the strings' positions and symbols.
**Stopping rule**: after each epoch every training string is checked
(:func:`rnnreport.data.languages.recognised`); training stops after the first epoch that ends a run
of ``config.patience`` epochs in a row in which all of them were, and otherwise after
``config.epochs``. The run keeps the weights of the last epoch either way.

A trained counter is a :class:`~rnnreport.training.records.Result` like an MNIST model's. A
counter has no validation set, so its :class:`~rnnreport.training.records.Epoch` fields
read: ``train_loss`` the mean loss over the epoch's batches, ``valid_loss`` the loss on all
the *training* strings after the epoch and ``valid_accuracy`` the fraction of them
recognised (what the stopping rule reads). ``test_loss_sum`` is the loss summed over every
position and symbol of the strings with n = 1 … ``config.n_test``, ``test_loss`` its mean
per position and symbol, ``test_accuracy`` the fraction of those n whose string is
recognised.

The cache, its key's parts, the checked files and the lock are
:mod:`rnnreport.training.store`'s; resuming and the initial draw
(:func:`~rnnreport.training.fitting.fresh`) are :mod:`rnnreport.training.fitting`'s. The
key's code part is the fingerprint of this module's loop and evaluation, the config class
and what it builds: an edit to the MNIST loop does not retrain a counter, and the reverse.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from .. import settings
from ..data import languages
from ..fingerprint import fingerprint
from ..model.classifier import build_model, count_parameters
from ..model.counter import CounterConfig
from .engine import Job, check_key, default_workers, train_jobs
from .fitting import Run, cached_training, cpu_threads
from .progress import line
from .records import CPU_THREADS, Epoch, Result, TrainingDiverged
from .store import check_cache, entry_path, key_parts, locked, read_entry, write_entry

DEVICE = torch.device("cpu")
"""Counters train on the CPU: a few units over a few dozen steps keep no GPU busy."""


# -- the cache key -------------------------------------------------------------------------


@functools.cache
def code_digest() -> str:
    """Fingerprint of the code that defines a trained counter (:func:`trainer_code`, see
    :mod:`rnnreport.fingerprint`)."""
    roots, ignore = trainer_code()
    return fingerprint(roots, ignore=ignore)


def trainer_code() -> tuple[tuple[object, ...], tuple[object, ...]]:
    """``(roots, ignored)`` of a counter's fingerprint: the config and what it builds, and
    the whole training from :func:`train` down. Ignored, because they cannot change a
    trained counter's weights or metrics: the lines it writes (a trained counter, a resumed
    run); where an entry lives and its lock; reading and writing finished entries (stored
    whole, and checked by their checksum when read), as for the MNIST models
    (:func:`rnnreport.training.mnist.trainer_code`)."""
    ignored = (_report, line, cache_path, check_cache, locked, read_entry, write_entry)
    return (CounterConfig, build_model, train), ignored


def cache_key(config: CounterConfig, data: languages.Strings) -> dict[str, Any]:
    """Everything that determines ``config``'s trained weights and metrics, and nothing else:
    the parts of :func:`rnnreport.training.mnist.cache_key`, with the strings for the images."""
    return key_parts(config, data.digest, code_digest(), DEVICE)


def cache_path(config: CounterConfig) -> Path:
    """The cache file for ``config``, beside the MNIST models, named by :func:`cache_key`."""
    return entry_path(config, cache_key(config, training_strings(config)))


def training_strings(config: CounterConfig) -> languages.Strings:
    """What ``config`` trains on: every n = 1 … ``n_train`` once, or ``samples`` strings
    with n drawn from ``seed`` (:func:`rnnreport.data.languages.draw_lengths`)."""
    if config.lengths == "each":
        return languages.strings(config.language, config.n_train)
    drawn = languages.draw_lengths(config.lengths, config.n_train, config.samples, config.seed)
    return languages.strings_for(config.language, drawn)


# -- evaluation ----------------------------------------------------------------------------


def _tensors(data: languages.Strings) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return torch.from_numpy(data.x), torch.from_numpy(data.y), torch.from_numpy(data.mask)


def _loss(logits: torch.Tensor, y: torch.Tensor, mask: torch.Tensor, kind: str) -> torch.Tensor:
    """The loss ``kind`` summed over the positions in ``mask`` and every symbol: ``"bce"``
    binary cross-entropy of the logits, ``"mse"`` the squared error of their sigmoids."""
    if kind == "mse":
        per = (torch.sigmoid(logits) - y).square().sum(-1)  # (T, B)
    else:
        per = F.binary_cross_entropy_with_logits(logits, y, reduction="none").sum(-1)  # (T, B)
    return per[mask].sum()


@torch.no_grad()
def evaluate(
    model: torch.nn.Module, data: languages.Strings, loss: str = "bce"
) -> tuple[float, np.ndarray]:
    """``(loss summed over every position and symbol, recognised (N,))`` of ``model`` on
    ``data``, every string in one batch."""
    x, y, mask = _tensors(data)
    was_training = model.training
    model.eval()
    logits = model(x)
    model.train(was_training)
    ok = languages.recognised(torch.sigmoid(logits).numpy(), data.y, data.mask)
    return _loss(logits, y, mask, loss).item(), ok


def recognition(model: torch.nn.Module, language: str, n_max: int) -> np.ndarray:
    """Whether ``model`` recognises the string of ``language`` for each n = 1 … ``n_max``."""
    with cpu_threads(CPU_THREADS):
        return evaluate(model, languages.strings(language, n_max))[1]


# -- training ------------------------------------------------------------------------------


def train(
    config: CounterConfig,
    *,
    progress: str = "off",
    use_cache: bool = True,
    on_epoch: Callable[[Epoch], None] | None = None,
    keep: bool = True,
) -> tuple[torch.nn.Module, Result]:
    """The trained counter (in eval mode) and its metrics; trains if not cached.

    ``progress``: ``lines`` (a line on stderr when a counter is trained) or ``off``;
    ``on_epoch`` is called after each epoch (tests use it to interrupt a run); ``keep``
    False: a counter trained now is not stored (a worker of the queue: its client stores it).
    """
    data = training_strings(config)

    def fit(run: Run, after_epoch: Callable[[Run], None]) -> Result:
        result = _fit(config, data, run, after_epoch)
        if progress != "off":
            _report(result)
        return result

    path = cache_path(config) if use_cache else None
    return cached_training(path, config, DEVICE, fit, on_epoch, keep)


def _report(result: Result) -> None:
    """One line on stderr: a counter trained, in how many epochs, how much it recognises."""
    config = result.config
    line(
        f"rnnreport: trained {config.name} seed {config.seed} in {len(result.history)} "
        f"epochs ({result.train_seconds:.0f} s): {result.test_accuracy:.0%} of n ≤ "
        f"{config.n_test} recognised"
    )


def pending(configs: Sequence[CounterConfig]) -> list[Job]:
    """The configs the cache lacks, as jobs for the queue, each with the key it must be
    trained under (the cache checked first); :func:`rnnreport.training.engine.train_jobs`
    trains them, alone or beside MNIST models."""
    keys = {c: cache_key(c, training_strings(c)) for c in configs}
    return [
        Job.of(c, __name__, key) for c, key in keys.items()
        if not check_cache(entry_path(c, key)).exists()
    ]  # fmt: skip


def train_many(
    configs: Sequence[CounterConfig],
    progress: str = "lines",
    workers: int | None = None,
    scheduler: str | None = None,
) -> list[Result]:
    """Train every config the cache lacks on the Dask queue (the cluster at ``scheduler``,
    default ``$RNNREPORT_SCHEDULER``, else ``workers`` processes here, default one per core;
    :func:`rnnreport.training.engine.train_jobs`, the queue of every task), then load them
    all; a config a worker failed to train is trained here."""
    missing = pending(configs)
    workers = default_workers(len(missing)) if workers is None else workers
    if missing and (scheduler or settings.scheduler() or (len(missing) > 1 and workers > 1)):
        train_jobs(missing, workers, progress, scheduler)
    return [train(c, progress=progress)[1] for c in configs]


def _learned(history: Sequence[Epoch], patience: int) -> bool:
    """The stopping rule: every training string recognised after each of the last
    ``patience`` epochs."""
    return len(history) >= patience and all(e.valid_accuracy == 1.0 for e in history[-patience:])


def met_stopping_rule(result: Result) -> bool:
    """Whether a trained counter stopped by the rule (its training range learned), not at
    the cap of ``config.epochs``."""
    return _learned(result.history, result.config.patience)


def _fit(
    config: CounterConfig,
    data: languages.Strings,
    run: Run,
    after_epoch: Callable[[Run], None],
) -> Result:
    """Train ``run`` from its last finished epoch until the stopping rule holds or
    ``config.epochs`` have run; the metrics on n = 1 … ``config.n_test``."""
    model, optimizer = run.model, _optimizer(config, run)
    x, y, mask = _tensors(data)
    N, B = x.shape[1], config.batch_size
    positions = mask.sum().item() * y.shape[-1]  # every (position, symbol) of the strings
    for epoch in range(len(run.history) + 1, config.epochs + 1):
        if _learned(run.history, config.patience):
            break
        start = time.perf_counter()
        model.train()
        total = 0.0
        for idx in torch.randperm(N, generator=run.order).split(B):
            T = int(mask[:, idx].sum(0).max())  # the longest string of the batch
            m = mask[:T, idx]
            loss = _loss(model(x[:T, idx]), y[:T, idx], m, config.loss) / (m.sum() * y.shape[-1])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
        loss_sum, ok = evaluate(model, data, config.loss)
        if not (math.isfinite(total) and math.isfinite(loss_sum)):
            raise TrainingDiverged(
                f"{config.name} seed {config.seed} diverged in epoch {epoch} (lr {config.lr:g}); "
                "nothing was cached: train it with a smaller learning rate"
            )
        seconds = time.perf_counter() - start
        run.spent += seconds
        run.history.append(Epoch(epoch, total / N, loss_sum / positions, float(ok.mean()), seconds))
        after_epoch(run)
    test = languages.strings(config.language, config.n_test)
    test_loss_sum, ok = evaluate(model, test, config.loss)
    return Result(
        config=config,
        params=count_parameters(model),
        history=tuple(run.history),
        test_loss_sum=test_loss_sum,
        test_loss=test_loss_sum / (test.mask.sum() * test.y.shape[-1]),
        test_accuracy=float(ok.mean()),
        train_seconds=run.spent,
        device=str(DEVICE),
    )


def _optimizer(config: CounterConfig, run: Run) -> torch.optim.Optimizer:
    """The optimizer ``config`` names, kept in ``run`` (its checkpoints keep its state).

    Every run starts with the shared Adam (:func:`rnnreport.training.fitting.fresh`); for
    ``"rmsprop"`` it is replaced by RMSprop at ``config.lr`` over the same parameters, which
    takes over the state a resumed run's checkpoint holds (loaded into the Adam first)."""
    if config.optimizer == "adam":
        return run.optimizer
    if not isinstance(run.optimizer, torch.optim.RMSprop):
        state = run.optimizer.state_dict()
        run.optimizer = torch.optim.RMSprop(run.model.parameters(), lr=config.lr)
        if run.history:  # resumed: the state is RMSprop's, kept in the checkpoint
            run.optimizer.load_state_dict(state)
    return run.optimizer


def train_job(job: Job, progress: str) -> tuple[torch.nn.Module, Result]:
    """On a worker of the queue: the counter of ``job`` trained (or found in this machine's
    cache), once the key this machine gives it is the one the job asks for
    (:func:`~rnnreport.training.engine.check_key`); not stored: the client stores it."""
    check_key(job, cache_key(job.config, training_strings(job.config)))
    return train(job.config, progress=progress, keep=False)
