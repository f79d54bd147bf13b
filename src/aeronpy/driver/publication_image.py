"""Publication image: a remote publication rebuilt into a local log (driver-behaviour.md §7).

Receiver thread: ``insert_packet`` / ``on_heartbeat``, sending SMs and NAKs, and RTT
measurement (``initiate_rttm`` / ``on_rttm``).  Conductor: ``track_rebuild`` (loss detection, SM
scheduling with the window of the image's congestion control, cleaning) each duty cycle and
``on_time_event`` (liveness, draining, linger) each timer tick.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from aeronpy.concurrent.counters import AtomicCounter
from aeronpy.driver.congestion_control import CongestionControl, StaticWindowCongestionControl
from aeronpy.driver.counter_access import plain_getter, release_setter
from aeronpy.driver.lifecycle import LifecycleState, change_state
from aeronpy.driver.gap_filler import try_fill_gap
from aeronpy.driver.image_rx import NATIVE_RX, new_image_rx, validate_data_frames_py
from aeronpy.concurrent.bit_util import INT64_MAX
from aeronpy.concurrent.clock import epoch_ms
from aeronpy.driver.tether import SubscriberPosition, TetherState, UntetheredTimeouts, check_untethered
from aeronpy.driver.loss_detector import LossDetector, new_rebuild_position
from aeronpy.driver.response_channels import ResponseSetupAnnouncer
from aeronpy.driver.system_counters import SystemCounterId
from aeronpy.logbuffer import descriptor
from aeronpy.logbuffer.log_cleaner import clean_log
from aeronpy.logbuffer.log_buffers import LogBuffers
from aeronpy.protocol import frames

SM_STRUCT = frames.SM_LAYOUT
SM_TAG_STRUCT = frames.SM_WITH_GROUP_TAG_LAYOUT
ERR_STRUCT = frames.ERR_LAYOUT
ERR_HAS_GROUP_TAG_FLAG = frames.ERR_HAS_GROUP_TAG_FLAG
ERR_MAX_TEXT_LENGTH = frames.ERR_MAX_TEXT_LENGTH
IMAGE_REJECTED_CODE = 13
NAK_STRUCT = frames.NAK_LAYOUT
RTTM_STRUCT = frames.RTTM_LAYOUT
RTTM_REPLY_FLAG = frames.RTTM_REPLY_FLAG
MAX_RTT_NS = 60_000_000_000
"""An RTTM reply implying a longer round trip (or a negative one) is not a measurement: counted invalid."""
FIRST_WORD = frames.INT64_LAYOUT
FRAME_STRUCT = frames.FRAME_PREFIX_LAYOUT
RECEIVE_DESTINATION_TIMEOUT_NS = 5_000_000_000
"""A connection is live for SMs/NAKs/EOS while heard from within this (C AERON_RECEIVE_DESTINATION_TIMEOUT_NS)."""
EOS_FLAG = frames.EOS_FLAG
REVOKED_FLAG = frames.REVOKED_FLAG


validate_data_frames: Callable[[Any, int, int, int], int]
try:
    from aeronpy._atomic import validate_data_frames
except ImportError:  # pragma: no cover - without the C extension
    validate_data_frames = validate_data_frames_py
"""The datagram check in use: the C kernel when available, else :func:`validate_data_frames_py`."""


_TETHER_ACTIVE = TetherState.ACTIVE
_ACTIVE = LifecycleState.ACTIVE
_DRAINING = LifecycleState.DRAINING

ImageState = LifecycleState
"""The shared lifecycle (:mod:`aeronpy.driver.lifecycle`), by this module's name for it."""


@dataclass
class Connection:
    """A source this image hears from (control address for SMs and NAKs)."""

    control_address: Any
    time_of_last_frame_ns: int
    is_eos: bool = False
    eos_position: int = 0
    destination: Any = None


