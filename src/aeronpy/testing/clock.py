"""A clock that moves only when told to."""

from __future__ import annotations

import time


class ManualClock:
    """Monotonic nanoseconds and wall-clock milliseconds that advance together, on demand.

    The wall clock starts at the real time of creation so heartbeats stay plausible to anything
    that still reads the real clock; the monotonic clock starts at ``start_ns``.
    """

    def __init__(self, start_ns: int = 1_000_000_000, epoch_start_ms: int | None = None) -> None:
        self._ns = start_ns
        self._epoch_origin_ms = time.time_ns() // 1_000_000 if epoch_start_ms is None else epoch_start_ms
        self._start_ns = start_ns

    def nano_time(self) -> int:
        return self._ns

    def epoch_ms(self) -> int:
        return self._epoch_origin_ms + (self._ns - self._start_ns) // 1_000_000

    def epoch_ns(self) -> int:
        """Wall-clock nanoseconds: the epoch origin plus the monotonic time elapsed."""
        return self._epoch_origin_ms * 1_000_000 + (self._ns - self._start_ns)

    def advance_ns(self, delta_ns: int) -> None:
        if delta_ns < 0:
            raise ValueError(f"a monotonic clock cannot go back: delta_ns={delta_ns}")
        self._ns += delta_ns

    def advance_ms(self, delta_ms: float) -> None:
        self.advance_ns(int(delta_ms * 1_000_000))


__all__ = ["ManualClock"]
