"""The client conductor alone: a scripted driver on a real cnc.dat (ring buffer in, broadcast
out) and a manual clock — no media driver, no threads, no sleeps."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from aeronpy.client.conductor import ClientConductor
from aeronpy.client.context import Context
from aeronpy.client.publication import Publication
from aeronpy.client.subscription import Subscription
from aeronpy.cnc import CncFile
from aeronpy.concurrent import counters as ctr
from aeronpy.concurrent.broadcast import BroadcastTransmitter
from aeronpy.concurrent.counters import CountersManager
from aeronpy.concurrent.ringbuffer import ManyToOneRingBuffer
from aeronpy.driver.client_proxy import ClientProxy
from aeronpy.errors import ClientTimeoutError, DriverTimeoutError, RegistrationError
from aeronpy.protocol import control as cp
from aeronpy.testing import ManualClock
from tests.logbuffer.test_logsupport import SESSION_ID, STREAM_ID, make_log

LIVENESS_NS = 5_000_000_000
DRIVER_TIMEOUT_MS = 10_000


class ScriptedDriver:
    """Reads the client's commands and answers them by hand, as a driver would."""

    def __init__(self, tmp: Path, clock: ManualClock) -> None:
        self.tmp = tmp
        self.clock = clock
        self.cnc = CncFile.create(str(tmp / "cnc.dat"), client_liveness_timeout_ns=LIVENESS_NS)
        self.ring = ManyToOneRingBuffer(self.cnc.to_driver_buffer)
        self.proxy = ClientProxy(BroadcastTransmitter(self.cnc.to_clients_buffer))
        self.counters = CountersManager(self.cnc.counters_metadata_buffer, self.cnc.counters_values_buffer)
        self.heartbeat()
        self.cnc.signal_ready()
        self.logs: list[Any] = []

    def heartbeat(self) -> None:
        self.ring.set_consumer_heartbeat_time(self.clock.epoch_ms())

    def commands(self) -> list[tuple[int, Any]]:
        out: list[tuple[int, Any]] = []
        self.ring.read(lambda t, buf, off, n: out.append((t, cp.decode_command(t, buf, off, n))))
        return out

    def new_log(self) -> str:
        lb = make_log(self.tmp, 64 * 1024)
        self.logs.append(lb)
        return str(lb.path)

    def close(self) -> None:
        for lb in self.logs:
            lb.close()
        self.cnc.close()


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[ScriptedDriver, ClientConductor, ManualClock]]:
    clock = ManualClock()
    driver = ScriptedDriver(tmp_path, clock)
    ctx = Context(aeron_dir=str(tmp_path), driver_timeout_ms=DRIVER_TIMEOUT_MS,
                  nano_clock=clock.nano_time, epoch_clock=clock.epoch_ms)
    client_cnc = CncFile.map(str(tmp_path / "cnc.dat"))
    conductor = ClientConductor(ctx, client_cnc)
    try:
        yield driver, conductor, clock
    finally:
        if not conductor.is_closed:
            conductor.close()
        client_cnc.close()
        driver.close()


def test_add_publication_round_trip(setup: tuple[ScriptedDriver, ClientConductor, ManualClock]) -> None:
    driver, conductor, _ = setup
    correlation_id = conductor.async_add_publication("aeron:ipc", STREAM_ID)
    assert conductor.poll_registration(correlation_id) is None  # pending
    [(type_id, msg)] = driver.commands()
    assert type_id == cp.ADD_PUBLICATION and msg.channel == "aeron:ipc" and msg.stream_id == STREAM_ID
    assert msg.correlation_id == correlation_id and msg.client_id == conductor.client_id
    limit = driver.counters.allocate("pub-lmt", 1)
    driver.proxy.on_publication_ready(correlation_id, correlation_id, SESSION_ID, STREAM_ID, limit, -1,
                                      driver.new_log(), False)
    conductor.service()
    pub = conductor.poll_registration(correlation_id)
    assert isinstance(pub, Publication) and pub.session_id == SESSION_ID and not pub.is_closed
    assert pub.offer(b"hello") < 0  # pub-lmt still 0: back pressured
    driver.counters.set_counter_value(limit, 1 << 20)
    assert pub.offer(b"hello") > 0  # the log the driver named is mapped and the limit counter wired


