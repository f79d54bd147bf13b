"""The idle probe: watch_words (C) against its Python twin, ActivityProbe's refresh rules, and
the back-off strategy spinning, yielding and parking on a probe."""

from __future__ import annotations

import select
import socket
import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aeronpy.concurrent.activity_probe import (
    UNLIMITED_QUIET_NS,
    ActivityProbe,
    ActivitySources,
    ProbedAgent,
    watch_words_py,
)
from aeronpy.concurrent.atomic_buffer import HAVE_C_EXTENSION, AtomicBuffer, PyAtomicBuffer
from aeronpy.concurrent.idle_strategy import HANDLED_RUNS_PER_IDLE, BackoffIdleStrategy

needs_c = pytest.mark.skipif(not HAVE_C_EXTENSION, reason="C extension not built")
WORDS = 8


def _c_watch() -> Any:
    from aeronpy._atomic import watch_words

    return watch_words


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[int], list[tuple[int, int]], int, list[int]]:
    """Initial word values, the (word, new value) moves made after the snapshot, checks, and
    which words (by index) are watched."""
    initial = draw(st.lists(st.integers(-(1 << 63), (1 << 63) - 1), min_size=WORDS, max_size=WORDS))
    moves = draw(st.lists(st.tuples(st.integers(0, WORDS - 1), st.integers(-(1 << 63), (1 << 63) - 1)), max_size=4))
    watched = draw(st.lists(st.integers(0, WORDS - 1), min_size=0, max_size=WORDS, unique=True))
    return initial, moves, draw(st.integers(0, 5)), watched


@needs_c
@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_watch_words_agrees_with_its_twin(scenario: tuple[list[int], list[tuple[int, int]], int, list[int]]) -> None:
    initial, moves, checks, watched = scenario
    results = []
    for make, watch in ((AtomicBuffer, _c_watch()), (PyAtomicBuffer, watch_words_py)):
        buffer = make(bytearray(struct.pack(f"<{WORDS}q", *initial)))
        words = tuple((buffer, 8 * i) for i in watched)
        snapshot = bytearray(8 * len(words))
        assert watch(words, snapshot, (), 0) == 0
        assert bytes(snapshot) == b"".join(struct.pack("<q", initial[i]) for i in watched)
        for index, value in moves:
            buffer.put_int64(8 * index, value)
        fired = watch(words, snapshot, (), checks)
        again = watch(words, snapshot, (), checks)  # the snapshot took the new values
        results.append((fired, again, bytes(snapshot)))
    assert results[0] == results[1]
    fired, again, _ = results[0]
    final = list(initial)
    for index, value in moves:
        final[index] = value
    moved = any(final[i] != initial[i] for i in watched)
    assert fired == (1 if moved and checks > 0 else 0)
    assert again == 0


@pytest.mark.parametrize("watch", [pytest.param("c", marks=needs_c), "py"])
def test_readable_descriptor_and_released_buffer_count_as_activity(watch: str) -> None:
    fn = _c_watch() if watch == "c" else watch_words_py
    make = AtomicBuffer if watch == "c" else PyAtomicBuffer
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        buffer = make(bytearray(16))
        words = ((buffer, 8),)
        snapshot = bytearray(8)
        fn(words, snapshot, (a.fileno(),), 0)
        assert fn(words, snapshot, (a.fileno(),), 3) == 0
        b.send(b"x")
        assert fn(words, snapshot, (a.fileno(),), 3) == 1
        a.recv(16)
        assert fn(words, snapshot, (a.fileno(),), 3) == 0
        buffer.release()
        assert fn(words, snapshot, (), 2) == 1
    finally:
        a.close()
        b.close()


