"""Non-blocking UDP socket transport with the C driver's bind/connect/join rules.

* Unicast: one socket bound to the bind address; optionally ``connect``-ed (a unicast
  sender with ``aeron.driver.connect=true``).
* Multicast (bind address is a group): the receive socket sets ``SO_REUSEADDR`` and
  ``SO_REUSEPORT``, disables ``IP_MULTICAST_ALL``/``IPV6_MULTICAST_ALL`` (Linux), binds the
  wildcard address on the group's port and joins the group on the chosen interface; the send
  socket gets ``IP_MULTICAST_IF``/``IPV6_MULTICAST_IF`` and, when ``ttl > 0``, the TTL/hop
  limit.  With a connect address the send and receive sockets are separate.
* ``SO_RCVBUF``/``SO_SNDBUF`` are set when > 0 and read back (Linux reports twice the
  requested value, capped by ``net.core.rmem_max``/``wmem_max``).

``send`` returns the bytes sent, 0 for a "short send" (``EAGAIN``, ``EWOULDBLOCK``, ``EINTR``,
``ECONNREFUSED``); ``recv_into`` returns ``None`` when nothing is waiting.

``recv_into_batch`` receives up to N datagrams with one ``recvmmsg`` (C kernel
``aeronpy._atomic.recvmmsg_into``, Linux) into fixed-size slots of one buffer; its Python twin
:func:`recvmmsg_into_py` is a loop of ``recvfrom_into`` and is used where the kernel is
missing.  A datagram longer than its slot is truncated and reports the truncated (copied)
length in both (``MSG_TRUNC`` is not requested), as ``recvfrom_into`` does.

``send_frames`` is the sender's data path: the committed frames of a term, up to N datagrams of
at most an MTU each, sent with one ``sendmmsg`` (C kernel ``aeronpy._atomic.send_frames``, GIL
released in the syscall) to a packed ``struct sockaddr`` (:func:`sockaddr_of`) or the connected
peer; its Python twin :func:`send_frames_py` scans and sends one datagram per ``send`` call.
"""

from __future__ import annotations

import errno
import socket
import struct
from collections.abc import Sequence
from functools import partial
from typing import Any, Callable

from aeronpy.concurrent.atomic_buffer import view_of
from aeronpy.driver.media.udp_channel import Address, UdpChannel

__all__ = [
    "SEND_FRAMES_MAX_DATAGRAMS",
    "TRANSIENT_ERRNOS",
    "UdpChannelTransport",
    "open_receive_data_transport",
    "open_send_transport",
    "recvmmsg_into",
    "recvmmsg_into_py",
    "send_frames",
    "send_frames_py",
    "sockaddr_of",
]

TRANSIENT_ERRNOS = frozenset({errno.EAGAIN, errno.EWOULDBLOCK, errno.EINTR, errno.ECONNREFUSED})
"""Errors that mean "nothing sent/received now" rather than failure (as in the C driver)."""

_IP_MULTICAST_ALL = getattr(socket, "IP_MULTICAST_ALL", 49)
_IPV6_MULTICAST_ALL = 29


def recvmmsg_into_py(
    sock: Any, buffer: Any, slot_length: int, max_messages: int, timestamps: Any = None,
) -> list[tuple[int, Any]]:
    """Python twin of the C ``recvmmsg_into``: receive up to ``max_messages`` datagrams from
    ``sock`` (a socket; non-blocking receive via ``MSG_DONTWAIT``) into consecutive
    ``slot_length``-byte slots of ``buffer``.  Returns ``[(length, address), ...]`` with
    ``recvfrom_into``'s address (``(host, port)`` / ``(host, port, flowinfo, scope_id)``);
    ``[]`` when nothing is waiting.  An error other than would-block raises ``OSError`` if
    nothing was received yet; after at least one datagram it ends the batch (``recvmmsg``
    returns the datagrams received so far too).  With ``timestamps`` (a writable buffer of at
    least ``max_messages`` int64, e.g. ``array('q')``) each datagram's kernel receive time
    (``SCM_TIMESTAMPNS``, epoch ns; the socket needs ``SO_TIMESTAMPNS``) goes to
    ``timestamps[i]``, -1 where it came without one."""
    if slot_length <= 0 or max_messages < 0:
        raise ValueError("slot_length must be > 0 and max_messages >= 0")
    view = memoryview(buffer).cast("B")
    if view.readonly:
        raise BufferError("Object is not writable.")  # as the C kernel (PyBUF_WRITABLE)
    stamps = None
    if timestamps is not None:
        stamps = memoryview(timestamps).cast("B").cast("q")
        if stamps.readonly:
            raise BufferError("Object is not writable.")
    if max_messages > len(view) // slot_length:
        raise ValueError("buffer too small for max_messages slots of slot_length")
    if stamps is not None and len(stamps) < min(max_messages, 1024):
        raise ValueError("timestamps too small for max_messages int64 values")
    flags = _MSG_DONTWAIT
    result: list[tuple[int, Any]] = []
    offset = 0
    for i in range(min(max_messages, 1024)):
        slot = view[offset:offset + slot_length]
        try:
            if stamps is None:
                result.append(sock.recvfrom_into(slot, slot_length, flags))
            else:
                length, ancillary, _, address = sock.recvmsg_into([slot], _TIMESTAMP_CMSG_SPACE, flags)
                stamps[i] = receive_timestamp_of(ancillary)
                result.append((length, address))
        except OSError as e:
            if result or e.errno in (errno.EAGAIN, errno.EWOULDBLOCK):
                break
            raise
        offset += slot_length
    return result


SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
"""Linux ``SO_TIMESTAMPNS``: kernel receive times as ``SCM_TIMESTAMPNS`` control messages."""
SCM_TIMESTAMPNS = SO_TIMESTAMPNS
SO_TIMESTAMPING = getattr(socket, "SO_TIMESTAMPING", 37)
SOF_TIMESTAMPING_RX_HARDWARE = 1 << 2
_TIMESPEC = struct.Struct("@qq")
_TIMESTAMP_CMSG_SPACE = socket.CMSG_SPACE(_TIMESPEC.size) if hasattr(socket, "CMSG_SPACE") else 64


def receive_timestamp_of(ancillary: Sequence[tuple[int, int, bytes]]) -> int:
    """The ``SCM_TIMESTAMPNS`` time (epoch ns) in ``recvmsg`` ancillary data, else -1."""
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == SCM_TIMESTAMPNS and len(data) == _TIMESPEC.size:
            seconds, nanos = _TIMESPEC.unpack(data)
            return int(seconds * 1_000_000_000 + nanos)
    return -1


_MSG_DONTWAIT = getattr(socket, "MSG_DONTWAIT", 0)

recvmmsg_into: Callable[..., list[tuple[int, Any]]]
try:
    from aeronpy._atomic import recvmmsg_into
except ImportError:  # pragma: no cover - non-Linux or without the extension
    recvmmsg_into = recvmmsg_into_py
"""The batched receive in use: the C kernel when available, else the Python twin."""

SEND_FRAMES_MAX_DATAGRAMS = 64
"""The most datagrams one ``send_frames`` call sends."""


def send_frames_py(
    send: Callable[[memoryview], int], term: Any, term_offset: int, limit: int, mtu: int,
    max_datagrams: int, pad_type: int,
) -> tuple[int, int, int]:
    """Python twin of the C ``send_frames``, with ``send(datagram) -> bytes sent`` (0 on a short
    send) in place of the socket: up to ``max_datagrams`` datagrams of the committed frames of
    ``term`` (an AtomicBuffer) from ``term_offset``, each at most ``mtu`` bytes and within
    ``limit`` bytes of the start counting skipped padding (``scan_for_availability``: a PAD
    frame sends its header only).  Returns ``(bytes_sent, advance, short_send)``: bytes sent,
    how far the offset advanced over what was sent (plus the padding skipped), and 1 if a
    datagram was not sent whole.  It sends each datagram as it scans it, where the kernel scans
    all and then sends once, so an error raised by a later datagram loses the count of the
    earlier ones (they are sent again: receivers drop duplicates)."""
    if not 0 <= max_datagrams <= SEND_FRAMES_MAX_DATAGRAMS:
        raise ValueError(f"max_datagrams must be 0..{SEND_FRAMES_MAX_DATAGRAMS}: {max_datagrams}")
    view = view_of(term)
    scan = term.scan_for_availability
    offset = term_offset
    bytes_sent = 0
    for _ in range(max_datagrams):
        max_length = min(limit - (offset - term_offset), mtu)
        if max_length <= 0:
            break
        available, padding = scan(offset, max_length, pad_type)
        if available == 0:
            break
        if send(view[offset:offset + available]) != available:
            return bytes_sent, offset - term_offset, 1
        bytes_sent += available
        offset += available + padding
    return bytes_sent, offset - term_offset, 0


