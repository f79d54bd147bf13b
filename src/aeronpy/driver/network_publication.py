"""Network publication: sends a log over UDP (driver-behaviour.md §5).

Sender-thread part: ``send(now_ns)`` (SETUP, data, heartbeats, retransmits) and the control
frame handlers ``on_status_message`` / ``on_nak`` / ``on_rttm``.  Conductor part:
``update_pub_pos_and_lmt`` every duty cycle and ``on_time_event`` every timer tick.
"""

from __future__ import annotations

from typing import Any, Callable

from aeronpy.concurrent.bit_util import int32
from aeronpy.concurrent.counters import AtomicCounter
from aeronpy.driver.counter_access import acquire_getter, plain_getter, release_setter
from aeronpy.driver.lifecycle import LifecycleState, change_state
from aeronpy.driver.media.udp_transport import SEND_FRAMES_MAX_DATAGRAMS
from aeronpy.driver.flow_control import FlowControl, idle_is_noop
from aeronpy.driver.publication_tx import new_publication_tx
from aeronpy.driver.response_channels import NULL_VALUE, setup_flags
from aeronpy.driver.retransmit_handler import RetransmitHandler
from aeronpy.driver.system_counters import SystemCounterId
from aeronpy.driver.tether import SubscriberPosition, UntetheredTimeouts, check_untethered
from aeronpy.logbuffer import descriptor
from aeronpy.logbuffer.log_cleaner import clean_log
from aeronpy.logbuffer.log_buffers import LogBuffers
from aeronpy.logbuffer.term_unblocker import unblock_log
from aeronpy.protocol import data_header as dh
from aeronpy.protocol import frames

SETUP_STRUCT = frames.SETUP_LAYOUT
HEARTBEAT_STRUCT = frames.DATA_LAYOUT
RTTM_STRUCT = frames.RTTM_LAYOUT
SETUP_RESEND_INTERVAL_NS = 100_000_000
HEARTBEAT_INTERVAL_NS = 100_000_000
PAD_TYPE = dh.HDR_TYPE_PAD


NetworkPublicationState = LifecycleState
"""The shared lifecycle (:mod:`aeronpy.driver.lifecycle`), by this module's name for it."""


def _send_no_frames(*_args: Any) -> tuple[int, int, int]:
    """A response publication's data path before it knows where its receiver is: nothing goes."""
    return 0, 0, 0


def scan_for_availability(term: Any, offset: int, max_length: int, term_length: int) -> tuple[int, int]:
    """Bytes of complete frames from ``offset`` up to ``max_length`` and padding to skip.

    A PAD frame contributes only its header (it is sent) and ends the scan; the rest of the
    padded region is returned as padding.  Runs in the buffer's kernel (C, or its Python twin).
    """
    return term.scan_for_availability(offset, min(max_length, term_length - offset), PAD_TYPE)  # type: ignore[no-any-return]


