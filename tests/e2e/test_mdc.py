"""Multi-destination-cast (MDC) publications and multi-destination subscriptions (MDS) on
loopback through embedded aeronpy drivers (driver-behaviour.md §10)."""

from __future__ import annotations

import os
import time
from typing import Any, Callable

import pytest

from aeronpy.concurrent import counters as ctr
from aeronpy.errors import RegistrationError
from aeronpy.protocol.control import ErrorCode
from tests.conftest import SHM, wait_for
from tests.e2e.test_udp import MSG, free_port


def pump_to_all(pub: Any, subs: list[Any], count: int, start: int = 0, timeout: float = 60.0) -> list[list[int]]:
    """Offer ``count`` numbered messages (from ``start``) while polling every subscription."""
    got: list[list[int]] = [[] for _ in subs]
    handlers = [lambda b, o, n, h, g=g: g.append(b.get_int64(o)) for g in got]
    sent = 0
    deadline = time.monotonic() + timeout
    while (sent < count or any(len(g) < count for g in got)) and time.monotonic() < deadline:
        if sent < count and pub.offer(MSG.pack(start + sent) + bytes(56)) > 0:
            sent += 1
        for sub, handler in zip(subs, handlers):
            sub.poll(handler, 256)
    return got


def mdc_num_dest(aeron: Any, publication_registration_id: int) -> int | None:
    reader = aeron.counters_reader
    found: list[int] = []

    def visit(counter_id: int, type_id: int, key: Any, label: str) -> None:
        if type_id == ctr.MDC_DESTINATIONS_TYPE_ID and reader.get_counter_registration_id(counter_id) == publication_registration_id:
            found.append(counter_id)

    reader.for_each(visit)
    return int(reader.get_counter_value(found[0])) if found else None


def mdc_labels(aeron: Any) -> list[str]:
    labels: list[str] = []
    aeron.counters_reader.for_each(
        lambda i, t, k, label: labels.append(label) if t == ctr.MDC_DESTINATIONS_TYPE_ID else None
    )
    return labels


def test_manual_mdc_two_destinations_then_remove_one(driver: Any, client_factory: Callable[..., Any]) -> None:
    aeron = client_factory()
    port_a, port_b = free_port(), free_port()
    sub_a = aeron.add_subscription(f"aeron:udp?endpoint=127.0.0.1:{port_a}", 1001)
    sub_b = aeron.add_subscription(f"aeron:udp?endpoint=127.0.0.1:{port_b}", 1001)
    pub = aeron.add_publication("aeron:udp?control-mode=manual", 1001)
    assert mdc_num_dest(aeron, pub.registration_id) == 0
    assert any(label.startswith("mdc-num-dest: aeron:udp?control-mode=manual") for label in mdc_labels(aeron))
    dest_a = pub.add_destination(f"aeron:udp?endpoint=127.0.0.1:{port_a}")
    pub.add_destination(f"aeron:udp?endpoint=127.0.0.1:{port_b}")
    assert dest_a > 0
    wait_for(lambda: mdc_num_dest(aeron, pub.registration_id) == 2, message="two destinations")
    wait_for(lambda: pub.is_connected and sub_a.image_count == 1 and sub_b.image_count == 1, message="both images")
    assert sub_a.images[0].session_id == sub_b.images[0].session_id == pub.session_id

    got_a, got_b = pump_to_all(pub, [sub_a, sub_b], 5000)
    assert got_a == list(range(5000))
    assert got_b == list(range(5000))

    pub.remove_destination(f"aeron:udp?endpoint=127.0.0.1:{port_b}")
    wait_for(lambda: mdc_num_dest(aeron, pub.registration_id) == 1, message="one destination left")
    (more_a,) = pump_to_all(pub, [sub_a], 2000, start=5000)
    assert more_a == list(range(5000, 7000))
    late_b: list[int] = []
    for _ in range(100):
        sub_b.poll(lambda b, o, n, h: late_b.append(b.get_int64(o)), 256)
    assert late_b == []

    # remove by id: the remaining destination (the registration id is the add's correlation id)
    pub.remove_destination_by_id(dest_a)
    wait_for(lambda: mdc_num_dest(aeron, pub.registration_id) == 0, message="no destinations")


