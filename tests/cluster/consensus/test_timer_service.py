"""Cluster timers: deadline order, rescheduling, cancelling, and the follower's early-expiry count."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aeronpy.cluster.consensus.timer_service import PriorityHeapTimerService as TimerService


def test_fires_in_deadline_order_up_to_now_and_the_limit() -> None:
    t = TimerService()
    for cid, deadline in ((1, 30), (2, 10), (3, 20), (4, 99)):
        t.schedule(cid, deadline)
    fired: list[int] = []
    assert t.poll(25, lambda c, d: fired.append(c) or True, limit=20) == 2
    assert fired == [2, 3]
    assert t.poll(100, lambda c, d: fired.append(c) or True, limit=1) == 1
    assert fired == [2, 3, 1] and len(t) == 1


def test_reschedule_and_cancel() -> None:
    t = TimerService()
    t.schedule(1, 10)
    t.schedule(1, 50)
    assert t.deadline(1) == 50
    fired: list[int] = []
    t.poll(20, lambda c, d: fired.append(c) or True)
    assert fired == []
    assert t.cancel(1) and not t.cancel(1)
    t.poll(100, lambda c, d: fired.append(c) or True)
    assert fired == []


def test_refused_expiry_stays_armed() -> None:
    t = TimerService()
    t.schedule(5, 1)
    assert t.poll(10, lambda c, d: False) == 0
    assert t.deadline(5) == 1


def test_follower_ignores_a_schedule_whose_expiry_the_log_already_showed() -> None:
    t = TimerService()
    t.on_timer_event(9)  # the leader fired it before this member's service scheduled it
    t.on_schedule_timer(9, 100)
    assert t.deadline(9) is None
    t.on_schedule_timer(9, 200)
    assert t.deadline(9) == 200
    t.on_timer_event(9)
    assert t.deadline(9) is None and not t.expired_by_correlation_id


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(st.tuples(st.integers(0, 20), st.integers(0, 1000)), max_size=40), st.integers(0, 1000))
def test_poll_matches_a_model(ops: list[tuple[int, int]], now: int) -> None:
    t = TimerService()
    model: dict[int, int] = {}
    for cid, deadline in ops:
        t.schedule(cid, deadline)
        model[cid] = deadline
    fired: list[tuple[int, int]] = []
    t.poll(now, lambda c, d: fired.append((d, c)) or True, limit=1000)
    expected = [(d, c) for c, d in model.items() if d <= now]
    assert sorted(fired) == sorted(expected)
    assert [d for d, _ in fired] == sorted(d for d, _ in fired)
    assert dict(t.timers()) == {c: d for c, d in model.items() if d > now}
