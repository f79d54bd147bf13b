"""End to end over IPC: an embedded aeronpy driver and clients in this process."""

from __future__ import annotations

import os
import struct
from typing import Any, Callable

import pytest

from aeronpy.client import results
from aeronpy.client.buffer_claim import BufferClaim
from aeronpy.concurrent import counters as ctr
from aeronpy.errors import ActiveDriverError, AeronError, ConfigurationError, DriverTimeoutError, RegistrationError
from aeronpy.logbuffer.fragment_assembler import FragmentAssembler
from aeronpy.protocol.control import ErrorCode
from tests.conftest import wait_for


def collect() -> tuple[list[bytes], Callable[..., None]]:
    got: list[bytes] = []

    def handler(buffer: Any, offset: int, length: int, header: Any) -> None:
        got.append(bytes(memoryview(buffer)[offset : offset + length]))

    return got, handler


def offer_all(publication: Any, messages: list[bytes], timeout: float = 10.0, pump: Callable[[], Any] | None = None) -> None:
    for msg in messages:
        def sent() -> bool:
            if pump is not None:
                pump()
            return bool(publication.offer(msg) > 0)
        wait_for(sent, timeout, "offer to succeed")


def test_pub_sub_round_trip(driver: Any, client_factory: Callable[..., Any]) -> None:
    aeron = client_factory()
    sub = aeron.add_subscription("aeron:ipc", 10)
    pub = aeron.add_publication("aeron:ipc", 10)
    wait_for(lambda: pub.is_connected and sub.image_count == 1, message="connection")
    messages = [struct.pack("<q", i) + bytes([i & 0xFF]) * (i % 300) for i in range(2000)]
    got, handler = collect()
    assembler = FragmentAssembler(handler)
    for msg in messages:
        wait_for(lambda: pub.offer(msg) > 0 or sub.poll(assembler.on_fragment, 100) < 0, message="offer")
    wait_for(lambda: sub.poll(assembler.on_fragment, 100) >= 0 and len(got) == len(messages), message="all messages")
    assert got == messages
    image = sub.images[0]
    assert image.session_id == pub.session_id
    assert image.source_identity == "aeron:ipc"
    assert image.position == pub.position


def test_fragmented_messages_reassembled(driver: Any, client_factory: Callable[..., Any]) -> None:
    aeron = client_factory()
    sub = aeron.add_subscription("aeron:ipc?term-length=64k", 11)
    pub = aeron.add_exclusive_publication("aeron:ipc?term-length=64k|mtu=1408", 11)
    wait_for(lambda: pub.is_connected, message="connection")
    assert pub.max_message_length == 8192
    messages = [os.urandom(n) for n in (1376, 1377, 5000, 8192, 0, 1)]
    got, handler = collect()
    assembler = FragmentAssembler(handler)
    for msg in messages:
        wait_for(lambda: pub.offer(msg) > 0 or sub.poll(assembler.on_fragment, 10) < 0, message="offer")
    wait_for(lambda: sub.poll(assembler.on_fragment, 10) >= 0 and len(got) == len(messages), message="messages")
    assert got == messages
    with pytest.raises(ValueError):
        pub.offer(bytes(8193))


def test_not_connected_then_back_pressured(driver: Any, client_factory: Callable[..., Any]) -> None:
    aeron = client_factory()
    pub = aeron.add_publication("aeron:ipc?term-length=64k", 12)
    assert pub.offer(b"x" * 100) == results.NOT_CONNECTED
    sub = aeron.add_subscription("aeron:ipc", 12)
    wait_for(lambda: pub.is_connected and sub.image_count == 1, message="connection")
    statuses = set()
    for _ in range(5000):
        r = pub.offer(b"y" * 1000)
        if r < 0:
            statuses.add(r)
            if r == results.BACK_PRESSURED:
                break
    assert results.BACK_PRESSURED in statuses
    got, handler = collect()
    assert sub.poll(handler, 1000) > 0