def test_dynamic_mdc_two_subscribers_via_control_address(driver: Any, client_factory: Callable[..., Any]) -> None:
    aeron = client_factory()
    control = f"127.0.0.1:{free_port()}"
    pub = aeron.add_publication(f"aeron:udp?control={control}|control-mode=dynamic", 1002)
    sub_a = aeron.add_subscription(f"aeron:udp?endpoint=127.0.0.1:{free_port()}|control={control}", 1002)
    sub_b = aeron.add_subscription(f"aeron:udp?endpoint=127.0.0.1:{free_port()}|control={control}", 1002)
    wait_for(lambda: mdc_num_dest(aeron, pub.registration_id) == 2, message="two dynamic destinations")
    wait_for(lambda: pub.is_connected and sub_a.image_count == 1 and sub_b.image_count == 1, message="both images")
    got_a, got_b = pump_to_all(pub, [sub_a, sub_b], 5000)
    assert got_a == list(range(5000))
    assert got_b == list(range(5000))
    # control-mode=dynamic is not manual: ADD_DESTINATION is refused
    with pytest.raises(RegistrationError) as info:
        pub.add_destination(f"aeron:udp?endpoint=127.0.0.1:{free_port()}")
    assert info.value.error_code == ErrorCode.GENERIC_ERROR
    assert "does not allow manual control of destinations" in str(info.value)


def test_dynamic_destination_times_out_when_subscriber_goes_away(
    driver_factory: Callable[..., Any], client_factory: Callable[..., Any], monkeypatch: Any
) -> None:
    from aeronpy.driver import destination_tracker

    monkeypatch.setattr(destination_tracker, "DESTINATION_TIMEOUT_NS", 300_000_000)
    driver_factory()
    other_dir = os.path.join(SHM, f"aeronpy-test-mdc-{os.getpid()}-{time.monotonic_ns()}")
    other_driver = driver_factory(aeron_dir=other_dir)
    aeron = client_factory()
    other = client_factory(aeron_dir=other_dir)
    control = f"127.0.0.1:{free_port()}"
    pub = aeron.add_publication(f"aeron:udp?control={control}|control-mode=dynamic", 1003)
    sub_a = aeron.add_subscription(f"aeron:udp?endpoint=127.0.0.1:{free_port()}|control={control}", 1003)
    sub_b = other.add_subscription(f"aeron:udp?endpoint=127.0.0.1:{free_port()}|control={control}", 1003)
    wait_for(lambda: mdc_num_dest(aeron, pub.registration_id) == 2, message="two dynamic destinations")
    wait_for(lambda: sub_a.image_count == 1 and sub_b.image_count == 1, message="both images")
    other.close()
    other_driver.close()
    wait_for(lambda: mdc_num_dest(aeron, pub.registration_id) == 1, message="the silent destination to time out")
    (got_a,) = pump_to_all(pub, [sub_a], 1000)
    assert got_a == list(range(1000))
    import shutil

    shutil.rmtree(other_dir, ignore_errors=True)


def test_destination_errors(driver: Any, client_factory: Callable[..., Any]) -> None:
    aeron = client_factory()
    unicast = aeron.add_publication(f"aeron:udp?endpoint=127.0.0.1:{free_port()}", 1004)
    with pytest.raises(RegistrationError) as info:
        unicast.add_destination(f"aeron:udp?endpoint=127.0.0.1:{free_port()}")
    assert info.value.error_code == ErrorCode.GENERIC_ERROR
    assert "channel does not allow manual control of destinations" in str(info.value)

    pub = aeron.add_publication("aeron:udp?control-mode=manual", 1004)
    with pytest.raises(RegistrationError) as info:
        pub.add_destination("aeron:udp?endpoint=127.0.0.1:0")
    assert info.value.error_code == ErrorCode.GENERIC_ERROR  # EINVAL in the C driver
    assert "port=0" in str(info.value)
    with pytest.raises(RegistrationError) as info:
        pub.add_destination(f"aeron:udp?endpoint=127.0.0.1:{free_port()}|mtu=1408")
    assert info.value.error_code == ErrorCode.INVALID_CHANNEL
    assert "destinations must not contain the key: mtu" in str(info.value)
    with pytest.raises(RegistrationError) as info:
        pub.add_destination(f"aeron-spy:aeron:udp?endpoint=127.0.0.1:{free_port()}")
    assert info.value.error_code == ErrorCode.INVALID_CHANNEL
    with pytest.raises(RegistrationError) as info:
        pub.add_destination("aeron:ipc")
    assert "incorrect URI format for destination" in str(info.value)
    assert mdc_num_dest(aeron, pub.registration_id) == 0

    sub = aeron.add_subscription(f"aeron:udp?endpoint=127.0.0.1:{free_port()}", 1004)
    with pytest.raises(RegistrationError) as info:
        sub.add_destination(f"aeron:udp?endpoint=127.0.0.1:{free_port()}")
    assert info.value.error_code == ErrorCode.INVALID_CHANNEL
    assert "does not allow manual control" in str(info.value)

    # async form
    correlation_id = pub.async_add_destination(f"aeron:udp?endpoint=127.0.0.1:{free_port()}")
    wait_for(lambda: not aeron.is_command_active(correlation_id), message="async add destination")
    wait_for(lambda: mdc_num_dest(aeron, pub.registration_id) == 1, message="destination counted")


