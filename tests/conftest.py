"""Shared fixtures: a fresh Aeron directory and an embedded media driver per test."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import uuid
from typing import Callable, Iterator

import pytest

SHM = "/dev/shm" if os.path.isdir("/dev/shm") else "/tmp"


def interrupt_and_wait(proc: subprocess.Popen[str], timeout: float = 10.0, signum: int = signal.SIGINT) -> int:
    """Ctrl-C (or ``signum``) a CLI child and return its exit code; if it does not stop in time, dump
    its threads' stacks (faulthandler on SIGABRT, enabled by ``PYTHONFAULTHANDLER`` in
    :func:`cli_env`) and fail with its stderr, so a hang says where it hangs."""
    proc.send_signal(signum)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGABRT)
        try:
            _, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        pytest.fail(f"{proc.args!r} did not stop {timeout} s after {signal.Signals(signum).name}; its stderr:\n{err}")


def cli_env() -> dict[str, str]:
    """The environment for CLI children: faulthandler on, so :func:`interrupt_and_wait` can dump stacks."""
    return {**os.environ, "PYTHONFAULTHANDLER": "1"}


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
