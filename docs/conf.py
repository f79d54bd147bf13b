"""Sphinx configuration for the aeronpy documentation (``sphinx-build -W docs docs/_build``)."""

from __future__ import annotations

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(_HERE, "..", "src"))
sys.path.insert(0, os.path.join(_HERE, "_ext"))

from aeronpy.version import AERON_COMPATIBLE_VERSION, __version__  # noqa: E402

project = "aeronpy"
author = "aeronpy contributors"
copyright = "aeronpy contributors"
version = release = __version__
rst_epilog = f".. |aeron_version| replace:: {AERON_COMPATIBLE_VERSION}\n"

extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon", "aeronpy_properties"]
exclude_patterns = ["_build", "_ext", "ARCHITECTURE.md", "examples"]
root_doc = "index"
html_theme = "alabaster"
html_static_path: list[str] = []

autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_preserve_defaults = True
nitpicky = False