class PublicationImage:
    """Driver state of one image of a remote stream."""

    def __init__(
        self,
        *,
        correlation_id: int,
        session_id: int,
        stream_id: int,
        initial_term_id: int,
        active_term_id: int,
        term_offset: int,
        mtu_length: int,
        log_buffers: LogBuffers,
        endpoint: Any,
        control_address: Any,
        source_identity: str,
        hwm: AtomicCounter,
        rcv_pos: AtomicCounter,
        naks_sent: AtomicCounter,
        loss_detector: LossDetector,
        receiver_window: int,
        receiver_id: int,
        group_tag: int | None,
        is_reliable: bool,
        is_multicast: bool,
        sm_timeout_ns: int,
        image_liveness_timeout_ns: int,
        system_counters: dict[int, AtomicCounter],
        loss_reporter: Any,
        channel: str,
        now_ns: int,
        untethered_timeouts: UntetheredTimeouts | None = None,
        epoch_clock: Callable[[], int] = epoch_ms,
        send_response_setup: bool = False,
        congestion_control: CongestionControl | None = None,
        native_rx: bool = NATIVE_RX,
    ) -> None:
        self.correlation_id = correlation_id
        self.session_id = session_id
        self.stream_id = stream_id
        self.initial_term_id = initial_term_id
        self.mtu_length = mtu_length
        self.log_buffers = log_buffers
        self.term_buffers = log_buffers.term_buffers
        self.metadata = log_buffers.metadata
        self.term_length = log_buffers.term_length
        self.term_mask = self.term_length - 1
        self.bits = descriptor.position_bits_to_shift(self.term_length)
        self.endpoint = endpoint
        self.source_identity = source_identity
        self.channel = channel
        self.hwm = hwm
        self.rcv_pos = rcv_pos
        self.naks_sent = naks_sent
        self.loss_detector = loss_detector
        cc = congestion_control if congestion_control is not None else StaticWindowCongestionControl(receiver_window)
        self.congestion_control = cc
        #: the receiver asks ``initiate_rttm`` only for images whose strategy may measure RTT
        self.measures_rtt = not isinstance(cc, StaticWindowCongestionControl)
        self.receiver_window = cc.max_window_length
        self.receiver_id = receiver_id
        self.group_tag = group_tag
        self.is_reliable = is_reliable
        self.is_multicast = is_multicast
        self.sm_timeout_ns = sm_timeout_ns
        self.image_liveness_timeout_ns = image_liveness_timeout_ns
        self.system_counters = system_counters
        self.loss_reporter = loss_reporter
        self.loss_report_entry = -1
        self.join_position = descriptor.compute_position(active_term_id, term_offset, self.bits, initial_term_id)
        self.connections: list[Connection] = [Connection(control_address, now_ns)]
        #: the DATA path's state (image_rx): the only holder of the window, the time of the last
        #: packet and whether data is accepted; registered with the endpoint for ``dispatch_data``
        self.rx = new_image_rx(
            tuple(self.term_buffers), initial_term_id, self.term_length, hwm, is_multicast, self.connections[0],
            native=native_rx,
        )
        self._rejection_frame: bytes | None = None
        self.subscribers: list[SubscriberPosition] = []
        self.untethered_timeouts = untethered_timeouts or UntetheredTimeouts(5_000_000_000, -1, 10_000_000_000)
        self.epoch_clock = epoch_clock
        self.state = ImageState.ACTIVE
        self.time_of_last_state_change_ns = now_ns
        self.time_of_last_packet_ns = now_ns
        self.is_end_of_stream = False
        self.eos_position = INT64_MAX
        # SM state: conductor schedules, receiver sends
        self.last_sm_position = self.join_position
        self.next_sm_position = self.join_position
        self.next_sm_window = cc.initial_window_length
        # conductor -> receiver hand-offs: a change number is bumped after the data it guards,
        # so the receiver never loses a newer schedule by clearing a flag (DEDICATED threads).
        self.sm_change = 1
        self.last_sm_change = 0
        self.time_of_last_sm_ns = 0
        self.last_sm_window_limit = self.join_position + (self.term_length >> 1)
        self.clean_position = self.join_position
        # NAK state: conductor detects, receiver sends
        self.pending_loss: tuple[int, int, int] | None = None
        self.loss_change = 0
        self.last_loss_change = 0
        self.last_nak: tuple[int, int, int] | None = None
        hwm.set(self.join_position)
        rcv_pos.set(self.join_position)
        self._hwm_plain = plain_getter(hwm)
        self._hwm_set = release_setter(hwm)
        self._rcv_pos_plain = plain_getter(rcv_pos)
        self._heartbeats_received = system_counters.get(SystemCounterId.HEARTBEATS_RECEIVED)
        self._over_runs = system_counters.get(SystemCounterId.FLOW_CONTROL_OVER_RUNS)
        self._under_runs = system_counters.get(SystemCounterId.FLOW_CONTROL_UNDER_RUNS)
        self._sms_sent = system_counters.get(SystemCounterId.STATUS_MESSAGES_SENT)
        self._naks_sent_total = system_counters.get(SystemCounterId.NAK_MESSAGES_SENT)
        self._gap_fills = system_counters.get(SystemCounterId.LOSS_GAP_FILLS)
        self._sm = bytearray(SM_TAG_STRUCT.size if group_tag is not None else SM_STRUCT.size)
        self._errors_sent = system_counters.get(SystemCounterId.ERROR_FRAMES_SENT)
        self._short_sends = system_counters.get(SystemCounterId.SHORT_SENDS)
        self._invalid_packets = system_counters.get(SystemCounterId.INVALID_PACKETS)
        self._images_revoked = system_counters.get(SystemCounterId.PUBLICATION_IMAGES_REVOKED)
        self.is_revoked = False
        # response channels: the SETUP asked for RSP_SETUPs (SEND_RESPONSE_SETUP flag)
        self.response_setup = ResponseSetupAnnouncer(send_response_setup)
        self._nak = bytearray(NAK_STRUCT.size)
        self._rttm = bytearray(RTTM_STRUCT.size)

    # ------------------------------------------------------------------ state shared with self.rx
    @property
    def state(self) -> LifecycleState:
        """The lifecycle state; setting it also tells the DATA path whether data is accepted."""
        return self._state

    @state.setter
    def state(self, value: LifecycleState) -> None:
        self._state = value
        self.rx.accepting = int((value is _ACTIVE or value is _DRAINING) and self._rejection_frame is None)

    @property
    def rejection_frame(self) -> bytes | None:
        """The ERR frame sent instead of SMs once rejected (REJECT_IMAGE, receiver thread), else None."""
        return self._rejection_frame

    @rejection_frame.setter
    def rejection_frame(self, frame: bytes | None) -> None:
        self._rejection_frame = frame
        self.state = self._state

    @property
    def last_sm_position(self) -> int:
        """Position of the last SM sent: data below it is an under-run."""
        return int(self.rx.last_sm_position)

    @last_sm_position.setter
    def last_sm_position(self, value: int) -> None:
        self.rx.last_sm_position = value

    @property
    def last_sm_window_limit(self) -> int:
        """The last SM's position plus half a term: data beyond it is an over-run."""
        return int(self.rx.last_sm_window_limit)

    @last_sm_window_limit.setter
    def last_sm_window_limit(self, value: int) -> None:
        self.rx.last_sm_window_limit = value

    @property
    def time_of_last_packet_ns(self) -> int:
        """When data or a heartbeat last arrived (liveness)."""
        return int(self.rx.time_of_last_packet_ns)

    @time_of_last_packet_ns.setter
    def time_of_last_packet_ns(self, value: int) -> None:
        self.rx.time_of_last_packet_ns = value

    # ------------------------------------------------------------------ receiver thread
    def reject(self, reason: bytes) -> None:
        """REJECT_IMAGE (receiver thread): from now on ERR frames replace SMs and packets are ignored."""
        text = bytes(reason[:ERR_MAX_TEXT_LENGTH])
        flags = ERR_HAS_GROUP_TAG_FLAG if self.group_tag is not None else 0
        self.rejection_frame = ERR_STRUCT.pack(
            ERR_STRUCT.size + len(text), 0, flags, 4, self.session_id, self.stream_id, self.receiver_id,
            self.group_tag if self.group_tag is not None else 0, IMAGE_REJECTED_CODE, len(text),
        ) + text

    def _send_error_frames(self, now_ns: int) -> int:
        frame = self.rejection_frame
        if frame is None or now_ns - self.time_of_last_sm_ns < self.sm_timeout_ns:
            return 0
        for c in self.connections:
            sent = self.endpoint.send_to(frame, c.control_address)
            if sent == len(frame):
                if self._errors_sent is not None:
                    self._errors_sent.increment()
            elif sent >= 0 and self._short_sends is not None:
                self._short_sends.increment()
        self.time_of_last_sm_ns = now_ns
        return 1

    def _connection_for(self, address: Any, now_ns: int, destination: Any = None) -> Connection:
        """Track the connection a packet came from: by destination (MDS), else by control address."""
        for c in self.connections:
            if c.destination is destination and (destination is not None or c.control_address == address):
                c.time_of_last_frame_ns = now_ns
                return c
        if destination is not None:
            for c in self.connections:
                if c.destination is None and c.control_address == address:  # the SETUP's connection
                    c.destination = destination
                    c.time_of_last_frame_ns = now_ns
                    return c
        connection = Connection(address, now_ns, destination=destination)
        self.connections.append(connection)
        return connection

    def _count_invalid(self) -> None:
        if self._invalid_packets is not None:
            self._invalid_packets.increment()

    def insert_packet(
        self, term_id: int, term_offset: int, datagram: memoryview, length: int, address: Any, now_ns: int,
        destination: Any = None,
    ) -> int:
        """Rebuild the frames of one DATA datagram into the log; returns bytes inserted.

        The whole datagram is dropped (counter "Invalid packets") unless its frames walk cleanly."""
        rx = self.rx
        if not rx.accepting:  # not ACTIVE or DRAINING, or rejected
            return 0
        term_count = term_id - self.initial_term_id
        if term_count < 0 and term_count & 0x80000000:
            return 0
        extent = validate_data_frames(datagram, length, term_offset, self.term_length)
        if extent < 0:
            self._count_invalid()
            return 0
        position = ((((term_count + 0x80000000) & 0xFFFFFFFF) - 0x80000000) << self.bits) + term_offset
        if position + extent > rx.last_sm_window_limit:
            if self._over_runs is not None:
                self._over_runs.increment()
            return 0
        if position < rx.last_sm_position:
            if self._under_runs is not None:
                self._under_runs.increment()
            return 0
        rx.time_of_last_packet_ns = now_ns
        connections = self.connections
        source = address if not self.is_multicast else connections[0].control_address
        first = connections[0]  # the common case, checked inline: the first connection matches
        if first.destination is destination and (destination is not None or first.control_address == source):
            first.time_of_last_frame_ns = now_ns
        else:
            self._connection_for(source, now_ns, destination)
        self.term_buffers[(position >> self.bits) % 3].insert_frames(
            term_offset, datagram, min(length, self.term_length - term_offset)
        )
        end = position + extent
        if end > self._hwm_plain():
            self._hwm_set(end)
        return extent

    def on_heartbeat(self, term_id: int, term_offset: int, flags: int, address: Any, now_ns: int, destination: Any = None) -> None:
        if self.rejection_frame is not None:
            return
        if term_offset < 0 or term_offset >= self.term_length or term_offset & 31:
            self._count_invalid()
            return
        if term_id - self.initial_term_id < 0 and (term_id - self.initial_term_id) & 0x80000000:
            return
        position = descriptor.compute_position(term_id, term_offset, self.bits, self.initial_term_id)
        if position > self.last_sm_window_limit:  # beyond any window we granted (as C/Java over-run)
            if self._over_runs is not None:
                self._over_runs.increment()
            return
        if position < max(0, self.last_sm_position - self.term_length):
            if self._under_runs is not None:
                self._under_runs.increment()
            return
        self.time_of_last_packet_ns = now_ns
        connection = self._connection_for(
            address if not self.is_multicast else self.connections[0].control_address, now_ns, destination
        )
        if self._heartbeats_received is not None:
            self._heartbeats_received.increment()
        if position > self.hwm.get_plain():
            self.hwm.set(position)
        if flags & EOS_FLAG and not self.is_end_of_stream:
            connection.is_eos = True
            connection.eos_position = position
            if self._all_sources_eos(connection, now_ns, destination):
                eos_position = max(c.eos_position for c in self.connections if c.is_eos)
                if flags & REVOKED_FLAG and not self.is_revoked:
                    self.is_revoked = True
                    self.metadata.put_uint8(descriptor.LOG_IS_PUBLICATION_REVOKED_OFFSET, 1)
                    if self._images_revoked is not None:
                        self._images_revoked.increment()
                self.eos_position = eos_position
                self.metadata.put_int64_ordered(descriptor.LOG_END_OF_STREAM_POSITION_OFFSET, eos_position)
                self.is_end_of_stream = True

    def send_pending_status_message(self, now_ns: int) -> int:
        """Receiver thread: send a scheduled SM, or repeat the last one after the SM timeout."""
        if self._state is ImageState.DONE or self._state is ImageState.LINGER:
            return 0
        if self.rejection_frame is not None:
            return self._send_error_frames(now_ns)
        change = self.sm_change
        sm_timed_out = now_ns - self.time_of_last_sm_ns >= self.sm_timeout_ns
        if change == self.last_sm_change and not sm_timed_out:
            return 0
        response_session_id = self.response_setup.due(sm_timed_out)
        if response_session_id is not None:
            for c in self._live_connections(now_ns):
                self.endpoint.send_rsp_setup(self.session_id, self.stream_id, response_session_id, c.control_address)
        position = self.next_sm_position
        window = self.next_sm_window
        term_id = descriptor.compute_term_id_from_position(position, self.bits, self.initial_term_id)
        flags = 0x40 if self._state is ImageState.DRAINING else 0
        if self.group_tag is not None:
            SM_TAG_STRUCT.pack_into(
                self._sm, 0, 44, 0, flags, 3, self.session_id, self.stream_id, term_id,
                position & self.term_mask, window, self.receiver_id, self.group_tag,
            )
        else:
            SM_STRUCT.pack_into(
                self._sm, 0, 36, 0, flags, 3, self.session_id, self.stream_id, term_id,
                position & self.term_mask, window, self.receiver_id,
            )
        live = self._live_connections(now_ns)
        for c in live:
            self.endpoint.send_to(self._sm, c.control_address)
            if self._sms_sent is not None:
                self._sms_sent.increment()
        self.last_sm_position = position
        self.last_sm_window_limit = position + (self.term_length >> 1)
        self.time_of_last_sm_ns = now_ns
        self.last_sm_change = change
        descriptor.set_active_transport_count(self.metadata, sum(
            1 for c in self.connections if now_ns - c.time_of_last_frame_ns < self.image_liveness_timeout_ns
        ))
        return 1

    def _all_sources_eos(self, connection: Connection, now_ns: int, destination: Any) -> bool:
        """Whether the stream has ended for every source.  Multi-destination (``destination`` not
        None): as Aeron, every destination the endpoint still reads must have a connection that
        ended - one not heard from yet, or not ended, keeps the image going (the cluster's
        follower: a stopped catch-up replay ends with EOS on its destination while the live log
        goes on on the other).  Otherwise: every source heard from recently."""
        if destination is None:
            return all(c.is_eos for c in self.connections if c is connection or self._is_live(c, now_ns))
        for d in self.endpoint.destinations:
            ended = False
            for c in self.connections:
                if c.destination is d:
                    ended = c.is_eos
                    break
            if not ended:
                return False
        return True

    @staticmethod
    def _is_live(connection: Connection, now_ns: int) -> bool:
        return now_ns - connection.time_of_last_frame_ns < RECEIVE_DESTINATION_TIMEOUT_NS

    def _live_connections(self, now_ns: int) -> list[Connection]:
        """Connections SMs and NAKs go to: heard from within the receive-destination timeout (5 s)."""
        return [c for c in self.connections if self._is_live(c, now_ns)]

    def send_pending_loss(self, now_ns: int) -> int:
        """Receiver thread: act on the gap the conductor found: NAK it (reliable) or fill it.

        Filling happens here, on the thread that writes the term, so a frame arriving in the gap
        and the PAD that covers it can never interleave.
        """
        change = self.loss_change
        if change == self.last_loss_change:
            return 0
        loss = self.pending_loss
        self.last_loss_change = change
        if loss is None or self.is_revoked:
            return 0
        term_id, term_offset, length = loss
        if not self.is_reliable:
            term = self.term_buffers[((term_id - self.initial_term_id) & 0xFFFFFFFF) % 3]
            if try_fill_gap(self.metadata, term, term_id, term_offset, length) and self._gap_fills is not None:
                self._gap_fills.increment()
            return 1
        NAK_STRUCT.pack_into(self._nak, 0, 28, 0, 0, 2, self.session_id, self.stream_id, term_id, term_offset, length)
        for c in self._live_connections(now_ns):
            self.endpoint.send_to(self._nak, c.control_address)
            self.naks_sent.increment()
            if self._naks_sent_total is not None:
                self._naks_sent_total.increment()
        return 1

    def initiate_rttm(self, now_ns: int) -> int:
        """Receiver thread: when the congestion control wants a measurement, send an RTTM with
        the reply flag (echo timestamp ``now_ns``) to each live connection."""
        cc = self.congestion_control
        if not cc.should_measure_rtt(now_ns) or self.rejection_frame is not None:
            return 0
        if self._state is not _ACTIVE and self._state is not _DRAINING:
            return 0
        RTTM_STRUCT.pack_into(
            self._rttm, 0, RTTM_STRUCT.size, 0, RTTM_REPLY_FLAG, frames.HDR_TYPE_RTTM, self.session_id,
            self.stream_id, now_ns, 0, self.receiver_id,
        )
        work = 0
        for c in self._live_connections(now_ns):
            sent = self.endpoint.send_to(self._rttm, c.control_address)
            if 0 <= sent < len(self._rttm) and self._short_sends is not None:
                self._short_sends.increment()
            cc.on_rttm_sent(now_ns)
            work += 1
        return work

    def on_rttm(self, echo_timestamp: int, reception_delta: int, address: Any, now_ns: int) -> None:
        """Receiver thread: a reply to our RTTM: ``rtt = now - echo - reception_delta`` goes to the
        congestion control.  A reply implying a negative or absurd round trip is counted invalid."""
        rtt_ns = now_ns - echo_timestamp - reception_delta
        if reception_delta < 0 or not 0 <= rtt_ns <= MAX_RTT_NS:
            self._count_invalid()
            return
        self.congestion_control.on_rttm(now_ns, rtt_ns, address)

    # ------------------------------------------------------------------ conductor
    def link_response_publication(self, response_session_id: int) -> None:
        """Conductor: a response publication is linked; announce its session in RSP_SETUPs,
        the first at the receiver's next pass (the SM change asks for it)."""
        self.response_setup.link(response_session_id)
        self.sm_change += 1

    def track_rebuild(self, now_ns: int) -> int:
        """Conductor, every duty cycle: advance rcv-pos, detect loss, schedule SMs."""
        if self._state is not ImageState.ACTIVE and self._state is not ImageState.DRAINING:
            return 0
        work = 0
        rcv_pos = self._rcv_pos_plain()
        min_sub = max_sub = rcv_pos
        active = False
        for s in self.subscribers:
            if s.state is _TETHER_ACTIVE:
                position = s.counter.get()
                if not active:
                    min_sub = max_sub = position
                    active = True
                elif position < min_sub:
                    min_sub = position
                elif position > max_sub:
                    max_sub = position
        rebuild_position = rcv_pos if rcv_pos > max_sub else max_sub
        hwm = self._hwm_plain()
        if rebuild_position < hwm:
            term = self.term_buffers[(rebuild_position >> self.bits) % 3]
            rebuild_offset, gap = self.loss_detector.scan(
                term, rebuild_position, hwm, now_ns, self.term_mask, self.bits, self.initial_term_id
            )
            new_rebuild = new_rebuild_position(rebuild_position, rebuild_offset, self.term_mask)
            if gap is not None:
                work += self._on_gap(gap, term, now_ns)
        else:  # nothing beyond the rebuild position: no scan (it would find nothing)
            self.loss_detector.loss_found = False
            new_rebuild = rebuild_position
        if new_rebuild > rcv_pos:
            self.rcv_pos.set(new_rebuild)
            work += 1
        next_sm_position = self.next_sm_position
        window, force_sm = self.congestion_control.on_track_rebuild(
            now_ns, min_sub, next_sm_position, hwm, rebuild_position, new_rebuild, self.loss_detector.loss_found
        )
        threshold = window >> 2
        if (
            force_sm
            or window != self.next_sm_window
            or min_sub > next_sm_position + threshold
            or (not active and new_rebuild > next_sm_position + threshold)
        ):
            target = min_sub if active else max(new_rebuild, next_sm_position)
            self.clean_buffer(target - self.term_length)
            self.next_sm_window = window  # before the position and the change number the receiver reads
            self.next_sm_position = target
            self.sm_change += 1
            work += 1
        return work

    def _on_gap(self, gap: Any, term: Any, now_ns: int) -> int:
        term_id, term_offset, length = gap.term_id, gap.term_offset, gap.length
        if self.loss_reporter is not None:
            self._report_loss(length, now_ns)
        self.pending_loss = (term_id, term_offset, length)
        self.loss_change += 1
        return 1

    def _report_loss(self, length: int, now_ns: int) -> None:
        now_ms = self.epoch_clock()
        if self.loss_report_entry < 0:
            self.loss_report_entry = self.loss_reporter.create_entry(
                length, now_ms, self.session_id, self.stream_id, self.channel, self.source_identity
            )
        else:
            self.loss_reporter.record_observation(self.loss_report_entry, length, now_ms)

    def clean_buffer(self, position: int) -> None:
        """Zero the log behind consumers (one term at most per call)."""
        self.clean_position = clean_log(self.term_buffers, self.term_length, self.bits, self.clean_position, position)

    def current_join_position(self) -> int:
        """Where a (re)joining subscriber starts: min of rcv-pos and the ACTIVE subscriber positions."""
        position = int(self.rcv_pos.get())
        for sub in self.subscribers:
            if sub.is_active:
                position = min(position, int(sub.counter.get()))
        return position

    def check_untethered_subscriptions(
        self,
        now_ns: int,
        on_unavailable: Callable[[SubscriberPosition], None],
        on_available: Callable[[SubscriberPosition], None],
        free_counter: Callable[[AtomicCounter], None],
    ) -> None:
        """Conductor timer tick (ACTIVE images): the tether state machine; the window is the
        receiver window behind the furthest ACTIVE subscriber (rcv-pos when there is none)."""
        if self.state is not ImageState.ACTIVE:
            return
        active = [int(s.counter.get()) for s in self.subscribers if s.is_active]
        consumer = max(active) if active else int(self.rcv_pos.get())
        check_untethered(
            self.subscribers, now_ns, consumer, self.next_sm_window, self.untethered_timeouts,
            on_unavailable=on_unavailable, on_available=on_available,
            join_position=self.current_join_position, free_counter=free_counter,
        )

    def on_time_event(self, now_ns: int) -> None:
        """Conductor timer tick: liveness and lifecycle."""
        if self.state is ImageState.ACTIVE and self.is_revoked:
            change_state(self, ImageState.DRAINING, now_ns)
        elif self.state is ImageState.ACTIVE:
            no_subscribers = not any(s.is_active for s in self.subscribers)
            idle = now_ns - self.time_of_last_packet_ns > self.image_liveness_timeout_ns
            eos_done = self.is_end_of_stream and self.rcv_pos.get_plain() >= self.hwm.get_plain()
            if no_subscribers or idle or eos_done:
                change_state(self, ImageState.DRAINING, now_ns)
        elif self.state is ImageState.DRAINING:
            rcv = self.rcv_pos.get_plain()
            drained = all(s.counter.get() >= rcv for s in self.subscribers if s.is_active)
            if self.is_revoked or (drained and now_ns - self.time_of_last_state_change_ns > 5 * self.sm_timeout_ns):
                change_state(self, ImageState.LINGER, now_ns)
        elif self.state is ImageState.LINGER:
            if not self.subscribers or now_ns - self.time_of_last_state_change_ns > self.image_liveness_timeout_ns:
                change_state(self, ImageState.DONE)
