"""Fixtures for the asyncio API: a media driver in its own process, and a runner for coroutines."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from typing import Any, Callable, Coroutine, Iterator, TypeVar

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
T = TypeVar("T")

CLIENT_DRIVER_TIMEOUT_MS = 1500
"""Client-side ``aeron.driver.timeout`` of the tests: a killed driver is noticed quickly (the
driver process heartbeats every 100 ms, see :func:`spawn_driver`)."""


def spawn_driver(aeron_dir: str, *properties: str) -> subprocess.Popen[str]:
    """``python -m aeronpy driver --dir aeron_dir`` with small IPC terms and a 100 ms timer;
    returns once it says it is running."""
    args = [sys.executable, "-m", "aeronpy", "driver", "--dir", aeron_dir,
            "-D", "aeron.threading.mode=SHARED", "-D", "aeron.ipc.term.buffer.length=64k",
            "-D", "aeron.timer.interval=100ms", "-D", "aeron.term.buffer.sparse.file=true"]
    for prop in properties:
        args += ["-D", prop]
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "src") + os.pathsep + ROOT)
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    assert proc.stdout is not None
    seen = []
    for _ in range(20):
        line = proc.stdout.readline()
        seen.append(line)
        if line.startswith("aeronpy media driver running") or not line:
            break
    if not seen[-1].startswith("aeronpy media driver running"):
        proc.kill()
        raise AssertionError(f"driver did not start (exit {proc.poll()}): {''.join(seen)}")
    return proc


def stop_driver(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


@pytest.fixture
def driver_process(aeron_dir: str) -> Iterator[subprocess.Popen[str]]:
    """A running media driver process on ``aeron_dir``."""
    proc = spawn_driver(aeron_dir)
    yield proc
    stop_driver(proc)


@pytest.fixture
def run() -> Callable[..., Any]:
    """``run(coroutine, timeout=60)``: run it on a fresh default event loop, failing (instead
    of hanging) if it takes longer than ``timeout`` seconds."""

    def runner(coroutine: Coroutine[Any, Any, T], timeout: float = 60.0) -> T:
        async def bounded() -> T:
            return await asyncio.wait_for(coroutine, timeout)

        return asyncio.run(bounded())

    return runner


def client_settings(aeron_dir: str) -> dict[str, Any]:
    return dict(aeron_dir=aeron_dir, driver_timeout_ms=CLIENT_DRIVER_TIMEOUT_MS, env={})
