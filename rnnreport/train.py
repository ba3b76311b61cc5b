"""Train and evaluate one config; keep the result in a cache that is never trusted blindly.

Training is the assignment's: Adam (lr 1e-3, other settings at their defaults), batches of
256, 10 epochs, cross-entropy *summed* over the batch (the course's convention). The batches'
order is drawn from ``config.seed``, the initial weights too, so the same config gives the
same weights and metrics on the same machine.

The cache holds one file per trained model, named by the config and a key that covers
everything that determines its weights and metrics (:func:`cache_key`): the config, the data,
the code that defines the model and its training (a fingerprint of the functions and classes
themselves, see :mod:`rnnreport.fingerprint`), the torch and numpy versions and the device
that trains. An edit to a cell or to the training loop retrains; an edit to a plot, a
docstring or a comment does not, and neither does moving a function between modules.

Nothing in the cache is trusted blindly. Entries and epoch checkpoints alike are written to a
temporary name and renamed, so an interrupted write leaves nothing that looks valid, and carry
a checksum over their weights and metrics: one that fails to load or to match is set aside
with a one-line note saying what was found, and trained again (a checkpoint: from the start).
An interrupted *training* resumes from its last finished epoch. A lock file beside each
entry makes a second process training the same config wait and reuse the first one's result.
A training whose loss stops being a finite number raises :class:`TrainingDiverged` and
stores nothing. The cache directory is checked before any work (:func:`check_cache`).
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import json
import math
import os
import platform
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field, is_dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch.nn import functional as F

from . import settings
from .data import MNIST, Split, load_mnist
from .files import atomic_write, sweep
from .fingerprint import fingerprint
from .model import compiled
from .model.classifier import TRAIN_SEQUENCES, build_model, count_parameters

EVAL_BATCH = 2000
PROGRESS = ("auto", "bar", "lines", "off")
CPU_THREADS = 1
"""Threads torch trains with on the CPU, whoever trains: a matmul split over another number
of threads may round differently, and the same config must give the same weights. One
thread per model is also the faster way to use the cores (see :func:`train_many`)."""


class TrainConfig(Protocol):
    """What the trainer needs of a config: :class:`~rnnreport.model.classifier.ModelConfig`
    for the recurrent classifiers, :class:`~rnnreport.model.whole_image.BaselineConfig` for
    whole-image ones.

    A frozen dataclass whose ``build()`` returns a module mapping images (B, 28, 28) to
    logits (B, 10), with ``name`` and ``key`` (a stable hash of its fields).
    """

    seed: int
    epochs: int
    batch_size: int
    lr: float
    limit: int | None

    @property
    def name(self) -> str: ...

    @property
    def key(self) -> str: ...

    def build(self) -> torch.nn.Module: ...


@dataclass(frozen=True)
class Epoch:
    """Metrics after one epoch; losses are mean cross-entropy per image."""

    epoch: int
    train_loss: float
    valid_loss: float
    valid_accuracy: float
    seconds: float = field(compare=False)  # wall time: not part of the result's identity


@dataclass(frozen=True)
class Result:
    """A trained model's metrics. ``test_loss_sum`` is summed over the 10,000 test images."""

    config: TrainConfig
    params: int
    history: tuple[Epoch, ...]
    test_loss_sum: float
    test_loss: float
    test_accuracy: float
    train_seconds: float = field(compare=False)
    device: str = "cpu"
    cached: bool = field(default=False, compare=False)

    @property
    def name(self) -> str:
        return self.config.name

    def to_dict(self) -> dict[str, Any]:
        """Flat JSON-ready summary (the CLI's ``--json``) plus config and history."""
        c = self.config
        return {
            "name": c.name,
            "cell": getattr(c, "cell", None),
            "units": getattr(c, "units", None),
            "layers": getattr(c, "layers", None),
            "reset": getattr(c, "reset", None),
            "seed": c.seed,
            "epochs": c.epochs,
            "params": self.params,
            "test_loss_sum": self.test_loss_sum,
            "test_loss": self.test_loss,
            "test_accuracy": self.test_accuracy,
            "train_seconds": self.train_seconds,
            "device": self.device,
            "cached": self.cached,
            "config": asdict(c),
            "config_class": _class_name(c),
            "history": [asdict(e) for e in self.history],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any], cached: bool = False) -> Result:
        return cls(
            config=_config_class(d.get("config_class", ""))(**d["config"]),
            params=d["params"],
            history=tuple(Epoch(**e) for e in d["history"]),
            test_loss_sum=d["test_loss_sum"],
            test_loss=d["test_loss"],
            test_accuracy=d["test_accuracy"],
            train_seconds=d["train_seconds"],
            device=d["device"],
            cached=cached,
        )


