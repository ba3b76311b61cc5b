"""Open every page of the built site in headless Chromium and check that it is complete.

For each page, served from localhost and then opened straight from disk (``file://``):

* no request failed, none returned an HTTP error, and none left this machine;
* the console logged no error and no script threw;
* every ``<img>`` loaded (``naturalWidth > 0``);
* MathJax typeset every formula: no ``.math`` element without MathJax output, no TeX error
  box, and no raw TeX delimiters left in the text outside code;
* served, in the light and the dark theme (the reader's system asking for each), at a
  desktop width (1400 px) and a phone width (390 px): every table and figure fits its
  column at 1400 px, and fits or scrolls sideways inside it at 390 px; every display
  equation (``mjx-container[display]``) fits or scrolls; nothing runs past the column or
  is cut off, and the page itself never scrolls sideways;
* served, in each theme: the page shows that theme, every piece of text contrasts with
  what is behind it (WCAG AA: 4.5:1, 3:1 for large text), and in the dark theme every
  figure sits on a light card;

and the landing page shows the results table with the assignment's eight models, which
fits at 1400 px even with the full budget's widest cells and scrolls, not clips, at 390 px;
every figure is sharp on a HiDPI screen (two image pixels to each CSS pixel); every
gallery page ends with what made its numbers. A full-page screenshot of each page at each
width in each theme goes to ``docs/_build/screenshots/`` (``<page>-<width>-<theme>.png``).
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from rnnreport.experiments import results
from rnnreport.experiments.grid import GRID as GRID_FAMILY
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
DESKTOP, PHONE = 1400, 390
WIDTHS = (DESKTOP, PHONE)
# The colour themes every page is shown in, as the reader's system asks for them.
THEMES = ("light", "dark")

# What the layout check measures: (what, CSS selector, must it fit without scrolling at
# DESKTOP, at PHONE). A table may scroll sideways on a phone; a figure never needs to.
LAID_OUT = (
    ("display math", "mjx-container[display]", False, False),
    ("table", "table", True, False),
    ("figure", "img", True, True),
)

# In the browser: every element matching ``selector`` inside the article column, and what
# would hide part of it. An element is fine when it fits its parent, or when it (or a box
# around it inside the article) scrolls sideways; it fails when it is wider than its parent
# and nothing scrolls (it runs past the column), when its content overflows a box of its
# own or around it that hides the overflow (cut off), or when the box that scrolls it runs
# past the article column itself. With ``mustFit``, needing to scroll at all is a failure:
# the element must fit the column as it is.
LAYOUT = r"""
({selector, mustFit}) => {
  const overflowX = (el) => getComputedStyle(el).overflowX;
  const scrolls = (el) => ["auto", "scroll"].includes(overflowX(el));
  const hides = (el) => ["hidden", "clip"].includes(overflowX(el));
  const name = (el) => el.tagName.toLowerCase() + (el.className && typeof el.className === "string"
    ? "." + el.className.trim().split(/\s+/).join(".") : "");
  const column = document.querySelector("article.bd-article") || document.body;
  const style = getComputedStyle(column);
  const outer = column.getBoundingClientRect();
  const edge = {
    left: outer.left + parseFloat(style.paddingLeft),
    right: outer.right - parseFloat(style.paddingRight),
  };
  const found = [];
  document.querySelectorAll(selector).forEach((el, k) => {
    if (!column.contains(el) || el.getClientRects().length === 0) { return; }  // not shown
    const rect = el.getBoundingClientRect();
    let clip = null;  // the nearest box, this one or one around it inside the article, that scrolls
    for (let a = el; a && a !== column; a = a.parentElement) {
      if (scrolls(a)) { clip = a; break; }
    }
    const box = (clip || el).getBoundingClientRect();
    const section = el.closest("section[id]");
    const problems = [];
    const parent = el.parentElement;
    if (rect.width > parent.clientWidth + 1 && !clip) {
      problems.push(`${Math.round(rect.width)} px wide in a ${parent.clientWidth} px parent`);
    }
    if (el.scrollWidth > el.clientWidth + 1) {
      if (hides(el)) {
        problems.push(`cut: content ${el.scrollWidth} px in a ${el.clientWidth} px box`);
      } else if (!clip) {
        problems.push(`content ${el.scrollWidth} px spills out of a ${el.clientWidth} px box`);
      }
    }
    // A box around it that hides what runs past its edges: inside the scrolling box, the
    // element itself must fit it; outside, the scrolling box must.
    let seen = rect;
    for (let a = parent; a && a !== column; a = a.parentElement) {
      if (a === clip) { seen = box; continue; }
      const r = a.getBoundingClientRect();
      if (hides(a) && (seen.right > r.right + 1 || seen.left < r.left - 1)) {
        problems.push(`cut by ${name(a)} (${Math.round(seen.left)}..${Math.round(seen.right)} px ` +
          `shown in ${Math.round(r.left)}..${Math.round(r.right)} px)`);
      }
    }
    if (box.right > edge.right + 1 || box.left < edge.left - 1) {
      problems.push(`runs past the column (${Math.round(box.left)}..${Math.round(box.right)} px, ` +
        `column ${Math.round(edge.left)}..${Math.round(edge.right)} px)`);
    }
    const scrolled = clip && clip.scrollWidth > clip.clientWidth + 1;
    if (mustFit && (scrolled || rect.width > edge.right - edge.left + 1)) {
      problems.push(`${Math.round(rect.width)} px wide: wider than its ` +
        `${Math.round(clip ? clip.clientWidth : edge.right - edge.left)} px column, it is seen ` +
        "only by scrolling sideways");
    }
    found.push({
      index: k,
      what: name(el),
      where: section ? section.id : "",
      width: Math.round(el.scrollWidth),
      scrolls: Boolean(scrolled),
      problems,
    });
  });
  return found;
}
"""

# In the browser: wait (up to a second) for the theme's script to show ``theme``; the
# theme the page shows then.
THEME_SHOWN = r"""
async (theme) => {
  for (let k = 0; k < 50 && document.documentElement.dataset.theme !== theme; k++) {
    await new Promise((done) => setTimeout(done, 20));
  }
  await new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
  return document.documentElement.dataset.theme || "";
}
"""

# In the browser: every piece of visible text in the article whose colour contrasts less
# than WCAG AA asks (4.5:1; 3:1 for large text: 24 px, or 18.66 px bold) with what lies
# behind it, the backgrounds of the boxes around it laid over each other; and, with
# ``figures``, every figure whose own background (its card in the dark theme) is not light.
# Colours are read by painting them on a canvas, whatever CSS syntax the theme wrote them in.
COLOURS = r"""
({figures}) => {
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = 1;
  const paint = canvas.getContext("2d", {willReadFrequently: true});
  const rgba = (css) => {
    paint.clearRect(0, 0, 1, 1);
    paint.fillStyle = "rgba(0, 0, 0, 0)";
    paint.fillStyle = css;
    paint.fillRect(0, 0, 1, 1);
    const [r, g, b, a] = paint.getImageData(0, 0, 1, 1).data;
    return [r, g, b, a / 255];
  };
  const over = ([r, g, b, a], under) => [r, g, b].map((c, k) => c * a + under[k] * (1 - a));
  const behind = new Map();  // element -> the opaque colour behind its content
  const background = (el) => {
    if (!el) { return [255, 255, 255]; }  // the canvas under the page
    if (!behind.has(el)) {
      const own = rgba(getComputedStyle(el).backgroundColor);
      behind.set(el, over(own, background(el.parentElement)));
    }
    return behind.get(el);
  };
  const luminance = ([r, g, b]) => {
    const lin = (c) => (c /= 255) <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
  };
  const contrast = (x, y) => {
    const [hi, lo] = [luminance(x), luminance(y)].sort((p, q) => q - p);
    return (hi + 0.05) / (lo + 0.05);
  };
  const column = document.querySelector("article.bd-article") || document.body;
  const walker = document.createTreeWalker(column, NodeFilter.SHOW_TEXT);
  const checked = new Set();
  const low = [];
  while (walker.nextNode()) {
    const el = walker.currentNode.parentElement;
    if (!walker.currentNode.nodeValue.trim() || checked.has(el)) { continue; }
    checked.add(el);
    // MathJax draws its own glyphs; the search field's "Ctrl+K" is a hint, faint on purpose
    if (el.closest("mjx-container, script, style, noscript, template, " +
                   ".search-button__kbd-shortcut")) { continue; }
    const style = getComputedStyle(el);
    if (el.getClientRects().length === 0 || style.visibility !== "visible" ||
        Number(style.opacity) === 0) { continue; }
    const back = background(el);
    const ratio = contrast(over(rgba(style.color), back), back);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5)) {
      low.push(`"${el.textContent.trim().slice(0, 40)}" (${el.tagName.toLowerCase()}): ` +
        `${ratio.toFixed(2)}:1, ${style.color} on rgb(${back.map(Math.round).join(", ")})`);
    }
  }
  const dark = [];
  if (figures) {
    column.querySelectorAll("img").forEach((img) => {
      if (img.getClientRects().length === 0) { return; }
      const card = background(img);
      if (luminance(card) < 0.7) {
        dark.push(`${img.getAttribute("src")} on rgb(${card.map(Math.round).join(", ")})`);
      }
    });
  }
  return {low, dark, checked: checked.size};
}
"""


def _is_local(url: str) -> bool:
    """A request the site may make: its own server, its own files, or inline data."""
    parts = urlsplit(url)
    if parts.scheme in ("file", "data", "blob", "about"):
        return True
    return parts.scheme in ("http", "https") and parts.hostname in ("127.0.0.1", "localhost")


def _open(context: Any, url: str, pixel_ratio: float = 1) -> tuple[Any, dict[str, list[str]]]:
    """Open ``url`` in a new tab, recording every problem the checks care about; with a
    ``pixel_ratio`` other than 1, on a screen of that many device pixels per CSS pixel (a
    HiDPI screen at 2) of ``DESKTOP`` width."""
    problems: dict[str, list[str]] = {"requests": [], "console": [], "network": []}
    page = context.new_page()
    if pixel_ratio != 1:  # Chromium's own emulation: the persistent context fixes the ratio at 1
        screen = {"width": DESKTOP, "height": 900, "deviceScaleFactor": pixel_ratio}
        context.new_cdp_session(page).send(
            "Emulation.setDeviceMetricsOverride", {**screen, "mobile": False}
        )

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

    With ``screenshots``, also show it in each of ``THEMES`` at each of ``WIDTHS``
    (:func:`_show`): its layout and colours are checked and a full-page screenshot of each
    is saved.
    """
    page, problems = _open(context, url)
    shown: dict[str, list[str]] = {}
    try:
        seen = page.evaluate(INSPECT)
        page.wait_for_load_state("networkidle")  # anything the checks themselves triggered
        if screenshots is not None:
            shown = _show(page, name, screenshots)
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
        **shown,
    }
    failures = {k: v for k, v in failures.items() if v}
    assert not failures, f"{name} ({url}) is not complete: {failures}"
    seen["table"] = table
    return seen