def test_a_driver_error_fails_only_its_own_registration(setup: tuple[ScriptedDriver, ClientConductor, ManualClock]) -> None:
    driver, conductor, _ = setup
    bad = conductor.async_add_subscription("aeron:udp?endpoint=localhost:1", 7)
    good = conductor.async_add_subscription("aeron:ipc", 8)
    driver.commands()
    driver.proxy.on_error(bad, cp.ErrorCode.INVALID_CHANNEL, "no such interface")
    driver.proxy.on_subscription_ready(good, 3)
    conductor.service()
    with pytest.raises(RegistrationError, match="no such interface"):
        conductor.poll_registration(bad)
    sub = conductor.poll_registration(good)
    assert isinstance(sub, Subscription) and sub.channel_status_id == 3


def test_images_come_and_go_through_the_subscription_handlers(
    setup: tuple[ScriptedDriver, ClientConductor, ManualClock],
) -> None:
    driver, conductor, _ = setup
    seen: list[tuple[str, int]] = []
    corr = conductor.async_add_subscription(
        "aeron:ipc", STREAM_ID,
        available_image_handler=lambda image: seen.append(("available", image.session_id)),
        unavailable_image_handler=lambda image: seen.append(("unavailable", image.session_id)),
    )
    driver.commands()
    driver.proxy.on_subscription_ready(corr, 1)
    conductor.service()
    sub = conductor.poll_registration(corr)
    position = driver.counters.allocate("sub-pos", 4)
    driver.proxy.on_available_image(77, SESSION_ID, STREAM_ID, corr, position, driver.new_log(), "aeron:ipc")
    conductor.service()
    assert seen == [("available", SESSION_ID)] and sub.image_count == 1
    driver.proxy.on_unavailable_image(77, corr, STREAM_ID, "aeron:ipc")
    conductor.service()
    assert seen[-1] == ("unavailable", SESSION_ID) and sub.image_count == 0


def test_the_heartbeat_counter_is_refreshed_at_the_keepalive_interval(
    setup: tuple[ScriptedDriver, ClientConductor, ManualClock],
) -> None:
    driver, conductor, clock = setup
    counter_id = driver.counters.allocate(
        "client-heartbeat: 0", ctr.CLIENT_HEARTBEAT_TYPE_ID, ctr.heartbeat_counter_key(conductor.client_id),
        registration_id=conductor.client_id,
    )
    clock.advance_ms(conductor.keepalive_interval_ns // 1_000_000 + 1)
    driver.heartbeat()
    conductor.service()
    assert driver.counters.get_counter_value(counter_id) == clock.epoch_ms()
    assert "name=" in driver.counters.get_counter_label(counter_id)  # the label says who we are
    before = clock.epoch_ms()
    clock.advance_ms(10)  # inside the interval: no refresh
    conductor.service()
    assert driver.counters.get_counter_value(counter_id) == before


def test_a_silent_driver_times_the_client_out(setup: tuple[ScriptedDriver, ClientConductor, ManualClock]) -> None:
    driver, conductor, clock = setup
    for _ in range(DRIVER_TIMEOUT_MS // 1000 + 2):  # keep servicing (so no liveness timeout) but no heartbeat
        clock.advance_ms(1000)
        conductor.service()
    assert conductor.is_closed
    assert isinstance(conductor.termination_cause, DriverTimeoutError)
    assert "keepalive" in str(conductor.termination_cause)


def test_a_driver_that_shut_down_is_noticed(setup: tuple[ScriptedDriver, ClientConductor, ManualClock]) -> None:
    driver, conductor, clock = setup
    driver.ring.set_consumer_heartbeat_time(-1)
    clock.advance_ms(conductor.keepalive_interval_ns // 1_000_000 + 1)
    conductor.service()
    assert conductor.is_closed and "shutdown" in str(conductor.termination_cause)


def test_a_client_not_serviced_within_the_liveness_timeout_closes_itself(
    setup: tuple[ScriptedDriver, ClientConductor, ManualClock],
) -> None:
    driver, conductor, clock = setup
    clock.advance_ns(LIVENESS_NS + 1)
    driver.heartbeat()
    conductor.service()
    assert conductor.is_closed and isinstance(conductor.termination_cause, ClientTimeoutError)


def test_await_registration_times_out_on_the_injected_clock(
    setup: tuple[ScriptedDriver, ClientConductor, ManualClock],
) -> None:
    driver, conductor, clock = setup
    corr = conductor.async_add_subscription("aeron:ipc", 9)
    real_service = conductor.service

    def service_and_tick() -> int:  # every poll moves the manual clock 1 s: the wait is bounded
        clock.advance_ms(1000)
        driver.heartbeat()
        return real_service()

    conductor.service = service_and_tick  # type: ignore[method-assign]
    with pytest.raises(DriverTimeoutError, match=f"within {DRIVER_TIMEOUT_MS}ms"):
        conductor.await_registration(corr)
