"""What made a page's numbers, and the one command that makes them again.

Every gallery script ends with :func:`made_by`: the budget it trained under, the versions of
torch, numpy and Python that ran it, the date, the git commit of the code, and the command
that reruns the script alone. All of it is read while the script runs, never typed. The
script is ``sys.argv[0]``: ``python gallery/plot_03_results.py`` sets it, and so does
sphinx-gallery, which runs each example with its source file as ``sys.argv[0]``.

The commit comes from git when the script is a tracked file of a git checkout; the site
also builds from an sdist, with no git history, and then the commit is "unknown".
"""

from __future__ import annotations

import html
import platform
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from .. import settings

UNKNOWN = "unknown"


@dataclass(frozen=True)
class Provenance:
    """What made a page's numbers; shows as a short list on the site (``_repr_html_``) and
    as text in a terminal. ``budget`` is None on pages that train nothing."""

    budget: str | None
    torch: str
    numpy: str
    python: str
    date: str
    commit: str
    command: str

    def facts(self) -> list[tuple[str, str]]:
        """(what, value) pairs, in the order the page lists them."""
        trained = [("training", self.budget)] if self.budget is not None else []
        return [
            *trained,
            ("torch", self.torch),
            ("numpy", self.numpy),
            ("Python", self.python),
            ("date", self.date),
            ("commit", self.commit),
        ]

    def _repr_html_(self) -> str:
        items = "".join(
            f"<dt>{html.escape(what)}</dt><dd>{html.escape(value)}</dd>"
            for what, value in self.facts()
        )
        return (
            '<div class="rnnreport-provenance">'
            f"<dl>{items}</dl>"
            "<p>Rerun this page alone, from the project's root directory:</p>"
            f"<pre><code>{html.escape(self.command)}</code></pre>"
            "</div>"
        )

    def __repr__(self) -> str:
        width = max(len(what) for what, _ in self.facts())
        lines = ["What made these numbers"]
        lines += [f"  {what.ljust(width)}  {value}" for what, value in self.facts()]
        lines += ["Rerun this page alone, from the project's root directory:", f"  {self.command}"]
        return "\n".join(lines)


def made_by(*, uses_budget: bool = True) -> Provenance:
    """What made the numbers of the script now running (``sys.argv[0]``), read now.

    ``uses_budget=False`` for a page that trains nothing (its numbers do not depend on
    ``RNNREPORT_BUDGET``): the budget is left out of the list and of the command.
    """
    import numpy
    import torch

    script = Path(sys.argv[0])
    budget = settings.budget() if uses_budget else None
    return Provenance(
        budget=budget.describe() if budget is not None else None,
        torch=torch.__version__,
        numpy=numpy.__version__,
        python=platform.python_version(),
        date=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        commit=commit_of(script),
        command=rerun_command(script, budget.name if budget is not None else None),
    )


def rerun_command(script: Path, budget: str | None) -> str:
    """The shell command that reruns ``script`` alone under ``budget`` (a name of
    :data:`~rnnreport.settings.BUDGETS`, or None for a page that trains nothing), from the
    project's root: ``RNNREPORT_BUDGET=full python gallery/plot_03_results.py``."""
    if not (script.name.startswith("plot_") and script.suffix == ".py"):
        return f"{UNKNOWN}: {script.name or 'this session'} is not a gallery script (plot_*.py)"
    where = f"gallery/{script.name}" if script.parent.name == "gallery" else script.as_posix()
    env = f"RNNREPORT_BUDGET={budget} " if budget is not None else ""
    return f"{env}python {where}"


def commit_of(path: Path) -> str:
    """The git commit checked out where ``path`` lives, shortened to 12 digits, with
    " and uncommitted changes" when tracked files differ from it; "unknown (...)" with the
    reason when ``path`` is not a tracked file of a git checkout (an sdist, no git)."""
    if not path.is_file():
        return f"{UNKNOWN} ({path.name or path} is not a file)"
    folder = path.resolve().parent

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=folder, capture_output=True, text=True, timeout=30, check=True
        )
        return done.stdout.strip()

    try:
        git("ls-files", "--error-unmatch", "--", path.name)  # fails unless git tracks it
        commit = git("rev-parse", "--short=12", "HEAD")
        changed = git("status", "--porcelain", "--untracked-files=no")
    except OSError:
        return f"{UNKNOWN} (git is not installed)"
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
        return f"{UNKNOWN} ({path.name} is not a tracked file of a git checkout)"
    return f"{commit} and uncommitted changes" if changed else commit
