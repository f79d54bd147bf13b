"""Shared fixtures: a fresh Aeron directory and an embedded media driver per test."""

from __future__ import annotations

import os
import shutil
import time
import uuid
from typing import Callable, Iterator

import pytest

SHM = "/dev/shm" if os.path.isdir("/dev/shm") else "/tmp"


def wait_for(condition: Callable[[], object], timeout: float = 10.0, message: str = "condition") -> object:
    """Poll ``condition`` until truthy or fail after ``timeout`` seconds (no blind sleeps)."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(0.001)


@pytest.fixture
def aeron_dir() -> Iterator[str]:
    path = os.path.join(SHM, f"aeronpy-test-{uuid.uuid4().hex[:12]}")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def driver_factory(aeron_dir: str) -> Iterator[Callable[..., object]]:
    from aeronpy.driver.context import DriverContext
    from aeronpy.driver.media_driver import MediaDriver

    drivers: list[MediaDriver] = []

    def make(**overrides: object) -> MediaDriver:
        settings: dict[str, object] = dict(
            aeron_dir=aeron_dir,
            threading_mode="SHARED",
            ipc_term_buffer_length=64 * 1024,
            term_buffer_sparse_file=True,
        )
        settings.update(overrides)
        ctx = DriverContext.from_properties(env={}, **settings)
        driver = MediaDriver.launch(ctx)
        drivers.append(driver)
        return driver

    yield make
    for d in drivers:
        d.close()


@pytest.fixture
def driver(driver_factory: Callable[..., object]) -> object:
    return driver_factory()


@pytest.fixture
def client_factory(aeron_dir: str) -> Iterator[Callable[..., object]]:
    from aeronpy.client.aeron import Aeron
    from aeronpy.client.context import Context

    clients: list[Aeron] = []

    def make(**overrides: object) -> Aeron:
        settings: dict[str, object] = dict(aeron_dir=aeron_dir)
        settings.update(overrides)
        ctx = Context.from_properties(env={}, **settings)
        client = Aeron.connect(ctx)
        clients.append(client)
        return client

    yield make
    for c in clients:
        c.close()
