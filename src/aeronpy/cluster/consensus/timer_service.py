"""Cluster timers of the consensus module (cluster.md §4.10).

Deadlines are in cluster time (ms).  Only the leader fires timers (appending a TimerEvent);
followers cancel their copy when they read the TimerEvent from the log and, when the
ScheduleTimer has not arrived yet, remember the expiry so the late schedule is ignored.  Timers
fire in deadline order, ties by scheduling order (a priority heap, like Aeron's
``PriorityHeapTimerService``), so the log does not depend on the wheel resolution."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterator

__all__ = ["TimerService"]


class TimerService:
    """correlation id -> deadline, with lazy deletion in the heap."""

    def __init__(self) -> None:
        self._deadlines: dict[int, tuple[int, int]] = {}  # id -> (deadline, seq)
        self._heap: list[tuple[int, int, int]] = []
        self._seq = itertools.count()
        self.expired_by_correlation_id: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self._deadlines)

    def schedule(self, correlation_id: int, deadline: int) -> None:
        """Schedule (or reschedule) ``correlation_id``."""
        seq = next(self._seq)
        self._deadlines[correlation_id] = (deadline, seq)
        heapq.heappush(self._heap, (deadline, seq, correlation_id))

    def cancel(self, correlation_id: int) -> bool:
        return self._deadlines.pop(correlation_id, None) is not None

    def deadline(self, correlation_id: int) -> int | None:
        entry = self._deadlines.get(correlation_id)
        return None if entry is None else entry[0]

    def poll(self, now: int, on_expiry: Callable[[int, int], bool], limit: int = 20) -> int:
        """Fire up to ``limit`` timers whose deadline <= ``now``: ``on_expiry(correlation_id,
        deadline)`` returns False when it could not act (the timer stays armed, polling stops)."""
        fired = 0
        while self._heap and fired < limit:
            deadline, seq, cid = self._heap[0]
            if self._deadlines.get(cid) != (deadline, seq):
                heapq.heappop(self._heap)
                continue
            if deadline > now:
                break
            if not on_expiry(cid, deadline):
                break
            heapq.heappop(self._heap)
            del self._deadlines[cid]
            fired += 1
        return fired

    # -- follower side ---------------------------------------------------------------------

    def on_timer_event(self, correlation_id: int) -> None:
        """A TimerEvent read from the log: cancel the local copy, or count the early expiry."""
        if not self.cancel(correlation_id):
            self.expired_by_correlation_id[correlation_id] = self.expired_by_correlation_id.get(correlation_id, 0) + 1

    def on_schedule_timer(self, correlation_id: int, deadline: int) -> None:
        """A service's ScheduleTimer: ignored when its expiry was already seen in the log."""
        count = self.expired_by_correlation_id.get(correlation_id, 0)
        if count > 0:
            if count == 1:
                del self.expired_by_correlation_id[correlation_id]
            else:
                self.expired_by_correlation_id[correlation_id] = count - 1
            return
        self.schedule(correlation_id, deadline)

    def timers(self) -> Iterator[tuple[int, int]]:
        """``(correlation_id, deadline)`` of every armed timer in firing order (snapshots)."""
        for cid, (deadline, _seq) in sorted(self._deadlines.items(), key=lambda kv: kv[1]):
            yield cid, deadline

    def clear(self) -> None:
        self._deadlines.clear()
        self._heap.clear()
        self.expired_by_correlation_id.clear()
