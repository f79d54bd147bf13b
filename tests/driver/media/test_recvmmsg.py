"""The C ``recvmmsg_into`` kernel against its Python twin, over real loopback sockets.

Truncation (decided): a datagram longer than its slot is cut to the slot and reports the
copied (truncated) length in both - the kernel's ``recvmmsg`` returns the copied length
unless ``MSG_TRUNC`` is requested, which is what ``recvfrom_into`` reports too.
"""

from __future__ import annotations

import errno
import random
import select
import socket
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aeronpy.driver.media import udp_transport
from aeronpy.driver.media.udp_transport import UdpChannelTransport, recvmmsg_into_py

c_recvmmsg_into: Any
try:
    from aeronpy._atomic import recvmmsg_into as c_recvmmsg_into
except ImportError:  # pragma: no cover - non-Linux
    c_recvmmsg_into = None

pytestmark = pytest.mark.skipif(c_recvmmsg_into is None, reason="no C recvmmsg_into (non-Linux)")

MAX_UDP = 65507


def _ipv6_loopback_available() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


FAMILIES = [pytest.param((socket.AF_INET, "127.0.0.1"), id="ipv4")]
if _ipv6_loopback_available():
    FAMILIES.append(pytest.param((socket.AF_INET6, "::1"), id="ipv6"))


def _receiver(family: int, host: str) -> socket.socket:
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
    s.bind((host, 0))
    s.setblocking(False)
    return s


def _drain(recv: Any, sock: socket.socket, expected: int, slot_length: int, max_messages: int) -> list[tuple[int, Any, bytes]]:
    """Call ``recv`` until ``expected`` datagrams arrived: [(length, address, slot bytes)]."""
    buffer = bytearray(slot_length * max_messages)
    got: list[tuple[int, Any, bytes]] = []
    deadline = time.monotonic() + 5.0
    while len(got) < expected and time.monotonic() < deadline:
        batch = recv(sock, buffer, slot_length, max_messages)
        assert len(batch) <= max_messages
        if not batch:
            select.select([sock], [], [], 0.05)
            continue
        for i, (length, address) in enumerate(batch):
            got.append((length, address, bytes(buffer[i * slot_length:i * slot_length + length])))
    return got


@pytest.fixture(params=FAMILIES)
def family(request: Any) -> tuple[int, str]:
    return request.param  # type: ignore[no-any-return]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    sizes=st.lists(st.one_of(st.integers(0, 1500), st.integers(0, MAX_UDP), st.just(MAX_UDP), st.just(0)), min_size=1, max_size=12),
    slot_length=st.sampled_from([1, 7, 100, 1408, 65536]),
    max_messages=st.integers(1, 40),
    seed=st.integers(0, 2**32 - 1),
)
def test_c_matches_python_twin(family: tuple[int, str], sizes: list[int], slot_length: int, max_messages: int, seed: int) -> None:
    fam, host = family
    rng = random.Random(seed)
    datagrams = [rng.randbytes(n) for n in sizes]
    with _receiver(fam, host) as rc, _receiver(fam, host) as rp, socket.socket(fam, socket.SOCK_DGRAM) as tx:
        tx.bind((host, 0))
        for d in datagrams:
            tx.sendto(d, rc.getsockname())
            tx.sendto(d, rp.getsockname())
        got_c = _drain(c_recvmmsg_into, rc, len(datagrams), slot_length, max_messages)
        got_py = _drain(recvmmsg_into_py, rp, len(datagrams), slot_length, max_messages)
        assert got_c == got_py
        assert len(got_c) == len(datagrams)
        source = tx.getsockname()
        for (length, address, data), sent in zip(got_c, datagrams):
            assert length == min(len(sent), slot_length)
            assert data == sent[:length]
            assert address[:2] == source[:2]
            assert len(address) == (4 if fam == socket.AF_INET6 else 2)
        # nothing left: both say so with []
        assert c_recvmmsg_into(rc, bytearray(slot_length), slot_length, 1) == []
        assert recvmmsg_into_py(rp, bytearray(slot_length), slot_length, 1) == []


def test_one_call_receives_a_batch(family: tuple[int, str]) -> None:
    fam, host = family
    with _receiver(fam, host) as rx, socket.socket(fam, socket.SOCK_DGRAM) as tx:
        for i in range(5):
            tx.sendto(bytes([i]) * (i + 1), rx.getsockname())
        select.select([rx], [], [], 1.0)
        time.sleep(0.05)
        buffer = bytearray(64 * 8)
        batch = c_recvmmsg_into(rx.fileno(), buffer, 64, 8)  # an int fd works too
        assert [n for n, _ in batch] == [1, 2, 3, 4, 5]
        assert len({id(a) for _, a in batch}) == 1  # one source: one shared address tuple
        assert bytes(buffer[4 * 64:4 * 64 + 5]) == b"\x04" * 5


