"""REJECT_IMAGE: a subscriber rejects an image; the publisher's client hears of it (ON_PUBLICATION_ERROR)."""

from __future__ import annotations

import socket
import struct
from typing import Any, Callable

import pytest

from aeronpy.errors import RegistrationError
from aeronpy.driver.system_counters import SystemCounterId
from aeronpy.protocol.control import ErrorCode, PublicationErrorFrame
from tests.conftest import wait_for
from tests.e2e.test_udp import free_port, system_counter

MSG = struct.Struct("<q")


def _drain(sub: Any, got: list[int]) -> None:
    sub.poll(lambda buffer, offset, length, header: got.append(buffer.get_int64(offset)), 64)


def test_reject_udp_image_sends_err_frames_to_publisher(driver: Any, client_factory: Callable[..., Any]) -> None:
    errors: list[PublicationErrorFrame] = []
    publisher_client = client_factory(publication_error_frame_handler=errors.append)
    other_errors: list[PublicationErrorFrame] = []
    subscriber_client = client_factory(publication_error_frame_handler=other_errors.append)
    channel = f"aeron:udp?endpoint=127.0.0.1:{free_port()}"
    sub = subscriber_client.add_subscription(channel, 7)
    pub = publisher_client.add_publication(channel, 7)
    wait_for(lambda: pub.is_connected and sub.image_count == 1, message="connection")
    got: list[int] = []
    sent = 0
    while len(got) < 10:
        if sent < 10 and pub.offer(MSG.pack(sent)) > 0:
            sent += 1
        _drain(sub, got)
    assert got == list(range(10))

    before = {i: system_counter(subscriber_client, i) for i in (38, 39, 42)}
    image = sub.images[0]
    image.reject("not wanted here")
    assert system_counter(subscriber_client, SystemCounterId.IMAGES_REJECTED) == before[42] + 1

    frame = wait_for(lambda: errors[0] if errors else None, message="publication error frame")
    assert isinstance(frame, PublicationErrorFrame)
    assert frame.error_code == ErrorCode.IMAGE_REJECTED == 13
    assert frame.error_message == "not wanted here"
    assert frame.registration_id == pub.original_registration_id
    assert frame.destination_registration_id == -1
    assert frame.session_id == pub.session_id and frame.stream_id == 7
    assert frame.address_type == 1 and frame.source_address[:4] == socket.inet_aton("127.0.0.1")
    assert frame.source_port > 0
    assert other_errors == []  # only the client owning the publication is told
    assert system_counter(subscriber_client, SystemCounterId.ERROR_FRAMES_SENT) > before[39]
    assert system_counter(subscriber_client, SystemCounterId.ERROR_FRAMES_RECEIVED) > before[38]

    # The receiver was live, so it is dropped: the publication is no longer connected.
    wait_for(lambda: not pub.is_connected, message="publication disconnected")
    # ERR frames keep coming at the SM cadence (instead of SMs).
    errors_sent = system_counter(subscriber_client, SystemCounterId.ERROR_FRAMES_SENT)
    wait_for(lambda: system_counter(subscriber_client, SystemCounterId.ERROR_FRAMES_SENT) > errors_sent, message="repeated ERR")

    # The image takes nothing more.
    position = image.position
    received: list[int] = []
    for i in range(2000):
        pub.offer(MSG.pack(1000 + i))
        _drain(sub, received)
    assert received == []
    assert image.position == position


def test_reject_unknown_image_is_an_error(driver: Any, client_factory: Callable[..., Any]) -> None:
    aeron = client_factory()
    with pytest.raises(RegistrationError) as info:
        aeron.conductor.reject_image(123456789, 0, "who?")
    assert info.value.error_code == ErrorCode.GENERIC_ERROR


def test_reject_ipc_image(driver: Any, client_factory: Callable[..., Any]) -> None:
    errors: list[PublicationErrorFrame] = []
    aeron = client_factory(publication_error_frame_handler=errors.append)
    unavailable: list[Any] = []
    sub = aeron.add_subscription("aeron:ipc", 9, unavailable_image_handler=unavailable.append)
    pub = aeron.add_publication("aeron:ipc", 9)
    wait_for(lambda: pub.is_connected and sub.image_count == 1, message="ipc connection")
    rejected_before = system_counter(aeron, SystemCounterId.IMAGES_REJECTED)
    sub.images[0].reject("ipc rejected")
    frame = wait_for(lambda: errors[0] if errors else None, message="publication error frame")
    assert isinstance(frame, PublicationErrorFrame)
    assert frame.error_code == 13 and frame.error_message == "ipc rejected"
    assert frame.registration_id == pub.original_registration_id
    assert frame.receiver_id == -1 and frame.group_tag == -1 and frame.destination_registration_id == -1
    assert frame.address_type == 1 and frame.source_port == 0
    assert frame.source_address[:4] == socket.inet_aton("127.0.0.1")
    wait_for(lambda: sub.image_count == 0 and unavailable, message="ipc image unlinked")
    assert system_counter(aeron, SystemCounterId.IMAGES_REJECTED) == rejected_before + 1