def test_try_claim_commit_and_abort(driver: Any, client_factory: Callable[..., Any]) -> None:
    aeron = client_factory()
    sub = aeron.add_subscription("aeron:ipc", 13)
    pub = aeron.add_publication("aeron:ipc", 13)
    wait_for(lambda: pub.is_connected, message="connection")
    claim = BufferClaim()
    assert pub.try_claim(5, claim) > 0
    claim.put_bytes(b"hello")
    claim.commit()
    assert pub.try_claim(3, claim) > 0
    claim.abort()
    assert pub.offerv([b"ab", b"cd"]) > 0
    got, handler = collect()
    wait_for(lambda: sub.poll(handler, 10) >= 0 and len(got) == 2, message="claimed messages")
    assert got == [b"hello", b"abcd"]


def test_concurrent_publications_share_a_log(driver: Any, client_factory: Callable[..., Any]) -> None:
    a, b = client_factory(), client_factory()
    pub_a = a.add_publication("aeron:ipc", 14)
    pub_b = b.add_publication("aeron:ipc", 14)
    assert pub_a.session_id == pub_b.session_id
    assert pub_a.original_registration_id == pub_b.original_registration_id
    assert pub_a.registration_id != pub_b.registration_id
    ex_a = a.add_exclusive_publication("aeron:ipc", 14)
    assert ex_a.session_id != pub_a.session_id


def test_session_id_param_and_clash(driver: Any, client_factory: Callable[..., Any]) -> None:
    aeron = client_factory()
    pub = aeron.add_exclusive_publication("aeron:ipc?session-id=4242", 15)
    assert pub.session_id == 4242
    with pytest.raises(RegistrationError) as info:
        aeron.add_exclusive_publication("aeron:ipc?session-id=4242", 15)
    assert info.value.error_code == ErrorCode.INVALID_CHANNEL
    assert "clashing" in str(info.value)
    sub = aeron.add_subscription("aeron:ipc?session-id=4243", 15)
    wait_for(lambda: pub.is_connected is False, message="not connected to other session")
    assert sub.image_count == 0


def test_invalid_and_unsupported_channels(driver: Any, client_factory: Callable[..., Any]) -> None:
    aeron = client_factory()
    with pytest.raises(RegistrationError) as info:
        aeron.add_publication("aeron:ipc?term-length=1000", 16)
    assert info.value.error_code == ErrorCode.INVALID_CHANNEL
    with pytest.raises(RegistrationError) as info:
        aeron.add_publication("aeron:udp?control=localhost:40124|control-mode=response|response-correlation-id=7", 16)
    assert info.value.error_code == ErrorCode.GENERIC_ERROR  # a response channel naming no image
    assert "image.correlationId=7 not found" in str(info.value)
    with pytest.raises(RegistrationError) as info:
        aeron.add_subscription("aeron:udp?endpoint=localhost:notaport", 16)
    assert info.value.error_code == ErrorCode.INVALID_CHANNEL


def test_image_handlers_and_drain_on_close(driver: Any, client_factory: Callable[..., Any]) -> None:
    aeron = client_factory()
    available: list[Any] = []
    unavailable: list[Any] = []
    sub = aeron.add_subscription("aeron:ipc", 17, available.append, unavailable.append)
    pub = aeron.add_publication("aeron:ipc", 17)
    wait_for(lambda: len(available) == 1, message="available image handler")
    assert available[0].session_id == pub.session_id
    assert pub.offer(b"last words") > 0
    pub.close()
    assert pub.offer(b"more") == results.CLOSED
    got, handler = collect()
    wait_for(lambda: sub.poll(handler, 10) >= 0 and got == [b"last words"], message="drain")
    wait_for(lambda: len(unavailable) == 1, message="unavailable image handler")
    assert sub.image_count == 0