def _show(page: Any, name: str, screenshots: Path) -> dict[str, list[str]]:
    """Show ``page`` in each of ``THEMES``, as the reader's system asks for it, at each of
    ``WIDTHS``: what is wrong with its theme, layout (:data:`LAYOUT`) and colours
    (:data:`COLOURS`), by check; a full-page screenshot of each, ``<page>-<width>-<theme>.png``."""
    failures: dict[str, list[str]] = {}
    for theme in THEMES:
        page.emulate_media(color_scheme=theme)
        shows = page.evaluate(THEME_SHOWN, theme)
        if shows != theme:
            failures[f"{theme} theme"] = [
                f"the reader's system asks for {theme}, the page shows {shows or 'no theme'}"
            ]
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            page.evaluate("() => new Promise((done) => requestAnimationFrame(done))")
            for what, selector, at_desktop, at_phone in LAID_OUT:
                found = _layout(page, selector, at_desktop if width == DESKTOP else at_phone)
                failures[f"{what} at {width} px, {theme}"] = [
                    f"{what} {m['index']} ({m['what']}, section {m['where'] or '-'}): "
                    + "; ".join(m["problems"])
                    for m in found
                    if m["problems"]
                ]
            sideways = page.evaluate("() => document.documentElement.scrollWidth - innerWidth")
            if sideways > 1:
                failures[f"page at {width} px, {theme}"] = [f"scrolls sideways by {sideways} px"]
            if width == DESKTOP:
                colours = page.evaluate(COLOURS, {"figures": theme == "dark"})
                failures[f"text contrast, {theme}"] = colours["low"]
                failures[f"figures off a light card, {theme}"] = colours["dark"]
            page.screenshot(path=str(screenshots / _shot_name(name, width, theme)), full_page=True)
    return failures


