"""Sphinx configuration for the dynamokv docs site (built with ``make docs``, ``-W``)."""

from __future__ import annotations

project = "dynamokv"
author = "the dynamokv engineers"
copyright = "2026, the dynamokv engineers"

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "sphinx.ext.mathjax",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
myst_enable_extensions = ["colon_fence", "dollarmath", "deflist"]
myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": False}
napoleon_google_docstring = True
napoleon_numpy_docstring = False

html_theme = "furo"
html_title = "dynamokv"
exclude_patterns = ["_build"]
nitpicky = False
