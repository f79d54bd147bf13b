"""Receiver-side robustness of publication images (driver-behaviour.md §7, wire-protocol.md §1-2):
datagram validation, LINGER removal with COOL_DOWN / rejoin, EOS per connection, revoke.

A raw UDP socket plays the publisher so malformed or partial streams can be crafted."""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Callable

from aeronpy.driver.system_counters import SystemCounterId
from aeronpy.logbuffer import descriptor as d
from aeronpy.protocol.frames import DataFrame, SetupFrame
from tests.conftest import wait_for
from tests.e2e.test_udp import free_port, system_counter

TERM_LENGTH = 64 * 1024
INITIAL_TERM_ID = 7
EOS = 0x20
REVOKED = 0x10
_DATA = struct.Struct("<ibBhiiiiq")


class RawPublisher:
    """A hand-driven publisher: one socket sending SETUP/DATA/heartbeats to subscriber ports."""

    def __init__(self, session_id: int, stream_id: int) -> None:
        self.session_id = session_id
        self.stream_id = stream_id
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self._last_setup = 0.0

    def send(self, port: int, data: bytes) -> None:
        self.sock.sendto(data, ("127.0.0.1", port))

    def setup(self, port: int) -> None:
        frame = SetupFrame(0, self.session_id, self.stream_id, INITIAL_TERM_ID, INITIAL_TERM_ID, TERM_LENGTH, 1408)
        self.send(port, frame.encode())

    def setup_throttled(self, port: int) -> None:
        now = time.monotonic()
        if now - self._last_setup > 0.05:
            self._last_setup = now
            self.setup(port)

    def heartbeat(self, port: int, term_offset: int, flags: int = 0xC0) -> None:
        self.send(port, _DATA.pack(0, 0, flags, 1, term_offset, self.session_id, self.stream_id, INITIAL_TERM_ID, 0))

    def data(self, port: int, term_offset: int, payload: bytes) -> None:
        frame = DataFrame.data(term_offset, self.session_id, self.stream_id, INITIAL_TERM_ID, payload)
        self.send(port, frame.encode_aligned())

    def close(self) -> None:
        self.sock.close()


def stream_counter(aeron: Any, prefix: str, session_id: int) -> int | None:
    """Value of the first allocated counter whose label starts with ``prefix`` for ``session_id``."""
    found: list[int] = []
    reader = aeron.counters_reader

    def visit(counter_id: int, type_id: int, key: Any, label: str) -> None:
        if label.startswith(prefix) and f" {session_id} " in label:
            found.append(counter_id)

    reader.for_each(visit)
    return int(reader.get_counter_value(found[0])) if found else None


def connect(aeron: Any, sub: Any, pub: RawPublisher, port: int) -> Any:
    def ready() -> bool:
        pub.setup_throttled(port)
        return sub.image_count == 1

    wait_for(ready, message="image from raw publisher")
    return sub.images[0]


@contextmanager
def raw_stream(client_factory: Callable[..., Any], session_id: int, stream_id: int,
               params: str = "") -> Iterator[tuple[Any, Any, RawPublisher, int]]:
    """A client subscribed at a fresh UDP port (``params`` appended to the channel) and the
    :class:`RawPublisher` of ``session_id`` for it: ``(aeron, subscription, publisher, port)``."""
    aeron = client_factory()
    port = free_port()
    sub = aeron.add_subscription(f"aeron:udp?endpoint=127.0.0.1:{port}{params}", stream_id)
    pub = RawPublisher(session_id, stream_id)
    try:
        yield aeron, sub, pub, port
    finally:
        pub.close()


def test_data_frame_longer_than_datagram_is_rejected(driver: Any, client_factory: Callable[..., Any]) -> None:
    with raw_stream(client_factory, 0x1111, 3001) as (aeron, sub, pub, port):
        image = connect(aeron, sub, pub, port)
        invalid = system_counter(aeron, SystemCounterId.INVALID_PACKETS)
        # frame_length claims 200 bytes but the datagram carries 64
        pub.send(port, _DATA.pack(200, 0, 0xC0, 1, 0, pub.session_id, pub.stream_id, INITIAL_TERM_ID, 0) + bytes(32))
        wait_for(lambda: system_counter(aeron, SystemCounterId.INVALID_PACKETS) > invalid, message="invalid counted")
        term = image._term_buffers[0]
        assert all(term.get_int64(offset) == 0 for offset in range(0, 256, 8))
        assert stream_counter(aeron, "rcv-hwm:", pub.session_id) == 0
        # a trailing frame with the wrong term offset also rejects the whole datagram
        invalid = system_counter(aeron, SystemCounterId.INVALID_PACKETS)
        first = DataFrame.data(0, pub.session_id, pub.stream_id, INITIAL_TERM_ID, b"a" * 32).encode_aligned()
        second = DataFrame.data(128, pub.session_id, pub.stream_id, INITIAL_TERM_ID, b"b" * 32).encode_aligned()
        pub.send(port, first + second)
        wait_for(lambda: system_counter(aeron, SystemCounterId.INVALID_PACKETS) > invalid, message="invalid counted")
        assert term.get_int64(0) == 0
        # a valid datagram is rebuilt and delivered
        pub.data(port, 0, b"x" * 32)
        got: list[bytes] = []
        wait_for(lambda: sub.poll(lambda b, o, n, h: got.append(b.get_bytes(o, n)), 10) or got, message="valid data")
        assert got == [b"x" * 32]
        assert stream_counter(aeron, "rcv-hwm:", pub.session_id) == 64


