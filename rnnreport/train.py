"""Train and evaluate one config; keep the result in a cache that is never trusted blindly.

Training is the assignment's: Adam (lr 1e-3, other settings at their defaults), batches of
256, 10 epochs, cross-entropy *summed* over the batch (the course's convention). The batches'
order is drawn from ``config.seed``, the initial weights too, so the same config gives the
same weights and metrics on the same machine.

The cache holds one file per trained model, named by the config and a key that covers the
config, the data and the source of the code that defines the model (``cells.py``,
``layers.py``, ``models.py``): an edit there retrains, an edit to a plot does not. Files are
written to a temporary name and renamed, so an interrupted write leaves nothing that looks
valid; an entry that fails to load or whose checksum does not match is trained again. An
interrupted *training* keeps its last finished epoch and resumes from it.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, is_dataclass
from pathlib import Path
from typing import Any, Protocol

import torch
from torch.nn import functional as F

from . import settings
from .data import MNIST, Split, load_mnist
from .model import cells, classifier, layers
from .model.classifier import ModelConfig, build_model, count_parameters

TRAINING_VERSION = 1
"""Bump when the training procedure changes in a way that changes results."""

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


def default_device() -> torch.device:
    """CUDA when available, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def code_digest(config: TrainConfig) -> str:
    """sha256 over the source of the modules that define ``config``'s model, and the
    training version: the recurrent models are defined by cells, layers and models."""
    defining = {sys.modules[type(config).__module__], classifier}  # classifier seeds every build
    if isinstance(config, ModelConfig):
        defining |= {cells, layers}
    h = hashlib.sha256(f"training v{TRAINING_VERSION}".encode())
    for module in sorted(defining, key=lambda m: m.__name__):
        h.update(Path(module.__file__).read_bytes())
    return h.hexdigest()


def cache_path(config: TrainConfig, data: MNIST) -> Path:
    """The cache file for ``config`` trained on ``data`` with the current model code."""
    key = f"{config.key}|{_pixels(config, data).digest}|{code_digest(config)}"
    key = hashlib.sha256(key.encode()).hexdigest()
    return settings.cache_dir() / "runs" / f"{config.name}-s{config.seed}-{key[:16]}.pt"


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


# -- the cache -----------------------------------------------------------------------------


