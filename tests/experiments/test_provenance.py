"""What made a page's numbers: read from the running script, its git checkout and the
libraries; every gallery script ends with it."""

from __future__ import annotations

import ast
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy
import pytest
import torch

from rnnreport import settings
from rnnreport.experiments.provenance import commit_of, made_by, rerun_command

GALLERY = Path(__file__).resolve().parents[2] / "gallery"


def _git(repo: Path, *args: str) -> str:
    identity = ["-c", "user.name=test", "-c", "user.email=test@example.invalid"]
    done = subprocess.run(
        ["git", *identity, *args], cwd=repo, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


@pytest.fixture
def checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A git repository with one committed gallery script, and no repository above it."""
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    repo = tmp_path / "project"
    (repo / "gallery").mkdir(parents=True)
    (repo / "gallery" / "plot_99_example.py").write_text("print('numbers')\n")
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "an example")
    return repo


def test_the_commit_is_the_checkouts(checkout: Path) -> None:
    script = checkout / "gallery" / "plot_99_example.py"
    head = _git(checkout, "rev-parse", "HEAD")
    assert commit_of(script) == head[:12]
    script.write_text("print('other numbers')\n")
    assert commit_of(script) == f"{head[:12]} and uncommitted changes"


def test_no_commit_outside_a_checkout(checkout: Path, tmp_path: Path) -> None:
    """An sdist has no git history; a file git does not track is not the commit's either."""
    loose = tmp_path / "sdist" / "gallery" / "plot_99_example.py"
    loose.parent.mkdir(parents=True)
    loose.write_text("print('numbers')\n")
    assert commit_of(loose).startswith("unknown (")
    untracked = checkout / "gallery" / "plot_98_new.py"
    untracked.write_text("print('new')\n")
    assert commit_of(untracked).startswith("unknown (")
    assert commit_of(tmp_path / "missing.py").startswith("unknown (")


def test_the_command_reruns_the_script_under_the_budget() -> None:
    script = Path("/somewhere/project/gallery/plot_03_results.py")
    assert (
        rerun_command(script, "smoke") == "RNNREPORT_BUDGET=smoke python gallery/plot_03_results.py"
    )
    assert rerun_command(script, None) == "python gallery/plot_03_results.py"
    assert rerun_command(Path("plot_03_results.py"), "full") == (
        "RNNREPORT_BUDGET=full python plot_03_results.py"
    )
    assert rerun_command(Path("/usr/lib/ipykernel_launcher.py"), "full").startswith("unknown")


def test_made_by_reads_the_running_script(checkout: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = checkout / "gallery" / "plot_99_example.py"
    monkeypatch.setattr(sys, "argv", [str(script)])
    monkeypatch.setenv("RNNREPORT_BUDGET", "smoke")
    made = made_by()
    assert made.budget == settings.BUDGETS["smoke"].describe()
    assert (made.torch, made.numpy) == (torch.__version__, numpy.__version__)
    assert made.commit == _git(checkout, "rev-parse", "HEAD")[:12]
    assert made.command == "RNNREPORT_BUDGET=smoke python gallery/plot_99_example.py"
    when = datetime.strptime(made.date, "%Y-%m-%d %H:%M UTC").replace(tzinfo=UTC)
    assert abs((datetime.now(UTC) - when).total_seconds()) < 120
    page, text = made._repr_html_(), repr(made)
    for what, value in made.facts():
        assert f"<dt>{what}</dt><dd>{value}</dd>" in page.replace("&#x27;", "'")
        assert value in text
    assert made.command in page and made.command in text


def test_a_page_that_trains_nothing_names_no_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", [str(GALLERY / "plot_01_store_and_keep.py")])
    monkeypatch.setenv("RNNREPORT_BUDGET", "smoke")
    made = made_by(uses_budget=False)
    assert made.budget is None
    assert "training" not in dict(made.facts())
    assert made.command == "python gallery/plot_01_store_and_keep.py"


@pytest.mark.parametrize("script", sorted(GALLERY.glob("plot_*.py")), ids=lambda p: p.name)
def test_every_gallery_page_ends_with_what_made_it(script: Path) -> None:
    """The last statement of each script shows :func:`made_by`'s answer (a bare call, so
    that sphinx-gallery renders it at the end of the page)."""
    last = ast.parse(script.read_text()).body[-1]
    call = last.value if isinstance(last, ast.Expr) else None
    name = getattr(getattr(call, "func", None), "id", None)
    assert name == "made_by", f"{script.name} does not end with `made_by()`"
