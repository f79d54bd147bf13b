"""A hashed deadline timer wheel (agrona's ``DeadlineTimerWheel``) and the cluster timer service
built on it (Aeron's ``WheelTimerService``, the default of ``aeron.cluster.timer.service.supplier``).

Time is cut into ticks of ``tick_resolution`` (a power of two, in cluster time units) counted from
``start_time``; tick ``t`` lives on spoke ``t % ticks_per_wheel``.  A spoke is a block of slots
(doubling when full) holding deadlines.  Polling visits the current tick's spoke, fires every
slot whose deadline <= ``now`` and moves to the next tick once ``now`` has passed the current
one.  So a timer never fires before its deadline and, when polled often, fires at the latest at
the first poll later than the end of its tick (as Aeron's, which stops polling once the current
tick ends at or after ``now``); timers of one poll fire in spoke (not deadline) order."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

from aeronpy.cluster.consensus.timer_service import ExpiryHandler, TimerService

__all__ = ["DeadlineTimerWheel", "WheelTimerService", "NULL_DEADLINE"]

NULL_DEADLINE = (1 << 63) - 1
INITIAL_TICK_ALLOCATION = 16
MAX_CAPACITY = 1 << 30


def _check_power_of_two(name: str, value: int) -> None:
    if value < 1 or value & (value - 1):
        raise ValueError(f"{name}={value}: must be a power of 2")


class DeadlineTimerWheel:
    """Timers by deadline; a timer id is ``spoke << 32 | slot``."""

    def __init__(self, start_time: int, tick_resolution: int, ticks_per_wheel: int,
                 initial_tick_allocation: int = INITIAL_TICK_ALLOCATION) -> None:
        _check_power_of_two("tick_resolution", tick_resolution)
        _check_power_of_two("ticks_per_wheel", ticks_per_wheel)
        _check_power_of_two("initial_tick_allocation", initial_tick_allocation)
        self.start_time = start_time
        self.tick_resolution = tick_resolution
        self.ticks_per_wheel = ticks_per_wheel
        self._shift = tick_resolution.bit_length() - 1
        self._mask = ticks_per_wheel - 1
        self._allocation = initial_tick_allocation
        self._wheel = [NULL_DEADLINE] * (ticks_per_wheel * initial_tick_allocation)
        self.current_tick = 0
        self.timer_count = 0
        self._poll_index = 0

    # -- time ------------------------------------------------------------------------------

    @property
    def current_tick_time(self) -> int:
        """The time the current tick ends (when polling moves on to the next)."""
        return ((self.current_tick + 1) << self._shift) + self.start_time

    def set_current_tick_time(self, now: int) -> None:
        """Jump forward to the tick holding ``now`` (never backwards)."""
        self.current_tick = max((now - self.start_time) >> self._shift, self.current_tick)

    def reset_start_time(self, start_time: int) -> None:
        if self.timer_count > 0:
            raise ValueError("cannot reset start_time with active timers")
        self.start_time = start_time
        self.current_tick = 0
        self._poll_index = 0

    # -- timers ----------------------------------------------------------------------------

    def schedule_timer(self, deadline: int) -> int:
        """Arm a timer; returns its id."""
        tick = max((deadline - self.start_time) >> self._shift, self.current_tick)
        spoke = tick & self._mask
        base = spoke * self._allocation
        wheel = self._wheel
        for slot in range(self._allocation):
            if wheel[base + slot] == NULL_DEADLINE:
                wheel[base + slot] = deadline
                self.timer_count += 1
                return (spoke << 32) | slot
        return self._grow(deadline, spoke)

    def _grow(self, deadline: int, spoke: int) -> int:
        old, size = self._allocation, self._allocation * 2
        if self.ticks_per_wheel * size > MAX_CAPACITY:
            raise OverflowError(f"timer wheel capacity exhausted at {old} timers per tick")
        wheel = [NULL_DEADLINE] * (self.ticks_per_wheel * size)
        for s in range(self.ticks_per_wheel):
            wheel[s * size:s * size + old] = self._wheel[s * old:(s + 1) * old]
        wheel[spoke * size + old] = deadline
        self._wheel, self._allocation = wheel, size
        self.timer_count += 1
        return (spoke << 32) | old

    def _index(self, timer_id: int) -> int:
        spoke, slot = timer_id >> 32, timer_id & 0xFFFFFFFF
        if 0 <= spoke < self.ticks_per_wheel and slot < self._allocation:
            return spoke * self._allocation + slot
        return -1

    def cancel_timer(self, timer_id: int) -> bool:
        index = self._index(timer_id)
        if index < 0 or self._wheel[index] == NULL_DEADLINE:
            return False
        self._wheel[index] = NULL_DEADLINE
        self.timer_count -= 1
        return True

    def deadline(self, timer_id: int) -> int:
        """The timer's deadline, or :data:`NULL_DEADLINE`."""
        index = self._index(timer_id)
        return NULL_DEADLINE if index < 0 else self._wheel[index]

    def for_each(self, consumer: Callable[[int, int], None]) -> None:
        """``consumer(deadline, timer_id)`` for every armed timer, in wheel order."""
        for index, deadline in enumerate(self._wheel):
            if deadline != NULL_DEADLINE:
                consumer(deadline, ((index // self._allocation) << 32) | (index % self._allocation))

    def clear(self) -> None:
        self._wheel = [NULL_DEADLINE] * len(self._wheel)
        self.timer_count = 0

    def poll(self, now: int, handler: Callable[[int, int], bool], limit: int) -> int:
        """Visit the current tick's spoke once: ``handler(timer_id, deadline)`` for each slot whose
        deadline <= ``now`` (False puts the timer back and stops), then step to the next tick
        when ``now`` is past this one and the limit was not reached."""
        expired = 0
        if self.timer_count > 0:
            spoke = self.current_tick & self._mask
            base = spoke * self._allocation
            wheel = self._wheel
            length = self._allocation
            for _ in range(length):
                if expired >= limit:
                    break
                index = base + self._poll_index
                deadline = wheel[index]
                if now >= deadline:
                    wheel[index] = NULL_DEADLINE
                    self.timer_count -= 1
                    if not handler((spoke << 32) | self._poll_index, deadline):
                        wheel[index] = deadline
                        self.timer_count += 1
                        return expired
                    expired += 1
                self._poll_index = 0 if self._poll_index + 1 >= length else self._poll_index + 1
            if expired < limit and now >= self.current_tick_time:
                self.current_tick += 1
                self._poll_index = 0
            elif self._poll_index >= self._allocation:
                self._poll_index = 0
        elif now >= self.current_tick_time:
            self.current_tick += 1
            self._poll_index = 0
        return expired


class WheelTimerService(TimerService):
    """Cluster timers on a :class:`DeadlineTimerWheel`, keyed by correlation id."""

    def __init__(self, start_time: int, tick_resolution: int, ticks_per_wheel: int) -> None:
        super().__init__()
        self.wheel = DeadlineTimerWheel(start_time, tick_resolution, ticks_per_wheel)
        self._timer_by_correlation: dict[int, int] = {}
        self._correlation_by_timer: dict[int, int] = {}
        self._seq_by_correlation: dict[int, int] = {}
        self._seq = itertools.count()

    def __len__(self) -> int:
        return len(self._timer_by_correlation)

    def schedule(self, correlation_id: int, deadline: int) -> None:
        self.cancel(correlation_id)
        timer_id = self.wheel.schedule_timer(deadline)
        self._timer_by_correlation[correlation_id] = timer_id
        self._correlation_by_timer[timer_id] = correlation_id
        self._seq_by_correlation[correlation_id] = next(self._seq)

    def cancel(self, correlation_id: int) -> bool:
        timer_id = self._timer_by_correlation.pop(correlation_id, None)
        if timer_id is None:
            return False
        self.wheel.cancel_timer(timer_id)
        del self._correlation_by_timer[timer_id]
        del self._seq_by_correlation[correlation_id]
        return True

    def deadline(self, correlation_id: int) -> int | None:
        timer_id = self._timer_by_correlation.get(correlation_id)
        return None if timer_id is None else self.wheel.deadline(timer_id)

    def poll(self, now: int, on_expiry: ExpiryHandler, limit: int = 20) -> int:
        """As Aeron: visit tick after tick until the wheel has caught up with ``now``, at most
        ``limit`` expiries.  A wheel more than a full turn behind has seen every spoke with this
        ``now`` after one turn, so it then jumps straight to ``now``'s tick (same outcome as
        stepping, without stepping through an idle follower's hours tick by tick)."""
        wheel = self.wheel
        aborted = False

        def on_timer(timer_id: int, deadline: int) -> bool:
            nonlocal aborted
            cid = self._correlation_by_timer[timer_id]
            if on_expiry(cid, deadline):
                del self._correlation_by_timer[timer_id]
                del self._timer_by_correlation[cid]
                del self._seq_by_correlation[cid]
                return True
            aborted = True
            return False

        expired = 0
        visited = 0
        while True:
            if wheel.timer_count == 0 or visited >= wheel.ticks_per_wheel:
                wheel.set_current_tick_time(now)
            expired += wheel.poll(now, on_timer, limit - expired)
            visited += 1
            if aborted or expired >= limit or wheel.current_tick_time >= now:
                return expired

    def timers(self) -> Iterator[tuple[int, int]]:
        entries = sorted((self.wheel.deadline(t), self._seq_by_correlation[c], c)
                         for c, t in self._timer_by_correlation.items())
        for deadline, _seq, cid in entries:
            yield cid, deadline

    def current_time(self, now: int) -> None:
        self.wheel.set_current_tick_time(now)

    def _clear_timers(self) -> None:
        self.wheel.clear()
        self._timer_by_correlation.clear()
        self._correlation_by_timer.clear()
        self._seq_by_correlation.clear()

