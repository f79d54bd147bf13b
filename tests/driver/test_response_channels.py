"""The response-channel decisions (driver/response_channels.py), without a driver, and the
response parts of the network publication, send endpoint and image, socket-free."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aeronpy.driver import response_channels as rsp
from aeronpy.driver.client_command_adapter import CommandError
from aeronpy.logbuffer.descriptor import TERM_MIN_LENGTH
from aeronpy.protocol import control as cp
from aeronpy.driver.system_counters import SystemCounterId
from aeronpy.protocol import frames
from aeronpy.testing import InMemoryNetwork
from tests.driver.network_harness import (
    RECEIVER_ID, SENDER_PORT, SESSION, SM_TIMEOUT_NS, STREAM, Counters, ImageRig, Peer, PublicationRig,
    data_frames, make_send_endpoint, of_type, send_channel, status_message,
)

session_ids = st.integers(-(2**31), 2**31 - 1)


# ---------------------------------------------------------------------------- the announcer
def test_an_image_that_did_not_ask_announces_nothing() -> None:
    announcer = rsp.ResponseSetupAnnouncer(requested=False)
    assert announcer.due(sm_timed_out=True) is None


@given(session_ids)
def test_a_linked_response_publication_is_announced_at_once_then_at_the_sm_cadence(session_id: int) -> None:
    announcer = rsp.ResponseSetupAnnouncer(requested=True)
    assert announcer.due(sm_timed_out=True) is None  # nothing linked yet
    announcer.link(session_id)
    assert announcer.is_send_now_requested
    assert announcer.due(sm_timed_out=False) == session_id  # the immediate one
    assert announcer.due(sm_timed_out=False) is None  # then it waits for the SM timeout
    assert announcer.due(sm_timed_out=True) == session_id
    assert announcer.due(sm_timed_out=True) == session_id  # every timeout, until connected


@given(session_ids)
def test_unlinking_stops_the_announcements(session_id: int) -> None:
    announcer = rsp.ResponseSetupAnnouncer(requested=True)
    announcer.link(session_id)
    announcer.unlink()
    assert not announcer.is_send_now_requested
    assert announcer.due(sm_timed_out=True) is None
    assert announcer.due(sm_timed_out=False) is None


def test_relinking_announces_the_new_session() -> None:
    announcer = rsp.ResponseSetupAnnouncer(requested=True)
    announcer.link(7)
    announcer.due(sm_timed_out=False)
    announcer.link(8)
    assert announcer.due(sm_timed_out=False) == 8


# ---------------------------------------------------------------------------- requester side
@given(session_ids)
def test_a_waiting_subscription_narrows_a_narrowed_one_asks_for_a_setup_again(session_id: int) -> None:
    assert rsp.on_response_setup(None) is rsp.ResponseSetupAction.NARROW
    assert rsp.on_response_setup(session_id) is rsp.ResponseSetupAction.ELICIT_SETUP


@given(session_ids, session_ids)
def test_session_matching(own: int, other: int) -> None:
    assert rsp.matches_session(None, False, other)  # wildcard: every session
    assert not rsp.matches_session(None, True, other)  # waiting response subscription: none
    assert rsp.matches_session(own, True, own) and rsp.matches_session(own, False, own)
    assert rsp.matches_session(own, False, other) == (own == other)


# ---------------------------------------------------------------------------- publication rules
@dataclass
class FakeImage:
    correlation_id: int
    requested: bool
    response_setup: rsp.ResponseSetupAnnouncer = field(init=False)

    def __post_init__(self) -> None:
        self.response_setup = rsp.ResponseSetupAnnouncer(self.requested)


def test_a_response_publication_links_to_the_image_that_asked() -> None:
    images = [FakeImage(10, False), FakeImage(11, True)]
    assert rsp.find_response_image(images, True, 11) is images[1]


def test_a_non_response_publication_or_a_prototype_links_to_nothing() -> None:
    images = [FakeImage(11, True)]
    assert rsp.find_response_image(images, False, 11) is None
    assert rsp.find_response_image(images, True, rsp.PROTOTYPE_CORRELATION_ID) is None


@pytest.mark.parametrize(
    ("correlation_id", "message"),
    [
        (12, "image.correlationId=12 not found"),
        (10, "image.correlationId=10 did not request a response channel"),
        (rsp.NULL_VALUE, "control-mode=response was specified, but no response-correlation-id set"),
    ],
)
def test_a_response_publication_is_refused_as_aeron_refuses_it(correlation_id: int, message: str) -> None:
    with pytest.raises(CommandError) as raised:
        rsp.find_response_image([FakeImage(10, False)], True, correlation_id)
    assert raised.value.code == cp.ErrorCode.GENERIC_ERROR
    assert str(raised.value) == message


def test_a_request_publication_needs_its_response_subscription() -> None:
    rsp.check_response_subscription(False, 5, [4, 5])
    rsp.check_response_subscription(False, rsp.NULL_VALUE, [])
    rsp.check_response_subscription(True, 99, [])  # a response publication names an image instead
    with pytest.raises(CommandError, match="unable to find response subscription for response-correlation-id=6"):
        rsp.check_response_subscription(False, 6, [4, 5])


@given(st.sampled_from([1 << n for n in range(16, 31)]))
def test_only_a_response_prototype_has_its_term_length_forced(term_length: int) -> None:
    assert rsp.response_term_length(True, rsp.PROTOTYPE_CORRELATION_ID, term_length) == TERM_MIN_LENGTH
    assert rsp.response_term_length(True, 42, term_length) == term_length
    assert rsp.response_term_length(False, rsp.PROTOTYPE_CORRELATION_ID, term_length) == term_length


@given(st.booleans(), st.integers(-2, 2**40), st.booleans())
def test_setup_flags(is_response: bool, correlation_id: int, is_group: bool) -> None:
    flags = rsp.setup_flags(is_response, correlation_id, is_group)
    assert bool(flags & frames.SETUP_GROUP_FLAG) == is_group
    assert bool(flags & frames.SETUP_SEND_RESPONSE_FLAG) == (not is_response and correlation_id != -1)
    assert flags & ~(frames.SETUP_GROUP_FLAG | frames.SETUP_SEND_RESPONSE_FLAG) == 0


# ---------------------------------------------------------------------------- IPC
def test_ipc_a_response_publication_names_the_request_publication_whose_subscription_it_answers() -> None:
    publications = [rsp.IpcPublicationView(100, 7), rsp.IpcPublicationView(101, 8)]
    assert rsp.ipc_response_subscription(101, publications, [7, 8, 9]) == 8
    assert rsp.ipc_response_subscription(100, publications, [7, 8]) == 7
    assert rsp.ipc_response_subscription(102, publications, [7, 8]) is None  # no such request
    assert rsp.ipc_response_subscription(100, publications, [8]) is None  # its subscription is gone
    assert rsp.ipc_response_subscription(rsp.NULL_VALUE, publications, [7, 8]) is None


# ---------------------------------------------------------------------------- socket-free parts
REQUEST_ID, IMAGE_ID = 77, 21


@pytest.fixture
def net() -> tuple[InMemoryNetwork, Counters]:
    return InMemoryNetwork(), Counters()


def _rig(tmp_path: Path, net: tuple[InMemoryNetwork, Counters], **params: Any) -> Iterator[PublicationRig]:
    network, counters = net
    endpoint = None
    if params.get("is_response"):
        endpoint = make_send_endpoint(network, counters, send_channel(
            f"aeron:udp?control-mode=response|control=127.0.0.1:{SENDER_PORT}|response-correlation-id={IMAGE_ID}"))
    rig = PublicationRig(tmp_path, network, counters, endpoint=endpoint, params=SimpleNamespace(**params))
    yield rig
    rig.close()


@pytest.fixture
def request_rig(tmp_path: Path, net: tuple[InMemoryNetwork, Counters]) -> Iterator[PublicationRig]:
    yield from _rig(tmp_path, net, is_response=False, response_correlation_id=REQUEST_ID)


@pytest.fixture
def response_rig(tmp_path: Path, net: tuple[InMemoryNetwork, Counters]) -> Iterator[PublicationRig]:
    yield from _rig(tmp_path, net, is_response=True, response_correlation_id=IMAGE_ID)


def test_a_request_publication_flags_its_setups_and_hands_rsp_setups_on(request_rig: PublicationRig) -> None:
    seen: list[tuple[int, int]] = []
    request_rig.pub.on_response_setup_frame = lambda correlation_id, session_id: seen.append((correlation_id, session_id))
    request_rig.pub.send(0)
    (setup,) = of_type(request_rig.receiver.received(), frames.SetupFrame)
    assert setup.send_response_setup and not setup.group
    to = request_rig.endpoint.transport.source_address
    request_rig.receiver.send(frames.ResponseSetupFrame(SESSION, STREAM, 4242), to)
    request_rig.receiver.send(frames.ResponseSetupFrame(SESSION + 1, STREAM, 4343), to)  # not ours
    request_rig.endpoint.poll(1)
    assert seen == [(REQUEST_ID, 4242)]
    invalid = request_rig.counters[SystemCounterId.INVALID_PACKETS]
    request_rig.receiver.send(frames.ResponseSetupFrame(SESSION, STREAM, 1).encode()[:19], to)  # truncated
    request_rig.endpoint.poll(2)
    assert request_rig.counters[SystemCounterId.INVALID_PACKETS] == invalid + 1 and len(seen) == 1


def test_a_plain_publication_ignores_rsp_setups(tmp_path: Path, net: tuple[InMemoryNetwork, Counters]) -> None:
    for rig in _rig(tmp_path, net):
        seen: list[Any] = []
        rig.pub.on_response_setup_frame = lambda *args: seen.append(args)
        rig.pub.send(0)
        (setup,) = of_type(rig.receiver.received(), frames.SetupFrame)
        assert not setup.send_response_setup
        rig.receiver.send(frames.ResponseSetupFrame(SESSION, STREAM, 4242), rig.endpoint.transport.source_address)
        rig.endpoint.poll(1)
        assert seen == []


def test_a_response_publication_sends_only_to_the_address_its_setup_request_came_from(
    response_rig: PublicationRig, net: tuple[InMemoryNetwork, Counters],
) -> None:
    network, _ = net
    connected: list[int] = []
    response_rig.pub.on_response_connected = connected.append
    response_rig.offer(b"x" * 100, 3)
    for now in (0, 200_000_000):
        response_rig.pub.send(now)
    assert network.sent == []  # no address yet: nothing at all goes out
    requester = Peer(network, ("127.0.0.9", 45000))
    to = response_rig.endpoint.transport.source_address
    requester.send(status_message(0, flags=0x80), to)  # SEND_SETUP
    response_rig.endpoint.poll(300_000_000)
    response_rig.pub.send(400_000_000)
    (setup,) = of_type(requester.received(), frames.SetupFrame)
    assert not setup.send_response_setup  # a response never asks for responses
    requester.send(status_message(0), to)
    response_rig.endpoint.poll(400_000_001)
    requester.send(status_message(0, receiver_id=RECEIVER_ID + 1), to)  # a second receiver: no new event
    response_rig.endpoint.poll(400_000_002)
    assert connected == [IMAGE_ID]  # the first live receiver, once
    response_rig.pub.send(400_000_003)
    got = data_frames(requester.received())
    assert got and got[0].term_offset == 0 and response_rig.receiver.received() == []  # all to the requester
    # a NAK: the retransmission goes to the requester as well
    aligned = (got[0].frame_length + 31) & ~31
    requester.send(frames.NakFrame(SESSION, STREAM, got[0].term_id, got[0].term_offset, aligned), to)
    response_rig.endpoint.poll(400_000_004)
    response_rig.pub.retransmit_handler.process_timeouts(500_000_000, response_rig.pub.resend)
    assert data_frames(requester.received()) and response_rig.receiver.received() == []


def test_a_response_image_announces_its_response_publication_until_told_to_stop(
    tmp_path: Path, net: tuple[InMemoryNetwork, Counters],
) -> None:
    network, counters = net
    rig = ImageRig(tmp_path, network, counters)
    try:
        rig.image.response_setup.requested = True
        rig.duty_cycle(0)
        assert of_type(rig.sender.received(), frames.ResponseSetupFrame) == []  # nothing linked yet
        rig.image.link_response_publication(9999)
        rig.duty_cycle(1)  # at once, not at the next SM timeout
        (first,) = of_type(rig.sender.received(), frames.ResponseSetupFrame)
        assert (first.session_id, first.stream_id, first.response_session_id) == (SESSION, STREAM, 9999)
        rig.duty_cycle(2)
        assert of_type(rig.sender.received(), frames.ResponseSetupFrame) == []
        rig.duty_cycle(2 + SM_TIMEOUT_NS)
        assert len(of_type(rig.sender.received(), frames.ResponseSetupFrame)) == 1  # the SM cadence
        rig.image.response_setup.unlink()
        rig.duty_cycle(2 + 3 * SM_TIMEOUT_NS)
        assert of_type(rig.sender.received(), frames.ResponseSetupFrame) == []
    finally:
        rig.close()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(session_ids, st.sampled_from([STREAM, STREAM + 1]), session_ids, st.integers(0, 24),
                          st.integers(0, 255), st.integers(-1, 1)), max_size=20))
def test_hostile_rsp_setups_never_break_the_endpoint_and_only_ours_are_handed_on(
    request_rig: PublicationRig, datagrams: list[tuple[int, int, int, int, int, int]],
) -> None:
    seen: list[tuple[int, int]] = []
    request_rig.pub.on_response_setup_frame = lambda correlation_id, session_id: seen.append((correlation_id, session_id))
    to = request_rig.endpoint.transport.source_address
    expected: list[tuple[int, int]] = []
    for session_id, stream_id, response_session_id, cut, flags, version in datagrams:
        data = bytearray(frames.ResponseSetupFrame(session_id, stream_id, response_session_id, flags).encode())
        data[4] = version & 0xFF
        data = data[: 20 - cut] if cut <= 20 else data + bytes(cut - 20)
        request_rig.receiver.send(bytes(data), to)
        if len(data) >= 20 and version == 0 and (session_id, stream_id) == (SESSION, STREAM):
            expected.append((REQUEST_ID, response_session_id))
    request_rig.endpoint.poll(1)
    assert seen == expected
