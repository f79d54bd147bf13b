"""UDP channel endpoints: send side (data out, control frames in) and receive side.

Each endpoint owns one transport (socket).  Datagrams are validated with
:func:`aeronpy.protocol.frames.classify_datagram`; invalid ones are counted in the
"Invalid packets" system counter and dropped.

A receive endpoint with a socket (not MDS, no loss interceptor) first hands each received batch
to the C DATA path (:mod:`aeronpy.driver.image_rx`): it rebuilds the common case and leaves the
first datagram it does not take to the Python dispatch below, then goes on after it.
"""

from __future__ import annotations

import struct
import time
from array import array
from functools import partial
from dataclasses import dataclass, field
from typing import Any, Callable

from aeronpy.concurrent.counters import AtomicCounter
from aeronpy.driver.destination_tracker import DestinationTracker
from aeronpy.driver.image_rx import NATIVE_RX, dispatch_data, image_key
from aeronpy.driver.media.timestamps import ReceiveTimestamps, stamping_send
from aeronpy.driver.media.udp_transport import (
    TRANSIENT_ERRNOS, recvmmsg_into, recvmmsg_into_py, send_frames, send_frames_py,
)
from aeronpy.driver.system_counters import SystemCounterId
from aeronpy.protocol import data_header as dh
from aeronpy.logbuffer.descriptor import TERM_MAX_LENGTH
from aeronpy.protocol import frames
from aeronpy.protocol.frames import classify_datagram
from aeronpy.uri import CONTROL, ENDPOINT, ChannelUri

RECV_BUFFER_LENGTH = 65536
MAX_DATAGRAMS_PER_POLL = 32
PENDING_SETUP_TIMEOUT_NS = 1_000_000_000
MAX_PENDING_SETUPS = 1024  # beyond this, expired entries are pruned (hostile session ids)
CONTROL_SETUP_INTERVAL_NS = 1_000_000_000
SEND_ENDPOINT_RE_RESOLUTION_TIMEOUT_NS = 5_000_000_000
"""A unicast send endpoint without an SM for this long re-resolves its ``endpoint`` (as C)."""
RECEIVE_DESTINATION_TIMEOUT_NS = 5_000_000_000
"""A receive destination with an explicit ``control`` silent for this long re-resolves it."""
"""MDC subscribers re-send the session 0 / stream 0 SEND_SETUP SM to the control address this often."""
CHANNEL_ACTIVE = 1
CHANNEL_CLOSING = 2

# The frame layouts are protocol.frames'; the short local names keep the dispatch code readable.
_HDR = frames.FRAME_HEADER_LAYOUT
_DATA = frames.DATA_LAYOUT
_SETUP = frames.SETUP_LAYOUT
_SM = frames.SM_LAYOUT
_SM_TAG = frames.INT64_LAYOUT
_NAK = frames.NAK_LAYOUT
_RTTM = frames.RTTM_LAYOUT
_ERR = frames.ERR_LAYOUT
_RSP_SETUP = frames.RSP_SETUP_LAYOUT
_ERR_HAS_GROUP_TAG_FLAG = frames.ERR_HAS_GROUP_TAG_FLAG
_ERR_MAX_TEXT_LENGTH = frames.ERR_MAX_TEXT_LENGTH
_SEND_SETUP_SM = frames.SM_LAYOUT
_DATA_HEADER_LENGTH = dh.HEADER_LENGTH
_TYPE_DATA = dh.HDR_TYPE_DATA
_TYPE_PAD = dh.HDR_TYPE_PAD


def _adder(counter: AtomicCounter | None) -> Callable[[int], object] | None:
    """``counter.get_and_add``, bound straight to its word where it is a plain AtomicCounter."""
    if counter is None:
        return None
    if type(counter) is AtomicCounter:
        return partial(counter.values_buffer.get_and_add_int64, counter.offset)
    return counter.get_and_add