@pytest.mark.parametrize("recv", [c_recvmmsg_into, recvmmsg_into_py], ids=["c", "py"])
def test_nothing_waiting_is_empty(family: tuple[int, str], recv: Any) -> None:
    with _receiver(*family) as rx:
        assert recv(rx, bytearray(1024), 128, 8) == []
        assert recv(rx, bytearray(0), 128, 0) == []


@pytest.mark.parametrize("recv", [c_recvmmsg_into, recvmmsg_into_py], ids=["c", "py"])
def test_truncated_datagram_reports_copied_length(recv: Any) -> None:
    with _receiver(socket.AF_INET, "127.0.0.1") as rx, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        tx.sendto(b"0123456789" * 10, rx.getsockname())
        tx.sendto(b"abc", rx.getsockname())
        got = _drain(recv, rx, 2, 10, 4)
        assert [(n, d) for n, _, d in got] == [(10, b"0123456789"), (3, b"abc")]
        assert recv(rx, bytearray(10), 10, 1) == []  # the cut-off tail is discarded


@pytest.mark.parametrize("recv", [c_recvmmsg_into, recvmmsg_into_py], ids=["c", "py"])
def test_closed_socket_raises_oserror(recv: Any) -> None:
    rx = _receiver(socket.AF_INET, "127.0.0.1")
    rx.close()
    with pytest.raises(OSError) as info:
        recv(rx, bytearray(64), 64, 1)
    assert info.value.errno == errno.EBADF


def test_closed_fd_raises_oserror() -> None:
    rx = _receiver(socket.AF_INET, "127.0.0.1")
    fd = rx.detach()
    socket.close(fd)
    with pytest.raises(OSError) as info:
        c_recvmmsg_into(fd, bytearray(64), 64, 1)
    assert info.value.errno == errno.EBADF
    with pytest.raises(OSError):
        c_recvmmsg_into(-1, bytearray(64), 64, 1)


@pytest.mark.parametrize("recv", [c_recvmmsg_into, recvmmsg_into_py], ids=["c", "py"])
def test_bad_arguments(recv: Any) -> None:
    with _receiver(socket.AF_INET, "127.0.0.1") as rx:
        with pytest.raises(ValueError):
            recv(rx, bytearray(100), 64, 2)  # buffer too small
        with pytest.raises(ValueError):
            recv(rx, bytearray(100), 0, 1)
        with pytest.raises(BufferError):
            recv(rx, b"read-only", 4, 1)


@pytest.mark.parametrize("use_c", [True, False], ids=["c", "py"])
def test_transport_recv_into_batch(family: tuple[int, str], use_c: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if not use_c:
        monkeypatch.setattr(udp_transport, "recvmmsg_into", recvmmsg_into_py)
    fam, host = family
    with UdpChannelTransport((host, 0)) as rx, UdpChannelTransport((host, 0)) as tx:
        buffer = bytearray(256 * 4)
        assert rx.recv_into_batch(buffer, 256, 4) == []
        for d in (b"one", b"two", b"three"):
            tx.send(d, rx.local_address)
        got: list[tuple[int, Any]] = []
        deadline = time.monotonic() + 5.0
        while len(got) < 3 and time.monotonic() < deadline:
            batch = rx.recv_into_batch(buffer, 256, 4)
            got += batch
            assert [bytes(buffer[i * 256:i * 256 + n]) for i, (n, _) in enumerate(batch)] == [
                d for d in (b"one", b"two", b"three")
            ][len(got) - len(batch):len(got)]
        assert [n for n, _ in got] == [3, 3, 5]
        assert all(a == tx.send_local_address for _, a in got)  # (host, port) in both families
        assert all(len(a) == 2 for _, a in got)


@settings(max_examples=25, deadline=None)
@given(order=st.lists(st.integers(0, 9), min_size=1, max_size=40), max_messages=st.integers(1, 8))
def test_each_datagram_has_its_own_source_across_calls(order: list[int], max_messages: int) -> None:
    """The kernel reuses the tuples of the last 8 sources it made (a receiver hears few peers):
    interleaved senders, more of them than it keeps, batches and calls still give each datagram
    its sender's address."""
    with _receiver(socket.AF_INET, "127.0.0.1") as rx:
        senders = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(10)]
        try:
            for tx in senders:
                tx.bind(("127.0.0.1", 0))
            for i, who in enumerate(order):
                senders[who].sendto(bytes([i]), rx.getsockname())
            got = _drain(c_recvmmsg_into, rx, len(order), 16, max_messages)
            assert [data[0] for _, _, data in got] == list(range(len(order)))
            assert [address for _, address, _ in got] == [senders[who].getsockname() for who in order]
        finally:
            for tx in senders:
                tx.close()
