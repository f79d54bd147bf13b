"""Test doubles shared by the unit tests (the whole-driver ones live in ``aeronpy.testing``)."""

from __future__ import annotations

import socket


class FakeClock:
    """A callable clock whose time is whatever the test sets ``now`` to."""

    def __init__(self, now: int = 1_000) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


class FakeCounter:
    """A counter held in a plain int (set, get, get_and_add, increment)."""

    def __init__(self, value: int = 0, counter_id: int = 0) -> None:
        self.value = value
        self.id = counter_id

    def set(self, value: int) -> None:
        self.value = value

    def get(self) -> int:
        return self.value

    def get_plain(self) -> int:
        return self.value

    def get_and_add(self, delta: int) -> int:
        old = self.value
        self.value += delta
        return old

    def increment(self) -> None:
        self.value += 1


def free_udp_port() -> int:
    """A UDP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