def test_misaligned_heartbeat_does_not_move_hwm(driver: Any, client_factory: Callable[..., Any]) -> None:
    with raw_stream(client_factory, 0x2222, 3002) as (aeron, sub, pub, port):
        connect(aeron, sub, pub, port)
        invalid = system_counter(aeron, SystemCounterId.INVALID_PACKETS)
        pub.heartbeat(port, 16)
        wait_for(lambda: system_counter(aeron, SystemCounterId.INVALID_PACKETS) > invalid, message="invalid counted")
        assert stream_counter(aeron, "rcv-hwm:", pub.session_id) == 0
        pub.heartbeat(port, 96)
        wait_for(lambda: stream_counter(aeron, "rcv-hwm:", pub.session_id) == 96, message="aligned heartbeat moves hwm")


def _wait_unavailable(sub: Any, pub: RawPublisher) -> None:
    wait_for(lambda: sub.image_count == 0, timeout=20, message="image unavailable after liveness timeout")


def test_image_rejoins_right_after_liveness_timeout(driver_factory: Callable[..., Any], client_factory: Callable[..., Any]) -> None:
    driver_factory(image_liveness_timeout_ns=3_000_000_000, timer_interval_ns=100_000_000)
    with raw_stream(client_factory, 0x3333, 3003) as (aeron, sub, pub, port):
        first = connect(aeron, sub, pub, port)
        _wait_unavailable(sub, pub)
        # the publisher resumes: the old image lingers (3 s) but the session may rejoin at once
        started = time.monotonic()
        second = connect(aeron, sub, pub, port)
        assert second.correlation_id != first.correlation_id
        assert time.monotonic() - started < 2.0


def test_rejoin_false_keeps_session_out_while_cooling_down(
    driver_factory: Callable[..., Any], client_factory: Callable[..., Any]
) -> None:
    driver_factory(image_liveness_timeout_ns=1_500_000_000, timer_interval_ns=100_000_000)
    with raw_stream(client_factory, 0x4444, 3004, "|rejoin=false") as (aeron, sub, pub, port):
        first = connect(aeron, sub, pub, port)
        _wait_unavailable(sub, pub)
        old_hwm = f"rcv-hwm: {first.correlation_id} "
        assert stream_counter(aeron, old_hwm, pub.session_id) is not None  # old image lingers
        setups_while_lingering = 0

        def rejoined() -> bool:
            nonlocal setups_while_lingering
            count = sub.image_count  # read before: the old image's counters go before a new image can come
            lingering = stream_counter(aeron, old_hwm, pub.session_id) is not None
            assert not (lingering and count > 0), "session rejoined while cooling down"
            if lingering:
                pub.setup(port)
                setups_while_lingering += 1
            else:
                pub.setup_throttled(port)
            return count == 1

        wait_for(rejoined, timeout=20, message="rejoin once the old image is done")
        assert setups_while_lingering > 0
        assert sub.images[0].correlation_id != first.correlation_id


def test_eos_per_connection_on_mds(driver: Any, client_factory: Callable[..., Any]) -> None:
    aeron = client_factory()
    port_a, port_b = free_port(), free_port()
    sub = aeron.add_subscription("aeron:udp?control-mode=manual", 3005)
    sub.add_destination(f"aeron:udp?endpoint=127.0.0.1:{port_a}")
    sub.add_destination(f"aeron:udp?endpoint=127.0.0.1:{port_b}")
    pub = RawPublisher(0x5555, 3005)
    try:
        image = connect(aeron, sub, pub, port_a)
        pub.data(port_a, 0, b"y" * 32)
        pub.data(port_b, 0, b"y" * 32)
        got: list[int] = []
        wait_for(lambda: sub.poll(lambda b, o, n, h: got.append(n), 10) or got, message="data")
        heartbeats = system_counter(aeron, SystemCounterId.HEARTBEATS_RECEIVED)
        pub.heartbeat(port_b, 64)  # connection B is known
        wait_for(lambda: system_counter(aeron, SystemCounterId.HEARTBEATS_RECEIVED) > heartbeats, message="heartbeat B")
        heartbeats = system_counter(aeron, SystemCounterId.HEARTBEATS_RECEIVED)
        pub.heartbeat(port_a, 64, 0xC0 | EOS)
        wait_for(lambda: system_counter(aeron, SystemCounterId.HEARTBEATS_RECEIVED) > heartbeats, message="EOS on A")
        assert d.end_of_stream_position(image._meta) == d.INT64_MAX  # B is still live and not EOS
        assert sub.image_count == 1
        pub.heartbeat(port_b, 64, 0xC0 | EOS)
        wait_for(lambda: d.end_of_stream_position(image._meta) == 64, message="EOS once all connections sent it")
        wait_for(lambda: sub.poll(lambda b, o, n, h: None, 10) >= 0 and sub.image_count == 0, timeout=20,
                 message="image ends at EOS")
    finally:
        pub.close()


def test_revoked_heartbeat_revokes_image(driver: Any, client_factory: Callable[..., Any]) -> None:
    with raw_stream(client_factory, 0x6666, 3006) as (aeron, sub, pub, port):
        connect(aeron, sub, pub, port)
        revoked = system_counter(aeron, SystemCounterId.PUBLICATION_IMAGES_REVOKED)
        pub.heartbeat(port, 0, 0xC0 | EOS | REVOKED)
        wait_for(lambda: system_counter(aeron, SystemCounterId.PUBLICATION_IMAGES_REVOKED) == revoked + 1, message="revoked")
        wait_for(lambda: sub.image_count == 0, timeout=5, message="revoked image goes away")
