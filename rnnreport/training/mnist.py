"""The MNIST task: train a classifier config (a recurrent
:class:`~rnnreport.model.classifier.ModelConfig` or a whole-image
:class:`~rnnreport.model.whole_image.BaselineConfig`) on MNIST and evaluate it, through the
cache and its guarantees (:mod:`rnnreport.training.fitting`).

Training is the assignment's: Adam (lr 1e-3, other settings at their defaults), batches of
256, 10 epochs, cross-entropy *summed* over the batch (the course's convention). The batches'
order is drawn from ``config.seed``, the initial weights too, so the same config gives the
same weights and metrics on the same machine.

The cache key (:func:`cache_key`) covers everything that determines a model's weights and
metrics: the config, the digest of the data it reads, the code that defines the model and
its training (:func:`code_digest`: a fingerprint of the functions and classes themselves,
see :mod:`rnnreport.fingerprint`), and the parts every task shares
(:func:`rnnreport.training.store.key_parts`). An edit to a cell or to the training loop
retrains; an edit to a plot, a docstring or a comment does not, and neither does moving a
function between modules. A training whose loss stops being a finite number raises
:class:`~rnnreport.training.records.TrainingDiverged` and stores nothing.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch.nn import functional as F

from .. import settings
from ..data import MNIST, Split, load_mnist
from ..fingerprint import fingerprint
from ..model.cells import CELLS
from ..model.classifier import (
    CLASSES,
    HEAD_UNITS,
    PIXELS,
    STEPS,
    build_model,
    count_parameters,
)
from .engine import Job, check_key, default_workers, train_jobs
from .fitting import Run, cached_training
from .progress import Progress, Tally, line
from .records import (
    Epoch,
    Result,
    TrainConfig,
    TrainingDiverged,
    TrainingOutOfMemory,
    default_device,
)
from .store import check_cache, entry_path, key_parts, locked, read_entry, write_entry

EVAL_BATCH = 2000


def train(
    config: TrainConfig,
    *,
    data: MNIST | None = None,
    device: torch.device | str | None = None,
    progress: str = "auto",
    use_cache: bool = True,
    on_epoch: Callable[[Epoch], None] | None = None,
) -> Result:
    """Train ``config`` (or take it from the cache) and return its metrics."""
    return trained_model(
        config, data=data, device=device, progress=progress, use_cache=use_cache, on_epoch=on_epoch
    )[1]


def trained_model(
    config: TrainConfig,
    *,
    data: MNIST | None = None,
    device: torch.device | str | None = None,
    progress: str = "auto",
    use_cache: bool = True,
    on_epoch: Callable[[Epoch], None] | None = None,
    keep: bool = True,
) -> tuple[torch.nn.Module, Result]:
    """The trained model (on the CPU, in eval mode) and its metrics; trains if not cached.

    ``progress``: ``auto`` (a bar when stderr is a terminal, else quiet), ``bar``, ``lines``
    (one line per epoch on stderr, for logs) or ``off``. ``on_epoch`` is called after each
    epoch (tests use it to interrupt a run). ``keep`` False: a model trained now is not
    stored in the cache (a worker of the queue: its client stores it).
    """
    data = data or load_mnist()
    if config.limit is not None and config.limit > len(data.train.y):
        raise ValueError(
            f"limit={config.limit:,} is more than the {len(data.train.y):,} training sequences of "
            f"{data.source}: leave it out to train on all of them"
        )
    data = _pixels(config, data)
    device = torch.device(device or default_device())

    def fit(run: Run, after_epoch: Callable[[Run], None]) -> Result:
        return _fit(config, data, run, device, progress, after_epoch)

    path = cache_path(config, data, device) if use_cache else None
    try:
        return cached_training(path, config, device, fit, on_epoch, keep)
    except (MemoryError, RuntimeError) as error:
        if isinstance(error, RuntimeError) and not _out_of_memory(error):
            raise
        raise TrainingOutOfMemory(
            f"{config.name} ran out of memory training on {device}: it needs about "
            f"{memory_estimate(config) / 2**30:,.1f} GiB: use a smaller --batch-size, fewer "
            "--units or --layers"
        ) from None


def _out_of_memory(error: RuntimeError) -> bool:
    """Whether ``error`` is torch's failure to allocate (CPU or GPU)."""
    kinds = tuple(getattr(m, "OutOfMemoryError", None) for m in (torch, torch.cuda))
    return isinstance(error, tuple(k for k in kinds if k is not None)) or any(
        words in str(error) for words in ("can't allocate memory", "out of memory")
    )