class _Endpoint:
    def __init__(self, channel: Any, transport: Any, status: AtomicCounter | None, system_counters: dict[int, AtomicCounter]) -> None:
        self.channel = channel
        self.transport = transport
        self.status = status
        self.refcnt = 0
        # MAX_DATAGRAMS_PER_POLL slots of RECV_BUFFER_LENGTH: one recvmmsg fills a whole poll.
        self._buffer = bytearray(RECV_BUFFER_LENGTH * MAX_DATAGRAMS_PER_POLL)
        self._view = memoryview(self._buffer)
        self._receivers: dict[Any, Callable[[], list[tuple[int, Any]]]] = {}
        self._invalid = system_counters.get(SystemCounterId.INVALID_PACKETS)
        self._add_bytes_received = _adder(system_counters.get(SystemCounterId.BYTES_RECEIVED))
        self._resolution_changes = system_counters.get(SystemCounterId.RESOLUTION_CHANGES)
        self.interceptor: Any = None
        self.error_handler: Callable[[BaseException], None] | None = None
        self._fd = socket_fd(transport)  # the transport's descriptor, fixed for its life (-1: none)
        if status is not None:
            status.set(CHANNEL_ACTIVE)

    def poll(self, now_ns: int) -> int:
        """Read up to MAX_DATAGRAMS_PER_POLL datagrams and dispatch them."""
        return self._poll_transport(self.transport, now_ns)

    def _receiver_for(self, transport: Any) -> Callable[[], list[tuple[int, Any]]]:
        receiver = self._receivers.get(transport)
        if receiver is None:
            if hasattr(transport, "batch_receiver"):
                receiver = transport.batch_receiver(self._buffer, RECV_BUFFER_LENGTH, MAX_DATAGRAMS_PER_POLL)
            elif hasattr(transport, "recv_into_batch"):
                receiver = partial(transport.recv_into_batch, self._buffer, RECV_BUFFER_LENGTH, MAX_DATAGRAMS_PER_POLL)
            else:  # a transport without batched receive (test doubles): one datagram per call
                receiver = partial(self._recv_one_by_one, transport)
            self._receivers[transport] = receiver
        return receiver

    def _recv_one_by_one(self, transport: Any) -> list[tuple[int, Any]]:
        view = self._view
        batch: list[tuple[int, Any]] = []
        for _ in range(MAX_DATAGRAMS_PER_POLL):
            received = transport.recv_into(view[len(batch) * RECV_BUFFER_LENGTH:(len(batch) + 1) * RECV_BUFFER_LENGTH])
            if received is None:
                break
            batch.append(received)
        return batch

    def forget_transport(self, transport: Any) -> None:
        """Drop the cached receiver of a transport that is gone (MDS destination removed)."""
        self._receivers.pop(transport, None)

    def transports(self) -> list[Any]:
        """The transports this endpoint reads from."""
        return [self.transport]

    @property
    def ready_fd(self) -> int:
        """The one descriptor whose readiness says this endpoint has datagrams waiting, or -1
        (none, or several: the agent calls :meth:`poll_ready` every cycle)."""
        return self._fd

    def poll_ready(self, now_ns: int, ready: Any) -> int:
        """:meth:`poll`, skipping sockets that are not in ``ready`` (descriptors an ``epoll`` found
        readable); a transport without a descriptor (test doubles) is always read."""
        fd = self._fd
        if fd >= 0 and fd not in ready:
            return 0
        return self.poll(now_ns)

    def _receive_batch(self, transport: Any) -> list[tuple[int, Any]]:
        """The datagrams waiting on ``transport`` (in the slots of the endpoint's buffer), up to
        MAX_DATAGRAMS_PER_POLL; none after a transient error."""
        receiver = self._receivers.get(transport) or self._receiver_for(transport)
        try:
            return receiver()
        except OSError as e:
            if e.errno in TRANSIENT_ERRNOS:
                return []
            raise

    def _poll_transport(self, transport: Any, now_ns: int) -> int:
        batch = self._receive_batch(transport)
        if not batch:
            return 0
        return self._dispatch_batch(batch, 0, 0, now_ns, False)

    def _dispatch_batch(self, batch: list[tuple[int, Any]], i: int, total: int, now_ns: int, declined: bool) -> int:
        """Dispatch ``batch`` from datagram ``i`` on and count its bytes received; returns its size.

        ``total``: the bytes of the datagrams before ``i`` (taken already); ``declined``: the
        DATA fast path already declined datagram ``i`` (the Python path takes it first)."""
        view = self._view
        buffer = self._buffer
        interceptor = self.interceptor
        on_data = self._on_data
        kernel = self._rx_kernel if interceptor is None else None
        reply = self._kernel_reply() if kernel is not None else None
        count = len(batch)
        while i < count:
            if declined:
                declined = False
            elif kernel is not None:  # the DATA fast path takes what it can, up to a datagram it leaves here
                i, taken = kernel(batch, i, now_ns, reply)
                total += taken
                if i >= count:
                    break
            length, address = batch[i]
            slot = i * RECV_BUFFER_LENGTH
            i += 1
            total += length
            datagram = view[slot:slot + length]
            try:
                if on_data is not None and length >= _DATA_HEADER_LENGTH:
                    # DATA/PAD, the hot path: classify_datagram's rules for them, inline
                    header = _DATA.unpack_from(buffer, slot)
                    frame_type = header[3]
                    if frame_type == _TYPE_DATA or frame_type == _TYPE_PAD:
                        if header[1] != 0 or header[0] < 0 or length & 31:
                            if self._invalid is not None:
                                self._invalid.increment()
                        elif interceptor is None or not interceptor.should_drop(datagram):
                            on_data(header, datagram, length, address, now_ns)
                        continue
                frame_type = classify_datagram(datagram)
                if frame_type is None:
                    if self._invalid is not None:
                        self._invalid.increment()
                    continue
                if interceptor is not None and interceptor.should_drop(datagram):
                    continue
                self.on_frame(frame_type, datagram, length, address, now_ns)
            except (struct.error, ValueError, IndexError):
                if self._invalid is not None:
                    self._invalid.increment()
            except OSError as ex:  # a reply could not be sent: keep dispatching the batch
                if self.error_handler is not None:
                    self.error_handler(ex)
        add = self._add_bytes_received
        if add is not None:
            add(total)
        return count

    _rx_kernel: Callable[[list[tuple[int, Any]], int, int, Any], tuple[int, int]] | None = None
    """The DATA fast path over a batch (``dispatch_data`` bound to the endpoint's images), else None."""

    def _kernel_reply(self) -> Any:
        """The reply address the fast path compares sources with (None: each datagram's source)."""
        return None

    _on_data: Callable[[tuple[Any, ...], memoryview, int, Any, int], None] | None = None
    """The DATA/PAD handler taking the unpacked header (receive endpoints), else None."""

    def on_frame(self, frame_type: int, datagram: memoryview, length: int, address: Any, now_ns: int) -> None:
        raise NotImplementedError

    def close(self) -> None:
        if self.status is not None:
            self.status.set(CHANNEL_CLOSING)
        self.transport.close()


