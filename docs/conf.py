"""Sphinx configuration for the rnnreport site.

Build it with ``nox -s docs`` (or, in an environment with the ``docs`` group installed)::

    sphinx-build -W --keep-going -n -T -b html docs docs/_build/html

What happens, in order:

1. This file points ``RNNREPORT_OUTPUT`` at ``docs/_generated``, so the gallery scripts write
   the results table, ``findings.md`` and the key figure there (``rnnreport.settings.output_dir``).
2. ``_train_all`` trains every model the pages will read that the cache lacks, in one queue
   (``rnnreport.experiments.site.train_all``); it is skipped when the gallery does not run
   or runs only some scripts.
3. sphinx-gallery runs every ``gallery/plot_*.py`` in this one interpreter, one after the
   other (all of them, every build), and turns each into a page under ``auto_examples/``
   with downloadable ``.py`` and ``.ipynb`` files.
4. ``_check_generated`` makes sure the scripts left the landing page's inputs behind
   (``index.md`` includes them): every number on it comes from this build.
5. ``sphinx-mathjax-offline`` copies MathJax into ``_static``: math renders with no network.

The package is reached only through that training step, the gallery scripts and autodoc.
"""

from __future__ import annotations

import os
import re
import shutil
from importlib.metadata import version as _installed_version
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.errors import ConfigError, ExtensionError

DOCS = Path(__file__).resolve().parent
GENERATED = DOCS / "_generated"
# The landing page's inputs: written by the results-grid script (gallery/plot_03_*.py).
# results.csv is for machines (every column, full precision); the page shows results_table.csv.
REQUIRED_OUTPUTS = (
    "findings.md",
    "results.csv",
    "results.json",
    "results_table.csv",
    "key_figure.png",
    "report_a_gap.md",  # written by the open-choices script (gallery/plot_04a_*.py)
)

# Before sphinx-gallery imports anything: where the scripts write, and a backend with no window.
os.environ["RNNREPORT_OUTPUT"] = str(GENERATED)
os.environ["MPLBACKEND"] = "Agg"
GENERATED.mkdir(exist_ok=True)

# -- Project -----------------------------------------------------------------------------------

project = "rnnreport"
author = "the rnnreport authors"
copyright = "the rnnreport authors"
release = _installed_version("rnnreport")
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    # The package's import name has dashes; it copies MathJax 3 into _static/mathjax and points
    # mathjax_path at it (Sphinx's default loads MathJax from a CDN).
    "sphinx-mathjax-offline",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
    "sphinxcontrib.bibtex",
]

root_doc = "index"
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
templates_path = ["_templates"]
exclude_patterns = [
    "_build",
    "_generated",  # included into index.md, never pages of their own
    "Thumbs.db",
    ".DS_Store",
]

# -- MyST --------------------------------------------------------------------------------------

myst_enable_extensions = [
    "amsmath",  # \begin{aligned} ... blocks as display math
    "dollarmath",  # $...$ and $$...$$
    "colon_fence",  # ::: fences for admonitions and figures
    "deflist",
    "attrs_inline",
]
myst_heading_anchors = 3
myst_dmath_double_inline = True

# -- Math: MathJax 3 from _static, no CDN -------------------------------------------------------

# sphinx-mathjax-offline sets mathjax_path in its setup(); `setup` below re-checks it.
mathjax3_config = {
    # Gallery pages and docstrings use \(...\); MyST pages use $...$ (turned into \(...\)).
    "tex": {"inlineMath": [["\\(", "\\)"]], "displayMath": [["\\[", "\\]"]]},
}

# -- Bibliography ------------------------------------------------------------------------------

# One bibliography (references.md) for every page: {cite} in MyST, :cite: in the gallery's
# reST and in docstrings. An unknown key is a warning, so with -W it fails the build.
bibtex_bibfiles = ["references.bib"]
bibtex_default_style = "plain"
bibtex_reference_style = "author_year"
bibtex_cite_id = "{key}"  # an entry's anchor is its key: references.html#weiss2018practical

# -- API reference (autodoc + autosummary) ------------------------------------------------------

