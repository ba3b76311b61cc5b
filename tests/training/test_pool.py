"""The worker pool: models trained in worker processes exactly as here, the largest first, a
worker that survives a failed job, and the memory setting of the workers."""

from __future__ import annotations

import json
import platform
import queue
import subprocess
import sys
from dataclasses import replace

import pytest

from rnnreport.model.classifier import ModelConfig
from rnnreport.training import mnist
from rnnreport.training.mnist import cache_path, train, train_many
from rnnreport.training.pool import Job, train_jobs

from .helpers import TINY


@pytest.mark.slow
def test_train_many_trains_in_worker_processes(data, capfd) -> None:
    configs = [TINY, ModelConfig(**{**TINY.__dict__, "cell": "lstm"})]
    results = train_many(configs, data=data, progress="off", workers=2)
    err = capfd.readouterr().err  # the terminal's stderr, not sys.stderr (see progress.say)
    assert "training 2 models in 2 processes" in err
    assert "rnnreport: 1 of 2 models trained, 1 left, about " in err and "(an estimate)" in err
    assert "rnnreport: 2 of 2 models trained, 0 left\n" in err
    # the workers filled the cache; this process only read it back
    assert [r.cached for r in results] == [True, True]
    assert [r.config for r in results] == configs
    # one thread everywhere: a worker's result is exactly what this process would get
    assert train(configs[1], data=data, use_cache=False) == results[1]


@pytest.mark.slow
def test_the_queue_starts_with_the_largest_model(monkeypatch) -> None:
    started = []

    class Worker:
        """A worker process that answers every job at once, as if it had trained it."""

        def __init__(self, command, env, **pipes):
            self.answers: queue.Queue[str | None] = queue.Queue()
            self.stdin = self.stdout = self

        def write(self, line: str) -> None:
            started.append(json.loads(line)["config"]["units"])
            self.answers.put("0\n")

        def flush(self) -> None:
            pass

        def close(self) -> None:
            self.answers.put(None)

        def __iter__(self):
            return iter(self.answers.get, None)

        def __enter__(self):
            return self

        def __exit__(self, *exc) -> None:
            pass

        def wait(self) -> int:
            return 0

    monkeypatch.setattr(subprocess, "Popen", Worker)
    jobs = [Job(replace(TINY, units=u), mnist.__name__) for u in (8, 64, 16, 64)]
    train_jobs(jobs, workers=2, progress="off")
    assert started == [64, 16, 8]  # the duplicate once, biggest first


@pytest.mark.slow
def test_one_worker_trains_job_after_job_and_survives_a_failed_one(data, capfd) -> None:
    """One process, four jobs: the first asks for other data and is refused (exit 3), the
    second names no trainer (exit 1, its traceback on stderr), the last two are trained by
    the same process, exactly as this process would train them."""
    wrong = Job(replace(TINY, seed=5), mnist.__name__, "not-this-data")
    nowhere = Job(replace(TINY, seed=6), "rnnreport.no_such_trainer")
    right = [Job(replace(TINY, seed=s), mnist.__name__, data.digest) for s in (1, 2)]
    jobs = [wrong, nowhere, *right]
    train_jobs(jobs, workers=1, progress="off")
    err = capfd.readouterr().err
    assert "training 4 models in 1 processes" in err
    assert "the worker training gru-1x8 seed 5 failed (exit 3); it will be trained here" in err
    assert "ModuleNotFoundError: No module named 'rnnreport.no_such_trainer'" in err
    assert "the worker training gru-1x8 seed 6 failed (exit 1)" in err
    assert "rnnreport: 2 of 4 models trained" in err
    assert not cache_path(wrong.config, data).exists()
    for job in right:
        cached = train(job.config, data=data)
        assert cached.cached
        assert cached == train(job.config, data=data, use_cache=False)


_FAULTS = """
import resource, sys, torch
from torch.nn import functional as F
from rnnreport.model.classifier import ModelConfig, build_model
from rnnreport.training.pool import keep_freed_memory
if sys.argv[1] == "keep":
    assert keep_freed_memory()
torch.set_num_threads(1)
model = build_model(ModelConfig(cell="lstm", units=32))
adam = torch.optim.Adam(model.parameters())
x, y = torch.rand(256, 28, 28).round(), torch.randint(0, 10, (256,))
for step in range(25):  # training steps; the page faults of the last 20 are counted
    if step == 5:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    adam.zero_grad()
    F.cross_entropy(model(x), y, reduction="sum").backward()
    adam.step()
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 20)
"""


@pytest.mark.slow
@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="a glibc setting")
def test_workers_keep_freed_memory_instead_of_faulting_it_in_again() -> None:
    """Training steps of LSTM-32 in a fresh process: by default glibc hands the step's
    freed buffers back and they fault in again next step; after keep_freed_memory() they are
    reused, with a fraction of the page faults (measured: 2 to 13 times fewer)."""

    def faults_per_step(mode: str) -> float:
        run = subprocess.run([sys.executable, "-c", _FAULTS, mode], capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        return float(run.stdout)

    default, keep = faults_per_step("default"), faults_per_step("keep")
    assert keep < default, (keep, default)
