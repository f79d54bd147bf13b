"""An in-memory datagram network standing in for UDP, with loss, duplication and reordering.

:meth:`InMemoryNetwork.factory` is a :class:`~aeronpy.driver.media.transport_factory.TransportFactory`
for ``DriverContext.transport_factory``.  A transport bound to an address receives what is
sent to that address (or, bound to a wildcard host, to its port); a transport bound to a
multicast group receives what is sent to the group, except the datagrams it sent itself.  Sent datagrams
wait in :attr:`InMemoryNetwork.in_flight` until :meth:`InMemoryNetwork.deliver` moves them into
the receivers' queues, so a test can drop, duplicate or reorder them first, or let
:attr:`InMemoryNetwork.auto_deliver` hand them over at once.
"""

from __future__ import annotations

import ipaddress
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

from aeronpy.driver.media.socket_validation import SocketBufferInfo
from aeronpy.driver.media.udp_channel import UdpChannel

Address = tuple[str, int]
WILDCARDS = ("0.0.0.0", "::")
LOCAL_HOST = "127.0.0.1"
SO_RCVBUF = 4 * 1024 * 1024


@dataclass
class Datagram:
    """One datagram on the wire: who sent it, where to, and its bytes (a copy)."""

    source: Address
    destination: Address
    data: bytes
    sender: InMemoryTransport | None = field(default=None, repr=False, compare=False)


