"""Fixtures for the browser test: the built site, a local server for it, headless Chromium.

Chromium is Debian's ``chromium`` package (``scripts/install-browser.sh``), driven by
Playwright's Python package; Playwright's own browser downloads are never used. Nothing
here is imported by the rest of the test suite, so ``nox -s tests`` needs no browser.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "docs" / "_build" / "html"  # test_browser_site.py names it too
SCREENSHOTS = ROOT / "docs" / "_build" / "screenshots"

# Flags for a quiet, offline, root-safe headless Chromium: no sandbox (CI runs as root), no
# GPU, and none of the background traffic (component updates, sync, QUIC probes) that would
# show up as requests the site did not make.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-quic",
    "--disable-sync",
]
CHROMIUM_NAMES = ("chromium", "chromium-browser")


def in_ci() -> bool:
    """True on CI, where a missing browser is a failure rather than a skip."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def _missing(message: str) -> None:
    """Fail on CI, skip elsewhere: a developer machine may simply not have a browser."""
    if in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


class _QuietHandler(SimpleHTTPRequestHandler):
    """A static file handler that does not print a line per request into the test output."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="session")
def site() -> Path:
    """The built site; when it is absent the test is skipped (failed on CI) with the command."""
    if not (SITE / "index.html").is_file():
        _missing(
            f"the site is not built ({SITE / 'index.html'} is missing): build it first with "
            "`RNNREPORT_BUDGET=smoke nox -s docs` (or `nox -s docs`)"
        )
    return SITE


@pytest.fixture(scope="session")
def base_url(site: Path) -> Iterator[str]:
    """``http://127.0.0.1:<free port>/`` serving the built site from a background thread."""
    handler = partial(_QuietHandler, directory=str(site))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)  # port 0: the OS picks a free one
    thread = threading.Thread(target=server.serve_forever, name="site-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """The system Chromium: ``$CHROMIUM`` if set, else ``chromium`` on the PATH."""
    named = os.environ.get("CHROMIUM")
    if named:
        if not Path(named).is_file():
            _missing(f"CHROMIUM={named!r} is not a file: point it at a Chromium executable")
        return named
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    _missing(
        "Chromium not found (looked for "
        + ", ".join(CHROMIUM_NAMES)
        + " on PATH): install Debian's package with `sudo scripts/install-browser.sh`, "
        "or set CHROMIUM to an executable"
    )
    raise AssertionError("unreachable")  # _missing always raises


@pytest.fixture(scope="session")
def browser_context(chromium_path: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A Playwright browser context on the system Chromium, with a fresh profile directory."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing(
            "the Python package playwright is not installed: `pip install playwright` "
            "(never `playwright install`: the test uses the system Chromium)"
        )
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=chromium_path,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900},
            # The site must stand on its own: no service worker may answer for it.
            service_workers="block",
        )
        try:
            yield context
        finally:
            context.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """``docs/_build/screenshots``, next to the built site, emptied once per session."""
    if SCREENSHOTS.exists():
        shutil.rmtree(SCREENSHOTS)
    SCREENSHOTS.mkdir(parents=True)
    return SCREENSHOTS
