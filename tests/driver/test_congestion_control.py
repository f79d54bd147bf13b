"""Congestion control (``cc=static`` / ``cc=cubic``) and receiver-originated RTT measurement.

Three levels: the sans-IO strategies under a manual clock (exact values and hypothesis
properties), whole drivers on the in-memory network (RTTM exchange, windows in the SMs, loss,
counters), and two aeronpy drivers over real UDP on loopback.
"""

from __future__ import annotations

import math
import os
import shutil
import struct
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from aeronpy.concurrent import counters as ctr
from aeronpy.driver import congestion_control as cc
from aeronpy.driver.congestion_control import (
    CubicCongestionControl,
    CubicSettings,
    StaticWindowCongestionControl,
    new_congestion_control,
    receiver_window_length,
    select_congestion_control,
)
from aeronpy.driver.system_counters import SystemCounterId
from aeronpy.protocol import data_header as dh
from aeronpy.protocol.frames import RTTM_LAYOUT, RTTM_REPLY_FLAG, SM_LAYOUT
from aeronpy.protocol import frames
from aeronpy.testing import Datagram, InMemoryNetwork
from tests.driver import network_harness as harness
from tests.driver.network_harness import ImageRig
from tests.conftest import SHM, wait_for
from tests.driver.test_in_memory_driver import STREAM, Host, World, _counters_of_type, _frame_type, exchange
from tests.driver.test_in_memory_driver import world as world  # noqa: F401  (the fixture)
from tests.fakes import free_udp_port

MTU = 1408
MS = 1_000_000
US = 1_000


class FakeIndicator:
    def __init__(self) -> None:
        self.values: list[int] = []
        self.closed = False

    def set(self, value: int) -> None:
        self.values.append(value)

    def close(self) -> None:
        self.closed = True


def cubic(window: int = 128 * 1024, mtu: int = MTU, now_ns: int = 0, **kw: Any) -> CubicCongestionControl:
    return CubicCongestionControl(max_window_length=window, mtu=mtu, now_ns=now_ns, settings=CubicSettings(**kw))


def rebuild(c: Any, now_ns: int, loss: bool = False, consumption: int = 0, last_sm: int = 0) -> tuple[int, bool]:
    result: tuple[int, bool] = c.on_track_rebuild(now_ns, consumption, last_sm, 0, 0, 0, loss)
    return result


# --------------------------------------------------------------------------- static


def test_static_window_is_fixed_and_never_measures() -> None:
    s = StaticWindowCongestionControl(65536)
    assert s.initial_window_length == s.max_window_length == 65536
    assert not s.should_measure_rtt(10**18)
    s.on_rttm(5, 100, None)
    s.on_rttm_sent(5)
    for now, loss in ((0, False), (10**9, True), (10**12, False)):
        assert rebuild(s, now, loss, consumption=10**6) == (65536, False)
    with pytest.raises(ValueError, match="window_length"):
        StaticWindowCongestionControl(0)


def test_receiver_window_is_capped_at_half_a_term() -> None:
    assert receiver_window_length(128 * 1024, 64 * 1024) == 32 * 1024
    assert receiver_window_length(16 * 1024, 64 * 1024) == 16 * 1024


def test_selection_follows_the_supplier_then_the_channel() -> None:
    assert select_congestion_control("default", None) == "static"
    assert select_congestion_control("default", "cubic") == "cubic"
    assert select_congestion_control("default", "static") == "static"
    assert select_congestion_control("static", "cubic") == "static"  # an explicit supplier wins, as in C
    assert select_congestion_control("cubic", "static") == "cubic"
    assert isinstance(new_congestion_control("static", window_length=4096, mtu=MTU, now_ns=0), StaticWindowCongestionControl)
    assert isinstance(new_congestion_control("cubic", window_length=4096, mtu=MTU, now_ns=0), CubicCongestionControl)
    with pytest.raises(ValueError, match="'reno'"):
        new_congestion_control("reno", window_length=4096, mtu=MTU, now_ns=0)


# --------------------------------------------------------------------------- cubic, exact values


def test_cubic_starts_at_ten_mtus_and_publishes_its_indicators() -> None:
    rtt, wnd = FakeIndicator(), FakeIndicator()
    c = CubicCongestionControl(max_window_length=128 * 1024, mtu=MTU, now_ns=0, rtt_indicator=rtt, window_indicator=wnd)
    assert c.max_cwnd == 131072 // MTU == 93
    assert c.initial_window_length == 10 * MTU and c.max_window_length == 131072
    assert rtt.values == [0] and wnd.values == [10 * MTU]
    small = cubic(window=4 * MTU + 100)
    assert small.max_cwnd == 4 and small.initial_window_length == 4 * MTU  # fewer than 10 MTUs fit
    tiny = cubic(window=1000)  # below one MTU: one MTU, never a window of 0
    assert tiny.initial_window_length == MTU
    c.close()
    assert rtt.closed and wnd.closed


