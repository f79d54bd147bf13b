"""Fixtures for interop tests (real Aeron C driver/client from the pyaeron wheel)."""

from __future__ import annotations

import ctypes
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.interop import reference
from tests.interop.procs import ProcessGroup


@pytest.fixture(scope="session")
def c_reference() -> ctypes.CDLL:
    """The loaded real Aeron C library; skips (with the reason) when it cannot be obtained."""
    return reference.require_reference()


@pytest.fixture
def procs() -> Iterator[ProcessGroup]:
    """Process/aeron-dir tracker; everything is killed and removed on teardown."""
    group = ProcessGroup()
    try:
        yield group
    finally:
        group.close()


@pytest.fixture
def aeron_dir(procs: ProcessGroup) -> Path:
    """A fresh aeron dir path (e.g. /dev/shm/aeronpy-test-<uuid>), removed on teardown."""
    return procs.new_aeron_dir()
