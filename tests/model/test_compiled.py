"""The steps compiled from C: it builds here, it is the function of the equations to
float32 rounding, it gives the same bits every time, and without a compiler (or with a
build that fails) the fast path runs torch's operations and says why."""

from __future__ import annotations

import platform
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

import rnnreport.training.store
from rnnreport.model import compiled
from rnnreport.model.rnn import RNN
from rnnreport.training.store import key_parts


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """A process that has not tried to build the kernel yet, with its own build folder."""
    monkeypatch.setattr(compiled, "_cache_folder", lambda: tmp_path / "kernels")
    compiled._load.cache_clear()
    yield
    compiled._load.cache_clear()  # the next caller builds (or finds) the real one again


def _outputs(rnn: RNN, x: torch.Tensor) -> list[torch.Tensor]:
    """Outputs, last states and every gradient of a loss over all of them."""
    rnn.zero_grad(set_to_none=True)
    y, finals = rnn(x)
    last = [state[-1] if isinstance(state, tuple) else state for state in finals]  # c or h
    loss = (y * y.detach().cos()).sum() + sum(s.sum() for s in last)
    loss.backward()
    return [y.detach(), *(s.detach() for s in last), *(p.grad for p in rnn.parameters())]


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler here")
def test_the_kernel_builds_where_there_is_a_compiler() -> None:
    assert compiled.kernel() is not None
    assert compiled.status().startswith("compiled C (steps.c c-")
    assert compiled.identity() == compiled.kernel().identity  # type: ignore[union-attr]


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_the_compiled_steps_equal_float64_and_repeat_bit_for_bit(cell: str) -> None:
    if compiled.kernel() is None:
        pytest.skip(compiled.status())
    torch.manual_seed(0)
    rnn = RNN(cell, 5, 32, 2)  # the GRU resets before: the variant the kernel runs
    x = 3 * torch.randn(28, 16, 5)  # saturates some gates
    first, again = _outputs(rnn, x), _outputs(rnn, x)
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    exact = _outputs(rnn.double(), x.double())  # float64: torch's operations
    for a, b in zip(first, exact, strict=True):
        assert (a.double() - b).abs().max().item() <= 1e-5 * max(1.0, b.abs().max().item())


