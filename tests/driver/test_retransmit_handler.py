"""Retransmit action pool (driver-behaviour.md §5 "Retransmission (NAK handling)")."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aeronpy.driver.feedback_delay import OptimalMulticastDelayGenerator, StaticDelayGenerator
from aeronpy.driver.retransmit_handler import (
    RetransmitActionState,
    RetransmitHandler,
    max_retransmission_length,
)

TERM_LENGTH = 64 * 1024
MTU = 1408
LINGER = 10_000_000
DELAY = 20_000


class Resends:
    def __init__(self) -> None:
        self.calls: list[tuple[int, int, int]] = []
        self.times: list[int] = []

    def __call__(self, term_id: int, term_offset: int, length: int, now_ns: int) -> None:
        self.calls.append((term_id, term_offset, length))
        self.times.append(now_ns)


def state(h: RetransmitHandler, i: int = 0) -> RetransmitActionState:
    return h.actions[i].state


def unicast(delay: int = 0) -> RetransmitHandler:
    return RetransmitHandler(delay, LINGER, 16, False)


def group(delay: int = 0, max_retransmits: int = 4) -> RetransmitHandler:
    return RetransmitHandler(delay, LINGER, max_retransmits, True)


def nak(h: RetransmitHandler, r: Resends, term_id: int, offset: int, length: int, now: int) -> bool:
    return h.on_nak(term_id, offset, length, TERM_LENGTH, MTU, now, r)


def test_immediate_resend_with_zero_delay_then_linger() -> None:
    h, r = unicast(), Resends()
    assert nak(h, r, 1, 0, 512, 100)
    assert r.calls == [(1, 0, 512)] and r.times == [100]  # the resend is told the NAK's time
    assert state(h) is RetransmitActionState.LINGERING
    assert h.actions[0].expiry_ns == 100 + LINGER
    assert h.process_timeouts(100 + LINGER, r) == 0                 # strictly after expiry
    assert state(h) is RetransmitActionState.LINGERING
    assert h.process_timeouts(101 + LINGER, r) == 1
    assert state(h) is RetransmitActionState.INACTIVE
    assert h.active_retransmit_count == 0
    assert r.calls == [(1, 0, 512)]


def test_delayed_resend_waits_for_delay() -> None:
    h, r = unicast(DELAY), Resends()
    assert nak(h, r, 1, 1024, 512, 0)
    assert r.calls == []
    assert state(h) is RetransmitActionState.DELAYED
    assert h.process_timeouts(DELAY, r) == 0 and r.calls == []
    assert h.process_timeouts(DELAY + 1, r) == 1
    assert r.calls == [(1, 1024, 512)] and r.times == [DELAY + 1]
    assert state(h) is RetransmitActionState.LINGERING
    assert h.actions[0].expiry_ns == DELAY + 1 + LINGER
    assert h.process_timeouts(DELAY + 1 + LINGER, r) == 0
    assert h.process_timeouts(DELAY + 2 + LINGER, r) == 1
    assert h.active_retransmit_count == 0 and r.calls == [(1, 1024, 512)]


def test_delay_generator_is_accepted() -> None:
    h, r = RetransmitHandler(StaticDelayGenerator(DELAY), LINGER, 1, False), Resends()
    nak(h, r, 1, 0, 64, 0)
    assert r.calls == [] and h.actions[0].expiry_ns == DELAY
    rng_seed = 5
    d = OptimalMulticastDelayGenerator(1_000_000, 10, random.Random(rng_seed)).generate_delay_ns()
    h2 = RetransmitHandler(OptimalMulticastDelayGenerator(1_000_000, 10, random.Random(rng_seed)), LINGER, 4, True)
    nak(h2, r, 1, 0, 64, 10)
    assert state(h2) is RetransmitActionState.DELAYED and h2.actions[0].expiry_ns == 10 + d


@pytest.mark.parametrize("delay", [0, DELAY])
@pytest.mark.parametrize("make", [unicast, group])
def test_overlapping_naks_ignored_while_active(delay: int, make: object) -> None:
    h: RetransmitHandler = make(delay)  # type: ignore[operator]
    r = Resends()
    assert nak(h, r, 3, 1024, 1024, 0)
    calls = list(r.calls)
    for offset in (1024, 1056, 2047):                                # inside [1024, 2048)
        assert not nak(h, r, 3, offset, 4096, 1)
    assert r.calls == calls
    assert h.active_retransmit_count == 1
    assert h.actions[0].term_offset == 1024 and h.actions[0].length == 1024
    # lingering (after the delayed resend) still ignores overlaps
    h.process_timeouts(DELAY + 1, r)
    assert state(h) is RetransmitActionState.LINGERING
    before = list(r.calls)
    assert not nak(h, r, 3, 1500, 64, DELAY + 2)
    assert r.calls == before


def test_linger_expiry_allows_a_new_resend() -> None:
    h, r = unicast(), Resends()
    nak(h, r, 1, 0, 512, 0)
    assert not nak(h, r, 1, 0, 512, LINGER)                          # still lingering
    h.process_timeouts(LINGER + 1, r)
    assert nak(h, r, 1, 0, 512, LINGER + 2)
    assert r.calls == [(1, 0, 512), (1, 0, 512)]


def test_same_offset_other_term_is_not_an_overlap() -> None:
    h, r = group(), Resends()
    nak(h, r, 1, 0, 512, 0)
    assert nak(h, r, 2, 0, 512, 0)
    assert r.calls == [(1, 0, 512), (2, 0, 512)]


def test_unicast_single_slot_replaced_by_non_overlapping_nak() -> None:
    h, r = unicast(DELAY), Resends()
    assert h.max_retransmits == 1                                    # max_retransmits ignored
    nak(h, r, 1, 0, 512, 0)
    assert nak(h, r, 1, 4096, 256, 5)                                # replaces the delayed one
    assert h.active_retransmit_count == 1 and h.overflow_count == 0
    a = h.actions[0]
    assert (a.term_id, a.term_offset, a.length, a.expiry_ns) == (1, 4096, 256, 5 + DELAY)
    h.process_timeouts(5 + DELAY + 1, r)
    assert r.calls == [(1, 4096, 256)]                               # the first never resent
    h.process_timeouts(5 + DELAY + 2 + LINGER, r)
    assert h.active_retransmit_count == 0


def test_unicast_replacement_of_lingering_action_resends_immediately() -> None:
    h, r = unicast(), Resends()
    nak(h, r, 1, 0, 512, 0)
    assert nak(h, r, 1, 512, 512, 1)
    assert r.calls == [(1, 0, 512), (1, 512, 512)]
    assert h.actions[0].expiry_ns == 1 + LINGER and h.active_retransmit_count == 1


def test_group_pool_overflow_counted() -> None:
    h, r = group(DELAY, max_retransmits=3), Resends()
    for i in range(3):
        assert nak(h, r, 1, i * 1024, 512, 0)
    assert h.active_retransmit_count == 3 and h.overflow_count == 0
    assert not nak(h, r, 1, 8192, 512, 0)
    assert not nak(h, r, 1, 9216, 512, 0)
    assert h.overflow_count == 2
    assert not nak(h, r, 1, 1024, 64, 0)                             # overlap: ignored, not overflow
    assert h.overflow_count == 2
    assert h.process_timeouts(DELAY + 1, r) == 3
    assert sorted(r.calls) == [(1, 0, 512), (1, 1024, 512), (1, 2048, 512)]
    assert h.process_timeouts(DELAY + 2 + LINGER, r) == 3
    assert h.active_retransmit_count == 0
    assert nak(h, r, 1, 8192, 512, DELAY + 3 + LINGER)


def test_group_frees_slot_after_linger_and_reuses_it() -> None:
    h, r = group(0, max_retransmits=2), Resends()
    nak(h, r, 1, 0, 64, 0)
    nak(h, r, 1, 1024, 64, 5)
    assert not nak(h, r, 1, 2048, 64, 6) and h.overflow_count == 1
    h.process_timeouts(LINGER + 1, r)                                # only the first expired
    assert h.active_retransmit_count == 1
    assert nak(h, r, 1, 2048, 64, LINGER + 2)
    assert h.actions[0].term_offset == 2048


@pytest.mark.parametrize("offset,length", [(-32, 64), (TERM_LENGTH - 31, 64), (0, -1)])
def test_invalid_naks_counted_and_ignored(offset: int, length: int) -> None:
    h, r = unicast(), Resends()
    assert not nak(h, r, 1, offset, length, 0)
    assert h.invalid_count == 1 and r.calls == [] and h.active_retransmit_count == 0


def test_zero_length_nak_ignored_not_invalid() -> None:
    h, r = unicast(), Resends()
    assert not nak(h, r, 1, 0, 0, 0)
    assert h.invalid_count == 0 and r.calls == []


def test_retransmit_length_clipped_to_term_end_and_window() -> None:
    h, r = unicast(), Resends()
    nak(h, r, 1, TERM_LENGTH - 64, 4096, 0)
    assert r.calls == [(1, TERM_LENGTH - 64, 64)]
    big = 16 * 1024 * 1024
    # unicast: min(128 KiB, T/2) * 16; group: * 4
    assert max_retransmission_length(0, 10**9, big, 16) == 128 * 1024 * 16
    assert max_retransmission_length(0, 10**9, big, 4) == 128 * 1024 * 4
    hg = RetransmitHandler(0, LINGER, 16, True)
    hg.on_nak(1, 0, 10**9, big, MTU, 0, r)
    assert r.calls[-1] == (1, 0, 128 * 1024 * 4)
    hu = RetransmitHandler(0, LINGER, 16, False)
    hu.on_nak(1, 0, 10**9, big, MTU, 0, r)
    assert r.calls[-1] == (1, 0, 128 * 1024 * 16)


@settings(max_examples=100, deadline=None)
@given(
    term_offset=st.integers(min_value=0, max_value=TERM_LENGTH - 32),
    length=st.integers(min_value=1, max_value=10**7),
    shift=st.integers(min_value=16, max_value=30),
    rrwm=st.sampled_from([4, 16]),
)
def test_max_retransmission_length_formula(term_offset: int, length: int, shift: int, rrwm: int) -> None:
    term_length = 1 << shift
    got = max_retransmission_length(term_offset, length, term_length, rrwm)
    limit = min(term_length - term_offset, min(128 * 1024, term_length // 2) * rrwm)
    assert got == min(length, limit)


def test_invalid_group_max_retransmits_rejected() -> None:
    with pytest.raises(ValueError):
        RetransmitHandler(0, LINGER, 0, True)
    with pytest.raises(ValueError):
        RetransmitHandler(0, LINGER, 257, True)
