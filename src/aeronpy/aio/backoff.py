"""Idle waiting that never busy-spins the event loop for long."""

from __future__ import annotations

import asyncio
import time
from typing import Callable

__all__ = ["Backoff"]


class Backoff:
    """Wait for something to change without blocking the event loop.

    A wait first only yields (``await asyncio.sleep(0)``: other tasks run, the wait stays
    short): for at least ``yields`` calls and for ``spin_s`` seconds from the first call — an
    answer that comes back within that window (a round trip over IPC) is seen at once, without
    paying for a timer.  Later calls sleep ``min_sleep`` seconds, doubling up to ``max_sleep``
    (the default event loops wake with millisecond granularity, so any sleep costs about 1 ms).
    :meth:`reset` after progress starts over.
    """

    __slots__ = ("yields", "min_sleep", "max_sleep", "spin_s", "_clock", "_count", "_sleep", "_started")

    def __init__(
        self,
        yields: int = 10,
        min_sleep: float = 50e-6,
        max_sleep: float = 1e-3,
        spin_s: float = 200e-6,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        if yields < 0 or not 0 < min_sleep <= max_sleep or spin_s < 0:
            raise ValueError(
                f"need yields >= 0, 0 < min_sleep <= max_sleep and spin_s >= 0: "
                f"{yields}, {min_sleep}, {max_sleep}, {spin_s}"
            )
        self.yields = yields
        self.min_sleep = min_sleep
        self.max_sleep = max_sleep
        self.spin_s = spin_s
        self._clock = clock
        self._count = 0
        self._sleep = min_sleep
        self._started = 0.0

    def reset(self) -> None:
        """Progress was made: the next wait is short again."""
        self._count = 0
        self._sleep = self.min_sleep

    def _yielding(self) -> bool:
        return self._count < self.yields or (self._count == 0 or self._clock() - self._started < self.spin_s)

    @property
    def next_delay(self) -> float:
        """How long the next :meth:`idle` sleeps (0.0 while still yielding)."""
        return 0.0 if self._yielding() else self._sleep

    async def idle(self) -> None:
        """Yield to the loop, or sleep a little longer than last time."""
        if self._yielding():
            if self._count == 0:
                self._started = self._clock()
            self._count += 1
            await asyncio.sleep(0)
            return
        delay = self._sleep
        self._sleep = min(delay * 2, self.max_sleep)
        await asyncio.sleep(delay)
