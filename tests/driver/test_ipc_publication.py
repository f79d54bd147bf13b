"""IpcPublication alone: positions, limits, unblocking, tethering and its lifecycle, driven by
a manual clock and fake counters (no driver, no conductor, no client)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from aeronpy.client.buffer_claim import BufferClaim
from aeronpy.client.publication import Publication
from aeronpy.driver.ipc_publication import IpcPublication, PublicationState
from aeronpy.driver.tether import SubscriberPosition, TetherState
from aeronpy.logbuffer import descriptor as d
from aeronpy.logbuffer.log_buffers import LogBuffers
from aeronpy.protocol.data_header import HDR_TYPE_PAD
from tests.fakes import FakeCounter
from tests.logbuffer.test_logsupport import SESSION_ID, STREAM_ID, make_log
from tests.logbuffer.test_logsupport import FakeCounter as PositionCounter

TERM = 64 * 1024
WINDOW = TERM // 2
UNBLOCK_NS = 15_000_000_000
WINDOW_LIMIT_NS = 5_000_000_000
RESTING_NS = 10_000_000_000


class Notices:
    """What the publication tells the conductor."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    def on_ipc_publication_unavailable(self, pub: IpcPublication) -> None:
        self.events.append(("unavailable", pub.registration_id))

    def on_ipc_publication_revoked(self, pub: IpcPublication) -> None:
        self.events.append(("revoked", pub.registration_id))

    def on_publication_unblocked(self, pub: IpcPublication) -> None:
        self.events.append(("unblocked", pub.registration_id))

    def on_unavailable_image_for(self, pub: IpcPublication, subscription_id: int) -> None:
        self.events.append(("image-unavailable", subscription_id))

    def on_available_image_for(self, pub: IpcPublication, sub: SubscriberPosition) -> None:
        self.events.append(("image-available", sub.subscription_registration_id))

    def free_counter(self, counter: Any) -> None:
        self.events.append(("free", counter.id))


@pytest.fixture
def log(tmp_path: Path) -> Iterator[LogBuffers]:
    lb = make_log(tmp_path, TERM, 1408, connected=False)
    yield lb
    lb.close()


def make_pub(log: LogBuffers, exclusive: bool = False) -> IpcPublication:
    return IpcPublication(
        registration_id=11, session_id=SESSION_ID, stream_id=STREAM_ID, channel="aeron:ipc",
        is_exclusive=exclusive, log_buffers=log, pub_pos=FakeCounter(), pub_lmt=FakeCounter(),  # type: ignore[arg-type]
        term_window_length=WINDOW, unblock_timeout_ns=UNBLOCK_NS,
        untethered_window_limit_timeout_ns=WINDOW_LIMIT_NS, untethered_linger_timeout_ns=-1,
        untethered_resting_timeout_ns=RESTING_NS, mtu_length=1408, start_position=0, now_ns=0,
    )


def subscriber(registration_id: int, position: int = 0, tether: bool = True, counter_id: int = 0) -> SubscriberPosition:
    return SubscriberPosition(registration_id, FakeCounter(position, counter_id), tether, True)  # type: ignore[arg-type]


def writer(log: LogBuffers, limit: int = 1 << 40) -> Publication:
    return Publication(None, log, "aeron:ipc", STREAM_ID, SESSION_ID, PositionCounter(limit), -1, 1, 1)


