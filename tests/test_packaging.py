"""One version number (the package's), stated Python versions, a wheel that builds."""

from __future__ import annotations

import glob
import importlib.metadata
import os
import subprocess
import sys
import tomllib
import zipfile

import pytest

import aeronpy

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _pyproject() -> dict[str, object]:
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        return tomllib.load(f)


def test_the_version_is_written_once_in_the_package() -> None:
    project = _pyproject()["project"]
    assert isinstance(project, dict)
    assert "version" not in project and "version" in project["dynamic"]
    assert _pyproject()["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "aeronpy.version.__version__"}  # type: ignore[index]
    assert importlib.metadata.version("aeronpy") == aeronpy.__version__


def test_supported_python_versions_are_stated() -> None:
    project = _pyproject()["project"]
    assert isinstance(project, dict)
    assert project["requires-python"] == ">=3.11"
    stated = {c.rsplit(" ", 1)[1] for c in project["classifiers"] if c.startswith("Programming Language :: Python :: 3.")}
    assert "3.11" in stated and f"{sys.version_info.major}.{sys.version_info.minor}" in stated


@pytest.mark.slow
def test_pip_wheel_builds_with_the_package_version(tmp_path: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), ROOT],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr
    (wheel,) = glob.glob(os.path.join(str(tmp_path), "aeronpy-*.whl"))
    assert os.path.basename(wheel).startswith(f"aeronpy-{aeronpy.__version__}-")
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        metadata = z.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert f"Version: {aeronpy.__version__}" in metadata and "Requires-Python: >=3.11" in metadata
    assert "aeronpy/aio/__init__.py" in names and "aeronpy/py.typed" in names
