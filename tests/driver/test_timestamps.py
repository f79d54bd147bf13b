"""``media-rcv-ts-offset`` / ``channel-rcv-ts-offset`` / ``channel-snd-ts-offset``: the driver
writes the kernel receive time, its own receive time or its send time into DATA frames (at a
payload offset or into the reserved value), as Aeron C does.

The frame stamping itself (driver/media/timestamps.py), the kernel timestamps of the C
``recvmmsg_into`` against its Python twin, whole drivers over real loopback sockets (plausible
wall-clock times) and on the in-memory network under the manual clock (exact times)."""

from __future__ import annotations

import array
import socket
import struct
import time
from typing import Any, Callable, Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aeronpy.concurrent.error_log import read_error_log
from aeronpy.driver.media.timestamps import RESERVED_VALUE, set_timestamp, stamp_received, stamp_sent
from aeronpy.driver.media.udp_transport import SO_TIMESTAMPNS, recvmmsg_into_py
from aeronpy.errors import RegistrationError
from aeronpy.protocol import data_header as dh
from tests.conftest import wait_for
from tests.driver.test_in_memory_driver import World

c_recvmmsg_into: Any
try:
    from aeronpy._atomic import recvmmsg_into as c_recvmmsg_into
except ImportError:  # pragma: no cover - non-Linux
    c_recvmmsg_into = None

HEADER = dh.HEADER_STRUCT
STAMP = struct.Struct("<q")
SECOND = 1_000_000_000


def frame(length: int, flags: int = dh.BEGIN_AND_END_FLAGS, frame_type: int = dh.HDR_TYPE_DATA, term_offset: int = 0) -> bytearray:
    out = bytearray(max(32, (length + 31) & ~31))
    HEADER.pack_into(out, 0, length, 0, flags, frame_type, term_offset, 7, 1001, 0, 0)
    return out


def datagram_of(lengths_and_flags: list[tuple[int, int]]) -> bytearray:
    out = bytearray()
    for length, flags in lengths_and_flags:
        out += frame(length, flags, term_offset=len(out))
    return out


# ----------------------------------------------------------------------------- frame stamping


def test_set_timestamp_reserved_value_and_payload_offsets() -> None:
    f = frame(64)
    assert set_timestamp(f, 0, 64, RESERVED_VALUE, 123)
    assert HEADER.unpack_from(f, 0)[8] == 123
    assert set_timestamp(f, 0, 64, 0, 456) and STAMP.unpack_from(f, 32)[0] == 456
    assert set_timestamp(f, 0, 64, 24, 789) and STAMP.unpack_from(f, 56)[0] == 789  # last 8 bytes
    before = bytes(f)
    assert not set_timestamp(f, 0, 64, 25, 1)  # would run past the frame
    assert not set_timestamp(frame(36), 0, 36, 0, 1)  # a 4-byte payload holds no timestamp
    assert bytes(f) == before


def test_stamp_received_begin_frames_only() -> None:
    d = datagram_of([(96, dh.BEGIN_FLAG), (96, 0), (96, dh.END_FLAG), (64, dh.BEGIN_AND_END_FLAGS)])
    assert stamp_received(d, 0, len(d), RESERVED_VALUE, 11, 8, 22) == 2
    reserved = [HEADER.unpack_from(d, o)[8] for o in (0, 96, 192, 288)]
    assert reserved == [11, 0, 0, 11]
    assert STAMP.unpack_from(d, 32 + 8)[0] == 22 and STAMP.unpack_from(d, 288 + 32 + 8)[0] == 22
    assert STAMP.unpack_from(d, 96 + 32 + 8)[0] == 0


def test_stamp_received_stops_where_the_image_would_reject() -> None:
    d = datagram_of([(64, dh.BEGIN_AND_END_FLAGS), (64, dh.BEGIN_AND_END_FLAGS)])
    struct.pack_into("<i", d, 64 + 8, 4096)  # the second frame's term offset does not follow on
    assert stamp_received(d, 0, len(d), RESERVED_VALUE, 5, None, 0) == 1
    heartbeat = frame(0)[:32]
    assert stamp_received(heartbeat, 0, 32, RESERVED_VALUE, 5, RESERVED_VALUE, 6) == 0
    pad = frame(64, frame_type=dh.HDR_TYPE_PAD)
    assert stamp_received(pad, 0, 64, RESERVED_VALUE, 5, None, 0) == 0
    assert stamp_received(frame(64), 0, 64, RESERVED_VALUE, -1, None, 0) == 0  # no kernel time


