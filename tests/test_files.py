"""The atomic writer (:mod:`rnnreport.files`): the target is the old file or the whole new one,
and nothing is left beside it."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from rnnreport.files import atomic_write, replacing, sweep


def _beside(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir())


def test_a_write_replaces_the_file_and_leaves_nothing_else(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "file.bin"  # missing folders are made
    with atomic_write(path) as file:
        file.write(b"first")
    with atomic_write(path) as file:
        file.write(b"second")
        assert path.read_bytes() == b"first"  # unchanged until the block ends
    assert path.read_bytes() == b"second"
    assert _beside(path) == ["file.bin"]


@pytest.mark.parametrize("error", [OSError("disk full"), KeyboardInterrupt()])
def test_a_failed_write_leaves_no_temporary_file_and_the_old_file_intact(
    tmp_path: Path, error: BaseException
) -> None:
    path = tmp_path / "file.bin"
    path.write_bytes(b"old")
    with pytest.raises(type(error)), atomic_write(path) as file:
        file.write(b"half of the new")
        raise error
    assert path.read_bytes() == b"old"
    assert _beside(path) == ["file.bin"]


def test_a_failed_first_write_leaves_no_file_at_all(tmp_path: Path) -> None:
    path = tmp_path / "file.bin"
    with pytest.raises(ValueError), replacing(path) as temporary:
        temporary.write_bytes(b"partial")
        raise ValueError("the writer failed")
    assert list(tmp_path.iterdir()) == []


def test_a_writer_that_wants_a_path_gets_a_fresh_file_beside_the_target(tmp_path: Path) -> None:
    path = tmp_path / "lib.so"
    with replacing(path) as temporary:
        assert temporary.parent == tmp_path and temporary.name.startswith(".lib.so.")
        assert temporary.read_bytes() == b""
        temporary.unlink()  # a compiler may remove and recreate its output
        temporary.write_bytes(b"built")
    assert path.read_bytes() == b"built" and _beside(path) == ["lib.so"]


def test_the_new_file_has_the_mode_open_would_give(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    try:
        with atomic_write(tmp_path / "file.bin") as file:
            file.write(b"x")
        (tmp_path / "plain.bin").write_bytes(b"x")
    finally:
        os.umask(umask)
    mode = stat.S_IMODE((tmp_path / "file.bin").stat().st_mode)
    assert mode == stat.S_IMODE((tmp_path / "plain.bin").stat().st_mode) == 0o644


def test_a_rename_that_fails_leaves_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "target"
    path.mkdir()  # os.replace cannot put a file over a directory
    (path / "inside").write_bytes(b"kept")
    with pytest.raises(OSError), atomic_write(path) as file:
        file.write(b"new")
    assert (path / "inside").read_bytes() == b"kept"
    assert _beside(path) == ["target"]


def test_a_full_disk_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """ENOSPC from the system names no file; the error that reaches the user does."""
    import errno

    def full(descriptor: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    path = tmp_path / "entry.pt"
    with pytest.raises(OSError) as raised, atomic_write(path) as file:
        file.write(b"x")
    assert raised.value.errno == errno.ENOSPC and str(path) in str(raised.value)
    assert _beside(path) == []


def test_sweep_removes_what_a_killed_writer_left(tmp_path: Path) -> None:
    """A writer killed with SIGKILL mid-write leaves its temporary file; sweep removes it and
    only it (not another file's, not the target)."""
    import signal
    import subprocess
    import sys

    path, other = tmp_path / "entry.partial", tmp_path / "other.partial"
    path.write_bytes(b"old")
    with atomic_write(other) as file:
        file.write(b"kept")
    writer = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from pathlib import Path; from rnnreport.files import atomic_write\n"
         "with atomic_write(Path(sys.argv[1])) as f:\n"
         "    f.write(b'half'); f.flush(); print('writing', flush=True); time.sleep(60)",
         str(path)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert writer.stdout.readline() == "writing\n"
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=30)
    writer.stdout.close()
    (left,) = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert left.name.startswith(".entry.partial.")
    assert sweep(path) == [left]
    assert _beside(path) == ["entry.partial", "other.partial"]
    assert path.read_bytes() == b"old" and other.read_bytes() == b"kept"
