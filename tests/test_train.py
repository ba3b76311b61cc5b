"""Training: determinism, the cache key, the cache (reuse, corruption, interruption, locks)
and the worker processes."""

from __future__ import annotations

import contextlib
import io
import json
import platform
import queue
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest
import torch

from rnnreport import train as train_module
from rnnreport.cli import main
from rnnreport.data import load_mnist
from rnnreport.model.classifier import TRAIN_SEQUENCES, ModelConfig
from rnnreport.model.whole_image import BaselineConfig
from rnnreport.settings import SettingError
from rnnreport.train import (
    TrainingDiverged,
    cache_path,
    code_digest,
    load_cached,
    train,
    train_many,
    trained_model,
)

TINY = ModelConfig(cell="gru", units=8, epochs=2, limit=512, batch_size=128)


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Every test gets an empty cache; the compact MNIST is shared to keep tests fast."""
    monkeypatch.setenv("RNNREPORT_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """MNIST through a compact cache of this module's own, never the user's."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RNNREPORT_CACHE", str(tmp_path_factory.mktemp("data-cache")))
        mp.delenv("RNNREPORT_MNIST", raising=False)
        return load_mnist()


def _weights(model) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


@pytest.mark.slow
def test_same_config_same_weights_and_metrics(data) -> None:
    first_model, first = trained_model(TINY, data=data, use_cache=False)
    second_model, second = trained_model(TINY, data=data, use_cache=False)
    assert first == second  # every metric, epoch by epoch (wall times excluded)
    for name, value in _weights(first_model).items():
        assert torch.equal(value, second_model.state_dict()[name]), name
    other = train(ModelConfig(**{**TINY.__dict__, "seed": 1}), data=data, use_cache=False)
    assert other.test_loss_sum != first.test_loss_sum


@pytest.mark.slow
def test_metrics_are_consistent(data) -> None:
    result = train(TINY, data=data, use_cache=False)
    assert len(result.history) == TINY.epochs
    assert result.test_loss == pytest.approx(result.test_loss_sum / len(data.test.y))
    assert 0.0 <= result.test_accuracy <= 1.0
    H = TINY.units
    embed, gru, fc1, fc2 = 28 * H + H, 2 * H * 3 * H + 3 * H, H * 64 + 64, 64 * 10 + 10
    assert result.params == embed + gru + fc1 + fc2
    assert result.history[-1].train_loss < result.history[0].train_loss


@pytest.mark.slow
def test_cache_reuses_the_stored_result(data) -> None:
    trained = train(TINY, data=data)
    assert not trained.cached and cache_path(TINY, data).exists()
    model, again = trained_model(TINY, data=data)
    assert again.cached and again == trained
    assert not model.training
    cached = load_cached(TINY, data)
    assert cached is not None and cached[1] == trained


@pytest.mark.slow
def test_each_input_of_the_key_retrains(data) -> None:
    """Change what determines a trained model, one thing at a time: each is trained anew."""
    config = ModelConfig(cell="gru", units=4, epochs=1, limit=256)
    first = train(config, data=data, progress="off")
    assert train(config, data=data).cached
    changes = {
        "a constant of train.py": (train_module, "EVAL_BATCH", train_module.EVAL_BATCH // 2),
        "the torch version": (torch, "__version__", "2.99.0"),
        "the numpy version": (np, "__version__", "9.9.9"),
        "the device": (torch.backends.cpu, "get_cpu_capability", lambda: "DEFAULT"),
    }
    for what, (owner, name, value) in changes.items():
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(owner, name, value)
            train_module.code_digest.cache_clear()
            again = train(config, data=data, progress="off")
            assert not again.cached, what
            assert again.test_loss_sum == pytest.approx(first.test_loss_sum), what
    train_module.code_digest.cache_clear()
    assert not train(replace(config, units=5), data=data, progress="off").cached
    assert not train(config, data=replace(data, digest="0" * 64), progress="off").cached
    assert train(config, data=data).cached  # all back as it was: the first entry again


@pytest.mark.slow
@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        ("truncate", "200 bytes that torch cannot load"),
        ("garbage", "16 bytes that torch cannot load"),
        ("tamper", "do not match their checksum"),
        ("tamper-metrics", "do not match their checksum"),
        ("unsealed", "without the checksum"),
    ],
)
def test_a_bad_cache_entry_is_retrained(data, damage, reason, capsys) -> None:
    first = train(TINY, data=data)
    path = cache_path(TINY, data)
    entry = torch.load(path, weights_only=True)
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[:200])
    elif damage == "garbage":
        path.write_bytes(b"not a checkpoint")
    elif damage == "tamper":  # valid file, weights changed behind the checksum's back
        entry["content"]["weights"]["fc2.bias"] += 1.0
        torch.save(entry, path)
    elif damage == "tamper-metrics":  # valid file, a better test accuracy written in
        result = {**json.loads(entry["content"]["result"]), "test_accuracy": 0.999}
        entry["content"]["result"] = json.dumps(result)
        torch.save(entry, path)
    else:  # the content without its checksum
        torch.save(entry["content"], path)
    again = train(TINY, data=data)
    assert not again.cached and again == first
    err = capsys.readouterr().err
    assert f"bad cache entry {path.name}: " in err and reason in err and err.count("\n") == 1
    assert train(TINY, data=data).cached


