"""Builders for the socket-free unit tests of the network publication, the publication image and
the channel endpoints: real endpoints on an :class:`~aeronpy.testing.InMemoryNetwork`, real
counters in a bytearray, real logs in ``tmp_path``, a :class:`~aeronpy.testing.ManualClock`.

A ``Peer`` is the other side of the wire: an in-memory transport that decodes what it receives
and sends hand-made frames (``protocol.frames`` codecs) to an endpoint.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from aeronpy.client.publication import Publication
from aeronpy.concurrent.atomic_buffer import AtomicBuffer
from aeronpy.concurrent.counters import COUNTER_LENGTH, AtomicCounter
from aeronpy.driver.destination_tracker import DestinationTracker
from aeronpy.driver.endpoints import ReceiveChannelEndpoint, SendChannelEndpoint
from aeronpy.driver.feedback_delay import StaticDelayGenerator
from aeronpy.driver.flow_control import FlowControl, UnicastFlowControl
from aeronpy.driver.image_rx import NATIVE_RX
from aeronpy.driver.loss_detector import LossDetector
from aeronpy.driver.media.udp_channel import UdpChannel
from aeronpy.driver.network_publication import NetworkPublication
from aeronpy.driver.publication_image import PublicationImage
from aeronpy.driver.retransmit_handler import RetransmitHandler
from aeronpy.driver.system_counters import SystemCounterId
from aeronpy.logbuffer import descriptor as d
from aeronpy.logbuffer.log_buffers import LogBuffers
from aeronpy.protocol import frames
from aeronpy.testing import InMemoryNetwork, InMemoryTransport
from tests.logbuffer.test_logsupport import FakeCounter as LimitCounter
from tests.logbuffer.test_logsupport import make_log

SESSION = 0x1234567
STREAM = 1001
TERM = 64 * 1024
MTU = 1408
INITIAL_TERM_ID = 7
WINDOW = TERM // 2
RECEIVER_ID = 0x5EED
SM_TIMEOUT_NS = 200_000_000
LIVENESS_NS = 10_000_000_000
LINGER_NS = 5_000_000_000
CONNECTION_TIMEOUT_NS = 5_000_000_000
UNBLOCK_NS = 15_000_000_000
SENDER_PORT = 41000
RECEIVER_PORT = 42000


class Counters:
    """AtomicCounters over one values buffer, and the driver's system counters."""

    def __init__(self, capacity: int = 256) -> None:
        self.values = AtomicBuffer(bytearray(capacity * COUNTER_LENGTH))
        self._next = 0
        self.system = {int(i): self.new() for i in SystemCounterId}

    def new(self, value: int = 0) -> AtomicCounter:
        counter = AtomicCounter(self.values, self._next)
        self._next += 1
        counter.set(value)
        return counter

    def __getitem__(self, counter_id: SystemCounterId) -> int:
        return int(self.system[int(counter_id)].get())


class Peer:
    """The far side of the wire: receives datagrams and decodes them, sends frames."""

    def __init__(self, network: InMemoryNetwork, address: tuple[str, int]) -> None:
        self.transport: InMemoryTransport = network.bind(address)
        self.address = self.transport.source_address

    def received(self) -> list[Any]:
        """Every datagram received since the last call, decoded (its first frame)."""
        out = []
        while self.transport.inbox:
            data, _source = self.transport.inbox.popleft()
            out.append(frames.decode_frame(data))
        return out

    def raw(self) -> list[bytes]:
        out = []
        while self.transport.inbox:
            out.append(self.transport.inbox.popleft()[0])
        return out

    def send(self, frame: Any, to: tuple[str, int]) -> None:
        data = frame if isinstance(frame, (bytes, bytearray)) else frame.encode()
        self.transport.send(data, to)


def of_type(received: list[Any], kind: type) -> list[Any]:
    return [f for f in received if isinstance(f, kind)]


def data_frames(received: list[Any]) -> list[frames.DataFrame]:
    return [f for f in received if isinstance(f, frames.DataFrame) and not f.is_heartbeat]


def heartbeats(received: list[Any]) -> list[frames.DataFrame]:
    return [f for f in received if isinstance(f, frames.DataFrame) and f.is_heartbeat]


def status_message(
    position: int, window: int = WINDOW, receiver_id: int = RECEIVER_ID, flags: int = 0,
    group_tag: int | None = None, session_id: int = SESSION,
) -> frames.StatusMessageFrame:
    bits = d.position_bits_to_shift(TERM)
    return frames.StatusMessageFrame(
        session_id, STREAM, d.compute_term_id_from_position(position, bits, INITIAL_TERM_ID),
        position & (TERM - 1), window, receiver_id, group_tag, flags,
    )