def test_counters_add_and_remove(driver: Any, client_factory: Callable[..., Any]) -> None:
    aeron = client_factory()
    counter = aeron.add_counter(1001, "my counter", b"k")
    counter.set(42)
    reader = aeron.counters_reader
    assert reader.get_counter_value(counter.id) == 42
    assert reader.get_counter_label(counter.id) == "my counter"
    assert reader.get_counter_type_id(counter.id) == 1001
    counter.close()
    wait_for(lambda: reader.get_counter_state(counter.id) != ctr.RECORD_ALLOCATED, message="counter freed")


def test_client_heartbeat_counter_is_kept_alive(driver: Any, client_factory: Callable[..., Any]) -> None:
    aeron = client_factory(client_name="tester")
    aeron.add_subscription("aeron:ipc", 18)
    reader = aeron.counters_reader
    counter_id = wait_for(
        lambda: reader.find_by_type_id_and_registration_id(ctr.CLIENT_HEARTBEAT_TYPE_ID, aeron.client_id) + 1,
        message="heartbeat counter",
    )
    counter_id = int(counter_id) - 1  # type: ignore[arg-type]
    wait_for(lambda: "name=tester" in reader.get_counter_label(counter_id), message="label appended")
    first = reader.get_counter_value(counter_id)
    wait_for(lambda: reader.get_counter_value(counter_id) > first, message="keepalive")


def test_driver_refuses_to_start_over_live_driver(driver: Any, driver_factory: Callable[..., Any]) -> None:
    with pytest.raises(ActiveDriverError, match="active media driver"):
        driver_factory()


def test_invalid_driver_config_names_property(aeron_dir: str) -> None:
    from aeronpy.driver.context import DriverContext
    from aeronpy.driver.media_driver import MediaDriver

    with pytest.raises(ConfigurationError, match="aeron.mtu.length"):
        MediaDriver.launch(DriverContext.from_properties(env={}, properties={"aeron.mtu.length": "1000"}, aeron_dir=aeron_dir))
    assert not os.path.exists(os.path.join(aeron_dir, "cnc.dat"))


def test_client_detects_driver_shutdown(driver: Any, client_factory: Callable[..., Any]) -> None:
    errors: list[BaseException] = []
    aeron = client_factory(error_handler=errors.append)
    pub = aeron.add_publication("aeron:ipc", 19)
    driver.close()
    wait_for(lambda: aeron.is_closed, message="client to notice the driver shut down")
    assert any(isinstance(e, DriverTimeoutError) for e in errors)
    assert "shutdown" in str(errors[0]) or "shut down" in str(errors[0])
    assert pub.offer(b"x") == results.CLOSED


def test_connect_without_driver_times_out_clearly(aeron_dir: str, client_factory: Callable[..., Any]) -> None:
    with pytest.raises(DriverTimeoutError, match="could not connect"):
        client_factory(driver_timeout_ms=300)


def test_foreign_cnc_file_is_not_mistaken_for_a_driver(aeron_dir: str, client_factory: Callable[..., Any], driver_factory: Callable[..., Any]) -> None:
    os.makedirs(aeron_dir)
    with open(os.path.join(aeron_dir, "cnc.dat"), "wb") as f:
        f.write(os.urandom(4096))
    with pytest.raises(AeronError, match="not compatible|stale or foreign|not initialised"):
        client_factory(driver_timeout_ms=300)
    driver_factory()  # a foreign/stale cnc.dat does not block a new driver
    aeron = client_factory()
    assert aeron.client_id > 0


@pytest.mark.parametrize("mode", ["DEDICATED", "SHARED_NETWORK", "SHARED"])
def test_threading_modes(mode: str, driver_factory: Callable[..., Any], client_factory: Callable[..., Any]) -> None:
    driver_factory(threading_mode=mode)
    aeron = client_factory()
    sub = aeron.add_subscription("aeron:ipc", 20)
    pub = aeron.add_publication("aeron:ipc", 20)
    wait_for(lambda: pub.is_connected, message="connection")
    got, handler = collect()
    offer_all(pub, [b"a", b"b", b"c"])
    wait_for(lambda: sub.poll(handler, 10) >= 0 and len(got) == 3, message="messages")