def test_mds_one_subscription_two_destinations_one_image(driver: Any, client_factory: Callable[..., Any]) -> None:
    aeron = client_factory()
    port_a, port_b = free_port(), free_port()
    sub = aeron.add_subscription("aeron:udp?control-mode=manual", 1005)
    sub.add_destination(f"aeron:udp?endpoint=127.0.0.1:{port_a}")
    sub.add_destination(f"aeron:udp?endpoint=127.0.0.1:{port_b}")
    pub = aeron.add_publication("aeron:udp?control-mode=manual", 1005)
    pub.add_destination(f"aeron:udp?endpoint=127.0.0.1:{port_a}")
    pub.add_destination(f"aeron:udp?endpoint=127.0.0.1:{port_b}")
    wait_for(lambda: pub.is_connected and sub.image_count == 1, message="one image")
    (got,) = pump_to_all(pub, [sub], 5000)
    assert got == list(range(5000))  # every message exactly once although it came twice
    extra: list[int] = []
    for _ in range(50):
        sub.poll(lambda b, o, n, h: extra.append(1), 256)
    assert extra == [] and sub.image_count == 1

    # losing one destination keeps the stream going through the other
    sub.remove_destination(f"aeron:udp?endpoint=127.0.0.1:{port_a}")
    (more,) = pump_to_all(pub, [sub], 1000, start=5000)
    assert more == list(range(5000, 6000))


def test_mds_two_publishers_on_two_destinations(driver: Any, client_factory: Callable[..., Any]) -> None:
    aeron = client_factory()
    port_a, port_b = free_port(), free_port()
    sub = aeron.add_subscription("aeron:udp?control-mode=manual", 1006)
    sub.add_destination(f"aeron:udp?endpoint=127.0.0.1:{port_a}")
    sub.add_destination(f"aeron:udp?endpoint=127.0.0.1:{port_b}")
    pub_a = aeron.add_publication(f"aeron:udp?endpoint=127.0.0.1:{port_a}", 1006)
    pub_b = aeron.add_publication(f"aeron:udp?endpoint=127.0.0.1:{port_b}", 1006)
    wait_for(lambda: pub_a.is_connected and pub_b.is_connected and sub.image_count == 2, message="two images")
    by_session: dict[int, list[int]] = {pub_a.session_id: [], pub_b.session_id: []}

    def on_fragment(buffer: Any, offset: int, length: int, header: Any) -> None:
        by_session[header.session_id].append(buffer.get_int64(offset))

    sent_a = sent_b = 0
    deadline = time.monotonic() + 60
    while (sent_a < 2000 or sent_b < 2000 or sum(map(len, by_session.values())) < 4000) and time.monotonic() < deadline:
        if sent_a < 2000 and pub_a.offer(MSG.pack(sent_a)) > 0:
            sent_a += 1
        if sent_b < 2000 and pub_b.offer(MSG.pack(sent_b)) > 0:
            sent_b += 1
        sub.poll(on_fragment, 256)
    assert by_session[pub_a.session_id] == list(range(2000))
    assert by_session[pub_b.session_id] == list(range(2000))