def send_channel(uri: str = f"aeron:udp?endpoint=127.0.0.1:{RECEIVER_PORT}") -> UdpChannel:
    return UdpChannel.parse(uri)


def make_send_endpoint(
    network: InMemoryNetwork, counters: Counters, channel: UdpChannel | None = None,
    tracker: DestinationTracker | None = None,
) -> SendChannelEndpoint:
    udp = channel if channel is not None else send_channel()
    transport = network.bind(("127.0.0.1", SENDER_PORT))
    return SendChannelEndpoint(udp, transport, udp.remote_data, counters.new(), counters.system, tracker)


class PublicationRig:
    """A network publication on its send endpoint, the writer of its log and a receiver peer."""

    def __init__(
        self, tmp_path: Path, network: InMemoryNetwork, counters: Counters, *,
        endpoint: SendChannelEndpoint | None = None, flow_control: FlowControl | None = None,
        retransmit_delay_ns: int = 0, retransmit_linger_ns: int = 10_000_000, spies_simulate_connection: bool = False,
        signal_eos: bool = True, is_exclusive: bool = False, now_ns: int = 0, max_messages_per_send: int = 2,
        receiver_address: tuple[str, int] = ("127.0.0.1", RECEIVER_PORT), params: Any = None,
    ) -> None:
        self.counters = counters
        self.endpoint = endpoint if endpoint is not None else make_send_endpoint(network, counters)
        self.receiver = Peer(network, receiver_address)
        self.log: LogBuffers = make_log(tmp_path, TERM, MTU, initial_term_id=INITIAL_TERM_ID, connected=False)
        self.position_counters = {
            name: counters.new() for name in ("pub-pos", "pub-lmt", "snd-pos", "snd-lmt", "snd-bpe", "snd-naks-received")
        }
        self.errors: list[tuple[Any, ...]] = []
        self.pub = NetworkPublication(
            registration_id=11, session_id=SESSION, stream_id=STREAM, channel="aeron:udp?endpoint=127.0.0.1:42000",
            is_exclusive=is_exclusive, log_buffers=self.log, endpoint=self.endpoint, counters=self.position_counters,
            flow_control=flow_control if flow_control is not None else UnicastFlowControl(),
            retransmit_handler=RetransmitHandler(retransmit_delay_ns, retransmit_linger_ns, 16, False),
            system_counters=counters.system, term_window_length=WINDOW, mtu_length=MTU,
            linger_timeout_ns=LINGER_NS, connection_timeout_ns=CONNECTION_TIMEOUT_NS,
            unblock_timeout_ns=UNBLOCK_NS, max_messages_per_send=max_messages_per_send, is_group=False, ttl=0,
            signal_eos=signal_eos, spies_simulate_connection=spies_simulate_connection,
            params=params if params is not None else SimpleNamespace(),
            start_position=0, now_ns=now_ns,
        )
        self.pub.on_publication_error = lambda *fields: self.errors.append(fields)
        self.pub.incref()
        self.endpoint.add_publication(self.pub)
        self.writer = Publication(None, self.log, "aeron:udp", STREAM, SESSION, LimitCounter(1 << 40), -1, 1, 1)

    def counter(self, name: str) -> int:
        return int(self.position_counters[name].get())

    def offer(self, payload: bytes, count: int = 1) -> None:
        for _ in range(count):
            assert self.writer.offer(payload) > 0

    def sm(self, position: int, now_ns: int, window: int = WINDOW, **kw: Any) -> None:
        """The receiver peer sends an SM; the endpoint polls it."""
        self.receiver.send(status_message(position, window, **kw), self.endpoint.transport.source_address)
        self.endpoint.poll(now_ns)

    def connect(self, now_ns: int, window: int = WINDOW) -> None:
        self.pub.send(now_ns)  # SETUP
        self.sm(self.counter("snd-pos"), now_ns, window)

    def close(self) -> None:
        self.log.close()


def receive_channel(uri: str = f"aeron:udp?endpoint=127.0.0.1:{RECEIVER_PORT}") -> UdpChannel:
    return UdpChannel.parse(uri)


