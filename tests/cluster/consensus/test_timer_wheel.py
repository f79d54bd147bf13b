"""The hashed deadline timer wheel and both cluster timer services against a simple model."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aeronpy.cluster.consensus.context import ConsensusModuleContext
from aeronpy.cluster.consensus.timer_service import (
    HEAP_SUPPLIER,
    WHEEL_SUPPLIER,
    PriorityHeapTimerService,
    TimerService,
    new_timer_service,
)
from aeronpy.cluster.consensus.timer_wheel import NULL_DEADLINE, DeadlineTimerWheel, WheelTimerService
from aeronpy.errors import ConfigurationError

TICK = 8
TICKS = 16


def _fire_all(service: TimerService, now: int, limit: int = 10_000) -> list[int]:
    fired: list[int] = []
    service.poll(now, lambda c, d: fired.append(c) or True, limit)
    return fired


def test_wheel_rejects_sizes_that_are_not_powers_of_two() -> None:
    with pytest.raises(ValueError, match="tick_resolution=6"):
        DeadlineTimerWheel(0, 6, 16)
    with pytest.raises(ValueError, match="ticks_per_wheel=12"):
        DeadlineTimerWheel(0, 8, 12)


def test_wheel_fires_on_the_first_poll_at_or_after_the_deadline() -> None:
    w = WheelTimerService(1000, TICK, TICKS)
    w.schedule(7, 1020)
    assert _fire_all(w, 1019) == []
    assert _fire_all(w, 1020) == [7]
    assert len(w) == 0 and w.deadline(7) is None


def test_wheel_never_fires_early_even_a_turn_later() -> None:
    w = WheelTimerService(0, TICK, TICKS)
    turn = TICK * TICKS
    w.schedule(1, 3 * turn + 5)  # same spoke as tick 0, three turns on
    for now in range(0, 3 * turn + 5, 3):
        assert _fire_all(w, now) == []
    assert _fire_all(w, 3 * turn + 5 + TICK) == [1]


def test_rescheduling_replaces_and_cancel_disarms() -> None:
    w = WheelTimerService(0, TICK, TICKS)
    w.schedule(1, 10)
    w.schedule(1, 500)
    assert w.deadline(1) == 500 and len(w) == 1
    assert _fire_all(w, 100) == []
    assert w.cancel(1) and not w.cancel(1)
    assert _fire_all(w, 1000) == []


def test_refused_expiry_stays_armed_and_fires_later() -> None:
    w = WheelTimerService(0, TICK, TICKS)
    w.schedule(5, 3)
    assert w.poll(50, lambda c, d: False) == 0
    assert w.deadline(5) == 3
    assert _fire_all(w, 60) == [5]


def test_poll_limit_leaves_the_rest_for_the_next_poll() -> None:
    w = WheelTimerService(0, TICK, TICKS)
    for cid in range(30):
        w.schedule(cid, 1)  # 30 timers in one tick: the spoke grows past 16 slots
    first = _fire_all(w, 10, limit=20)
    assert len(first) == 20
    assert sorted(first + _fire_all(w, 10, limit=20)) == list(range(30))


def test_snapshot_order_is_deadline_then_scheduling_order() -> None:
    for service in (WheelTimerService(0, TICK, TICKS), PriorityHeapTimerService()):
        for cid, deadline in ((1, 900), (2, 40), (3, 900), (4, 7), (2, 950)):
            service.schedule(cid, deadline)
        assert list(service.timers()) == [(4, 7), (1, 900), (3, 900), (2, 950)]


def test_restored_timers_fire_like_the_originals() -> None:
    original = WheelTimerService(0, TICK, TICKS)
    for cid, deadline in ((1, 300), (2, 20), (3, 5000)):
        original.schedule(cid, deadline)
    restored = WheelTimerService(10_000, TICK, TICKS)  # a later start, as after a restart
    for cid, deadline in original.timers():
        restored.schedule(cid, deadline)
    assert sorted(_fire_all(restored, 10_001)) == [1, 2, 3]


def test_an_idle_wheel_catches_up_hours_in_one_poll() -> None:
    w = WheelTimerService(0, TICK, TICKS)
    w.schedule(1, 3_600_000 + 4)
    assert _fire_all(w, 3_600_000) == []
    assert w.wheel.current_tick == 3_600_000 // TICK
    assert _fire_all(w, 3_600_000 + 4) == [1]


def test_the_raw_wheel_reports_null_for_unknown_timer_ids() -> None:
    w = DeadlineTimerWheel(0, 1, 4)
    timer_id = w.schedule_timer(3)
    assert w.deadline(timer_id) == 3
    assert w.cancel_timer(timer_id) and w.deadline(timer_id) == NULL_DEADLINE
    assert not w.cancel_timer(99 << 32)
    with pytest.raises(ValueError):
        w.schedule_timer(1) and w.reset_start_time(5)


def test_supplier_property_selects_the_service() -> None:
    assert isinstance(new_timer_service(WHEEL_SUPPLIER, 8, 128, 0), WheelTimerService)
    assert isinstance(new_timer_service(HEAP_SUPPLIER, 8, 128, 0), PriorityHeapTimerService)
    assert isinstance(new_timer_service("heap", 8, 128, 0), PriorityHeapTimerService)
    with pytest.raises(ValueError, match="supplier"):
        new_timer_service("io.example.Other", 8, 128, 0)


def test_context_defaults_to_the_wheel_and_rounds_the_tick() -> None:
    base = dict(cluster_members="0,localhost:1,localhost:2,localhost:3,localhost:4,localhost:5",
                ingress_channel="aeron:udp", replication_channel="aeron:udp?endpoint=localhost:0")
    ctx = ConsensusModuleContext.from_properties({"aeron.cluster.wheel.tick.resolution": "5ms"}, env={}, **base)
    assert ctx.timer_service_supplier == WHEEL_SUPPLIER
    assert ctx.wheel_tick_resolution_ms == 8
    with pytest.raises(ConfigurationError, match="aeron.cluster.ticks.per.wheel"):
        ConsensusModuleContext.from_properties({"aeron.cluster.ticks.per.wheel": "100"}, env={}, **base)


# -- property tests: both services against a model ------------------------------------------

_op = st.one_of(
    st.tuples(st.just("schedule"), st.integers(0, 12), st.integers(0, 600)),
    st.tuples(st.just("cancel"), st.integers(0, 12), st.just(0)),
    st.tuples(st.just("poll"), st.just(0), st.integers(0, 40)),  # advance now by this much
)


def _run(service: TimerService, ops: list[tuple[str, int, int]], tick: int) -> None:
    """Drive ``service`` and a dict model; checks every poll against the model's bounds:
    nothing fires before its deadline, everything more than a tick overdue has fired, and (tick 0, the
    heap) exactly what is due fires, in deadline order."""
    model: dict[int, int] = {}
    now = 0
    fired_total: set[int] = set()
    for kind, cid, value in ops + [("poll", 0, 10_000)]:
        if kind == "schedule":
            service.schedule(cid, value)
            model[cid] = value
        elif kind == "cancel":
            assert service.cancel(cid) == (cid in model)
            model.pop(cid, None)
        else:
            now += value
            fired: list[tuple[int, int]] = []
            service.poll(now, lambda c, d: fired.append((c, d)) or True, 10_000)
            for c, d in fired:
                assert model.pop(c) == d <= now
                fired_total.add(c)
            # the wheel (as Aeron's) stops once its current tick ends at or after ``now``: a timer
            # fires at the first poll strictly later than its tick's end, so within tick + 1
            overdue = [c for c, d in model.items() if (d + tick < now if tick else d <= now)]
            assert not overdue, f"not fired more than a tick after the deadline: {overdue} at {now}"
            if tick == 0:
                assert not [c for c, d in model.items() if d <= now]
                assert [d for _, d in fired] == sorted(d for _, d in fired)
        assert len(service) == len(model)
        assert dict(service.timers()) == model
    assert not model


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None, max_examples=200)
@given(st.lists(_op, max_size=60))
def test_heap_matches_the_model(ops: list[tuple[str, int, int]]) -> None:
    _run(PriorityHeapTimerService(), ops, 0)


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None, max_examples=200)
@given(st.lists(_op, max_size=60), st.sampled_from([1, 4, 8, 32]), st.sampled_from([1, 2, 8, 128]))
def test_wheel_matches_the_model_within_one_tick(ops: list[tuple[str, int, int]], tick: int, ticks: int) -> None:
    _run(WheelTimerService(0, tick, ticks), ops, tick)


def test_wheel_fires_after_its_tick_has_ended_as_aeron() -> None:
    """Aeron's WheelTimerService polls while the current tick ends before ``now``: a deadline at
    the start of tick 1 (resolution 1) is not yet visited at now=2, the end of tick 1, and
    fires at the next poll after it (the case hypothesis found)."""
    service = WheelTimerService(0, 1, 2)
    service.schedule(7, 1)
    fired: list[int] = []
    service.poll(2, lambda c, d: fired.append(c) or True)
    assert fired == []
    service.poll(3, lambda c, d: fired.append(c) or True)
    assert fired == [7]


_schedule_or_poll = st.one_of(
    st.tuples(st.just("schedule"), st.integers(0, 600)),
    st.tuples(st.just("poll"), st.integers(0, 40)),
)


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None, max_examples=100)
@given(st.lists(_schedule_or_poll, max_size=60))
def test_wheel_and_heap_fire_the_same_ids_polled_every_tick(ops: list[tuple[str, int]]) -> None:
    """Polled at every tick, the wheel fires each timer in the heap's poll or the one after
    (the tick just entered is visited by the next poll, as in Aeron), and both fire the same
    set of ids in the end."""
    wheel, heap = WheelTimerService(0, 1, 8), PriorityHeapTimerService()
    now = 0
    by_wheel: set[int] = set()
    by_heap: set[int] = set()
    for cid, (kind, value) in enumerate(ops):
        if kind == "schedule":
            wheel.schedule(cid, value)
            heap.schedule(cid, value)
        else:
            for _ in range(value):
                now += 1
                due_before = set(by_heap)
                by_wheel.update(_fire_all(wheel, now))
                by_heap.update(_fire_all(heap, now))
                assert due_before <= by_wheel <= by_heap, now
    by_wheel.update(_fire_all(wheel, 10_000))
    by_heap.update(_fire_all(heap, 10_000))
    assert by_wheel == by_heap == {cid for cid, (kind, _) in enumerate(ops) if kind == "schedule"}