def memory_estimate(config: TrainConfig) -> int:
    """Bytes a training step of ``config`` holds, roughly, without building it: the weights,
    their gradients and Adam's two moments (4 copies of the parameters), and the activations
    kept for the backward pass, about two (T, B, gates × H) float32 blocks per layer; for
    messages, not decisions."""
    units, layers = getattr(config, "units", 256), getattr(config, "layers", 1)
    gates = len(CELLS[getattr(config, "cell", "lstm")].blocks)
    inputs = [PIXELS] + [units] * (layers - 1)
    recurrent = sum(gates * units * (n + units + 1) for n in inputs)
    params = recurrent + units * HEAD_UNITS + HEAD_UNITS * (CLASSES + 1) + CLASSES
    activations = STEPS * config.batch_size * layers * 2 * gates * units
    return 4 * (4 * params + activations)


# -- the cache key -------------------------------------------------------------------------


@functools.cache
def code_digest(config_class: type) -> str:
    """Fingerprint of the code that defines a trained model of ``config_class``
    (:func:`trainer_code`, see :mod:`rnnreport.fingerprint`); computed once per class in a
    process."""
    roots, ignore = trainer_code(config_class)
    return fingerprint(roots, ignore=ignore)


def trainer_code(config_class: type) -> tuple[tuple[object, ...], tuple[object, ...]]:
    """``(roots, ignored)`` of the fingerprint of a model of ``config_class``.

    Roots: the class (and what its ``build()`` constructs), the model's builder and the
    whole training from :func:`trained_model` down: fresh start, resume, checkpoints, the
    fitting loop, evaluation, threads. Ignored, because they cannot change a trained
    model's weights or metrics: the progress display and the lines a training writes;
    MNIST's loading and the choice of its
    view (the data enter the key by the digest of the arrays trained on); where an entry
    lives and its lock; reading and writing finished entries (stored whole, and checked by
    their checksum when read: the cache tests check the round trip bit for bit).
    """
    ignored = (
        *(Progress, line, load_mnist, MNIST.pixels),
        *(cache_path, check_cache, locked, read_entry, write_entry),
    )
    return (config_class, build_model, trained_model), ignored


def cache_key(
    config: TrainConfig, data: MNIST, device: torch.device | str | None = None
) -> dict[str, Any]:
    """Everything that determines ``config``'s trained weights and metrics, and nothing else."""
    # the view of the data the config reads
    return key_parts(config, _pixels(config, data).digest, code_digest(type(config)), device)


def cache_path(config: TrainConfig, data: MNIST, device: torch.device | str | None = None) -> Path:
    """The cache file for ``config`` trained on ``data`` on ``device`` (default: the one
    :func:`~rnnreport.training.records.default_device` picks), named by :func:`cache_key`."""
    return entry_path(config, cache_key(config, data, device))


def _pixels(config: TrainConfig, data: MNIST) -> MNIST:
    """The view of ``data`` that ``config`` reads: binarized (the assignment's) unless it asks
    for ``pixels="grey"`` (configs without the field, like the whole-image ones, are binary)."""
    return data.pixels(getattr(config, "pixels", "binary"))


def load_cached(
    config: TrainConfig, data: MNIST | None = None, device: torch.device | str | None = None
) -> tuple[torch.nn.Module, Result] | None:
    """The cached trained model for ``config`` (trained on ``device``, by default the one
    :func:`~rnnreport.training.records.default_device` picks), or None when it has not been
    trained yet."""
    data = data or load_mnist()
    path = check_cache(cache_path(config, data, device))
    with locked(path, config):
        return read_entry(path, config)


# -- the fit and evaluation ----------------------------------------------------------------