def test_stamp_sent_first_data_frame_only() -> None:
    d = datagram_of([(64, dh.BEGIN_FLAG), (64, dh.END_FLAG)])
    assert stamp_sent(d, RESERVED_VALUE, 99)
    assert [HEADER.unpack_from(d, o)[8] for o in (0, 64)] == [99, 0]
    assert not stamp_sent(frame(0)[:32], RESERVED_VALUE, 99)  # heartbeat
    assert not stamp_sent(frame(64, frame_type=dh.HDR_TYPE_PAD), RESERVED_VALUE, 99)


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=0, max_size=400), st.integers(0, 64), st.sampled_from([RESERVED_VALUE, 0, 8, 100]))
def test_stamping_any_bytes_never_fails_and_stays_in_the_datagram(data: bytes, pad: int, offset: int) -> None:
    buffer = bytearray(b"\xee" * pad + data + b"\xee" * 64)
    stamp_received(buffer, pad, len(data), offset, 0x0102030405060708, offset, 0x0102030405060708)
    stamp_sent(memoryview(buffer)[pad:pad + len(data)], offset, 0x0102030405060708)
    assert buffer[:pad] == b"\xee" * pad
    assert buffer[pad + len(data):] == b"\xee" * 64


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(33, 300), st.sampled_from([0, dh.BEGIN_FLAG, dh.END_FLAG, dh.BEGIN_AND_END_FLAGS])), min_size=1, max_size=6),
       st.sampled_from([RESERVED_VALUE, 0, 8, 64]))
def test_exactly_the_begin_frames_with_room_are_stamped(frames: list[tuple[int, int]], offset: int) -> None:
    d = datagram_of(frames)
    stamp_received(d, 0, len(d), offset, 42, None, 0)
    position = 0
    for length, flags in frames:
        expect = 42 if flags & dh.BEGIN_FLAG and (offset == RESERVED_VALUE or offset + 8 <= length - 32) else 0
        if offset == RESERVED_VALUE:
            assert HEADER.unpack_from(d, position)[8] == expect
        elif offset + 8 <= length - 32:
            assert STAMP.unpack_from(d, position + 32 + offset)[0] == expect
        position += (length + 31) & ~31


# ----------------------------------------------------------------------------- kernel timestamps


def _socket_pair(timestamps: bool) -> tuple[socket.socket, socket.socket]:
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    if timestamps:
        receiver.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    return receiver, sender


@pytest.mark.skipif(c_recvmmsg_into is None, reason="no C recvmmsg_into (non-Linux)")
@settings(max_examples=25, deadline=None)
@given(st.lists(st.binary(min_size=0, max_size=200), min_size=1, max_size=12), st.integers(1, 16), st.booleans())
def test_c_and_python_receive_the_same_with_kernel_timestamps(datagrams: list[bytes], max_messages: int, enabled: bool) -> None:
    results = []
    for receive in (c_recvmmsg_into, recvmmsg_into_py):
        receiver, sender = _socket_pair(enabled)
        with receiver, sender:
            before = time.time_ns()
            for d in datagrams:
                sender.sendto(d, receiver.getsockname())
            got: list[tuple[int, bytes, int]] = []
            deadline = time.monotonic() + 10
            buffer = bytearray(256 * max_messages)
            while len(got) < len(datagrams) and time.monotonic() < deadline:
                stamps = array.array("q", [7] * max_messages)
                batch = receive(receiver, buffer, 256, max_messages, stamps)
                for i, (length, address) in enumerate(batch):
                    assert address == sender.getsockname()[:1] + (sender.getsockname()[1],) or address[1] == sender.getsockname()[1]
                    got.append((length, bytes(buffer[i * 256:i * 256 + length]), stamps[i]))
                assert stamps[len(batch):] == array.array("q", [7] * (max_messages - len(batch)))  # untouched
            after = time.time_ns()
        assert [(n, p) for n, p, _ in got] == [(len(d), d) for d in datagrams]
        if enabled:
            assert all(before - SECOND < t <= after for _, _, t in got)
        else:
            assert all(t == -1 for _, _, t in got)
        results.append([(n, p) for n, p, _ in got])
    assert results[0] == results[1]


@pytest.mark.skipif(c_recvmmsg_into is None, reason="no C recvmmsg_into (non-Linux)")
@pytest.mark.parametrize("receive", [c_recvmmsg_into, recvmmsg_into_py], ids=["c", "python"])
def test_timestamps_buffer_too_small_is_a_value_error(receive: Callable[..., Any]) -> None:
    receiver, sender = _socket_pair(True)
    with receiver, sender:
        with pytest.raises(ValueError, match="timestamps"):
            receive(receiver, bytearray(4 * 64), 64, 4, array.array("q", [0] * 3))


