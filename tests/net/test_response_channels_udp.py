"""Response channels over real UDP sockets between two aeronpy drivers, directly on loopback
and with the requester behind NAT-like proxies (the responder only ever sees the proxies'
addresses: it answers RSP_SETUP to the request's source and data to the SEND_SETUP's source)."""

from __future__ import annotations

import os
import shutil
import time
import uuid
from typing import Any, Iterator

import pytest

from aeronpy.client.aeron import Aeron
from aeronpy.client.context import Context
from aeronpy.driver.context import DriverContext
from aeronpy.driver.media_driver import MediaDriver
from tests.conftest import SHM, wait_for
from tests.fakes import free_udp_port

from .udp_proxy import LossyUdpProxy

LO = "127.0.0.1"
REQUEST_STREAM, RESPONSE_STREAM = 3001, 3002


@pytest.fixture
def two_drivers() -> Iterator[tuple[Aeron, Aeron]]:
    """(requester client, responder client), each on its own aeronpy driver."""
    dirs = [os.path.join(SHM, f"aeronpy-rsp-{uuid.uuid4().hex[:10]}") for _ in range(2)]
    drivers: list[MediaDriver] = []
    clients: list[Aeron] = []
    try:
        for d in dirs:
            drivers.append(MediaDriver.launch(DriverContext.from_properties(
                env={}, aeron_dir=d, threading_mode="SHARED", term_buffer_sparse_file=True,
                term_buffer_length=64 * 1024,
            )))
            clients.append(Aeron.connect(Context.from_properties(env={}, aeron_dir=d)))
        yield clients[0], clients[1]
    finally:
        for c in clients:
            c.close()
        for drv in drivers:
            drv.close()
        for d in dirs:
            shutil.rmtree(d, ignore_errors=True)


def _round_trip(
    requester: Aeron, responder: Aeron, request_endpoint: str, control_for_requester: str,
    control_for_responder: str,
) -> tuple[list[bytes], Any]:
    request_sub = responder.add_subscription(f"aeron:udp?endpoint={request_endpoint}", REQUEST_STREAM)
    response_sub = requester.add_subscription(
        f"aeron:udp?control-mode=response|control={control_for_requester}", RESPONSE_STREAM
    )
    request_pub = requester.add_publication(
        f"aeron:udp?endpoint={request_endpoint}|response-correlation-id={response_sub.registration_id}",
        REQUEST_STREAM,
    )
    wait_for(lambda: request_pub.is_connected and request_sub.image_count == 1, 20, "request connected")
    image = request_sub.images[0]
    response_pub = responder.add_publication(
        f"aeron:udp?control-mode=response|control={control_for_responder}|response-correlation-id={image.correlation_id}",
        RESPONSE_STREAM,
    )
    wait_for(lambda: response_pub.is_connected and response_sub.image_count == 1, 20, "response connected")

    echoed: list[bytes] = []

    def serve(buffer: Any, offset: int, length: int, header: Any) -> None:
        payload = buffer.get_bytes(offset, length)
        deadline = time.monotonic() + 10
        while response_pub.offer(b"echo:" + payload) < 0:
            assert time.monotonic() < deadline, "response back-pressured for 10 s"
            time.sleep(0.0005)

    def collect(buffer: Any, offset: int, length: int, header: Any) -> None:
        echoed.append(buffer.get_bytes(offset, length))

    sent = 0
    deadline = time.monotonic() + 30
    while len(echoed) < 200 and time.monotonic() < deadline:
        if sent < 200 and request_pub.offer(b"req-%d" % sent) > 0:
            sent += 1
        request_sub.poll(serve, 10)
        if not response_sub.poll(collect, 10):
            time.sleep(0.0002)
    return echoed, response_sub.images[0]


def _expected() -> list[bytes]:
    return [b"echo:req-%d" % i for i in range(200)]


def test_request_and_response_over_loopback(two_drivers: tuple[Aeron, Aeron]) -> None:
    requester, responder = two_drivers
    request_endpoint, control = f"{LO}:{free_udp_port()}", f"{LO}:{free_udp_port()}"
    echoed, response_image = _round_trip(requester, responder, request_endpoint, control, control)
    assert echoed == _expected()
    assert response_image.source_identity == control


def test_request_and_response_through_nat(two_drivers: tuple[Aeron, Aeron]) -> None:
    """The requester reaches the responder's request and control ports only through proxies
    that rewrite its source address, as a NAT does; the responder still finds its way back."""
    requester, responder = two_drivers
    request_endpoint, control = f"{LO}:{free_udp_port()}", f"{LO}:{free_udp_port()}"
    with LossyUdpProxy((LO, 0), (LO, int(request_endpoint.split(":")[1]))) as request_nat, \
            LossyUdpProxy((LO, 0), (LO, int(control.split(":")[1]))) as control_nat:
        nat_request = f"{LO}:{request_nat.listen_address[1]}"
        nat_control = f"{LO}:{control_nat.listen_address[1]}"
        # the requester uses the NAT's public addresses; the responder binds its own
        request_sub = responder.add_subscription(f"aeron:udp?endpoint={request_endpoint}", REQUEST_STREAM)
        response_sub = requester.add_subscription(f"aeron:udp?control-mode=response|control={nat_control}", RESPONSE_STREAM)
        request_pub = requester.add_publication(
            f"aeron:udp?endpoint={nat_request}|response-correlation-id={response_sub.registration_id}", REQUEST_STREAM
        )
        wait_for(lambda: request_pub.is_connected and request_sub.image_count == 1, 20, "request connected")
        image = request_sub.images[0]
        assert image.source_identity == f"{LO}:{request_nat.egress_address[1]}"  # the NAT, not the requester
        response_pub = responder.add_publication(
            f"aeron:udp?control-mode=response|control={control}|response-correlation-id={image.correlation_id}",
            RESPONSE_STREAM,
        )
        wait_for(lambda: response_pub.is_connected and response_sub.image_count == 1, 20, "response connected")
        got: list[bytes] = []
        sent = 0
        deadline = time.monotonic() + 20
        while len(got) < 50 and time.monotonic() < deadline:
            if sent < 50 and response_pub.offer(b"r%d" % sent) > 0:
                sent += 1
            if not response_sub.poll(lambda b, o, n, h: got.append(b.get_bytes(o, n)), 10):
                time.sleep(0.0002)
        assert got == [b"r%d" % i for i in range(50)]
        assert control_nat.counters("reverse").forwarded > 0  # data came back through the NAT
        assert request_nat.counters("reverse").forwarded > 0  # SMs and RSP_SETUPs too


def test_requests_without_response_correlation_still_work_next_to_response_channels(
    two_drivers: tuple[Aeron, Aeron],
) -> None:
    requester, responder = two_drivers
    endpoint = f"{LO}:{free_udp_port()}"
    sub = responder.add_subscription(f"aeron:udp?endpoint={endpoint}", REQUEST_STREAM)
    pub = requester.add_publication(f"aeron:udp?endpoint={endpoint}", REQUEST_STREAM)
    wait_for(lambda: pub.is_connected and sub.image_count == 1, 20, "plain connection")
    with pytest.raises(Exception, match="did not request a response channel"):
        responder.add_publication(
            f"aeron:udp?control-mode=response|control={LO}:{free_udp_port()}|response-correlation-id={sub.images[0].correlation_id}",
            RESPONSE_STREAM,
        )

