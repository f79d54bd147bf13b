"""The sender's C ``send_frames`` kernel (term scan + one ``sendmmsg``) against its Python twin,
over real loopback sockets: the same results and the same datagrams on the wire."""

from __future__ import annotations

import select
import socket
import struct
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aeronpy.concurrent.atomic_buffer import AtomicBuffer
from aeronpy.driver.media import udp_transport
from aeronpy.driver.media.udp_transport import UdpChannelTransport, send_frames_py, sockaddr_of

pytestmark = pytest.mark.skipif(not udp_transport.HAVE_SEND_FRAMES, reason="no C send_frames (non-Linux)")

HEADER = struct.Struct("<ibBhiiiiq")
TERM = 8192
PAD = 0


@st.composite
def term_layouts(draw: st.DrawFn) -> bytes:
    """A term of DATA frames, maybe a PAD, then zeros (uncommitted)."""
    term = bytearray(TERM)
    offset = 0
    while offset < TERM - 32:
        kind = draw(st.sampled_from(["data", "data", "data", "pad", "stop"]))
        if kind == "stop":
            break
        length = draw(st.integers(32, 1500)) if kind == "data" else draw(st.integers(32, 3000))
        aligned = (length + 31) & ~31
        if offset + aligned > TERM:
            break
        HEADER.pack_into(term, offset, length, 0, 0xC0, 1 if kind == "data" else PAD, offset, 7, 9, 1, 0)
        term[offset + 32:offset + length] = bytes([offset & 0xFF]) * (length - 32)
        offset += aligned
    return bytes(term)


def _receiver() -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
    s.bind(("127.0.0.1", 0))
    s.setblocking(False)
    return s


def _drain(sock: socket.socket) -> list[bytes]:
    got: list[bytes] = []
    while select.select([sock], [], [], 0.02)[0]:
        got.append(sock.recv(65536))
    return got


def _wait_for(sock: socket.socket, n: int) -> list[bytes]:
    got: list[bytes] = []
    deadline = time.monotonic() + 5.0
    while len(got) < n and time.monotonic() < deadline:
        got += _drain(sock)
    return got + _drain(sock)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    term=term_layouts(),
    start=st.integers(0, TERM // 32),
    limit=st.integers(0, TERM + 100),
    mtu=st.sampled_from([32, 64, 1408, 4096, 8192]),
    max_datagrams=st.integers(0, 64),
)
def test_c_matches_python_twin(term: bytes, start: int, limit: int, mtu: int, max_datagrams: int) -> None:
    buffer = AtomicBuffer(bytearray(term))
    sent: list[bytes] = []

    def record(datagram: memoryview) -> int:
        sent.append(bytes(datagram))
        return len(datagram)

    with _receiver() as rx, UdpChannelTransport(("127.0.0.1", 0)) as tx:
        c_result = udp_transport.send_frames(
            tx._sock, sockaddr_of(rx.getsockname()), buffer, start * 32, limit, mtu, max_datagrams, PAD
        )
        assert c_result == send_frames_py(record, buffer, start * 32, limit, mtu, max_datagrams, PAD)
        assert _wait_for(rx, len(sent)) == sent
        bytes_sent, advance, short = c_result
        assert short == 0 and 0 <= bytes_sent <= advance and len(sent) <= max_datagrams
        assert bytes_sent == sum(len(d) for d in sent)


def test_datagrams_on_the_wire_and_padding_skipped() -> None:
    term = bytearray(4096)
    HEADER.pack_into(term, 0, 100, 0, 0xC0, 1, 0, 7, 9, 1, 0)       # 128 aligned
    HEADER.pack_into(term, 128, 40, 0, 0xC0, 1, 128, 7, 9, 1, 0)    # 64 aligned
    HEADER.pack_into(term, 192, 4096 - 192, 0, 0, PAD, 192, 7, 9, 1, 0)
    buffer = AtomicBuffer(term)
    with _receiver() as rx, UdpChannelTransport(("127.0.0.1", 0)) as tx:
        sock, sockaddr = tx.send_target(rx.getsockname())  # type: ignore[misc]
        # an MTU of 160 bytes: [frame 1], [frame 2 + PAD header]; the PAD body is skipped
        assert udp_transport.send_frames(sock, sockaddr, buffer, 0, 4096, 160, 8, PAD) == (128 + 96, 4096, 0)
        got = _wait_for(rx, 2)
        assert [len(d) for d in got] == [128, 96]
        assert got[0] == bytes(term[:128]) and got[1] == bytes(term[128:224])
        # the window (limit) caps what is sent; nothing committed: nothing sent, no syscall
        assert udp_transport.send_frames(sock, sockaddr, buffer, 0, 130, 1408, 8, PAD) == (128, 128, 0)
        assert udp_transport.send_frames(sock, sockaddr, AtomicBuffer(bytearray(64)), 0, 64, 1408, 8, PAD) == (0, 0, 0)


def test_connected_socket_and_bad_arguments() -> None:
    term = bytearray(256)
    HEADER.pack_into(term, 0, 64, 0, 0xC0, 1, 0, 7, 9, 1, 0)
    buffer = AtomicBuffer(term)
    with _receiver() as rx, UdpChannelTransport(("127.0.0.1", 0), connect_address=rx.getsockname()) as tx:
        target: Any = tx.send_target(None)
        assert target is not None and target[1] is None
        assert udp_transport.send_frames(target[0], None, buffer, 0, 256, 1408, 2, PAD) == (64, 64, 0)
        assert _wait_for(rx, 1) == [bytes(term[:64])]
        with pytest.raises(ValueError, match="max_datagrams"):
            udp_transport.send_frames(target[0], None, buffer, 0, 256, 1408, 65, PAD)
        with pytest.raises(ValueError, match="max_datagrams"):
            send_frames_py(tx.send, buffer, 0, 256, 1408, -1, PAD)
        with pytest.raises(IndexError):
            udp_transport.send_frames(target[0], None, buffer, 4, 256, 1408, 1, PAD)
        with pytest.raises(ValueError, match="sockaddr"):
            udp_transport.send_frames(target[0], b"x", buffer, 0, 256, 1408, 1, PAD)


def test_closed_socket_raises_oserror() -> None:
    term = bytearray(256)
    HEADER.pack_into(term, 0, 64, 0, 0xC0, 1, 0, 7, 9, 1, 0)
    tx = UdpChannelTransport(("127.0.0.1", 0))
    sock, sockaddr = tx.send_target(("127.0.0.1", 9))  # type: ignore[misc]
    tx.close()
    with pytest.raises(OSError):
        udp_transport.send_frames(sock, sockaddr, AtomicBuffer(term), 0, 256, 1408, 1, PAD)


def test_sockaddr_of() -> None:
    v4 = sockaddr_of(("127.0.0.1", 40123))
    assert v4 is not None and len(v4) == 16 and v4[2:4] == (40123).to_bytes(2, "big") and v4[4:8] == b"\x7f\0\0\x01"
    v6 = sockaddr_of(("::1", 5))
    assert v6 is not None and len(v6) == 28 and v6[8:24] == socket.inet_pton(socket.AF_INET6, "::1")
    assert sockaddr_of(("localhost", 5)) is None
    assert sockaddr_of(("fe80::1%eth0", 5)) is None
    assert sockaddr_of(("127.0.0.1", 70000)) is None
    with UdpChannelTransport(("127.0.0.1", 0)) as tx:
        assert tx.send_target(("::1", 5)) is None  # another family: the socket module decides
        assert tx.send_target(("localhost", 5)) is None
