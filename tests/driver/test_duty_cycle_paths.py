"""The lean per-duty-cycle paths of the network agents: readiness polling (one epoll per cycle),
the inlined producer position, bound counter accessors and the receiver-liveness check."""

from __future__ import annotations

import select
import socket
import time
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aeronpy.concurrent.atomic_buffer import AtomicBuffer
from aeronpy.concurrent.counters import AtomicCounter
from aeronpy.driver.counter_access import acquire_getter, plain_getter, release_setter
from aeronpy.driver.endpoints import ReceiveChannelEndpoint, SendChannelEndpoint, socket_fd
from aeronpy.driver.media.udp_channel import UdpChannel
from aeronpy.driver.media.udp_transport import UdpChannelTransport
from aeronpy.driver.network_agents import ReadySockets, Receiver
from aeronpy.driver.network_publication import NetworkPublication
from aeronpy.logbuffer import descriptor
from tests.fakes import FakeCounter

needs_epoll = pytest.mark.skipif(not hasattr(select, "epoll"), reason="no epoll")


def _wait_ready(ready: ReadySockets, fd: int) -> Any:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        found = ready.ready()
        if fd in found:
            return found
        time.sleep(0.001)
    raise AssertionError("socket never became ready")


@needs_epoll
def test_ready_sockets_reports_only_sockets_with_datagrams() -> None:
    ready = ReadySockets()
    assert ready.ready() == ()  # no sockets: nothing ready (and no syscall)
    with UdpChannelTransport(("127.0.0.1", 0)) as a, UdpChannelTransport(("127.0.0.1", 0)) as b:
        ready.add([a, b, object()])  # a transport without a socket is ignored (always read)
        assert ready.ready() == ()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
            tx.sendto(b"x" * 32, b.local_address)
        assert set(_wait_ready(ready, b.recv_fd)) == {b.recv_fd}
        assert b.recv_into(bytearray(64)) is not None
        assert ready.ready() == ()  # level-triggered: drained, not ready
        ready.remove([b])
        ready.remove([b, None])  # twice / nothing: no error
        ready.close()
        assert ready.ready() is None  # closed: read every socket


@needs_epoll
def test_ready_sockets_reports_every_ready_socket_at_once() -> None:
    ready = ReadySockets()
    transports = [UdpChannelTransport(("127.0.0.1", 0)) for _ in range(6)]
    try:
        ready.add(transports)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
            for transport in transports:
                tx.sendto(b"x" * 32, transport.local_address)
        deadline = time.monotonic() + 5
        found: Any = ()
        while len(found) < len(transports) and time.monotonic() < deadline:
            found = ready.ready()  # one epoll_wait asks for as many events as there are sockets
        assert set(found) == {t.recv_fd for t in transports}
    finally:
        for transport in transports:
            transport.close()
        ready.close()


@needs_epoll
def test_a_shared_ready_sockets_asks_the_kernel_once_a_cycle() -> None:
    shared, own = ReadySockets(shared=True), ReadySockets()
    with UdpChannelTransport(("127.0.0.1", 0)) as a, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        shared.add([a])
        own.add([a])
        assert shared.ready() == () and own.ready() == ()  # this cycle's answer: nothing
        tx.sendto(b"x" * 32, a.local_address)
        _wait_ready(own, a.recv_fd)  # an unshared one asks every time
        assert shared.ready() == ()  # the shared one keeps this cycle's answer
        shared.new_cycle()
        assert a.recv_fd in shared.ready()
        assert a.recv_into(bytearray(64)) is not None
        assert a.recv_fd in shared.ready()  # still this cycle's answer, though drained
        shared.new_cycle()
        assert shared.ready() == ()
        shared.close()
        own.close()


@needs_epoll
def test_a_socket_two_agents_registered_stays_until_both_removed_it() -> None:
    ready = ReadySockets(shared=True)
    with UdpChannelTransport(("127.0.0.1", 0)) as a, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        ready.add([a])
        ready.add([a])  # the receiver's too
        tx.sendto(b"x" * 32, a.local_address)
        ready.remove([a])  # one of them is done with it
        deadline = time.monotonic() + 5
        while a.recv_fd not in ready.ready() and time.monotonic() < deadline:
            ready.new_cycle()
            time.sleep(0.001)
        assert a.recv_fd in ready.ready()
        ready.remove([a])
        ready.new_cycle()
        assert ready.ready() == ()  # unregistered: no sockets, no syscall
        ready.close()


class _CountingTransport:
    """A UDP-like transport (has a descriptor) that counts reads."""

    def __init__(self, fd: int) -> None:
        self.recv_fd = fd
        self.reads = 0

    def batch_receiver(self, *_args: Any) -> Any:
        def receive() -> list[Any]:
            self.reads += 1
            return []
        return receive

    def close(self) -> None:
        pass


class _GroupedEndpoint:
    """A receive endpoint double: one transport (``ready_fd`` its descriptor, or -1 like MDS)."""

    def __init__(self, transport: Any, ready_fd: int, control_setups: bool, log: list[Any]) -> None:
        self.transport, self.ready_fd, self.sends_control_setups, self.log = transport, ready_fd, control_setups, log
        self.destinations: list[Any] = []

    def transports(self) -> list[Any]:
        return [self.transport]

    def poll_ready(self, now_ns: int, ready: Any) -> int:
        self.log.append(("poll", self))
        return 1 if self.transport.recv_fd in ready else 0

    def send_control_setups(self, now_ns: int) -> int:
        self.log.append(("setups", self))
        return 0

    def add_destination(self, destination: Any) -> None:
        self.destinations.append(destination)