def _layout(page: Any, selector: str, must_fit: bool) -> list[dict[str, Any]]:
    """:data:`LAYOUT` for the elements ``selector`` matches in ``page`` as it is shown now."""
    return page.evaluate(LAYOUT, {"selector": selector, "mustFit": must_fit})


def _shot_name(page: str, width: int, theme: str) -> str:
    return page.replace("/", "__").removesuffix(".html") + f"-{width}-{theme}.png"


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


# In the browser: give every body cell of the results table the text ``cells`` holds for its
# column (by header, its typographic apostrophes read as plain ones), as a table of other
# numbers would show it.
FILL_RESULTS_TABLE = r"""
(cells) => {
  const table = document.querySelector("table.results-table");
  const header = Array.from(table.querySelectorAll("thead th"))
    .map((th) => th.textContent.trim().replace(/\u2019/g, "'"));
  let filled = 0;
  table.querySelectorAll("tbody tr").forEach((tr) => {
    Array.from(tr.querySelectorAll("td")).forEach((td, k) => {
      if (header[k] in cells) { td.textContent = cells[header[k]]; filled += 1; }
    });
  });
  return filled;
}
"""

# In the browser: whether the results table is wider than the article column, and where its
# last column lies once the nearest box that scrolls it is scrolled to its end.
SCROLL_RESULTS_TABLE = r"""
() => {
  const table = document.querySelector("table.results-table");
  const column = document.querySelector("article.bd-article");
  const right = column.getBoundingClientRect().right -
    parseFloat(getComputedStyle(column).paddingRight);
  let scroller = table;
  while (scroller && scroller !== column &&
         !["auto", "scroll"].includes(getComputedStyle(scroller).overflowX)) {
    scroller = scroller.parentElement;
  }
  if (scroller === column) { scroller = null; }
  const wide = table.getBoundingClientRect().width > column.clientWidth;
  if (scroller) { scroller.scrollLeft = scroller.scrollWidth; }
  const last = table.querySelector("thead th:last-child").getBoundingClientRect();
  const box = scroller ? scroller.getBoundingClientRect() : {left: -Infinity, right: Infinity};
  const seen = {
    wide,
    scrolls: Boolean(scroller) && scroller.scrollWidth > scroller.clientWidth,
    last: [Math.round(last.left), Math.round(last.right)],
    shown: [Math.round(Math.max(box.left, 0)), Math.round(Math.min(box.right, right))],
  };
  if (scroller) { scroller.scrollLeft = 0; }
  return seen;
}
"""