@pytest.mark.skipif(not hasattr(select, "epoll"), reason="no epoll")
@pytest.mark.parametrize("watch", [pytest.param("c", marks=needs_c), "py"])
def test_epolls_sockets_and_closed_descriptors_mixed(watch: str) -> None:
    """The C watch asks an epoll with epoll_wait and the rest with one poll: every kind, in any
    order, in any round of a call, is seen as its own readiness."""
    fn = _c_watch() if watch == "c" else watch_words_py
    pairs = [socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM) for _ in range(3)]
    epoll = select.epoll()
    try:
        (in_epoll, feed_epoll), (plain, feed_plain), (closing, _) = pairs
        epoll.register(in_epoll.fileno(), select.EPOLLIN)
        snapshot = bytearray(0)
        for fds in ((epoll.fileno(), plain.fileno()), (plain.fileno(), epoll.fileno())):
            assert fn((), snapshot, fds, 4) == 0
            feed_epoll.send(b"x")
            assert fn((), snapshot, fds, 4) == 1
            in_epoll.recv(16)
            feed_plain.send(b"y")
            assert fn((), snapshot, fds, 4) == 1
            plain.recv(16)
            assert fn((), snapshot, fds, 4) == 0
        gone = closing.fileno()
        closing.close()
        assert fn((), snapshot, (epoll.fileno(), gone), 2) == 1  # a closed descriptor: look again
    finally:
        epoll.close()
        for a, b in pairs:
            a.close()
            b.close()


@pytest.mark.parametrize("watch", [pytest.param("c", marks=needs_c), "py"])
def test_bad_arguments_are_named(watch: str) -> None:
    fn = _c_watch() if watch == "c" else watch_words_py
    make = AtomicBuffer if watch == "c" else PyAtomicBuffer
    buffer = make(bytearray(16))
    with pytest.raises(ValueError, match="8-byte aligned"):
        fn(((buffer, 4),), bytearray(8), (), 1)
    with pytest.raises(ValueError, match="fewer than 2 words"):
        fn(((buffer, 0), (buffer, 8)), bytearray(8), (), 1)
    with pytest.raises(ValueError, match="at most 16 fds"):
        fn((), bytearray(0), tuple(range(17)), 1)


@needs_c
def test_c_watch_takes_only_c_atomic_buffers() -> None:
    with pytest.raises(TypeError, match=r"\(AtomicBuffer, offset\)"):
        _c_watch()(((bytearray(8), 0),), bytearray(8), (), 1)


class Clock:
    def __init__(self) -> None:
        self.now = 0

    def __call__(self) -> int:
        return self.now


def test_probe_refreshes_after_work_at_most_every_refresh_ns() -> None:
    clock = Clock()
    calls: list[int] = []
    buffer = PyAtomicBuffer(bytearray(8))

    def sources() -> ActivitySources:
        calls.append(clock.now)
        return ActivitySources(((buffer, 0),))

    probe = ActivityProbe(sources, refresh_ns=100, max_refresh_ns=10_000, nano_clock=clock)
    probe.snapshot(after_work=False)
    assert calls == [0] and probe.active
    clock.now = 50
    probe.snapshot(after_work=True)  # work, but within refresh_ns: later
    assert calls == [0]
    clock.now = 120
    probe.snapshot(after_work=False)  # the earlier work still makes it due
    assert calls == [0, 120]
    clock.now = 5000
    probe.snapshot(after_work=False)  # no work: only at max_refresh_ns
    assert calls == [0, 120]
    clock.now = 10_120
    probe.snapshot(after_work=False)
    assert calls == [0, 120, 10_120]
    assert probe.since_snapshot_ns() == 0
    clock.now = 10_200
    assert probe.since_snapshot_ns() == 80


def test_a_versioned_probe_rebuilds_after_work_only_when_the_version_moved() -> None:
    clock = Clock()
    calls: list[int] = []
    version = [0]
    buffer = PyAtomicBuffer(bytearray(8))

    def sources() -> ActivitySources:
        calls.append(clock.now)
        return ActivitySources(((buffer, 0),))

    probe = ActivityProbe(sources, refresh_ns=100, max_refresh_ns=10_000, nano_clock=clock, version=lambda: version[0])
    probe.snapshot(after_work=False)
    assert calls == [0]
    for now in (200, 400, 600):  # work, but nothing that could change the sources
        clock.now = now
        probe.snapshot(after_work=True)
    assert calls == [0]
    version[0] = 1
    clock.now = 650
    probe.snapshot(after_work=True)  # moved: rebuilt (refresh_ns has passed)
    assert calls == [0, 650]
    version[0] = 2
    clock.now = 700
    probe.snapshot(after_work=True)  # moved again within refresh_ns: later, but not forgotten
    assert calls == [0, 650]
    clock.now = 760
    probe.snapshot(after_work=False)
    assert calls == [0, 650, 760]
    clock.now = 10_760
    probe.snapshot(after_work=True)  # the safety net still rebuilds every max_refresh_ns
    assert calls == [0, 650, 760, 10_760]