def _flip_bytes_of(tensor: torch.Tensor, path: Path) -> None:
    """Flip a few bytes of ``tensor`` where it is stored in the file at ``path``."""
    raw = bytearray(path.read_bytes())
    stored = tensor.numpy().tobytes()
    at = raw.find(stored)
    assert at >= 0 and raw.find(stored, at + 1) < 0  # found, once
    for k in range(at + 8, at + 16):
        raw[k] ^= 0x10
    path.write_bytes(bytes(raw))


@pytest.mark.slow
def test_an_interrupted_run_resumes_to_the_same_result(data) -> None:
    config = ModelConfig(**{**TINY.__dict__, "epochs": 3})
    uninterrupted_model, uninterrupted = trained_model(config, data=data, use_cache=False)

    def stop_after_first(epoch) -> None:
        if epoch.epoch == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(config, data=data, on_epoch=stop_after_first)
    path = cache_path(config, data)
    assert not path.exists()  # nothing that looks valid
    assert path.with_suffix(".partial").exists()  # but the finished epoch is kept
    model, resumed = trained_model(config, data=data)
    assert resumed == uninterrupted
    for name, value in uninterrupted_model.state_dict().items():
        assert torch.equal(value, model.state_dict()[name]), name
    assert not path.with_suffix(".partial").exists()


@pytest.mark.slow
def test_a_corrupted_checkpoint_is_discarded_and_training_starts_over(data, capsys) -> None:
    config = replace(TINY, epochs=3)
    uninterrupted = train(config, data=data, use_cache=False)

    def stop_after_second(epoch) -> None:
        if epoch.epoch == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(config, data=data, on_epoch=stop_after_second)
    partial = cache_path(config, data).with_suffix(".partial")
    weights = torch.load(partial, weights_only=True)["content"]["model"]["rnn.cells.0.W"]
    _flip_bytes_of(weights, partial)
    capsys.readouterr()
    result = train(config, data=data)
    err = capsys.readouterr().err
    assert f"ignoring bad checkpoint {partial.name}: " in err and "checksum" in err
    assert "training from the start" in err and "resuming" not in err
    assert not result.cached and result == uninterrupted  # flipped weights did not leak in
    assert train(config, data=data).cached


@dataclass(frozen=True)
class _Exploding(BaselineConfig):
    """Softmax regression whose first logit is NaN: every loss is NaN."""

    def build(self) -> torch.nn.Module:
        model = super().build()
        with torch.no_grad():
            model.out.bias[0] = float("nan")
        return model


@pytest.mark.slow
def test_a_diverged_training_says_so_and_is_not_cached(data) -> None:
    config = _Exploding(epochs=2, limit=256)
    with pytest.raises(TrainingDiverged, match=r"softmax seed 0 diverged: .* nan in epoch 1"):
        train(config, data=data)
    path = cache_path(config, data)
    assert not path.exists() and not path.with_suffix(".partial").exists()


@pytest.mark.slow
@pytest.mark.parametrize("which", [".pt", ".partial", ".lock"])
def test_a_cache_entry_that_became_a_directory_fails_before_training(
    data, which, monkeypatch
) -> None:
    cache_path(TINY, data).with_suffix(which).mkdir(parents=True)
    monkeypatch.setattr(train_module, "_fit", None)  # any training would fail on this
    with pytest.raises(SettingError, match=r"the cache entry .* is not a file: remove it"):
        train(TINY, data=data)
    with pytest.raises(SettingError, match="RNNREPORT_CACHE"):
        train_many([TINY], data=data)