def _widest_cells() -> dict[str, str]:
    """The results table's cells (but the model's name) as the full budget prints them,
    three seeds each (``mean ± std``), for numbers as wide as the grid's plausibly get: a
    summed loss in the thousands with a spread of two digits before the point."""
    row = results.Row(
        model="lstm-1x128",  # a model report A gave both numbers for: every column filled
        params=144_202,
        seeds=3,
        epochs=10,
        test_loss_sum=1_999.99,
        test_loss_sum_std=99.99,
        test_loss=0.2,
        test_accuracy=0.9999,
        test_accuracy_std=0.0999,
        train_seconds=9_999.0,
    )
    row = replace(row, references=GRID_FAMILY.references(row))
    cells = results.display(row, GRID_FAMILY.beside(row))
    del cells["model"]
    return cells


def test_results_table_fits_at_desktop_and_scrolls_on_a_phone(
    base_url: str, browser_context: Any
) -> None:
    """At 1400 px the landing page's results table fits its column, with this build's
    numbers and with the full budget's widest; at 390 px it scrolls sideways inside the
    column, and scrolling it to its end shows its last column: it is never cut."""
    page, _ = _open(browser_context, base_url + "index.html")
    try:
        page.set_viewport_size({"width": DESKTOP, "height": 900})
        built = _layout(page, "table.results-table", must_fit=True)
        assert built, "index.html has no table.results-table"
        cells = _widest_cells()
        assert page.evaluate(FILL_RESULTS_TABLE, cells) == len(cells) * len(EXPECTED_MODELS)
        widest = _layout(page, "table.results-table", must_fit=True)
        page.set_viewport_size({"width": PHONE, "height": 900})
        phone = _layout(page, "table.results-table", must_fit=False)
        scrolled = page.evaluate(SCROLL_RESULTS_TABLE)
    finally:
        page.close()
    assert not built[0]["problems"], f"at {DESKTOP} px: {built[0]['problems']}"
    assert not widest[0]["problems"], (
        f"at {DESKTOP} px, with the full budget's widest cells {cells}: {widest[0]['problems']}"
    )
    assert not phone[0]["problems"], f"at {PHONE} px: {phone[0]['problems']}"
    if scrolled["wide"]:
        assert scrolled["scrolls"], f"at {PHONE} px the table is wider than the column: {scrolled}"
    (left, right), (first, last) = scrolled["last"], scrolled["shown"]
    assert first - 1 <= left and right <= last + 1, (
        f"at {PHONE} px the last column ({left}..{right} px) cannot be brought into the "
        f"column ({first}..{last} px) by scrolling the table: {scrolled}"
    )