def socket_fd(transport: Any) -> int:
    """The receive socket's descriptor of a UDP transport, -1 for one without (test doubles)."""
    return int(getattr(transport, "recv_fd", -1))


class SendChannelEndpoint(_Endpoint):
    """Sender side of a channel: sends data to the endpoint, receives SM/NAK/RTTM/ERR."""

    def __init__(
        self, channel: Any, transport: Any, destination: Any, status: AtomicCounter | None,
        system_counters: dict[int, AtomicCounter], tracker: DestinationTracker | None = None,
    ) -> None:
        super().__init__(channel, transport, status, system_counters)
        self.destination = destination
        self.publications: dict[tuple[int, int], Any] = {}
        self.tracker = tracker  # MDC (control-mode manual/dynamic): the destinations
        self.is_unicast = not channel.is_multicast and tracker is None
        self.time_of_last_sm_ns = 0  # set by the sender when it adds the endpoint
        self._errors_received = system_counters.get(SystemCounterId.ERROR_FRAMES_RECEIVED)
        # The C data path (scan + sendmmsg) where the transport offers it and there is one
        # destination (MDC sends go through the tracker, one destination at a time).
        send_target = getattr(transport, "send_target", None) if tracker is None else None
        target = send_target(destination) if send_target is not None else None
        self._kernel = partial(send_frames, target[0], target[1]) if target is not None else None

    def send(self, data: Any, now_ns: int, address: Any = None) -> int:
        """Send one datagram to ``address``, else to the channel's destination (MDC: to every
        live destination of the tracker, which drops the ones silent at ``now_ns``)."""
        # Not counted in "Bytes sent" here: like the C sender, only the data and heartbeat bytes a
        # publication's send duty cycle returns are counted (NetworkPublication), once.
        if address is None and self.tracker is not None:
            return self.tracker.send(self.transport, data, now_ns)
        return int(self.transport.send(data, address if address is not None else self.destination))

    def send_frames(
        self, term: Any, term_offset: int, limit: int, mtu: int, max_datagrams: int, now_ns: int,
    ) -> tuple[int, int, int]:
        """Send up to ``max_datagrams`` datagrams of ``term``'s committed frames from
        ``term_offset`` (``send_frames`` in :mod:`~aeronpy.driver.media.udp_transport`):
        ``(bytes_sent, advance, short_send)``.  One ``sendmmsg`` when the transport allows it."""
        kernel = self._kernel
        if kernel is not None:
            return kernel(term, term_offset, limit, mtu, max_datagrams, dh.HDR_TYPE_PAD)
        send: Callable[[Any], int] = partial(self.send, now_ns=now_ns)
        if self._snd_ts_offset is not None:
            send = stamping_send(send, self._snd_ts_offset, self._epoch_ns_clock())
        return send_frames_py(send, term, term_offset, limit, mtu, max_datagrams, dh.HDR_TYPE_PAD)

    _snd_ts_offset: int | None = None
    _epoch_ns_clock: Callable[[], int] = staticmethod(time.time_ns)

    def enable_send_timestamps(self, ts_offset: int, epoch_ns_clock: Callable[[], int]) -> None:
        """``channel-snd-ts-offset``: the first DATA frame of each datagram gets the send time
        (``epoch_ns_clock``, once per batch) at ``ts_offset`` as it goes out.  Before any
        publication uses the endpoint: the stamping path replaces the C data path."""
        self._snd_ts_offset = ts_offset
        self._epoch_ns_clock = epoch_ns_clock
        self._kernel = None

    def frame_sender(self) -> Callable[[Any, int, int, int, int, int], tuple[int, int, int]] | None:
        """The C data path (one term scan + one ``sendmmsg``) bound to the socket and the
        destination, taking ``(term, term_offset, limit, mtu, max_datagrams, pad_type)``; it needs
        no time.  ``None`` where the transport has no such path or the endpoint is MDC (its sends
        go through the tracker, which needs the time): use :meth:`send_frames` then."""
        return self._kernel

    def frame_sender_to(self, address: Any) -> Callable[[Any, int, int, int, int, int], tuple[int, int, int]]:
        """:meth:`frame_sender` for one ``address`` (a response publication's receiver): the C
        data path where the transport offers it, else the Python twin sending there."""
        send_target = getattr(self.transport, "send_target", None)
        target = send_target(address) if send_target is not None else None
        if target is not None:
            return partial(send_frames, target[0], target[1])
        return partial(send_frames_py, partial(self._send_to, address))

    def _send_to(self, address: Any, data: Any) -> int:
        return int(self.transport.send(data, address))

    def add_publication(self, publication: Any) -> None:
        self.publications[(publication.session_id, publication.stream_id)] = publication

    def remove_publication(self, publication: Any) -> None:
        self.publications.pop((publication.session_id, publication.stream_id), None)

    def on_frame(self, frame_type: int, datagram: memoryview, length: int, address: Any, now_ns: int) -> None:
        if frame_type == dh.HDR_TYPE_SM:
            (_, _, flags, _, session_id, stream_id, term_id, term_offset, window, receiver_id) = _SM.unpack_from(datagram, 0)
            frame_length = _HDR.unpack_from(datagram, 0)[0]
            group_tag = _SM_TAG.unpack_from(datagram, 36)[0] if frame_length == 44 and length >= 44 else None
            pub = self.publications.get((session_id, stream_id))
            term_length = pub.term_length if pub is not None else TERM_MAX_LENGTH
            if not (0 <= term_offset < term_length and term_offset & 31 == 0 and 0 <= window <= term_length >> 1):
                if self._invalid is not None:  # as C: counted invalid, not as a received SM
                    self._invalid.increment()
                return
            if self.tracker is not None:
                self.tracker.on_status_message(receiver_id, address, now_ns)
            if pub is not None:
                pub.on_status_message(flags, term_id, term_offset, window, receiver_id, group_tag, now_ns, self.is_unicast, address)
                self.time_of_last_sm_ns = now_ns
        elif frame_type == dh.HDR_TYPE_NAK:
            (_, _, _, _, session_id, stream_id, term_id, term_offset, nak_length) = _NAK.unpack_from(datagram, 0)
            pub = self.publications.get((session_id, stream_id))
            if pub is not None:
                if term_offset < 0 or term_offset >= pub.term_length or term_offset & 31 or nak_length < 0 or term_offset + nak_length > pub.term_length:
                    if self._invalid is not None:
                        self._invalid.increment()
                    return
                pub.on_nak(term_id, term_offset, nak_length, now_ns)
        elif frame_type == dh.HDR_TYPE_RTTM:
            (_, _, flags, _, session_id, stream_id, echo, _delta, receiver_id) = _RTTM.unpack_from(datagram, 0)
            pub = self.publications.get((session_id, stream_id))
            if pub is not None:
                pub.on_rttm(flags, echo, receiver_id, address, now_ns)
        elif frame_type == dh.HDR_TYPE_ERR:
            self._on_error_frame(datagram, length, address, now_ns)
        elif frame_type == dh.HDR_TYPE_RSP_SETUP:
            (_, _, _, _, session_id, stream_id, response_session_id) = _RSP_SETUP.unpack_from(datagram, 0)
            pub = self.publications.get((session_id, stream_id))
            if pub is not None:
                pub.on_response_setup(response_session_id)

    def _on_error_frame(self, datagram: memoryview, length: int, address: Any, now_ns: int) -> None:
        if length < _ERR.size:
            if self._invalid is not None:
                self._invalid.increment()
            return
        (frame_length, _, flags, _, session_id, stream_id, receiver_id, group_tag, error_code, error_length) = _ERR.unpack_from(datagram, 0)
        if not (0 <= error_length <= _ERR_MAX_TEXT_LENGTH and _ERR.size + error_length <= frame_length <= length):
            if self._invalid is not None:
                self._invalid.increment()
            return
        if self._errors_received is not None:
            self._errors_received.increment()
        destination_registration_id = -1
        if self.tracker is not None:
            found = self.tracker.find_registration_id(receiver_id, address)
            if found is not None:
                destination_registration_id = found
        pub = self.publications.get((session_id, stream_id))
        if pub is not None:
            text = bytes(datagram[_ERR.size:_ERR.size + error_length])
            pub.on_error(
                destination_registration_id, session_id, stream_id, receiver_id,
                group_tag if flags & _ERR_HAS_GROUP_TAG_FLAG else -1, address, error_code, text, now_ns,
            )

    # re-resolution (sender thread)
    def check_for_re_resolution(self, now_ns: int, conductor: Any) -> None:
        """Ask ``conductor`` (``on_re_resolve_endpoint``) to resolve again what has been silent:
        each manual MDC destination without an SM for the destination timeout, or the
        ``endpoint`` of a unicast channel without an SM for
        :data:`SEND_ENDPOINT_RE_RESOLUTION_TIMEOUT_NS` (asked again every check until one comes)."""
        channel = self.channel
        tracker = self.tracker
        if tracker is not None:
            if tracker.is_manual_control_mode:
                for destination in tracker.destinations:
                    if now_ns > destination.time_of_last_activity_ns + tracker.timeout_ns and destination.channel:
                        name = _endpoint_of(destination.channel)
                        if name is not None:
                            conductor.on_re_resolve_endpoint(name, self, destination.address)
                        destination.time_of_last_activity_ns = now_ns
        elif (
            not channel.is_multicast
            and channel.has_explicit_endpoint
            and not channel.is_response_control_mode
            and now_ns > self.time_of_last_sm_ns + SEND_ENDPOINT_RE_RESOLUTION_TIMEOUT_NS
        ):
            name = channel.uri.get(ENDPOINT)
            if name is not None:
                conductor.on_re_resolve_endpoint(name, self, self.destination)

    def resolution_change(self, name: str, address: Any) -> None:
        """``name`` resolves to ``address`` now: send there (MDC: the destinations added with
        that ``endpoint``), reconnecting a connected socket."""
        if self.tracker is not None:
            for destination in self.tracker.destinations:
                if destination.channel and _endpoint_of(destination.channel) == name:
                    destination.address = address
        else:
            self.destination = address
            reconnect = getattr(self.transport, "reconnect", None)
            if reconnect is not None:
                reconnect(address)
            if self._snd_ts_offset is None:  # with send timestamps the Python path stays
                send_target = getattr(self.transport, "send_target", None)
                target = send_target(address) if send_target is not None else None
                self._kernel = partial(send_frames, target[0], target[1]) if target is not None else None
            for publication in self.publications.values():
                refresh = getattr(publication, "refresh_send_path", None)
                if refresh is not None:
                    refresh()
        if self._resolution_changes is not None:
            self._resolution_changes.increment()

    def check_liveness(self, now_ns: int) -> None:
        if self.tracker is not None:
            self.tracker.remove_inactive(now_ns)
        for pub in self.publications.values():
            pub.check_receiver_liveness(now_ns)