# ----------------------------------------------------------------------------- real sockets


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _receive(pub: Any, sub: Any, count: int, size: int = 64, timeout: float = 30.0, lockstep: bool = False) -> list[tuple[bytes, int]]:
    """Offer ``count`` messages of ``size`` zero bytes; returns (payload, reserved value) each.
    ``lockstep``: the next only once the last arrived, so each goes in a datagram of its own (the
    send timestamp goes into the first frame of a datagram only, as C)."""
    got: list[tuple[bytes, int]] = []
    sent = 0
    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        if sent < count and (not lockstep or len(got) == sent) and pub.offer(bytes(size)) > 0:
            sent += 1
        if not sub.poll(lambda b, o, n, h: got.append((b.get_bytes(o, n), h.reserved_value)), 64):
            time.sleep(0.0005)
    assert len(got) == count
    return got


def _plausible(ns: int, since: int) -> bool:
    return since - SECOND < ns <= time.time_ns()


@pytest.mark.parametrize("key", ["media-rcv-ts-offset", "channel-rcv-ts-offset"])
def test_receive_timestamp_in_the_reserved_value(key: str, driver: Any, client_factory: Callable[..., Any]) -> None:
    aeron = client_factory()
    port = free_port()
    sub = aeron.add_subscription(f"aeron:udp?endpoint=127.0.0.1:{port}|{key}=reserved", 3001)
    pub = aeron.add_publication(f"aeron:udp?endpoint=127.0.0.1:{port}", 3001)
    wait_for(lambda: pub.is_connected and sub.image_count == 1, message="connected")
    since = time.time_ns()
    got = _receive(pub, sub, 50)
    assert all(_plausible(reserved, since) for _, reserved in got), [r for _, r in got][:5]
    assert [r for _, r in got] == sorted(r for _, r in got)  # in receive order


def test_three_timestamps_at_payload_offsets(driver: Any, client_factory: Callable[..., Any]) -> None:
    aeron = client_factory()
    port = free_port()
    sub = aeron.add_subscription(
        f"aeron:udp?endpoint=127.0.0.1:{port}|media-rcv-ts-offset=0|channel-rcv-ts-offset=8", 3002
    )
    pub = aeron.add_publication(f"aeron:udp?endpoint=127.0.0.1:{port}|channel-snd-ts-offset=16", 3002)
    wait_for(lambda: pub.is_connected and sub.image_count == 1, message="connected")
    since = time.time_ns()
    for payload, reserved in _receive(pub, sub, 50, size=32, lockstep=True):
        media, channel, sent = struct.unpack_from("<qqq", payload)
        assert all(_plausible(t, since) for t in (media, channel, sent)), (media, channel, sent)
        assert sent <= media <= channel  # sent, then the kernel got it, then the driver read it
        assert payload[24:] == bytes(8) and reserved == 0


def test_send_timestamp_in_the_reserved_value(driver: Any, client_factory: Callable[..., Any]) -> None:
    aeron = client_factory()
    port = free_port()
    sub = aeron.add_subscription(f"aeron:udp?endpoint=127.0.0.1:{port}", 3003)
    pub = aeron.add_publication(f"aeron:udp?endpoint=127.0.0.1:{port}|channel-snd-ts-offset=reserved", 3003)
    wait_for(lambda: pub.is_connected and sub.image_count == 1, message="connected")
    since = time.time_ns()
    got = _receive(pub, sub, 50, lockstep=True)
    assert all(_plausible(reserved, since) for _, reserved in got)
    burst = _receive(pub, sub, 500)  # many frames per datagram: only the first of each stamped
    stamped = [reserved for _, reserved in burst if reserved]
    assert stamped and all(_plausible(r, since) for r in stamped)


def test_offsets_too_far_for_the_payload_write_nothing(driver: Any, client_factory: Callable[..., Any]) -> None:
    aeron = client_factory()
    port = free_port()
    sub = aeron.add_subscription(f"aeron:udp?endpoint=127.0.0.1:{port}|channel-rcv-ts-offset=60", 3004)
    pub = aeron.add_publication(f"aeron:udp?endpoint=127.0.0.1:{port}|channel-snd-ts-offset=100", 3004)
    wait_for(lambda: pub.is_connected and sub.image_count == 1, message="connected")
    assert _receive(pub, sub, 10, size=64) == [(bytes(64), 0)] * 10  # 60 + 8 > 64: no room