autosummary_generate = True
autosummary_imported_members = False
autodoc_default_options = {
    "members": True,
    "member-order": "bysource",
    "show-inheritance": True,
}
autodoc_typehints = "description"
autodoc_typehints_format = "short"
autodoc_class_signature = "separated"
# An undocumented override (say ``forward``) would show torch's docstring, which is about
# nn.Module, not about our model.
autodoc_inherit_docstrings = False
# Each class and function already has its own section heading in the module template; object
# entries in the page's table of contents would list every name twice.
toc_object_entries = False

# `-n` (nitpicky) wants every type in a signature to resolve. Ours do; the ones below live in
# other projects, which we cannot link to without intersphinx (and so without a network).
nitpick_ignore_regex = [
    (r"py:(class|obj|data|exc|func|meth)", r"(torch|numpy|np|nn|F)(\..+)?"),
    (r"py:(class|obj)", r"Tensor"),
    (r"py:(class|obj|data|exc|func|meth)", r"(sympy|matplotlib|distributed|dask)(\..+)?"),
    # The standard library, for the same reason.
    (r"py:(class|obj)", r"(pathlib\.Path|os\.PathLike|collections\.abc\.\w+|typing\.\w+)"),
    (r"py:(class|obj)", r"argparse\.\w+"),
    # Private helpers named in docstrings: deliberately not part of the reference.
    (r"py:(class|obj|func|meth)", r"(rnnreport(\.\w+)*\.)?_\w+"),
]

# -- sphinx-gallery ----------------------------------------------------------------------------

_EVERY_SCRIPT = r"/plot_"
"""The gallery's pattern of scripts to execute: every one (``-D`` can narrow it to some)."""
sphinx_gallery_conf = {
    "examples_dirs": "../gallery",
    "gallery_dirs": "auto_examples",
    "filename_pattern": _EVERY_SCRIPT,
    "within_subsection_order": "FileNameSortKey",  # plot_01, plot_02, ...: the report's order
    "download_all_examples": True,  # zips of all .py and all .ipynb on the gallery index
    "remove_config_comments": True,
    "matplotlib_animations": False,
    "show_memory": False,
    "capture_repr": ("_repr_html_", "__repr__"),
    "reset_modules": ("matplotlib", "seaborn"),
    # One interpreter, one example after another: forking after torch's OpenMP pool has
    # started can hang, so the build is never parallel (do not pass -j to sphinx-build).
    "parallel": False,
    # Names in the code blocks link to the API pages, and API pages list the examples using them.
    "doc_module": ("rnnreport",),
    "backreferences_dir": "api/generated/backreferences",
    "exclude_implicit_doc": {r"rnnreport\.settings\..*"},
    # Rerun every example on every build. sphinx-gallery skips an example whose own source is
    # unchanged, but its numbers also depend on the library, the budget and the cache: a
    # skipped script would leave last build's results (say, smoke ones in a full build) on
    # the site. Reruns are cheap once the training cache is warm.
    "run_stale_examples": True,
    "first_notebook_cell": None,
    "thumbnail_size": (400, 280),
    # Each figure is saved twice, at the figure's dpi and at twice it, and the page offers both
    # (<img srcset="... 2.00x">): sharp on HiDPI screens and phones, the plain file elsewhere.
    "image_srcset": ["2x"],
    "default_thumb_file": None,
    # A failing example fails the build (never a page with a traceback in it).
    "abort_on_example_error": False,
    "only_warn_on_example_error": False,
}


# -- HTML --------------------------------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = "rnnreport: LSTM vs GRU"
html_static_path = ["_static"]
html_css_files = ["rnnreport.css"]
# results.csv, results.json, findings.md and key_figure.png sit next to the pages.
html_extra_path = ["_generated"]
html_last_updated_fmt = None
html_show_sourcelink = True
html_copy_source = True
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "header_links_before_dropdown": 7,
    "navbar_align": "left",
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version", "theme-version"],
    # sg_download_links renders only on example pages (the .py and .ipynb downloads).
    "secondary_sidebar_items": ["page-toc", "sg_download_links", "sourcelink"],
    # Nothing that fetches from the network: no analytics, no version switcher, no icon CDN.
    "icon_links": [],
}
html_sidebars = {
    "index": [],
    "reproduce": [],
    "**": ["sidebar-nav-bs"],
}
# Light or dark as the reader's system asks, and a switch in the navbar; figures sit on a
# light card in the dark theme, and tables take their colours from the theme (rnnreport.css).
html_context = {"default_mode": "auto"}


