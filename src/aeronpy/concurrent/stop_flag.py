"""A stop request that signal handlers may raise: :class:`StopFlag`.

A Python signal handler runs in the main thread between two bytecodes, possibly while that
thread is inside ``threading.Event.wait`` holding the Event's internal (non-reentrant) lock;
``Event.set()`` from the handler then waits for that lock forever (the process ignores every
further SIGTERM).  ``StopFlag.set`` takes no lock, so it is safe from a handler and from any
thread; ``wait(timeout)`` sleeps (so a stop is seen within the timeout) and reports the flag.
:func:`stop_on_termination_signals` is how every long-running command stops on SIGTERM/SIGINT.
"""

from __future__ import annotations

import signal
import time

__all__ = ["TERMINATION_SIGNALS", "StopFlag", "stop_on_termination_signals"]

#: The signals that ask a long-running command to stop.
TERMINATION_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopFlag:
    """``set``/``is_set``/``wait(timeout)`` like ``threading.Event``, with a lock-free ``set``."""

    __slots__ = ("_set",)

    def __init__(self) -> None:
        self._set = False

    def set(self, *_: object) -> None:
        """Request the stop (usable directly as a signal handler or a termination hook)."""
        self._set = True

    def is_set(self) -> bool:
        return self._set

    def wait(self, timeout: float) -> bool:
        """Sleep up to ``timeout`` seconds unless already set; returns whether it is set."""
        if not self._set:
            time.sleep(timeout)
        return self._set


def stop_on_termination_signals() -> StopFlag:
    """A new :class:`StopFlag` that SIGINT and SIGTERM set from now on (their handlers are
    replaced; call from the main thread)."""
    stop = StopFlag()
    for signum in TERMINATION_SIGNALS:
        signal.signal(signum, stop.set)
    return stop
