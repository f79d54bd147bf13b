"""Where the driver's datagram transports come from: real UDP sockets, or anything that acts alike.

The network conductor opens every send and receive transport through the
:class:`TransportFactory` on :class:`~aeronpy.driver.context.DriverContext`
(``ctx.transport_factory``), so tests can put the whole driver on an in-memory network
(:mod:`aeronpy.testing.network`) and drive it with a manual clock, no sockets and no sleeps.
"""

from __future__ import annotations

from typing import Any, Protocol

from aeronpy.driver.media.socket_validation import SocketBufferInfo, probe_socket_buffers
from aeronpy.driver.media.udp_channel import UdpChannel
from aeronpy.driver.media.udp_transport import open_receive_data_transport, open_send_transport


class DatagramTransport(Protocol):
    """What endpoints use of a transport (``UdpChannelTransport`` is the real one)."""

    @property
    def local_address(self) -> Any: ...

    def send(self, datagram: Any, address: Any = None) -> int: ...

    def recv_into(self, buffer: Any) -> tuple[int, Any] | None: ...

    def close(self) -> None: ...


class TransportFactory(Protocol):
    def open_send(
        self, channel: UdpChannel, *, connect: bool, so_rcvbuf: int, so_sndbuf: int, multicast_ttl: int
    ) -> Any:
        """The socket of a send channel endpoint (bound to the channel's control address)."""
        ...

    def open_receive(self, channel: UdpChannel, *, so_rcvbuf: int, so_sndbuf: int, multicast_ttl: int) -> Any:
        """The socket of a receive channel endpoint or destination (bound to the data address)."""
        ...

    def probe_buffers(self, so_sndbuf: int, so_rcvbuf: int) -> SocketBufferInfo:
        """OS defaults, maxima and effective sizes of socket buffers, checked at driver start."""
        ...


class UdpTransportFactory:
    """Real UDP sockets (the default)."""

    def open_send(
        self, channel: UdpChannel, *, connect: bool, so_rcvbuf: int, so_sndbuf: int, multicast_ttl: int
    ) -> Any:
        return open_send_transport(
            channel, connect=connect, so_rcvbuf=so_rcvbuf, so_sndbuf=so_sndbuf, multicast_ttl=multicast_ttl
        )

    def open_receive(self, channel: UdpChannel, *, so_rcvbuf: int, so_sndbuf: int, multicast_ttl: int) -> Any:
        return open_receive_data_transport(
            channel, so_rcvbuf=so_rcvbuf, so_sndbuf=so_sndbuf, multicast_ttl=multicast_ttl
        )

    def probe_buffers(self, so_sndbuf: int, so_rcvbuf: int) -> SocketBufferInfo:
        return probe_socket_buffers(so_sndbuf, so_rcvbuf)


__all__ = ["DatagramTransport", "TransportFactory", "UdpTransportFactory"]