@dataclass
class StreamInterest:
    """Subscriptions of one stream on a receive endpoint, and its images by session."""

    all_sessions_count: int = 0
    session_counts: dict[int, int] = field(default_factory=dict)
    images: dict[int, Any] = field(default_factory=dict)
    pending_setup: dict[int, int] = field(default_factory=dict)  # session -> deadline ns
    init_in_progress: set[int] = field(default_factory=set)
    cool_down: set[int] = field(default_factory=set)  # sessions whose image lingers without EOS

    def wants(self, session_id: int) -> bool:
        return self.all_sessions_count > 0 or self.session_counts.get(session_id, 0) > 0


@dataclass(eq=False)
class ReceiveDestination:
    """One UDP transport feeding a receive endpoint (MDS: one per ADD_RCV_DESTINATION).

    ``control_address``: where SMs/NAKs/SEND_SETUPs go (multicast: the control group; an
    explicit ``control`` address: the MDC publisher's control address), ``None`` to reply to
    the source of each frame."""

    channel: Any
    transport: Any
    control_address: Any = None
    has_explicit_control: bool = False
    local_sockaddr: Any = None
    next_control_setup_ns: int = 0
    time_of_last_activity_ns: int = 0
    """When a datagram last arrived (receiver thread): re-resolution of ``control`` after silence."""