def _send_frames_unavailable(*_args: Any) -> tuple[int, int, int]:  # pragma: no cover - non-Linux
    raise OSError(errno.ENOSYS, "sendmmsg is not available")


send_frames: Callable[[Any, bytes | None, Any, int, int, int, int, int], tuple[int, int, int]]
HAVE_SEND_FRAMES = True
try:
    from aeronpy._atomic import send_frames
except ImportError:  # pragma: no cover - non-Linux or without the extension
    send_frames = _send_frames_unavailable
    HAVE_SEND_FRAMES = False
"""``send_frames(sock, sockaddr, term, term_offset, limit, mtu, max_datagrams, pad_type)``: the
C kernel (see :func:`send_frames_py` for what it does); ``sockaddr`` from :func:`sockaddr_of`,
or ``None`` for a connected socket."""


def sockaddr_of(address: Any) -> bytes | None:
    """``(host, port)`` with a numeric IPv4/IPv6 host as a packed ``struct sockaddr_in`` /
    ``sockaddr_in6`` (Linux layout), or ``None`` when it is not one (a name, a scoped IPv6
    address): the caller then sends through the socket module instead."""
    host, port = str(address[0]), int(address[1])
    if not 0 <= port <= 0xFFFF or "%" in host:
        return None
    try:
        if ":" in host:
            raw = socket.inet_pton(socket.AF_INET6, host)
            return (struct.pack("=H", socket.AF_INET6) + struct.pack(">HI", port, 0) + raw
                    + struct.pack("=I", 0))
        raw = socket.inet_pton(socket.AF_INET, host)
    except OSError:
        return None
    return struct.pack("=H", socket.AF_INET) + struct.pack(">H", port) + raw + bytes(8)


def _family_of(host: str) -> int:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _is_multicast(host: str) -> bool:
    family = _family_of(host)
    raw = socket.inet_pton(family, host)
    return raw[0] == 0xFF if family == socket.AF_INET6 else 224 <= raw[0] <= 239


def _wildcard_host(family: int) -> str:
    return "::" if family == socket.AF_INET6 else "0.0.0.0"


def _set_multicast_all_off(sock: socket.socket, family: int) -> None:
    try:
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, _IPV6_MULTICAST_ALL, 0)
        else:
            sock.setsockopt(socket.IPPROTO_IP, _IP_MULTICAST_ALL, 0)
    except OSError as e:
        if e.errno != errno.ENOPROTOOPT:
            raise


