"""An idle agent's "anything to do?" probe, so that backing off costs microseconds, not duty cycles.

A Python duty cycle of a whole driver takes ~10-20 us even with nothing to do; Aeron's C one
takes ~0.1 us, so its ten back-off spins cost ~1 us where ours cost the client sharing the core
~150 us.  An :class:`ActivityProbe` watches what other threads and processes move to give an
agent work -- int64 words in shared memory (the to-driver ring's tail, publication log tails,
subscriber positions), descriptors (the agents' epoll sets) and cheap Python checks (command
queues) -- in one C call per check (:func:`aeronpy._atomic.watch_words`).  A
:class:`~aeronpy.concurrent.idle_strategy.BackoffIdleStrategy` with a probe spins and yields on
the probe instead of on full duty cycles and parks as before; :class:`ProbedAgent` takes the
snapshot at the start of each duty cycle, so nothing that moves during or after one is missed.

The watched set is rebuilt from its source at the snapshot after a duty cycle that did work
(at most every ``refresh_ns``; at least every ``max_refresh_ns``): something new may stay
unseen by the probe that long (the back-off then reaches parking, whose duty cycles see it).  A source that cannot be probed (``None``: an in-memory transport
without descriptors, buffers that are not C ``AtomicBuffer``) disables the probe until the next
refresh: the strategy then backs off on duty cycles as before.
"""

from __future__ import annotations

import select
from collections.abc import Callable, Container
from dataclasses import dataclass
from typing import Any

from aeronpy.concurrent.clock import nano_time

try:
    from aeronpy._atomic import AtomicBuffer as _CAtomicBuffer
    from aeronpy._atomic import watch_words as _c_watch_words
except ImportError:  # pragma: no cover - C extension not built
    _CAtomicBuffer = None  # type: ignore[assignment,misc]
    _c_watch_words = None  # type: ignore[assignment]

Word = tuple[Any, int]
"""An int64 word to watch: ``(buffer, offset)``."""

WATCH_MAX_FDS = 16
UNLIMITED_QUIET_NS = 1 << 62
"""An :attr:`ActivitySources.quiet_ns` for an agent without timers of its own."""
DEFAULT_REFRESH_NS = 1_000_000
DEFAULT_MAX_REFRESH_NS = 100_000_000


def watch_words_py(words: tuple[Word, ...], snapshot: Any, fds: tuple[int, ...], checks: int,
                   deferrable: Container[int] = (), deferred: list[int] | None = None) -> int:
    """Python twin of :func:`aeronpy._atomic.watch_words`.

    ``checks == 0``: store each word's value in ``snapshot`` (8 bytes per word) and return 0.
    Otherwise up to ``checks`` rounds; the 1-based round that found a word moved from its
    snapshot (which then takes the new value), a descriptor readable, or a buffer released;
    0 if nothing moved.  A move of a word whose index is in ``deferrable`` is stored but does
    not end the round: it appends the index to ``deferred`` (the eager data path's words)."""
    if len(fds) > WATCH_MAX_FDS:
        raise ValueError(f"watch_words: at most {WATCH_MAX_FDS} fds (got {len(fds)})")
    view = memoryview(snapshot).cast("B").cast("q")
    if len(view) < len(words):
        raise ValueError(f"watch_words: snapshot of {len(view) * 8} bytes holds fewer than {len(words)} words")
    for _, offset in words:
        if offset < 0 or offset & 7:
            raise ValueError(f"watch_words: offset {offset} must be >= 0 and 8-byte aligned")

    def read(buffer: Any, offset: int) -> int | None:
        if buffer.released or offset > buffer.capacity - 8:
            return None
        return int(buffer.get_int64_volatile(offset))

    if checks <= 0:
        for i, (buffer, offset) in enumerate(words):
            value = read(buffer, offset)
            view[i] = 0 if value is None else value
        return 0
    poller = None
    if fds:
        poller = select.poll()
        for fd in fds:
            poller.register(fd, select.POLLIN)
    for round_ in range(1, checks + 1):
        fired = False
        for i, (buffer, offset) in enumerate(words):
            value = read(buffer, offset)
            if value is None:
                fired = True
            elif value != view[i]:
                view[i] = value
                if i in deferrable and deferred is not None:
                    deferred.append(i)
                else:
                    fired = True
        if not fired and poller is not None and poller.poll(0):
            fired = True
        if fired:
            return round_
    return 0