class ReceiveChannelEndpoint(_Endpoint):
    """Receiver side of a channel: rebuilds DATA into images, sees SETUPs, sends SM/NAK.

    It reads from one or more destinations (a plain channel has exactly one, built from
    ``transport``; an MDS endpoint, ``control-mode=manual``, starts with none)."""

    def __init__(
        self,
        channel: Any,
        transport: Any,
        control_address: Any,
        status: AtomicCounter | None,
        system_counters: dict[int, AtomicCounter],
        receiver_id: int,
        on_setup: Callable[..., None],
    ) -> None:
        super().__init__(channel, transport, status, system_counters)
        self.control_address = control_address  # multicast: the control group; unicast: None (reply to source)
        self.receiver_id = receiver_id
        self.streams: dict[int, StreamInterest] = {}
        self.on_setup_callback = on_setup
        self._send_setup_sm = bytearray(_SEND_SETUP_SM.size)
        self._rsp_setup = bytearray(_RSP_SETUP.size)
        self.destinations: list[ReceiveDestination] = []  # receiver thread
        self.conductor_destinations: list[ReceiveDestination] = []  # MDS destinations, conductor's copy
        self._current: ReceiveDestination | None = None
        self._is_mds = bool(channel.is_manual_control_mode)  # MDS (control-mode=manual)
        self._reply_transports: dict[Any, Any] = {}
        self._ttl_asymmetry = system_counters.get(SystemCounterId.POSSIBLE_TTL_ASYMMETRY)
        if transport is not None:
            self.destinations.append(ReceiveDestination(
                channel, transport, control_address,
                has_explicit_control=bool(channel.has_explicit_control and not channel.is_multicast),
            ))
        self._rx_images: dict[int, Any] = {}
        if NATIVE_RX and dispatch_data is not None and not self._is_mds and socket_fd(transport) >= 0:
            self.use_rx_kernel(dispatch_data)

    def use_rx_kernel(self, kernel: Callable[..., tuple[int, int]] | None) -> None:
        """Rebuild DATA with ``kernel`` (``dispatch_data`` or its twin ``dispatch_data_py``), or
        with the Python path alone (None).  Not for MDS endpoints (their sources are per destination)."""
        if kernel is not None and self._is_mds:
            raise ValueError("the DATA fast path does not serve MDS endpoints")
        self._rx_kernel = partial(kernel, self._rx_images, self._buffer, RECV_BUFFER_LENGTH) if kernel is not None else None

    def _kernel_reply(self) -> Any:
        current = self._current
        return current.control_address if current is not None else self.control_address

    @property
    def is_multi_destination(self) -> bool:
        return self._is_mds

    @property
    def ready_fd(self) -> int:
        return -1 if self._is_mds or not self.destinations else self._fd

    @property
    def sends_control_setups(self) -> bool:
        """Whether a destination has an explicit control address (then :meth:`send_control_setups`
        has something to do on some cycles)."""
        return any(destination.has_explicit_control for destination in self.destinations)

    timestamps: ReceiveTimestamps | None = None
    """``media-rcv-ts-offset`` / ``channel-rcv-ts-offset`` of the channel (set by the conductor
    before the receiver polls), else None."""

    def _receiver_for(self, transport: Any) -> Callable[[], list[tuple[int, Any]]]:
        """The transport's batch receive; with receive timestamps, one that stamps each datagram
        (kernel times where the transport enabled them) before it is dispatched."""
        stamps = self.timestamps
        if stamps is None:
            return super()._receiver_for(transport)
        media_ns = None
        if stamps.wants_media and getattr(transport, "media_rcv_timestamps", False) is True:
            media_ns = array("q", bytes(8 * MAX_DATAGRAMS_PER_POLL))
            raw = transport.batch_receiver(self._buffer, RECV_BUFFER_LENGTH, MAX_DATAGRAMS_PER_POLL, media_ns)
        else:
            raw = super()._receiver_for(transport)
        receiver = stamps.receiver(raw, self._buffer, RECV_BUFFER_LENGTH, media_ns)
        self._receivers[transport] = receiver
        return receiver

    def poll(self, now_ns: int) -> int:
        work = 0
        for destination in self.destinations:
            self._current = destination
            received = self._poll_transport(destination.transport, now_ns)
            if received:
                destination.time_of_last_activity_ns = now_ns
                work += received
        self._current = None
        return work

    def transports(self) -> list[Any]:
        return [destination.transport for destination in self.destinations]

    def poll_ready(self, now_ns: int, ready: Any) -> int:
        if not self._is_mds and self.destinations:  # its one destination (the channel's transport), no loop
            destination = self.destinations[0]
            fd = self._fd
            if fd >= 0 and fd not in ready:
                return 0
            kernel = self._rx_kernel
            if kernel is not None and self.interceptor is None:
                return self._poll_common(destination, kernel, now_ns)
            self._current = destination
            try:
                received = self._poll_transport(destination.transport, now_ns)
            finally:
                self._current = None
            if received:
                destination.time_of_last_activity_ns = now_ns
            return received
        work = 0
        for destination in self.destinations:
            transport = destination.transport
            fd = socket_fd(transport)
            if fd >= 0 and fd not in ready:
                continue
            self._current = destination
            received = self._poll_transport(transport, now_ns)
            if received:
                destination.time_of_last_activity_ns = now_ns
                work += received
        self._current = None
        return work

    def _poll_common(self, destination: ReceiveDestination, kernel: Callable[..., tuple[int, int]], now_ns: int) -> int:
        """:meth:`poll_ready`'s common case, a plain endpoint with the DATA fast path: the batch
        straight to the kernel; only when it declines a datagram the Python dispatch takes over
        from there.  What :meth:`_poll_transport` does, in fewer steps."""
        batch = self._receive_batch(destination.transport)
        if not batch:
            return 0
        count = len(batch)
        i, taken = kernel(batch, 0, now_ns, destination.control_address)
        if i >= count:
            add = self._add_bytes_received
            if add is not None:
                add(taken)
            destination.time_of_last_activity_ns = now_ns
        else:
            self.dispatch_declined(destination, batch, i, taken, now_ns)
        return count

    def eager_receive_entry(self) -> tuple[Any, ...] | None:
        """What the SHARED driver's eager data path (:mod:`aeronpy.driver.eager_data_path`) needs
        to do this endpoint's :meth:`poll_ready` in C: ``(sock, buffer, slot_length,
        max_messages, images, destination, endpoint, add_bytes)``; ``None`` unless it is a plain
        endpoint (one destination, not MDS) read by the C ``recvmmsg_into`` and rebuilt by the C
        ``dispatch_data``, with no loss interceptor and no receive timestamps."""
        kernel = self._rx_kernel
        if (
            self._is_mds or len(self.destinations) != 1 or self.interceptor is not None or self.timestamps is not None
            or recvmmsg_into is recvmmsg_into_py or dispatch_data is None or self._fd < 0
            or not isinstance(kernel, partial) or kernel.func is not dispatch_data
        ):
            return None
        destination = self.destinations[0]
        receive = self._receiver_for(destination.transport)
        if not isinstance(receive, partial) or receive.func is not recvmmsg_into or len(receive.args) != 4 or receive.keywords:
            return None
        sock, buffer, slot_length, max_messages = receive.args
        if buffer is not self._buffer or socket_fd(destination.transport) != self._fd:
            return None
        return (sock, buffer, slot_length, max_messages, self._rx_images, destination, self, self._add_bytes_received)

    def dispatch_declined(self, destination: ReceiveDestination, batch: list[tuple[int, Any]], i: int, taken: int,
                          now_ns: int) -> None:
        """The rest of a batch from ``destination`` whose datagram ``i`` the DATA fast path
        declined (``taken``: the bytes it rebuilt before), through the Python dispatch."""
        self._current = destination
        try:
            self._dispatch_batch(batch, i, taken, now_ns, True)
        finally:
            self._current = None
        destination.time_of_last_activity_ns = now_ns

    # re-resolution (receiver thread)
    def check_for_re_resolution(self, now_ns: int, conductor: Any) -> None:
        """Ask ``conductor`` (``on_re_resolve_control``) to resolve again the ``control`` of
        each destination silent for :data:`RECEIVE_DESTINATION_TIMEOUT_NS`."""
        for destination in self.destinations:
            if destination.has_explicit_control and now_ns > destination.time_of_last_activity_ns + RECEIVE_DESTINATION_TIMEOUT_NS:
                name = destination.channel.uri.get(CONTROL)
                if name is not None:
                    conductor.on_re_resolve_control(name, self, destination, destination.control_address)
                destination.time_of_last_activity_ns = now_ns

    def resolution_change(self, destination: ReceiveDestination, address: Any) -> None:
        """The destination's control host resolves to ``address`` now: SEND_SETUPs and replies go there."""
        if destination.has_explicit_control:
            destination.control_address = address
            destination.next_control_setup_ns = 0  # tell the publisher at once
            if self._resolution_changes is not None:
                self._resolution_changes.increment()

    def close(self) -> None:
        if self.status is not None:
            self.status.set(CHANNEL_CLOSING)
        for destination in self.destinations:
            destination.transport.close()
        if self.transport is not None:
            self.transport.close()

    def send_to(self, data: Any, address: Any) -> int:
        # SM/NAK/RTTM replies are not counted in "Bytes sent" (the C receiver does not count them).
        destinations = self.destinations
        if len(destinations) == 1:
            transport = destinations[0].transport
        else:
            transport = self._reply_transports.get(address)
            if transport is None:
                if not destinations:
                    return 0
                transport = destinations[0].transport
        return int(transport.send(data, address))

    # MDS destinations (receiver thread)
    def add_destination(self, destination: ReceiveDestination) -> None:
        self.destinations.append(destination)

    def remove_destination(self, destination: ReceiveDestination) -> None:
        if destination in self.destinations:
            self.destinations.remove(destination)
        self.forget_transport(destination.transport)
        for address, transport in list(self._reply_transports.items()):
            if transport is destination.transport:
                del self._reply_transports[address]

    def has_subscriptions(self) -> bool:
        return any(i.all_sessions_count > 0 or i.session_counts for i in self.streams.values())

    def _send_control_setup(self, destination: ReceiveDestination, stream_id: int, session_id: int) -> None:
        _SEND_SETUP_SM.pack_into(self._send_setup_sm, 0, 36, 0, 0x80, dh.HDR_TYPE_SM, session_id, stream_id, 0, 0, 0, self.receiver_id)
        try:
            destination.transport.send(self._send_setup_sm, destination.control_address)
        except OSError:
            pass

    def elicit_setup(self, stream_id: int, session_id: int) -> None:
        """Ask for a SETUP of ``(stream_id, session_id)``: a SEND_SETUP SM to each explicit
        control address (a response subscription re-asking its responder)."""
        for destination in self.destinations:
            if destination.has_explicit_control:
                self._send_control_setup(destination, stream_id, session_id)

    def send_rsp_setup(self, session_id: int, stream_id: int, response_session_id: int, address: Any) -> int:
        """RSP_SETUP to ``address`` (a request publication): the response publication's session."""
        _RSP_SETUP.pack_into(
            self._rsp_setup, 0, frames.RSP_SETUP_HEADER_LENGTH, 0, 0, dh.HDR_TYPE_RSP_SETUP,
            session_id, stream_id, response_session_id,
        )
        return self.send_to(self._rsp_setup, address)

    def send_control_setups(self, now_ns: int) -> int:
        """MDC subscriber: SEND_SETUP SM (session 0, stream 0) to each explicit control address
        when due (at once, then every second) while there is a subscription."""
        work = 0
        for destination in self.destinations:
            if not destination.has_explicit_control or now_ns < destination.next_control_setup_ns:
                continue
            if not self.has_subscriptions():
                return work
            destination.next_control_setup_ns = now_ns + CONTROL_SETUP_INTERVAL_NS
            self._send_control_setup(destination, 0, 0)
            work += 1
        return work

    def add_interest(self, stream_id: int, session_id: int | None) -> None:
        had_subscriptions = self.has_subscriptions()
        interest = self.streams.setdefault(stream_id, StreamInterest())
        if session_id is None:
            interest.all_sessions_count += 1
        else:
            interest.session_counts[session_id] = interest.session_counts.get(session_id, 0) + 1
        for destination in self.destinations:
            if destination.has_explicit_control:
                if not had_subscriptions:
                    destination.next_control_setup_ns = 0  # elicit at once
                if session_id is not None:
                    self._send_control_setup(destination, stream_id, session_id)

    def remove_interest(self, stream_id: int, session_id: int | None) -> None:
        interest = self.streams.get(stream_id)
        if interest is None:
            return
        if session_id is None:
            interest.all_sessions_count -= 1
        else:
            interest.session_counts[session_id] = interest.session_counts.get(session_id, 1) - 1
            if interest.session_counts[session_id] <= 0:
                del interest.session_counts[session_id]
        if interest.all_sessions_count <= 0 and not interest.session_counts and not interest.images:
            del self.streams[stream_id]

    def add_image(self, image: Any) -> None:
        interest = self.streams.setdefault(image.stream_id, StreamInterest())
        interest.images[image.session_id] = image
        interest.init_in_progress.discard(image.session_id)
        rx = getattr(image, "rx", None)
        if rx is not None:
            self._rx_images[image_key(image.stream_id, image.session_id)] = rx

    def remove_image(self, image: Any) -> None:
        stream_id = image.stream_id
        interest = self.streams.get(stream_id)
        session_id = image.session_id
        is_end_of_stream = bool(image.is_end_of_stream)
        if interest is not None and interest.images.get(session_id) is image:
            del interest.images[session_id]
            self._rx_images.pop(image_key(stream_id, session_id), None)
            if not is_end_of_stream:
                interest.cool_down.add(session_id)

    def remove_cool_down(self, stream_id: int, session_id: int) -> None:
        """Receiver thread: the session may build a new image again (rejoin, or old image DONE)."""
        interest = self.streams.get(stream_id)
        if interest is not None:
            interest.cool_down.discard(session_id)

    def clear_init_in_progress(self, stream_id: int, session_id: int) -> None:
        interest = self.streams.get(stream_id)
        if interest is not None:
            interest.init_in_progress.discard(session_id)

    def images(self) -> list[Any]:
        return [image for interest in self.streams.values() for image in interest.images.values()]

    def _reply_address(self, address: Any) -> Any:
        current = self._current
        control = current.control_address if current is not None else self.control_address
        reply = control if control is not None else address
        if current is not None and len(self.destinations) > 1 and reply not in self._reply_transports:
            self._reply_transports[reply] = current.transport
        return reply

    def _on_data(self, header: tuple[Any, ...], datagram: memoryview, length: int, address: Any, now_ns: int) -> None:
        """A DATA/PAD datagram (already classified valid), its header unpacked."""
        (frame_length, _, flags, frame_type, term_offset, session_id, stream_id, term_id, _) = header
        interest = self.streams.get(stream_id)
        if interest is None:
            return
        image = interest.images.get(session_id)
        if image is not None:
            reply = self._reply_address(address)
            destination = self._current if self._is_mds else None
            if frame_length == 0 and frame_type == dh.HDR_TYPE_DATA and length == dh.HEADER_LENGTH:
                image.on_heartbeat(term_id, term_offset, flags, reply, now_ns, destination)
            else:
                image.insert_packet(term_id, term_offset, datagram, length, reply, now_ns, destination)
        else:
            self._on_data_without_image(interest, frame_length, flags, session_id, stream_id, address, now_ns)

    def _on_data_without_image(
        self, interest: StreamInterest, frame_length: int, flags: int, session_id: int, stream_id: int,
        address: Any, now_ns: int,
    ) -> None:
        """Data of a wanted session without an image: ask for a SETUP (at most once a second)."""
        if (
            interest.wants(session_id) and session_id not in interest.init_in_progress
            and session_id not in interest.cool_down and not (flags & dh.EOS_FLAG and frame_length == 0)
        ):
            deadline = interest.pending_setup.get(session_id)
            if deadline is None or now_ns > deadline:
                if deadline is None and len(interest.pending_setup) >= MAX_PENDING_SETUPS:
                    _prune_expired(interest.pending_setup, now_ns)
                interest.pending_setup[session_id] = now_ns + PENDING_SETUP_TIMEOUT_NS
                _SEND_SETUP_SM.pack_into(self._send_setup_sm, 0, 36, 0, 0x80, dh.HDR_TYPE_SM, session_id, stream_id, 0, 0, 0, self.receiver_id)
                self.send_to(self._send_setup_sm, self._reply_address(address))

    def on_frame(self, frame_type: int, datagram: memoryview, length: int, address: Any, now_ns: int) -> None:
        if frame_type == dh.HDR_TYPE_DATA or frame_type == dh.HDR_TYPE_PAD:
            self._on_data(_DATA.unpack_from(datagram, 0), datagram, length, address, now_ns)
        elif frame_type == dh.HDR_TYPE_SETUP:
            (_, _, flags, _, term_offset, session_id, stream_id, initial_term_id, active_term_id, term_length, mtu, ttl) = _SETUP.unpack_from(datagram, 0)
            interest = self.streams.get(stream_id)
            if interest is None or not interest.wants(session_id):
                return
            if session_id in interest.images or session_id in interest.init_in_progress or session_id in interest.cool_down:
                image = interest.images.get(session_id)
                if image is not None:
                    image._connection_for(
                        self._reply_address(address), now_ns, self._current if self.is_multi_destination else None
                    )
                return
            if not _valid_setup(term_length, term_offset, mtu):
                if self._invalid is not None:
                    self._invalid.increment()
                return
            interest.init_in_progress.add(session_id)
            if interest.pending_setup.pop(session_id, None) is not None:
                self._check_ttl_asymmetry(ttl)
            self.on_setup_callback(
                self, session_id, stream_id, initial_term_id, active_term_id, term_offset,
                term_length, mtu, flags, self._reply_address(address), address,
            )
        elif frame_type == dh.HDR_TYPE_RTTM:
            (_, _, flags, _, session_id, stream_id, echo, delta, receiver_id) = _RTTM.unpack_from(datagram, 0)
            interest = self.streams.get(stream_id)
            image = interest.images.get(session_id) if interest is not None else None
            if image is None or receiver_id not in (0, self.receiver_id):
                return
            if flags & 0x80:  # a sender measuring: answer it
                reply = _RTTM.pack(40, 0, 0, dh.HDR_TYPE_RTTM, session_id, stream_id, echo, 0, receiver_id)
                self.send_to(reply, self._reply_address(address))
            else:  # the reply to an RTTM this image sent: the round trip for its congestion control
                image.on_rttm(echo, delta, address, now_ns)


    def _check_ttl_asymmetry(self, setup_ttl: int) -> None:
        """A SETUP this endpoint elicited (data came first) from a multicast sender whose TTL is
        above the destination's: our SMs may not reach that sender ("Possible TTL Asymmetry",
        counted as the C dispatcher does)."""
        current = self._current
        channel = current.channel if current is not None else self.channel
        if channel.is_multicast and channel.multicast_ttl < setup_ttl and self._ttl_asymmetry is not None:
            self._ttl_asymmetry.increment()


def _endpoint_of(channel: str) -> str | None:
    try:
        return ChannelUri.parse(channel).get(ENDPOINT)
    except ValueError:
        return None


def _valid_setup(term_length: int, term_offset: int, mtu: int) -> bool:
    return (
        65536 <= term_length <= (1 << 30)
        and term_length & (term_length - 1) == 0
        and 0 <= term_offset < term_length
        and term_offset & 31 == 0
        and 32 <= mtu <= 65504
        and mtu & 31 == 0
    )


def _prune_expired(deadlines: dict[int, int], now_ns: int) -> None:
    """Drop expired pending-setup entries; if all are live, drop the oldest half."""
    expired = [k for k, v in deadlines.items() if v < now_ns]
    for k in expired:
        del deadlines[k]
    if len(deadlines) >= MAX_PENDING_SETUPS:
        for k in sorted(deadlines, key=deadlines.__getitem__)[: len(deadlines) // 2]:
            del deadlines[k]
