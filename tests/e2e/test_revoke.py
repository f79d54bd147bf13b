"""Publication revoke: REMOVE_PUBLICATION with the REVOKE flag (0x1), IPC and UDP.

The driver only sets the metadata flag on the command; its next timer tick performs the revoke
(end of stream at the producer position, ON_UNAVAILABLE_IMAGE once, LINGER, counter 40).
"""

from __future__ import annotations

import os
import socket
import struct
from typing import Any, Callable

from aeronpy.concurrent.counters import RECORD_ALLOCATED
from aeronpy.driver.system_counters import SystemCounterId
from aeronpy.logbuffer import descriptor
from aeronpy.protocol import data_header as dh
from tests.conftest import wait_for
from tests.e2e.test_udp import free_port, system_counter

MSG = struct.Struct("<q")
TIMER_NS = 10_000_000  # 10 ms timer ticks: the revoke happens within a few of them
HEARTBEAT = struct.Struct("<ibBhiiiiq")
SM = struct.Struct("<ibBhiiiiiq")


def _exchange(pub: Any, sub: Any, count: int) -> None:
    got: list[int] = []
    sent = 0
    while len(got) < count:
        if sent < count and pub.offer(MSG.pack(sent)) > 0:
            sent += 1
        sub.poll(lambda buffer, offset, length, header: got.append(buffer.get_int64(offset)), 64)
    assert got == list(range(count))


def _allocated(aeron: Any, counter_id: int) -> bool:
    return bool(aeron.counters_reader.get_counter_state(counter_id) == RECORD_ALLOCATED)


def _round_trip(aeron: Any) -> None:
    """A synchronous driver command: every response queued before it has been handled."""
    aeron.add_subscription("aeron:ipc", 999_999).close()


def test_ipc_revoke_one_unavailable_image_and_resources_freed(
    driver_factory: Callable[..., Any], client_factory: Callable[..., Any]
) -> None:
    driver_factory(timer_interval_ns=TIMER_NS)
    aeron = client_factory()
    unavailable: list[Any] = []
    sub = aeron.add_subscription("aeron:ipc", 11, unavailable_image_handler=unavailable.append)
    pub = aeron.add_publication("aeron:ipc", 11)
    wait_for(lambda: pub.is_connected and sub.image_count == 1, message="connection")
    _exchange(pub, sub, 5)
    image = sub.images[0]
    path = pub.log_buffers.path
    limit_id = pub.publication_limit_id
    sub_pos_id = image.subscriber_position_id
    metadata = image.log_buffers.metadata
    revoked_before = system_counter(aeron, SystemCounterId.PUBLICATIONS_REVOKED)
    producer = pub.position

    pub.revoke()
    assert pub.is_closed

    wait_for(lambda: unavailable, message="unavailable image")
    wait_for(lambda: not os.path.exists(path), message="log file deleted")
    wait_for(lambda: not _allocated(aeron, limit_id), message="pub-lmt freed")
    wait_for(lambda: not _allocated(aeron, sub_pos_id), message="sub-pos freed")
    assert system_counter(aeron, SystemCounterId.PUBLICATIONS_REVOKED) == revoked_before + 1
    assert descriptor.is_publication_revoked(metadata)
    assert descriptor.end_of_stream_position(metadata) == producer
    # A new subscription gets no image of the revoked publication.
    late = aeron.add_subscription("aeron:ipc", 11)
    _round_trip(aeron)
    assert late.image_count == 0
    assert sub.image_count == 0
    assert len(unavailable) == 1 and unavailable[0].correlation_id == pub.registration_id
    assert producer > 0


