"""What a training is and what it gives, for every task.

The config protocol (:class:`TrainConfig`), the metrics of an epoch (:class:`Epoch`) and
of a trained model (:class:`Result`), the two ways a training ends without one
(:class:`TrainingDiverged`, :class:`TrainingOutOfMemory`), and where and on how many
threads it runs (:func:`default_device`, :data:`CPU_THREADS`)."""

from __future__ import annotations

import importlib
from dataclasses import asdict, dataclass, field, is_dataclass
from typing import Any, Protocol

import torch

CPU_THREADS = 1
"""Threads torch trains with on the CPU, whoever trains: a matmul split over another number
of threads may round differently, and the same config must give the same weights. One
thread per model is also the faster way to use the cores (see
:func:`rnnreport.training.engine.default_workers`)."""


class TrainConfig(Protocol):
    """What training needs of a config: :class:`~rnnreport.model.classifier.ModelConfig`
    for the recurrent classifiers, :class:`~rnnreport.model.whole_image.BaselineConfig` for
    whole-image ones, :class:`~rnnreport.model.counter.CounterConfig` for the counters.

    A frozen dataclass whose ``build()`` returns the module its task trains (for MNIST, one
    mapping images (B, 28, 28) to logits (B, 10)), with ``name`` and ``key`` (a stable hash
    of its fields).
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
            "config_class": class_name(c),
            "history": [asdict(e) for e in self.history],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any], cached: bool = False) -> Result:
        return cls(
            config=config_class(d.get("config_class", ""))(**d["config"]),
            params=d["params"],
            history=tuple(Epoch(**e) for e in d["history"]),
            test_loss_sum=d["test_loss_sum"],
            test_loss=d["test_loss"],
            test_accuracy=d["test_accuracy"],
            train_seconds=d["train_seconds"],
            device=d["device"],
            cached=cached,
        )


def class_name(config: TrainConfig) -> str:
    """``module:qualname`` of ``config``'s class, as a stored result and a job name it
    (:func:`config_class` reads it back)."""
    return f"{type(config).__module__}:{type(config).__qualname__}"


def config_class(name: str) -> type:
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


class TrainingOutOfMemory(RuntimeError):
    """Training a config needed more memory than the machine gave."""


def default_device() -> torch.device:
    """CUDA when available, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
