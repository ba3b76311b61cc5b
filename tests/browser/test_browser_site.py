"""Open every page of the built site in headless Chromium and check that it is complete.

For each page, served from localhost and then opened straight from disk (``file://``):

* no request failed, none returned an HTTP error, and none left this machine;
* the console logged no error and no script threw;
* every ``<img>`` loaded (``naturalWidth > 0``);
* MathJax typeset every formula: no ``.math`` element without MathJax output, no TeX error
  box, and no raw TeX delimiters left in the text outside code;
* served, at a desktop width (1400 px) and a phone width (390 px): every display equation
  (``mjx-container[display]``) fits its column, or scrolls sideways inside it; none runs
  past the column or is cut off;

and the landing page shows the results table with the assignment's eight models. A
full-page screenshot of each page at each width goes to ``docs/_build/screenshots/``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from rnnreport.model.classifier import ModelConfig

pytestmark = pytest.mark.browser

SITE = Path(__file__).resolve().parents[2] / "docs" / "_build" / "html"

# The assignment's grid: (layers, units) for each cell. The names come from the library.
GRID = [(1, 32), (1, 64), (1, 128), (3, 32)]
EXPECTED_MODELS = sorted(
    ModelConfig(cell=cell, layers=layers, units=units).name
    for cell in ("lstm", "gru")
    for layers, units in GRID
)


def site_pages(site: Path = SITE) -> list[str]:
    """Every HTML page of the built site, relative to ``site`` (``[]`` when it is not built)."""
    if not (site / "index.html").is_file():
        return []
    return sorted(
        p.relative_to(site).as_posix()
        for p in site.rglob("*.html")
        if p.relative_to(site).parts[0] != "_static"
    )


PAGES = site_pages()
# Stands in for the pages when the site is not built: the ``site`` fixture then skips with
# the command to build it (or fails, on CI, where a vacuous pass would hide a broken build).
NOT_BUILT = pytest.param(None, id="site-not-built")

# Raw TeX that MathJax should have replaced. Checked on the page's text outside code blocks.
RAW_TEX = re.compile(r"\\\(|\\\)|\\\[|\\\]|\$\$|\\begin\{|\$[^$\s][^$]*\\[A-Za-z]+[^$]*\$")

# In the browser: make lazy images load now, wait until each has loaded or failed, wait for
# MathJax to finish, then report what the checks need.
INSPECT = r"""
async () => {
  const images = Array.from(document.images);
  for (const img of images) { img.loading = "eager"; }
  await Promise.all(images.map((img) => img.decode().catch(() => null)));
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await MathJax.startup.promise;
  }
  const skip = new Set(["PRE", "CODE", "SCRIPT", "STYLE", "TEXTAREA", "MJX-CONTAINER"]);
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT, {
    acceptNode(node) {
      for (let el = node.parentElement; el; el = el.parentElement) {
        if (skip.has(el.tagName) || el.classList.contains("highlight")) {
          return NodeFilter.FILTER_REJECT;
        }
      }
      return NodeFilter.FILTER_ACCEPT;
    },
  });
  const texts = [];
  while (walker.nextNode()) { texts.push(walker.currentNode.nodeValue); }
  const maths = Array.from(document.querySelectorAll(".math"));
  return {
    broken_images: images
      .filter((img) => !(img.complete && img.naturalWidth > 0))
      .map((img) => img.getAttribute("src")),
    image_count: images.length,
    math_count: maths.length,
    untypeset: maths
      .filter((el) => !el.querySelector("mjx-container"))
      .map((el) => el.textContent.trim().slice(0, 80)),
    tex_errors: Array.from(document.querySelectorAll("mjx-merror"))
      .map((el) => el.getAttribute("data-mjx-error") || el.textContent),
    text: texts.join(" "),
  };
}
"""

RESULTS_TABLE = r"""
() => {
  const table = document.querySelector("table.results-table");
  if (!table) { return null; }
  const header = Array.from(table.querySelectorAll("thead th")).map((th) => th.textContent.trim());
  const rows = Array.from(table.querySelectorAll("tbody tr")).map((tr) =>
    Array.from(tr.querySelectorAll("td")).map((td) => td.textContent.trim()));
  return {header, rows};
}
"""


# The widths every page is measured at: a desktop window and a phone (an iPhone's 390 px).
WIDTHS = (1400, 390)

# In the browser: every display equation MathJax rendered, and what would hide part of it.
# An equation is fine when it fits its parent, or when it (or a box around it inside the
# article) scrolls sideways; it fails when it is wider than its parent and nothing scrolls
# (it runs past the column), when its own content overflows a box that does not scroll (cut
# off), or when the box that scrolls it runs past the article column itself.
DISPLAY_MATH = r"""
() => {
  const scrolls = (el) => ["auto", "scroll"].includes(getComputedStyle(el).overflowX);
  const column = document.querySelector("article.bd-article") || document.body;
  const edge = column.getBoundingClientRect();
  const found = [];
  document.querySelectorAll("mjx-container[display]").forEach((el, k) => {
    const parent = el.parentElement;
    const width = el.getBoundingClientRect().width;
    let clip = null;  // the nearest box, this one or one around it, that scrolls sideways
    for (let a = el; a && a !== column; a = a.parentElement) {
      if (scrolls(a)) { clip = a; break; }
    }
    const box = (clip || el).getBoundingClientRect();
    const section = el.closest("section[id]");
    const problems = [];
    if (width > parent.clientWidth + 1 && !clip) {
      problems.push(`${Math.round(width)} px wide in a ${parent.clientWidth} px parent`);
    }
    const own = getComputedStyle(el).overflowX;
    if (el.scrollWidth > el.clientWidth + 1) {
      if (own === "hidden" || own === "clip") {
        problems.push(`cut: content ${el.scrollWidth} px in a ${el.clientWidth} px box`);
      } else if (!clip) {
        problems.push(`content ${el.scrollWidth} px spills out of a ${el.clientWidth} px box`);
      }
    }
    if (box.right > edge.right + 1 || box.left < edge.left - 1) {
      problems.push(`runs past the column (${Math.round(box.left)}..${Math.round(box.right)} px, ` +
        `column ${Math.round(edge.left)}..${Math.round(edge.right)} px)`);
    }
    found.push({
      index: k,
      where: section ? section.id : "",
      width: Math.round(el.scrollWidth),
      scrolls: Boolean(clip),
      problems,
    });
  });
  return found;
}
"""


def _is_local(url: str) -> bool:
    """A request the site may make: its own server, its own files, or inline data."""
    parts = urlsplit(url)
    if parts.scheme in ("file", "data", "blob", "about"):
        return True
    return parts.scheme in ("http", "https") and parts.hostname in ("127.0.0.1", "localhost")


def _open(context: Any, url: str) -> tuple[Any, dict[str, list[str]]]:
    """Open ``url`` in a new tab, recording every problem the checks care about."""
    problems: dict[str, list[str]] = {"requests": [], "console": [], "network": []}
    page = context.new_page()

    def route(route: Any) -> None:
        if _is_local(route.request.url):
            route.continue_()
        else:  # never let the page reach the network; record that it tried
            problems["network"].append(route.request.url)
            route.abort()

    page.route("**/*", route)
    page.on(
        "requestfailed",
        lambda r: problems["requests"].append(f"{r.url} ({r.failure})"),
    )
    page.on(
        "response",
        lambda r: r.status >= 400 and problems["requests"].append(f"{r.url} (HTTP {r.status})"),
    )
    page.on(
        "console",
        lambda m: m.type == "error" and problems["console"].append(f"{m.text} @ {m.location}"),
    )
    page.on("pageerror", lambda e: problems["console"].append(f"uncaught: {e}"))
    response = page.goto(url, wait_until="load")
    if response is not None and not url.startswith("file:"):
        assert response.ok, f"{url}: HTTP {response.status}"
    return page, problems


def _check_page(
    context: Any, url: str, name: str, screenshots: Path | None = None
) -> dict[str, Any]:
    """Open one page and assert that it is complete; return what was inspected.

    With ``screenshots``, also measure every display equation at each of ``WIDTHS`` and
    save a full-page screenshot at each, ``<page>-<width>.png``.
    """
    page, problems = _open(context, url)
    math_at: dict[int, list[dict[str, Any]]] = {}
    try:
        seen = page.evaluate(INSPECT)
        page.wait_for_load_state("networkidle")  # anything the checks themselves triggered
        if screenshots is not None:
            for width in WIDTHS:
                page.set_viewport_size({"width": width, "height": 900})
                page.evaluate("() => new Promise((done) => requestAnimationFrame(done))")
                math_at[width] = page.evaluate(DISPLAY_MATH)
                page.screenshot(path=str(screenshots / _shot_name(name, width)), full_page=True)
        table = page.evaluate(RESULTS_TABLE)
    finally:
        page.close()

    raw_tex = sorted({m.group(0) for m in RAW_TEX.finditer(seen["text"])})
    failures = {
        "requests to the network": problems["network"],
        "failed requests": problems["requests"],
        "console errors": problems["console"],
        "images that did not load": seen["broken_images"],
        "math left untypeset": seen["untypeset"],
        "MathJax errors": seen["tex_errors"],
        "raw TeX in the text": raw_tex,
    }
    for width, maths in math_at.items():
        failures[f"display math at {width} px"] = [
            f"equation {m['index']} (section {m['where'] or '-'}): {'; '.join(m['problems'])}"
            for m in maths
            if m["problems"]
        ]
    failures = {k: v for k, v in failures.items() if v}
    assert not failures, f"{name} ({url}) is not complete: {failures}"
    seen["table"] = table
    seen["display_math"] = math_at
    return seen


def _shot_name(page: str, width: int) -> str:
    return page.replace("/", "__").removesuffix(".html") + f"-{width}.png"


@pytest.mark.parametrize("page", PAGES or [NOT_BUILT])
def test_page_served_from_localhost(
    page: str, base_url: str, browser_context: Any, screenshots: Path
) -> None:
    _check_page(browser_context, base_url + page, page, screenshots)


@pytest.mark.parametrize("page", PAGES or [NOT_BUILT])
def test_page_opened_from_disk(page: str, site: Path, browser_context: Any) -> None:
    """The README promises the site opens from disk: file:// has stricter rules than http."""
    _check_page(browser_context, (site / page).as_uri(), page)


def test_landing_page_shows_the_results(base_url: str, browser_context: Any) -> None:
    """The results table lists exactly the assignment's eight models; the key figure shows."""
    seen = _check_page(browser_context, base_url + "index.html", "index.html")
    table = seen["table"]
    assert table is not None, "index.html has no table.results-table"
    assert table["header"] and table["header"][0].lower() == "model", table["header"]
    models = sorted(row[0] for row in table["rows"])
    assert models == EXPECTED_MODELS, f"results table lists {models}, not {EXPECTED_MODELS}"
    assert all(len(row) == len(table["header"]) for row in table["rows"]), table["rows"]
    assert seen["image_count"] >= 1, "index.html shows no image (the key figure is missing)"


def test_theory_page_typesets_math(base_url: str, browser_context: Any) -> None:
    """The math check must have something to check: the theory page has display equations."""
    seen = _check_page(browser_context, base_url + "theory.html", "theory.html")
    assert seen["math_count"] >= 2, f"theory.html has {seen['math_count']} formulas, expected >= 2"