def test_a_snapshot_after_a_stand_in_skips_the_version_but_keeps_what_was_stale() -> None:
    clock = Clock()
    reads: list[int] = []
    version = [0]
    calls: list[int] = []

    def read_version() -> int:
        reads.append(clock.now)
        return version[0]

    def sources() -> ActivitySources:
        calls.append(clock.now)
        return ActivitySources(((PyAtomicBuffer(bytearray(8)), 0),))

    probe = ActivityProbe(sources, refresh_ns=100, max_refresh_ns=10_000, nano_clock=clock, version=read_version)
    probe.snapshot(after_work=False)
    reads.clear()
    clock.now = 200
    probe.stand_in()  # the last cycle was the eager run alone
    probe.snapshot(after_work=True)
    assert reads == [] and probe.stood_in is False
    probe.snapshot(after_work=True)  # the one after is read as ever
    assert reads == [200]
    version[0] = 1
    clock.now = 250
    probe.snapshot(after_work=True)  # moved, refresh_ns since the first build: rebuilt
    assert calls == [0, 250]
    version[0] = 2
    clock.now = 300
    probe.snapshot(after_work=True)  # moved within refresh_ns: stale, rebuilt later
    assert calls == [0, 250]
    clock.now = 360
    probe.stand_in()
    probe.snapshot(after_work=True)  # a stand-in skips the version read, but the staleness stays
    assert calls == [0, 250, 360]


def test_probe_sees_words_and_pending_checks() -> None:
    buffer = PyAtomicBuffer(bytearray(16))
    queue: list[int] = []
    probe = ActivityProbe(lambda: ActivitySources(((buffer, 8),), (), (queue.__len__,)))
    probe.snapshot()
    assert probe.check(4) == 0
    buffer.put_int64(8, 7)
    assert probe.check(4) == 1
    assert probe.check(4) == 0
    queue.append(1)
    assert probe.check(4) == 1


def _counted_pending(in_cycles: bool) -> tuple[ActivityProbe, list[int], list[int]]:
    """A probe of one word and one pending check (a queue's length) that counts its calls."""
    queue: list[int] = []
    asked: list[int] = []

    def pending() -> int:
        asked.append(len(queue))
        return len(queue)

    probe = ActivityProbe(lambda: ActivitySources(((PyAtomicBuffer(bytearray(8)), 0),), (), (pending,),
                                                  pending_in_cycles=in_cycles))
    return probe, queue, asked


def test_pending_checks_that_change_only_in_duty_cycles_are_asked_once_per_cycle() -> None:
    probe, queue, asked = _counted_pending(in_cycles=True)
    probe.snapshot()
    assert [probe.check(2) for _ in range(5)] == [0] * 5
    assert asked == [0], "asked once after the duty cycle, not on every check"
    probe.snapshot()  # a duty cycle starts: it may fill the queue
    queue.append(1)
    assert probe.check(2) == 1 and probe.check(2) == 1, "a pending answer is asked again until a cycle takes it"
    assert asked == [0, 1, 1]
    queue.clear()
    probe.snapshot()
    assert probe.check(2) == 0 and probe.check(2) == 0
    assert asked == [0, 1, 1, 0]


def test_pending_checks_of_other_threads_are_asked_on_every_check() -> None:
    probe, queue, asked = _counted_pending(in_cycles=False)
    probe.snapshot()
    assert [probe.check(2) for _ in range(3)] == [0] * 3
    assert asked == [0, 0, 0]
    queue.append(1)  # another thread's command: the next check sees it
    assert probe.check(2) == 1