def _config_class(name: str) -> type:
    """The config class a stored result names (only rnnreport's own dataclasses)."""
    module, _, qualname = name.partition(":")
    if not name or not module.startswith("rnnreport."):
        raise ValueError(f"not a rnnreport config class: {name!r}")
    cls = getattr(importlib.import_module(module), qualname)
    if not (isinstance(cls, type) and is_dataclass(cls)):
        raise ValueError(f"not a config dataclass: {name!r}")
    return cls


class TrainingDiverged(RuntimeError):
    """A training whose loss stopped being a finite number: not a result, so not cached."""


def default_device() -> torch.device:
    """CUDA when available, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


# -- the cache key -------------------------------------------------------------------------


def device_description(device: torch.device | str | None = None) -> str:
    """What trains, as it enters the cache key: ``cpu x86_64 AVX512`` (the instruction set
    torch's kernels use) or ``cuda NVIDIA H100 80GB HBM3, CUDA 12.8, cuDNN 90800`` (the
    GPU and the libraries torch calls there, which a local build of the same torch release
    may change); the same arithmetic on another kind of device may round differently."""
    device = torch.device(device or default_device())
    if device.type == "cuda":
        return (
            f"cuda {torch.cuda.get_device_name(device)}, CUDA {torch.version.cuda}, "
            f"cuDNN {torch.backends.cudnn.version()}"
        )
    if device.type == "cpu":
        return f"cpu {platform.machine()} {torch.backends.cpu.get_cpu_capability()}"
    return device.type


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
    model's weights or metrics: the progress display; MNIST's loading and the choice of its
    view (the data enter the key by the digest of the arrays trained on); where an entry
    lives and its lock; reading and writing finished entries (stored whole, and checked by
    their checksum when read: the cache tests check the round trip bit for bit).
    """
    ignored = (
        *(_Progress, load_mnist, MNIST.pixels),
        *(cache_path, check_cache, _locked, _load_entry, _store),
    )
    return (config_class, build_model, trained_model), ignored


def cache_key(
    config: TrainConfig, data: MNIST, device: torch.device | str | None = None
) -> dict[str, Any]:
    """Everything that determines ``config``'s trained weights and metrics, and nothing else."""
    # the view of the data the config reads
    return key_parts(config, _pixels(config, data).digest, code_digest(type(config)), device)


def key_parts(
    config: TrainConfig, data_digest: str, code: str, device: torch.device | str | None
) -> dict[str, Any]:
    """The parts of every trainer's cache key: the config, its data, the code that trains
    it, the torch and numpy versions, the device, the threads and, on the CPU, the
    compiled steps (:func:`rnnreport.model.compiled.identity`: they round differently from
    torch's operations, which run where they cannot be built, and on a GPU)."""
    where = device_description(device)
    return {
        "config": config.key,
        "data": data_digest,
        "code": code,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "device": where,
        "threads": CPU_THREADS,
        "compiled_steps": compiled.identity() if where.startswith("cpu") else None,
    }


def cache_path(config: TrainConfig, data: MNIST, device: torch.device | str | None = None) -> Path:
    """The cache file for ``config`` trained on ``data`` on ``device`` (default: the one
    :func:`default_device` picks), named by :func:`cache_key`."""
    return entry_path(config, cache_key(config, data, device))


