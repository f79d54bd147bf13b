"""Idle waiting that never busy-spins the event loop."""

from __future__ import annotations

import asyncio

__all__ = ["Backoff"]


class Backoff:
    """Wait for something to change without blocking or spinning the event loop.

    The first ``yields`` calls of :meth:`idle` only ``await asyncio.sleep(0)`` (other tasks
    run; the wait stays short), later calls sleep ``min_sleep`` seconds, doubling up to
    ``max_sleep``.  :meth:`reset` after progress starts over.
    """

    __slots__ = ("yields", "min_sleep", "max_sleep", "_count", "_sleep")

    def __init__(self, yields: int = 10, min_sleep: float = 50e-6, max_sleep: float = 1e-3) -> None:
        if yields < 0 or not 0 < min_sleep <= max_sleep:
            raise ValueError(f"need yields >= 0 and 0 < min_sleep <= max_sleep: {yields}, {min_sleep}, {max_sleep}")
        self.yields = yields
        self.min_sleep = min_sleep
        self.max_sleep = max_sleep
        self._count = 0
        self._sleep = min_sleep

    def reset(self) -> None:
        """Progress was made: the next wait is short again."""
        self._count = 0
        self._sleep = self.min_sleep

    @property
    def next_delay(self) -> float:
        """How long the next :meth:`idle` sleeps (0.0 while still yielding)."""
        return 0.0 if self._count < self.yields else self._sleep

    async def idle(self) -> None:
        """Yield to the loop, or sleep a little longer than last time."""
        if self._count < self.yields:
            self._count += 1
            await asyncio.sleep(0)
            return
        delay = self._sleep
        self._sleep = min(delay * 2, self.max_sleep)
        await asyncio.sleep(delay)