class NetworkPublication:
    """Driver state of one UDP publication."""

    def __init__(
        self,
        *,
        registration_id: int,
        session_id: int,
        stream_id: int,
        channel: str,
        is_exclusive: bool,
        log_buffers: LogBuffers,
        endpoint: Any,
        counters: dict[str, AtomicCounter],
        flow_control: FlowControl,
        retransmit_handler: RetransmitHandler,
        system_counters: dict[int, AtomicCounter],
        term_window_length: int,
        mtu_length: int,
        linger_timeout_ns: int,
        connection_timeout_ns: int,
        unblock_timeout_ns: int,
        max_messages_per_send: int,
        is_group: bool,
        ttl: int,
        signal_eos: bool,
        spies_simulate_connection: bool,
        params: Any,
        start_position: int,
        now_ns: int,
    ) -> None:
        self.registration_id = registration_id
        self.session_id = session_id
        self.stream_id = stream_id
        self.channel = channel
        self.is_exclusive = is_exclusive
        self.log_buffers = log_buffers
        self.endpoint = endpoint
        self.counters = counters
        self.pub_pos = counters["pub-pos"]
        self.pub_lmt = counters["pub-lmt"]
        self.snd_pos = counters["snd-pos"]
        self.snd_lmt = counters["snd-lmt"]
        self.snd_bpe = counters["snd-bpe"]
        self.snd_naks_received = counters["snd-naks-received"]
        # bound accessors for the per-duty-cycle reads and writes
        self._snd_pos_plain = plain_getter(self.snd_pos)
        self._snd_pos_acquire = acquire_getter(self.snd_pos)
        self._snd_lmt_plain = plain_getter(self.snd_lmt)
        self._snd_lmt_set = release_setter(self.snd_lmt)
        self._pub_pos_set = release_setter(self.pub_pos)
        self._pub_lmt_plain = plain_getter(self.pub_lmt)
        self.flow_control = flow_control
        self.retransmit_handler = retransmit_handler
        self.system_counters = system_counters
        self.term_window_length = term_window_length
        self.mtu_length = mtu_length
        self.linger_timeout_ns = linger_timeout_ns
        self.connection_timeout_ns = connection_timeout_ns
        self.unblock_timeout_ns = unblock_timeout_ns
        self.max_messages_per_send = max_messages_per_send
        self.is_group = is_group
        self.ttl = ttl
        self.signal_eos = signal_eos
        self.spies_simulate_connection = spies_simulate_connection
        self.params = params
        self.metadata = log_buffers.metadata
        self.term_buffers = log_buffers.term_buffers
        self.term_length = log_buffers.term_length
        self.term_mask = self.term_length - 1
        self.bits = descriptor.position_bits_to_shift(self.term_length)
        self.initial_term_id = log_buffers.initial_term_id
        self.max_message_length = descriptor.max_message_length(self.term_length)
        self.state = NetworkPublicationState.ACTIVE
        self.refcnt = 0
        # sender fields
        self.has_initial_connection = False
        self.should_send_setup = True
        self.time_of_last_setup_ns = now_ns - SETUP_RESEND_INTERVAL_NS - 1
        self.time_of_last_data_or_heartbeat_ns = now_ns - HEARTBEAT_INTERVAL_NS - 1
        self.is_end_of_stream = False
        self.track_sender_limits = False
        self.receivers_last_sm_ns: dict[int, int] = {}
        self._next_liveness_check_ns = 0  # no receiver can expire before this
        self.has_received_unicast_eos = False
        self._setup = bytearray(SETUP_STRUCT.size)
        self._heartbeat = bytearray(HEARTBEAT_STRUCT.size)
        self._sm_count = system_counters.get(SystemCounterId.STATUS_MESSAGES_RECEIVED)
        self._bytes_sent = system_counters.get(SystemCounterId.BYTES_SENT)
        self._heartbeats_sent = system_counters.get(SystemCounterId.HEARTBEATS_SENT)
        self._short_sends = system_counters.get(SystemCounterId.SHORT_SENDS)
        self._retransmits_sent = system_counters.get(SystemCounterId.RETRANSMITS_SENT)
        self._retransmitted_bytes = system_counters.get(SystemCounterId.RETRANSMITTED_BYTES)
        self._naks_received = system_counters.get(SystemCounterId.NAK_MESSAGES_RECEIVED)
        self._fc_limits = system_counters.get(SystemCounterId.SENDER_FLOW_CONTROL_LIMITS)
        self._sm_rejected = system_counters.get(SystemCounterId.STATUS_MESSAGES_REJECTED)
        self._fc_receivers = counters.get("fc-receivers")  # min/tagged flow control only
        # conductor fields
        self.clean_position = start_position
        self.last_snd_pos = start_position
        self.time_of_last_snd_pos_change_ns = now_ns
        self.time_of_last_state_change_ns = now_ns
        self.spies: list[SubscriberPosition] = []
        self.max_spy_position = start_position
        self.untethered_timeouts = UntetheredTimeouts(
            int(getattr(params, "untethered_window_limit_timeout_ns", 5_000_000_000)),
            int(getattr(params, "untethered_linger_timeout_ns", -1)),
            int(getattr(params, "untethered_resting_timeout_ns", 10_000_000_000)),
        )
        # sender thread -> conductor: called with the ON_PUBLICATION_ERROR fields (set by the conductor)
        self.on_publication_error: Callable[..., None] | None = None
        # response channels (driver-behaviour.md §11): a response publication sends only to the
        # address its receiver's SEND_SETUP came from; a request publication flags its SETUPs
        self.is_response = bool(getattr(params, "is_response", False))
        self.response_correlation_id = int(getattr(params, "response_correlation_id", NULL_VALUE))
        self.response_address: Any = None
        self._setup_flags = setup_flags(self.is_response, self.response_correlation_id, is_group)
        # The endpoint's time-free C data path (None: MDC or a transport without one, then each
        # batch goes through endpoint.send_frames with the time); a response publication has
        # none until its receiver's address is known.
        self._idle_is_trivial = not spies_simulate_connection and idle_is_noop(flow_control) and self._fc_receivers is None
        frame_sender = getattr(endpoint, "frame_sender", None)
        self._bind_kernel(_send_no_frames if self.is_response else frame_sender() if frame_sender is not None else None)
        # sender thread -> conductor (set by the conductor): an RSP_SETUP arrived for this
        # request publication ``(response_correlation_id, response_session_id)``; the first
        # live receiver of a publication ``(response_correlation_id)``
        self.on_response_setup_frame: Callable[[int, int], None] | None = None
        self.on_response_connected: Callable[[int], None] | None = None

    # ------------------------------------------------------------------ sender

    _kernel: Callable[[Any, int, int, int, int, int], tuple[int, int, int]] | None
    tx_send: Callable[[int], int]
    """What the sender calls each duty cycle: the C common case (:mod:`~aeronpy.driver.publication_tx`),
    -1 when it needs :meth:`send`, or :meth:`send` itself where there is no C path."""

    def _bind_kernel(self, kernel: Callable[[Any, int, int, int, int, int], tuple[int, int, int]] | None) -> None:
        """Send data through ``kernel`` from now on, and the sender's duty cycle through its C
        common case where it has one."""
        self._kernel = kernel
        tx_send = new_publication_tx(self, kernel, HEARTBEAT_INTERVAL_NS, self._idle_is_trivial)
        self.tx_send = tx_send if tx_send is not None else self.send

    def refresh_send_path(self) -> None:
        """The endpoint's destination changed (re-resolution): rebind the C data path to it
        (a response publication keeps sending to its receiver's address)."""
        if self.is_response:
            return
        frame_sender = getattr(self.endpoint, "frame_sender", None)
        self._bind_kernel(frame_sender() if frame_sender is not None else None)

    def send(self, now_ns: int) -> int:
        """One sender duty cycle for this publication; returns bytes sent."""
        snd_pos = self._snd_pos_plain()
        if self.should_send_setup or not self.has_initial_connection:
            self._setup_check(now_ns, snd_pos)
        bytes_sent = self._send_data(now_ns, snd_pos)
        if bytes_sent == 0:
            if self.has_initial_connection and now_ns - self.time_of_last_data_or_heartbeat_ns >= HEARTBEAT_INTERVAL_NS:
                bytes_sent = self._heartbeat_check(now_ns, snd_pos)
            if self.spies_simulate_connection and not self.receivers_last_sm_ns and self.has_active_spies():
                # only spies: the sender position follows the fastest spy (driver-behaviour.md §9)
                new_snd_pos = max(self.max_spy_position, snd_pos)
                if new_snd_pos != snd_pos:
                    self.snd_pos.set(new_snd_pos)
                self.snd_lmt.set(self.flow_control.on_idle(now_ns, new_snd_pos, new_snd_pos, self.is_end_of_stream))
            else:
                snd_lmt = self._snd_lmt_plain()
                lmt = self.flow_control.on_idle(now_ns, snd_lmt, snd_pos, self.is_end_of_stream)
                if lmt != snd_lmt:  # the sender thread is snd-lmt's only writer
                    self._snd_lmt_set(lmt)
                if self._fc_receivers is not None:  # receivers may have timed out
                    self._fc_receivers.set(self.flow_control.receiver_count)
        self.retransmit_handler.process_timeouts(now_ns, self.resend)
        return bytes_sent

    def _setup_check(self, now_ns: int, snd_pos: int) -> None:
        """SETUP every SETUP_RESEND_INTERVAL_NS until connected, or once more when a receiver
        asked for one (elicited); as C, it leaves the heartbeat timer alone, lets flow control
        see only elicited SETUPs, and clears the elicited flag once receivers are live."""
        if now_ns <= self.time_of_last_setup_ns + SETUP_RESEND_INTERVAL_NS:
            return
        term_id = descriptor.compute_term_id_from_position(snd_pos, self.bits, self.initial_term_id)
        SETUP_STRUCT.pack_into(
            self._setup, 0, 40, 0, self._setup_flags, dh.HDR_TYPE_SETUP, snd_pos & self.term_mask,
            self.session_id, self.stream_id, self.initial_term_id, term_id, self.term_length,
            self.mtu_length, self.ttl,
        )
        if self.should_send_setup:
            self.snd_lmt.set(self.flow_control.on_setup(now_ns, self.snd_lmt.get_plain(), self.bits, snd_pos))
        self._send_datagram(self._setup, now_ns)
        self.time_of_last_setup_ns = now_ns
        if self.has_receivers:
            self.should_send_setup = False

    def _heartbeat_check(self, now_ns: int, snd_pos: int) -> int:
        if not self.has_initial_connection or now_ns - self.time_of_last_data_or_heartbeat_ns < HEARTBEAT_INTERVAL_NS:
            return 0
        term_id = descriptor.compute_term_id_from_position(snd_pos, self.bits, self.initial_term_id)
        flags = dh.BEGIN_AND_END_FLAGS
        if descriptor.is_publication_revoked(self.metadata):
            flags |= dh.EOS_FLAG | dh.REVOKED_FLAG  # a revoke always signals end of stream
        elif self.is_end_of_stream and self.signal_eos:
            flags |= dh.EOS_FLAG
        HEARTBEAT_STRUCT.pack_into(
            self._heartbeat, 0, 0, 0, flags, dh.HDR_TYPE_DATA, snd_pos & self.term_mask,
            self.session_id, self.stream_id, term_id, 0,
        )
        sent = self._send_datagram(self._heartbeat, now_ns)
        if self._heartbeats_sent is not None:
            self._heartbeats_sent.increment()
        self.time_of_last_data_or_heartbeat_ns = now_ns
        if sent and self._bytes_sent is not None:
            self._bytes_sent.get_and_add(sent)
        return int(sent)

    def _send_data(self, now_ns: int, snd_pos: int) -> int:
        snd_lmt = self._snd_lmt_plain()
        available_window = snd_lmt - snd_pos
        if available_window <= 0:
            if not self.track_sender_limits and self.has_initial_connection:
                self.track_sender_limits = True
                self.snd_bpe.increment()
                if self._fc_limits is not None:
                    self._fc_limits.increment()
            return 0
        self.track_sender_limits = False
        term_offset = snd_pos & self.term_mask
        term = self.term_buffers[(snd_pos >> self.bits) % 3]
        # One call (one sendmmsg) for up to max_messages_per_send datagrams of this term; a
        # term boundary ends the batch (the next duty cycle continues in the next term).
        kernel = self._kernel
        if kernel is not None:
            bytes_sent, advance, short_send = kernel(
                term, term_offset, available_window, self.mtu_length, self.max_messages_per_send, PAD_TYPE
            )
        else:
            bytes_sent, advance, short_send = self.endpoint.send_frames(
                term, term_offset, available_window, self.mtu_length, self.max_messages_per_send, now_ns
            )
        if short_send and self._short_sends is not None:
            self._short_sends.increment()
        if advance:
            self.snd_pos.set(snd_pos + advance)
            self.time_of_last_data_or_heartbeat_ns = now_ns
            if self._bytes_sent is not None:
                self._bytes_sent.get_and_add(bytes_sent)
        return int(bytes_sent)

    def _send_datagram(self, data: Any, now_ns: int) -> int:
        """One control datagram (SETUP, heartbeat): to the endpoint's destination(s), or, for a
        response publication, to its learnt address (nothing before it has one)."""
        if not self.is_response:
            return int(self.endpoint.send(data, now_ns))
        address = self.response_address
        if address is None:
            return 0
        return int(self.endpoint.send(data, now_ns, address))

    def learn_response_address(self, address: Any) -> None:
        """Sender thread, a SEND_SETUP SM of a response publication: its receiver is at
        ``address`` (as seen through any NAT); data, SETUPs and heartbeats go there from now."""
        if address is None or address == self.response_address:
            return
        self.response_address = address
        frame_sender_to = getattr(self.endpoint, "frame_sender_to", None)
        if frame_sender_to is not None:
            self._bind_kernel(frame_sender_to(address))

    def on_response_setup(self, response_session_id: int) -> None:
        """Sender thread: an RSP_SETUP for this (request) publication: the conductor narrows
        the response subscription it names to ``response_session_id``."""
        callback = self.on_response_setup_frame
        if callback is not None and self.response_correlation_id != NULL_VALUE:
            callback(self.response_correlation_id, response_session_id)

    def resend(self, term_id: int, term_offset: int, length: int, now_ns: int) -> None:
        """Retransmit ``length`` bytes from ``(term_id, term_offset)`` in MTU-sized datagrams
        (the retransmit handler's callback, at ``now_ns``)."""
        snd_pos = self.snd_pos.get_plain()
        position = descriptor.compute_position(term_id, term_offset, self.bits, self.initial_term_id)
        bottom = snd_pos - (self.term_length >> 1) - self.max_message_length
        if not (bottom <= position < snd_pos):
            return
        term = self.term_buffers[(position >> self.bits) % 3]
        offset = term_offset
        remaining = length
        total = 0
        while remaining > 0:
            if self.is_response:  # its own data path, to the learnt address
                assert self._kernel is not None
                sent, advance, short_send = self._kernel(
                    term, offset, remaining, self.mtu_length, SEND_FRAMES_MAX_DATAGRAMS, PAD_TYPE
                )
            else:
                sent, advance, short_send = self.endpoint.send_frames(
                    term, offset, remaining, self.mtu_length, SEND_FRAMES_MAX_DATAGRAMS, now_ns
                )
            total += sent
            offset += advance
            remaining -= advance
            if short_send:
                if self._short_sends is not None:
                    self._short_sends.increment()
                break
            if advance == 0:
                break
        if total:
            if self._retransmits_sent is not None:
                self._retransmits_sent.increment()
            if self._retransmitted_bytes is not None:
                self._retransmitted_bytes.get_and_add(total)

    # ------------------------------------------------------------------ control frames (sender thread)
    def on_status_message(
        self, flags: int, term_id: int, term_offset: int, window: int, receiver_id: int,
        group_tag: int | None, now_ns: int, is_unicast: bool, address: Any = None,
    ) -> None:
        """A status message the endpoint has already checked for validity (term offset, window);
        ``address``: where it came from (a response publication learns its destination so)."""
        if self._sm_count is not None:
            self._sm_count.increment()
        if flags & 0x80:  # SEND_SETUP
            self.should_send_setup = True
            self.flow_control.on_trigger_send_setup(receiver_id, group_tag, now_ns)
            if self.is_response and not self.is_end_of_stream:
                self.learn_response_address(address)
            return
        snd_pos = self.snd_pos.get_plain()
        sm_position = descriptor.compute_position(term_id, term_offset, self.bits, self.initial_term_id)
        half = self.term_length >> 1
        if not (snd_pos - half <= sm_position <= snd_pos + half):
            if self._sm_rejected is not None:
                self._sm_rejected.increment()
            return
        is_eos = bool(flags & 0x40)
        if is_eos:
            self.receivers_last_sm_ns.pop(receiver_id, None)
            if is_unicast:
                self.has_received_unicast_eos = True
        else:
            if not self.receivers_last_sm_ns and self.on_response_connected is not None:
                self.on_response_connected(self.response_correlation_id)  # first live receiver
            self.receivers_last_sm_ns[receiver_id] = now_ns
        self.has_initial_connection = True
        lmt = self.flow_control.on_status_message(
            receiver_id, group_tag, term_id, term_offset, window, is_eos,
            self.snd_lmt.get_plain(), self.initial_term_id, self.bits, now_ns,
        )
        self.snd_lmt.set(lmt)
        self.update_connected()

    @property
    def has_receivers(self) -> bool:
        """Receivers heard from within the connection timeout (the sender's liveness tracker)."""
        return bool(self.receivers_last_sm_ns)

    def has_active_spies(self) -> bool:
        """Spies that count (untethered ones in LINGER/RESTING/CLOSED do not)."""
        return any(s.is_active for s in self.spies)

    def update_connected(self) -> None:
        if self.state is not NetworkPublicationState.ACTIVE and descriptor.is_publication_revoked(self.metadata):
            return  # revoked: stays not connected (an SM arriving while lingering does not reconnect)
        connected = bool(self.receivers_last_sm_ns) and self.flow_control.has_required_receivers()
        if self._fc_receivers is not None:
            self._fc_receivers.set(self.flow_control.receiver_count)
        if self.spies_simulate_connection and self.has_active_spies():
            connected = True
        descriptor.set_is_connected(self.metadata, connected)

    def on_nak(self, term_id: int, term_offset: int, length: int, now_ns: int) -> None:
        if self._naks_received is not None:
            self._naks_received.increment()
        self.snd_naks_received.increment()
        self.retransmit_handler.on_nak(term_id, term_offset, length, self.term_length, self.mtu_length, now_ns, self.resend)

    def on_rttm(self, flags: int, echo_timestamp: int, receiver_id: int, reply_to: Any, now_ns: int) -> None:
        """An RTTM frame: a request (REPLY flag) is echoed back to ``reply_to``; on a multicast
        channel to the data group, as C does (each receiver keeps the replies with its receiver id)."""
        if flags & 0x80:
            reply = RTTM_STRUCT.pack(40, 0, 0, dh.HDR_TYPE_RTTM, self.session_id, self.stream_id, echo_timestamp, 0, receiver_id)
            to = None if self.endpoint.channel.is_multicast else reply_to
            if 0 <= self.endpoint.send(reply, now_ns, to) < len(reply) and self._short_sends is not None:
                self._short_sends.increment()  # as C counts a short RTTM reply

    def on_error(
        self, destination_registration_id: int, session_id: int, stream_id: int, receiver_id: int,
        group_tag: int, source_address: Any, error_code: int, error_text: bytes, now_ns: int,
    ) -> None:
        """Sender thread: an ERR frame (already validated) for this publication."""
        self.flow_control.on_error(receiver_id, now_ns)
        if receiver_id not in self.receivers_last_sm_ns:
            return  # not a live receiver
        del self.receivers_last_sm_ns[receiver_id]
        self.update_connected()
        callback = self.on_publication_error
        if callback is not None:
            callback(
                self.registration_id, destination_registration_id, session_id, stream_id, receiver_id,
                group_tag, source_address, error_code, error_text,
            )

    def check_receiver_liveness(self, now_ns: int) -> None:
        """Sender thread: drop receivers silent for the connection timeout.

        Looks only once the earliest receiver can have expired: an SM only moves a receiver's
        time later and a new receiver expires after the ones already there."""
        if now_ns < self._next_liveness_check_ns:
            return
        timeout = self.connection_timeout_ns
        times = self.receivers_last_sm_ns
        dead = [r for r, t in times.items() if now_ns - t > timeout]
        for r in dead:
            del times[r]
        self._next_liveness_check_ns = min(times.values()) + timeout + 1 if times else 0
        if dead:
            self.update_connected()

    # ------------------------------------------------------------------ conductor
    def producer_position(self) -> int:
        """Position of the active term's tail (``descriptor.producer_position``, inlined: the
        conductor reads it every duty cycle)."""
        md = self.metadata
        raw: int = md.get_int64_volatile(
            descriptor.TERM_TAIL_COUNTERS_OFFSET
            + 8 * (md.get_int32_volatile(descriptor.LOG_ACTIVE_TERM_COUNT_OFFSET) % descriptor.PARTITION_COUNT)
        )
        term_offset = raw & 0xFFFFFFFF
        if term_offset > self.term_length:
            term_offset = self.term_length
        term_count = (((raw >> 32) - self.initial_term_id + 0x80000000) & 0xFFFFFFFF) - 0x80000000
        return (term_count << self.bits) + term_offset

    def update_pub_pos_and_lmt(self) -> int:
        """Conductor, every duty cycle: pub-pos from the producer, pub-lmt from the sender (and
        spies) when connected, else held at snd-pos."""
        if self.state is not NetworkPublicationState.ACTIVE:
            return 0
        self._pub_pos_set(self.producer_position())
        snd_pos = self._snd_pos_acquire()
        connected = self.metadata.get_int32_volatile(descriptor.LOG_IS_CONNECTED_OFFSET) == 1
        if connected or (self.spies_simulate_connection and self.has_active_spies()):
            min_pos = snd_pos
            max_spy = self.max_spy_position
            for spy in self.spies:
                if spy.is_active:
                    spy_pos = spy.counter.get()
                    min_pos = min(min_pos, spy_pos)
                    max_spy = max(max_spy, spy_pos)
            self.max_spy_position = max_spy
            new_lmt = min_pos + self.term_window_length
            if new_lmt > self._pub_lmt_plain():
                self.clean_buffer(min_pos - self.term_length)
                # As C: the limit moves only while the term still being cleaned is less than two
                # terms behind the one the new limit reaches (a publisher must never write into
                # a term the cleaner has not finished zeroing).
                dirty_term_id = descriptor.compute_term_id_from_position(self.clean_position, self.bits, self.initial_term_id)
                active_term_id = descriptor.compute_term_id_from_position(new_lmt, self.bits, self.initial_term_id)
                term_gap = int32(active_term_id - dirty_term_id)
                if term_gap < 2 or (term_gap == 2 and self.clean_position & self.term_mask != 0):
                    self.pub_lmt.set(new_lmt)
                return 1
        elif self._pub_lmt_plain() > snd_pos:
            self.pub_lmt.set(snd_pos)
            self.clean_buffer(snd_pos - self.term_length)
            return 1
        return 0

    def clean_buffer(self, position: int) -> None:
        """Zero the log behind consumers (one term at most per call)."""
        self.clean_position = clean_log(self.term_buffers, self.term_length, self.bits, self.clean_position, position)

    def incref(self) -> None:
        self.refcnt += 1

    def decref(self) -> None:
        self.refcnt -= 1
        if self.refcnt == 0:
            producer = self.producer_position()
            self.pub_lmt.set(producer)
            self.metadata.put_int64_ordered(descriptor.LOG_END_OF_STREAM_POSITION_OFFSET, producer)
            if not descriptor.is_publication_revoked(self.metadata):
                change_state(self, NetworkPublicationState.DRAINING)
            # revoked: the next timer tick in ACTIVE performs the revoke (-> LINGER)

    def revoke(self) -> None:
        """REVOKE managed-resource event: only the flag; the next timer tick acts on it."""
        descriptor.set_publication_revoked(self.metadata)

    def on_time_event(
        self, now_ns: int, on_unblocked: Callable[[], None], on_revoked: Callable[[], None] | None = None
    ) -> None:
        snd_pos = self.snd_pos.get()
        if self.state is NetworkPublicationState.ACTIVE and descriptor.is_publication_revoked(self.metadata):
            self._revoke(now_ns, on_revoked)
        elif self.state is NetworkPublicationState.ACTIVE:
            self.pub_pos.set(self.producer_position())
            self.update_connected()
            if not self.is_exclusive:
                self._check_for_blocked_publisher(now_ns, snd_pos, on_unblocked)
        elif self.state is NetworkPublicationState.DRAINING:
            producer = self.producer_position()
            self.pub_pos.set(producer)
            if producer > snd_pos:
                if unblock_log(self.term_buffers, self.metadata, snd_pos):
                    on_unblocked()
                    return
                if self.has_receivers:  # live receivers may still NAK what is unsent: wait (as C)
                    return
            else:
                self.is_end_of_stream = True
            if all(not s.is_active or s.counter.get() >= producer for s in self.spies):
                change_state(self, NetworkPublicationState.LINGER, now_ns)
        elif self.state is NetworkPublicationState.LINGER:
            if self.refcnt <= 0 and (
                self.has_received_unicast_eos or now_ns - self.time_of_last_state_change_ns > self.linger_timeout_ns
            ):
                change_state(self, NetworkPublicationState.DONE)

    def _revoke(self, now_ns: int, on_revoked: Callable[[], None] | None) -> None:
        """ACTIVE tick with the revoked flag set: pub-lmt and end-of-stream = producer position,
        not connected, end of stream; ``on_revoked`` (conductor) unlinks the spies with
        ON_UNAVAILABLE_IMAGE; state LINGER; system counter 40."""
        revoked_position = self.producer_position()
        self.pub_lmt.set(revoked_position)
        self.metadata.put_int64_ordered(descriptor.LOG_END_OF_STREAM_POSITION_OFFSET, revoked_position)
        self.pub_pos.set(revoked_position)
        self.is_end_of_stream = True
        change_state(self, NetworkPublicationState.LINGER, now_ns)
        descriptor.set_is_connected(self.metadata, False)
        if on_revoked is not None:
            on_revoked()
        counter = self.system_counters.get(SystemCounterId.PUBLICATIONS_REVOKED)
        if counter is not None:
            counter.increment()

    def check_untethered_spies(
        self,
        now_ns: int,
        on_unavailable: Callable[[SubscriberPosition], None],
        on_available: Callable[[SubscriberPosition], None],
        free_counter: Callable[[AtomicCounter], None],
    ) -> None:
        """Conductor timer tick (ACTIVE publications): the tether state machine for spies; the
        window is the publication window behind snd-pos and rejoining spies restart at snd-pos."""
        if self.state is not NetworkPublicationState.ACTIVE:
            return
        snd_pos = int(self.snd_pos.get())
        check_untethered(
            self.spies, now_ns, snd_pos, self.term_window_length, self.untethered_timeouts,
            on_unavailable=on_unavailable, on_available=on_available,
            join_position=lambda: int(self.snd_pos.get()), free_counter=free_counter,
        )

    def _check_for_blocked_publisher(self, now_ns: int, snd_pos: int, on_unblocked: Callable[[], None]) -> None:
        if snd_pos == self.last_snd_pos and self._is_possibly_blocked(snd_pos):
            if now_ns > self.time_of_last_snd_pos_change_ns + self.unblock_timeout_ns:
                if unblock_log(self.term_buffers, self.metadata, snd_pos):
                    on_unblocked()
        else:
            self.time_of_last_snd_pos_change_ns = now_ns
            self.last_snd_pos = snd_pos

    def _is_possibly_blocked(self, snd_pos: int) -> bool:
        producer_term_count = descriptor.active_term_count(self.metadata)
        if producer_term_count != int32(snd_pos >> self.bits):
            return True
        return self.producer_position() > snd_pos