def test_shared_ipc_publication_revoked_by_one_client(
    driver_factory: Callable[..., Any], client_factory: Callable[..., Any]
) -> None:
    driver_factory(timer_interval_ns=TIMER_NS)
    a = client_factory()
    b = client_factory()
    unavailable: list[Any] = []
    sub = a.add_subscription("aeron:ipc", 12, unavailable_image_handler=unavailable.append)
    pub_a = a.add_publication("aeron:ipc", 12)
    pub_b = b.add_publication("aeron:ipc", 12)
    assert pub_a.session_id == pub_b.session_id  # one shared log
    wait_for(lambda: pub_a.is_connected and pub_b.is_connected and sub.image_count == 1, message="connection")
    _exchange(pub_a, sub, 3)
    path = pub_a.log_buffers.path
    revoked_before = system_counter(a, SystemCounterId.PUBLICATIONS_REVOKED)

    pub_a.revoke()

    # Everyone sharing the log sees the revoke: flag set, not connected, image gone once.
    wait_for(lambda: unavailable, message="unavailable image")
    assert pub_b.is_publication_revoked
    wait_for(lambda: not pub_b.is_connected, message="shared publication disconnected")
    assert system_counter(a, SystemCounterId.PUBLICATIONS_REVOKED) == revoked_before + 1
    # Still referenced by client b: LINGER, not re-linked to new subscriptions.
    assert os.path.exists(path)
    late = a.add_subscription("aeron:ipc", 12)
    _round_trip(a)
    assert late.image_count == 0
    # A new publication on the stream is a new log, not the revoked one.
    fresh = b.add_publication("aeron:ipc", 12)
    assert fresh.registration_id != pub_a.registration_id
    assert not fresh.is_publication_revoked
    assert fresh.log_buffers.path != path

    pub_b.close()  # last reference: LINGER -> DONE, log deleted
    wait_for(lambda: not os.path.exists(path), message="log file deleted")
    assert len(unavailable) == 1
    assert system_counter(a, SystemCounterId.PUBLICATIONS_REVOKED) == revoked_before + 1


def _recv_heartbeat(sock: socket.socket, session_id: int) -> tuple[int, tuple[str, int]]:
    """Next heartbeat (zero-length DATA frame) of ``session_id``: (flags, source address)."""
    while True:
        data, address = sock.recvfrom(65536)
        if len(data) >= HEARTBEAT.size:
            frame_length, _version, flags, frame_type, _off, session, _stream, _term, _res = HEARTBEAT.unpack_from(data)
            if frame_type == dh.HDR_TYPE_DATA and frame_length == 0 and session == session_id:
                return flags, address


def test_udp_revoke_heartbeats_eos_revoked_and_spy_unavailable(
    driver_factory: Callable[..., Any], client_factory: Callable[..., Any]
) -> None:
    driver_factory(timer_interval_ns=TIMER_NS)
    aeron = client_factory()
    port = free_port()
    # signal-eos off: a revoke signals EOS|REVOKED anyway
    channel = f"aeron:udp?endpoint=127.0.0.1:{port}|eos=false"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver:
        receiver.bind(("127.0.0.1", port))
        receiver.settimeout(10.0)
        unavailable: list[Any] = []
        spy = aeron.add_subscription(
            f"aeron-spy:aeron:udp?endpoint=127.0.0.1:{port}", 21, unavailable_image_handler=unavailable.append
        )
        pub = aeron.add_publication(channel, 21)
        wait_for(lambda: spy.image_count == 1, message="spy image")

        # Act as the receiver: wait for SETUP, answer with a status message.
        while True:
            data, source = receiver.recvfrom(65536)
            if len(data) >= 8 and struct.unpack_from("<h", data, 6)[0] == dh.HDR_TYPE_SETUP:
                _, _, _, _, term_offset, session_id, stream_id, _initial, active_term_id = struct.unpack_from("<ibBhiiiii", data)
                break
        assert session_id == pub.session_id and stream_id == 21
        receiver.sendto(SM.pack(36, 0, 0, dh.HDR_TYPE_SM, session_id, stream_id, active_term_id, term_offset, 65536, 4242), source)
        wait_for(lambda: pub.is_connected, message="publication connected")
        flags, _ = _recv_heartbeat(receiver, session_id)
        assert flags & (dh.EOS_FLAG | dh.REVOKED_FLAG) == 0

        metadata = pub.log_buffers.metadata
        revoked_before = system_counter(aeron, SystemCounterId.PUBLICATIONS_REVOKED)
        pub.revoke()
        wait_for(lambda: descriptor.is_publication_revoked(metadata), message="revoked flag")
        wait_for(
            lambda: system_counter(aeron, SystemCounterId.PUBLICATIONS_REVOKED) == revoked_before + 1,
            message="counter 40",
        )
        wait_for(lambda: unavailable, message="spy unavailable image")
        assert not descriptor.is_connected(metadata)
        assert descriptor.end_of_stream_position(metadata) == descriptor.producer_position(
            metadata, pub.term_buffer_length, pub.initial_term_id
        )
        # Heartbeats from now on carry EOS|REVOKED (0x30).
        while True:
            flags, _ = _recv_heartbeat(receiver, session_id)
            if flags & dh.REVOKED_FLAG:
                break
        assert flags & 0x30 == 0x30
        # The spy was unlinked: one unavailable image, a new spy gets nothing.
        late = aeron.add_subscription(f"aeron-spy:aeron:udp?endpoint=127.0.0.1:{port}", 21)
        _round_trip(aeron)
        assert late.image_count == 0 and spy.image_count == 0
        assert len(unavailable) == 1
