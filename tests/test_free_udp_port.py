"""The test suite's port picker: below the ephemeral range, bindable, never handed out twice."""

from __future__ import annotations

import socket

from tests.fakes import PORT_FLOOR, _ephemeral_low, free_udp_port


def test_ports_come_from_below_the_ephemeral_range_and_are_unique() -> None:
    low = _ephemeral_low()
    ports = [free_udp_port() for _ in range(50)]
    assert len(set(ports)) == 50
    if low > PORT_FLOOR + 1000:
        assert all(PORT_FLOOR <= p < low for p in ports), ports
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", ports[-1]))  # still free


def test_a_port_zero_bind_never_gets_a_handed_out_port() -> None:
    handed = {free_udp_port() for _ in range(20)}
    socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(200)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        assert not handed & {s.getsockname()[1] for s in socks}
    finally:
        for s in socks:
            s.close()