def test_cubic_first_growth_jumps_into_the_concave_region_after_one_initial_rtt() -> None:
    c = cubic()
    assert rebuild(c, 100 * US) == (10 * MTU, False)  # not after the update interval yet
    window, force = rebuild(c, 100 * US + 1)
    # W_max = 93, K = cbrt(93 * 0.2 / 0.4); t ~ 0: 93 + int(0.4 * (t - K)^3) = 93 - 18 = 75
    k = math.cbrt(93 * 0.2 / 0.4)
    assert window == (93 + int(0.4 * ((100 * US + 1) / 1e9 - k) ** 3)) * MTU == 75 * MTU
    assert not force
    assert rebuild(c, 150 * US) == (75 * MTU, False)  # next update one interval after the last


def test_cubic_backs_off_on_loss_forces_an_sm_and_regrows_to_the_plateau() -> None:
    c = cubic()
    now = 0
    for _ in range(50):
        now += 50 * MS
        rebuild(c, now)
    assert c.cwnd == 93  # grown back to the static window
    window, force = rebuild(c, now + 1, loss=True)
    assert force and window == int(93 * 0.8) * MTU == 74 * MTU
    assert c.w_max == 93 and c.k == pytest.approx(math.cbrt(93 * 0.2 / 0.4))
    loss_at = now + 1
    # at t = K the curve is back at W_max (the plateau), never past max_cwnd
    t_k = loss_at + int(c.k * 1e9)
    window, force = rebuild(c, t_k + 1)
    assert not force and window in (92 * MTU, 93 * MTU)
    window, _ = rebuild(c, t_k + 10**10)
    assert window == 93 * MTU


def test_cubic_at_one_mtu_forces_an_sm_whenever_consumption_moves() -> None:
    c = cubic(window=2 * MTU)
    for i in range(10):
        rebuild(c, i, loss=True)
    assert c.cwnd == 1
    assert rebuild(c, 11, consumption=4096, last_sm=4096) == (MTU, False)
    assert rebuild(c, 12, consumption=8192, last_sm=4096) == (MTU, True)


def test_cubic_measures_rtt_only_when_configured_and_at_its_cadence() -> None:
    assert not cubic().should_measure_rtt(10**12)
    rtt = FakeIndicator()
    c = CubicCongestionControl(
        max_window_length=131072, mtu=MTU, now_ns=0, settings=CubicSettings(measure_rtt=True), rtt_indicator=rtt
    )
    start = 10**9
    assert c.should_measure_rtt(start)  # nothing measured yet
    c.on_rttm_sent(start)
    assert not c.should_measure_rtt(start + 400 * US)  # 4 x initial RTT (100 us)
    assert c.should_measure_rtt(start + 400 * US + 1)
    c.on_rttm(start + 300 * US, 300 * US, ("10.0.0.1", 1))
    assert rtt.values[-1] == 300 * US and c.rtt_ns == 300 * US
    assert not c.should_measure_rtt(start + 300 * US + 1200 * US)  # 4 x the measured 300 us
    assert c.should_measure_rtt(start + 300 * US + 1200 * US + 1)
    c.on_rttm(start + 2 * MS, 10 * US, None)  # below the initial RTT: the timeout stays 4 x initial
    assert c.rtt_timeout_ns == 400 * US


def test_cubic_tcp_mode_grows_at_least_like_reno_and_never_past_the_window() -> None:
    plain, tcp = cubic(initial_rtt_ns=MS), cubic(initial_rtt_ns=MS, tcp_mode=True)
    for c in (plain, tcp):
        rebuild(c, 1, loss=True)
    now = 1
    for _ in range(400):
        now += MS + 1
        a, _ = rebuild(plain, now)
        b, _ = rebuild(tcp, now)
        assert a <= b <= 131072
    assert tcp.cwnd == tcp.max_cwnd  # 3B/(2-B) x t/RTT outgrows the cubic curve at a 1 ms RTT


