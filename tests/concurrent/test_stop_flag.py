"""StopFlag: a stop request a signal handler can raise at any point of the main thread's wait.

``threading.Event.set()`` from a signal handler deadlocks when the handler runs while the main
thread holds the Event's internal lock inside ``Event.wait`` (the process then ignores every later
SIGTERM).  Here a trace hook calls ``set()`` at every line executed inside ``wait()``, standing in
for a signal handler run at any of those points (``threading.Event`` deadlocks under it)."""

from __future__ import annotations

import importlib
import inspect
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from aeronpy.concurrent.stop_flag import TERMINATION_SIGNALS, StopFlag, stop_on_termination_signals


def _set_at_every_line_of_wait(stop: Any) -> threading.Thread:
    def tracer(frame: Any, event: str, arg: Any) -> Callable[..., Any] | None:
        if event == "line":
            stop.set()
        return tracer

    def run() -> None:
        sys.settrace(tracer)
        try:
            while not stop.wait(0.01):
                pass
        finally:
            sys.settrace(None)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def test_set_during_wait_never_blocks() -> None:
    stop = StopFlag()
    t = _set_at_every_line_of_wait(stop)
    t.join(5)
    assert not t.is_alive(), "StopFlag.set() blocked inside wait()"
    assert stop.is_set()


def test_flag_semantics() -> None:
    stop = StopFlag()
    assert not stop.is_set()
    assert stop.wait(0.001) is False
    stop.set(15, None)  # usable as a signal handler directly
    assert stop.is_set()
    assert stop.wait(10) is True  # returns at once when set


@pytest.fixture
def restored_signal_handlers() -> Iterator[None]:
    previous = {s: signal.getsignal(s) for s in TERMINATION_SIGNALS}
    yield
    for s, handler in previous.items():
        signal.signal(s, handler)


@pytest.mark.parametrize("signum", TERMINATION_SIGNALS)
def test_termination_signals_set_the_flag(signum: int, restored_signal_handlers: None) -> None:
    stop = stop_on_termination_signals()
    assert all(signal.getsignal(s) == stop.set for s in TERMINATION_SIGNALS)  # the lock-free set, nothing else
    os.kill(os.getpid(), signum)
    deadline = time.monotonic() + 5
    while not stop.is_set() and time.monotonic() < deadline:
        time.sleep(0.001)
    assert stop.is_set()


@pytest.mark.parametrize("module", [
    "aeronpy.cli", "aeronpy.archive.cli", "aeronpy.cluster.node_cli", "aeronpy.cluster.backup.cli",
    "aeronpy.cluster.service.cli",
])
def test_commands_stop_on_a_stop_flag(module: str) -> None:
    """Every long-running command's SIGTERM/SIGINT handler sets a StopFlag (through the helper), not a
    threading.Event or a handler of its own."""
    source = inspect.getsource(importlib.import_module(module))
    assert "threading.Event()" not in source
    assert "stop = stop_on_termination_signals()" in source
    assert "signal.signal(signal.SIG" not in source and "signal.signal(s, lambda" not in source
