"""Waking parked agents of one process when another agent of it did work (aeronpy's addition).

Agents of one process hand work to each other through shared memory: a driver's receiver
fills an image that the consensus module polls, the consensus module appends to a log that the
sender sends, and so on.  With Aeron's back-off a parked agent notices only when its park ends
(up to 1 ms, 8 ms in aeronpy's deep park), once per hop.  Java and C spin through such hops
cheaply; a Python duty cycle costs tens of microseconds per wake-up, so spinning harder is no
way out.  Instead, while a :class:`Doorbell` is installed, every "backoff" strategy built by
:func:`~aeronpy.concurrent.idle_strategy.idle_strategy_from_name` becomes a
:class:`DoorbellIdleStrategy`: it parks on an ``eventfd`` (and on any descriptors it was told to
watch, such as a driver's socket ``epoll``), and a duty cycle that did work rings the doorbell,
waking every agent of the process that is parked.  An idle process does no more wake-ups than
before; a busy one hands off at once.  Back-off itself (spins, yields, doubling parks, deep
park) is unchanged, so timers keep their old resolution.
"""

from __future__ import annotations

import os
import select
import threading
import time
import weakref
from aeronpy.concurrent import idle_strategy as _idle
from aeronpy.concurrent.idle_strategy import BackoffIdleStrategy, IdleStrategy

__all__ = ["Doorbell", "DoorbellIdleStrategy", "install", "uninstall", "installed"]

_HAS_EVENTFD = hasattr(os, "eventfd")
#: A strategy rings at most once per this interval: the first duty cycle with work after a
#: quiet spell rings at once (a hand-off), a busy streak cannot turn the others' parks into a
#: storm of wake-ups (each costs tens of microseconds of CPU).
MIN_RING_INTERVAL_NS = 100_000
#: ``select`` takes microsecond timeouts, but only descriptors below FD_SETSIZE.
_SELECT_LIMIT = 1024


