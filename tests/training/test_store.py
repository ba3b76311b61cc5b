"""The cache: bad entries retrained, entries that are not files refused before any work, the
lock between processes, temporary files swept, and the device in the key."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from rnnreport.settings import SettingError
from rnnreport.training import mnist
from rnnreport.training.mnist import cache_path, train, train_many
from rnnreport.training.store import check_cache, read_entry

from .helpers import CONFIG, TINY


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


@pytest.mark.slow
@pytest.mark.parametrize("which", [".pt", ".partial", ".lock"])
def test_a_cache_entry_that_became_a_directory_fails_before_training(
    data, which, monkeypatch
) -> None:
    cache_path(TINY, data).with_suffix(which).mkdir(parents=True)
    monkeypatch.setattr(mnist, "_fit", None)  # any training would fail on this
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
    path = check_cache(cache_path(TINY, data))  # makes the directory
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from rnnreport.training import store\n"
            "with store.locked(Path(sys.argv[1]), None):\n"
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
def test_a_bad_entry_is_removed_only_under_its_lock(tmp_path, capsys) -> None:
    """Without the lock another process may just have replaced the bad entry with a good
    one: only the look under the lock reports and removes it."""
    path = tmp_path / "entry.pt"
    path.write_bytes(b"not a checkpoint")
    assert read_entry(path, TINY, locked=False) is None
    assert path.exists() and capsys.readouterr().err == ""
    assert read_entry(path, TINY) is None
    assert not path.exists() and "bad cache entry entry.pt" in capsys.readouterr().err


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


def test_a_gpu_trained_model_is_not_the_cpu_one(fake_data, monkeypatch) -> None:
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