def test_invoker_mode_driver_and_client(driver_factory: Callable[..., Any], client_factory: Callable[..., Any]) -> None:
    import threading

    driver = driver_factory(threading_mode="INVOKER")
    stop = threading.Event()

    def run_driver() -> None:
        while not stop.is_set():
            if driver.do_work() == 0:
                stop.wait(0.0005)

    t = threading.Thread(target=run_driver)
    t.start()
    try:
        aeron = client_factory(use_conductor_agent_invoker=True)
        sub = aeron.add_subscription("aeron:ipc", 21)
        pub = aeron.add_publication("aeron:ipc", 21)
        invoker = aeron.conductor_agent_invoker
        wait_for(lambda: invoker.invoke() >= 0 and pub.is_connected and sub.image_count == 1, message="connection")
        got, handler = collect()
        offer_all(pub, [b"x", b"y"], pump=invoker.invoke)
        wait_for(lambda: sub.poll(handler, 10) >= 0 and len(got) == 2, message="messages")
    finally:
        stop.set()
        t.join()


def test_async_add_publication_and_subscription(driver: Any, client_factory: Callable[..., Any]) -> None:
    aeron = client_factory()
    sub_id = aeron.async_add_subscription("aeron:ipc", 22)
    pub_id = aeron.async_add_publication("aeron:ipc", 22)
    sub = wait_for(lambda: aeron.get_subscription(sub_id), message="async subscription")
    pub = wait_for(lambda: aeron.get_publication(pub_id), message="async publication")
    assert sub.registration_id == sub_id and pub.registration_id == pub_id
    bad_id = aeron.async_add_publication("aeron:ipc?mtu=7", 22)
    with pytest.raises(RegistrationError) as info:
        wait_for(lambda: aeron.get_publication(bad_id), message="async error")
    assert info.value.error_code == ErrorCode.INVALID_CHANNEL


def test_dir_delete_on_start_replaces_a_dead_drivers_dir(aeron_dir: str, driver_factory: Callable[..., Any]) -> None:
    first = driver_factory()
    marker = os.path.join(aeron_dir, "publications", "leftover.logbuffer")
    open(marker, "wb").close()
    first.close()
    driver_factory(dir_delete_on_start=True)
    assert not os.path.exists(marker)


def test_dead_drivers_errors_are_saved_before_deleting(aeron_dir: str, driver_factory: Callable[..., Any], client_factory: Callable[..., Any]) -> None:
    import glob

    first = driver_factory()
    aeron = client_factory()
    with pytest.raises(RegistrationError):
        aeron.add_publication("aeron:ipc?term-length=3", 23)
    aeron.close()
    first.close()
    driver_factory()
    saved = glob.glob(aeron_dir.rstrip("/") + "-*-error.log")
    try:
        assert len(saved) == 1
        assert "term-length" in open(saved[0]).read()
    finally:
        for path in saved:
            os.remove(path)


def test_ipc_connected_flag_follows_subscribers_at_once(driver_factory: Callable[..., Any], client_factory: Callable[..., Any]) -> None:
    """is_connected changes when a subscriber links or leaves, not at the next timer tick."""
    driver_factory(timer_interval_ns=60_000_000_000, client_liveness_timeout_ns=120_000_000_000,
                   publication_unblock_timeout_ns=180_000_000_000,
                   untethered_window_limit_timeout_ns=61_000_000_000, untethered_resting_timeout_ns=61_000_000_000)
    aeron = client_factory()
    pub = aeron.add_publication("aeron:ipc", 24)
    sub = aeron.add_subscription("aeron:ipc", 24)
    wait_for(lambda: pub.is_connected, timeout=5, message="connected without a timer tick")
    sub.close()
    wait_for(lambda: not pub.is_connected, timeout=5, message="disconnected without a timer tick")