def _is_multicast(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_multicast
    except ValueError:
        return False


class InMemoryTransport:
    """A bound datagram endpoint on an :class:`InMemoryNetwork` (acts like ``UdpChannelTransport``)."""

    def __init__(self, network: InMemoryNetwork, bind_address: Address, source_host: str) -> None:
        self.network = network
        self.bind_address = bind_address
        self.is_multicast = _is_multicast(bind_address[0])
        self.inbox: deque[tuple[bytes, Address]] = deque()
        self._source_host = source_host
        self._closed = False
        self.effective_so_rcvbuf = SO_RCVBUF
        self.effective_so_sndbuf = SO_RCVBUF

    @property
    def local_address(self) -> Address:
        return self.bind_address

    @property
    def send_local_address(self) -> Address:
        return self.source_address

    @property
    def source_address(self) -> Address:
        """The address a receiver sees datagrams from (a concrete host, never a wildcard)."""
        host = self.bind_address[0]
        if host in WILDCARDS or self.is_multicast:
            host = self._source_host
        return host, self.bind_address[1]

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def is_connected(self) -> bool:
        return False

    def send(self, datagram: Any, address: Address | None = None) -> int:
        if self._closed:
            raise OSError(9, "send on a closed in-memory transport")
        if address is None:
            raise OSError(89, "destination address required")
        data = bytes(datagram)
        self.network.send(Datagram(self.source_address, (str(address[0]), int(address[1])), data, self))
        return len(data)

    def recv_into(self, buffer: Any) -> tuple[int, Address] | None:
        if not self.inbox:
            return None
        data, source = self.inbox.popleft()
        view = memoryview(buffer)
        length = min(len(data), len(view))
        view[:length] = data[:length]
        return length, source

    def recv_into_batch(self, buffer: Any, slot_length: int, max_messages: int) -> list[tuple[int, Address]]:
        view = memoryview(buffer)
        out: list[tuple[int, Address]] = []
        while self.inbox and len(out) < max_messages:
            data, source = self.inbox.popleft()
            start = len(out) * slot_length
            length = min(len(data), slot_length)
            view[start:start + length] = data[:length]
            out.append((length, source))
        return out

    def reconnect(self, address: Address) -> None:
        """Connected sockets are not modelled: datagrams always name their destination."""

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.network.unbind(self)

    def __repr__(self) -> str:
        return f"InMemoryTransport({self.bind_address[0]}:{self.bind_address[1]})"


class InMemoryNetwork:
    """Bound transports by address, and the datagrams travelling between them."""

    def __init__(self, auto_deliver: bool = True) -> None:
        self.auto_deliver = auto_deliver
        self.in_flight: list[Datagram] = []
        self.sent: list[Datagram] = []
        """Every datagram ever sent, in order (for assertions)."""
        self.drop: Callable[[Datagram], bool] | None = None
        """Called for each datagram sent; True drops it before it is in flight."""
        self._bound: dict[Address, list[InMemoryTransport]] = {}
        self._next_port = 50_000

    # ------------------------------------------------------------------ binding
    def bind(self, address: Address, source_host: str = LOCAL_HOST) -> InMemoryTransport:
        host, port = str(address[0]), int(address[1])
        if port == 0:
            port = self._ephemeral_port()
        key = (host, port)
        members = self._bound.setdefault(key, [])
        if members and not _is_multicast(host):
            raise OSError(98, f"address already in use: {host}:{port}")
        transport = InMemoryTransport(self, key, source_host)
        members.append(transport)
        return transport

    def _ephemeral_port(self) -> int:
        while True:
            self._next_port += 1
            if not any(port == self._next_port for _, port in self._bound):
                return self._next_port

    def unbind(self, transport: InMemoryTransport) -> None:
        members = self._bound.get(transport.bind_address, [])
        if transport in members:
            members.remove(transport)
        if not members:
            self._bound.pop(transport.bind_address, None)

    # ------------------------------------------------------------------ traffic
    def send(self, datagram: Datagram) -> None:
        self.sent.append(datagram)
        if self.drop is not None and self.drop(datagram):
            return
        self.in_flight.append(datagram)
        if self.auto_deliver:
            self.deliver()

    def receivers_of(self, datagram: Datagram) -> list[InMemoryTransport]:
        host, port = datagram.destination
        if _is_multicast(host):
            return [t for t in self._bound.get((host, port), []) if t is not datagram.sender]
        exact = self._bound.get((host, port))
        if exact:
            return exact[:1]
        for wildcard in WILDCARDS:
            found = self._bound.get((wildcard, port))
            if found:
                return found[:1]
        return []

    def deliver(self, datagrams: list[Datagram] | None = None) -> int:
        """Hand datagrams (default: everything in flight, in order) to their receivers."""
        batch = self.in_flight if datagrams is None else datagrams
        if datagrams is None:
            self.in_flight = []
        else:
            for d in datagrams:
                if d in self.in_flight:
                    self.in_flight.remove(d)
        delivered = 0
        for datagram in batch:
            for transport in self.receivers_of(datagram):
                transport.inbox.append((datagram.data, datagram.source))
                delivered += 1
        return delivered

    # ------------------------------------------------------------------ driver side
    def factory(self) -> InMemoryTransportFactory:
        return InMemoryTransportFactory(self)


class InMemoryTransportFactory:
    """Opens driver transports on an :class:`InMemoryNetwork` (``DriverContext.transport_factory``)."""

    def __init__(self, network: InMemoryNetwork) -> None:
        self.network = network

    def open_send(
        self, channel: UdpChannel, *, connect: bool, so_rcvbuf: int, so_sndbuf: int, multicast_ttl: int
    ) -> InMemoryTransport:
        if channel.is_multicast:
            return self.network.bind(channel.remote_control, channel.local_control[0])
        return self.network.bind(channel.local_control, _concrete(channel.local_control[0]))

    def open_receive(self, channel: UdpChannel, *, so_rcvbuf: int, so_sndbuf: int, multicast_ttl: int) -> InMemoryTransport:
        if channel.is_multicast:
            return self.network.bind(channel.remote_data, channel.local_data[0])
        return self.network.bind(channel.remote_data, _concrete(channel.remote_data[0]))


    def probe_buffers(self, so_sndbuf: int, so_rcvbuf: int) -> SocketBufferInfo:
        """Every buffer is as large as asked, and at least :data:`SO_RCVBUF`."""
        snd, rcv = max(so_sndbuf, SO_RCVBUF), max(so_rcvbuf, SO_RCVBUF)
        return SocketBufferInfo(
            os_default_sndbuf=SO_RCVBUF, os_default_rcvbuf=SO_RCVBUF, os_max_sndbuf=snd, os_max_rcvbuf=rcv,
            effective_sndbuf=snd, effective_rcvbuf=rcv, requested_sndbuf=so_sndbuf, requested_rcvbuf=so_rcvbuf,
        )


def _concrete(host: str) -> str:
    return LOCAL_HOST if host in WILDCARDS else host


__all__ = ["Datagram", "InMemoryNetwork", "InMemoryTransport", "InMemoryTransportFactory"]
