"""PublicationImage alone: a real receive endpoint on an in-memory network, time passed as
``now_ns``, real counters and log; the sender is a peer sending hand-made DATA frames.  The
conductor's and the receiver's parts of a duty cycle are called directly.  No sockets, no sleeps."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from aeronpy.driver.publication_image import ImageState
from aeronpy.driver.system_counters import SystemCounterId as Sys
from aeronpy.driver.tether import SubscriberPosition, TetherState
from aeronpy.logbuffer import descriptor as d
from aeronpy.protocol import frames
from aeronpy.protocol.data_header import HDR_TYPE_PAD
from aeronpy.testing import InMemoryNetwork
from tests.driver.network_harness import (
    INITIAL_TERM_ID, LIVENESS_NS, RECEIVER_ID, SESSION, SM_TIMEOUT_NS, STREAM, TERM, WINDOW,
    Counters, ImageRig, of_type,
)

MS = 1_000_000
NAK_DELAY = 1 * MS
P32 = b"a" * 32  # 64-byte frames


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[ImageRig]:
    r = ImageRig(tmp_path, InMemoryNetwork(), Counters(), nak_delay_ns=NAK_DELAY)
    yield r
    r.close()


def make_rig(tmp_path: Path, **kw: object) -> ImageRig:
    return ImageRig(tmp_path, InMemoryNetwork(), Counters(), **kw)  # type: ignore[arg-type]


def sms(rig: ImageRig) -> list[frames.StatusMessageFrame]:
    return of_type(rig.sender.received(), frames.StatusMessageFrame)


def naks_and_sms(rig: ImageRig) -> tuple[list[frames.NakFrame], list[frames.StatusMessageFrame]]:
    received = rig.sender.received()
    return of_type(received, frames.NakFrame), of_type(received, frames.StatusMessageFrame)


# ---------------------------------------------------------------------------------------- insertion
def test_frames_are_rebuilt_into_the_log_and_rcv_pos_follows(rig: ImageRig) -> None:
    first, second = rig.data(0, P32), rig.data(64, b"b" * 32)
    assert rig.deliver(first, 0) == 1
    assert rig.hwm.get() == 64 and rig.term_bytes(0, 64) == first.encode()
    rig.deliver(second, 1)
    rig.image.track_rebuild(2)
    assert rig.rcv_pos.get() == 128 and rig.hwm.get() == 128
    assert rig.term_bytes(64, 64) == second.encode()


def test_reordered_frames_fill_in_and_duplicates_change_nothing(rig: ImageRig) -> None:
    frames_ = [rig.data(i * 64, bytes([i]) * 32) for i in range(4)]
    for i in (2, 0, 3):
        rig.deliver(frames_[i], 0)
    rig.image.track_rebuild(0)
    assert rig.hwm.get() == 256 and rig.rcv_pos.get() == 64  # the gap at 64 holds it back
    rig.deliver(frames_[1], 10)
    rig.deliver(frames_[1], 11)  # duplicate
    rig.deliver(frames_[0], 12)  # old duplicate
    rig.image.track_rebuild(12)
    assert rig.rcv_pos.get() == 256
    assert rig.term_bytes(0, 256) == b"".join(f.encode() for f in frames_)
    assert rig.naks.get() == 0 and rig.counters[Sys.INVALID_PACKETS] == 0


def test_frames_beyond_the_window_granted_are_overruns_and_dropped(rig: ImageRig) -> None:
    rig.deliver(rig.data(TERM // 2, P32), 0)  # join 0: the window ends at half a term
    assert rig.counters[Sys.FLOW_CONTROL_OVER_RUNS] == 1 and rig.hwm.get() == 0


def test_invalid_frame_walks_are_counted_and_dropped(rig: ImageRig) -> None:
    good = rig.data(0, P32).encode()
    bad = bytearray(good + rig.data(96, P32).encode())  # the second frame is not where the first ends
    rig.deliver(bytes(bad), 0)
    assert rig.counters[Sys.INVALID_PACKETS] == 1 and rig.hwm.get() == 0


# ---------------------------------------------------------------------------------------- loss
def test_a_gap_is_naked_after_the_feedback_delay_then_again_after_the_retry_delay(rig: ImageRig) -> None:
    rig.deliver(rig.data(0, P32), 0)
    rig.deliver(rig.data(128, P32), 0)
    t0 = 5 * MS
    rig.duty_cycle(t0)  # gap found: timer armed
    naks, _ = naks_and_sms(rig)
    assert naks == [] and rig.rcv_pos.get() == 64
    rig.duty_cycle(t0 + NAK_DELAY - 1)
    assert naks_and_sms(rig)[0] == []
    rig.duty_cycle(t0 + NAK_DELAY)
    naks, _ = naks_and_sms(rig)
    assert naks == [frames.NakFrame(SESSION, STREAM, INITIAL_TERM_ID, 64, 64)]
    assert rig.naks.get() == 1 and rig.counters[Sys.NAK_MESSAGES_SENT] == 1
    rig.duty_cycle(t0 + NAK_DELAY + NAK_DELAY - 1)
    assert naks_and_sms(rig)[0] == []
    rig.duty_cycle(t0 + 2 * NAK_DELAY)
    assert len(naks_and_sms(rig)[0]) == 1 and rig.naks.get() == 2

    rig.deliver(rig.data(64, P32), t0 + 3 * NAK_DELAY)  # the retransmit fills the gap
    for i in range(3, 10):
        rig.duty_cycle(t0 + i * NAK_DELAY)
    assert rig.rcv_pos.get() == 192 and naks_and_sms(rig)[0] == []


def test_loss_is_reported_once_per_gap_as_an_entry_then_observations(rig: ImageRig) -> None:
    rig.deliver(rig.data(0, P32), 0)
    rig.deliver(rig.data(128, P32), 0)
    rig.duty_cycle(0)
    assert rig.losses.entries == []  # reported when NAKed, not when first seen
    rig.epoch[0] += 7
    rig.duty_cycle(NAK_DELAY)
    assert rig.losses.entries == [(64, 1_700_000_000_007, SESSION, STREAM, rig.image.channel, "127.0.0.1:41000")]
    rig.duty_cycle(2 * NAK_DELAY)
    assert rig.losses.observations == [(0, 64, 1_700_000_000_007)]


def test_unreliable_images_fill_gaps_with_padding_instead_of_naking(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, is_reliable=False, nak_delay_ns=0)
    try:
        rig.deliver(rig.data(0, P32), 0)
        rig.deliver(rig.data(128, P32), 0)
        for t in range(4):
            rig.duty_cycle(t)
        assert naks_and_sms(rig)[0] == [] and rig.counters[Sys.LOSS_GAP_FILLS] == 1
        assert rig.rcv_pos.get() == 192
        assert rig.image.term_buffers[0].get_uint16(64 + 6) == HDR_TYPE_PAD
    finally:
        rig.close()


# ---------------------------------------------------------------------------------------- status messages
def test_status_messages_at_once_then_on_progress_or_timeout_with_the_receiver_window(rig: ImageRig) -> None:
    rig.duty_cycle(0)
    (sm,) = sms(rig)
    assert (sm.consumption_term_id, sm.consumption_term_offset, sm.receiver_window) == (INITIAL_TERM_ID, 0, WINDOW)
    assert sm.receiver_id == RECEIVER_ID and sm.group_tag is None and not sm.flags
    assert rig.counters[Sys.STATUS_MESSAGES_SENT] == 1

    frame = b"f" * (1024 - 32)
    for i in range(8):  # 8 KiB: exactly a quarter window, not more
        rig.deliver(rig.data(i * 1024, frame), 1)
    rig.duty_cycle(2)
    assert sms(rig) == []
    rig.deliver(rig.data(8 * 1024, frame), 3)
    rig.duty_cycle(4)  # past a quarter window: an SM now
    (sm,) = sms(rig)
    assert sm.consumption_term_offset == 9 * 1024
    rig.duty_cycle(4 + SM_TIMEOUT_NS - 1)
    assert sms(rig) == []
    rig.duty_cycle(4 + SM_TIMEOUT_NS)  # the timeout repeats the last one
    (again,) = sms(rig)
    assert again == sm


def test_status_messages_carry_the_group_tag(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, group_tag=77)
    try:
        rig.duty_cycle(0)
        (sm,) = sms(rig)
        assert sm.group_tag == 77 and sm.frame_length == 44
    finally:
        rig.close()


def test_the_rebuild_starts_at_the_join_position_of_the_setup(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, active_term_id=INITIAL_TERM_ID + 1, term_offset=1024)
    try:
        join = TERM + 1024
        assert rig.image.join_position == join and rig.rcv_pos.get() == join and rig.hwm.get() == join
        rig.duty_cycle(0)
        (sm,) = sms(rig)
        assert (sm.consumption_term_id, sm.consumption_term_offset) == (INITIAL_TERM_ID + 1, 1024)
        rig.deliver(rig.data(join, P32), 1)
        rig.image.track_rebuild(2)
        assert rig.rcv_pos.get() == join + 64
        assert bytes(rig.image.term_buffers[1].get_bytes(1024, 64)) == rig.data(join, P32).encode()
        rig.deliver(rig.data(join - 1024, P32), 3)  # before the join position: under-run
        assert rig.counters[Sys.FLOW_CONTROL_UNDER_RUNS] == 1
    finally:
        rig.close()


# ---------------------------------------------------------------------------------------- heartbeats, EOS
def test_heartbeats_advance_the_high_water_mark_and_keep_the_image_alive(rig: ImageRig) -> None:
    sub = SubscriberPosition(5, rig.counters.new(), True, True)
    rig.image.subscribers.append(sub)
    rig.deliver(rig.data(0, P32), 0)
    rig.deliver(rig.heartbeat(128), LIVENESS_NS)  # the sender is past what we saw: a gap
    assert rig.hwm.get() == 128 and rig.counters[Sys.HEARTBEATS_RECEIVED] == 1
    rig.duty_cycle(LIVENESS_NS + 1)
    rig.duty_cycle(LIVENESS_NS + 1 + NAK_DELAY)
    naks, _ = naks_and_sms(rig)
    assert naks == [frames.NakFrame(SESSION, STREAM, INITIAL_TERM_ID, 64, 64)]
    rig.image.on_time_event(2 * LIVENESS_NS)
    assert rig.image.state is ImageState.ACTIVE  # heard from within the liveness timeout
    rig.image.on_time_event(2 * LIVENESS_NS + 1)
    assert rig.image.state is ImageState.DRAINING


def test_liveness_timeout_drains_then_lingers_then_done(rig: ImageRig) -> None:
    sub = SubscriberPosition(5, rig.counters.new(), True, True)
    rig.image.subscribers.append(sub)
    rig.deliver(rig.data(0, P32), 0)
    rig.image.track_rebuild(0)
    rig.image.on_time_event(LIVENESS_NS)
    assert rig.image.state is ImageState.ACTIVE
    rig.image.on_time_event(LIVENESS_NS + 1)
    assert rig.image.state is ImageState.DRAINING
    t = LIVENESS_NS + 1
    rig.image.on_time_event(t + 6 * SM_TIMEOUT_NS)
    assert rig.image.state is ImageState.DRAINING  # the subscriber has not read rcv-pos yet
    sub.counter.set(64)
    rig.image.on_time_event(t + 5 * SM_TIMEOUT_NS + 2)
    assert rig.image.state is ImageState.LINGER
    linger_start = t + 5 * SM_TIMEOUT_NS + 2
    rig.image.on_time_event(linger_start + LIVENESS_NS)
    assert rig.image.state is ImageState.LINGER
    rig.image.on_time_event(linger_start + LIVENESS_NS + 1)
    assert rig.image.state is ImageState.DONE


def test_end_of_stream_heartbeat_ends_the_image_once_all_is_rebuilt(rig: ImageRig) -> None:
    rig.image.subscribers.append(SubscriberPosition(5, rig.counters.new(), True, True))
    rig.deliver(rig.data(0, P32), 0)
    rig.deliver(rig.heartbeat(64, eos=True), 1)
    assert rig.image.is_end_of_stream and d.end_of_stream_position(rig.log.metadata) == 64
    rig.image.on_time_event(2)
    assert rig.image.state is ImageState.ACTIVE  # rcv-pos has not reached the end yet
    rig.image.track_rebuild(3)
    rig.image.on_time_event(4)
    assert rig.image.state is ImageState.DRAINING
    rig.sender.received()
    rig.image.send_pending_status_message(4 + SM_TIMEOUT_NS)
    (sm,) = sms(rig)
    assert sm.flags & frames.SM_EOS_FLAG


def test_revoked_end_of_stream_marks_the_log_and_drains_at_once(rig: ImageRig) -> None:
    rig.deliver(rig.heartbeat(0, revoked=True), 0)
    assert rig.image.is_revoked and d.is_publication_revoked(rig.log.metadata)
    assert rig.counters[Sys.PUBLICATION_IMAGES_REVOKED] == 1
    rig.image.on_time_event(1)
    assert rig.image.state is ImageState.DRAINING
    rig.image.on_time_event(2)
    assert rig.image.state is ImageState.LINGER


def test_rejected_image_sends_error_frames_instead_of_status_messages(rig: ImageRig) -> None:
    rig.image.reject(b"go away")
    rig.deliver(rig.data(0, P32), 0)
    assert rig.hwm.get() == 0  # packets are ignored
    rig.duty_cycle(SM_TIMEOUT_NS)
    received = rig.sender.received()
    assert of_type(received, frames.StatusMessageFrame) == []
    (err,) = of_type(received, frames.ErrorFrame)
    assert (err.error_code, err.error_text, err.receiver_id) == (13, b"go away", RECEIVER_ID)
    assert rig.counters[Sys.ERROR_FRAMES_SENT] == 1


# ---------------------------------------------------------------------------------------- subscribers
def test_status_messages_follow_the_slowest_tethered_subscriber(rig: ImageRig) -> None:
    slow, fast = rig.counters.new(), rig.counters.new()
    resting = SubscriberPosition(4, rig.counters.new(), False, True, state=TetherState.RESTING)  # does not count
    rig.image.subscribers += [resting, SubscriberPosition(6, fast, True, True), SubscriberPosition(5, slow, True, True)]
    frame = b"f" * (1024 - 32)
    for i in range(16):
        rig.deliver(rig.data(i * 1024, frame), 0)
    rig.duty_cycle(0)
    rig.sender.received()
    fast.set(16 * 1024)
    rig.duty_cycle(1)
    assert sms(rig) == []  # the slow one has read nothing: no progress to report
    slow.set(12 * 1024)
    rig.duty_cycle(2)
    (sm,) = sms(rig)
    assert sm.consumption_term_offset == 12 * 1024


def test_an_untethered_subscriber_left_behind_goes_unavailable_a_tethered_one_never(rig: ImageRig) -> None:
    tethered = SubscriberPosition(5, rig.counters.new(), True, True)
    untethered = SubscriberPosition(6, rig.counters.new(), False, True)
    fast = SubscriberPosition(7, rig.counters.new(WINDOW), True, True)
    rig.image.subscribers += [tethered, untethered, fast]
    events: list[tuple[str, int]] = []

    def tick(now: int) -> None:
        rig.image.check_untethered_subscriptions(
            now, lambda s: events.append(("unavailable", s.subscription_registration_id)),
            lambda s: events.append(("available", s.subscription_registration_id)), lambda c: None,
        )

    tick(0)
    tick(5_000 * MS)  # the window-limit timeout (5 s), not past it
    assert events == []
    tick(5_000 * MS + 1)
    assert events == [("unavailable", 6)] and untethered.state is TetherState.LINGER
    assert tethered.state is TetherState.ACTIVE
    tick(10_000 * MS + 2)  # linger (= window limit) over: resting (rejoin)
    assert untethered.state is TetherState.RESTING
    tick(20_000 * MS + 3)  # resting over: back at the join position
    assert events[-1] == ("available", 6) and untethered.state is TetherState.ACTIVE
    assert untethered.counter.get() == rig.image.current_join_position()


# ---------------------------------------------------------------------------------------- with a publication
@pytest.mark.parametrize("trouble", ["loss", "reorder", "duplicate"])
def test_a_publication_and_an_image_over_a_troubled_network_end_with_the_same_bytes(tmp_path: Path, trouble: str) -> None:
    """The two network halves alone (no conductor, no agents): the publication's send endpoint
    and the image's receive endpoint on one in-memory network that loses, reorders or
    duplicates data; NAKs and retransmits repair it, time is passed explicitly."""
    from tests.driver.network_harness import PublicationRig, data_frames

    network = InMemoryNetwork(auto_deliver=False)
    counters = Counters()
    pub = PublicationRig(tmp_path, network, counters, receiver_address=("127.0.0.1", 42999))
    img = ImageRig(tmp_path, network, counters, sender_address=("127.0.0.1", 41999),
                   control_address=pub.endpoint.transport.source_address)
    frames_sent = 0
    dropped = []

    def move(now: int) -> None:
        nonlocal frames_sent
        batch = network.in_flight
        network.in_flight = []
        data = [d for d in batch if data_frames([frames.decode_frame(d.data)])]
        if trouble == "loss" and data and frames_sent <= 2 < frames_sent + len(data) and not dropped:
            dropped.append(data[2 - frames_sent])
            batch.remove(dropped[0])
        elif trouble == "reorder":
            batch.reverse()
        elif trouble == "duplicate":
            batch = batch + data
        frames_sent += len(data)
        network.deliver(batch)

    try:
        pub.offer(P32 * 15, 8)  # eight 512-byte frames
        for step in range(200):
            now = step * MS
            pub.pub.send(now)
            move(now)
            img.endpoint.poll(now)
            img.duty_cycle(now)
            move(now)
            pub.endpoint.poll(now)
            if img.rcv_pos.get() == 8 * 512:
                break
        assert img.rcv_pos.get() == 8 * 512
        assert img.term_bytes(0, 8 * 512) == bytes(pub.log.term_buffers[0].get_bytes(0, 8 * 512))
        naks = counters[Sys.NAK_MESSAGES_SENT]
        if trouble == "loss":
            assert len(dropped) == 1 and naks >= 1 and counters[Sys.RETRANSMITS_SENT] >= 1
        elif trouble == "duplicate":
            assert naks == 0
    finally:
        img.close()
        pub.close()
