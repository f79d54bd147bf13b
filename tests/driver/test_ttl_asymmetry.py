"""The "Possible TTL Asymmetry" system counter (id 21): a multicast receiver that had to elicit
a SETUP (it saw data of a session first) from a sender whose SETUP carries a TTL above the
receiver's own counts it, as Aeron C's data packet dispatcher does.  Whole drivers on the
in-memory network under the manual clock."""

from __future__ import annotations

import socket
import struct
from typing import Any, Iterator

import pytest

from aeronpy.driver.system_counters import SystemCounterId
from aeronpy.protocol import data_header as dh
from tests.driver.test_in_memory_driver import STREAM, World

GROUP = "aeron:udp?endpoint=239.255.9.9:40900|interface=127.0.0.1|term-length=64k"


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    w = World()

    def no_sockets(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a socket was opened in an in-memory test")

    monkeypatch.setattr(socket, "socket", no_sockets)
    yield w
    for h in w.hosts:
        h.close()


def _late_joiner_counts(world: World, publisher_ttl: int, late_ttl: int | None) -> tuple[int, int, int]:
    """A publishes with ``ttl=publisher_ttl``; C joins at once (gets unsolicited SETUPs), B joins
    once A is connected and idle (sees heartbeats first, elicits a SETUP).  Returns the counter
    at B and at C, and how many SEND_SETUP SMs B sent."""
    a, b, c = world.host("a"), world.host("b"), world.host("c")
    sub_c = world.add(c, "subscription", GROUP, STREAM)
    pub = world.add(a, "publication", f"{GROUP}|ttl={publisher_ttl}", STREAM)
    world.run(lambda: pub.is_connected and sub_c.image_count == 1, "first member")
    world.clock.advance_ms(500)  # A stops sending SETUPs once connected; only heartbeats now
    for h in world.hosts:
        h.pump()
    sent_before = len(world.network.sent)
    late_channel = GROUP if late_ttl is None else f"{GROUP}|ttl={late_ttl}"
    sub_b = world.add(b, "subscription", late_channel, STREAM)
    world.run(lambda: sub_b.image_count == 1, "late member", step_us=1000)
    send_setups = sum(
        1 for d in world.network.sent[sent_before:]
        if len(d.data) >= 8 and struct.unpack_from("<H", d.data, 6)[0] == dh.HDR_TYPE_SM and d.data[5] & 0x80
    )
    return b.counter(SystemCounterId.POSSIBLE_TTL_ASYMMETRY), c.counter(SystemCounterId.POSSIBLE_TTL_ASYMMETRY), send_setups


def test_elicited_setup_with_a_higher_sender_ttl_is_counted(world: World) -> None:
    at_b, at_c, send_setups = _late_joiner_counts(world, publisher_ttl=8, late_ttl=None)
    assert send_setups >= 1  # B did elicit the SETUP (data came first)
    assert at_b == 1
    assert at_c == 0  # an unsolicited SETUP is not counted


@pytest.mark.parametrize("late_ttl", [8, 16])
def test_receiver_ttl_at_least_the_senders_is_not_counted(world: World, late_ttl: int) -> None:
    at_b, at_c, send_setups = _late_joiner_counts(world, publisher_ttl=8, late_ttl=late_ttl)
    assert send_setups >= 1
    assert (at_b, at_c) == (0, 0)


def test_unicast_is_never_counted(world: World) -> None:
    a, b = world.host("a"), world.host("b")
    channel = "aeron:udp?endpoint=10.0.0.2:40901|term-length=64k"
    sub = world.add(b, "subscription", channel, STREAM)
    pub = world.add(a, "publication", channel, STREAM)
    world.run(lambda: pub.is_connected and sub.image_count == 1, "connection")
    assert b.counter(SystemCounterId.POSSIBLE_TTL_ASYMMETRY) == 0