def entry_path(config: TrainConfig, key: dict[str, Any]) -> Path:
    """The cache file of ``config`` under ``key``: its name, seed and a hash of the key."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()
    return runs_dir() / f"{config.name}-s{config.seed}-{digest[:16]}.pt"


def runs_dir() -> Path:
    """Where the trained models are: ``runs`` in :func:`rnnreport.settings.cache_dir`."""
    return settings.cache_dir() / "runs"


# -- evaluation ----------------------------------------------------------------------------


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


# -- files checked before they are trusted -------------------------------------------------


class _Unusable(Exception):
    """A cache file that is not to be trusted; the message says what was found."""


def _checksum(content: Any) -> str:
    """sha256 over ``content``: dicts (by key), lists, tuples, tensors (dtype, shape and
    bytes) and plain values, nested."""
    h = hashlib.sha256()

    def feed(value: Any) -> None:
        if isinstance(value, torch.Tensor):
            t = value.detach().cpu().contiguous()
            h.update(f"tensor {t.dtype} {tuple(t.shape)}:".encode())
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
        elif isinstance(value, dict):
            h.update(f"dict {len(value)}:".encode())
            for key in sorted(value, key=repr):
                feed(key)
                feed(value[key])
        elif isinstance(value, list | tuple):
            h.update(f"{type(value).__name__} {len(value)}:".encode())
            for item in value:
                feed(item)
        else:
            h.update(f"{type(value).__name__} {value!r};".encode())

    feed(content)
    return h.hexdigest()


def _save_checked(content: dict[str, Any], path: Path) -> None:
    """Save ``content`` with its checksum: to a temporary file beside ``path``, then renamed
    into place, so that an interrupted write leaves nothing that looks valid."""
    with atomic_write(path) as f:
        torch.save({"content": content, "checksum": _checksum(content)}, f)


def _load_checked(path: Path, fields: tuple[str, ...]) -> dict[str, Any]:
    """What :func:`_save_checked` saved at ``path``, holding ``fields``; raises
    :class:`_Unusable` saying what was found instead."""
    if not path.is_file():
        raise _Unusable("not a file")
    size = path.stat().st_size
    try:
        stored = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        raise _Unusable(
            f"{size:,} bytes that torch cannot load (truncated or overwritten)"
        ) from None
    if not (isinstance(stored, dict) and {"content", "checksum"} <= stored.keys()):
        raise _Unusable("a torch file without the checksum this cache writes")
    content = stored["content"]
    if _checksum(content) != stored["checksum"]:
        raise _Unusable("its contents do not match their checksum: changed after they were written")
    if missing := [name for name in fields if name not in content]:
        raise _Unusable(f"it has no {', '.join(missing)}")
    return content


# -- the cache -----------------------------------------------------------------------------


def check_cache(path: Path) -> Path:
    """``path``, a cache entry, once its directory is writable and neither it nor its
    checkpoint or lock is something other than a file; else a one-line
    :class:`~rnnreport.settings.SettingError`, before any work."""
    settings.writable_dir(path.parent, "RNNREPORT_CACHE")
    for file in (path, path.with_suffix(".partial"), path.with_suffix(".lock")):
        if file.exists() and not file.is_file():
            raise settings.SettingError(
                f"the cache entry {file} is not a file: remove it (the cache is RNNREPORT_CACHE, "
                f"{settings.cache_dir()})"
            )
    return path


@contextmanager
def _locked(path: Path, config: TrainConfig) -> Iterator[None]:
    """Hold the lock file beside the cache entry ``path``: a second process training the same
    config waits here, then finds the entry. The system releases the lock of a process that
    dies; the empty file stays. Where there are no POSIX locks (Windows), both train."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    with open(path.with_suffix(".lock"), "a") as lock:  # "a": never truncates
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(
                f"rnnreport: waiting for another process training {config.name} seed "
                f"{config.seed} (lock {lock.name})",
                file=sys.stderr,
                flush=True,
            )
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield  # closing the file releases the lock