class SetupSeen:
    """The receive endpoint's ``on_setup`` callback: records what it was told."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def __call__(self, *args: Any) -> None:
        self.calls.append(args)


def make_receive_endpoint(
    network: InMemoryNetwork, counters: Counters, channel: UdpChannel | None = None, control_address: Any = None,
    on_setup: SetupSeen | None = None,
) -> ReceiveChannelEndpoint:
    udp = channel if channel is not None else receive_channel()
    transport = network.bind(udp.remote_data)
    return ReceiveChannelEndpoint(
        udp, transport, control_address, counters.new(), counters.system, RECEIVER_ID,
        on_setup if on_setup is not None else SetupSeen(),
    )


class LossReports:
    """A loss reporter double: the entries and observations the image records."""

    def __init__(self) -> None:
        self.entries: list[tuple[Any, ...]] = []
        self.observations: list[tuple[int, int, int]] = []

    def create_entry(self, length: int, now_ms: int, session_id: int, stream_id: int, channel: str, source: str) -> int:
        self.entries.append((length, now_ms, session_id, stream_id, channel, source))
        return len(self.entries) - 1

    def record_observation(self, entry: int, length: int, now_ms: int) -> None:
        self.observations.append((entry, length, now_ms))


class ImageRig:
    """A publication image on a receive endpoint, fed by a sender peer."""

    def __init__(
        self, tmp_path: Path, network: InMemoryNetwork, counters: Counters, *,
        endpoint: ReceiveChannelEndpoint | None = None, nak_delay_ns: int = 1_000_000, is_reliable: bool = True,
        now_ns: int = 0, active_term_id: int = INITIAL_TERM_ID, term_offset: int = 0,
        sender_address: tuple[str, int] = ("127.0.0.1", SENDER_PORT), epoch_ms: int = 1_700_000_000_000,
        group_tag: int | None = None, is_multicast: bool = False, congestion_control: Any = None,
        control_address: tuple[str, int] | None = None, native_rx: bool = NATIVE_RX,
    ) -> None:
        self.counters = counters
        self.sender = Peer(network, sender_address)
        self.endpoint = endpoint if endpoint is not None else make_receive_endpoint(network, counters)
        self.log: LogBuffers = make_log(
            tmp_path, TERM, MTU, initial_term_id=INITIAL_TERM_ID, term_id=active_term_id, term_offset=term_offset,
            log_type=d.LOG_TYPE_IMAGE,
        )
        self.hwm, self.rcv_pos, self.naks = counters.new(), counters.new(), counters.new()
        self.losses = LossReports()
        self.epoch = [epoch_ms]
        self.image = PublicationImage(
            correlation_id=21, session_id=SESSION, stream_id=STREAM, initial_term_id=INITIAL_TERM_ID,
            active_term_id=active_term_id, term_offset=term_offset, mtu_length=MTU, log_buffers=self.log,
            endpoint=self.endpoint, control_address=control_address or self.sender.address,
            source_identity="127.0.0.1:41000",
            hwm=self.hwm, rcv_pos=self.rcv_pos, naks_sent=self.naks,
            loss_detector=LossDetector(StaticDelayGenerator(nak_delay_ns)), receiver_window=WINDOW,
            receiver_id=RECEIVER_ID, group_tag=group_tag, is_reliable=is_reliable, is_multicast=is_multicast,
            sm_timeout_ns=SM_TIMEOUT_NS, image_liveness_timeout_ns=LIVENESS_NS, system_counters=counters.system,
            loss_reporter=self.losses, channel="aeron:udp?endpoint=127.0.0.1:42000", now_ns=now_ns,
            epoch_clock=lambda: self.epoch[0], congestion_control=congestion_control, native_rx=native_rx,
        )
        self.endpoint.add_interest(STREAM, None)
        self.endpoint.add_image(self.image)
        self.bits = d.position_bits_to_shift(TERM)

    def data(self, position: int, payload: bytes, flags: int = frames.BEGIN_AND_END_FLAGS) -> frames.DataFrame:
        term_id = d.compute_term_id_from_position(position, self.bits, INITIAL_TERM_ID)
        return frames.DataFrame.data(position & (TERM - 1), SESSION, STREAM, term_id, payload, flags)

    def heartbeat(self, position: int, eos: bool = False, revoked: bool = False) -> frames.DataFrame:
        term_id = d.compute_term_id_from_position(position, self.bits, INITIAL_TERM_ID)
        return frames.DataFrame.heartbeat(position & (TERM - 1), SESSION, STREAM, term_id, eos, revoked)

    def deliver(self, frame: Any, now_ns: int) -> int:
        """The sender peer sends ``frame`` to the endpoint, which polls it."""
        data = frame.encode() if not isinstance(frame, (bytes, bytearray)) else frame
        self.sender.send(data, self.endpoint.transport.local_address)
        return self.endpoint.poll(now_ns)

    def duty_cycle(self, now_ns: int) -> int:
        """Conductor rebuild tracking, then the receiver's SM and NAK sends, as the agents do."""
        work = self.image.track_rebuild(now_ns)
        work += self.image.send_pending_status_message(now_ns)
        work += self.image.send_pending_loss(now_ns)
        return work

    def term_bytes(self, offset: int, length: int) -> bytes:
        return bytes(self.image.term_buffers[0].get_bytes(offset, length))

    def close(self) -> None:
        self.log.close()


FRAME_32 = b"x" * 32  # a 32-byte payload: one 64-byte aligned frame