def test_a_stand_in_keeps_what_the_pending_checks_found_before_it() -> None:
    probe, queue, asked = _counted_pending(in_cycles=True)
    probe.snapshot()
    assert probe.check(2) == 0 and asked == [0]
    probe.snapshot()  # this cycle is the eager run alone: no Python queue can have moved
    probe.stand_in()
    assert probe.check(2) == 0 and asked == [0]
    queue.append(1)  # (a full cycle would fill it)
    probe.snapshot()
    assert probe.check(2) == 1 and asked == [0, 1]
    probe.snapshot()  # a stand-in after a cycle whose pending check fired does not hide it
    probe.stand_in()
    assert probe.check(2) == 1 and asked == [0, 1, 1]


@pytest.mark.parametrize("watch", ["c", "py"])
def test_a_duty_cycle_started_by_a_fired_check_reuses_its_snapshot(watch: str) -> None:
    if watch == "c" and not HAVE_C_EXTENSION:
        pytest.skip("C extension not built")
    buffer: Any = (AtomicBuffer if watch == "c" else PyAtomicBuffer)(bytearray(16))
    calls: list[int] = []
    real = _c_watch() if watch == "c" else watch_words_py

    def counting(words: Any, snapshot: Any, fds: tuple[int, ...], checks: int) -> int:
        calls.append(checks)
        return int(real(words, snapshot, fds, checks))

    probe = ActivityProbe(lambda: ActivitySources(((buffer, 0), (buffer, 8))), watch=counting)
    probe.snapshot(after_work=False)
    assert calls == [0]
    buffer.put_int64(0, 5)
    assert probe.check(3) == 1
    probe.snapshot(after_work=False)  # the fired round stored the moved word: no second read
    assert calls == [0, 3]
    assert probe.check(3) == 0  # and what it stored is current
    buffer.put_int64(8, 6)  # moved during the duty cycle that check started: still seen
    assert probe.check(1) == 1
    probe.snapshot(after_work=False)
    assert probe.check(1) == 0
    probe.snapshot(after_work=False)  # no check fired since the last snapshot: read the words
    assert calls[-1] == 0 and calls.count(0) == 2
    queue = [1]
    pending = ActivityProbe(lambda: ActivitySources(((buffer, 0),), (), (queue.__len__,)), watch=counting)
    pending.snapshot(after_work=False)
    before = len(calls)
    assert pending.check(1) == 1  # a pending check fired: the words were not looked at
    pending.snapshot(after_work=False)
    assert calls[before:] == [0]


def test_sources_watch_a_shared_descriptor_once() -> None:
    sender = ActivitySources(fds=(4,))
    receiver = ActivitySources(fds=(4, 5))
    assert (sender + receiver).fds == (4, 5)
    assert (receiver + sender + ActivitySources(fds=(6, 4))).fds == (4, 5, 6)


def test_unprobeable_source_always_reports_activity() -> None:
    probe = ActivityProbe(lambda: None)
    probe.snapshot()
    assert not probe.active
    assert probe.check(10) == 1


def test_probed_agent_snapshots_before_each_duty_cycle() -> None:
    order: list[str] = []

    class Agent:
        def role_name(self) -> str:
            return "a"

        def do_work(self) -> int:
            order.append("work")
            return 0

        def on_start(self) -> None:
            order.append("start")

        def on_close(self) -> None:
            order.append("close")

    probe = ActivityProbe(lambda: ActivitySources())
    original = probe.snapshot

    def snapshot(after_work: bool = True) -> None:
        order.append(f"snapshot {after_work}")
        original(after_work)

    probe.snapshot = snapshot  # type: ignore[method-assign]
    agent = ProbedAgent(Agent(), probe)
    agent.on_start()
    assert agent.do_work() == 0
    assert agent.do_work() == 0
    agent.on_close()
    assert agent.role_name() == "a"
    assert order == ["start", "snapshot True", "work", "snapshot False", "work", "close"]


