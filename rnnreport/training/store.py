"""The training cache, the same for every task: where an entry lives and the key it is
named by, the checked files it is made of, the lock beside it, and reading and writing it.

An entry is one file per trained model, named by its config and a hash of its key
(:func:`key_parts`): the config, the data, the code that trains it (a fingerprint, see
:mod:`rnnreport.fingerprint`), the torch and numpy versions, the device, the threads and
the compiled steps. Each task computes the data and code parts (``cache_key`` in
:mod:`~rnnreport.training.mnist` and :mod:`~rnnreport.training.counting`); nothing here
depends on the task.

Nothing in the cache is trusted blindly. Entries and epoch checkpoints alike are written to a
temporary name and renamed (:func:`rnnreport.files.atomic_write`), so an interrupted write
leaves nothing that looks valid, and carry a checksum over their weights and metrics
(:func:`save_checked`): one that fails to load or to match raises :class:`Unusable`, saying
what was found, and is set aside and trained again. A lock file beside each entry
(:func:`locked`) makes a second process training the same config wait and reuse the first
one's result. The cache directory is checked before any work (:func:`check_cache`).
"""

from __future__ import annotations

import hashlib
import io
import json
import platform
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import settings
from ..files import atomic_write
from ..model import compiled
from ..model.classifier import build_model
from .progress import line
from .records import CPU_THREADS, Result, TrainConfig, default_device

# -- the key -------------------------------------------------------------------------------


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


def entry_path(config: TrainConfig, key: dict[str, Any]) -> Path:
    """The cache file of ``config`` under ``key``: its name, seed and a hash of the key."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()
    return runs_dir() / f"{config.name}-s{config.seed}-{digest[:16]}.pt"


def runs_dir() -> Path:
    """Where the trained models are: ``runs`` in :func:`rnnreport.settings.cache_dir`."""
    return settings.cache_dir() / "runs"


# -- files checked before they are trusted -------------------------------------------------


class Unusable(Exception):
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


def save_checked(content: dict[str, Any], path: Path) -> None:
    """Save ``content`` with its checksum: to a temporary file beside ``path``, then renamed
    into place, so that an interrupted write leaves nothing that looks valid."""
    with atomic_write(path) as f:
        torch.save({"content": content, "checksum": _checksum(content)}, f)


def checked_bytes(content: dict[str, Any]) -> bytes:
    """``content`` with its checksum, as the bytes of the file :func:`save_checked` writes
    (:func:`save_checked` does not call it: it is part of every checkpoint's code, and so of
    every cache key)."""
    buffer = io.BytesIO()
    torch.save({"content": content, "checksum": _checksum(content)}, buffer)
    return buffer.getvalue()


def load_checked(path: Path, fields: tuple[str, ...]) -> dict[str, Any]:
    """What :func:`save_checked` saved at ``path``, holding ``fields``; raises
    :class:`Unusable` saying what was found instead."""
    if not path.is_file():
        raise Unusable("not a file")
    size = path.stat().st_size
    try:
        stored = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        raise Unusable(
            f"{size:,} bytes that torch cannot load (truncated or overwritten)"
        ) from None
    if not (isinstance(stored, dict) and {"content", "checksum"} <= stored.keys()):
        raise Unusable("a torch file without the checksum this cache writes")
    content = stored["content"]
    if _checksum(content) != stored["checksum"]:
        raise Unusable("its contents do not match their checksum: changed after they were written")
    if missing := [name for name in fields if name not in content]:
        raise Unusable(f"it has no {', '.join(missing)}")
    return content


def first_line(error: BaseException) -> str:
    """The first line of ``error``'s message (its type's name when it has none)."""
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


# -- the entries ---------------------------------------------------------------------------


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
def locked(path: Path, config: TrainConfig) -> Iterator[None]:
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
            line(
                f"rnnreport: waiting for another process training {config.name} seed "
                f"{config.seed} (lock {lock.name})"
            )
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield  # closing the file releases the lock


def read_entry(
    path: Path, config: TrainConfig, *, locked: bool = True
) -> tuple[torch.nn.Module, Result] | None:
    """The cached model (in eval mode) and result at ``path``, or None if absent or not
    verified. A bad entry is removed, with a note saying what was found, only by a caller
    that holds the entry's lock (``locked``): without it, another process may have just
    replaced it with a good one, so the bad one is left for the locked look that follows."""
    if not path.exists():
        return None
    try:
        entry = load_checked(path, ("result", "weights"))
        try:
            result = Result.from_dict(json.loads(entry["result"]), cached=True)
        except (ValueError, KeyError, TypeError) as error:
            raise Unusable(f"its result does not load ({type(error).__name__}: {error})") from None
        if result.config != config:
            raise Unusable(f"it holds {result.config}, not {config}")
        model = build_model(config)
        try:
            model.load_state_dict(entry["weights"], strict=True)
        except RuntimeError as error:
            raise Unusable(f"its weights do not fit {config.name}: {first_line(error)}") from None
    except Unusable as why:
        if not locked:
            return None
        line(f"rnnreport: ignoring bad cache entry {path.name}: {why}; retraining")
        if path.is_file():
            path.unlink()
        return None
    return model.eval(), result


def write_entry(path: Path, weights: dict[str, torch.Tensor], result: Result) -> None:
    """Keep a model's ``weights`` (its state dict, kept on the CPU) and ``result`` at
    ``path``, checked (:func:`save_checked`)."""
    with atomic_write(path) as f:
        f.write(entry_bytes(weights, result))


def entry_bytes(weights: dict[str, torch.Tensor], result: Result) -> bytes:
    """The bytes of the entry :func:`write_entry` writes: what a worker of the queue sends
    its client, which checks them as it checks any entry before it uses one."""
    weights = {k: v.detach().cpu() for k, v in weights.items()}
    return checked_bytes({"result": json.dumps(result.to_dict()), "weights": weights})