def _gallery_runs(app: Sphinx) -> bool:
    """False when the build was asked not to run the examples (``-D plot_gallery=0``)."""
    return str(app.config.sphinx_gallery_conf.get("plot_gallery")).lower() not in ("false", "0")


def _clear_generated(app: Sphinx) -> None:
    """Empty docs/_generated before the examples run, so nothing from an older build survives."""
    if not _gallery_runs(app):
        return  # keep the last build's outputs: the examples will not write new ones
    for path in GENERATED.iterdir():
        if path.is_file():
            path.unlink()
        elif path.is_dir():
            shutil.rmtree(path)


def _train_all(app: Sphinx) -> None:
    """Train every model the pages will ask for, in one queue, before the first page runs:
    each page would otherwise train its own family and leave a core idle at its end."""
    conf = app.config.sphinx_gallery_conf
    if not _gallery_runs(app) or conf.get("filename_pattern") != _EVERY_SCRIPT:
        return  # no page runs, or only some: each trains what it reads itself
    from rnnreport.experiments.site import train_all

    train_all()


def _check_generated(app: Sphinx) -> None:
    """Fail the build, with the reason, if the gallery left the landing page's inputs out."""
    missing = [name for name in REQUIRED_OUTPUTS if not (GENERATED / name).is_file()]
    if not missing:
        return
    gallery = DOCS.parent / "gallery"
    scripts = sorted(p.name for p in gallery.glob("plot_*.py"))
    conf = app.config.sphinx_gallery_conf
    failing = sorted(Path(p).name for p in conf.get("failing_examples", {}))
    if not _gallery_runs(app):
        hint = "the gallery was not run (plot_gallery is off): build without `-D plot_gallery=0`"
    elif failing:
        hint = f"{', '.join(failing)} raised an error (its traceback is above): fix it first"
    else:
        hint = (
            "the results-grid script (gallery/plot_03_*.py) and the open-choices script "
            "(gallery/plot_04a_*.py) write them; check that they exist and ran (scripts "
            f"found: {', '.join(scripts) or 'none'})"
        )
    raise ExtensionError(
        f"the landing page needs {', '.join(missing)} in {GENERATED}, but "
        f"{'it is' if len(missing) == 1 else 'they are'} missing: {hint}. "
        "To start from scratch, delete docs/auto_examples and docs/_generated."
    )


def _check_mathjax(app: Sphinx) -> None:
    """Make sure no page asks a CDN for MathJax (the site must work offline)."""
    path = app.config.mathjax_path
    if "://" in path or path.startswith("//"):
        raise ConfigError(
            f"mathjax_path is {path!r}, a network address: the site must render math offline. "
            "Is sphinx-mathjax-offline installed (pip install sphinx-mathjax-offline)?"
        )


# sphinx-gallery's execution-times pages load jQuery and DataTables from CDNs to make the
# table sortable. Offline that is three failed requests and a script error, so the block goes;
# the table itself stays (a plain table, sorted slowest first by sphinx-gallery already).
_CDN_BLOCK = re.compile(
    r"^(?P<indent>[ \t]*)\.\. raw:: html\n.*?(?=^(?P=indent)\.\. list-table::)", re.M | re.S
)
_REMOTE_ASSET = re.compile(r"<(script|link)\b[^>]*\b(src|href)=\"(https?:)?//", re.I)


def _offline_execution_times(app: Sphinx, docname: str, source: list[str]) -> None:
    """Drop the CDN scripts from ``sg_execution_times`` pages; fail if any remote asset is left."""
    if docname.rsplit("/", 1)[-1] != "sg_execution_times":
        return
    text = _CDN_BLOCK.sub("", source[0])
    if _REMOTE_ASSET.search(text):
        raise ExtensionError(
            f"{docname}: sphinx-gallery's execution-times page still loads a script or style "
            "from the network after conf.py removed its CDN block; its format must have "
            "changed: update _CDN_BLOCK in docs/conf.py"
        )
    source[0] = text


def setup(app: Sphinx) -> None:
    # sphinx-gallery runs the examples on builder-inited (priority 500): clear before, check after.
    app.connect("builder-inited", _clear_generated, priority=400)
    app.connect("builder-inited", _train_all, priority=450)
    app.connect("builder-inited", _check_generated, priority=900)
    app.connect("builder-inited", _check_mathjax, priority=900)
    app.connect("source-read", _offline_execution_times)
