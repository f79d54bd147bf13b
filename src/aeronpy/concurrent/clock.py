"""Clocks: wall-clock epoch milliseconds, monotonic nanoseconds and cached variants.

Cached clocks hold a value a duty-cycle updates once, so agents read one consistent
"now" per cycle without a system call per read (as agrona's ``CachedEpochClock``).
"""

from __future__ import annotations

import time
from typing import Callable


def epoch_ms() -> int:
    """Milliseconds since the Unix epoch (wall clock)."""
    return time.time_ns() // 1_000_000


nano_time: Callable[[], int] = time.monotonic_ns
"""Monotonic nanoseconds (arbitrary origin, never goes backwards): ``time.monotonic_ns`` itself,
not a Python function around it (agents read it every duty cycle)."""


class CachedEpochClock:
    """An epoch-millisecond clock whose value is set explicitly."""

    __slots__ = ("_time_ms",)

    def __init__(self, time_ms: int = 0) -> None:
        self._time_ms = time_ms

    def time(self) -> int:
        """The cached epoch milliseconds."""
        return self._time_ms

    def update(self, time_ms: int) -> None:
        """Set the cached value."""
        self._time_ms = time_ms

    def advance(self, delta_ms: int) -> None:
        """Move the cached value forward by ``delta_ms``."""
        self._time_ms += delta_ms


class CachedNanoClock:
    """A nanosecond clock whose value is set explicitly."""

    __slots__ = ("_time_ns",)

    def __init__(self, time_ns: int = 0) -> None:
        self._time_ns = time_ns

    def nano_time(self) -> int:
        """The cached nanoseconds."""
        return self._time_ns

    def update(self, time_ns: int) -> None:
        """Set the cached value."""
        self._time_ns = time_ns

    def advance(self, delta_ns: int) -> None:
        """Move the cached value forward by ``delta_ns``."""
        self._time_ns += delta_ns


__all__ = ["epoch_ms", "nano_time", "CachedEpochClock", "CachedNanoClock"]