def _checksum(state: dict[str, torch.Tensor], result: str) -> str:
    """sha256 over the stored metrics (JSON text) and every weight tensor, by name."""
    h = hashlib.sha256(result.encode())
    for name in sorted(state):
        h.update(name.encode())
        h.update(state[name].detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def _atomic_save(obj: Any, path: Path) -> None:
    """``torch.save`` to a temporary file beside ``path``, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _load_entry(path: Path, config: TrainConfig) -> tuple[torch.nn.Module, Result] | None:
    """The cached model and result at ``path``, or None if absent, unreadable or not verified."""
    if not path.exists():
        return None
    try:
        entry = torch.load(path, map_location="cpu", weights_only=True)
        result = Result.from_dict(json.loads(entry["result"]), cached=True)
        checksum = _checksum(entry["weights"], entry["result"])
        if result.config != config or checksum != entry["checksum"]:
            raise ValueError("config or checksum mismatch")
        model = build_model(config)
        model.load_state_dict(entry["weights"], strict=True)
    except Exception as error:  # any failure means: do not trust it, train again
        print(
            f"rnnreport: ignoring bad cache entry {path.name} ({error}); retraining",
            file=sys.stderr,
        )
        return None
    return model, result


def load_cached(
    config: TrainConfig, data: MNIST | None = None
) -> tuple[torch.nn.Module, Result] | None:
    """The cached trained model for ``config``, or None when it has not been trained yet."""
    data = data or load_mnist()
    return _load_entry(cache_path(config, data), config)


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
    path = cache_path(config, data)
    data = _pixels(config, data)
    if use_cache and (hit := _load_entry(path, config)) is not None:
        hit[0].eval()
        return hit
    with _cpu_threads(CPU_THREADS):
        model, result = _fit(
            config,
            data,
            torch.device(device or default_device()),
            progress,
            path if use_cache else None,
            on_epoch,
        )
    if use_cache:
        state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        text = json.dumps(result.to_dict())
        _atomic_save({"result": text, "weights": state, "checksum": _checksum(state, text)}, path)
        path.with_suffix(".partial").unlink(missing_ok=True)
    return model.cpu().eval(), result


def _fit(
    config: TrainConfig,
    data: MNIST,
    device: torch.device,
    progress: str,
    path: Path | None,
    on_epoch: Callable[[Epoch], None] | None,
) -> tuple[torch.nn.Module, Result]:
    partial = path.with_suffix(".partial") if path is not None else None
    model, optimizer, order = _fresh(config, device)
    history: list[Epoch] = []
    spent = 0.0
    if partial is not None and partial.exists():
        if (resumed := _resume(partial, model, optimizer, order)) is not None:
            history, spent = resumed
        else:  # a half-applied checkpoint must not leak into the run
            model, optimizer, order = _fresh(config, device)
    train_x, train_y = _tensors(data.train, device)
    if config.limit is not None:
        train_x, train_y = train_x[: config.limit], train_y[: config.limit]
    n, B = len(train_y), config.batch_size
    bar = _Progress(progress, f"{config.name} seed {config.seed}", total=config.epochs * -(-n // B))
    try:
        for epoch in range(len(history) + 1, config.epochs + 1):
            start = time.perf_counter()
            model.train()
            total = 0.0
            for idx in torch.randperm(n, generator=order).to(device).split(B):
                loss = F.cross_entropy(model(train_x[idx].float()), train_y[idx], reduction="sum")
                optimizer.zero_grad(set_to_none=True)
                (loss / len(idx) if getattr(config, "loss", "sum") == "mean" else loss).backward()
                optimizer.step()
                total += loss.item()
                bar.batch(loss.item() / len(idx))
            valid_loss, valid_acc = evaluate(model, data.valid, device)
            seconds = time.perf_counter() - start
            spent += seconds
            record = Epoch(epoch, total / n, valid_loss / len(data.valid.y), valid_acc, seconds)
            history.append(record)
            bar.epoch(record, config.epochs)
            if partial is not None:
                _checkpoint(partial, model, optimizer, order, history, spent)
            if on_epoch is not None:
                on_epoch(record)
    finally:
        bar.close()
    test_loss_sum, test_acc = evaluate(model, data.test, device)
    result = Result(
        config=config,
        params=count_parameters(model),
        history=tuple(history),
        test_loss_sum=test_loss_sum,
        test_loss=test_loss_sum / len(data.test.y),
        test_accuracy=test_acc,
        train_seconds=spent,
        device=str(device),
    )
    return model, result


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


def _fresh(
    config: TrainConfig, device: torch.device
) -> tuple[torch.nn.Module, torch.optim.Adam, torch.Generator]:
    """Initial model, optimizer and batch-order generator, all from ``config.seed``."""
    model = build_model(config).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    order = torch.Generator().manual_seed(config.seed)  # batch order, drawn on the CPU everywhere
    return model, optimizer, order


def _checkpoint(path, model, optimizer, order, history, spent) -> None:
    _atomic_save(
        {
            "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "optimizer": optimizer.state_dict(),
            "order": order.get_state(),
            "history": json.dumps([asdict(e) for e in history]),
            "spent": spent,
        },
        path,
    )


def _resume(path, model, optimizer, order) -> tuple[list[Epoch], float] | None:
    """Restore an interrupted run's last finished epoch; None when there is none to trust."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict(state["model"], strict=True)
        optimizer.load_state_dict(state["optimizer"])
        order.set_state(state["order"])
        history = [Epoch(**e) for e in json.loads(state["history"])]
    except Exception as error:
        print(f"rnnreport: ignoring bad checkpoint {path.name} ({error})", file=sys.stderr)
        return None
    print(f"rnnreport: resuming {path.stem} after epoch {len(history)}", file=sys.stderr)
    return history, float(state["spent"])


# -- many models at once -------------------------------------------------------------------


def default_workers(jobs: int) -> int:
    """Processes to train ``jobs`` models with: one per CPU core (each on one thread),
    since these small models use a core better alone than two threads share it; one on a GPU."""
    if torch.cuda.is_available():
        return 1
    return max(1, min(os.cpu_count() or 1, jobs))


def train_many(
    configs: list[TrainConfig],
    *,
    data: MNIST | None = None,
    progress: str = "lines",
    workers: int | None = None,
) -> list[Result]:
    """Train every config the cache lacks, in parallel worker processes, then load them all.

    Each worker is a fresh ``python -m rnnreport.train`` on one thread (no fork: forking
    after torch's thread pool has started can hang), training one config into the cache;
    the largest models go first. Results come back through the cache, so a worker that
    fails or trains on other data leaves its config to be trained here instead.
    """
    data = data or load_mnist()
    missing = list(dict.fromkeys(c for c in configs if not cache_path(c, data).exists()))
    workers = default_workers(len(missing)) if workers is None else workers
    if len(missing) > 1 and workers > 1:
        _run_workers(missing, workers, progress, data.digest)
    return [train(c, data=data, progress=progress) for c in configs]


def _run_workers(configs: list[TrainConfig], workers: int, progress: str, data_digest: str) -> None:
    import subprocess

    # biggest first, so that the last model to finish is a small one
    queue = sorted(configs, key=lambda c: -count_parameters(build_model(c)) * c.epochs)
    threads = str(CPU_THREADS)  # what training will use: no larger pool to start
    env = {**os.environ, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
    running: list[tuple[subprocess.Popen, TrainConfig]] = []
    print(f"rnnreport: training {len(configs)} models in {workers} processes", file=sys.stderr)
    try:
        while queue or running:
            while queue and len(running) < workers:
                config = queue.pop(0)
                spec = json.dumps(
                    {
                        "config_class": _class_name(config),
                        "config": asdict(config),
                        "data_digest": data_digest,
                    }
                )
                command = [sys.executable, "-m", "rnnreport.train", spec, progress]
                running.append((subprocess.Popen(command, env=env), config))
            time.sleep(0.2)
            for process, config in list(running):
                if process.poll() is not None:
                    running.remove((process, config))
                    if process.returncode != 0:
                        print(
                            f"rnnreport: the worker training {config.name} seed {config.seed} "
                            f"failed (exit {process.returncode}); it will be trained here",
                            file=sys.stderr,
                        )
    finally:
        for process, _ in running:  # interrupted: stop the workers (finished epochs are kept)
            process.terminate()
            process.wait()


def _class_name(config: TrainConfig) -> str:
    return f"{type(config).__module__}:{type(config).__qualname__}"


def _worker(spec: str, progress: str) -> int:
    """Entry point of one worker process: train one config into the cache; the exit status."""
    import signal

    from .data import DataError

    # terminated by the parent: unwind, so that temporary files are removed
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    d = json.loads(spec)
    config = _config_class(d["config_class"])(**d["config"])
    try:
        data = load_mnist()
    except DataError as error:
        print(f"rnnreport worker: {error}", file=sys.stderr)
        return 1
    if d.get("data_digest", data.digest) != data.digest:
        print(f"rnnreport worker: {data.source} is not the data asked for", file=sys.stderr)
        return 3
    train(config, data=data, progress=progress)
    return 0


if __name__ == "__main__":
    sys.exit(_worker(*sys.argv[1:]))