def _c_usable(words: tuple[Word, ...]) -> bool:
    return _c_watch_words is not None and all(type(buffer) is _CAtomicBuffer for buffer, _ in words)


@dataclass(frozen=True)
class ActivitySources:
    """What gives an agent work: int64 ``words`` other threads/processes move, ``fds`` that
    become readable, and ``pending`` checks (true while something waits, e.g. ``deque.__len__``).

    ``quiet_ns``: how long the agent may go without a duty cycle while none of these moves,
    because no timer of its own can fall due sooner (its timer interval; or
    :data:`UNLIMITED_QUIET_NS` without timers).  0, the default, leaves it to the idle
    strategy: a duty cycle at least every maximum park period.  Combined: the smallest."""

    words: tuple[Word, ...] = ()
    fds: tuple[int, ...] = ()
    pending: tuple[Callable[[], object], ...] = ()
    quiet_ns: int = 0
    deferrable: tuple[Word, ...] = ()
    """Those of ``words`` whose moves a duty cycle may take late, by the agent's next deadline
    (with an eager data path, which keeps one: see ``EagerDataPath.set_deferrable``); others
    watch them as any word."""
    pending_in_cycles: bool = False
    """Whether the ``pending`` checks' answers change only in the probed agent's own duty cycles
    (one thread runs everything that feeds them: the SHARED driver's conductor, sender and
    receiver).  A probe then asks them once after each duty cycle, not on every check."""

    def __add__(self, other: ActivitySources) -> ActivitySources:
        """Both sets; a descriptor in both is watched once (SHARED mode's sender and receiver
        share one epoll, and every duplicate would cost each check a larger ``poll``)."""
        fds = self.fds + tuple(fd for fd in other.fds if fd not in self.fds)
        return ActivitySources(self.words + other.words, fds, self.pending + other.pending,
                               min(self.quiet_ns, other.quiet_ns), self.deferrable + other.deferrable,
                               self.pending_in_cycles and other.pending_in_cycles)