def _load_entry(
    path: Path, config: TrainConfig, *, locked: bool = True
) -> tuple[torch.nn.Module, Result] | None:
    """The cached model (in eval mode) and result at ``path``, or None if absent or not
    verified. A bad entry is removed, with a note saying what was found, only by a caller
    that holds the entry's lock (``locked``): without it, another process may have just
    replaced it with a good one, so the bad one is left for the locked look that follows."""
    if not path.exists():
        return None
    try:
        entry = _load_checked(path, ("result", "weights"))
        try:
            result = Result.from_dict(json.loads(entry["result"]), cached=True)
        except (ValueError, KeyError, TypeError) as error:
            raise _Unusable(f"its result does not load ({type(error).__name__}: {error})") from None
        if result.config != config:
            raise _Unusable(f"it holds {result.config}, not {config}")
        model = build_model(config)
        try:
            model.load_state_dict(entry["weights"], strict=True)
        except RuntimeError as error:
            raise _Unusable(f"its weights do not fit {config.name}: {_first_line(error)}") from None
    except _Unusable as why:
        if not locked:
            return None
        print(
            f"rnnreport: ignoring bad cache entry {path.name}: {why}; retraining", file=sys.stderr
        )
        if path.is_file():
            path.unlink()
        return None
    return model.eval(), result


def _store(path: Path, model: torch.nn.Module, result: Result) -> None:
    weights = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    _save_checked({"result": json.dumps(result.to_dict()), "weights": weights}, path)


def _first_line(error: BaseException) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def load_cached(
    config: TrainConfig, data: MNIST | None = None, device: torch.device | str | None = None
) -> tuple[torch.nn.Module, Result] | None:
    """The cached trained model for ``config`` (trained on ``device``, by default the one
    :func:`default_device` picks), or None when it has not been trained yet."""
    data = data or load_mnist()
    path = check_cache(cache_path(config, data, device))
    with _locked(path, config):
        return _load_entry(path, config)


# -- training ------------------------------------------------------------------------------


class _Progress:
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
            print(text, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


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
) -> tuple[torch.nn.Module, Result]:
    """The trained model (on the CPU, in eval mode) and its metrics; trains if not cached.

    ``progress``: ``auto`` (a bar when stderr is a terminal, else quiet), ``bar``, ``lines``
    (one line per epoch on stderr, for logs) or ``off``. ``on_epoch`` is called after each
    epoch (tests use it to interrupt a run).
    """
    data = data or load_mnist()
    if config.limit is not None and config.limit > len(data.train.y):
        raise ValueError(
            f"limit={config.limit:,} is more than the {len(data.train.y):,} training sequences of "
            f"{data.source}: leave it out to train on all of them"
        )
    data = _pixels(config, data)
    device = torch.device(device or default_device())

    def fit(run: _Run, after_epoch: Callable[[_Run], None]) -> Result:
        return _fit(config, data, run, device, progress, after_epoch)

    path = cache_path(config, data, device) if use_cache else None
    try:
        return cached_training(path, config, device, fit, on_epoch)
    except (MemoryError, RuntimeError) as error:
        if isinstance(error, RuntimeError) and not _out_of_memory(error):
            raise
        raise TrainingOutOfMemory(
            f"{config.name} ran out of memory training on {device}: it needs about "
            f"{memory_estimate(config) / 2**30:,.1f} GiB: use a smaller --batch-size, fewer "
            "--units or --layers"
        ) from None


class TrainingOutOfMemory(RuntimeError):
    """Training a config needed more memory than the machine gave."""


def _out_of_memory(error: RuntimeError) -> bool:
    """Whether ``error`` is torch's failure to allocate (CPU or GPU)."""
    oom = getattr(torch, "OutOfMemoryError", ())
    return isinstance(error, oom) or "can't allocate memory" in str(error)


def memory_estimate(config: TrainConfig) -> int:
    """Bytes a training step of ``config`` holds, roughly, without building it: the weights,
    their gradients and Adam's two moments (4 copies of the parameters), and the activations
    kept for the backward pass, about two (T, B, gates × H) float32 blocks per layer; for
    messages, not decisions."""
    units, layers = getattr(config, "units", 256), getattr(config, "layers", 1)
    gates = 4 if getattr(config, "cell", "lstm") == "lstm" else 3
    inputs = [28] + [units] * (layers - 1)
    params = sum(gates * units * (n + units + 1) for n in inputs) + units * 64 + 64 * 11 + 10
    activations = 28 * config.batch_size * layers * 2 * gates * units
    return 4 * (4 * params + activations)


