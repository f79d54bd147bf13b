"""Test doubles shared by the unit tests (the whole-driver ones live in ``aeronpy.testing``)."""

from __future__ import annotations

import random
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


PORT_FLOOR = 10_000
"""The lowest port :func:`free_udp_port` hands out."""
_handed_out: set[int] = set()


def _ephemeral_low() -> int:
    """The first port of the kernel's ephemeral range (what a bind to port 0 gets)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_udp_port(host: str = "127.0.0.1") -> int:
    """A UDP port on ``host`` that was free a moment ago and that no test got before.

    It comes from below the kernel's ephemeral range: between choosing a port and binding it, a
    test's drivers bind many sockets to port 0 (send channels, ``localhost:0`` catch-up and
    replication endpoints), and an ephemeral pick could hand one of them the chosen port (seen:
    a cluster member failing with EADDRINUSE for 30 s)."""
    low = _ephemeral_low()
    for _ in range(1000 if low > PORT_FLOOR + 1000 else 0):
        port = random.randrange(PORT_FLOOR, low)
        if port in _handed_out:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:  # no room below the range
        s.bind((host, 0))
        return int(s.getsockname()[1])
