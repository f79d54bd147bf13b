"""The doorbell: named back-off strategies that wake each other (and on readable descriptors)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from aeronpy.concurrent import doorbell
from aeronpy.concurrent.doorbell import Doorbell, DoorbellIdleStrategy
from aeronpy.concurrent.idle_strategy import BackoffIdleStrategy, idle_strategy_from_name

LONG_PARK_NS = 20_000_000_000  # 20 s: a park that ends sooner was woken


@pytest.fixture
def installed() -> Iterator[Doorbell]:
    bell = doorbell.install()
    try:
        yield bell
    finally:
        doorbell.uninstall()


def _parking(bell: Doorbell) -> DoorbellIdleStrategy:
    """A strategy whose next idle step is a 20 s park."""
    s = DoorbellIdleStrategy(bell, 0, 0, LONG_PARK_NS, LONG_PARK_NS)
    s.idle_once()  # NOT_IDLE -> SPINNING
    s.idle_once()  # SPINNING -> YIELDING
    s.idle_once()  # YIELDING -> PARKING
    assert s.state == s.PARKING
    return s


def _park_in_thread(s: DoorbellIdleStrategy) -> tuple[threading.Thread, list[float]]:
    took: list[float] = []

    def run() -> None:
        t0 = time.monotonic()
        s.idle(0)
        took.append(time.monotonic() - t0)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    deadline = time.monotonic() + 10
    while not s.armed and time.monotonic() < deadline:
        time.sleep(0.001)
    assert s.armed, "the strategy never parked"
    return t, took


def test_install_wraps_named_backoff_only_while_installed() -> None:
    assert type(idle_strategy_from_name("backoff")) is BackoffIdleStrategy
    bell = doorbell.install()
    try:
        s = idle_strategy_from_name("backoff", "3-4-2us-2ms")
        assert isinstance(s, DoorbellIdleStrategy) and s.doorbell is bell
        assert (s.max_spins, s.max_yields, s.min_park_period_ns, s.max_park_period_ns) == (3, 4, 2000, 2_000_000)
        plain = idle_strategy_from_name("backoff")  # keeps the driver's deep park
        assert isinstance(plain, DoorbellIdleStrategy) and plain.deep_park_after == 100
        assert not isinstance(idle_strategy_from_name("sleeping"), DoorbellIdleStrategy)
        assert doorbell.install() is bell  # counted
        doorbell.uninstall()
        assert doorbell.installed() is bell
    finally:
        doorbell.uninstall()
    assert doorbell.installed() is None
    assert type(idle_strategy_from_name("backoff")) is BackoffIdleStrategy


def test_work_elsewhere_ends_a_park() -> None:
    bell = Doorbell()
    parked = _parking(bell)
    worker = DoorbellIdleStrategy(bell)
    t, took = _park_in_thread(parked)
    worker.idle(1)  # a duty cycle with work rings the doorbell
    t.join(10)
    assert took and took[0] < 10, took
    assert parked.wakeups == 1 and bell.rings == 1


def test_a_ring_before_the_park_still_ends_it() -> None:
    bell = Doorbell()
    parked = _parking(bell)
    parked.armed = True  # it parked before and is between duty cycles
    parked._ensure_fd()
    DoorbellIdleStrategy(bell).idle(1)
    t0 = time.monotonic()
    parked.idle(0)
    assert time.monotonic() - t0 < 10


def test_ring_skips_the_ringer_and_strategies_not_parking() -> None:
    bell = Doorbell()
    a = DoorbellIdleStrategy(bell)
    b = DoorbellIdleStrategy(bell)
    a.armed = True
    assert bell.ring(a) == 0  # only the source was armed
    b.armed = True
    assert bell.ring(a) == 1
    assert not b.armed  # one wake-up per park
    assert bell.ring(a) == 0
    assert bell.size == 2


def test_a_readable_watched_descriptor_ends_a_park() -> None:
    bell = Doorbell()
    parked = _parking(bell)
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        rx.bind(("127.0.0.1", 0))
        parked.watch_fd(rx.fileno())
        t, took = _park_in_thread(parked)
        tx.sendto(b"x", rx.getsockname())
        t.join(10)
        assert took and took[0] < 10, took
        parked.unwatch_fd(rx.fileno())
        assert rx.fileno() not in parked._read_fds
    finally:
        rx.close()
        tx.close()


def test_back_off_unchanged_without_rings() -> None:
    bell = Doorbell()
    parks: list[int] = []
    s = DoorbellIdleStrategy(bell, 1, 1, 1000, 4000)
    s._park = parks.append  # type: ignore[method-assign]
    for _ in range(8):
        s.idle(0)
    assert parks == [1000, 2000, 4000, 4000]
    s.idle(5)
    assert s.state == s.NOT_IDLE


def test_a_busy_streak_rings_at_most_once_per_interval() -> None:
    bell = Doorbell()
    busy = DoorbellIdleStrategy(bell, min_ring_interval_ns=LONG_PARK_NS)
    other = DoorbellIdleStrategy(bell)
    other.armed = True
    busy.idle(1)
    assert bell.rings == 1
    other.armed = True
    busy.idle(1)  # within the interval: no second wake-up
    assert bell.rings == 1 and other.armed
