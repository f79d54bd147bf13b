"""The sender's common duty cycle for one network publication, in one C call.

Aeron's sender calls ``send(now)`` on every network publication each duty cycle; almost every
call either sends the next committed frames (one ``sendmmsg``) or finds nothing to send and
nothing due.  In Python that call costs one to two microseconds even when it sends nothing, a
cost every message waits out on its way through the sender.  A ``PublicationTx`` does those
two common cases in C: ``send(now_ns)`` returns the bytes it sent, or -1 when the cycle needs
:meth:`NetworkPublication.send <aeronpy.driver.network_publication.NetworkPublication.send>`
(a SETUP may be due, no receiver yet, a retransmit pending, the first cycle held by flow
control, a heartbeat due, an idle tick that does something, a released buffer), and then it
has sent and changed nothing that call would not redo the same way.

The publication's attributes stay the only holder of its state: the C side reads
``should_send_setup``, ``has_initial_connection``, ``track_sender_limits``,
``time_of_last_data_or_heartbeat_ns`` and the retransmit handler's ``_active_count`` on each
call, and writes the last two as ``send`` does.  What is fixed for its life (socket and
destination, terms, counter words, MTU, batch size, whether its idle tick is a no-op) is
bound at construction.  :class:`PublicationTxPy` is the twin the tests compare it with.
"""

from __future__ import annotations

import os
import socket
from functools import partial
from typing import Any, Callable

from aeronpy.concurrent.atomic_buffer import HAVE_C_EXTENSION
from aeronpy.driver.media.udp_transport import SEND_FRAMES_MAX_DATAGRAMS, TRANSIENT_ERRNOS, send_frames_py
from aeronpy.protocol.data_header import HDR_TYPE_PAD

NATIVE_TX = HAVE_C_EXTENSION and os.environ.get("AERONPY_PURE_PYTHON", "") != "1"
"""Whether network publications use the C sender path (off with ``AERONPY_PURE_PYTHON=1``)."""

PublicationTx: Any = None
send_frames: Any = None
if HAVE_C_EXTENSION:
    try:
        from aeronpy._atomic import PublicationTx
        from aeronpy._atomic import send_frames
    except ImportError:  # pragma: no cover - non-Linux: no sendmmsg
        PublicationTx = None


class PublicationTxPy:
    """Python twin of the C ``PublicationTx``: the same arguments, except that datagrams go
    through ``send(datagram) -> bytes sent`` (0 on a short send) instead of a socket and an
    address, and the counters through their own methods."""

    def __init__(
        self, publication: Any, send: Callable[[Any], int], terms: tuple[Any, Any, Any], snd_pos: Any,
        snd_lmt: Any, bytes_sent: Any, short_sends: Any, retransmit_handler: Any, mtu: int, max_messages: int,
        pad_type: int, heartbeat_interval_ns: int, idle_is_trivial: bool,
    ) -> None:
        if not 1 <= max_messages <= SEND_FRAMES_MAX_DATAGRAMS:
            raise ValueError(f"PublicationTx: max_messages {max_messages} must be in 1..{SEND_FRAMES_MAX_DATAGRAMS}")
        self.publication = publication
        self._send = send
        self.terms = terms
        self.term_length = len(terms[0])
        self.bits = self.term_length.bit_length() - 1
        self.snd_pos = snd_pos
        self.snd_lmt = snd_lmt
        self.bytes_sent = bytes_sent
        self.short_sends = short_sends
        self.retransmit_handler = retransmit_handler
        self.mtu = mtu
        self.max_messages = max_messages
        self.pad_type = pad_type
        self.heartbeat_interval_ns = heartbeat_interval_ns
        self.idle_is_trivial = int(idle_is_trivial)
        self.handled = 0
        self.declined = 0

    def send(self, now_ns: int) -> int:
        """Bytes sent, or -1: this cycle needs ``NetworkPublication.send``."""
        pub = self.publication
        if pub.should_send_setup or not pub.has_initial_connection or self.retransmit_handler._active_count > 0:
            return self._decline()
        buffers = (self.snd_pos.values_buffer, self.snd_lmt.values_buffer) + tuple(
            c.values_buffer for c in (self.bytes_sent, self.short_sends) if c is not None
        )
        if any(getattr(b, "released", False) for b in buffers):
            return self._decline()
        snd_pos = self.snd_pos.get_plain()
        window = self.snd_lmt.get_plain() - snd_pos
        bytes_sent = 0
        if window <= 0:
            if not pub.track_sender_limits:
                return self._decline()
        else:
            term = self.terms[(snd_pos >> self.bits) % 3]
            if getattr(term, "released", False):
                return self._decline()
            pub.track_sender_limits = False
            bytes_sent, advance, short_send = send_frames_py(
                self._send, term, snd_pos & (self.term_length - 1), window, self.mtu, self.max_messages,
                self.pad_type,
            )
            if short_send and self.short_sends is not None:
                self.short_sends.increment()
            if advance:
                self.snd_pos.set(snd_pos + advance)
                pub.time_of_last_data_or_heartbeat_ns = now_ns
                if self.bytes_sent is not None:
                    self.bytes_sent.get_and_add(bytes_sent)
        if bytes_sent == 0 and (
            not self.idle_is_trivial or now_ns - pub.time_of_last_data_or_heartbeat_ns >= self.heartbeat_interval_ns
        ):
            return self._decline()
        self.handled += 1
        return int(bytes_sent)

    def _decline(self) -> int:
        self.declined += 1
        return -1


def socket_send(sock: socket.socket, address: Any = None) -> Callable[[Any], int]:
    """``send(datagram) -> bytes sent`` on ``sock`` (to ``address``, else its peer), 0 on a
    transient error as the C ``sendmmsg`` path counts one: for :class:`PublicationTxPy`."""

    def send(datagram: Any) -> int:
        try:
            return sock.send(datagram) if address is None else sock.sendto(datagram, address)
        except OSError as e:
            if e.errno in TRANSIENT_ERRNOS:
                return 0
            raise

    return send


def new_publication_tx(
    publication: Any, kernel: Any, heartbeat_interval_ns: int, idle_is_trivial: bool, native: bool | None = None,
) -> Callable[[int], int] | None:
    """The C path's ``send`` for ``publication`` when ``native`` (default :data:`NATIVE_TX`) and
    its data path ``kernel`` is the C ``send_frames`` bound to a socket and a destination
    (``partial(send_frames, sock, sockaddr)``) over C buffers; else ``None`` (every cycle goes
    through ``NetworkPublication.send``)."""
    if native is None:
        native = NATIVE_TX
    if not native or PublicationTx is None or not isinstance(kernel, partial) or kernel.func is not send_frames:
        return None
    if len(kernel.args) != 2 or kernel.keywords or not 1 <= publication.max_messages_per_send <= SEND_FRAMES_MAX_DATAGRAMS:
        return None
    sock, sockaddr = kernel.args
    try:
        tx = PublicationTx(
            publication, sock, sockaddr, tuple(publication.term_buffers), publication.snd_pos, publication.snd_lmt,
            publication._bytes_sent, publication._short_sends, publication.retransmit_handler,
            publication.mtu_length, publication.max_messages_per_send, HDR_TYPE_PAD, heartbeat_interval_ns,
            idle_is_trivial,
        )
    except (TypeError, ValueError, AttributeError):  # test doubles, buffers that are not C ones
        return None
    return tx.send  # type: ignore[no-any-return]


__all__ = ["NATIVE_TX", "PublicationTx", "PublicationTxPy", "new_publication_tx", "socket_send"]