def _cli_train(*args: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "rnnreport", "train", "--json", *args]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_two_processes_training_one_config_train_it_once(data) -> None:
    args = ("--cell", "lstm", "--units", "16", "--epochs", "2", "--limit", "2048")
    first, second = _cli_train(*args), _cli_train(*args)
    results, notes = [], []
    for process in (first, second):
        out, err = process.communicate(timeout=600)
        assert process.returncode == 0, err
        results.append(json.loads(out))
        notes.append(err)
    assert sorted(r["cached"] for r in results) == [False, True]  # one trained, one waited
    waited = notes[[r["cached"] for r in results].index(True)]
    assert "waiting for another process training lstm-1x16 seed 0" in waited
    assert results[0]["test_loss_sum"] == results[1]["test_loss_sum"]


@pytest.mark.slow
def test_the_lock_of_a_process_that_died_is_released(data) -> None:
    path = train_module.check_cache(cache_path(TINY, data))  # makes the directory
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from rnnreport import train\n"
            "with train._locked(Path(sys.argv[1]), None):\n"
            "    print('held', flush=True); time.sleep(600)",
            str(path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    with holder:
        try:
            assert holder.stdout.readline() == "held\n"
        finally:
            holder.kill()  # no cleanup runs: as if it crashed
    assert not train(TINY, data=data).cached  # trained here, not waiting forever


@pytest.mark.slow
def test_train_many_trains_in_worker_processes(data, capfd) -> None:
    configs = [TINY, ModelConfig(**{**TINY.__dict__, "cell": "lstm"})]
    results = train_many(configs, data=data, progress="off", workers=2)
    err = capfd.readouterr().err  # the terminal's stderr, not sys.stderr (see train._say)
    assert "training 2 models in 2 processes" in err
    assert "rnnreport: 1 of 2 models trained, 1 left, about " in err and "(an estimate)" in err
    assert "rnnreport: 2 of 2 models trained, 0 left\n" in err
    # the workers filled the cache; this process only read it back
    assert [r.cached for r in results] == [True, True]
    assert [r.config for r in results] == configs
    # one thread everywhere: a worker's result is exactly what this process would get
    assert train(configs[1], data=data, use_cache=False) == results[1]


@pytest.mark.slow
def test_the_estimate_scales_the_pace_so_far_to_what_is_left() -> None:
    small, large = ModelConfig(units=8), ModelConfig(units=64)
    twice = replace(small, seed=1)
    tally = train_module._Tally([small, twice, large], workers=1)
    tally.done[small] = 10.0  # seconds
    pace = 10.0 / tally.cost[small]
    both = tally.remaining(running={})
    assert both == pytest.approx(pace * (tally.cost[twice] + tally.cost[large]))
    assert tally.remaining(running={twice: 4.0}) == pytest.approx(both - 4.0)
    two_workers = train_module._Tally([small, twice, large], workers=2)
    two_workers.done[small] = 10.0
    assert two_workers.remaining(running={}) == pytest.approx(both / 2)


@pytest.mark.slow
def test_ablation_fields_reach_the_trainer(data, monkeypatch, capsys) -> None:
    """loss="mean" divides every gradient by the batch size; pixels="grey" trains and tests on
    grey values under a cache key of their own; the CLI passes the fields through."""
    first_grads: dict[str, list[torch.Tensor]] = {}
    step = torch.optim.Adam.step

    def recording_step(self, *args, **kwargs):
        first_grads.setdefault(recording, [p.grad.clone() for p in self.param_groups[0]["params"]])
        return step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", recording_step)
    base = ModelConfig(cell="lstm", units=8, epochs=1, limit=256, batch_size=128)
    for recording in ("sum", "mean"):
        train(replace(base, loss=recording), data=data, use_cache=False)
    for summed, averaged in zip(first_grads["sum"], first_grads["mean"], strict=True):
        torch.testing.assert_close(summed / 128, averaged, rtol=1e-5, atol=1e-9)

    inputs: list[torch.Tensor] = []
    build = train_module.build_model

    def recording_build(config):
        model = build(config)
        model.register_forward_pre_hook(lambda m, args: inputs.append(args[0].detach()))
        return model

    monkeypatch.setattr(train_module, "build_model", recording_build)
    grey = replace(base, pixels="grey")
    result = train(grey, data=data)
    seen = torch.cat([x.flatten() for x in inputs])
    assert seen.min() >= 0 and seen.max() <= 1 and ((seen > 0) & (seen < 1)).any()
    assert cache_path(grey, data) != cache_path(base, data)
    assert grey.name in cache_path(grey, data).name and train(grey, data=data).cached
    assert result.test_loss_sum != train(base, data=data, use_cache=False).test_loss_sum

    args = ["train", "--cell", "lstm", "--units", "8", "--epochs", "1", "--limit", "256"]
    assert main([*args, "--batch-norm", "head", "--loss", "mean", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["name"] == "lstm-1x8-bn-head-mean"
    assert printed["config"]["batch_norm"] == "head" and printed["config"]["loss"] == "mean"
    assert main([*args, "--gate-bias", "0"]) == 2
    assert "gate_bias only applies to the GRU" in capsys.readouterr().err


@pytest.mark.slow
def test_progress_goes_to_the_terminal_not_to_a_captured_stderr(capfd) -> None:
    """sphinx-gallery swaps sys.stderr to capture an example's output: the build's progress
    must still reach the terminal that runs the build."""
    page = io.StringIO()
    with contextlib.redirect_stderr(page):
        train_module._say("rnnreport: 1 of 2 models trained, 1 left")
    assert page.getvalue() == ""
    assert capfd.readouterr().err == "rnnreport: 1 of 2 models trained, 1 left\n"


@pytest.mark.slow
def test_a_bad_entry_is_removed_only_under_its_lock(tmp_path, capsys) -> None:
    """Without the lock another process may just have replaced the bad entry with a good
    one: only the look under the lock reports and removes it."""
    path = tmp_path / "entry.pt"
    path.write_bytes(b"not a checkpoint")
    assert train_module._load_entry(path, TINY, locked=False) is None
    assert path.exists() and capsys.readouterr().err == ""
    assert train_module._load_entry(path, TINY) is None
    assert not path.exists() and "bad cache entry entry.pt" in capsys.readouterr().err


@pytest.mark.slow
def test_each_kind_of_model_is_estimated_at_its_own_pace() -> None:
    """A counter's cost unit is not an MNIST model's: once one of each has finished, the
    estimate scales each kind by its own pace, not by a pace mixed from both."""
    from rnnreport.model.counter import CounterConfig

    small, large = ModelConfig(units=8), ModelConfig(units=64)
    counter, other = CounterConfig(), CounterConfig(seed=1)
    tally = train_module._Tally([small, large, counter, other], workers=1)
    tally.done[counter] = 1.0
    assert tally.pace(large) == tally.pace(counter)  # no MNIST model yet: the pace so far
    tally.done[small] = 10.0
    expected = (
        10.0 / tally.cost[small] * tally.cost[large]
        + 1.0 / tally.cost[counter] * (tally.cost[other])
    )
    assert tally.remaining(running={}) == pytest.approx(expected)


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
    jobs = [train_module.Job(replace(TINY, units=u)) for u in (8, 64, 16, 64)]
    train_module.train_jobs(jobs, workers=2, progress="off")
    assert started == [64, 16, 8]  # the duplicate once, biggest first


@pytest.mark.slow
def test_one_worker_trains_job_after_job_and_survives_a_failed_one(data, capfd) -> None:
    """One process, four jobs: the first asks for other data and is refused (exit 3), the
    second names no trainer (exit 1, its traceback on stderr), the last two are trained by
    the same process, exactly as this process would train them."""
    wrong = train_module.Job(replace(TINY, seed=5), data_digest="not-this-data")
    nowhere = train_module.Job(replace(TINY, seed=6), module="rnnreport.no_such_trainer")
    right = [train_module.Job(replace(TINY, seed=s), data_digest=data.digest) for s in (1, 2)]
    jobs = [wrong, nowhere, *right]
    train_module.train_jobs(jobs, workers=1, progress="off")
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
from rnnreport.train import keep_freed_memory
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


def test_a_checkpoint_resumes_only_the_config_it_was_kept_for(data, capsys) -> None:
    """A checkpoint copied to another config's name (another lr) is not resumed there."""
    kept, other = replace(TINY, epochs=3), replace(TINY, epochs=3, lr=0.002)
    uninterrupted = train(other, data=data, use_cache=False)

    def stop_after_second(epoch) -> None:
        if epoch.epoch == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(kept, data=data, on_epoch=stop_after_second)
    source = cache_path(kept, data).with_suffix(".partial")
    target = cache_path(other, data).with_suffix(".partial")
    target.write_bytes(source.read_bytes())
    capsys.readouterr()
    result = train(other, data=data)
    err = capsys.readouterr().err
    assert f"ignoring bad checkpoint {target.name}: it was kept for {source.name}" in err
    assert "resuming" not in err and result == uninterrupted


def test_training_sweeps_what_a_killed_writer_left(data) -> None:
    """Temporary files of the entry and its checkpoint, left by a process killed while
    writing them, are removed under the lock before training."""
    path = cache_path(TINY, data)
    path.parent.mkdir(parents=True, exist_ok=True)
    left = [path.with_name(f".{path.name}.0a1b2c.tmp"),
            path.with_name(f".{path.with_suffix('.partial').name}.3d4e5f.tmp")]  # fmt: skip
    for file in left:
        file.write_bytes(b"half a checkpoint")
    train(TINY, data=data)
    assert not any(file.exists() for file in left)


# -- the cache key, computed and not used: no training -------------------------------------

CONFIG = ModelConfig(cell="gru", units=8, epochs=1, limit=256)


@dataclass(frozen=True)
class _Data:
    """Of the data, only the digest (:attr:`rnnreport.data.MNIST.digest`) of the view a
    config reads enters the key; these configs read the binarized pixels, this object."""

    digest: str

    def pixels(self, kind: str) -> _Data:
        assert kind == "binary", kind
        return self


@pytest.fixture
def fake_data() -> _Data:
    return _Data("a" * 64)


@pytest.fixture
def fresh_digest(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNREPORT_CACHE", str(tmp_path / "cache"))
    code_digest.cache_clear()
    yield
    code_digest.cache_clear()


def test_the_key_is_stable(fresh_digest, fake_data) -> None:
    assert cache_path(CONFIG, fake_data) == cache_path(replace(CONFIG), fake_data)
    assert cache_path(CONFIG, fake_data) == cache_path(CONFIG, fake_data, "cpu")


def _sgd(config, device):  # as if the optimiser in train.py had been edited
    model = train_module.build_model(config).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr)
    return model, optimizer, torch.Generator().manual_seed(config.seed)


_CHANGES = {  # each input of the key, changed in turn: (object, attribute, new value)
    "the optimiser in train.py": (train_module, "_fresh", _sgd),
    "a constant the training reads": (train_module, "EVAL_BATCH", train_module.EVAL_BATCH + 1),
    "the torch version": (torch, "__version__", "2.99.0"),
    "the numpy version": (np, "__version__", "9.9.9"),
    "the CPU's instruction set": (torch.backends.cpu, "get_cpu_capability", lambda: "DEFAULT"),
}


def test_the_key_changes_with_each_input(fresh_digest, fake_data) -> None:
    before = cache_path(CONFIG, fake_data).name
    assert cache_path(replace(CONFIG, units=9), fake_data).name != before
    assert cache_path(CONFIG, replace(fake_data, digest="b" * 64)).name != before
    for what, (owner, name, value) in _CHANGES.items():
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(owner, name, value)
            code_digest.cache_clear()
            assert cache_path(CONFIG, fake_data).name != before, what
    code_digest.cache_clear()
    assert cache_path(CONFIG, fake_data).name == before  # everything back: the same key


def test_a_gpu_trained_model_is_not_the_cpu_one(fresh_digest, fake_data, monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "NVIDIA H100")
    cpu, gpu = cache_path(CONFIG, fake_data, "cpu"), cache_path(CONFIG, fake_data, "cuda")
    assert cpu != gpu
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "NVIDIA A100")
    a100 = cache_path(CONFIG, fake_data, "cuda")
    assert a100 != gpu
    # the same GPU with other libraries under the same torch release: another key
    monkeypatch.setattr(torch.version, "cuda", "0.0-other")
    other_cuda = cache_path(CONFIG, fake_data, "cuda")
    assert other_cuda != a100
    monkeypatch.setattr(torch.backends.cudnn, "version", lambda: -1)
    assert cache_path(CONFIG, fake_data, "cuda") != other_cuda


def test_model_code_changes_only_the_keys_it_defines(fresh_digest, fake_data, monkeypatch) -> None:
    recurrent = cache_path(CONFIG, fake_data)
    baseline = cache_path(BaselineConfig(limit=256), fake_data)
    from rnnreport.model import rnn

    monkeypatch.setattr(rnn, "_unroll", _sgd)  # any other function: an edited unroll
    code_digest.cache_clear()
    assert cache_path(CONFIG, fake_data) != recurrent
    assert cache_path(BaselineConfig(limit=256), fake_data) == baseline


@pytest.mark.parametrize("config_class", [ModelConfig, BaselineConfig])
def test_a_limit_of_all_the_data_is_no_limit(config_class, fresh_digest, fake_data) -> None:
    everything = config_class(limit=TRAIN_SEQUENCES)
    assert everything == config_class() and everything.limit is None
    assert cache_path(everything, fake_data) == cache_path(config_class(), fake_data)
    with pytest.raises(ValueError, match="limit must be at most 55,000"):
        config_class(limit=TRAIN_SEQUENCES + 1)


def test_the_limit_bound_is_the_training_split() -> None:
    from rnnreport.data import N_TRAIN_OFFICIAL, N_VALID

    assert TRAIN_SEQUENCES == N_TRAIN_OFFICIAL - N_VALID
