"""Finding the processes a test started, whoever their parent is now: those whose
environment names a marker (the test's own cache directory)."""

from __future__ import annotations

import time
from pathlib import Path


def ours(marker: Path) -> list[int]:
    """The processes whose environment names ``marker``: ours, and only ours."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and str(marker).encode() in (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except OSError:
            pass
    return found


def settle(marker: Path, seconds: float = 20.0) -> None:
    """Wait up to ``seconds`` until no process of ours is left; fail if one is."""
    deadline = time.monotonic() + seconds
    while ours(marker) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not ours(marker), "processes left behind"