Fit = Callable[["_Run", Callable[["_Run"], None]], Result]
"""Trains a :class:`_Run` to the end, calling its second argument after every epoch."""


def cached_training(
    path: Path | None,
    config: TrainConfig,
    device: torch.device,
    fit: Fit,
    on_epoch: Callable[[Epoch], None] | None = None,
) -> tuple[torch.nn.Module, Result]:
    """The model and result cached at ``path``, or ``fit`` run and stored there.

    The entry is used only if it passes its check. Otherwise a lock beside it makes a
    second process wait for the first (and then use its entry), and the training resumes
    from the epoch checkpoint kept beside the entry, keeps one after every epoch, and is
    stored atomically. ``path`` None trains without the cache. Every trainer of the package
    goes through here, so every kind of model gets the same guarantees.
    """
    if path is None:
        return _train(config, fit, device, None, on_epoch)
    path = check_cache(path)
    if (hit := _load_entry(path, config, locked=False)) is not None:
        return hit
    with _locked(path, config):
        if (hit := _load_entry(path, config)) is not None:  # trained meanwhile by another process
            return hit
        partial = path.with_suffix(".partial")
        for file in (path, partial):  # left by a process killed while writing them
            sweep(file)
        model, result = _train(config, fit, device, partial, on_epoch)
        _store(path, model, result)
        partial.unlink(missing_ok=True)
    return model, result


def _train(
    config: TrainConfig,
    fit: Fit,
    device: torch.device,
    partial: Path | None,
    on_epoch: Callable[[Epoch], None] | None,
) -> tuple[torch.nn.Module, Result]:
    """Train ``config`` on :data:`CPU_THREADS` threads, resuming from the epoch checkpoint at
    ``partial`` and keeping one there after every epoch (None: no checkpoints)."""

    def after_epoch(run: _Run) -> None:
        if partial is not None:
            _checkpoint(partial, run)
        if on_epoch is not None:
            on_epoch(run.history[-1])

    with _cpu_threads(CPU_THREADS):
        run = (partial is not None and _resume(partial, config, device)) or _fresh(config, device)
        result = fit(run, after_epoch)
    return run.model.cpu().eval(), result


@dataclass
class _Run:
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


def _fresh(config: TrainConfig, device: torch.device) -> _Run:
    """Initial model, optimizer and batch-order generator, all from ``config.seed``."""
    model = build_model(config).to(device)
    optimizer = adam(model, config.lr)
    order = torch.Generator().manual_seed(config.seed)  # batch order, drawn on the CPU everywhere
    return _Run(model, optimizer, order)