class ActivityProbe:
    """Snapshot, then cheap checks of an agent's :class:`ActivitySources`.

    ``sources()`` is called after a duty cycle that did work, at most every ``refresh_ns``,
    and at least every ``max_refresh_ns``; it returns ``None`` when the agent cannot be probed
    (then :attr:`active` is false until the next refresh).  With a ``version`` callable (a
    number that moves whenever the sources may have changed) a duty cycle's work makes the
    watched set stale only when the number moved.

    ``eager``: an object whose ``watch(words, snapshot, fds, checks)`` is ``watch_words`` and,
    when a check fired, the agent's data path run at once (the SHARED driver's
    :mod:`~aeronpy.driver.eager_data_path`); used in place of the C ``watch_words`` wherever
    that is usable."""

    def __init__(
        self,
        sources: Callable[[], ActivitySources | None],
        refresh_ns: int = DEFAULT_REFRESH_NS,
        max_refresh_ns: int = DEFAULT_MAX_REFRESH_NS,
        nano_clock: Callable[[], int] = nano_time,
        watch: Callable[[tuple[Word, ...], Any, tuple[int, ...], int], int] | None = None,
        version: Callable[[], object] | None = None,
        eager: Any = None,
    ) -> None:
        self._sources = sources
        self.eager = eager
        self._version = version
        self._seen_version: object = None
        self.refresh_ns = refresh_ns
        self.max_refresh_ns = max_refresh_ns
        self._clock = nano_clock
        self._forced_watch = watch
        self._watch: Callable[[tuple[Word, ...], Any, tuple[int, ...], int], int] = watch_words_py
        self._words: tuple[Word, ...] = ()
        self._fds: tuple[int, ...] = ()
        self._pending: tuple[Callable[[], object], ...] = ()
        self._pending_once = False
        """The sources' ``pending_in_cycles``: a check asks the pending checks only while
        :attr:`_pending_clear` is false."""
        self._pending_clear = False
        """The pending checks found nothing since the last duty cycle (kept only while
        :attr:`_pending_once`)."""
        self._pending_clear_before = False
        self._watch_runs_eager = False
        self._snapshot = bytearray()
        self._next_refresh_ns = 0
        self._last_refresh_ns = 0
        self._snapshot_ns = 0
        self._refreshed = False
        self._stale = True
        self._fresh = False
        """The last :meth:`check` fired in the words' watch, which left the snapshot current."""
        self.active = False
        """Whether the last refresh found the agent probeable."""
        self.quiet_ns = 0
        """The watched agent's :attr:`ActivitySources.quiet_ns` (0 while not :attr:`active`)."""
        self.handled = False
        """Set by :meth:`check` when the eager data path's run handled the duty cycle it fired
        for (``eager.handled``): :class:`ProbedAgent` returns 1 from its next ``do_work()``
        without running the agent."""
        self.stood_in = False
        """Set by :meth:`stand_in` (the last duty cycle was this probe's eager run alone); the
        next :meth:`snapshot` then skips the version read, and clears it."""
        self.skip_duty_cycle = False
        """Set by an idle strategy whose park found nothing moved and nothing due (less than
        :attr:`quiet_ns` since the last duty cycle): :class:`ProbedAgent` then returns 0 from
        its next ``do_work()`` without running the agent (the runner still gets its turn, to
        see that it was stopped)."""

    def refresh(self) -> None:
        """Rebuild the watched set from the source now."""
        self._last_refresh_ns = self._clock()
        self._next_refresh_ns = self._last_refresh_ns + self.refresh_ns
        self._refreshed = True
        self._stale = False
        if self._version is not None:
            self._seen_version = self._version()
        found = self._sources()
        if found is None or len(found.fds) > WATCH_MAX_FDS:
            self.active = False
            self.quiet_ns = 0
            return
        self._words, self._fds, self._pending = found.words, found.fds, found.pending
        self._pending_once = found.pending_in_cycles
        self._pending_clear = self._pending_clear_before = False
        self.quiet_ns = found.quiet_ns
        set_deferrable = getattr(self.eager, "set_deferrable", None)
        if set_deferrable is not None:
            late = {(id(buffer), offset) for buffer, offset in found.deferrable}
            set_deferrable(len(found.words), tuple(
                i for i, (buffer, offset) in enumerate(found.words) if (id(buffer), offset) in late))
        if len(self._snapshot) != 8 * len(self._words):
            self._snapshot = bytearray(8 * len(self._words))
        if self._forced_watch is not None:
            self._watch = self._forced_watch
        else:
            if not _c_usable(self._words):
                self._watch = watch_words_py
            else:
                self._watch = self.eager.watch if self.eager is not None else _c_watch_words
        self._watch_runs_eager = self.eager is not None and self._watch == self.eager.watch
        self.active = True

    def snapshot(self, after_work: bool = True) -> None:
        """Remember the words' values (at the start of a duty cycle); right after a :meth:`check`
        that fired they are remembered already (as of that check, which is earlier, so nothing
        that moves from then on is missed), and the words are not read again.  Refresh first when due:
        the watched set can only have changed in a duty cycle that did work (``after_work``:
        the last one did), so a refresh follows such a cycle, at most every ``refresh_ns``, and
        otherwise every ``max_refresh_ns``."""
        now_ns = self._snapshot_ns = self._clock()
        self._pending_clear_before, self._pending_clear = self._pending_clear, False  # a duty cycle starts
        fresh = self._fresh
        self._fresh = False
        if self.stood_in:  # only the eager run worked: nothing the watched set comes from changed
            self.stood_in = after_work = False
        if after_work and (self._version is None or self._version() != self._seen_version):
            self._stale = True
        if not self._refreshed or now_ns - (self._next_refresh_ns if self._stale else self._last_refresh_ns + self.max_refresh_ns) >= 0:
            self.refresh()
            fresh = False
        if self.active and not fresh:
            self._watch(self._words, self._snapshot, (), 0)

    def stand_in(self) -> None:
        """Called by the agent when the duty cycle that took the last :meth:`snapshot` was this
        probe's eager run alone (:meth:`run_eager` standing in for it): no command ran, so the
        watched set is as it was (the next snapshot skips the version read) and so is what the
        pending checks last found."""
        self.stood_in = True
        self._pending_clear = self._pending_clear_before

    def since_snapshot_ns(self) -> int:
        """Nanoseconds since the last :meth:`snapshot` (the last duty cycle)."""
        return self._clock() - self._snapshot_ns

    def deferred_due(self) -> bool:
        """Whether a deferrable word moved (:attr:`ActivitySources.deferrable`, seen by the eager
        data path's watch) and its deadline (``eager.defer_until_ns``) has come: a duty cycle is due."""
        eager = self.eager
        return eager is not None and bool(getattr(eager, "deferred", 0)) and self._clock() - eager.defer_until_ns >= 0

    def run_eager(self) -> int | None:
        """Run the eager data path now, as a check that fired would, for the duty cycle that has
        just taken this probe's :meth:`snapshot` (the run's own moves of deferrable words are read
        into it again): the run's work, or ``None`` when the probe is not :attr:`active` or has
        no eager data path (the caller then runs its duty cycle)."""
        eager = self.eager
        if eager is None or not self.active:
            return None
        return int(eager.run_watched(self._words, self._snapshot))

    def check(self, checks: int = 1) -> int:
        """Up to ``checks`` rounds: the 1-based round that saw activity, 0 if none; always 1
        when the probe is not :attr:`active` (the caller then runs a duty cycle)."""
        if not self.active:
            return 1
        if not self._pending_clear:
            for pending in self._pending:
                if pending():
                    return 1
            self._pending_clear = self._pending_once
        try:
            fired = self._watch(self._words, self._snapshot, self._fds, checks)
            # The round that fired compared every word and stored the moved ones: the snapshot
            # is as of that moment, so the duty cycle it starts need not take another.
            self._fresh = fired > 0
            eager = self.eager
            if fired > 0 and eager is not None:
                self.handled = bool(eager.handled)
                eager.handled = 0
            return fired
        except Exception as error:
            self.active = False
            self.quiet_ns = 0
            if self._watch_runs_eager:
                # The eager run failed (the watch's own arguments were checked at the refresh):
                # the agent's runner reports it, as any duty cycle's error; rebuild, then go on.
                self._stale = True
                raise
            if isinstance(error, (OSError, ValueError, TypeError)):  # a closed descriptor, a buffer gone
                return 1
            raise


class ProbedAgent:
    """An agent whose duty cycles start with its probe's snapshot (lifecycle calls pass through)."""

    def __init__(self, agent: Any, probe: ActivityProbe) -> None:
        self.agent = agent
        self.probe = probe
        self._do_work = agent.do_work
        self._snapshot = probe.snapshot
        self._last_work = 1

    def role_name(self) -> str:
        return str(self.agent.role_name())

    def do_work(self) -> int:
        probe = self.probe
        if probe.skip_duty_cycle:  # the idle strategy's park found nothing to do, nothing due
            probe.skip_duty_cycle = False
            return 0
        if probe.handled:  # the eager data path did this cycle's work, and nothing else is due
            probe.handled = False
            return 1
        self._snapshot(self._last_work > 0)
        work = self._last_work = int(self._do_work())
        return work

    def on_start(self) -> None:
        self.agent.on_start()

    def on_close(self) -> None:
        self.agent.on_close()


__all__ = ["UNLIMITED_QUIET_NS", "ActivityProbe", "ActivitySources", "ProbedAgent", "Word", "watch_words_py"]
