"""The documentation builds with warnings as errors, and covers what the guide promises."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

DOCS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs")


def test_docs_build_without_warnings(tmp_path: str) -> None:
    pytest.importorskip("sphinx", reason="pip install -e '.[docs]' to build the documentation")
    out = os.path.join(str(tmp_path), "html")
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", DOCS, out],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    with open(os.path.join(out, "guide", "configuration.html"), encoding="utf-8") as f:
        configuration = f.read()
    from aeronpy.driver.context import DriverContext

    missing = [p for p in DriverContext.PROPERTY_NAMES.values() if p not in configuration]
    assert not missing, f"driver properties missing from the configuration page: {missing}"
    with open(os.path.join(out, "api", "aio.html"), encoding="utf-8") as f:
        assert "AsyncPublication.offer" in f.read()


def test_readme_points_to_the_docs() -> None:
    with open(os.path.join(DOCS, "..", "README.md"), encoding="utf-8") as f:
        readme = f.read()
    assert "python -m sphinx -W -b html docs docs/_build/html" in readme
