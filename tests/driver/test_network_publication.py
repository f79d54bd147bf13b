"""NetworkPublication alone: a real send endpoint on an in-memory network, a manual clock (time
passed as ``now_ns``), real counters and log; the receiver is a peer sending hand-made frames.
No sockets, no sleeps, no conductor or sender agent."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from aeronpy.driver.network_publication import HEARTBEAT_INTERVAL_NS, SETUP_RESEND_INTERVAL_NS, NetworkPublicationState
from aeronpy.driver.system_counters import SystemCounterId as Sys
from aeronpy.driver.tether import SubscriberPosition
from aeronpy.logbuffer import descriptor as d
from aeronpy.protocol import frames
from aeronpy.testing import InMemoryNetwork
from tests.driver.network_harness import (
    CONNECTION_TIMEOUT_NS, INITIAL_TERM_ID, LINGER_NS, MTU, RECEIVER_ID, SESSION, STREAM, TERM, UNBLOCK_NS, WINDOW,
    Counters, PublicationRig, data_frames, heartbeats, of_type,
)

FRAME = 1024  # one frame of a 992-byte payload
PAYLOAD = b"p" * (FRAME - 32)
MS = 1_000_000


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[PublicationRig]:
    r = PublicationRig(tmp_path, InMemoryNetwork(), Counters())
    yield r
    r.close()


def make_rig(tmp_path: Path, **kw: object) -> PublicationRig:
    return PublicationRig(tmp_path, InMemoryNetwork(), Counters(), **kw)  # type: ignore[arg-type]


def connected(rig: PublicationRig) -> bool:
    return d.is_connected(rig.log.metadata)


# ---------------------------------------------------------------------------------------- SETUP
def test_setup_is_sent_every_interval_until_a_status_message_arrives(rig: PublicationRig) -> None:
    rig.offer(PAYLOAD)
    rig.pub.send(0)
    setups = of_type(rig.receiver.received(), frames.SetupFrame)
    assert setups == [frames.SetupFrame(0, SESSION, STREAM, INITIAL_TERM_ID, INITIAL_TERM_ID, TERM, MTU, 0, 0)]
    rig.pub.send(SETUP_RESEND_INTERVAL_NS)  # not yet: strictly after the interval
    assert rig.receiver.received() == []
    for i in range(1, 5):
        rig.pub.send(i * (SETUP_RESEND_INTERVAL_NS + 1))
    received = rig.receiver.received()
    assert len(of_type(received, frames.SetupFrame)) == 4
    assert data_frames(received) == [] and rig.counter("snd-pos") == 0  # no SM: no window, no data
    assert heartbeats(received) == []  # never connected: no heartbeats either

    now = 5 * (SETUP_RESEND_INTERVAL_NS + 1)
    rig.sm(0, now)
    assert rig.pub.has_initial_connection and rig.counter("snd-lmt") == WINDOW
    assert rig.counters[Sys.STATUS_MESSAGES_RECEIVED] == 1
    later = []
    for step in range(1, 101):  # one second of sender duty cycles
        rig.pub.send(now + step * 10 * MS)
        later += rig.receiver.received()
    assert len(of_type(later, frames.SetupFrame)) <= 1  # at most the one already due, then none
    assert [f.term_offset for f in data_frames(later)] == [0]


def test_setup_carries_the_sender_position_and_a_send_setup_sm_elicits_another(rig: PublicationRig) -> None:
    rig.offer(PAYLOAD, 3)
    rig.connect(0)
    rig.pub.send(1 * MS)
    rig.pub.send(2 * MS)
    assert rig.counter("snd-pos") == 3 * FRAME
    for step in range(2, 30):
        rig.pub.send(step * 100 * MS)
    rig.receiver.received()
    now = 3_000 * MS
    rig.sm(0, now, flags=frames.SM_SEND_SETUP_FLAG)  # a new receiver asks for a SETUP
    rig.pub.send(now)
    setups = of_type(rig.receiver.received(), frames.SetupFrame)
    assert len(setups) == 1 and setups[0].term_offset == 3 * FRAME and setups[0].active_term_id == INITIAL_TERM_ID


# ---------------------------------------------------------------------------------------- heartbeats
def test_heartbeats_every_interval_while_idle_and_data_defers_them(rig: PublicationRig) -> None:
    rig.connect(0)
    rig.receiver.received()
    sent = []
    for step in range(1, 101):  # one second, nothing to send
        rig.pub.send(step * 10 * MS)
        sent += rig.receiver.received()
    beats = heartbeats(sent)
    assert 9 <= len(beats) <= 11
    assert all(b.term_offset == 0 and b.term_id == INITIAL_TERM_ID and not b.flags & frames.EOS_FLAG for b in beats)
    assert rig.counters[Sys.HEARTBEATS_SENT] == len(beats)

    now = 2_000 * MS
    rig.pub.send(now)  # a heartbeat is due
    rig.receiver.received()
    rig.offer(PAYLOAD)
    rig.pub.send(now + 50 * MS)  # data instead
    assert [f.term_offset for f in data_frames(rig.receiver.received())] == [0]
    rig.pub.send(now + 50 * MS + HEARTBEAT_INTERVAL_NS - 1)
    assert heartbeats(rig.receiver.received()) == []  # the data reset the heartbeat timer
    rig.pub.send(now + 50 * MS + HEARTBEAT_INTERVAL_NS)
    assert [b.term_offset for b in heartbeats(rig.receiver.received())] == [FRAME]


# ---------------------------------------------------------------------------------------- sender limit
def test_data_goes_out_only_within_the_status_message_window(rig: PublicationRig) -> None:
    rig.offer(PAYLOAD, 6)
    rig.connect(0, window=FRAME)
    rig.pub.send(1 * MS)
    assert [f.term_offset for f in data_frames(rig.receiver.received())] == [0]
    assert rig.counter("snd-pos") == FRAME and rig.counter("snd-lmt") == FRAME
    assert rig.counter("snd-bpe") == 0
    rig.pub.send(2 * MS)
    rig.pub.send(3 * MS)
    assert rig.counter("snd-bpe") == 1  # counted once per blocked stretch
    assert rig.counters[Sys.SENDER_FLOW_CONTROL_LIMITS] == 1
    assert data_frames(rig.receiver.received()) == []

    rig.sm(FRAME, 4 * MS, window=4 * FRAME)
    assert rig.counter("snd-lmt") == 5 * FRAME
    rig.pub.send(5 * MS)  # max-messages-per-send: two datagrams per duty cycle
    assert [f.term_offset for f in data_frames(rig.receiver.received())] == [FRAME, 2 * FRAME]
    rig.pub.send(6 * MS)
    rig.pub.send(7 * MS)
    assert [f.term_offset for f in data_frames(rig.receiver.received())] == [3 * FRAME, 4 * FRAME]
    assert rig.counter("snd-pos") == 5 * FRAME
    assert rig.counters[Sys.BYTES_SENT] == 5 * FRAME  # data bytes only (SETUPs are not counted)


def test_a_status_message_outside_half_a_term_of_the_sender_is_rejected(rig: PublicationRig) -> None:
    rig.connect(0, window=FRAME)
    lmt = rig.counter("snd-lmt")
    rig.sm(TERM // 2 + 32, 1 * MS)
    assert rig.counters[Sys.STATUS_MESSAGES_REJECTED] == 1 and rig.counter("snd-lmt") == lmt


def test_publisher_limit_follows_the_sender_when_connected_and_holds_at_it_when_not(rig: PublicationRig) -> None:
    rig.offer(PAYLOAD, 2)
    assert rig.pub.update_pub_pos_and_lmt() == 0 and rig.counter("pub-lmt") == 0  # not connected
    assert rig.counter("pub-pos") == 2 * FRAME
    rig.connect(0)
    rig.pub.send(1 * MS)
    rig.pub.on_time_event(1 * MS, lambda: None)  # the conductor sees the connection
    assert connected(rig)
    rig.pub.update_pub_pos_and_lmt()
    assert rig.counter("pub-lmt") == 2 * FRAME + WINDOW
    rig.pub.check_receiver_liveness(1 * MS + CONNECTION_TIMEOUT_NS + 1)
    assert not connected(rig)
    rig.pub.update_pub_pos_and_lmt()
    assert rig.counter("pub-lmt") == 2 * FRAME  # back to snd-pos


# ---------------------------------------------------------------------------------------- NAK
def test_nak_resends_at_once_and_the_action_lingers(rig: PublicationRig) -> None:
    rig.offer(PAYLOAD, 2)
    rig.connect(0)
    rig.pub.send(1 * MS)
    rig.receiver.received()
    nak = frames.NakFrame(SESSION, STREAM, INITIAL_TERM_ID, 0, FRAME)
    rig.receiver.send(nak, rig.endpoint.transport.source_address)
    rig.endpoint.poll(2 * MS)
    assert [f.term_offset for f in data_frames(rig.receiver.received())] == [0]
    assert rig.counters[Sys.RETRANSMITS_SENT] == 1 and rig.counters[Sys.RETRANSMITTED_BYTES] == FRAME
    assert rig.counters[Sys.NAK_MESSAGES_RECEIVED] == 1 and rig.counter("snd-naks-received") == 1

    rig.receiver.send(nak, rig.endpoint.transport.source_address)  # same range, still lingering
    rig.endpoint.poll(3 * MS)
    assert data_frames(rig.receiver.received()) == []
    rig.pub.send(2 * MS + 10 * MS + 1)  # linger (10 ms) over: the action retires
    rig.receiver.send(nak, rig.endpoint.transport.source_address)
    rig.endpoint.poll(13 * MS)
    assert [f.term_offset for f in data_frames(rig.receiver.received())] == [0]
    assert rig.counters[Sys.RETRANSMITS_SENT] == 2


def test_nak_with_a_delay_resends_from_the_duty_cycle_after_the_delay(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, retransmit_delay_ns=1 * MS)
    try:
        rig.offer(PAYLOAD, 2)
        rig.connect(0)
        rig.pub.send(1 * MS)
        rig.receiver.received()
        rig.receiver.send(frames.NakFrame(SESSION, STREAM, INITIAL_TERM_ID, FRAME, FRAME), rig.endpoint.transport.source_address)
        rig.endpoint.poll(10 * MS)
        assert data_frames(rig.receiver.received()) == []
        rig.pub.send(11 * MS)  # exactly the delay: not yet
        assert data_frames(rig.receiver.received()) == []
        rig.pub.send(11 * MS + 1)
        assert [f.term_offset for f in data_frames(rig.receiver.received())] == [FRAME]
    finally:
        rig.close()


def test_nak_for_unsent_or_invalid_ranges_resends_nothing(rig: PublicationRig) -> None:
    rig.offer(PAYLOAD, 3)
    rig.connect(0, window=FRAME)
    rig.pub.send(1 * MS)
    rig.receiver.received()
    source = rig.endpoint.transport.source_address
    rig.receiver.send(frames.NakFrame(SESSION, STREAM, INITIAL_TERM_ID, 2 * FRAME, FRAME), source)  # not sent yet
    rig.endpoint.poll(2 * MS)
    assert data_frames(rig.receiver.received()) == [] and rig.counters[Sys.RETRANSMITS_SENT] == 0
    rig.receiver.send(frames.NakFrame(SESSION, STREAM, INITIAL_TERM_ID, 16, FRAME), source)  # misaligned
    rig.endpoint.poll(3 * MS)
    assert rig.counters[Sys.INVALID_PACKETS] == 1 and rig.counter("snd-naks-received") == 1


# ---------------------------------------------------------------------------------------- RTTM, ERR
def test_rttm_request_is_echoed_to_its_source(rig: PublicationRig) -> None:
    rig.connect(0)
    rig.receiver.received()
    rttm = frames.RttmFrame(SESSION, STREAM, 123_456, 0, RECEIVER_ID, frames.RTTM_REPLY_FLAG)
    rig.receiver.send(rttm, rig.endpoint.transport.source_address)
    rig.endpoint.poll(1 * MS)
    replies = of_type(rig.receiver.received(), frames.RttmFrame)
    assert len(replies) == 1
    assert replies[0].echo_timestamp == 123_456 and replies[0].receiver_id == RECEIVER_ID and not replies[0].flags & 0x80


def test_error_frame_from_a_live_receiver_disconnects_it_and_reports(rig: PublicationRig) -> None:
    rig.connect(0)
    rig.pub.on_time_event(0, lambda: None)
    assert connected(rig)
    source = rig.endpoint.transport.source_address
    rig.receiver.send(frames.ErrorFrame.create(SESSION, STREAM, 999, 13, "not you"), source)
    rig.endpoint.poll(1 * MS)
    assert rig.errors == [] and connected(rig)  # receiver 999 is not live
    rig.receiver.send(frames.ErrorFrame.create(SESSION, STREAM, RECEIVER_ID, 13, "rejected"), source)
    rig.endpoint.poll(2 * MS)
    assert rig.counters[Sys.ERROR_FRAMES_RECEIVED] == 2
    assert not connected(rig) and not rig.pub.has_receivers
    ((registration_id, _dest, session, stream, receiver, _tag, address, code, text),) = rig.errors
    assert (registration_id, session, stream, receiver, code, text) == (11, SESSION, STREAM, RECEIVER_ID, 13, b"rejected")
    assert address == rig.receiver.address


# ---------------------------------------------------------------------------------------- spies
def test_spies_simulate_a_connection_and_the_sender_follows_the_fastest_spy(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, spies_simulate_connection=True)
    try:
        spy_pos = rig.counters.new()
        rig.pub.spies.append(SubscriberPosition(31, spy_pos, True, True))
        rig.offer(PAYLOAD, 2)
        rig.pub.on_time_event(0, lambda: None)
        assert connected(rig)
        rig.pub.update_pub_pos_and_lmt()
        assert rig.counter("pub-lmt") == WINDOW
        spy_pos.set(2 * FRAME)  # the spy read both frames
        rig.pub.update_pub_pos_and_lmt()
        rig.pub.send(1 * MS)
        assert rig.counter("snd-pos") == 2 * FRAME
        assert data_frames(rig.receiver.received()) == []  # nobody on the wire to send to
    finally:
        rig.close()


def test_without_spies_simulating_a_connection_a_spy_alone_does_not_connect(rig: PublicationRig) -> None:
    rig.pub.spies.append(SubscriberPosition(31, rig.counters.new(2 * FRAME), True, True))
    rig.offer(PAYLOAD, 2)
    rig.pub.on_time_event(0, lambda: None)
    rig.pub.update_pub_pos_and_lmt()
    rig.pub.send(1 * MS)
    assert not connected(rig) and rig.counter("pub-lmt") == 0 and rig.counter("snd-pos") == 0


# ---------------------------------------------------------------------------------------- lifecycle
def test_draining_waits_while_live_receivers_may_still_nak_then_lingers_then_done(rig: PublicationRig) -> None:
    rig.offer(PAYLOAD, 3)
    rig.connect(0, window=FRAME)
    rig.pub.send(1 * MS)
    rig.pub.decref()
    assert rig.pub.state is NetworkPublicationState.DRAINING
    assert d.end_of_stream_position(rig.log.metadata) == 3 * FRAME
    for t in (2 * MS, 1_000 * MS, 4_000 * MS):
        rig.pub.on_time_event(t, lambda: None)
        assert rig.pub.state is NetworkPublicationState.DRAINING  # unsent data, receiver live
    rig.endpoint.check_liveness(CONNECTION_TIMEOUT_NS + 1 + 1)  # the receiver's SM was at 0
    assert not rig.pub.has_receivers
    now = CONNECTION_TIMEOUT_NS + 2
    rig.pub.on_time_event(now, lambda: None)
    assert rig.pub.state is NetworkPublicationState.LINGER
    rig.pub.on_time_event(now + LINGER_NS, lambda: None)
    assert rig.pub.state is NetworkPublicationState.LINGER
    rig.pub.on_time_event(now + LINGER_NS + 1, lambda: None)
    assert rig.pub.state is NetworkPublicationState.DONE


def test_all_sent_drains_to_end_of_stream_heartbeats_and_a_unicast_eos_sm_ends_linger(rig: PublicationRig) -> None:
    rig.offer(PAYLOAD)
    rig.connect(0)
    rig.pub.send(1 * MS)
    rig.pub.decref()
    rig.pub.on_time_event(2 * MS, lambda: None)
    assert rig.pub.state is NetworkPublicationState.LINGER and rig.pub.is_end_of_stream
    rig.receiver.received()
    rig.pub.send(200 * MS)
    (beat,) = heartbeats(rig.receiver.received())
    assert beat.flags & frames.EOS_FLAG and beat.term_offset == FRAME
    rig.pub.on_time_event(300 * MS, lambda: None)
    assert rig.pub.state is NetworkPublicationState.LINGER  # linger not over
    rig.sm(FRAME, 301 * MS, flags=frames.SM_EOS_FLAG)  # the receiver saw the end of stream
    rig.pub.on_time_event(302 * MS, lambda: None)
    assert rig.pub.state is NetworkPublicationState.DONE


def test_signal_eos_off_heartbeats_carry_no_end_of_stream(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, signal_eos=False)
    try:
        rig.connect(0)
        rig.pub.decref()
        rig.pub.on_time_event(1 * MS, lambda: None)
        rig.receiver.received()
        rig.pub.send(200 * MS)
        (beat,) = heartbeats(rig.receiver.received())
        assert not beat.flags & frames.EOS_FLAG
    finally:
        rig.close()


def test_connection_times_out_when_the_receiver_falls_silent(rig: PublicationRig) -> None:
    rig.connect(0)
    rig.pub.on_time_event(0, lambda: None)
    assert connected(rig)
    rig.sm(0, 3_000 * MS)  # refreshed
    rig.endpoint.check_liveness(3_000 * MS + CONNECTION_TIMEOUT_NS)
    assert connected(rig)
    rig.endpoint.check_liveness(3_000 * MS + CONNECTION_TIMEOUT_NS + 1)
    assert not connected(rig) and not rig.pub.has_receivers


def test_revoke_lingers_at_once_with_revoked_end_of_stream_heartbeats(rig: PublicationRig) -> None:
    rig.offer(PAYLOAD, 2)
    rig.connect(0)
    rig.pub.send(1 * MS)
    revoked: list[int] = []
    rig.pub.revoke()
    rig.pub.on_time_event(2 * MS, lambda: None, lambda: revoked.append(1))
    assert rig.pub.state is NetworkPublicationState.LINGER and revoked == [1]
    assert rig.counter("pub-lmt") == 2 * FRAME and not connected(rig)
    assert rig.counters[Sys.PUBLICATIONS_REVOKED] == 1
    rig.receiver.received()
    rig.pub.send(200 * MS)
    (beat,) = heartbeats(rig.receiver.received())
    assert beat.flags & frames.EOS_FLAG and beat.flags & frames.REVOKED_FLAG


def test_min_flow_control_limits_the_sender_to_the_slowest_receiver_until_it_times_out(tmp_path: Path) -> None:
    from aeronpy.driver.flow_control import MinMulticastFlowControl

    rig = make_rig(tmp_path, flow_control=MinMulticastFlowControl(receiver_timeout_ns=1_000 * MS, group_min_size=2))
    try:
        rig.offer(PAYLOAD, 8)
        rig.pub.send(0)
        rig.sm(0, 1 * MS, window=4 * FRAME, receiver_id=1)
        assert rig.counter("snd-lmt") == 0  # one receiver of a group of at least two: no window
        rig.pub.on_time_event(1 * MS, lambda: None)
        assert not connected(rig)
        rig.sm(0, 2 * MS, window=2 * FRAME, receiver_id=2)
        assert rig.counter("snd-lmt") == 2 * FRAME  # the slower (smaller) edge
        rig.pub.on_time_event(2 * MS, lambda: None)
        assert connected(rig)
        for t in range(3, 8):
            rig.pub.send(t * MS)
        assert rig.counter("snd-pos") == 2 * FRAME
        rig.sm(2 * FRAME, 500 * MS, window=4 * FRAME, receiver_id=1)  # only receiver 1 keeps talking
        rig.sm(2 * FRAME, 900 * MS, window=4 * FRAME, receiver_id=1)
        for t in range(901, 1_030, 10):  # receiver 2 (last SM at 2 ms) times out after 1 s
            rig.pub.send(t * MS)
        assert rig.pub.flow_control.receiver_count == 1
        assert rig.counter("snd-lmt") == 2 * FRAME  # below the group's minimum size: held
        assert rig.counter("snd-pos") == 2 * FRAME
        rig.pub.on_time_event(1_030 * MS, lambda: None)
        assert not connected(rig)  # the group is short of its minimum size
    finally:
        rig.close()



def test_a_publisher_that_died_mid_claim_is_unblocked_after_the_timeout_and_the_rest_is_sent(rig: PublicationRig) -> None:
    from aeronpy.client.buffer_claim import BufferClaim

    rig.connect(0)
    claim = BufferClaim()
    assert rig.writer.try_claim(FRAME - 32, claim) > 0  # never committed
    rig.offer(PAYLOAD)
    unblocked: list[int] = []
    rig.pub.send(1 * MS)
    assert rig.counter("snd-pos") == 0  # the sender cannot pass the uncommitted frame
    rig.pub.on_time_event(1 * MS, lambda: unblocked.append(1))  # snd-pos last moved at creation (0)
    rig.pub.on_time_event(UNBLOCK_NS, lambda: unblocked.append(1))
    assert unblocked == []
    rig.pub.on_time_event(UNBLOCK_NS + 1, lambda: unblocked.append(1))
    assert unblocked == [1]
    rig.receiver.received()
    rig.pub.send(UNBLOCK_NS + 2)
    rig.pub.send(UNBLOCK_NS + 3)
    assert rig.counter("snd-pos") == 2 * FRAME
    sent = [f for f in rig.receiver.received() if isinstance(f, frames.DataFrame)]
    assert [(f.term_offset, f.is_pad) for f in sent] == [(0, True), (FRAME, False)]