def test_without_a_compiler_the_fast_path_runs_torch_operations(
    fresh: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(compiled.shutil, "which", lambda name: None)
    assert compiled.kernel() is None
    assert compiled.identity() is None
    assert compiled.status() == "torch operations: no C compiler (cc or gcc) on PATH"
    torch.manual_seed(1)
    rnn = RNN("lstm", 5, 8)
    x = torch.randn(7, 3, 5)
    fast = _outputs(rnn, x)
    rnn.fast = False
    reference = _outputs(rnn, x)
    assert all((a - b).abs().max() <= 1e-5 for a, b in zip(fast, reference, strict=True))


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler here")
def test_a_build_that_fails_says_why_and_leaves_nothing(
    fresh: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(compiled, "FLAGS", (*compiled.FLAGS, "-fno-such-flag"))
    assert compiled.kernel() is None
    line = compiled.status()
    assert line.startswith("torch operations: building steps.c failed: ")
    assert "no-such-flag" in line and "\n" not in line
    assert not list((tmp_path / "kernels").glob("*.so"))  # no half-written library


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler here")
def test_a_built_kernel_is_reused(fresh: None, tmp_path: Path) -> None:
    assert compiled.kernel() is not None
    (built,) = (tmp_path / "kernels").glob("steps-*.so")
    stamp = built.stat().st_mtime_ns
    compiled._load.cache_clear()
    assert compiled.kernel() is not None
    assert built.stat().st_mtime_ns == stamp  # loaded, not compiled again


def test_the_cache_key_names_the_compiled_steps_on_the_cpu(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Config:
        key = {"name": "x"}

    def key(identity: str | None, device: str = "cpu x86_64 AVX512") -> dict:
        monkeypatch.setattr(compiled, "identity", lambda: identity)
        monkeypatch.setattr(rnnreport.training.store, "device_description", lambda device: device)
        return key_parts(Config(), "data", "code", device)  # type: ignore[arg-type]

    assert key("c-0123")["compiled_steps"] == "c-0123"
    assert key(None)["compiled_steps"] is None
    assert key("c-0123") != key("c-4567") != key(None)
    # on a GPU the steps run as torch operations, kernel or not
    assert key("c-0123", "cuda NVIDIA H200")["compiled_steps"] is None


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler here")
def test_a_missing_source_falls_back_to_torch_operations(
    fresh: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(compiled, "SOURCE", tmp_path / "steps.c")
    assert compiled.kernel() is None
    assert compiled.status().startswith("torch operations: building steps.c failed: ")


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler here")
def test_an_unusable_cache_folder_builds_a_private_copy(
    fresh: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "a-file").write_text("")
    monkeypatch.setattr(compiled, "_cache_folder", lambda: tmp_path / "a-file" / "kernels")
    assert compiled.kernel() is not None
    assert compiled.status().startswith("compiled C (steps.c c-")


def test_an_initial_cell_state_broadcasts_as_in_torch_operations(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The kernel reads (B, H) floats from c_0: a (1, H) or float64 one is made so first,
    and one that torch could not broadcast is an error, not a read past its end."""
    torch.manual_seed(2)
    rnn = RNN("lstm", 5, 6)
    x = torch.randn(7, 4, 5)

    def run(c_0: torch.Tensor) -> list[torch.Tensor]:
        h_0 = torch.zeros(4, 6)
        y, ((h, c),) = rnn(x, [(h_0, c_0)])
        return [y, h, c]

    for c_0 in (torch.randn(1, 6), torch.randn(6), torch.randn(4, 6, dtype=torch.float64)):
        ours = run(c_0)
        with monkeypatch.context() as torch_ops:
            torch_ops.setattr(compiled, "kernel", lambda: None)
            reference = run(c_0)
        assert all((a - b).abs().max() <= 1e-5 for a, b in zip(ours, reference, strict=True))
    if compiled.kernel() is not None:
        with pytest.raises(RuntimeError):
            run(torch.randn(4, 12))


def test_rows_are_the_addresses_of_each_row() -> None:
    t = torch.zeros(3, 4, 5)
    assert compiled.rows(t) == [t[k].data_ptr() for k in range(3)]


@pytest.mark.skipif(
    shutil.which("cc") is None or platform.machine() != "x86_64", reason="needs cc on x86-64"
)
def test_the_kernel_gives_the_same_bits_built_for_any_vector_width(
    fresh: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The claim behind naming the kernel by its source alone: built for this CPU's widest
    vectors and for plain x86-64 (no AVX, fmaf in software), the same bits come out."""
    native = compiled.kernel()
    assert native is not None
    monkeypatch.setattr(
        compiled,
        "FLAGS",
        tuple("-march=x86-64" if f == "-march=native" else f for f in compiled.FLAGS),
    )
    compiled._load.cache_clear()
    plain = compiled.kernel()
    assert plain is not None and plain.library._name != native.library._name

    def forward(kernel: compiled.Kernel) -> list[torch.Tensor]:
        g = 30 * torch.randn(9, 4 * 37, generator=torch.Generator().manual_seed(4))
        c_prev = torch.randn(9, 37, generator=torch.Generator().manual_seed(5))
        c, tanh_c, h = (torch.empty(9, 37) for _ in range(3))
        pointers = (t.data_ptr() for t in (g, c_prev, c, tanh_c, h))
        kernel.lstm_forward(9, 37, 0, 37, 74, 111, *pointers)
        return [g, c, tanh_c, h]

    assert all(torch.equal(a, b) for a, b in zip(forward(native), forward(plain), strict=True))


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler here")
def test_a_damaged_library_is_built_again_not_loaded(tmp_path: Path) -> None:
    """A truncated library (a crash mid-copy, a full disk) fails its stored digest and is
    rebuilt; loading it would end the process with a bus error. Each load runs in a process
    of its own, under the cache directory the user names."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "RNNREPORT_CACHE": str(tmp_path)}
    run = [sys.executable, "-c", "from rnnreport.model import compiled; print(compiled.status())"]
    first = subprocess.run(run, env=env, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0 and first.stdout.startswith("compiled C"), first.stderr
    (library,) = (tmp_path / "kernels").glob("steps-*.so")
    whole = library.read_bytes()
    with library.open("r+b") as file:
        file.truncate(1000)
    again = subprocess.run(run, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and again.stdout == first.stdout, again.stderr
    assert library.read_bytes() == whole  # built again, byte for byte the same
