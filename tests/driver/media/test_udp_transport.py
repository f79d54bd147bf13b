"""UdpChannelTransport over loopback only."""

from __future__ import annotations

import errno
import select
import socket
import time

import pytest

from aeronpy.driver.media.udp_channel import UdpChannel
from aeronpy.driver.media.udp_transport import (
    UdpChannelTransport,
    open_receive_data_transport,
    open_send_transport,
)


def _ipv6_loopback_available() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def recv_with_deadline(t: UdpChannelTransport, buf: bytearray, timeout: float = 2.0) -> tuple[int, tuple[str, int]]:
    deadline = time.monotonic() + timeout
    while True:
        got = t.recv_into(buf)
        if got is not None:
            return got
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError("timed out waiting for datagram")
        select.select([t], [], [], remaining)


def test_unicast_round_trip_and_reply() -> None:
    with UdpChannelTransport(("127.0.0.1", 0)) as rx, UdpChannelTransport(("127.0.0.1", 0)) as tx:
        host, port = rx.local_address
        assert host == "127.0.0.1" and port != 0
        assert tx.send(b"hello", (host, port)) == 5
        buf = bytearray(64)
        n, source = recv_with_deadline(rx, buf)
        assert buf[:n] == b"hello" and source == tx.local_address
        assert rx.send(memoryview(b"sm"), source) == 2
        n, _ = recv_with_deadline(tx, buf)
        assert buf[:n] == b"sm"


def test_recv_nothing_returns_none_and_batch() -> None:
    with UdpChannelTransport(("127.0.0.1", 0)) as rx, UdpChannelTransport(("127.0.0.1", 0)) as tx:
        assert rx.recv_into(bytearray(16)) is None
        assert rx.recv_batch([bytearray(16)]) == []
        for i in range(3):
            assert tx.send(bytes([i]) * 4, rx.local_address) == 4
        buffers = [bytearray(16) for _ in range(5)]
        select.select([rx], [], [], 2.0)
        got: list[tuple[int, tuple[str, int]]] = []
        deadline = time.monotonic() + 2.0
        while len(got) < 3 and time.monotonic() < deadline:
            got += rx.recv_batch(buffers[len(got) :], 2)
        assert [n for n, _ in got] == [4, 4, 4]
        assert [bytes(b[:4]) for b in buffers[:3]] == [b"\x00" * 4, b"\x01" * 4, b"\x02" * 4]


def test_connected_sender() -> None:
    with UdpChannelTransport(("127.0.0.1", 0)) as rx:
        with UdpChannelTransport(("127.0.0.1", 0), connect_address=rx.local_address) as tx:
            assert tx.is_connected
            assert tx.send(b"abc") == 3
            buf = bytearray(8)
            n, _ = recv_with_deadline(rx, buf)
            assert buf[:n] == b"abc"


def test_connected_send_to_closed_port_is_short_send() -> None:
    # ICMP port unreachable on loopback surfaces as ECONNREFUSED on the next send: 0, not an error.
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    dead = probe.getsockname()
    probe.close()
    with UdpChannelTransport(("127.0.0.1", 0), connect_address=dead) as tx:
        results = [tx.send(b"x") for _ in range(5)]
        assert all(r in (0, 1) for r in results)
        assert tx.recv_into(bytearray(8)) is None


class _BlockingSock:
    def __init__(self, err: int) -> None:
        self.err = err

    def sendto(self, data: bytes, address: object) -> int:
        raise OSError(self.err, "fake")

    def send(self, data: bytes) -> int:
        raise OSError(self.err, "fake")

    def close(self) -> None:
        pass


@pytest.mark.parametrize("err", [errno.EAGAIN, errno.EWOULDBLOCK, errno.EINTR, errno.ECONNREFUSED])
def test_transient_send_errors_are_short_sends(err: int) -> None:
    t = UdpChannelTransport(("127.0.0.1", 0))
    real = t._sock
    t._sock = _BlockingSock(err)  # type: ignore[assignment]
    try:
        assert t.send(b"x", ("127.0.0.1", 9)) == 0
    finally:
        t._sock = real
        t.close()


def test_eagain_is_short_send_real_socket() -> None:
    with UdpChannelTransport(("127.0.0.1", 0), so_sndbuf=4096) as tx, UdpChannelTransport(("127.0.0.1", 0)) as rx:
        payload = b"z" * 1400
        sent = [tx.send(payload, rx.local_address) for _ in range(2000)]
        assert all(s in (0, 1400) for s in sent)
        if 0 not in sent:
            pytest.skip("kernel drained the send buffer faster than we filled it (no EAGAIN)")


def test_send_error_other_than_transient_raises() -> None:
    with UdpChannelTransport(("127.0.0.1", 0)) as tx:
        with pytest.raises(OSError) as info:
            tx.send(b"x" * 70000, ("127.0.0.1", 9))
        assert info.value.errno == errno.EMSGSIZE