@needs_epoll
def test_the_receiver_reads_only_ready_sockets_and_asks_only_what_has_no_single_socket() -> None:
    log: list[Any] = []
    receiver = Receiver(lambda: 1)
    transports = [UdpChannelTransport(("127.0.0.1", 0)) for _ in range(4)]
    try:
        plain = [_GroupedEndpoint(t, t.recv_fd, False, log) for t in transports[:3]]
        mds = _GroupedEndpoint(transports[3], -1, True, log)  # several sockets: asked every cycle
        for endpoint in [*plain, mds]:
            receiver.on_add_endpoint(endpoint)
        receiver.do_work()
        assert log == [("poll", mds), ("setups", mds)]  # nothing ready: no plain endpoint asked
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
            tx.sendto(b"x" * 32, transports[1].local_address)
        _wait_ready(receiver.ready_sockets, transports[1].recv_fd)
        log.clear()
        assert receiver.do_work() == 1
        assert log == [("poll", plain[1]), ("poll", mds), ("setups", mds)]
        receiver.on_remove_endpoint(plain[1])
        log.clear()
        receiver.do_work()  # its socket is still readable, but it is gone
        assert log == [("poll", mds), ("setups", mds)]
        plain[0].sends_control_setups = True  # e.g. an MDS destination with control added
        receiver.on_add_destination(plain[0], SimpleNamespace(transport=None))
        log.clear()
        receiver.do_work()
        assert log == [("poll", mds), ("setups", plain[0]), ("setups", mds)]
    finally:
        for transport in transports:
            transport.close()
        receiver.on_close()


@pytest.mark.parametrize("uri, fd, setups", [
    ("aeron:udp?endpoint=127.0.0.1:40123", 3, False),
    ("aeron:udp?endpoint=127.0.0.1:40123|control=127.0.0.1:40124", 3, True),  # SEND_SETUPs to its control
    ("aeron:udp?control-mode=manual", -1, False),  # MDS: its sockets are its destinations'
])
def test_a_receive_endpoint_says_how_the_receiver_reads_it(uri: str, fd: int, setups: bool) -> None:
    channel = UdpChannel.parse(uri)
    transport = None if channel.is_manual_control_mode else SimpleNamespace(recv_fd=3, close=lambda: None)
    endpoint = ReceiveChannelEndpoint(channel, transport, None, None, {}, 1, lambda *a: None)
    assert endpoint.ready_fd == fd and endpoint.sends_control_setups is setups


def test_poll_ready_skips_sockets_that_are_not_ready() -> None:
    transport = _CountingTransport(42)
    channel = SimpleNamespace(is_multicast=False)
    endpoint = SendChannelEndpoint(channel, transport, ("127.0.0.1", 9), None, {})
    assert socket_fd(transport) == 42 and socket_fd(object()) == -1
    endpoint.poll_ready(1, ())
    assert transport.reads == 0
    endpoint.poll_ready(1, {42})
    assert transport.reads == 1


@given(
    term_id=st.integers(-(2**31), 2**31 - 1),
    initial_term_id=st.integers(-(2**31), 2**31 - 1),
    offset=st.integers(0, 2**32 - 1),
    partition=st.integers(0, 2),
    term_length=st.sampled_from([64 * 1024, 1 << 20, 1 << 30]),
)
def test_inlined_producer_position_matches_descriptor(
    term_id: int, initial_term_id: int, offset: int, partition: int, term_length: int
) -> None:
    metadata = AtomicBuffer(bytearray(descriptor.LOG_META_DATA_LENGTH))
    metadata.put_int32(descriptor.LOG_ACTIVE_TERM_COUNT_OFFSET, partition)
    metadata.put_int64(8 * partition, descriptor.pack_tail(term_id, offset))
    pub: Any = SimpleNamespace(
        metadata=metadata, term_length=term_length, initial_term_id=initial_term_id,
        bits=descriptor.position_bits_to_shift(term_length),
    )
    expected = descriptor.producer_position(metadata, term_length, initial_term_id)
    assert NetworkPublication.producer_position(pub) == expected


def test_bound_counter_accessors() -> None:
    values = AtomicBuffer(bytearray(1024))
    counter = AtomicCounter(values, 3)
    release_setter(counter)(77)
    assert counter.get() == 77 and plain_getter(counter)() == 77 and acquire_getter(counter)() == 77
    fake = FakeCounter(5)
    fake.get_plain = fake.get  # type: ignore[attr-defined]
    assert plain_getter(fake)() == 5 and acquire_getter(fake)() == 5
    release_setter(fake)(6)
    assert fake.value == 6


def test_receiver_liveness_checks_only_when_one_can_have_expired() -> None:
    pub: Any = SimpleNamespace(
        connection_timeout_ns=100, receivers_last_sm_ns={1: 1000, 2: 1050}, _next_liveness_check_ns=0,
        updates=0,
    )
    pub.update_connected = lambda: setattr(pub, "updates", pub.updates + 1)
    check = NetworkPublication.check_receiver_liveness
    check(pub, 1050)
    assert pub._next_liveness_check_ns == 1101 and pub.receivers_last_sm_ns == {1: 1000, 2: 1050}
    pub.receivers_last_sm_ns[1] = 1090  # an SM: later, never earlier
    check(pub, 1100)  # before the bound: not even looked at
    assert pub.updates == 0
    check(pub, 1151)  # receiver 2 silent for 101 ns: gone
    assert pub.receivers_last_sm_ns == {1: 1090} and pub.updates == 1
    assert pub._next_liveness_check_ns == 1191
    check(pub, 1191)
    assert pub.receivers_last_sm_ns == {} and pub.updates == 2 and pub._next_liveness_check_ns == 0
