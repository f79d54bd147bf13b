"""Untethered subscriptions (driver-behaviour.md §7 "Tethering") on IPC, UDP images and spies.

A slow untethered subscriber that never polls sits next to a tethered one that keeps polling:
the fast one keeps receiving beyond the window, the slow one's image goes unavailable, and
with ``rejoin=true`` becomes available again (same sub-pos counter) after resting; with
``rejoin=false`` it stays gone and its sub-pos counter is freed.
"""

from __future__ import annotations

import struct
import time
from typing import Any, Callable

import pytest

from aeronpy.concurrent import counters as ctr
from tests.conftest import wait_for
from tests.fakes import free_udp_port as free_port

MSG = struct.Struct("<q")
TERM = "term-length=64k"  # window = 32 KiB
WINDOW = 32 * 1024


def fast_driver(driver_factory: Callable[..., Any]) -> Any:
    return driver_factory(
        timer_interval_ns=10_000_000,
        untethered_window_limit_timeout_ns=100_000_000,
        untethered_resting_timeout_ns=300_000_000,
    )


class Events:
    def __init__(self) -> None:
        self.available: list[Any] = []
        self.unavailable: list[Any] = []

    def on_available(self, image: Any) -> None:
        self.available.append(image)

    def on_unavailable(self, image: Any) -> None:
        self.unavailable.append(image)


def drive(pub: Any, fast: Any, until: Callable[[], bool], timeout: float = 20.0, message: str = "condition") -> int:
    """Offer numbered messages and poll the fast subscriber until ``until()``; returns bytes read."""
    received = [0]
    body = bytes(56)
    sent = 0

    def on_fragment(buffer: Any, offset: int, length: int, header: Any) -> None:
        received[0] += length + 32

    deadline = time.monotonic() + timeout
    while not until():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        for _ in range(16):
            if pub.offer(MSG.pack(sent) + body) > 0:
                sent += 1
        fast.poll(on_fragment, 256)
    return received[0]


def allocated(aeron: Any, counter_id: int) -> bool:
    return bool(aeron.counters_reader.get_counter_state(counter_id) == ctr.RECORD_ALLOCATED)


def run_scenario(aeron: Any, pub: Any, fast: Any, slow: Any, events: Events, rejoin: bool) -> None:
    wait_for(lambda: pub.is_connected and fast.image_count == 1 and slow.image_count == 1, message="images")
    assert len(events.available) == 1
    first = events.available[0]
    counter_id = first.subscriber_position_id
    start = first.join_position
    # the fast tethered subscriber gets well beyond the slow one's window ...
    drive(pub, fast, lambda: len(events.unavailable) >= 1, message="the slow untethered image to go unavailable")
    assert slow.image_count == 0
    assert events.unavailable[0].correlation_id == first.correlation_id
    drive(pub, fast, lambda: fast.images[0].position > start + 4 * WINDOW, message="the fast subscriber to keep going")
    if rejoin:
        # ... and after resting the slow one is back, with the same sub-pos counter
        drive(pub, fast, lambda: len(events.available) >= 2, message="the slow image to rejoin")
        again = events.available[1]
        assert again.correlation_id == first.correlation_id
        assert again.subscriber_position_id == counter_id
        assert again.join_position > start + WINDOW
        assert allocated(aeron, counter_id)
    else:
        wait_for(lambda: not allocated(aeron, counter_id), message="the closed sub-pos counter to be freed")
        drive(pub, fast, lambda: fast.images[0].position > start + 12 * WINDOW, message="more traffic")
        time.sleep(0.5)  # > linger + resting: a rejoin would have happened by now
        assert len(events.available) == 1 and slow.image_count == 0
    assert fast.image_count == 1


@pytest.mark.parametrize("rejoin", [True, False])
def test_ipc_untethered_subscriber(driver_factory: Callable[..., Any], client_factory: Callable[..., Any], rejoin: bool) -> None:
    fast_driver(driver_factory)
    aeron = client_factory()
    events = Events()
    fast = aeron.add_subscription("aeron:ipc", 41)
    slow = aeron.add_subscription(f"aeron:ipc?tether=false|rejoin={str(rejoin).lower()}", 41, events.on_available, events.on_unavailable)
    pub = aeron.add_publication(f"aeron:ipc?{TERM}", 41)
    run_scenario(aeron, pub, fast, slow, events, rejoin)


@pytest.mark.parametrize("rejoin", [True, False])
def test_udp_image_untethered_subscriber(driver_factory: Callable[..., Any], client_factory: Callable[..., Any], rejoin: bool) -> None:
    fast_driver(driver_factory)
    aeron = client_factory()
    events = Events()
    channel = f"aeron:udp?endpoint=127.0.0.1:{free_port()}"
    fast = aeron.add_subscription(channel, 42)
    slow = aeron.add_subscription(
        f"{channel}|tether=false|rejoin={str(rejoin).lower()}", 42, events.on_available, events.on_unavailable
    )
    pub = aeron.add_publication(f"{channel}|{TERM}", 42)
    run_scenario(aeron, pub, fast, slow, events, rejoin)


@pytest.mark.parametrize("rejoin", [True, False])
def test_spy_untethered_subscriber(driver_factory: Callable[..., Any], client_factory: Callable[..., Any], rejoin: bool) -> None:
    fast_driver(driver_factory)
    aeron = client_factory()
    events = Events()
    channel = f"aeron:udp?endpoint=127.0.0.1:{free_port()}"
    fast = aeron.add_subscription(channel, 43)
    slow = aeron.add_subscription(
        f"aeron-spy:{channel}|tether=false|rejoin={str(rejoin).lower()}", 43, events.on_available, events.on_unavailable
    )
    pub = aeron.add_publication(f"{channel}|{TERM}", 43)
    run_scenario(aeron, pub, fast, slow, events, rejoin)


def test_tethered_slow_spy_holds_back_the_publisher(driver_factory: Callable[..., Any], client_factory: Callable[..., Any]) -> None:
    fast_driver(driver_factory)
    aeron = client_factory()
    events = Events()
    channel = f"aeron:udp?endpoint=127.0.0.1:{free_port()}"
    fast = aeron.add_subscription(channel, 44)
    slow = aeron.add_subscription(f"aeron-spy:{channel}", 44, events.on_available, events.on_unavailable)
    pub = aeron.add_publication(f"{channel}|{TERM}", 44)
    wait_for(lambda: pub.is_connected and fast.image_count == 1 and slow.image_count == 1, message="images")
    start = slow.images[0].join_position
    deadline = time.monotonic() + 0.6  # > window-limit timeout + linger
    drive(pub, fast, lambda: time.monotonic() > deadline)
    assert events.unavailable == [] and slow.image_count == 1
    assert pub.position <= start + WINDOW + 4096