def test_mds_destinations_use_the_subscription_offsets(driver: Any, client_factory: Callable[..., Any]) -> None:
    aeron = client_factory()
    port = free_port()
    sub = aeron.add_subscription("aeron:udp?control-mode=manual|media-rcv-ts-offset=reserved", 3005)
    sub.add_destination(f"aeron:udp?endpoint=127.0.0.1:{port}")
    pub = aeron.add_publication(f"aeron:udp?endpoint=127.0.0.1:{port}", 3005)
    wait_for(lambda: pub.is_connected and sub.image_count == 1, message="connected")
    since = time.time_ns()
    assert all(_plausible(reserved, since) for _, reserved in _receive(pub, sub, 20))


def test_endpoints_sharing_a_channel_must_agree_on_offsets(driver: Any, client_factory: Callable[..., Any]) -> None:
    aeron = client_factory()
    port = free_port()
    aeron.add_subscription(f"aeron:udp?endpoint=127.0.0.1:{port}|channel-rcv-ts-offset=reserved", 3006)
    with pytest.raises(RegistrationError, match="option conflicts with existing subscription: channel-rcv-ts-offset"):
        aeron.add_subscription(f"aeron:udp?endpoint=127.0.0.1:{port}", 3007)
    with pytest.raises(RegistrationError, match="media-rcv-ts-offset=8"):
        aeron.add_subscription(f"aeron:udp?endpoint=127.0.0.1:{port}|channel-rcv-ts-offset=reserved|media-rcv-ts-offset=8", 3007)
    aeron.add_subscription(f"aeron:udp?endpoint=127.0.0.1:{port}|channel-rcv-ts-offset=reserved", 3007)  # same: fine
    other = free_port()
    aeron.add_publication(f"aeron:udp?endpoint=127.0.0.1:{other}|channel-snd-ts-offset=0", 3008)
    with pytest.raises(RegistrationError, match="channel-snd-ts-offset=-1"):
        aeron.add_publication(f"aeron:udp?endpoint=127.0.0.1:{other}", 3009)
    with pytest.raises(RegistrationError, match="overlap"):
        aeron.add_subscription(f"aeron:udp?endpoint=127.0.0.1:{free_port()}|media-rcv-ts-offset=0|channel-rcv-ts-offset=4", 3010)


# ----------------------------------------------------------------------------- manual clock


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    w = World()
    monkeypatch.setattr(socket, "socket", None)  # no socket may be opened in memory
    yield w
    for h in w.hosts:
        h.close()


def test_channel_timestamps_come_from_the_drivers_clock(world: World) -> None:
    a = world.host("a", epoch_ns_clock=world.clock.epoch_ns)
    b = world.host("b", epoch_ns_clock=world.clock.epoch_ns)
    channel = "aeron:udp?endpoint=10.0.0.2:40456|term-length=64k"
    sub = world.add(b, "subscription", f"{channel}|channel-rcv-ts-offset=reserved", 1001)
    pub = world.add(a, "publication", f"{channel}|channel-snd-ts-offset=0", 1001)
    world.run(lambda: pub.is_connected and sub.image_count == 1, "connection")
    start = world.clock.epoch_ns()
    got: list[tuple[int, int]] = []
    sent = 0

    def step() -> bool:
        nonlocal sent
        if sent < 20 and len(got) == sent and pub.offer(bytes(16)) > 0:
            sent += 1
        sub.poll(lambda buf, o, n, h: got.append((buf.get_int64(o), h.reserved_value)), 10)
        return len(got) >= 20

    world.run(step, "20 messages", step_us=250)
    end = world.clock.epoch_ns()
    for sent_ns, received_ns in got:
        assert start <= sent_ns <= received_ns <= end
        assert (sent_ns - start) % 250_000 == 0 and (received_ns - start) % 250_000 == 0  # manual ticks
    assert len({r for _, r in got}) > 1  # time moved on between receives


def test_media_timestamps_without_kernel_support_warn(world: World) -> None:
    b = world.host("b")
    world.add(b, "subscription", "aeron:udp?endpoint=10.0.0.2:40457|media-rcv-ts-offset=reserved", 1001)
    assert b.driver.cnc is not None
    texts: list[str] = []
    read_error_log(b.driver.cnc.error_log_buffer, lambda count, first, last, text: texts.append(text))
    assert any("WARNING: unable to setup media timestamping" in t for t in texts), texts