class UdpChannelTransport:
    """One UDP transport: a send socket and a receive socket (the same socket unless a
    multicast transport is also connected).  See the module docstring for the rules."""

    def __init__(
        self,
        bind_address: Address,
        *,
        connect_address: Address | None = None,
        multicast_if_address: str | None = None,
        multicast_if_index: int = 0,
        multicast_ttl: int = 0,
        multicast_loop: bool | None = None,
        so_rcvbuf: int = 0,
        so_sndbuf: int = 0,
    ) -> None:
        self.bind_address = bind_address
        self.connect_address = connect_address
        self.family = _family_of(bind_address[0])
        self.is_multicast = _is_multicast(bind_address[0])
        self.requested_so_rcvbuf = so_rcvbuf
        self.requested_so_sndbuf = so_sndbuf
        self._closed = False
        family = self.family
        self._sock = socket.socket(family, socket.SOCK_DGRAM)
        self._recv_sock = self._sock
        try:
            if not self.is_multicast:
                self._sock.bind(bind_address)
            else:
                if connect_address is not None:
                    self._recv_sock = socket.socket(family, socket.SOCK_DGRAM)
                self._setup_multicast(bind_address, multicast_if_address, multicast_if_index, multicast_ttl)
                if multicast_loop is not None:
                    level, opt = (
                        (socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP)
                        if family == socket.AF_INET6
                        else (socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP)
                    )
                    self._sock.setsockopt(level, opt, 1 if multicast_loop else 0)
            if connect_address is not None:
                self._sock.connect(connect_address)
            if so_rcvbuf > 0:
                self._recv_sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, so_rcvbuf)
            if so_sndbuf > 0:
                self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, so_sndbuf)
            self._sock.setblocking(False)
            self._recv_sock.setblocking(False)
            self.recv_fd = self._recv_sock.fileno()
            """The receive socket's descriptor (for readiness polling; stale once closed)."""
        except BaseException:
            self.close()
            raise

    def _setup_multicast(self, group: Address, if_address: str | None, if_index: int, ttl: int) -> None:
        recv = self._recv_sock
        recv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if hasattr(socket, "SO_REUSEPORT"):
            recv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        _set_multicast_all_off(recv, self.family)
        recv.bind((_wildcard_host(self.family), group[1]))
        if self.family == socket.AF_INET6:
            mreq6 = socket.inet_pton(socket.AF_INET6, group[0]) + if_index.to_bytes(4, "little", signed=False)
            recv.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, mreq6)
            self._sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, if_index)
            if ttl > 0:
                self._sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, ttl)
        else:
            iface = socket.inet_aton(if_address if if_address is not None else "0.0.0.0")
            mreq = socket.inet_aton(group[0]) + iface
            recv.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
            self._sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, iface)
            if ttl > 0:
                self._sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, ttl)

    # -----------------------------------------------------------------------------------------

    @property
    def effective_so_rcvbuf(self) -> int:
        """``SO_RCVBUF`` as the kernel reports it (Linux: twice what was set, capped)."""
        return int(self._recv_sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))

    @property
    def effective_so_sndbuf(self) -> int:
        return int(self._sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF))

    @property
    def local_address(self) -> Address:
        """The receive socket's bound ``(host, port)`` (the real port when bound to 0)."""
        name: Any = self._recv_sock.getsockname()
        return str(name[0]), int(name[1])

    @property
    def send_local_address(self) -> Address:
        name: Any = self._sock.getsockname()
        return str(name[0]), int(name[1])

    @property
    def is_connected(self) -> bool:
        return self.connect_address is not None

    @property
    def closed(self) -> bool:
        return self._closed

    def fileno(self) -> int:
        """The receive socket's descriptor (for poll/select)."""
        return self._recv_sock.fileno()

    def send_fileno(self) -> int:
        return self._sock.fileno()

    def reconnect(self, address: Address) -> None:
        """Re-``connect`` a connected transport (re-resolution)."""
        if self.connect_address is not None:
            self._sock.connect(address)
            self.connect_address = address

    # -----------------------------------------------------------------------------------------

    def send(self, datagram: bytes | bytearray | memoryview, address: Address | None = None) -> int:
        """Send one datagram (to ``address``, or the connected peer); 0 on a short send."""
        try:
            if self.connect_address is not None or address is None:
                return self._sock.send(datagram)
            return self._sock.sendto(datagram, address)
        except OSError as e:
            if e.errno in TRANSIENT_ERRNOS:
                return 0
            raise

    def send_target(self, address: Address | None) -> tuple[socket.socket, bytes | None] | None:
        """What the C ``send_frames`` kernel needs to send to ``address`` as :meth:`send` would:
        ``(socket, packed sockaddr or None when connected)``, or ``None`` when the kernel is
        unavailable or the address is not numeric (then use :meth:`send`)."""
        if not HAVE_SEND_FRAMES:
            return None  # pragma: no cover - non-Linux
        if self.connect_address is not None or address is None:
            return self._sock, None
        sockaddr = sockaddr_of(address)
        if sockaddr is None or (len(sockaddr) == 28) != (self.family == socket.AF_INET6):
            return None
        return self._sock, sockaddr

    def recv_into(self, buffer: bytearray | memoryview) -> tuple[int, Address] | None:
        """Receive one datagram into ``buffer``: ``(length, source)`` or ``None``."""
        try:
            length, source = self._recv_sock.recvfrom_into(buffer)
        except OSError as e:
            if e.errno in TRANSIENT_ERRNOS:
                return None
            raise
        return length, (str(source[0]), int(source[1]))

    def recv_batch(
        self, buffers: Sequence[bytearray | memoryview], max_messages: int | None = None
    ) -> list[tuple[int, Address]]:
        """Receive up to ``max_messages`` (default ``len(buffers)``) datagrams, one per buffer,
        stopping at the first would-block."""
        limit = len(buffers) if max_messages is None else min(max_messages, len(buffers))
        result: list[tuple[int, Address]] = []
        for i in range(limit):
            received = self.recv_into(buffers[i])
            if received is None:
                break
            result.append(received)
        return result

    def enable_media_rcv_timestamps(self) -> None:
        """Ask the kernel for receive times (``SO_TIMESTAMPNS``, and ``SO_TIMESTAMPING`` with
        ``SOF_TIMESTAMPING_RX_HARDWARE`` where the NIC can, as the C driver); then pass a
        ``timestamps`` buffer to :meth:`batch_receiver`.  Raises ``OSError`` if refused."""
        self._recv_sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self._recv_sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPING, SOF_TIMESTAMPING_RX_HARDWARE)
        self.media_rcv_timestamps = True

    media_rcv_timestamps = False
    """Whether :meth:`enable_media_rcv_timestamps` succeeded."""

    def recv_into_batch(
        self, buffer: Any, slot_length: int, max_messages: int, timestamps: Any = None,
    ) -> list[tuple[int, Address]]:
        """Receive up to ``max_messages`` datagrams with one syscall (``recvmmsg``) into
        consecutive ``slot_length``-byte slots of ``buffer`` (datagram ``i`` at
        ``i * slot_length``): ``[(length, source), ...]``, ``[]`` when nothing is waiting
        (or on a transient error, as ``recv_into``); kernel receive times into ``timestamps``
        when given (see :func:`recvmmsg_into_py`)."""
        try:
            received = recvmmsg_into(self._recv_sock, buffer, slot_length, max_messages, timestamps)
        except OSError as e:
            if e.errno in TRANSIENT_ERRNOS:
                return []
            raise
        if self.family == socket.AF_INET6:
            return [(length, (str(source[0]), int(source[1]))) for length, source in received]
        return received

    def batch_receiver(
        self, buffer: Any, slot_length: int, max_messages: int, timestamps: Any = None,
    ) -> Callable[[], list[tuple[int, Any]]]:
        """A zero-argument callable doing :meth:`recv_into_batch` into ``buffer`` - for IPv4 the
        C kernel bound to the socket directly (no Python frame per poll), which may raise
        ``OSError`` with a transient errno (:data:`TRANSIENT_ERRNOS`: the caller treats it as
        nothing received)."""
        if self.family == socket.AF_INET and recvmmsg_into is not recvmmsg_into_py:
            if timestamps is not None:
                return partial(recvmmsg_into, self._recv_sock, buffer, slot_length, max_messages, timestamps)
            return partial(recvmmsg_into, self._recv_sock, buffer, slot_length, max_messages)
        return partial(self.recv_into_batch, buffer, slot_length, max_messages, timestamps)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._recv_sock is not self._sock:
            self._recv_sock.close()
        self._sock.close()

    def __enter__(self) -> UdpChannelTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"UdpChannelTransport(bind={self.bind_address}, connect={self.connect_address}, "
            f"multicast={self.is_multicast}, closed={self._closed})"
        )


