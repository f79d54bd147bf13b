"""Flow control strategies (driver-behaviour §8) on a fake clock."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aeronpy.driver.flow_control import (
    FlowControl,
    MaxMulticastFlowControl,
    MinMulticastFlowControl,
    TaggedMulticastFlowControl,
    UnicastFlowControl,
    calculate_retransmission_length,
    flow_control_from_channel,
)
from aeronpy.errors import InvalidChannelError

TERM = 64 * 1024
BITS = 16
INITIAL = 7
WINDOW = 32 * 1024
MS = 1_000_000
S = 1_000_000_000


class Clock:
    def __init__(self) -> None:
        self.now = 1_000 * S

    def advance(self, ns: int) -> int:
        self.now += ns
        return self.now


def sm(
    fc: FlowControl,
    clock: Clock,
    receiver_id: int,
    position: int,
    snd_lmt: int,
    window: int = WINDOW,
    tag: int | None = None,
    eos: bool = False,
) -> int:
    term_id = INITIAL + (position >> BITS)
    offset = position & (TERM - 1)
    return fc.on_status_message(receiver_id, tag, term_id, offset, window, eos, snd_lmt, INITIAL, BITS, clock.now)


# --- max / unicast --------------------------------------------------------------------------


@pytest.mark.parametrize("fc", [UnicastFlowControl(), MaxMulticastFlowControl()])
def test_max_limit_is_furthest_window_edge(fc: FlowControl) -> None:
    c = Clock()
    assert sm(fc, c, 1, 0, 0) == WINDOW
    assert sm(fc, c, 2, 1024, WINDOW) == 1024 + WINDOW
    # a slower receiver never pulls the limit back
    assert sm(fc, c, 3, 0, 1024 + WINDOW) == 1024 + WINDOW
    # position crossing terms: term_id + 2, offset 96
    assert sm(fc, c, 1, 2 * TERM + 96, 0) == 2 * TERM + 96 + WINDOW
    assert fc.on_idle(c.advance(60 * S), 5, 0, False) == 5
    assert fc.has_required_receivers()
    assert fc.receiver_count == 0
    assert fc.on_setup(c.now, 77, BITS, 0) == 77


def test_term_id_wraps_int32() -> None:
    fc = MaxMulticastFlowControl()
    initial = 2**31 - 1
    # term id wrapped to INT32_MIN is one term after INT32_MAX
    got = fc.on_status_message(1, None, -(2**31), 64, 100, False, 0, initial, BITS, 0)
    assert got == TERM + 64 + 100


def test_retransmission_length() -> None:
    # rrwm 16 unicast: min(128K, term/2) * 16; term 64K -> 32K*16 = 512K, bounded by term end
    u = UnicastFlowControl()
    assert u.max_retransmission_length(0, 10_000, TERM, 1408) == 10_000
    assert u.max_retransmission_length(TERM - 4096, 10_000, TERM, 1408) == 4096
    # big term: window 128 KiB; multicast rrwm 4 -> 512 KiB
    big = 16 * 1024 * 1024
    m = MaxMulticastFlowControl()
    assert m.max_retransmission_length(0, big, big, 1408) == 512 * 1024
    assert u.max_retransmission_length(0, big, big, 1408) == 2 * 1024 * 1024
    assert calculate_retransmission_length(0, big, big, 1) == 128 * 1024


# --- min ------------------------------------------------------------------------------------


def test_min_limit_is_slowest_receiver() -> None:
    c = Clock()
    fc = MinMulticastFlowControl()
    assert sm(fc, c, 1, 4096, 0) == 4096 + WINDOW
    assert fc.receiver_count == 1
    # second receiver behind, within one window of the min edge: admitted, but SM result
    # never lowers snd_lmt
    lmt = sm(fc, c, 2, 1024, 4096 + WINDOW)
    assert fc.receiver_count == 2
    assert lmt == 4096 + WINDOW
    # on_idle reports the true minimum
    assert fc.on_idle(c.now, lmt, 0, False) == 1024 + WINDOW
    # receiver 2 catches up beyond receiver 1 -> min is receiver 1
    assert sm(fc, c, 2, 8192, 0) == 4096 + WINDOW
    assert sm(fc, c, 1, 9000 // 32 * 32, 0) == 8192 + WINDOW


def test_min_admission_rule_rejects_far_behind_receiver() -> None:
    c = Clock()
    fc = MinMulticastFlowControl()
    sm(fc, c, 1, 10 * WINDOW, 0)
    # edge = 8W + W = 9W; current min edge 11W; 9W >= 11W - W ? no -> rejected
    sm(fc, c, 2, 8 * WINDOW, 0)
    assert fc.receiver_count == 1
    # exactly one window behind the min edge is admitted: edge 10W >= 11W - W
    sm(fc, c, 3, 9 * WINDOW, 0)
    assert fc.receiver_count == 2
    assert fc.on_idle(c.now, 0, 0, False) == 10 * WINDOW


def test_min_receiver_timeout() -> None:
    c = Clock()
    fc = MinMulticastFlowControl(receiver_timeout_ns=5 * S)
    sm(fc, c, 1, 0, 0)
    sm(fc, c, 2, 4096, 0)
    c.advance(3 * S)
    sm(fc, c, 2, 8192, 0)
    c.advance(2 * S)  # receiver 1 exactly at the timeout: still live
    assert fc.on_idle(c.now, 123, 0, False) == WINDOW
    assert fc.receiver_count == 2
    c.advance(1)  # one ns past
    assert fc.on_idle(c.now, 123, 0, False) == 8192 + WINDOW
    assert fc.receiver_count == 1
    c.advance(10 * S)
    assert fc.on_idle(c.now, 123, 0, False) == 123  # no receivers: limit unchanged
    assert fc.receiver_count == 0


def test_min_eos_removes_receiver_on_idle() -> None:
    c = Clock()
    fc = MinMulticastFlowControl()
    sm(fc, c, 1, 0, 0)
    sm(fc, c, 2, 4096, 0)
    sm(fc, c, 1, 1024, 0, eos=True)
    assert fc.receiver_count == 2  # flagged, removed on idle
    assert fc.on_idle(c.now, 0, 0, False) == 4096 + WINDOW
    assert fc.receiver_count == 1
    # an EOS SM from an unknown receiver does not add it
    sm(fc, c, 3, 4096, 0, eos=True)
    assert fc.receiver_count == 1


def test_min_error_frame_flags_receiver() -> None:
    c = Clock()
    fc = MinMulticastFlowControl()
    sm(fc, c, 1, 0, 0)
    sm(fc, c, 2, 0, 0)
    fc.on_error(1, c.now)
    fc.on_idle(c.now, 0, 0, False)
    assert [r.receiver_id for r in fc.receivers] == [2]


def test_min_group_min_size_gates_limit_and_connection() -> None:
    c = Clock()
    fc = MinMulticastFlowControl(group_min_size=2)
    assert not fc.has_required_receivers()
    assert sm(fc, c, 1, 4096, 100) == 100  # not enough receivers: limit does not move
    assert fc.on_idle(c.now, 100, 0, False) == 100
    assert not fc.has_required_receivers()
    assert sm(fc, c, 2, 4096, 100) == 4096 + WINDOW
    assert fc.has_required_receivers()
    c.advance(6 * S)
    sm(fc, c, 2, 8192, 4096 + WINDOW)
    assert fc.on_idle(c.now, 555, 0, False) == 555  # receiver 1 expired -> below min size
    assert fc.receiver_count == 1
    assert not fc.has_required_receivers()


def test_group_min_size_zero_has_required_receivers_initially() -> None:
    assert MinMulticastFlowControl().has_required_receivers()
    assert TaggedMulticastFlowControl(group_tag=1).has_required_receivers()


def test_elicited_setup_caps_limit_until_timeout() -> None:
    c = Clock()
    fc = MinMulticastFlowControl(receiver_timeout_ns=5 * S)
    sm(fc, c, 1, 0, 0)
    fc.on_trigger_send_setup(9, None, c.now)
    assert fc.on_setup(c.now, 1000, BITS, 0) == 1000
    # receiver 1 advances but the cap from the SETUP holds
    assert fc.on_idle(c.now, 0, 0, False) == 1000
    assert sm(fc, c, 1, 8192, 0) == 1000
    # a new receiver joining clears the cap
    sm(fc, c, 9, 8192, 0)
    assert fc.on_idle(c.now, 0, 0, False) == 8192 + WINDOW
    # cap expires after the receiver timeout
    fc.on_trigger_send_setup(10, None, c.now)
    fc.on_setup(c.now, 2000, BITS, 0)
    assert fc.on_idle(c.now, 0, 0, False) == 2000
    sm(fc, c, 1, 8192, 0)
    sm(fc, c, 9, 8192, 0)
    c.advance(5 * S + 1)
    sm(fc, c, 1, 8192, 0)
    sm(fc, c, 9, 8192, 0)
    assert fc.on_idle(c.now, 0, 0, False) == 8192 + WINDOW


def test_setup_without_trigger_or_receivers_does_not_cap() -> None:
    c = Clock()
    fc = MinMulticastFlowControl()
    fc.on_trigger_send_setup(1, None, c.now)
    fc.on_setup(c.now, 10, BITS, 0)  # no receivers yet: no cap
    sm(fc, c, 1, 0, 0)
    fc.on_setup(c.now, 10, BITS, 0)  # trigger consumed by the previous SETUP
    assert fc.on_idle(c.now, 0, 0, False) == WINDOW


# --- tagged ---------------------------------------------------------------------------------


def test_tagged_only_tracks_matching_tag() -> None:
    c = Clock()
    fc = TaggedMulticastFlowControl(group_tag=42, group_min_size=1)
    assert sm(fc, c, 1, 0, 7, tag=None) == 7
    assert sm(fc, c, 2, 0, 7, tag=41) == 7
    assert fc.receiver_count == 0
    assert sm(fc, c, 3, 4096, 7, tag=42) == 4096 + WINDOW
    assert fc.receiver_count == 1
    # non-matching SM with the same id as a tracked receiver does not update it
    sm(fc, c, 3, 8192, 0, tag=None)
    assert fc.on_idle(c.now, 0, 0, False) == 4096 + WINDOW
    # and does not keep it alive
    c.advance(3 * S)
    sm(fc, c, 3, 8192, 0, tag=1)
    c.advance(2 * S + 1)
    assert fc.on_idle(c.now, 9, 0, False) == 9
    assert fc.receiver_count == 0


def test_tagged_trigger_setup_needs_matching_tag() -> None:
    c = Clock()
    fc = TaggedMulticastFlowControl(group_tag=5)
    sm(fc, c, 1, 0, 0, tag=5)
    fc.on_trigger_send_setup(2, 6, c.now)
    fc.on_setup(c.now, 10, BITS, 0)
    assert fc.on_idle(c.now, 0, 0, False) == WINDOW  # not capped
    fc.on_trigger_send_setup(2, 5, c.now)
    fc.on_setup(c.now, 10, BITS, 0)
    assert fc.on_idle(c.now, 0, 0, False) == 10  # capped


def test_min_size_zero_no_receivers_sm_advances_like_max() -> None:
    c = Clock()
    fc = TaggedMulticastFlowControl(group_tag=5)
    assert sm(fc, c, 1, 4096, 0, tag=None) == 4096 + WINDOW
    assert fc.receiver_count == 0


# --- selection ------------------------------------------------------------------------------


def test_from_channel() -> None:
    u = flow_control_from_channel("min", False)
    assert isinstance(u, UnicastFlowControl) and u.rrwm == 16
    m = flow_control_from_channel(None, True)
    assert type(m) is MaxMulticastFlowControl and m.rrwm == 4
    assert type(flow_control_from_channel("max,rrwm:3", True)) is MaxMulticastFlowControl
    assert flow_control_from_channel("max,rrwm:3", True).rrwm == 3
    mn = flow_control_from_channel(None, True, multicast_strategy="min")
    assert type(mn) is MinMulticastFlowControl
    mn = flow_control_from_channel("min,g:/3,t:2s", True, 7 * S, 11, 1)
    assert type(mn) is MinMulticastFlowControl
    assert (mn.group_min_size, mn.receiver_timeout_ns, mn.group_tag) == (3, 2 * S, 11)
    mn = flow_control_from_channel("min", True, 7 * S, 11, 1)
    assert isinstance(mn, MinMulticastFlowControl)
    assert (mn.group_min_size, mn.receiver_timeout_ns) == (1, 7 * S)
    assert not mn.has_required_receivers()
    t = flow_control_from_channel("tagged,g:99/2", True, group_tag=1)
    assert type(t) is TaggedMulticastFlowControl
    assert (t.group_tag, t.group_min_size, t.rrwm) == (99, 2, 4)
    t = flow_control_from_channel("tagged", True, group_tag=1)
    assert isinstance(t, TaggedMulticastFlowControl) and t.group_tag == 1
    with pytest.raises(InvalidChannelError):
        flow_control_from_channel("bogus", True)
    with pytest.raises(InvalidChannelError):
        flow_control_from_channel("max,g:1", True)


# --- property: min strategy vs a simple model ------------------------------------------------

_event = st.one_of(
    st.tuples(
        st.just("sm"),
        st.integers(0, 4),  # receiver id
        st.integers(0, 64),  # position in units of 1 KiB
        st.sampled_from([4096, 16384, WINDOW]),
        st.booleans(),  # eos (rare-ish but allowed)
        st.integers(0, 3 * S),  # time advance
    ),
    st.tuples(st.just("idle"), st.integers(0, 4 * S)),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_event, max_size=40), st.integers(0, 3))
def test_min_matches_model(events: list[tuple[object, ...]], min_size: int) -> None:
    timeout = 5 * S
    c = Clock()
    fc = MinMulticastFlowControl(receiver_timeout_ns=timeout, group_min_size=min_size)
    model: dict[int, tuple[int, int, bool]] = {}  # id -> (edge, last_sm_ns, eos)
    snd_lmt = 0
    for ev in events:
        if ev[0] == "sm":
            _, rid, pos_k, window, eos, dt = ev
            assert isinstance(rid, int) and isinstance(pos_k, int) and isinstance(window, int)
            assert isinstance(dt, int) and isinstance(eos, bool)
            c.advance(dt)
            pos = pos_k * 1024
            edge = pos + window
            if rid in model:
                model[rid] = (edge, c.now, eos)
            elif not eos and (not model or edge >= min(e for e, _, _ in model.values()) - window):
                model[rid] = (edge, c.now, False)
            expected_min = min((e for e, _, _ in model.values()), default=None)
            got = sm(fc, c, rid, pos, snd_lmt, window=window, eos=eos)
            if len(model) < min_size:
                assert got == snd_lmt
            elif expected_min is None:  # min size 0, nobody tracked: behaves like max
                assert got == max(snd_lmt, edge)
            else:
                assert got == max(snd_lmt, expected_min)
            snd_lmt = got
        else:
            _, dt = ev
            assert isinstance(dt, int)
            c.advance(dt)
            model = {r: v for r, v in model.items() if not v[2] and v[1] + timeout >= c.now}
            got = fc.on_idle(c.now, snd_lmt, 0, False)
            if not model or len(model) < min_size:
                assert got == snd_lmt
            else:
                # the spec's invariant: limit == min over live receivers of pos + window
                assert got == min(e for e, _, _ in model.values())
            snd_lmt = got
        assert fc.receiver_count == len(model)
        assert {r.receiver_id for r in fc.receivers} == set(model)
        assert fc.has_required_receivers() == (len(model) >= min_size)