def test_limit_follows_the_slowest_subscriber_plus_the_window_with_a_trip_gain(log: LogBuffers) -> None:
    pub = make_pub(log)
    assert pub.update_pub_pos_and_lmt() == 0 and pub.pub_lmt.get() == 0  # nobody to consume
    slow, fast = subscriber(1, 0), subscriber(2, 0)
    pub.add_subscriber(slow)
    pub.add_subscriber(fast)
    assert d.is_connected(log.metadata)
    assert pub.update_pub_pos_and_lmt() == 1
    assert pub.pub_lmt.get() == WINDOW
    slow.counter.set(1024)
    fast.counter.set(8192)
    assert pub.update_pub_pos_and_lmt() == 0  # within the trip gain (window / 8): no new limit
    assert pub.pub_lmt.get() == WINDOW
    slow.counter.set(WINDOW // 8 + 32)
    assert pub.update_pub_pos_and_lmt() == 1
    assert pub.pub_lmt.get() == WINDOW // 8 + 32 + WINDOW
    assert pub.consumer_position == 8192  # the fastest subscriber


def test_without_subscribers_the_limit_falls_back_to_the_consumer_position(log: LogBuffers) -> None:
    pub = make_pub(log)
    sub = subscriber(1, 0)
    pub.add_subscriber(sub)
    pub.update_pub_pos_and_lmt()
    sub.counter.set(4096)
    pub.update_pub_pos_and_lmt()
    assert pub.remove_subscriber(1) is sub and pub.remove_subscriber(1) is None
    assert not d.is_connected(log.metadata)
    assert pub.update_pub_pos_and_lmt() == 1
    assert pub.pub_lmt.get() == 4096


def test_pub_pos_tracks_what_publishers_append(log: LogBuffers) -> None:
    pub = make_pub(log)
    w = writer(log)
    assert w.offer(b"x" * 100) > 0
    pub.update_pub_pos_and_lmt()
    assert pub.pub_pos.get() == 160 == pub.producer_position()


def test_a_publisher_that_died_mid_claim_is_unblocked_after_the_timeout(log: LogBuffers) -> None:
    pub = make_pub(log)
    notices = Notices()
    sub = subscriber(1, 0)
    pub.add_subscriber(sub)
    w = writer(log)
    claim = BufferClaim()
    assert w.try_claim(64, claim) > 0  # never committed: the frame length stays negative
    assert w.offer(b"after") > 0
    pub.update_pub_pos_and_lmt()
    pub.on_time_event(1_000, notices)  # the consumer has not moved since creation (t=0)
    pub.on_time_event(UNBLOCK_NS, notices)
    assert notices.events == []  # not yet past the timeout
    pub.on_time_event(UNBLOCK_NS + 1, notices)
    assert notices.events == [("unblocked", 11)] and pub.unblocked_count == 1
    assert log.term_buffers[0].get_int32(0) == 96  # the claim became padding
    assert log.term_buffers[0].get_uint16(6) == HDR_TYPE_PAD


def test_an_exclusive_publication_is_never_unblocked(log: LogBuffers) -> None:
    pub = make_pub(log, exclusive=True)
    notices = Notices()
    pub.add_subscriber(subscriber(1, 0))
    claim = BufferClaim()
    assert writer(log).try_claim(64, claim) > 0
    pub.on_time_event(1, notices)
    pub.on_time_event(10 * UNBLOCK_NS, notices)
    assert notices.events == []


def test_lifecycle_active_draining_linger_done(log: LogBuffers) -> None:
    pub = make_pub(log)
    notices = Notices()
    sub = subscriber(1, 0)
    pub.add_subscriber(sub)
    pub.incref()
    w = writer(log)
    end = w.offer(b"y" * 200)
    pub.update_pub_pos_and_lmt()
    pub.decref()  # last publisher gone
    assert pub.state is PublicationState.DRAINING
    assert d.end_of_stream_position(log.metadata) == end
    assert pub.pub_lmt.get() == end  # capped at the producer position
    assert pub.is_accepting_subscriptions()  # not drained yet: late subscribers may still join
    pub.on_time_event(1, notices)
    assert pub.state is PublicationState.DRAINING and notices.events == []
    sub.counter.set(end)
    assert pub.is_drained() and not pub.is_accepting_subscriptions()
    pub.on_time_event(2, notices)
    assert pub.state is PublicationState.LINGER and notices.events == [("unavailable", 11)]
    pub.on_time_event(3, notices)
    assert pub.state is PublicationState.DONE


def test_revoke_stops_at_the_producer_position_and_disconnects(log: LogBuffers) -> None:
    pub = make_pub(log)
    notices = Notices()
    pub.add_subscriber(subscriber(1, 0))
    pub.incref()
    end = writer(log).offer(b"z" * 40)
    pub.revoke()
    pub.on_time_event(5, notices)
    assert notices.events == [("revoked", 11)]
    assert pub.state is PublicationState.LINGER
    assert pub.pub_lmt.get() == end == d.end_of_stream_position(log.metadata)
    assert not d.is_connected(log.metadata)


def test_an_untethered_subscriber_left_behind_lingers_rests_and_rejoins(log: LogBuffers) -> None:
    pub = make_pub(log)
    notices = Notices()
    fast = subscriber(1, 0)
    slow = subscriber(2, 0, tether=False, counter_id=42)
    pub.add_subscriber(fast)
    pub.add_subscriber(slow)
    fast.counter.set(WINDOW)  # slow is now a whole window behind
    pub.update_pub_pos_and_lmt()
    t = 1_000
    pub.on_time_event(t, notices)
    pub.on_time_event(t + WINDOW_LIMIT_NS + 1, notices)
    assert notices.events == [("image-unavailable", 2)] and slow.state is TetherState.LINGER
    pub.on_time_event(t + 2 * WINDOW_LIMIT_NS + 2, notices)  # linger follows the window limit
    assert slow.state is TetherState.RESTING
    pub.on_time_event(t + 2 * WINDOW_LIMIT_NS + RESTING_NS + 3, notices)
    assert notices.events[-1] == ("image-available", 2) and slow.state is TetherState.ACTIVE
    assert slow.counter.get() == pub.join_position()


def test_a_tethered_subscriber_is_never_dropped(log: LogBuffers) -> None:
    pub = make_pub(log)
    notices = Notices()
    fast, slow = subscriber(1, 0), subscriber(2, 0)
    pub.add_subscriber(fast)
    pub.add_subscriber(slow)
    fast.counter.set(WINDOW)
    pub.update_pub_pos_and_lmt()
    for i in range(5):
        pub.on_time_event(i * WINDOW_LIMIT_NS, notices)
    assert notices.events == [] and slow.state is TetherState.ACTIVE


def test_cool_down_refuses_new_subscriptions(log: LogBuffers) -> None:
    pub = make_pub(log)
    assert pub.is_accepting_subscriptions()
    pub.in_cool_down = True
    assert not pub.is_accepting_subscriptions()
