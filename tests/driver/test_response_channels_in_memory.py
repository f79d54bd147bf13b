"""Response channels through whole drivers on the in-memory network under a manual clock.

Host ``b`` is the responder: it subscribes to requests on 10.0.0.2:40456 and answers on the
response control address 10.0.0.2:40457.  Requesters subscribe with ``control-mode=response``
and publish to ``b`` naming that subscription in ``response-correlation-id``.
"""

from __future__ import annotations

import socket
import struct
import threading
from typing import Any, Iterator

import pytest

from aeronpy.concurrent import counters as ctr
from aeronpy.driver.system_counters import SystemCounterId
from aeronpy.errors import RegistrationError
from aeronpy.protocol import control as cp
from aeronpy.protocol import data_header as dh
from aeronpy.protocol import frames
from aeronpy.testing import Datagram
from tests.driver.test_in_memory_driver import Host, World

REQUEST_STREAM, RESPONSE_STREAM = 1001, 1002
REQUEST_CHANNEL = "aeron:udp?endpoint=10.0.0.2:40456|term-length=64k"
CONTROL = "10.0.0.2:40457"
RESPONSE_SUB_CHANNEL = f"aeron:udp?control-mode=response|control={CONTROL}"


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    w = World()

    def no_sockets(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a socket was opened in an in-memory test")

    monkeypatch.setattr(socket, "socket", no_sockets)
    yield w
    for h in w.hosts:
        h.close()


def _type(d: Datagram) -> int:
    return struct.unpack_from("<H", d.data, 6)[0] if len(d.data) >= 8 else -1


def _flags(d: Datagram) -> int:
    return d.data[5]


def _response_pub_channel(image_correlation_id: int | str) -> str:
    return f"aeron:udp?control-mode=response|control={CONTROL}|response-correlation-id={image_correlation_id}"


def _request(world: World, requester: Host, request_sub: Any, images_before: int = 0) -> tuple[Any, Any, Any]:
    """Response subscription + request publication on ``requester``; returns them and the
    request image at the responder."""
    response_sub = world.add(requester, "subscription", RESPONSE_SUB_CHANNEL, RESPONSE_STREAM)
    request_pub = world.add(
        requester, "publication", f"{REQUEST_CHANNEL}|response-correlation-id={response_sub.registration_id}",
        REQUEST_STREAM,
    )
    world.run(
        lambda: request_pub.is_connected and request_sub.image_count > images_before, "request connected"
    )
    image = next(i for i in request_sub.images if i.session_id == request_pub.session_id)
    return response_sub, request_pub, image


def _offer(world: World, pub: Any, payload: bytes) -> None:
    world.run(lambda: pub.offer(payload) > 0, f"offer {payload!r}")


def _take(world: World, sub: Any, count: int = 1) -> list[bytes]:
    got: list[bytes] = []
    world.run(
        lambda: sub.poll(lambda b, o, n, h: got.append(b.get_bytes(o, n)), 10) >= 0 and len(got) >= count,
        f"{count} message(s)",
    )
    return got


def _close(world: World, *resources: Any) -> None:
    """Close client resources (a blocking command each) while the drivers keep working."""
    for resource in resources:
        closer = threading.Thread(target=resource.close)
        closer.start()
        for _ in range(100_000):
            if not closer.is_alive():
                break
            for h in world.hosts:
                h.driver.do_work()
            world.clock.advance_ns(100_000)
            closer.join(0.0005)
        assert not closer.is_alive(), f"closing {resource} did not complete"


def _rsp_setups(world: World) -> list[frames.ResponseSetupFrame]:
    return [
        frames.ResponseSetupFrame.decode(d.data) for d in world.network.sent if _type(d) == dh.HDR_TYPE_RSP_SETUP
    ]


def test_a_request_gets_its_response_over_the_path_the_requester_opened(world: World) -> None:
    a, b = world.host("a"), world.host("b")
    request_sub = world.add(b, "subscription", REQUEST_CHANNEL, REQUEST_STREAM)
    response_sub, request_pub, image = _request(world, a, request_sub)
    setups = [d for d in world.network.sent if _type(d) == dh.HDR_TYPE_SETUP]
    assert setups and all(_flags(d) & frames.SETUP_SEND_RESPONSE_FLAG for d in setups)
    assert response_sub.image_count == 0  # waits for its responder

    response_pub = world.add(b, "publication", _response_pub_channel(image.correlation_id), RESPONSE_STREAM)
    world.run(lambda: response_pub.is_connected and response_sub.image_count == 1, "response connected")
    assert response_sub.images[0].session_id == response_pub.session_id

    # RSP_SETUP: sent by b to the request publication, naming both sessions
    announced = _rsp_setups(world)
    assert announced
    assert {(f.session_id, f.stream_id, f.response_session_id) for f in announced} == {
        (request_pub.session_id, REQUEST_STREAM, response_pub.session_id)
    }
    rsp_sources = {d.source for d in world.network.sent if _type(d) == dh.HDR_TYPE_RSP_SETUP}
    request_data_sources = {d.source for d in world.network.sent if _type(d) == dh.HDR_TYPE_SETUP and d.destination == ("10.0.0.2", 40456)}
    rsp_destinations = {d.destination for d in world.network.sent if _type(d) == dh.HDR_TYPE_RSP_SETUP}
    assert rsp_destinations <= request_data_sources
    assert len(rsp_sources) == 1
    # the response SETUP has no SEND_RESPONSE flag (it is a response itself)
    response_setups = [
        d for d in world.network.sent
        if _type(d) == dh.HDR_TYPE_SETUP and struct.unpack_from("<i", d.data, 12)[0] == response_pub.session_id
    ]
    assert response_setups and not any(_flags(d) & frames.SETUP_SEND_RESPONSE_FLAG for d in response_setups)

    # once connected, the image stops announcing
    count = len(_rsp_setups(world))
    for _ in range(50):
        for h in world.hosts:
            h.pump()
        world.clock.advance_ms(20)
    assert len(_rsp_setups(world)) == count

    # the channel status counters name the response channels (as Aeron's labels do)
    def labels(host: Host, type_id: int) -> list[str]:
        found: list[str] = []
        host.aeron.counters_reader.for_each(
            lambda counter_id, t, key, label: found.append(label) if t == type_id else None)
        return found

    assert any("control-mode=response" in label for label in labels(b, ctr.SEND_CHANNEL_STATUS_TYPE_ID))
    assert any("control-mode=response" in label for label in labels(a, ctr.RECEIVE_CHANNEL_STATUS_TYPE_ID))
    assert any(f"response-correlation-id={response_sub.registration_id}" in label
               for label in labels(a, ctr.SEND_CHANNEL_STATUS_TYPE_ID))

    _offer(world, request_pub, b"ping")
    assert _take(world, request_sub) == [b"ping"]
    _offer(world, response_pub, b"pong")
    assert _take(world, response_sub) == [b"pong"]


def test_each_requester_gets_only_its_own_responses(world: World) -> None:
    a, b, c = world.host("a"), world.host("b"), world.host("c")
    request_sub = world.add(b, "subscription", REQUEST_CHANNEL, REQUEST_STREAM)
    prototype = world.add(b, "exclusive_publication", _response_pub_channel("prototype"), RESPONSE_STREAM)
    sub_a, pub_a, image_a = _request(world, a, request_sub)
    sub_c, pub_c, image_c = _request(world, c, request_sub, images_before=1)
    rsp_a = world.add(b, "publication", _response_pub_channel(image_a.correlation_id), RESPONSE_STREAM)
    rsp_c = world.add(b, "publication", _response_pub_channel(image_c.correlation_id), RESPONSE_STREAM)
    assert len({rsp_a.session_id, rsp_c.session_id, prototype.session_id}) == 3
    world.run(lambda: rsp_a.is_connected and rsp_c.is_connected and sub_a.image_count == sub_c.image_count == 1, "both")
    assert not prototype.is_connected
    _offer(world, rsp_a, b"for a")
    _offer(world, rsp_c, b"for c")
    assert _take(world, sub_a) == [b"for a"]
    assert _take(world, sub_c) == [b"for c"]
    for _ in range(20):
        for h in world.hosts:
            h.pump()
        world.clock.advance_ms(10)
    assert sub_a.poll(lambda *args: None, 10) == 0 and sub_c.poll(lambda *args: None, 10) == 0


def test_a_prototype_has_the_minimum_term_length_and_sends_nothing(world: World) -> None:
    b = world.host("b", term_buffer_length=1 << 20)
    prototype = world.add(b, "exclusive_publication", _response_pub_channel("prototype"), RESPONSE_STREAM)
    assert prototype.term_buffer_length == 64 * 1024
    for _ in range(50):
        b.pump()
        world.clock.advance_ms(20)
    assert not [d for d in world.network.sent if d.source == ("10.0.0.2", 40457)]
    assert not prototype.is_connected


def test_a_second_waiting_response_subscription_stays_unconnected(world: World) -> None:
    a, b = world.host("a"), world.host("b")
    request_sub = world.add(b, "subscription", REQUEST_CHANNEL, REQUEST_STREAM)
    response_sub, _, image = _request(world, a, request_sub)
    aux = world.add(a, "subscription", RESPONSE_SUB_CHANNEL, RESPONSE_STREAM)
    response_pub = world.add(b, "publication", _response_pub_channel(image.correlation_id), RESPONSE_STREAM)
    world.run(lambda: response_pub.is_connected and response_sub.image_count == 1, "response connected")
    for _ in range(50):
        for h in world.hosts:
            h.pump()
        world.clock.advance_ms(20)
    assert aux.image_count == 0 and not aux.is_connected


def test_lost_rsp_setups_and_setup_requests_are_repeated(world: World) -> None:
    a, b = world.host("a"), world.host("b")
    request_sub = world.add(b, "subscription", REQUEST_CHANNEL, REQUEST_STREAM)
    response_sub, _, image = _request(world, a, request_sub)
    dropped = {"rsp": 0, "send_setup": 0}

    def drop(d: Datagram) -> bool:
        if _type(d) == dh.HDR_TYPE_RSP_SETUP and dropped["rsp"] < 3:
            dropped["rsp"] += 1
            return True
        is_send_setup = _type(d) == dh.HDR_TYPE_SM and _flags(d) & 0x80 and struct.unpack_from("<i", d.data, 8)[0] != 0
        if is_send_setup and dropped["send_setup"] < 2:
            dropped["send_setup"] += 1
            return True
        return False

    world.network.drop = drop
    response_pub = world.add(b, "publication", _response_pub_channel(image.correlation_id), RESPONSE_STREAM)
    world.run(lambda: response_pub.is_connected and response_sub.image_count == 1, "response connected despite loss")
    assert dropped == {"rsp": 3, "send_setup": 2}


def test_closing_the_response_publication_ends_the_response_image(world: World) -> None:
    a, b = world.host("a"), world.host("b")
    request_sub = world.add(b, "subscription", REQUEST_CHANNEL, REQUEST_STREAM)
    response_sub, request_pub, image = _request(world, a, request_sub)
    response_pub = world.add(b, "publication", _response_pub_channel(image.correlation_id), RESPONSE_STREAM)
    world.run(lambda: response_sub.image_count == 1, "response connected")
    _close(world, response_pub)
    world.run(lambda: response_sub.image_count == 0, "response image gone", step_us=10_000, cycles=3_000)
    _close(world, request_pub)
    world.run(lambda: request_sub.image_count == 0, "request image gone", step_us=10_000, cycles=3_000)
    _close(world, response_sub, request_sub)

    def network_counters(host: Host) -> list[str]:
        found: list[str] = []
        wanted = {ctr.RECEIVE_CHANNEL_STATUS_TYPE_ID, ctr.SEND_CHANNEL_STATUS_TYPE_ID, ctr.SUBSCRIBER_POSITION_TYPE_ID,
                  ctr.PUBLISHER_LIMIT_TYPE_ID, ctr.RECEIVER_POSITION_TYPE_ID}

        def visit(counter_id: int, type_id: int, key: bytes, label: str) -> None:
            if type_id in wanted:
                found.append(label)

        host.aeron.counters_reader.for_each(visit)
        return found

    world.run(lambda: not network_counters(a) and not network_counters(b), "every stream counter freed",
              step_us=10_000, cycles=3_000)


def test_a_response_subscription_narrowed_by_rsp_setup_can_be_closed_and_another_connected(world: World) -> None:
    a, b = world.host("a"), world.host("b")
    request_sub = world.add(b, "subscription", REQUEST_CHANNEL, REQUEST_STREAM)
    sub_b = world.add(a, "subscription", RESPONSE_SUB_CHANNEL, RESPONSE_STREAM + 1)
    sub_a, pub_a, image = _request(world, a, request_sub)
    rsp_a = world.add(b, "publication", _response_pub_channel(image.correlation_id), RESPONSE_STREAM)
    world.run(lambda: rsp_a.is_connected and sub_a.image_count == 1, "first response")
    _close(world, rsp_a, pub_a, sub_a)
    world.run(lambda: request_sub.image_count == 0, "request image gone", step_us=10_000, cycles=3_000)
    pub_b = world.add(a, "publication", f"{REQUEST_CHANNEL}|response-correlation-id={sub_b.registration_id}", REQUEST_STREAM)
    world.run(lambda: request_sub.image_count == 1, "second request")
    rsp_b = world.add(b, "publication", _response_pub_channel(request_sub.images[0].correlation_id), RESPONSE_STREAM + 1)
    world.run(lambda: rsp_b.is_connected and sub_b.image_count == 1, "second response")
    assert pub_b.is_connected


def _refused(world: World, host: Host, kind: str, channel: str, stream_id: int) -> RegistrationError:
    registration = getattr(host.aeron, f"async_add_{kind}")(channel, stream_id)
    caught: list[RegistrationError] = []

    def done() -> bool:
        try:
            getattr(host.aeron, f"get_{kind}")(registration)
        except RegistrationError as ex:
            caught.append(ex)
        return bool(caught)

    world.run(done, f"{kind} refused")
    return caught[0]


def test_response_channels_are_refused_as_aeron_refuses_them(world: World) -> None:
    a, b = world.host("a"), world.host("b")
    request_sub = world.add(b, "subscription", REQUEST_CHANNEL, REQUEST_STREAM)
    plain_pub = world.add(a, "publication", REQUEST_CHANNEL, REQUEST_STREAM)  # asks for no response channel
    world.run(lambda: request_sub.image_count == 1, "plain image")
    plain_image = request_sub.images[0]

    ex = _refused(world, b, "publication", _response_pub_channel(987654321), RESPONSE_STREAM)
    assert ex.error_code == cp.ErrorCode.GENERIC_ERROR and "image.correlationId=987654321 not found" in ex.error_message
    ex = _refused(world, b, "publication", _response_pub_channel(plain_image.correlation_id), RESPONSE_STREAM)
    assert f"image.correlationId={plain_image.correlation_id} did not request a response channel" in ex.error_message
    ex = _refused(world, a, "publication", f"{REQUEST_CHANNEL}|response-correlation-id=123456789", REQUEST_STREAM)
    assert "unable to find response subscription for response-correlation-id=123456789" in ex.error_message
    ex = _refused(world, b, "publication", f"aeron:udp?control-mode=response|control={CONTROL}", RESPONSE_STREAM)
    assert ex.error_code == cp.ErrorCode.INVALID_CHANNEL and "no response-correlation-id" in ex.error_message
    ex = _refused(world, a, "publication", f"{REQUEST_CHANNEL}|response-correlation-id=-3", REQUEST_STREAM)
    assert ex.error_code == cp.ErrorCode.INVALID_CHANNEL

    # subscriptions on one endpoint and stream agree on the response mode
    world.add(a, "subscription", f"aeron:udp?control={CONTROL}|endpoint=127.0.0.1:40999", RESPONSE_STREAM)
    ex = _refused(world, a, "subscription", f"aeron:udp?control-mode=response|control={CONTROL}|endpoint=127.0.0.1:40999", RESPONSE_STREAM)
    assert "option conflicts with existing subscription: isResponse=true" in ex.error_message

    # destinations never carry response settings
    manual = world.add(a, "publication", "aeron:udp?control-mode=manual", 7)
    for destination in ("aeron:udp?endpoint=10.0.0.2:40600|control-mode=response",
                        "aeron:udp?endpoint=10.0.0.2:40600|response-correlation-id=5"):
        correlation = manual.async_add_destination(destination)
        caught: list[RegistrationError] = []

        def refused(correlation: int = correlation) -> bool:
            try:
                a.aeron.is_command_active(correlation)
            except RegistrationError as e:
                caught.append(e)
            return bool(caught)

        world.run(refused, f"destination {destination} refused")
        assert caught[0].error_code == cp.ErrorCode.INVALID_CHANNEL
    assert plain_pub.is_connected  # nothing of this disturbed the driver


def test_response_publications_are_shared_only_with_the_same_response_correlation_id(world: World) -> None:
    a, b, c = world.host("a"), world.host("b"), world.host("c")
    request_sub = world.add(b, "subscription", REQUEST_CHANNEL, REQUEST_STREAM)
    _, _, image_a = _request(world, a, request_sub)
    _, _, image_c = _request(world, c, request_sub, images_before=1)
    first = world.add(b, "publication", _response_pub_channel(image_a.correlation_id), RESPONSE_STREAM)
    world.run(lambda: first.is_connected, "first response connected")
    for _ in range(20):  # the driver has handled the connection
        for h in world.hosts:
            h.pump()
        world.clock.advance_ms(20)
    again = world.add(b, "publication", _response_pub_channel(image_a.correlation_id), RESPONSE_STREAM)
    other = world.add(b, "publication", _response_pub_channel(image_c.correlation_id), RESPONSE_STREAM)
    assert first.session_id == again.session_id and first.original_registration_id == again.original_registration_id
    assert other.session_id != first.session_id
    world.run(lambda: other.is_connected, "other response connected")
    # joining a connected response publication announces nothing more
    announced = len(_rsp_setups(world))
    for _ in range(50):
        for h in world.hosts:
            h.pump()
        world.clock.advance_ms(20)
    assert len(_rsp_setups(world)) == announced


# ---------------------------------------------------------------------------- IPC
@pytest.mark.parametrize("kind", ["publication", "exclusive_publication"])
def test_ipc_response_channels_answer_each_requester_alone(world: World, kind: str) -> None:
    b = world.host("b")
    request_sub = world.add(b, "subscription", "aeron:ipc", REQUEST_STREAM)
    rsp_subs = [world.add(b, "subscription", f"aeron:ipc?control-mode=response|alias=client{i}", RESPONSE_STREAM) for i in (1, 2)]
    request_pubs = [
        world.add(b, kind, f"aeron:ipc?response-correlation-id={s.registration_id}", REQUEST_STREAM) for s in rsp_subs
    ]
    world.run(lambda: request_sub.image_count == 2 and all(p.is_connected for p in request_pubs), "requests")
    assert all(s.image_count == 0 for s in rsp_subs)  # waiting: they match no publication yet
    by_session = {i.session_id: i for i in request_sub.images}
    response_pubs = [
        world.add(b, kind, f"aeron:ipc?control-mode=response|response-correlation-id={by_session[p.session_id].correlation_id}", RESPONSE_STREAM)
        for p in request_pubs
    ]
    world.run(lambda: all(s.image_count == 1 for s in rsp_subs) and all(p.is_connected for p in response_pubs), "responses")
    for i, s in enumerate(rsp_subs):
        assert s.images[0].session_id == response_pubs[i].session_id
    _offer(world, response_pubs[0], b"msg1")
    _offer(world, response_pubs[1], b"msg2")
    assert _take(world, rsp_subs[0]) == [b"msg1"]
    assert _take(world, rsp_subs[1]) == [b"msg2"]
    assert rsp_subs[0].poll(lambda *args: None, 10) == 0 and rsp_subs[1].poll(lambda *args: None, 10) == 0


def test_lost_response_data_is_retransmitted_across_many_terms(world: World) -> None:
    a, b = world.host("a"), world.host("b")
    request_sub = world.add(b, "subscription", REQUEST_CHANNEL, REQUEST_STREAM)
    response_sub, _, image = _request(world, a, request_sub)
    response_pub = world.add(b, "publication", _response_pub_channel(image.correlation_id) + "|term-length=64k", RESPONSE_STREAM)
    world.run(lambda: response_pub.is_connected and response_sub.image_count == 1, "response connected")
    response_session = response_pub.session_id
    seen = {"data": 0, "dropped": 0}

    def drop_some_response_data(d: Datagram) -> bool:
        if _type(d) == dh.HDR_TYPE_DATA and len(d.data) > 32 and struct.unpack_from("<i", d.data, 12)[0] == response_session:
            seen["data"] += 1
            if seen["data"] % 11 == 5:
                seen["dropped"] += 1
                return True
        return False

    world.network.drop = drop_some_response_data
    count, body = 1500, bytes(1000)  # ~1.5 MB through 64 KiB terms
    got: list[int] = []
    sent = 0

    def step() -> bool:
        nonlocal sent
        while sent < count and response_pub.offer(struct.pack("<q", sent) + body) > 0:
            sent += 1
        response_sub.poll(lambda buf, o, n, h: got.append(buf.get_int64(o)), 100)
        return len(got) >= count

    world.run(step, f"{count} responses")
    assert got == list(range(count))
    assert seen["dropped"] > 0
    assert b.counter(SystemCounterId.RETRANSMITS_SENT) > 0
    # every retransmission went to the requester's response socket, never elsewhere
    response_destinations = {
        d.destination for d in world.network.sent
        if _type(d) == dh.HDR_TYPE_DATA and struct.unpack_from("<i", d.data, 12)[0] == response_session
    }
    assert len(response_destinations) == 1