def _fit(
    config: TrainConfig,
    data: MNIST,
    run: Run,
    device: torch.device,
    progress: str,
    after_epoch: Callable[[Run], None],
) -> Result:
    """Train ``run`` from its last finished epoch to ``config.epochs``; the test metrics."""
    model, optimizer = run.model, run.optimizer
    train_x, train_y = _tensors(data.train, device)
    if config.limit is not None:
        train_x, train_y = train_x[: config.limit], train_y[: config.limit]
    n, B = len(train_y), config.batch_size
    bar = Progress(progress, f"{config.name} seed {config.seed}", total=config.epochs * -(-n // B))
    try:
        for epoch in range(len(run.history) + 1, config.epochs + 1):
            start = time.perf_counter()
            model.train()
            total = 0.0
            for idx in torch.randperm(n, generator=run.order).to(device).split(B):
                loss = F.cross_entropy(model(train_x[idx].float()), train_y[idx], reduction="sum")
                optimizer.zero_grad(set_to_none=True)
                (loss / len(idx) if getattr(config, "loss", "sum") == "mean" else loss).backward()
                optimizer.step()
                summed = loss.item()  # one device-to-host copy per batch
                total += summed
                bar.batch(summed / len(idx))
            valid_loss, valid_acc = evaluate(model, data.valid, device)
            if not (math.isfinite(total) and math.isfinite(valid_loss)):
                raise TrainingDiverged(
                    f"{config.name} seed {config.seed} diverged: its training loss is "
                    f"{total / n} in epoch {epoch} (lr {config.lr:g}); nothing was cached: "
                    "train it with a smaller learning rate"
                )
            seconds = time.perf_counter() - start
            run.spent += seconds
            record = Epoch(epoch, total / n, valid_loss / len(data.valid.y), valid_acc, seconds)
            run.history.append(record)
            bar.epoch(record, config.epochs)
            after_epoch(run)
    finally:
        bar.close()
    test_loss_sum, test_acc = evaluate(model, data.test, device)
    return Result(
        config=config,
        params=count_parameters(model),
        history=tuple(run.history),
        test_loss_sum=test_loss_sum,
        test_loss=test_loss_sum / len(data.test.y),
        test_accuracy=test_acc,
        train_seconds=run.spent,
        device=str(device),
    )


def _tensors(split: Split, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.from_numpy(split.x).to(device), torch.from_numpy(split.y).to(device)


@torch.no_grad()
def evaluate(
    model: torch.nn.Module, split: Split, device: torch.device | None = None
) -> tuple[float, float]:
    """``(loss summed over the split, accuracy)`` of ``model`` on ``split``."""
    device = device or next(model.parameters()).device
    x, y = _tensors(split, device)
    was_training = model.training
    model.eval()
    loss_sum, correct = 0.0, 0
    for start in range(0, len(y), EVAL_BATCH):
        logits = model(x[start : start + EVAL_BATCH].float())
        target = y[start : start + EVAL_BATCH]
        loss_sum += F.cross_entropy(logits, target, reduction="sum").item()
        correct += (logits.argmax(-1) == target).sum().item()
    model.train(was_training)
    return loss_sum, correct / len(y)


# -- many models at once -------------------------------------------------------------------


def pending(configs: list[TrainConfig], data: MNIST) -> list[Job]:
    """The configs the cache lacks, as jobs for the queue, each with the key it must be
    trained under; the cache is checked first
    (:func:`~rnnreport.training.store.check_cache`)."""
    keys = {c: cache_key(c, data) for c in configs}
    paths = {c: check_cache(entry_path(c, key)) for c, key in keys.items()}  # before any work
    return [Job.of(c, __name__, keys[c]) for c, path in paths.items() if not path.exists()]


def train_many(
    configs: list[TrainConfig],
    *,
    data: MNIST | None = None,
    progress: str = "lines",
    workers: int | None = None,
    scheduler: str | None = None,
) -> list[Result]:
    """Train every config the cache lacks on the Dask queue, then load them all.

    The queue (:func:`~rnnreport.training.engine.train_jobs`) trains on the cluster at
    ``scheduler`` (default: ``$RNNREPORT_SCHEDULER``), else in ``workers`` processes on this
    machine (default: one per core), the largest models first; a single model, or one
    worker on this machine, trains here, without a cluster. A model that fails on a
    worker is trained here. The cache is checked before any work
    (:func:`~rnnreport.training.store.check_cache`).
    """
    data = data or load_mnist()
    jobs = pending(configs, data)
    workers = default_workers(len(jobs)) if workers is None else workers
    if jobs and (scheduler or settings.scheduler() or (len(jobs) > 1 and workers > 1)):
        train_jobs(jobs, workers, progress, scheduler)
    elif len(jobs) > 1:  # one at a time, here (on a GPU), saying where it is all the same
        tally = Tally([job.config for job in jobs], workers=1)
        for job in jobs:
            start = time.perf_counter()
            train(job.config, data=data, progress=progress)
            tally.trained(job.config, time.perf_counter() - start, running={})
    return [train(c, data=data, progress=progress) for c in configs]


def train_job(job: Job, progress: str) -> tuple[torch.nn.Module, Result]:
    """On a worker of the queue: the model of ``job`` trained (or found in this machine's
    cache), once the key this machine gives it is the one the job asks for
    (:func:`~rnnreport.training.engine.check_key`); not stored: the client stores it."""
    data = load_mnist()
    check_key(job, cache_key(job.config, data))
    return trained_model(job.config, data=data, progress=progress, keep=False)