def _fit(
    config: TrainConfig,
    data: MNIST,
    run: _Run,
    device: torch.device,
    progress: str,
    after_epoch: Callable[[_Run], None],
) -> Result:
    """Train ``run`` from its last finished epoch to ``config.epochs``; the test metrics."""
    model, optimizer = run.model, run.optimizer
    train_x, train_y = _tensors(data.train, device)
    if config.limit is not None:
        train_x, train_y = train_x[: config.limit], train_y[: config.limit]
    n, B = len(train_y), config.batch_size
    bar = _Progress(progress, f"{config.name} seed {config.seed}", total=config.epochs * -(-n // B))
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


def _pixels(config: TrainConfig, data: MNIST) -> MNIST:
    """The view of ``data`` that ``config`` reads: binarized (the assignment's) unless it asks
    for ``pixels="grey"`` (configs without the field, like the whole-image ones, are binary)."""
    return data.pixels(getattr(config, "pixels", "binary"))


@contextmanager
def _cpu_threads(n: int) -> Iterator[None]:
    """Run torch's CPU work on ``n`` threads, then restore the previous count."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


_CHECKPOINT = ("entry", "model", "optimizer", "order", "history", "spent")


def _checkpoint(path: Path, run: _Run) -> None:
    """Keep ``run`` at ``path``, checked like a cache entry (:func:`_save_checked`), with the
    file name it was kept under: the entry's name, which carries its key's hash."""
    state = {
        "entry": path.name,
        "model": {k: v.detach().cpu() for k, v in run.model.state_dict().items()},
        "optimizer": run.optimizer.state_dict(),
        "order": run.order.get_state(),
        "history": json.dumps([asdict(e) for e in run.history]),
        "spent": run.spent,
    }
    _save_checked(state, path)


def _resume(path: Path, config: TrainConfig, device: torch.device) -> _Run | None:
    """The run an interrupted training of ``config`` kept at ``path``; None when there is
    none, or when it fails its check (a note says why, the file goes, training starts over)."""
    if not path.exists():
        return None
    run = _fresh(config, device)
    try:
        state = _load_checked(path, _CHECKPOINT)
        if state["entry"] != path.name:
            raise _Unusable(f"it was kept for {state['entry']}, another config or key")
        try:
            run.model.load_state_dict(state["model"], strict=True)
            run.optimizer.load_state_dict(state["optimizer"])
            run.order.set_state(state["order"])
            run.history = [Epoch(**e) for e in json.loads(state["history"])]
            run.spent = float(state["spent"])
        except (RuntimeError, ValueError, KeyError, TypeError) as error:
            raise _Unusable(f"it does not fit {config.name}: {_first_line(error)}") from None
    except _Unusable as why:
        print(
            f"rnnreport: ignoring bad checkpoint {path.name}: {why}; training from the start",
            file=sys.stderr,
        )
        path.unlink(missing_ok=True)
        return None
    print(f"rnnreport: resuming {path.stem} after epoch {len(run.history)}", file=sys.stderr)
    return run


# -- many models at once -------------------------------------------------------------------


def default_workers(jobs: int) -> int:
    """Processes to train ``jobs`` models with: one per CPU core (each on one thread),
    since these small models use a core better alone than two threads share it; one on a GPU."""
    if torch.cuda.is_available():
        return 1
    return max(1, min(os.cpu_count() or 1, jobs))


@dataclass(frozen=True)
class Job:
    """One model for a worker process to train into the cache: its config, the trainer
    module whose ``run_job`` trains it (see :func:`serve`), and the digest of the data it
    must train on ("" for a trainer that makes its own data)."""

    config: TrainConfig
    module: str = "rnnreport.train"
    data_digest: str = ""


def pending(configs: list[TrainConfig], data: MNIST) -> list[Job]:
    """The configs the cache lacks, as jobs for this trainer's workers; the cache is
    checked first (:func:`check_cache`)."""
    paths = {c: check_cache(cache_path(c, data)) for c in configs}  # before any work
    return [Job(c, data_digest=data.digest) for c, path in paths.items() if not path.exists()]


def train_many(
    configs: list[TrainConfig],
    *,
    data: MNIST | None = None,
    progress: str = "lines",
    workers: int | None = None,
) -> list[Result]:
    """Train every config the cache lacks, in parallel worker processes, then load them all.

    Each worker is a fresh ``python -m rnnreport.train`` on one thread (no fork: forking
    after torch's thread pool has started can hang), training config after config into the
    cache (:func:`serve`); the largest models go first (:func:`train_jobs`). Results come
    back through the cache, so a worker that fails or trains on other data leaves its
    config to be trained here instead. The cache is checked before any work (:func:`check_cache`).
    """
    data = data or load_mnist()
    jobs = pending(configs, data)
    workers = default_workers(len(jobs)) if workers is None else workers
    if len(jobs) > 1 and workers > 1:
        train_jobs(jobs, workers, progress)
    elif len(jobs) > 1:  # one at a time, here (on a GPU), saying where it is all the same
        tally = _Tally([job.config for job in jobs], workers=1)
        for job in jobs:
            start = time.perf_counter()
            train(job.config, data=data, progress=progress)
            tally.trained(job.config, time.perf_counter() - start, running={})
    return [train(c, data=data, progress=progress) for c in configs]


def train_jobs(jobs: list[Job], workers: int | None = None, progress: str = "lines") -> None:
    """Train ``jobs`` (from any trainer) in ``workers`` processes (default: one per core),
    as one queue: the largest models first, the next handed to whichever worker finishes,
    so no core idles while models remain. A model asked for twice is trained once. As
    models finish, a line on stderr says how many are trained and left, with an estimate
    of the time remaining. A job whose worker fails is left to its trainer, which trains
    what the cache still lacks when its results are asked for."""
    jobs = list(dict.fromkeys(jobs))
    workers = default_workers(len(jobs)) if workers is None else workers
    if jobs:
        _run_workers(jobs, max(1, min(workers, len(jobs))), progress)


def _run_workers(jobs: list[Job], workers: int, progress: str) -> None:
    """Train ``jobs`` in ``workers`` long-lived processes (:func:`serve`), each handed the
    next job of the queue as soon as it answers for its last.

    A process imports torch and loads the data once, not once per model. A job that fails
    is reported and left to its trainer; a process that ends before answering is replaced.
    """
    import queue as queues
    import subprocess
    import threading

    # biggest first, so that the last model to finish is a small one
    tally = _Tally([job.config for job in jobs], workers)
    todo = sorted(jobs, key=lambda job: -tally.cost[job.config])
    threads = str(CPU_THREADS)  # what training will use: no larger pool to start
    env = {**os.environ, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads,
           settings.WORKER_OF: str(os.getpid())}  # fmt: skip
    answers: queues.Queue[tuple[subprocess.Popen, int | None]] = queues.Queue()

    def start() -> subprocess.Popen:
        command = [sys.executable, "-m", "rnnreport.train", progress]
        pipes = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE, "text": True}
        # its own session: Ctrl-C reaches this process alone, which stops the workers
        process = subprocess.Popen(command, env=env, start_new_session=True, **pipes)

        def listen() -> None:  # a line per finished job, its exit status; None at the end
            try:
                with process.stdout:
                    for line in process.stdout:
                        if line.strip().lstrip("-").isdigit():  # anything else: no answer
                            answers.put((process, int(line)))
            finally:
                answers.put((process, None))

        threading.Thread(target=listen, daemon=True).start()
        return process

    def answer() -> tuple[subprocess.Popen, int | None]:
        while True:  # a timeout, so that Ctrl-C is heard on every system
            try:
                return answers.get(timeout=1.0)
            except queues.Empty:
                pass

    idle = [start() for _ in range(workers)]
    busy: dict[subprocess.Popen, tuple[TrainConfig, float]] = {}
    _say(f"rnnreport: training {len(jobs)} models in {workers} processes")
    try:
        while todo or busy:
            while todo and idle:
                process, job = idle.pop(), todo.pop(0)
                busy[process] = (job.config, time.perf_counter())
                try:
                    process.stdin.write(_spec(job) + "\n")
                    process.stdin.flush()
                except OSError:  # it has ended: its listener says so, and the job is failed
                    pass
            process, status = answer()
            if (job_of := busy.pop(process, None)) is not None:  # None: it was idle
                config, started = job_of
                if status == 0:
                    now = time.perf_counter()
                    others = {c: now - s for c, s in busy.values()}
                    tally.trained(config, now - started, running=others)
                else:
                    why = f"failed (exit {status})" if status is not None else "ended"
                    print(
                        f"rnnreport: the worker training {config.name} seed {config.seed}"
                        f" {why}; it will be trained here",
                        file=sys.stderr,
                    )
            if status is None:  # it ended: reap it, and another takes its place
                process.wait()
                idle = [p for p in idle if p is not process] + ([start()] if todo else [])
            elif job_of is not None:
                idle.append(process)
    finally:
        for process in idle:  # done: the end of its input ends it
            with suppress(OSError):
                process.stdin.close()
        for process in busy:  # interrupted: stop the workers (finished epochs are kept)
            process.terminate()
        for process in [*idle, *busy]:
            process.wait()


def _spec(job: Job) -> str:
    """A job as :func:`serve` reads it: one line of JSON."""
    return json.dumps(
        {
            "module": job.module,
            "config_class": _class_name(job.config),
            "config": asdict(job.config),
            "data_digest": job.data_digest,
        }
    )


def serve(progress: str) -> int:
    """A worker process: train each job read from stdin, one line of JSON (:func:`_spec`)
    given to its trainer module's ``run_job``, and answer each with its exit status on one
    line of stdout; return 0 at the end of stdin.

    Whatever else is printed to stdout, by Python or by a library, goes to stderr, so
    that the answers stay one number per line. A job that raises is answered 1 (its
    traceback on stderr) and the next is read; an interruption (SIGTERM) ends the process,
    unwinding, so that temporary files are removed. Freed memory is kept for the next
    training step (:func:`keep_freed_memory`).
    """
    import signal
    import traceback

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    keep_freed_memory()
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    for line in sys.stdin:
        try:
            module = importlib.import_module(json.loads(line)["module"])
            status = int(module.run_job(line, progress))
        except Exception:
            traceback.print_exc()
            status = 1
        print(status, file=answers, flush=True)
    return 0


def keep_freed_memory() -> bool:
    """Have glibc keep freed buffers up to 32 MiB, and up to 1 GiB at the heap's top, for
    reuse: a training step frees and allocates the same (T, B, nH) buffers, which would
    otherwise come back as fresh pages, paid for in page faults. True if glibc took the
    settings. It changes no number, only where memory comes from."""
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError, TypeError):  # TypeError: Windows has no CDLL(None)
        return False
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's malloc.h
    trim = mallopt(M_TRIM_THRESHOLD, 1 << 30)
    mmap = mallopt(M_MMAP_THRESHOLD, 1 << 25)
    return bool(trim and mmap)


class _Tally:
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
        waiting = [c for c in self.cost if c not in self.done and c not in running]
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
        done, total = len(self.done), len(self.cost)
        text = f"rnnreport: {done} of {total} models trained, {total - done} left"
        if done < total:
            text += f", about {_duration(self.remaining(running))} remaining (an estimate)"
        _say(text)


def _say(text: str) -> None:
    """A line on where a batch of trainings is, for the terminal that runs the build.

    Written to the process's own stderr (``sys.__stderr__``), not to ``sys.stderr``:
    sphinx-gallery captures the latter into the page of the example that trains, and the
    progress of a build belongs in the build's terminal, not on the site.
    """
    print(text, file=sys.__stderr__ or sys.stderr, flush=True)


def _duration(seconds: float) -> str:
    if seconds < 60:
        return "less than a minute"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


def _class_name(config: TrainConfig) -> str:
    return f"{type(config).__module__}:{type(config).__qualname__}"


def run_job(spec: str, progress: str) -> int:
    """What a worker process (:func:`serve`) does with a job of this trainer: train its
    config into the cache; the exit status."""

    def work(config: TrainConfig, d: dict[str, Any]) -> int:
        data = load_mnist()
        if d.get("data_digest", data.digest) != data.digest:
            print(f"rnnreport worker: {data.source} is not the data asked for", file=sys.stderr)
            return 3
        train(config, data=data, progress=progress)
        return 0

    return run_worker(spec, work)


def run_worker(spec: str, work: Callable[[TrainConfig, dict[str, Any]], int]) -> int:
    """What every trainer's ``run_job`` does with the parent's ``spec``: rebuild the
    config, ``work`` on it (train it into the cache; its exit status), and turn a known
    failure into one line and exit status 1."""
    from .data import DataError

    d = json.loads(spec)
    config = _config_class(d["config_class"])(**d["config"])
    try:
        return work(config, d)
    except (DataError, settings.SettingError, TrainingDiverged, OSError) as error:
        print(f"rnnreport worker: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # run as the package's module, not as __main__: one set of classes
    from rnnreport.train import serve

    sys.exit(serve(*sys.argv[1:]))