class Doorbell:
    """The group of parkable strategies of one process; :meth:`ring` wakes those parked."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._members: tuple[weakref.ref[DoorbellIdleStrategy], ...] = ()
        self.rings = 0
        """Wake-ups sent (one per parked strategy woken)."""

    def join(self, strategy: DoorbellIdleStrategy) -> None:
        with self._lock:
            alive = tuple(r for r in self._members if r() is not None)
            self._members = alive + (weakref.ref(strategy),)

    def ring(self, source: object = None) -> int:
        """Wake every armed (parking) member except ``source``; returns how many were woken."""
        woken = 0
        for ref in self._members:
            member = ref()
            if member is not None and member is not source and member.armed:
                member.wake()
                woken += 1
        self.rings += woken
        return woken

    @property
    def size(self) -> int:
        return sum(1 for r in self._members if r() is not None)


class DoorbellIdleStrategy(BackoffIdleStrategy):
    """A back-off strategy whose parks end early when the doorbell rings or a watched
    descriptor becomes readable, and which rings the doorbell after a duty cycle with work."""

    def __init__(self, doorbell: Doorbell, max_spins: int = 10, max_yields: int = 5,
                 min_park_period_ns: int = 1000, max_park_period_ns: int = 1_000_000, *,
                 deep_park_after: int = 0, max_deep_park_period_ns: int = 0,
                 min_ring_interval_ns: int = MIN_RING_INTERVAL_NS) -> None:
        super().__init__(max_spins, max_yields, min_park_period_ns, max_park_period_ns,
                         deep_park_after=deep_park_after, max_deep_park_period_ns=max_deep_park_period_ns,
                         park_fn=self._wait)
        self.doorbell = doorbell
        self.armed = False
        """True from the first park until work or a wake-up: a ring then writes the eventfd
        (so a ring just before the park still ends it at once)."""
        self._fd = -1
        self._watched: list[int] = []
        self._read_fds: list[int] = []
        self.wakeups = 0
        self.min_ring_interval_ns = min_ring_interval_ns
        self._next_ring_ns = 0
        doorbell.join(self)

    # -- watching ------------------------------------------------------------------------------

    def watch_fd(self, fd: int) -> None:
        """Also end parks when ``fd`` becomes readable (e.g. an ``epoll`` of sockets); the
        owner must drain it in its duty cycle, or the strategy never parks."""
        if fd >= 0 and fd not in self._watched:
            self._watched.append(fd)
            self._rebuild()

    def unwatch_fd(self, fd: int) -> None:
        if fd in self._watched:
            self._watched.remove(fd)
            self._rebuild()

    def _rebuild(self) -> None:
        self._read_fds = ([self._fd] if self._fd >= 0 else []) + self._watched

    def _ensure_fd(self) -> None:
        if self._fd < 0 and _HAS_EVENTFD:
            self._fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
            weakref.finalize(self, os.close, self._fd)
            self._rebuild()

    # -- ringing -------------------------------------------------------------------------------

    def wake(self) -> None:
        """End the current (or next) park at once."""
        self.armed = False
        fd = self._fd
        if fd >= 0:
            try:
                os.eventfd_write(fd, 1)
            except OSError:  # closed during shutdown: nothing to wake
                pass

    def idle(self, work_count: int) -> None:
        """On work: ring the other agents (at most once per interval) and reset; otherwise
        advance one back-off step."""
        if work_count > 0:
            self.armed = False
            now_ns = time.monotonic_ns()
            if now_ns >= self._next_ring_ns:
                self._next_ring_ns = now_ns + self.min_ring_interval_ns
                self.doorbell.ring(self)
            if self.state != self.NOT_IDLE:
                self.reset()
        else:
            self.idle_once()

    def _wait(self, period_ns: int) -> None:
        self._ensure_fd()
        fds = self._read_fds
        if not fds:
            time.sleep(period_ns / 1e9)
            return
        self.armed = True
        timeout = period_ns / 1e9
        try:
            if max(fds) < _SELECT_LIMIT:
                ready, _, _ = select.select(fds, (), (), timeout)
            else:  # pragma: no cover - a process with very many descriptors: millisecond timeouts
                poller = select.poll()
                for fd in fds:
                    poller.register(fd, select.POLLIN)
                ready = [fd for fd, _ in poller.poll(max(1, period_ns // 1_000_000))]
        except (OSError, ValueError):  # a watched descriptor closed under us: plain sleep
            time.sleep(timeout)
            return
        self.armed = False
        if ready:
            self.wakeups += 1
            if self._fd in ready:
                try:
                    os.eventfd_read(self._fd)
                except OSError:
                    pass

    def __repr__(self) -> str:
        return "Doorbell" + super().__repr__()


_lock = threading.Lock()
_installed: Doorbell | None = None
_backoff: BackoffIdleStrategy | None = None
_users = 0


def _wrap(strategy: IdleStrategy) -> IdleStrategy:
    bell = _installed
    if bell is None or type(strategy) is not BackoffIdleStrategy:
        return strategy
    s = _backoff if _backoff is not None else strategy
    return DoorbellIdleStrategy(bell, s.max_spins, s.max_yields, s.min_park_period_ns, s.max_park_period_ns,
                                deep_park_after=s.deep_park_after,
                                max_deep_park_period_ns=s.max_deep_park_period_ns if s.deep_park_after else 0)


def install(backoff_init_args: str | None = None) -> Doorbell:
    """From now on named "backoff" strategies of this process share one doorbell (counted:
    each :func:`install` needs one :func:`uninstall`).  ``backoff_init_args`` (the first
    install's count), e.g. ``1-0-10us-1ms-10-16ms``, replaces their own back-off values: with
    the doorbell, spinning and yielding buy little and deeper parks cost no hand-off latency."""
    global _installed, _users, _backoff
    with _lock:
        if _installed is None:
            if backoff_init_args:
                template = _idle.idle_strategy_from_name("backoff", backoff_init_args)
                assert isinstance(template, BackoffIdleStrategy)
                _backoff = template
            _installed = Doorbell()
            _idle.set_named_strategy_hook(_wrap)
        _users += 1
        return _installed


def uninstall() -> None:
    """Undo one :func:`install`; strategies already built keep their doorbell."""
    global _installed, _users, _backoff
    with _lock:
        if _users == 0:
            return
        _users -= 1
        if _users == 0:
            _installed = None
            _backoff = None
            _idle.set_named_strategy_hook(None)


def installed() -> Doorbell | None:
    """The process's doorbell while installed."""
    return _installed
