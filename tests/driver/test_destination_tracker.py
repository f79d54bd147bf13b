"""DestinationTracker (sans-IO): manual and dynamic MDC destinations, fan-out, timeouts, counter."""

from __future__ import annotations

from typing import Any

from aeronpy.driver.destination_tracker import DESTINATION_TIMEOUT_NS, DestinationTracker
from tests.fakes import FakeCounter


class FakeTransport:
    def __init__(self, short_to: Any = None) -> None:
        self.sent: list[tuple[bytes, Any]] = []
        self.short_to = short_to

    def send(self, datagram: Any, address: Any = None) -> int:
        self.sent.append((bytes(datagram), address))
        return 0 if address == self.short_to else len(datagram)


A, B, C = ("127.0.0.1", 4001), ("127.0.0.1", 4002), ("127.0.0.2", 4001)


def test_manual_add_remove_and_fan_out() -> None:
    counter = FakeCounter()
    tracker = DestinationTracker(True, counter=counter)
    transport = FakeTransport()
    assert tracker.send(transport, b"x" * 32, 0) == 32 and transport.sent == []  # no destination: still "sent"
    tracker.add_destination(A, 0, registration_id=11)
    tracker.add_destination(B, 0, registration_id=12)
    assert counter.value == 2 and len(tracker) == 2
    assert tracker.send(transport, b"abc", 10**18) == 3  # manual destinations never time out
    assert sorted(a for _, a in transport.sent) == [A, B]
    assert tracker.remove_destination(("127.0.0.1", 4001)) is not None
    assert counter.value == 1
    assert tracker.remove_destination(C) is None
    assert tracker.remove_destination_by_id(12) is not None and counter.value == 0
    assert tracker.remove_destination_by_id(12) is None


def test_manual_status_messages_refresh_but_never_add() -> None:
    tracker = DestinationTracker(True)
    tracker.on_status_message(7, A, 5)
    assert len(tracker) == 0
    tracker.add_destination(A, 0, registration_id=3)
    tracker.on_status_message(7, A, 5)
    assert tracker.destinations[0].receiver_id == 7
    assert tracker.find_registration_id(7, A) == 3


def test_dynamic_learns_from_status_messages_and_times_out() -> None:
    counter = FakeCounter()
    tracker = DestinationTracker(False, counter=counter)
    tracker.on_status_message(1, A, 0)
    tracker.on_status_message(2, B, 0)
    tracker.on_status_message(1, A, 100)  # refresh, not a new destination
    assert counter.value == 2
    # same receiver id from the same port, another host: the same destination (Aeron's match rule)
    tracker.on_status_message(1, C, 200)
    assert counter.value == 2
    t = DESTINATION_TIMEOUT_NS + 150
    tracker.on_status_message(2, B, t)
    transport = FakeTransport()
    tracker.send(transport, b"d", t)  # both heard from within the timeout
    assert len(transport.sent) == 2
    later = DESTINATION_TIMEOUT_NS + 201
    transport.sent.clear()
    tracker.send(transport, b"d", later)  # receiver 1 expired: skipped and removed
    assert [a for _, a in transport.sent] == [B]
    assert counter.value == 1
    assert tracker.remove_inactive(t + DESTINATION_TIMEOUT_NS + 1) == 1 and counter.value == 0


def test_short_send_to_any_destination_reports_zero() -> None:
    tracker = DestinationTracker(True)
    tracker.add_destination(A, 0)
    tracker.add_destination(B, 0)
    assert tracker.send(FakeTransport(short_to=B), b"abcd", 0) == 0


def test_round_robin_start() -> None:
    tracker = DestinationTracker(True)
    for address in (A, B, C):
        tracker.add_destination(address, 0)
    firsts = []
    for _ in range(3):
        transport = FakeTransport()
        tracker.send(transport, b"z", 0)
        firsts.append(transport.sent[0][1])
    assert sorted(firsts) == sorted([A, B, C])