class FakeProbe:
    """A probe that fires on the check numbers given (counted over all checks)."""

    def __init__(self, clock: Clock, fire_at: set[int]) -> None:
        self.clock = clock
        self.fire_at = fire_at
        self.checks = 0
        self.active = True
        self.snapshot_ns = 0
        self.quiet_ns = 0
        self.skip_duty_cycle = False
        self.handled = False
        self.handled_at: set[int] = set()
        self.due_at: int | None = None
        """When a deferrable word's duty cycle is due (``None``: none moved)."""
        """Check numbers whose firing the eager data path handled (a subset of ``fire_at``)."""

    def check(self, checks: int = 1) -> int:
        for i in range(1, checks + 1):
            self.checks += 1
            if self.checks in self.fire_at:
                self.handled = self.checks in self.handled_at
                return i
        return 0

    def since_snapshot_ns(self) -> int:
        return self.clock.now - self.snapshot_ns

    def deferred_due(self) -> bool:
        return self.due_at is not None and self.clock.now >= self.due_at


def test_backoff_spins_and_yields_on_the_probe() -> None:
    clock = Clock()
    events: list[tuple[str, int]] = []
    probe = FakeProbe(clock, {3})
    b = BackoffIdleStrategy(5, 4, 100, 400, yield_fn=lambda: events.append(("yield", 0)),
                            park_fn=lambda ns: events.append(("park", ns)))
    b.probe = probe  # type: ignore[assignment]
    b.idle(0)  # fires at the third spin check
    assert (b.state, b.spins, probe.checks, events) == (b.SPINNING, 3, 3, [])
    b.idle(0)  # the 2 spins left, then 4 yields each checked, then parking (no duty cycle between)
    assert probe.checks == 3 + 2 + 4
    assert events == [("yield", 0)] * 4 and b.state == b.PARKING
    b.idle(1)
    assert b.state == b.NOT_IDLE


def test_a_handled_check_restarts_the_spins_without_returning_to_a_duty_cycle() -> None:
    clock = Clock()
    yields: list[int] = []
    probe = FakeProbe(clock, {3, 5, 12, 20})
    probe.handled_at = {3, 5, 12}
    b = BackoffIdleStrategy(5, 4, 100, 400, yield_fn=lambda: yields.append(probe.checks),
                            park_fn=lambda ns: None)
    b.probe = probe  # type: ignore[assignment]
    # 3 handled: 5 spins again (4, 5 handled), 5 more (6..10), yields checked at 11, 12 (handled),
    # then 5 spins (13..17) and yields at 18, 19, 20, which fires unhandled: back to the runner
    b.idle(0)
    assert probe.checks == 20 and not probe.handled
    assert (b.state, b.yields) == (b.YIELDING, 3)
    assert yields == [10, 11, 17, 18, 19]


def test_handled_checks_return_to_the_runner_after_a_bound() -> None:
    clock = Clock()
    probe = FakeProbe(clock, set(range(1, 1000)))
    probe.handled_at = set(range(1, 1000))
    b = BackoffIdleStrategy(5, 4, 100, 400, yield_fn=lambda: None, park_fn=lambda ns: None)
    b.probe = probe  # type: ignore[assignment]
    b.idle(0)
    assert probe.checks == HANDLED_RUNS_PER_IDLE + 1
    assert probe.handled  # the last one is left for the agent: it skips its duty cycle


def test_a_handled_check_in_a_park_returns_to_the_runner() -> None:
    clock = Clock()
    probe = FakeProbe(clock, {2})
    probe.handled_at = {2}
    b = BackoffIdleStrategy(0, 0, 100, 400, park_fn=lambda ns: None)
    b.probe = probe  # type: ignore[assignment]
    b.idle(0)
    assert b.state == b.PARKING
    b.idle(0)  # park, check 1; park, check 2 fires handled: the agent skips its cycle
    assert probe.checks == 2 and probe.handled


def _parking_back_off() -> tuple[Clock, list[int], FakeProbe, BackoffIdleStrategy]:
    """A back-off with no spins or yields, parks of 100 doubling to 400 on a manual clock
    (recorded), over a probe that never fires."""
    clock = Clock()
    parks: list[int] = []

    def park(ns: int) -> None:
        parks.append(ns)
        clock.now += ns

    probe = FakeProbe(clock, set())
    b = BackoffIdleStrategy(0, 0, 100, 400, park_fn=park)
    b.probe = probe  # type: ignore[assignment]
    return clock, parks, probe, b


