"""Send and receive channel endpoints alone, on an in-memory network with time passed as
``now_ns``: dispatch by session and stream, SETUP elicitation, MDC destinations (dynamic and
manual) and their timeouts, the MDC subscriber's control SETUPs, the multicast control address,
hostile datagrams counted.  Publications and images are recording doubles, except where the
MDC fan-out runs through a real NetworkPublication.  No sockets, no sleeps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from aeronpy.driver.destination_tracker import DESTINATION_TIMEOUT_NS, DestinationTracker
from aeronpy.driver.endpoints import CONTROL_SETUP_INTERVAL_NS, PENDING_SETUP_TIMEOUT_NS
from aeronpy.driver.system_counters import SystemCounterId as Sys
from aeronpy.protocol import frames
from aeronpy.testing import InMemoryNetwork
from tests.driver.network_harness import (
    INITIAL_TERM_ID, MTU, RECEIVER_ID, SENDER_PORT, SESSION, STREAM, TERM, Counters, Peer, PublicationRig,
    SetupSeen, data_frames, make_receive_endpoint, make_send_endpoint, of_type, receive_channel,
    send_channel, status_message,
)

MS = 1_000_000
ENDPOINT = ("127.0.0.1", SENDER_PORT)


class RecordingPublication:
    """What a send endpoint hands a publication."""

    def __init__(self, session_id: int, stream_id: int = STREAM) -> None:
        self.session_id = session_id
        self.stream_id = stream_id
        self.term_length = TERM
        self.calls: list[tuple[Any, ...]] = []

    def on_status_message(self, *args: Any) -> None:
        self.calls.append(("sm", *args))

    def on_nak(self, *args: Any) -> None:
        self.calls.append(("nak", *args))

    def on_rttm(self, *args: Any) -> None:
        self.calls.append(("rttm", *args))

    def on_error(self, *args: Any) -> None:
        self.calls.append(("err", *args))

    def check_receiver_liveness(self, now_ns: int) -> None:
        self.calls.append(("liveness", now_ns))


class RecordingImage:
    """What a receive endpoint hands an image."""

    def __init__(self, session_id: int, stream_id: int = STREAM) -> None:
        self.session_id = session_id
        self.stream_id = stream_id
        self.is_end_of_stream = False
        self.calls: list[tuple[Any, ...]] = []

    def insert_packet(self, term_id: int, term_offset: int, datagram: Any, length: int, address: Any, now_ns: int, destination: Any = None) -> None:
        self.calls.append(("data", term_id, term_offset, bytes(datagram[:length]), address, now_ns))

    def on_heartbeat(self, term_id: int, term_offset: int, flags: int, address: Any, now_ns: int, destination: Any = None) -> None:
        self.calls.append(("heartbeat", term_id, term_offset, flags, address, now_ns))

    def _connection_for(self, address: Any, now_ns: int, destination: Any = None) -> None:
        self.calls.append(("setup-seen", address, now_ns))


def data(session_id: int, term_offset: int = 0, stream_id: int = STREAM, payload: bytes = b"d" * 32) -> bytes:
    return frames.DataFrame.data(term_offset, session_id, stream_id, INITIAL_TERM_ID, payload).encode()


def setup(session_id: int, term_length: int = TERM, stream_id: int = STREAM) -> bytes:
    return frames.SetupFrame(0, session_id, stream_id, INITIAL_TERM_ID, INITIAL_TERM_ID, term_length, MTU).encode()


# ---------------------------------------------------------------------------------------- send endpoint
def test_send_endpoint_dispatches_control_frames_to_the_publication_of_their_session_and_stream() -> None:
    network, counters = InMemoryNetwork(), Counters()
    endpoint = make_send_endpoint(network, counters)
    a, b, other_stream = RecordingPublication(1), RecordingPublication(2), RecordingPublication(1, STREAM + 1)
    for pub in (a, b, other_stream):
        endpoint.add_publication(pub)
    peer = Peer(network, ("127.0.0.1", 42000))
    peer.send(status_message(0, session_id=2), ENDPOINT)
    peer.send(frames.NakFrame(1, STREAM, INITIAL_TERM_ID, 64, 128), ENDPOINT)
    peer.send(frames.RttmFrame(1, STREAM + 1, 99, 0, RECEIVER_ID, frames.RTTM_REPLY_FLAG), ENDPOINT)
    peer.send(frames.ErrorFrame.create(2, STREAM, RECEIVER_ID, 7, "bad"), ENDPOINT)
    peer.send(status_message(0, session_id=3), ENDPOINT)  # nobody's: ignored
    assert endpoint.poll(5) == 5
    assert a.calls == [("nak", INITIAL_TERM_ID, 64, 128, 5)]
    assert other_stream.calls == [("rttm", frames.RTTM_REPLY_FLAG, 99, RECEIVER_ID, peer.address, 5)]
    assert b.calls[0] == ("sm", 0, INITIAL_TERM_ID, 0, TERM // 2, RECEIVER_ID, None, 5, True, peer.address)
    assert b.calls[1] == ("err", -1, 2, STREAM, RECEIVER_ID, -1, peer.address, 7, b"bad", 5)
    assert counters[Sys.ERROR_FRAMES_RECEIVED] == 1 and counters[Sys.INVALID_PACKETS] == 0
    endpoint.remove_publication(a)
    peer.send(frames.NakFrame(1, STREAM, INITIAL_TERM_ID, 64, 128), ENDPOINT)
    endpoint.poll(6)
    assert len(a.calls) == 1
    endpoint.check_liveness(7)
    assert b.calls[-1] == ("liveness", 7) and other_stream.calls[-1] == ("liveness", 7)


def test_send_endpoint_counts_invalid_control_frames_and_does_not_deliver_them() -> None:
    network, counters = InMemoryNetwork(), Counters()
    endpoint = make_send_endpoint(network, counters)
    pub = RecordingPublication(SESSION)
    endpoint.add_publication(pub)
    peer = Peer(network, ("127.0.0.1", 42000))
    hostile = [
        status_message(0, window=TERM),  # window above half a term
        status_message(0, window=-1),
        frames.StatusMessageFrame(SESSION, STREAM, INITIAL_TERM_ID, 33, 1024, RECEIVER_ID).encode(),  # misaligned
        frames.NakFrame(SESSION, STREAM, INITIAL_TERM_ID, TERM - 32, 64).encode(),  # past the term's end
        frames.NakFrame(SESSION, STREAM, INITIAL_TERM_ID, 0, -1).encode(),
        b"\x01\x02",  # too short for any header
        frames.NakFrame(SESSION, STREAM, INITIAL_TERM_ID, 0, 64).encode()[:20],  # truncated
        bytes([28, 0, 0, 0, 1, 0, 2, 0]) + bytes(20),  # version 1
        frames.ErrorFrame.create(SESSION, STREAM, RECEIVER_ID, 7, "x" * 40).encode()[:60],  # text cut short
    ]
    for datagram in hostile:
        peer.send(datagram, ENDPOINT)
    endpoint.poll(1)
    assert pub.calls == []
    assert counters[Sys.INVALID_PACKETS] == len(hostile)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(min_size=0, max_size=96), max_size=8))
def test_no_datagram_breaks_either_endpoint(datagrams: list[bytes]) -> None:
    network, counters = InMemoryNetwork(), Counters()
    send = make_send_endpoint(network, counters)
    send.add_publication(RecordingPublication(SESSION))
    receive = make_receive_endpoint(network, counters)
    receive.add_interest(STREAM, None)
    receive.add_image(RecordingImage(SESSION))
    peer = Peer(network, ("127.0.0.1", 43000))
    for datagram in datagrams:
        peer.send(datagram, ENDPOINT)
        peer.send(datagram, ("127.0.0.1", 42000))
    assert send.poll(1) == len(datagrams) and receive.poll(1) == len(datagrams)


# ---------------------------------------------------------------------------------------- MDC
def mdc_endpoint(network: InMemoryNetwork, counters: Counters, manual: bool) -> tuple[Any, Any]:
    mode = "manual" if manual else "dynamic"
    udp = send_channel(f"aeron:udp?control=127.0.0.1:{SENDER_PORT}|control-mode={mode}")
    num_dest = counters.new()
    tracker = DestinationTracker(manual, DESTINATION_TIMEOUT_NS, num_dest)
    return make_send_endpoint(network, counters, udp, tracker), num_dest


def test_dynamic_mdc_learns_destinations_from_sms_fans_data_out_and_drops_silent_ones(tmp_path: Path) -> None:
    network, counters = InMemoryNetwork(), Counters()
    endpoint, num_dest = mdc_endpoint(network, counters, manual=False)
    rig = PublicationRig(tmp_path, network, counters, endpoint=endpoint, receiver_address=("127.0.0.1", 42001))
    try:
        assert endpoint.frame_sender() is None  # MDC sends go through the tracker, with the time
        other = Peer(network, ("127.0.0.1", 42002))
        rig.pub.send(0)  # SETUP: no destination yet, nobody hears it
        assert rig.receiver.received() == [] and other.received() == []
        rig.sm(0, 1 * MS)
        other.send(status_message(0, receiver_id=RECEIVER_ID + 1), ENDPOINT)
        endpoint.poll(1 * MS)
        assert num_dest.get() == 2
        rig.offer(b"m" * 992)
        rig.pub.send(2 * MS)
        assert [f.term_offset for f in data_frames(rig.receiver.received())] == [0]
        assert [f.term_offset for f in data_frames(other.received())] == [0]

        late = 1 * MS + DESTINATION_TIMEOUT_NS + 1
        rig.sm(1024, late - 1)  # only the first receiver keeps talking
        rig.offer(b"n" * 992)
        rig.pub.send(late)  # the send itself drops the silent destination at this time
        assert [f.term_offset for f in data_frames(rig.receiver.received())] == [1024]
        assert data_frames(other.received()) == []
        assert num_dest.get() == 1
    finally:
        rig.close()


def test_manual_mdc_sends_to_added_destinations_only_and_they_never_time_out() -> None:
    network, counters = InMemoryNetwork(), Counters()
    endpoint, num_dest = mdc_endpoint(network, counters, manual=True)
    a, b, stranger = (Peer(network, ("127.0.0.1", p)) for p in (42001, 42002, 42003))
    stranger.send(status_message(0), ENDPOINT)  # an SM never adds a destination in manual mode
    endpoint.poll(0)
    assert num_dest.get() == 0
    endpoint.tracker.add_destination(a.address, 0, 101)
    endpoint.tracker.add_destination(b.address, 0, 102)
    assert endpoint.send(b"\x00" * 32, 10 * DESTINATION_TIMEOUT_NS) == 32
    assert len(a.raw()) == 1 and len(b.raw()) == 1 and stranger.raw() == []
    endpoint.check_liveness(20 * DESTINATION_TIMEOUT_NS)
    assert num_dest.get() == 2
    # an ERR frame names the destination's registration id
    pub = RecordingPublication(SESSION)
    endpoint.add_publication(pub)
    b.send(status_message(0, receiver_id=77), ENDPOINT)  # binds receiver 77 to b's entry
    b.send(frames.ErrorFrame.create(SESSION, STREAM, 77, 3, "no"), ENDPOINT)
    endpoint.poll(1)
    assert pub.calls[-1][:2] == ("err", 102)
    endpoint.tracker.remove_destination_by_id(101)
    endpoint.send(b"\x00" * 32, 2)
    assert a.raw() == [] and len(b.raw()) == 1 and num_dest.get() == 1


def test_a_reply_to_an_explicit_address_bypasses_the_mdc_tracker() -> None:
    network, counters = InMemoryNetwork(), Counters()
    endpoint, _ = mdc_endpoint(network, counters, manual=True)
    peer = Peer(network, ("127.0.0.1", 42001))
    endpoint.send(b"r" * 40, 0, peer.address)
    assert peer.raw() == [b"r" * 40]


# ---------------------------------------------------------------------------------------- receive endpoint
def test_receive_endpoint_dispatches_data_and_heartbeats_to_the_image_of_their_session() -> None:
    network, counters = InMemoryNetwork(), Counters()
    endpoint = make_receive_endpoint(network, counters)
    endpoint.add_interest(STREAM, None)
    one, two = RecordingImage(1), RecordingImage(2)
    endpoint.add_image(one)
    endpoint.add_image(two)
    peer = Peer(network, ("127.0.0.1", SENDER_PORT))
    peer.send(data(2, 64), ("127.0.0.1", 42000))
    peer.send(frames.DataFrame.heartbeat(128, 1, STREAM, INITIAL_TERM_ID).encode(), ("127.0.0.1", 42000))
    peer.send(data(1, 0, stream_id=STREAM + 1), ("127.0.0.1", 42000))  # a stream nobody wants
    endpoint.poll(9)
    assert two.calls == [("data", INITIAL_TERM_ID, 64, data(2, 64), peer.address, 9)]
    assert one.calls == [("heartbeat", INITIAL_TERM_ID, 128, frames.BEGIN_AND_END_FLAGS, peer.address, 9)]
    assert counters[Sys.BYTES_RECEIVED] == 64 + 32 + 64


def test_receive_endpoint_counts_invalid_data_datagrams_and_never_dispatches_them() -> None:
    network, counters = InMemoryNetwork(), Counters()
    endpoint = make_receive_endpoint(network, counters)
    endpoint.add_interest(STREAM, None)
    image = RecordingImage(SESSION)
    endpoint.add_image(image)
    peer = Peer(network, ("127.0.0.1", SENDER_PORT))
    good = bytearray(data(SESSION))
    version_1 = bytearray(good)
    version_1[4] = 1
    negative = bytearray(good)
    negative[0:4] = (-64).to_bytes(4, "little", signed=True)
    for datagram in (bytes(version_1), bytes(negative), bytes(good) + b"\x00" * 8, bytes(good[:31])):
        peer.send(datagram, ("127.0.0.1", 42000))
    endpoint.poll(0)
    assert image.calls == [] and counters[Sys.INVALID_PACKETS] == 4


def test_data_without_an_image_elicits_a_setup_at_most_once_a_second() -> None:
    network, counters = InMemoryNetwork(), Counters()
    endpoint = make_receive_endpoint(network, counters)
    endpoint.add_interest(STREAM, None)
    peer = Peer(network, ("127.0.0.1", SENDER_PORT))
    to = ("127.0.0.1", 42000)

    def elicited() -> list[frames.StatusMessageFrame]:
        return of_type(peer.received(), frames.StatusMessageFrame)

    peer.send(data(SESSION), to)
    endpoint.poll(0)
    (sm,) = elicited()
    assert sm.send_setup and (sm.session_id, sm.stream_id, sm.receiver_id) == (SESSION, STREAM, RECEIVER_ID)
    peer.send(data(SESSION, 64), to)
    endpoint.poll(PENDING_SETUP_TIMEOUT_NS)
    assert elicited() == []
    peer.send(data(SESSION, 128), to)
    endpoint.poll(PENDING_SETUP_TIMEOUT_NS + 1)
    assert len(elicited()) == 1
    peer.send(frames.DataFrame.heartbeat(0, SESSION + 1, STREAM, INITIAL_TERM_ID, eos=True).encode(), to)
    peer.send(data(SESSION, stream_id=STREAM + 1), to)
    endpoint.poll(3 * PENDING_SETUP_TIMEOUT_NS)
    assert elicited() == []  # an end-of-stream heartbeat or an unwanted stream asks for nothing


def test_setup_creates_an_image_once_and_a_closed_image_cools_down_until_released() -> None:
    network, counters = InMemoryNetwork(), Counters()
    seen = SetupSeen()
    endpoint = make_receive_endpoint(network, counters, on_setup=seen)
    endpoint.add_interest(STREAM, SESSION)  # only this session
    peer = Peer(network, ("127.0.0.1", SENDER_PORT))
    to = ("127.0.0.1", 42000)
    peer.send(setup(SESSION + 1), to)  # another session: not wanted
    peer.send(setup(SESSION), to)
    peer.send(setup(SESSION), to)  # the image is being made: once only
    endpoint.poll(0)
    ((ep, session, stream, initial, active, offset, term_length, mtu, flags, reply, source),) = seen.calls
    assert ep is endpoint and (session, stream, initial, active, offset, term_length, mtu, flags) == (
        SESSION, STREAM, INITIAL_TERM_ID, INITIAL_TERM_ID, 0, TERM, MTU, 0)
    assert reply == source == peer.address
    peer.send(setup(SESSION, term_length=TERM + 1), to)  # the conductor failed; the next is invalid
    endpoint.clear_init_in_progress(STREAM, SESSION)
    endpoint.poll(1)
    assert len(seen.calls) == 1 and counters[Sys.INVALID_PACKETS] == 1

    image = RecordingImage(SESSION)
    endpoint.add_image(image)
    peer.send(setup(SESSION), to)
    endpoint.poll(2)
    assert image.calls == [("setup-seen", peer.address, 2)] and len(seen.calls) == 1
    endpoint.remove_image(image)  # gone without end of stream: cool down
    peer.send(data(SESSION), to)
    peer.send(setup(SESSION), to)
    endpoint.poll(3)
    assert peer.received() == [] and len(seen.calls) == 1
    endpoint.remove_cool_down(STREAM, SESSION)
    peer.send(setup(SESSION), to)
    endpoint.poll(4)
    assert len(seen.calls) == 2


def test_rttm_requests_for_a_known_image_are_answered() -> None:
    network, counters = InMemoryNetwork(), Counters()
    endpoint = make_receive_endpoint(network, counters)
    endpoint.add_interest(STREAM, None)
    endpoint.add_image(RecordingImage(SESSION))
    peer = Peer(network, ("127.0.0.1", SENDER_PORT))
    to = ("127.0.0.1", 42000)
    peer.send(frames.RttmFrame(SESSION + 1, STREAM, 5, 0, 0, frames.RTTM_REPLY_FLAG), to)  # no image
    peer.send(frames.RttmFrame(SESSION, STREAM, 6, 0, RECEIVER_ID + 1, frames.RTTM_REPLY_FLAG), to)  # not us
    peer.send(frames.RttmFrame(SESSION, STREAM, 7, 0, RECEIVER_ID, frames.RTTM_REPLY_FLAG), to)
    endpoint.poll(0)
    (reply,) = of_type(peer.received(), frames.RttmFrame)
    assert (reply.echo_timestamp, reply.receiver_id, reply.flags) == (7, RECEIVER_ID, 0)


def test_multicast_replies_go_to_the_control_group_not_the_source() -> None:
    network, counters = InMemoryNetwork(), Counters()
    udp = receive_channel("aeron:udp?endpoint=224.0.1.1:40456|interface=127.0.0.1")
    endpoint = make_receive_endpoint(network, counters, udp, control_address=udp.remote_control)
    endpoint.add_interest(STREAM, None)
    sender = Peer(network, ("127.0.0.1", SENDER_PORT))
    control_member = Peer(network, udp.remote_control)
    sender.send(data(SESSION), udp.remote_data)
    endpoint.poll(0)
    assert sender.received() == []
    (sm,) = of_type(control_member.received(), frames.StatusMessageFrame)
    assert sm.send_setup and sm.session_id == SESSION


def test_mdc_subscriber_sends_control_setups_at_once_then_every_interval_while_subscribed() -> None:
    network, counters = InMemoryNetwork(), Counters()
    udp = receive_channel(f"aeron:udp?endpoint=127.0.0.1:42000|control=127.0.0.1:{SENDER_PORT}")
    endpoint = make_receive_endpoint(network, counters, udp, control_address=udp.local_control)
    publisher = Peer(network, ("127.0.0.1", SENDER_PORT))
    assert endpoint.send_control_setups(0) == 0  # no subscription yet
    endpoint.add_interest(STREAM, None)
    assert endpoint.send_control_setups(5) == 1
    (sm,) = of_type(publisher.received(), frames.StatusMessageFrame)
    assert sm.send_setup and (sm.session_id, sm.stream_id) == (0, 0)
    assert endpoint.send_control_setups(5 + CONTROL_SETUP_INTERVAL_NS - 1) == 0
    assert endpoint.send_control_setups(5 + CONTROL_SETUP_INTERVAL_NS) == 1
    endpoint.add_interest(STREAM + 1, SESSION)  # a session-specific subscription asks at once
    assert [(f.session_id, f.stream_id) for f in of_type(publisher.received(), frames.StatusMessageFrame)] == [
        (0, 0), (SESSION, STREAM + 1)]
    endpoint.remove_interest(STREAM, None)
    endpoint.remove_interest(STREAM + 1, SESSION)
    assert endpoint.send_control_setups(10 * CONTROL_SETUP_INTERVAL_NS) == 0


def test_interceptor_drops_datagrams_before_dispatch() -> None:
    network, counters = InMemoryNetwork(), Counters()
    endpoint = make_receive_endpoint(network, counters)
    endpoint.add_interest(STREAM, None)
    image = RecordingImage(SESSION)
    endpoint.add_image(image)

    class DropAll:
        def should_drop(self, datagram: Any) -> bool:
            return True

    endpoint.interceptor = DropAll()
    peer = Peer(network, ("127.0.0.1", SENDER_PORT))
    peer.send(data(SESSION), ("127.0.0.1", 42000))
    peer.send(setup(SESSION + 1), ("127.0.0.1", 42000))
    assert endpoint.poll(0) == 2 and image.calls == []


def test_a_reply_that_cannot_be_sent_is_reported_and_the_batch_goes_on() -> None:
    network, counters = InMemoryNetwork(), Counters()
    endpoint = make_receive_endpoint(network, counters)
    endpoint.add_interest(STREAM, None)
    image = RecordingImage(SESSION)
    endpoint.add_image(image)
    errors: list[BaseException] = []
    endpoint.error_handler = errors.append

    def unreachable(datagram: Any, address: Any = None) -> int:
        raise OSError(113, "no route to host")

    endpoint.transport.send = unreachable  # type: ignore[method-assign]
    peer = Peer(network, ("127.0.0.1", SENDER_PORT))
    peer.send(data(SESSION + 1), ("127.0.0.1", 42000))  # no image: the SETUP request fails to go out
    peer.send(data(SESSION), ("127.0.0.1", 42000))
    assert endpoint.poll(0) == 2
    assert len(errors) == 1 and errors[0].errno == 113
    assert [call[0] for call in image.calls] == ["data"]


def test_a_transient_receive_error_is_no_work_and_any_other_is_raised() -> None:
    network, counters = InMemoryNetwork(), Counters()
    endpoint = make_send_endpoint(network, counters)
    failure = [OSError(11, "try again")]

    def receive(*_args: Any) -> list[Any]:
        raise failure[0]

    endpoint.transport.recv_into_batch = receive  # type: ignore[method-assign]
    assert endpoint.poll(0) == 0
    failure[0] = OSError(9, "bad file descriptor")
    try:
        endpoint.poll(1)
    except OSError as ex:
        assert ex.errno == 9
    else:
        raise AssertionError("a non-transient receive error must reach the agent")