def test_buffer_sizes_requested_vs_effective() -> None:
    with UdpChannelTransport(("127.0.0.1", 0), so_rcvbuf=65536, so_sndbuf=32768) as t:
        assert t.requested_so_rcvbuf == 65536 and t.requested_so_sndbuf == 32768
        assert t.effective_so_rcvbuf >= 65536  # Linux reports 2x
        assert t.effective_so_sndbuf >= 32768


def test_close_is_idempotent() -> None:
    t = UdpChannelTransport(("127.0.0.1", 0))
    fd = t.fileno()
    assert fd >= 0 and t.send_fileno() == fd
    t.close()
    t.close()
    assert t.closed


def test_bind_conflict_raises() -> None:
    with UdpChannelTransport(("127.0.0.1", 0)) as a:
        with pytest.raises(OSError):
            UdpChannelTransport(a.local_address)


@pytest.mark.skipif(not _ipv6_loopback_available(), reason="IPv6 loopback not available")
def test_ipv6_round_trip() -> None:
    with UdpChannelTransport(("::1", 0)) as rx, UdpChannelTransport(("::1", 0)) as tx:
        assert rx.family == socket.AF_INET6
        assert tx.send(b"v6", rx.local_address) == 2
        buf = bytearray(8)
        n, source = recv_with_deadline(rx, buf)
        assert buf[:n] == b"v6" and source[0] == "::1"


def test_channel_factories_unicast() -> None:
    sub = UdpChannel.parse("aeron:udp?endpoint=127.0.0.1:0|so-rcvbuf=64k", is_destination=True)
    with open_receive_data_transport(sub) as rx:
        port = rx.local_address[1]
        assert rx.requested_so_rcvbuf == 65536
        pub = UdpChannel.parse(f"aeron:udp?endpoint=127.0.0.1:{port}|interface=127.0.0.1")
        with open_send_transport(pub, connect=True) as tx:
            assert tx.is_connected and tx.connect_address == ("127.0.0.1", port)
            assert tx.local_address[0] == "127.0.0.1"
            assert tx.send(b"data") == 4
            buf = bytearray(16)
            n, source = recv_with_deadline(rx, buf)
            assert buf[:n] == b"data"
            # status message back to the sender's control address
            assert rx.send(b"sm", source) == 2
            n, _ = recv_with_deadline(tx, buf)
            assert buf[:n] == b"sm"
        with open_send_transport(pub) as unconnected:
            assert not unconnected.is_connected
            assert unconnected.send(b"d2", pub.remote_data) == 2


def test_mdc_send_transport_binds_control_and_never_connects() -> None:
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    pub = UdpChannel.parse(f"aeron:udp?control=127.0.0.1:{port}|control-mode=dynamic")
    with open_send_transport(pub, connect=True) as tx:
        assert not tx.is_connected
        assert tx.local_address == ("127.0.0.1", port)


def _multicast_loopback_works() -> str | None:
    group = "239.255.77.1"
    try:
        rx = UdpChannelTransport((group, 0), multicast_if_address="127.0.0.1", multicast_loop=True)
    except OSError as e:
        return f"cannot join multicast group on loopback: {e}"
    try:
        port = rx.local_address[1]
        tx = UdpChannelTransport(("127.0.0.1", 0))
        try:
            tx._sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
            tx.send(b"p", (group, port))
            r, _, _ = select.select([rx], [], [], 0.5)
            if not r or rx.recv_into(bytearray(8)) is None:
                return "multicast datagrams are not looped back on 127.0.0.1"
        except OSError as e:
            return f"multicast send on loopback failed: {e}"
        finally:
            tx.close()
    finally:
        rx.close()
    return None


def test_multicast_join_on_loopback() -> None:
    reason = _multicast_loopback_works()
    if reason is not None:
        pytest.skip(reason)
    sub = UdpChannel.parse("aeron:udp?endpoint=239.255.77.3:0|interface=127.0.0.1", is_destination=True)
    with open_receive_data_transport(sub) as rx:
        assert rx.is_multicast
        port = rx.local_address[1]
        assert rx.local_address == ("0.0.0.0", port)
        pub = UdpChannel.parse(f"aeron:udp?endpoint=239.255.77.3:{port}|interface=127.0.0.1|ttl=1")
        assert pub.remote_control == ("239.255.77.4", port)
        with open_send_transport(pub) as tx:
            assert tx.is_multicast and tx.local_address == ("0.0.0.0", port)
            assert tx.send(b"mc", pub.remote_data) == 2
            buf = bytearray(8)
            n, source = recv_with_deadline(rx, buf)
            assert buf[:n] == b"mc" and source[0] == "127.0.0.1"
            # second receiver on the same group/port works thanks to SO_REUSEADDR/SO_REUSEPORT
            with open_receive_data_transport(sub.__class__.parse(
                f"aeron:udp?endpoint=239.255.77.3:{port}|interface=127.0.0.1"
            )) as rx2:
                assert tx.send(b"m2", pub.remote_data) == 2
                n, _ = recv_with_deadline(rx2, buf)
                assert buf[:n] == b"m2"
        with open_send_transport(pub, connect=True) as connected:
            assert connected.is_connected and connected.fileno() != connected.send_fileno()
            assert connected.send(b"m3") == 2