def test_a_park_ends_for_a_duty_cycle_when_a_deferrable_words_deadline_comes() -> None:
    clock, parks, probe, b = _parking_back_off()
    b.idle(0)
    probe.due_at = 300
    b.idle(0)  # 100 + 200: due before the max park period
    assert parks == [100, 200] and not probe.skip_duty_cycle


class DeferringEager:
    """What the probe asks of an eager data path about deferrable words."""

    def __init__(self) -> None:
        self.masks: list[tuple[int, tuple[int, ...]]] = []
        self.deferred = 0
        self.defer_until_ns = 0

    def set_deferrable(self, count: int, indices: tuple[int, ...]) -> None:
        self.masks.append((count, indices))

    def watch(self, words: Any, snapshot: Any, fds: Any, checks: int) -> int:
        return 0


def test_the_probe_names_the_deferrable_words_to_its_eager_path_and_says_when_they_are_due() -> None:
    clock = Clock()
    a, b, c = (PyAtomicBuffer(bytearray(64)) for _ in range(3))
    sources = ActivitySources(((a, 0), (b, 8), (c, 0)), deferrable=((b, 8),)) + ActivitySources(
        ((a, 8),), deferrable=((a, 8),))
    eager = DeferringEager()
    probe = ActivityProbe(lambda: sources, nano_clock=clock, eager=eager)
    probe.snapshot()
    assert eager.masks == [(4, (1, 3))]
    assert not probe.deferred_due()  # nothing deferred
    eager.deferred, eager.defer_until_ns = 1, clock.now + 10
    assert not probe.deferred_due()  # not yet
    clock.now += 10
    assert probe.deferred_due()
    assert not ActivityProbe(lambda: sources, nano_clock=clock).deferred_due()  # no eager path


def test_probed_parks_run_a_duty_cycle_at_least_every_max_park_period() -> None:
    clock, parks, probe, b = _parking_back_off()
    b.idle(0)  # no spins, no yields: to parking
    assert b.state == b.PARKING and parks == []
    b.idle(0)  # 100 + 200 + 400 >= 400 since the snapshot: back to a duty cycle
    assert parks == [100, 200, 400]
    probe.snapshot_ns = clock.now
    b.idle(0)
    assert parks == [100, 200, 400, 400]
    probe.fire_at = {probe.checks + 1}
    probe.snapshot_ns = clock.now
    b.idle(0)  # activity after the first park
    assert parks[-1] == 400 and len(parks) == 5


def test_inactive_probe_leaves_the_plain_back_off() -> None:
    clock = Clock()
    probe = FakeProbe(clock, set())
    probe.active = False
    b = BackoffIdleStrategy(2, 1, 1, 2, yield_fn=lambda: None, park_fn=lambda ns: None)
    b.probe = probe  # type: ignore[assignment]
    for _ in range(3):
        b.idle(0)
    assert probe.checks == 0 and b.state == b.YIELDING


def test_sources_combine_to_the_strictest_quiet_time() -> None:
    assert ActivitySources().quiet_ns == 0  # unsaid: the idle strategy's own rate
    timers = ActivitySources(quiet_ns=1_000)
    assert (ActivitySources(quiet_ns=UNLIMITED_QUIET_NS) + timers).quiet_ns == 1_000
    assert (timers + ActivitySources()).quiet_ns == 0
    clock = Clock()
    probe = ActivityProbe(lambda: timers, nano_clock=clock)
    probe.snapshot()
    assert probe.quiet_ns == 1_000
    unprobeable = ActivityProbe(lambda: None, nano_clock=clock)
    unprobeable.snapshot()
    assert unprobeable.quiet_ns == 0


