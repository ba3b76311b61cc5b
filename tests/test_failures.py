"""How the command line and the gallery scripts end when something goes wrong outside the
code: memory runs out, Ctrl-C arrives at any moment, the parent of the workers dies, a
setting is bad. Each ends in one line, and no process is left behind. Real processes."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .processes import ours, settle

ROOT = Path(__file__).resolve().parents[1]
SMOKE = {"RNNREPORT_BUDGET": "smoke"}


def _env(tmp_path: Path, **changes: str) -> dict[str, str]:
    return {**os.environ, "RNNREPORT_CACHE": str(tmp_path / "cache"),
            "RNNREPORT_OUTPUT": str(tmp_path / "out"), **changes}  # fmt: skip


def _one_line(stderr: str) -> bool:
    return "Traceback" not in stderr and stderr.strip().count("\n") == 0


@pytest.mark.slow
def test_running_out_of_memory_is_one_line_with_the_estimate(tmp_path) -> None:
    def limit() -> None:  # 6 GB of address space, as `ulimit -v 6000000`
        resource.setrlimit(resource.RLIMIT_AS, (6_000_000 * 1024, 6_000_000 * 1024))

    run = subprocess.run(
        [sys.executable, "-m", "rnnreport", "train", "--cell", "lstm", "--units", "4096",
         "--layers", "8", "--batch-size", "55000", "--epochs", "1"],
        env=_env(tmp_path), capture_output=True, text=True, timeout=300, preexec_fn=limit,
    )  # fmt: skip
    assert run.returncode == 1 and _one_line(run.stderr), run.stderr
    assert "lstm-8x4096 ran out of memory" in run.stderr and " GiB: use a smaller" in run.stderr


@pytest.mark.slow
@pytest.mark.parametrize("after", [0.05, 0.15, 0.3, 0.6, 1.0, 2.0, 3.0])
def test_ctrl_c_at_any_moment_is_one_line(tmp_path, after) -> None:
    """Ctrl-C while importing, loading the data, starting the workers or training."""
    env = _env(tmp_path, **SMOKE)
    process = subprocess.Popen(
        [sys.executable, "-m", "rnnreport", "grid"], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    time.sleep(after)
    os.killpg(process.pid, signal.SIGINT)  # the terminal signals the whole foreground group
    _, stderr = process.communicate(timeout=120)
    lines = [line for line in stderr.splitlines() if "epoch" not in line and "training" not in line]
    assert "Traceback" not in stderr and len(lines) <= 1, stderr
    assert not lines or "interrupted" in lines[0], stderr
    settle(tmp_path / "cache")


@pytest.mark.slow
@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL])
def test_workers_end_with_their_parent(tmp_path, how) -> None:
    env = _env(tmp_path, **SMOKE)
    parent = subprocess.Popen(
        [sys.executable, "-m", "rnnreport", "grid"], env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    while "training 8 models on" not in parent.stderr.readline():  # its workers started
        assert parent.poll() is None, "the grid ended before it started its workers"
    time.sleep(2.0)  # they are importing or training
    assert len(ours(tmp_path / "cache")) > 1
    parent.send_signal(how)
    parent.wait(timeout=30)
    parent.stderr.close()
    settle(tmp_path / "cache", seconds=2.0)  # not after their current model: at once


@pytest.mark.parametrize(
    ("setting", "value", "says"),
    [
        ("RNNREPORT_BUDGET", "bogus", "is not a budget"),
        ("RNNREPORT_OUTPUT", "/proc/x", "RNNREPORT_OUTPUT"),
        ("RNNREPORT_CACHE", "/proc/x", "RNNREPORT_CACHE"),
        ("RNNREPORT_MNIST", "/nonexistent/mnist", "RNNREPORT_MNIST"),
    ],
)
def test_a_gallery_script_with_a_bad_setting_says_so_in_one_line(
    tmp_path, setting, value, says
) -> None:
    """Standalone, before any training: nothing is trained into the cache."""
    run = subprocess.run(
        [sys.executable, str(ROOT / "gallery" / "plot_03_results.py")],
        env=_env(tmp_path, **{**SMOKE, setting: value}), capture_output=True, text=True,
        timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 1 and _one_line(run.stderr), run.stderr
    assert run.stderr.startswith("rnnreport: ") and says in run.stderr
    assert not list((tmp_path / "cache").glob("runs/*.pt"))


def test_the_interpreter_keeps_its_own_errors(tmp_path) -> None:
    """In an interactive interpreter the package installs no hook: after a Ctrl-C, a
    later error is still shown as itself."""
    session = "import rnnreport, os, signal\nos.kill(os.getpid(), signal.SIGINT)\n1/0\n"
    run = subprocess.run(
        [sys.executable, "-i"], input=session, env=_env(tmp_path), capture_output=True,
        text=True, timeout=60,
    )  # fmt: skip
    assert "ZeroDivisionError" in run.stderr and "rnnreport: interrupted" not in run.stderr


def test_the_children_of_a_cluster_process_do_not_end_with_its_client(tmp_path) -> None:
    """The embedded cluster's mark is read once, by the process it started: a process that
    one starts in turn is not taken for one the client started."""
    check = "import os, rnnreport; print(os.environ.get('RNNREPORT_WORKER_OF'))"
    worker = (
        "import os, subprocess, sys, rnnreport\n"
        f"sys.exit(subprocess.run([sys.executable, '-c', {check!r}]).returncode)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", worker], env=_env(tmp_path, RNNREPORT_WORKER_OF=str(os.getpid())),
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert run.returncode == 0 and run.stdout.strip() == "None", run.stderr