def test_cubic_settings_reject_a_non_positive_initial_rtt() -> None:
    with pytest.raises(ValueError, match="initial_rtt_ns"):
        CubicSettings(initial_rtt_ns=0)
    with pytest.raises(ValueError, match="mtu"):
        CubicCongestionControl(max_window_length=4096, mtu=0, now_ns=0)


# --------------------------------------------------------------------------- cubic, properties

events = st.lists(
    st.tuples(st.integers(0, 3 * 10**9), st.booleans(), st.integers(0, 1 << 20)), min_size=1, max_size=60
)


@settings(max_examples=200, deadline=None)
@given(
    window=st.integers(1, 1 << 24),
    mtu=st.sampled_from([32, 1408, 4096, 8192, 65504]),
    tcp_mode=st.booleans(),
    rtt=st.integers(1, 10**8),
    steps=events,
)
@example(  # TCP mode: the TCP estimate takes cwnd past W_max, then the curve at W_max takes over
    window=642876, mtu=8192, tcp_mode=True, rtt=11111, steps=[(3, True, 10638), (99999, False, 3), (352667140, False, 22493)]
)
def test_cubic_window_stays_within_bounds_and_reacts_to_loss(
    window: int, mtu: int, tcp_mode: bool, rtt: int, steps: list[tuple[int, bool, int]]
) -> None:
    wnd = FakeIndicator()
    c = CubicCongestionControl(
        max_window_length=window, mtu=mtu, now_ns=0, settings=CubicSettings(True, 100 * US, tcp_mode),
        window_indicator=wnd,
    )
    c.on_rttm(0, rtt, None)
    ceiling = max(mtu, (window // mtu) * mtu)
    assert mtu <= c.initial_window_length <= ceiling
    now, last_sm = 0, 0
    previous = c.initial_window_length
    at_start = True
    for delta, loss, consumed in steps:
        now += delta
        length, force = rebuild(c, now, loss, consumption=last_sm + consumed, last_sm=last_sm)
        assert length % mtu == 0 and mtu <= length <= ceiling
        assert length == c.cwnd * mtu == wnd.values[-1]
        if loss:
            assert force and length <= previous  # a loss never grows the window
            assert length == max(1, int(previous // mtu * 0.8)) * mtu
        elif length < previous:
            # without loss only two steps shrink the window, both as in Aeron: the first (from 10
            # MTUs into the curve's start at 0.8 x max) and, in TCP mode, the step where the
            # curve passes W_max and the TCP-friendly estimate (which had gone above it) stops counting
            assert at_start or (tcp_mode and previous > c.w_max * mtu)
            assert length >= int(c.w_max * 0.8) * mtu
        else:
            assert not force or length == mtu  # without loss, an SM is forced only at one MTU
        at_start = at_start and not loss and length == previous
        if force:
            last_sm += consumed
        previous = length


@settings(max_examples=100, deadline=None)
@given(window=st.integers(2 * 1408, 1 << 22), losses=st.integers(0, 5), late_s=st.integers(0, 10**6))
def test_cubic_recovers_the_full_window_once_the_curve_reaches_it(window: int, losses: int, late_s: int) -> None:
    c = cubic(window=window)
    now = 0
    for _ in range(losses):
        now += 1000
        rebuild(c, now, loss=True)
    # W(t) = C (t - K)^3 + W_max reaches max_cwnd at t = K + cbrt((max_cwnd - W_max) / C)
    reach_s = c.k + math.cbrt((c.max_cwnd - c.w_max) / 0.4) + 0.01
    before_s = max(0.0, reach_s - 0.5)
    if before_s > c.k + 1.5 and c.w_max < c.max_cwnd:
        rebuild(c, now + int(before_s * 1e9))  # not there half a second earlier
        assert c.cwnd < c.max_cwnd
    rebuild(c, now + int((reach_s + late_s) * 1e9))  # any time later (even days): exactly the full window
    assert c.cwnd == c.max_cwnd


# --------------------------------------------------------------------------- one image, socket-free


def cubic_rig(tmp_path: Path, measure_rtt: bool = True) -> ImageRig:
    control = CubicCongestionControl(
        max_window_length=harness.WINDOW, mtu=harness.MTU, now_ns=0, settings=CubicSettings(measure_rtt=measure_rtt)
    )
    return ImageRig(tmp_path, InMemoryNetwork(), harness.Counters(), congestion_control=control)


def rig_sms(rig: ImageRig) -> list[frames.StatusMessageFrame]:
    return harness.of_type(rig.sender.received(), frames.StatusMessageFrame)


def test_an_image_sends_the_cubic_window_and_a_new_sm_when_it_changes(tmp_path: Path) -> None:
    rig = cubic_rig(tmp_path)
    try:
        assert rig.image.receiver_window == harness.WINDOW  # the largest window: 32 KiB = 23 MTUs
        rig.duty_cycle(0)
        assert [sm.receiver_window for sm in rig_sms(rig)] == [10 * MTU]
        rig.duty_cycle(100 * US)  # within the update interval: same window, no SM
        assert rig_sms(rig) == []
        rig.duty_cycle(100 * US + 1)  # 23 + int(0.4 (t - cbrt(23 x 0.5))^3) = 19 MTUs: scheduled at once
        assert [sm.receiver_window for sm in rig_sms(rig)] == [19 * MTU]
        assert rig.image.next_sm_window == 19 * MTU
    finally:
        rig.close()


def test_a_gap_backs_the_cubic_window_off_with_a_forced_sm(tmp_path: Path) -> None:
    rig = cubic_rig(tmp_path)
    try:
        rig.duty_cycle(0)
        rig_sms(rig)
        rig.deliver(rig.data(0, b"a" * 32), 1)
        rig.deliver(rig.data(128, b"a" * 32), 1)  # the frame at 64 is missing
        rig.duty_cycle(2)  # new gap: loss -> cwnd 10 -> 8, SM forced although nothing was consumed
        (sm,) = rig_sms(rig)
        assert sm.receiver_window == 8 * MTU
        rig.duty_cycle(3)  # the same gap again is no new loss
        assert rig_sms(rig) == []
    finally:
        rig.close()


def test_an_image_originates_rttm_at_the_cadence_and_measures_the_reply(tmp_path: Path) -> None:
    rig = cubic_rig(tmp_path)
    try:
        control = rig.image.congestion_control
        assert isinstance(control, CubicCongestionControl)
        t = 5 * MS
        assert rig.image.initiate_rttm(t) == 1
        (ask,) = rig.sender.received()
        assert ask == frames.RttmFrame(harness.SESSION, harness.STREAM, t, 0, harness.RECEIVER_ID, RTTM_REPLY_FLAG)
        assert rig.image.initiate_rttm(t + 400 * US) == 0 and rig.sender.received() == []
        reply = frames.RttmFrame(harness.SESSION, harness.STREAM, t, 0, harness.RECEIVER_ID)
        rig.deliver(reply, t + 250 * US)
        assert control.rtt_ns == 250 * US
        assert rig.image.initiate_rttm(t + 250 * US + 1000 * US) == 0  # 4 x the measured RTT
        assert rig.image.initiate_rttm(t + 250 * US + 1000 * US + 1) == 1
        rig.deliver(frames.RttmFrame(harness.SESSION, harness.STREAM, t + 2 * MS, 30 * US, 0), t + 2 * MS + 130 * US)
        assert control.rtt_ns == 100 * US  # receiver id 0 is anyone's; the sender's reception delta is taken off
        rig.image.reject(b"go away")
        assert rig.image.initiate_rttm(t + 10**9) == 0  # a rejected image measures nothing
    finally:
        rig.close()


@pytest.mark.parametrize("kind", ["static", "cubic-not-measuring"])
def test_static_and_non_measuring_images_never_originate_rttm(tmp_path: Path, kind: str) -> None:
    rig = ImageRig(tmp_path, InMemoryNetwork(), harness.Counters()) if kind == "static" else cubic_rig(tmp_path, False)
    try:
        assert rig.image.measures_rtt == (kind != "static")  # the receiver skips static images outright
        assert rig.image.initiate_rttm(10**12) == 0 and rig.sender.received() == []
    finally:
        rig.close()


i64 = st.integers(-(2**63), 2**63 - 1)


@settings(max_examples=150, deadline=None)
@given(rttm=st.lists(st.tuples(st.sampled_from([0, RTTM_REPLY_FLAG, 0x01, 0xFF]), i64, i64,
                               st.sampled_from([0, harness.RECEIVER_ID, 7]), st.integers(0, 10**12)), max_size=20))
def test_any_rttm_leaves_a_cubic_image_measuring_sane_round_trips(
    tmp_path_factory: pytest.TempPathFactory, rttm: list[tuple[int, int, int, int, int]]
) -> None:
    rig = cubic_rig(tmp_path_factory.mktemp("rttm"))
    try:
        control = rig.image.congestion_control
        assert isinstance(control, CubicCongestionControl)
        now = 10**9
        for flags, echo, delta, receiver_id, advance in rttm:
            now += advance
            rig.deliver(frames.RttmFrame(harness.SESSION, harness.STREAM, echo, delta, receiver_id, flags), now)
            rig.image.initiate_rttm(now)
            assert 0 <= control.rtt_ns <= 60 * 10**9  # only plausible round trips are taken
            assert control.rtt_timeout_ns == max(control.rtt_ns, control.settings.initial_rtt_ns) * 4
            window, _ = control.on_track_rebuild(now, 0, 0, 0, 0, 0, False)
            assert window % MTU == 0 and MTU <= window <= harness.WINDOW
    finally:
        rig.close()


def test_the_sender_counts_a_short_rttm_reply(tmp_path: Path) -> None:
    rig = harness.PublicationRig(tmp_path, InMemoryNetwork(), harness.Counters())
    try:
        sent: list[bytes] = []

        def short_send(data: Any, address: Any = None) -> int:
            sent.append(bytes(data))
            return 0  # what the transport reports for a short send

        rig.endpoint.transport.send = short_send  # type: ignore[method-assign]
        rig.pub.on_rttm(0, 5, harness.RECEIVER_ID, rig.receiver.address, 0)  # a reply, not a request: no answer
        assert sent == [] and rig.counters[SystemCounterId.SHORT_SENDS] == 0
        rig.pub.on_rttm(RTTM_REPLY_FLAG, 5, harness.RECEIVER_ID, rig.receiver.address, 0)
        assert frames.decode_frame(sent[0]) == frames.RttmFrame(harness.SESSION, harness.STREAM, 5, 0, harness.RECEIVER_ID)
        assert rig.counters[SystemCounterId.SHORT_SENDS] == 1
    finally:
        rig.close()


# --------------------------------------------------------------------------- in-memory drivers

CUBIC_CHANNEL = "aeron:udp?endpoint=10.0.0.2:40456|term-length=64k|cc=cubic"
MEASURE = {"cubic_measure_rtt": True}


class Recorder:
    """Every datagram sent, with the manual time it was sent at; drops what ``drop`` says."""

    def __init__(self, w: World) -> None:
        self.world = w
        self.log: list[tuple[int, Datagram]] = []
        self.drop: Any = None
        w.network.drop = self

    def __call__(self, d: Datagram) -> bool:
        self.log.append((self.world.clock.nano_time(), d))
        return bool(self.drop is not None and self.drop(d))

    def of_type(self, frame_type: int) -> list[tuple[int, Datagram]]:
        return [(t, d) for t, d in self.log if _frame_type(d) == frame_type]


def cubic_counters(host: Host) -> dict[str, int]:
    return {
        label.split(":")[0]: host.counter(counter_id)
        for counter_id, label in _counters_of_type(host, ctr.PER_IMAGE_TYPE_ID)
        if label.startswith("rcv-cc-cubic-")
    }


def sm_windows(rec: Recorder) -> list[int]:
    """The windows of every status message sent (the receivers'), in order; not the SETUP-eliciting ones."""
    sms = [SM_LAYOUT.unpack_from(d.data) for _, d in rec.of_type(dh.HDR_TYPE_SM) if len(d.data) >= SM_LAYOUT.size]
    return [sm[8] for sm in sms if not sm[2] & 0x80]


def rttms(rec: Recorder, asks: bool) -> list[tuple[int, tuple[int, ...]]]:
    """RTTMs sent with (``asks``) or without the reply flag, with their send times."""
    found = [(t, RTTM_LAYOUT.unpack_from(d.data)) for t, d in rec.of_type(dh.HDR_TYPE_RTTM)]
    return [(t, f) for t, f in found if bool(f[2] & RTTM_REPLY_FLAG) == asks]


def test_cubic_receiver_originates_rttm_and_the_sender_answers(world: World) -> None:
    rec = Recorder(world)
    a, b = world.host("a"), world.host("b", **MEASURE)
    _, sub, got = exchange(world, a, b, 500, CUBIC_CHANNEL)
    assert got == list(range(500))
    world.run(lambda: cubic_counters(b).get("rcv-cc-cubic-rtt", 0) > 0, "a measured RTT")
    asks, replies = rttms(rec, True), rttms(rec, False)
    assert asks and replies
    image = sub.images[0]
    for t, (length, version, flags, _type, session, stream, echo, delta, receiver_id) in asks:
        assert (length, version, flags, session, stream, delta) == (40, 0, RTTM_REPLY_FLAG, image.session_id, STREAM, 0)
        assert echo == t and receiver_id != 0  # the receiver's clock and its receiver id
    asked = {echo: receiver_id for _, (*_, echo, _d, receiver_id) in asks}
    for _, (length, _v, flags, _type, session, stream, echo, delta, receiver_id) in replies:
        assert (length, flags, session, stream, delta) == (40, 0, image.session_id, STREAM, 0)
        assert asked[echo] == receiver_id  # echoes one of the receiver's RTTMs
    # cadence: one measurement at a time, the next no sooner than 4 x max(RTT, initial RTT)
    times = [t for t, _ in asks]
    assert all(later - earlier > 400 * US for earlier, later in zip(times, times[1:]))
    rtt = cubic_counters(b)["rcv-cc-cubic-rtt"]
    assert 0 < rtt <= 10 * MS and rtt % (100 * US) == 0  # manual time: whole 100 us steps


def test_multicast_receivers_each_measure_from_replies_to_the_group(world: World) -> None:
    rec = Recorder(world)
    a, b, c = world.host("a"), world.host("b", **MEASURE), world.host("c", **MEASURE)
    channel = "aeron:udp?endpoint=239.255.7.7:40600|interface=127.0.0.1|term-length=64k|cc=cubic"
    subs = [world.add(h, "subscription", channel, STREAM) for h in (b, c)]
    pub = world.add(a, "publication", channel, STREAM)
    world.run(lambda: pub.is_connected and all(s.image_count == 1 for s in subs), "both members")
    world.run(lambda: all(cubic_counters(h).get("rcv-cc-cubic-rtt", 0) > 0 for h in (b, c)), "both measured")
    replies = [(t, d) for t, d in rec.of_type(dh.HDR_TYPE_RTTM) if not RTTM_LAYOUT.unpack_from(d.data)[2] & RTTM_REPLY_FLAG]
    assert replies and {d.destination for _, d in replies} == {("239.255.7.7", 40600)}  # to the data group, as C
    asking = {RTTM_LAYOUT.unpack_from(d.data)[8] for _, d in rttms_raw(rec, True)}
    assert len(asking) == 2  # two receiver ids; each member ignored the other's replies
    assert b.counter(SystemCounterId.INVALID_PACKETS) == c.counter(SystemCounterId.INVALID_PACKETS) == 0


def rttms_raw(rec: Recorder, asks: bool) -> list[tuple[int, Datagram]]:
    return [(t, d) for t, d in rec.of_type(dh.HDR_TYPE_RTTM) if bool(RTTM_LAYOUT.unpack_from(d.data)[2] & RTTM_REPLY_FLAG) == asks]


def test_cubic_windows_reach_the_sender_in_status_messages(world: World) -> None:
    rec = Recorder(world)
    a, b = world.host("a"), world.host("b")
    _, _, got = exchange(world, a, b, 300, CUBIC_CHANNEL)
    assert got == list(range(300))
    start = world.clock.nano_time()
    world.run(lambda: world.clock.nano_time() > start + 3 * 10**9, "3 s of manual time", step_us=10_000)
    windows = sm_windows(rec)
    # 64 KiB terms: the static window is 32 KiB = 23 MTUs; cubic starts at 10 MTUs, grows to 23
    assert windows[0] == 10 * MTU
    assert set(windows) <= {n * MTU for n in range(1, 24)}
    assert windows[-1] == 23 * MTU
    counters = cubic_counters(b)
    assert counters["rcv-cc-cubic-wnd"] == 23 * MTU and counters["rcv-cc-cubic-rtt"] == 0  # not measuring
    assert not rec.of_type(dh.HDR_TYPE_RTTM)  # measureRtt is off by default, as in Aeron


def test_loss_shrinks_the_cubic_window_and_the_stream_still_arrives(world: World) -> None:
    rec = Recorder(world)
    a, b = world.host("a"), world.host("b", **MEASURE)
    seen = 0

    def drop_some(d: Datagram) -> bool:
        nonlocal seen
        if _frame_type(d) == dh.HDR_TYPE_DATA and len(d.data) > 32:
            seen += 1
            return seen % 11 == 5
        return False

    rec.drop = drop_some
    _, _, got = exchange(world, a, b, 3000, CUBIC_CHANNEL)
    assert got == list(range(3000))
    assert b.counter(SystemCounterId.NAK_MESSAGES_SENT) > 0
    windows = sm_windows(rec)
    drops = [later for earlier, later in zip(windows, windows[1:]) if later < earlier]
    assert drops, windows  # each detected loss backs the window off (an SM is forced)
    assert min(windows) < 23 * MTU and all(w % MTU == 0 for w in windows)


def test_static_images_send_no_rttm_and_have_no_cubic_counters(world: World) -> None:
    rec = Recorder(world)
    a, b = world.host("a"), world.host("b", **MEASURE)
    exchange(world, a, b, 200)
    assert not rec.of_type(dh.HDR_TYPE_RTTM)
    assert cubic_counters(b) == {}
    assert set(sm_windows(rec)) == {32 * 1024}


def test_the_driver_supplier_makes_every_image_cubic(world: World) -> None:
    a, b = world.host("a"), world.host("b", congestion_control_supplier="cubic", **MEASURE)
    exchange(world, a, b, 100)  # no cc on the channel
    world.run(lambda: cubic_counters(b).get("rcv-cc-cubic-rtt", 0) > 0, "a measured RTT")
    c = world.host("c", congestion_control_supplier="static")
    exchange(world, a, c, 100, "aeron:udp?endpoint=10.0.0.4:40456|term-length=64k|cc=cubic")
    assert cubic_counters(c) == {}  # an explicit static supplier ignores cc=cubic, as C


def test_cubic_counters_are_freed_with_the_image(world: World) -> None:
    a, b = world.host("a"), world.host("b", **MEASURE)
    pub, sub, _ = exchange(world, a, b, 50, CUBIC_CHANNEL)
    labels = [label for _, label in _counters_of_type(b, ctr.PER_IMAGE_TYPE_ID)]
    assert len(labels) == 2 and all(f" {STREAM} " in label and "cc=cubic" in label for label in labels)
    from aeronpy.protocol import control as cp  # the client's REMOVE_PUBLICATION, without blocking on it

    ring = a.aeron.conductor.to_driver
    ring.write(cp.REMOVE_PUBLICATION, cp.RemovePublicationMessage(
        a.aeron.conductor.client_id, ring.next_correlation_id(), pub.registration_id).encode())
    world.run(lambda: not cubic_counters(b), "the image gone and its counters freed", step_us=10_000, cycles=3_000)


def test_hostile_rttm_replies_are_counted_not_measured(world: World) -> None:
    a, b = world.host("a"), world.host("b", **MEASURE)
    _, sub, _ = exchange(world, a, b, 50, CUBIC_CHANNEL)
    world.run(lambda: cubic_counters(b).get("rcv-cc-cubic-rtt", 0) > 0, "a measured RTT")
    session = sub.images[0].session_id
    rogue = world.network.bind(("10.0.0.66", 0))
    before_invalid = b.counter(SystemCounterId.INVALID_PACKETS)
    now = world.clock.nano_time()
    for echo, delta in ((now + 10**9, 0), (-(2**63), 0), (now - 10**6, -5), (now - 10**6, 2**62)):
        rogue.send(RTTM_LAYOUT.pack(40, 0, 0, dh.HDR_TYPE_RTTM, session, STREAM, echo, delta, 0), ("10.0.0.2", 40456))
    world.network.deliver()
    for _ in range(5):
        b.pump()
    assert b.counter(SystemCounterId.INVALID_PACKETS) == before_invalid + 4
    assert 0 < cubic_counters(b)["rcv-cc-cubic-rtt"] <= 10 * MS  # only real replies were measured
    # another receiver's id is not ours: ignored, not counted
    rogue.send(RTTM_LAYOUT.pack(40, 0, 0, dh.HDR_TYPE_RTTM, session, STREAM, now, 0, 12345), ("10.0.0.2", 40456))
    world.network.deliver()
    b.pump()
    assert b.counter(SystemCounterId.INVALID_PACKETS) == before_invalid + 4


# --------------------------------------------------------------------------- real UDP on loopback


@pytest.fixture
def two_dirs() -> Iterator[tuple[str, str]]:
    dirs = tuple(os.path.join(SHM, f"aeronpy-cc-{uuid.uuid4().hex[:10]}") for _ in range(2))
    yield dirs  # type: ignore[misc]
    for d in dirs:
        shutil.rmtree(d, ignore_errors=True)


def test_cubic_with_rtt_measurement_between_two_aeronpy_drivers_over_udp(two_dirs: tuple[str, str]) -> None:
    from aeronpy.client.aeron import Aeron
    from aeronpy.client.context import Context
    from aeronpy.driver.context import DriverContext
    from aeronpy.driver.media_driver import MediaDriver

    def launch(path: str, **extra: Any) -> MediaDriver:
        return MediaDriver.launch(DriverContext.from_properties(
            env={}, aeron_dir=path, threading_mode="SHARED", term_buffer_sparse_file=True,
            dir_delete_on_shutdown=True, **extra,
        ))

    channel = f"aeron:udp?endpoint=127.0.0.1:{free_udp_port()}|term-length=64k|cc=cubic"
    with launch(two_dirs[0]), launch(two_dirs[1], properties={
        "aeron.CubicCongestionControl.measureRtt": "true",
        "aeron.udp.channel.incoming.interceptors": "loss",
        "aeron.udp.channel.transport.bindings.loss.args": "rate=0.05|seed=3|recv-msg-mask=0x2",
    }):
        with Aeron.connect(Context.from_properties(env={}, aeron_dir=two_dirs[0])) as sender, \
                Aeron.connect(Context.from_properties(env={}, aeron_dir=two_dirs[1])) as receiver:
            sub = receiver.add_subscription(channel, 7)
            pub = sender.add_publication(channel, 7)
            wait_for(lambda: pub.is_connected and sub.image_count == 1, message="connection")
            got: list[int] = []
            sent = 0
            deadline = time.monotonic() + 60
            while len(got) < 5000 and time.monotonic() < deadline:
                if sent < 5000 and pub.offer(struct.pack("<q", sent) + bytes(200)) > 0:
                    sent += 1
                if sub.poll(lambda buf, o, n, h: got.append(buf.get_int64(o)), 100) == 0:
                    time.sleep(0)
            assert got == list(range(5000))
            found: dict[str, int] = {}

            def measured() -> bool:
                def visit(counter_id: int, type_id: int, key: bytes, label: str) -> None:
                    if type_id == ctr.PER_IMAGE_TYPE_ID and label.startswith("rcv-cc-cubic-"):
                        found[label.split(":")[0]] = int(receiver.counters_reader.get_counter_value(counter_id))

                receiver.counters_reader.for_each(visit)
                return found.get("rcv-cc-cubic-rtt", 0) > 0

            wait_for(measured, message="an RTT measured over loopback")
            assert 0 < found["rcv-cc-cubic-rtt"] < 5 * 10**9
            assert found["rcv-cc-cubic-wnd"] % MTU == 0 and MTU <= found["rcv-cc-cubic-wnd"] <= 32 * 1024
            assert receiver.counters_reader.get_counter_value(SystemCounterId.NAK_MESSAGES_SENT) > 0


def test_cc_module_names_match_aeron() -> None:
    assert (cc.CUBIC_RTT_INDICATOR_NAME, cc.CUBIC_WINDOW_INDICATOR_NAME) == ("rcv-cc-cubic-rtt", "rcv-cc-cubic-wnd")
    assert (cc.CUBIC_C, cc.CUBIC_B, cc.INITIAL_CWND, cc.RTT_TIMEOUT_MULTIPLE) == (0.4, 0.2, 10, 4)


def test_driver_properties_for_congestion_control() -> None:
    from aeronpy.driver.context import DriverContext
    from aeronpy.errors import ConfigurationError

    default = DriverContext.from_properties(env={})
    assert (default.congestion_control_supplier, default.cubic_measure_rtt, default.cubic_initial_rtt_ns,
            default.cubic_tcp_mode) == ("default", False, 100 * US, False)
    ctx = DriverContext.from_properties(env={
        "AERON_CUBICCONGESTIONCONTROL_MEASURERTT": "true", "AERON_CUBICCONGESTIONCONTROL_INITIALRTT": "2ms",
        "AERON_CUBICCONGESTIONCONTROL_TCPMODE": "on",
        "AERON_CONGESTIONCONTROL_SUPPLIER": "io.aeron.driver.ext.CubicCongestionControlSupplier",
    })
    assert (ctx.congestion_control_supplier, ctx.cubic_measure_rtt, ctx.cubic_initial_rtt_ns, ctx.cubic_tcp_mode) == (
        "cubic", True, 2 * MS, True)
    for name in ("aeron_congestion_control_default_strategy_supplier", "io.aeron.driver.DefaultCongestionControlSupplier"):
        assert DriverContext.from_properties(env={}, properties={"aeron.CongestionControl.supplier": name}).congestion_control_supplier == "default"
    for prop, bad in (("aeron.CubicCongestionControl.initialRtt", "0"), ("aeron.CubicCongestionControl.initialRtt", "soon"),
                      ("aeron.CubicCongestionControl.measureRtt", "maybe")):
        with pytest.raises(ConfigurationError, match=prop.replace(".", r"\.")):
            DriverContext.from_properties(env={}, properties={prop: bad})