class ParkedRun:
    """A probed agent that records when it runs, and a back-off (no spins, no yields, parks of
    100 then 200 on a manual clock) over a probe of ``sources`` whose checks see ``fired``."""

    def __init__(self, sources: ActivitySources) -> None:
        self.clock = Clock()
        self.runs: list[int] = []
        self.fired = False
        self.probe = ActivityProbe(lambda: sources, nano_clock=self.clock)
        self.probe.check = lambda checks=1: int(self.fired)  # type: ignore[method-assign]
        self.agent = ProbedAgent(self, self.probe)
        self.strategy = BackoffIdleStrategy(0, 0, 100, 200, park_fn=self._park)
        self.strategy.probe = self.probe

    def role_name(self) -> str:
        return "a"

    def do_work(self) -> int:
        self.runs.append(self.clock.now)
        return 0

    def _park(self, ns: int) -> None:
        self.clock.now += ns

    def cycle(self) -> None:
        """What an AgentRunner does."""
        self.strategy.idle(self.agent.do_work())


def test_a_quiet_agent_skips_parked_duty_cycles_until_its_timers_can_be_due() -> None:
    """With nothing moving, parks return to the runner every max park period as before, but the
    agent runs only once ``quiet_ns`` has passed since its last duty cycle; activity runs it at once."""
    run = ParkedRun(ActivitySources(quiet_ns=1_000))
    run.cycle()  # runs at 0; no spins, no yields: to parking
    run.cycle()  # runs at 0 again, then parks 100 + 200: nothing moved, nothing due before 1000
    assert run.runs == [0, 0] and run.probe.skip_duty_cycle
    for _ in range(4):  # each skipped, then a park of 200 returning to the runner at 500 .. 1100
        run.cycle()
    assert run.runs == [0, 0]
    run.cycle()  # 1100 - 0 >= quiet_ns: the agent's timers may be due
    assert run.runs == [0, 0, 1100] and run.probe.skip_duty_cycle  # its park to 1300 found nothing
    run.fired = True  # activity: skipped once more (decided before it), then the park sees it
    run.cycle()
    run.cycle()
    assert run.runs == [0, 0, 1100, 1500]


def test_agents_with_timers_keep_a_duty_cycle_every_max_park_period() -> None:
    run = ParkedRun(ActivitySources())  # quiet_ns 0
    for _ in range(5):
        run.cycle()
    assert run.runs == [0, 0, 300, 500, 700] and not run.probe.skip_duty_cycle


class FailingEager:
    """An eager data path whose run (inside ``watch``) raises ``fail`` when set."""

    def __init__(self) -> None:
        self.handled = 0
        self.fail: BaseException | None = None

    def watch(self, words: Any, snapshot: Any, fds: tuple[int, ...], checks: int) -> int:
        fired = int(_c_watch()(words, snapshot, fds, checks))
        if self.fail is not None:
            raise self.fail
        return fired


@needs_c
@pytest.mark.parametrize("error", [KeyError("a bug in the run"), ValueError("a bad frame"), OSError(9, "EBADF")])
def test_an_eager_run_that_fails_reaches_the_agent_runner_and_the_probe_rebuilds(error: BaseException) -> None:
    clock = Clock()
    builds: list[int] = []
    buffer = AtomicBuffer(bytearray(8))

    def sources() -> ActivitySources:
        builds.append(clock.now)
        return ActivitySources(((buffer, 0),))

    eager = FailingEager()
    probe = ActivityProbe(sources, refresh_ns=100, max_refresh_ns=10_000, nano_clock=clock, eager=eager)
    probe.snapshot()
    assert probe.check(1) == 0
    eager.fail = error
    with pytest.raises(type(error)):  # not swallowed: the runner's error handler counts it
        probe.check(1)
    assert not probe.active
    eager.fail = None
    clock.now = 100
    probe.snapshot(after_work=False)  # rebuilt at the next refresh, work or not
    assert probe.active and builds == [0, 100]
    assert probe.check(1) == 0


def test_a_plain_watch_that_meets_a_closed_descriptor_looks_again() -> None:
    def closed(words: Any, snapshot: Any, fds: tuple[int, ...], checks: int) -> int:
        if checks:
            raise OSError(9, "EBADF")
        return 0

    probe = ActivityProbe(lambda: ActivitySources(((PyAtomicBuffer(bytearray(8)), 0),)), watch=closed)
    probe.snapshot()
    assert probe.check(1) == 1 and not probe.active  # a duty cycle, then a rebuild
