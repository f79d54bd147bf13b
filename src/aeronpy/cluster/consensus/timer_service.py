"""Cluster timers of the consensus module (cluster.md §4.10).

Deadlines are in cluster time (ms).  Only the leader fires timers (appending a TimerEvent);
followers cancel their copy when they read the TimerEvent from the log and, when the
ScheduleTimer has not arrived yet, remember the expiry so the late schedule is ignored.

Two implementations behind one interface, chosen by ``aeron.cluster.timer.service.supplier``
as Aeron does: :class:`~aeronpy.cluster.consensus.timer_wheel.WheelTimerService` (the default,
a hashed deadline timer wheel) and :class:`PriorityHeapTimerService` (fires in deadline order,
ties by scheduling order)."""

from __future__ import annotations

import heapq
import itertools
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator

__all__ = ["TimerService", "PriorityHeapTimerService", "ExpiryHandler", "new_timer_service",
           "WHEEL_SUPPLIER", "HEAP_SUPPLIER"]

#: ``on_expiry(correlation_id, deadline)``: False when the timer could not be acted on (it
#: stays armed and polling stops for now).
ExpiryHandler = Callable[[int, int], bool]

WHEEL_SUPPLIER = "io.aeron.cluster.WheelTimerServiceSupplier"
HEAP_SUPPLIER = "io.aeron.cluster.PriorityHeapTimerServiceSupplier"


class TimerService(ABC):
    """correlation id -> deadline; the follower-side bookkeeping is shared."""

    def __init__(self) -> None:
        self.expired_by_correlation_id: dict[int, int] = {}

    @abstractmethod
    def __len__(self) -> int:
        """Armed timers."""

    @abstractmethod
    def schedule(self, correlation_id: int, deadline: int) -> None:
        """Schedule ``correlation_id``; an armed timer of the same id is replaced."""

    @abstractmethod
    def cancel(self, correlation_id: int) -> bool:
        """Disarm; False when it was not armed."""

    @abstractmethod
    def deadline(self, correlation_id: int) -> int | None:
        """The deadline of an armed timer, else None."""

    @abstractmethod
    def poll(self, now: int, on_expiry: ExpiryHandler, limit: int = 20) -> int:
        """Fire up to ``limit`` expired timers; returns how many fired."""

    @abstractmethod
    def timers(self) -> Iterator[tuple[int, int]]:
        """``(correlation_id, deadline)`` of every armed timer, by deadline then scheduling
        order (the order the CM snapshot writes and restores them)."""

    @abstractmethod
    def _clear_timers(self) -> None:
        ...

    def current_time(self, now: int) -> None:
        """Tell the service the cluster time (after a snapshot load); no-op unless ticking."""

    def clear(self) -> None:
        self._clear_timers()
        self.expired_by_correlation_id.clear()

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


class PriorityHeapTimerService(TimerService):
    """Aeron's ``PriorityHeapTimerService``: a heap with lazy deletion, deadline order."""

    def __init__(self) -> None:
        super().__init__()
        self._deadlines: dict[int, tuple[int, int]] = {}  # id -> (deadline, seq)
        self._heap: list[tuple[int, int, int]] = []
        self._seq = itertools.count()

    def __len__(self) -> int:
        return len(self._deadlines)

    def schedule(self, correlation_id: int, deadline: int) -> None:
        seq = next(self._seq)
        self._deadlines[correlation_id] = (deadline, seq)
        heapq.heappush(self._heap, (deadline, seq, correlation_id))
        if len(self._heap) > 64 and len(self._heap) > 4 * len(self._deadlines):
            self._heap = [(d, s, c) for c, (d, s) in self._deadlines.items()]
            heapq.heapify(self._heap)

    def cancel(self, correlation_id: int) -> bool:
        return self._deadlines.pop(correlation_id, None) is not None

    def deadline(self, correlation_id: int) -> int | None:
        entry = self._deadlines.get(correlation_id)
        return None if entry is None else entry[0]

    def poll(self, now: int, on_expiry: ExpiryHandler, limit: int = 20) -> int:
        """Fire, in deadline order, up to ``limit`` timers whose deadline <= ``now``."""
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

    def timers(self) -> Iterator[tuple[int, int]]:
        for cid, (deadline, _seq) in sorted(self._deadlines.items(), key=lambda kv: kv[1]):
            yield cid, deadline

    def _clear_timers(self) -> None:
        self._deadlines.clear()
        self._heap.clear()


def new_timer_service(supplier: str, tick_resolution: int, ticks_per_wheel: int, start_time: int) -> TimerService:
    """The timer service ``aeron.cluster.timer.service.supplier`` names (Aeron's class name, or
    ``wheel``/``heap``); ``tick_resolution`` (cluster time units) and ``ticks_per_wheel`` are
    powers of two, ``start_time`` is the cluster time the wheel starts at."""
    if supplier in (HEAP_SUPPLIER, "heap"):
        return PriorityHeapTimerService()
    if supplier in (WHEEL_SUPPLIER, "wheel"):
        from aeronpy.cluster.consensus.timer_wheel import WheelTimerService

        return WheelTimerService(start_time, tick_resolution, ticks_per_wheel)
    raise ValueError(f"supplier={supplier!r}: must be {WHEEL_SUPPLIER} or {HEAP_SUPPLIER}")