# ---------------------------------------------------------------------------------------------
# Driver factories


def open_receive_data_transport(
    channel: UdpChannel,
    *,
    so_rcvbuf: int = 0,
    so_sndbuf: int = 0,
    multicast_ttl: int = 0,
) -> UdpChannelTransport:
    """Receiver side (receive channel endpoint / destination): bind ``remote_data`` (unicast
    endpoint, or join the multicast data group on the channel's interface).  Buffer sizes
    default to the channel's ``so-rcvbuf``/``so-sndbuf``, else the given driver defaults."""
    return UdpChannelTransport(
        channel.remote_data,
        multicast_if_address=channel.local_data[0] if channel.is_multicast else None,
        multicast_if_index=channel.interface_index,
        multicast_ttl=channel.multicast_ttl or multicast_ttl,
        so_rcvbuf=channel.socket_rcvbuf_or(so_rcvbuf),
        so_sndbuf=channel.socket_sndbuf_or(so_sndbuf),
    )


def open_send_transport(
    channel: UdpChannel,
    *,
    connect: bool = False,
    so_rcvbuf: int = 0,
    so_sndbuf: int = 0,
    multicast_ttl: int = 0,
) -> UdpChannelTransport:
    """Sender side (send channel endpoint): bind ``local_control`` (unicast: interface or
    wildcard, or the ``control`` address) or join the multicast control group
    (``remote_control``) on the interface; ``connect`` (``aeron.driver.connect``) connects a
    non-MDC sender with an explicit endpoint to ``remote_data``."""
    connect_address = (
        channel.remote_data
        if connect and channel.has_explicit_endpoint and not channel.is_multidestination
        else None
    )
    return UdpChannelTransport(
        channel.remote_control if channel.is_multicast else channel.local_control,
        connect_address=connect_address,
        multicast_if_address=channel.local_control[0] if channel.is_multicast else None,
        multicast_if_index=channel.interface_index,
        multicast_ttl=channel.multicast_ttl or multicast_ttl,
        so_rcvbuf=channel.socket_rcvbuf_or(so_rcvbuf),
        so_sndbuf=channel.socket_sndbuf_or(so_sndbuf),
    )