# The figures of the pages: sphinx-gallery's, and MyST's {figure} (the key figure).
FIGURES = "article img.sphx-glr-single-img, article img.sphx-glr-multi-img, article figure img"
FIGURE_PAGES = [
    page
    for page in PAGES
    if re.search(r"sphx-glr-(single|multi)-img|<figure\b", (SITE / page).read_text())
]

# In the browser: the screen's pixel ratio, and for every figure shown the file the browser
# chose, its width in pixels (read from the file alone: an <img>'s naturalWidth is divided by
# the density its srcset gives the file) and the width it is shown at in CSS pixels.
SHARPNESS = r"""
async (selector) => {
  const images = Array.from(document.querySelectorAll(selector))
    .filter((img) => img.getClientRects().length > 0);
  for (const img of images) { img.loading = "eager"; }
  await Promise.all(images.map((img) => img.decode().catch(() => null)));
  const pixels = async (url) => {
    const file = new Image();
    file.src = url;
    await file.decode().catch(() => null);
    return file.naturalWidth;
  };
  return {
    ratio: devicePixelRatio,
    images: await Promise.all(images.map(async (img) => ({
      src: img.getAttribute("src"),
      srcset: img.getAttribute("srcset") || "",
      chosen: img.currentSrc,
      pixels: await pixels(img.currentSrc),
      shown: img.getBoundingClientRect().width,
    }))),
  };
}
"""


@pytest.mark.parametrize("page", FIGURE_PAGES or [NOT_BUILT])
def test_figures_are_sharp_on_hidpi_screens(page: str, base_url: str, browser_context: Any) -> None:
    """On a screen of two device pixels per CSS pixel, every figure has two image pixels
    for each CSS pixel it is shown at: a gallery figure through its ``srcset``'s 2x file
    (which exists), the key figure by being drawn at twice its size."""
    tab, problems = _open(browser_context, base_url + page, pixel_ratio=2)
    try:
        seen = tab.evaluate(SHARPNESS, FIGURES)
    finally:
        tab.close()
    assert seen["ratio"] == 2, f"the screen's pixel ratio is {seen['ratio']}, not 2"
    assert seen["images"], f"{page} shows no figure"
    assert not problems["requests"], problems["requests"]
    blurred = [
        f"{img['chosen'].rsplit('/', 1)[-1]}: {img['pixels']} px shown at {img['shown']:.0f}"
        for img in seen["images"]
        if img["pixels"] < 1.95 * img["shown"]
    ]
    assert not blurred, f"{page}: figures blurred on a HiDPI screen: {blurred}"
    for img in seen["images"]:
        if "sphx-glr" not in img["src"]:
            continue
        doubles = [c.split()[0] for c in img["srcset"].split(",") if c.split()[1:] == ["2.00x"]]
        assert doubles, f"{page}: {img['src']} has no 2x file in its srcset {img['srcset']!r}"
        assert (SITE / page).parent.joinpath(doubles[0]).resolve().is_file(), doubles[0]


GALLERY_PAGES = [page for page in PAGES if re.fullmatch(r"auto_examples/plot_\w+\.html", page)]


@pytest.mark.parametrize("page", GALLERY_PAGES or [NOT_BUILT])
def test_gallery_page_ends_with_what_made_it(page: str, site: Path) -> None:
    """Each gallery page's last section lists what made its numbers and the command that
    reruns its script alone."""
    text = (site / page).read_text()
    footer = text.rfind('class="rnnreport-provenance"')
    assert footer > 0, f"{page} does not say what made its numbers"
    last = text[text.rfind("<section") : footer]
    assert 'id="what-made-these-numbers"' in last, f"{page}: the list is not its last section"
    for what in ("torch", "numpy", "date", "commit"):
        assert f"<dt>{what}</dt>" in text[footer:], f"{page} does not name its {what}"
    command = f"python gallery/{Path(page).stem}.py"
    assert command in text[footer:], f"{page} does not give the command `{command}`"


def test_theory_page_typesets_math(base_url: str, browser_context: Any) -> None:
    """The math check must have something to check: the theory page has display equations."""
    seen = _check_page(browser_context, base_url + "theory.html", "theory.html")
    assert seen["math_count"] >= 2, f"theory.html has {seen['math_count']} formulas, expected >= 2"
